package app

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// The exit-2 contract: every static configuration error is one clear line
// on stderr and exit 2, before anything starts. These cases must never
// reach the daemon, so run returns at once.
func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string // on stderr (exit != 0) or stdout (exit 0)
	}{
		{[]string{"stauts"}, 2, `unknown command or stray argument "stauts"`},
		{[]string{"--v=2", "extra"}, 2, `stray argument "extra"`},
		{[]string{"--bogus"}, 2, "unknown flag --bogus\n"},
		{[]string{"--sb-bd=tcp:127.0.0.1:6642"}, 2, "unknown flag --sb-bd; did you mean --sb-db?"},
		{[]string{"--http"}, 2, "unknown flag --http; did you mean --http-addr?"},
		{[]string{"status", "--sate=error"}, 2, "status: unknown flag --sate; did you mean --state?"},
		{[]string{"hw", "--sysfs=/x"}, 2, "hw: unknown flag --sysfs; did you mean --sysfs-root?"},
		{[]string{"--ovs-db=/var/run/openvswitch/db.sock"}, 2, `--ovs-db "/var/run/openvswitch/db.sock": want unix:PATH or tcp:HOST:PORT; for this socket: --ovs-db=unix:/var/run/openvswitch/db.sock`},
		{[]string{"--providers=dummy,nosuch"}, 2, `--providers: "nosuch" is not compiled in`},
		{[]string{"--private-key=k.pem", "--certificate=c.pem"}, 2, "must be given together"},
		{[]string{"--ca-cert=ca.pem"}, 2, "must be given together"},
		{[]string{"--http-addr=localhost"}, 2, `--http-addr "localhost": want HOST:PORT`},
		{[]string{"--http-addr=127.0.0.1:http"}, 2, `--http-addr "127.0.0.1:http": port "http"`},
		{[]string{"--ovs-db=foo:bar"}, 2, `--ovs-db "foo:bar": want unix:PATH or tcp:HOST:PORT`},
		{[]string{"--ovs-db=tcp:127.0.0.1"}, 2, `--ovs-db: remote "tcp:127.0.0.1": tcp: needs HOST:PORT`},
		{[]string{"--ovs-db=ssl:127.0.0.1:6640"}, 2, "ssl: is not supported for the local database"},
		{[]string{"--sb-db=tcp:127.0.0.1:6642,/bare/path"}, 2, `--sb-db: remote "/bare/path"`},
		{[]string{"--sb-db=tcp:127.0.0.1"}, 2, `--sb-db: remote "tcp:127.0.0.1": tcp: needs HOST:PORT`},
		{[]string{"--sb-db=tcp:127.0.0.1:6642,ssl:127.0.0.1:6643"}, 2, "SB remote ssl:127.0.0.1:6643 needs --private-key, --certificate and --ca-cert"},
		{[]string{"--prepare-timeout=0s"}, 2, "--prepare-timeout 0s: must be positive"},
		{[]string{"--provider.representor.bogus=1"}, 2, "--provider.representor.bogus: unknown key; known keys: watch, devlink, resync-interval"},
		{[]string{"-provider.nosuch.watch", "1"}, 2, `--provider.nosuch.watch: "nosuch" is not a compiled-in provider (compiled in: [dummy representor])`},
		{[]string{"--provider.dummy.x=1"}, 2, "--provider.dummy.x: unknown key; the provider takes no options"},
		{[]string{"--provider.representor.watch=maybe"}, 2, `ovn-vif-sidecar: --provider.representor.watch="maybe": want true or false`},
		// Unknown keys are refused whether or not the provider is enabled.
		{[]string{"--providers=dummy", "--provider.representor.bogus-key=x"}, 2, "--provider.representor.bogus-key: unknown key"},
		{[]string{"--provider-config=/nonexistent/providers.yaml"}, 2, "--provider-config /nonexistent/providers.yaml: no such file"},
		{[]string{"--provider-config=/"}, 2, "--provider-config /: is a directory; give the file itself"},
		{[]string{"version", "x"}, 2, "version takes no arguments"},
		{[]string{"help", "x"}, 2, "help takes no arguments"},
		{[]string{"status", "--state=bogus"}, 2, `status --state "bogus": want one of`},
		{[]string{"status", "extra"}, 2, `status: stray argument "extra"`},
		{[]string{"hw", "extra"}, 2, `hw: stray argument "extra"`},
		{[]string{"status", "--help"}, 0, "3  the daemon answers but is not ready"},
		{[]string{"hw", "--help"}, 0, "-sysfs-root"},
		{[]string{"--help"}, 0, "Logging flags (klog):"},
		{[]string{"help"}, 0, "ovn-vif-sidecar status [flags]"},
		{[]string{"version"}, 0, "ovn-vif-sidecar dev revision "},
		{[]string{"--version"}, 0, "ovn-vif-sidecar dev revision "},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		out := stderr.String()
		if tc.code == 0 {
			out = stdout.String()
		}
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("ovn-vif-sidecar %s: exit %d, want %d with %q\nstdout: %s\nstderr: %s",
				strings.Join(tc.args, " "), code, tc.code, tc.want, stdout.String(), stderr.String())
		}
		if tc.code == 2 && !strings.HasPrefix(stderr.String(), "ovn-vif-sidecar: ") {
			t.Errorf("ovn-vif-sidecar %s: the first line must say what is wrong: %q", strings.Join(tc.args, " "), stderr.String())
		}
	}
}

// The --provider-config file: each mistake is one line naming the file
// and the key, and exit 2; flags override the file.
func TestProviderConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		file, text string
		args       []string
		want       string
	}{
		{"unknown-type.yaml", "nosuch: {a: 1}\n", nil, `: "nosuch" is not a compiled-in provider`},
		{"unknown-key.yaml", "representor:\n  bogus: 1\n", nil, `unknown-key.yaml: provider.representor.bogus: unknown key; known keys: watch, devlink, resync-interval`},
		{"bad-value.yaml", "representor:\n  watch: sometimes\n", nil, `bad-value.yaml: provider.representor.watch="sometimes": want true or false`},
		{"not-a-map.yaml", "- representor\n", nil, "want a map of provider type to a map of option to value"},
		{"nested.yaml", "representor:\n  watch: [a]\n", nil, "want a map of provider type"},
		// The flag overrides the file, and is named as the culprit.
		{"overridden.yaml", "representor:\n  watch: false\n", []string{"--provider.representor.watch=2"}, `ovn-vif-sidecar: --provider.representor.watch="2": want true or false`},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"--provider-config=" + write(tc.file, tc.text)}, tc.args...)
		code := run(args, &stdout, &stderr)
		first, _, _ := strings.Cut(stderr.String(), "\n")
		if code != 2 || !strings.HasPrefix(first, "ovn-vif-sidecar: ") || !strings.Contains(first, tc.want) {
			t.Errorf("%s: exit %d, first line %q; want exit 2 with %q", tc.file, code, first, tc.want)
		}
	}
	// A good file and a good flag pass validation.
	var f daemonFlags
	fs, _ := daemonFlagSet(&f)
	good := write("good.yaml", "representor:\n  watch: false\n  resync-interval: 0s\ndummy: {}\n")
	if err := fs.Parse([]string{"--provider-config=" + good, "--provider.representor.devlink=false"}); err != nil {
		t.Fatal(err)
	}
	enabled, built, err := validate(f)
	if err != nil || len(enabled) != 2 || built["representor"] == nil || built["dummy"] == nil {
		t.Fatalf("validate: %v %v %v", enabled, built, err)
	}
}

// provider_up is 1 for a provider that initialised and 0 for one that
// failed or reports a health error.
func TestProviderUpMetric(t *testing.T) {
	reg := providers.NewRegistry(nil)
	ok, _ := providers.CompiledFactory("dummy")
	p, err := ok.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(p); err != nil {
		t.Fatal(err)
	}
	rep, _ := providers.CompiledFactory("representor")
	bad, err := rep.Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	regBad := providers.NewRegistry(func(string) providers.Env { return providers.Env{SysfsRoot: filepath.Join(t.TempDir(), "missing")} })
	if err := regBad.Register(bad); err == nil {
		t.Fatal("representor Init on a missing sysfs root succeeded")
	}
	prom := prometheus.NewRegistry()
	prom.MustRegister(newProviderUp(reg, []string{"dummy", "representor"}))
	prom2 := prometheus.NewRegistry()
	prom2.MustRegister(newProviderUp(regBad, []string{"representor"}))
	want := map[*prometheus.Registry]map[string]float64{prom: {"dummy": 1, "representor": 0}, prom2: {"representor": 0}}
	for r, w := range want {
		mfs, err := r.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "ovn_vif_sidecar_provider_up" {
				continue
			}
			for _, m := range mf.GetMetric() {
				got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
			}
		}
		if !maps.Equal(got, w) {
			t.Errorf("provider_up = %v, want %v", got, w)
		}
	}
}

// --help lists the subcommands, and klog's flags only in their own section.
func TestHelpSections(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	out := stdout.String()
	daemonPart, klogPart, ok := strings.Cut(out, "Logging flags (klog):")
	if !ok {
		t.Fatalf("no klog section:\n%s", out)
	}
	for _, sub := range []string{"status", "hw", "version", "help"} {
		if !strings.Contains(daemonPart, "ovn-vif-sidecar "+sub) {
			t.Errorf("--help does not list subcommand %s", sub)
		}
	}
	daemonPart, provPart, ok := strings.Cut(daemonPart, "Provider flags (--provider.<type>.<key>):")
	if !ok {
		t.Fatalf("no provider section:\n%s", out)
	}
	for _, f := range []string{"  -provider.representor.watch value", "  -provider-config string"} {
		if !strings.Contains(provPart, f) || strings.Contains(daemonPart, f) {
			t.Errorf("%s must be in the provider section only", f)
		}
	}
	for _, f := range []string{"  -ovs-db", "  -sb-db", "  -http-addr", "  -providers"} {
		if !strings.Contains(daemonPart, f) || strings.Contains(klogPart, f) {
			t.Errorf("%s must be in the daemon section only", f)
		}
	}
	for _, f := range []string{"  -v value", "  -vmodule", "  -logtostderr"} {
		if strings.Contains(daemonPart, f) || !strings.Contains(klogPart, f) {
			t.Errorf("%s must be in the klog section only", f)
		}
	}
}

func fakeDaemon(t *testing.T, ports []sidecar.PortStatus, h sidecar.Health) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ports":
			_ = json.NewEncoder(w).Encode(ports)
		case "/health":
			_ = json.NewEncoder(w).Encode(h)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestStatusJSONEmptyIsAList(t *testing.T) {
	addr := fakeDaemon(t, []sidecar.PortStatus{{LogicalPort: "a", State: plan.StatePlugged}}, sidecar.Health{Ready: true})
	var stdout, stderr bytes.Buffer
	if code := run([]string{"status", "--http-addr=" + addr, "--state=error", "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if got := strings.TrimSpace(stdout.String()); got != "[]" {
		t.Errorf("status --json with nothing to show printed %q, want []", got)
	}
}

func TestStatusHealthHeader(t *testing.T) {
	h := sidecar.Health{
		OVS: sidecar.DBHealth{Connected: true}, SB: sidecar.DBHealth{LastError: "connect [tcp:192.0.2.1:6642]: connection refused"},
		Chassis: "dpu1", Bridge: "br-int", BridgeFound: true,
		Reasons:   []string{"sb database not connected: connect [tcp:192.0.2.1:6642]: connection refused"},
		Providers: []sidecar.ProviderHealth{{Type: "dummy", Up: true}, {Type: "representor", Error: "init: representor: reading /x/class/net: no such file or directory"}},
	}
	addr := fakeDaemon(t, []sidecar.PortStatus{{LogicalPort: "lp1", Provider: "dummy", State: plan.StatePlugged, Interface: "lp1"}}, h)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"status", "--http-addr=" + addr}, &stdout, &stderr); code != exitNotReady {
		t.Fatalf("exit %d, want %d (not ready): %s", code, exitNotReady, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"OVS database: connected",
		"SB database:  not connected: connect [tcp:192.0.2.1:6642]: connection refused",
		"Chassis:      dpu1 (unknown: database not connected)",
		"Bridge:       br-int (exists)",
		"Primed:       no",
		"Providers:    dummy up; representor down: init: representor: reading /x/class/net: no such file or directory",
		"Ready:        no: sb database not connected",
		"LOGICAL PORT",
		"lp1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
}

// The header names each server's schema, and says when one is too old.
func TestStatusHeaderSchemas(t *testing.T) {
	const floor = "OVN_Southbound schema 20.16.1 lacks Port_Binding.requested_chassis: OVN 22.03 or later is needed"
	h := sidecar.Health{
		OVS:     sidecar.DBHealth{Connected: true, Schema: "Open_vSwitch 8.3.0"},
		SB:      sidecar.DBHealth{LastError: floor, Unsupported: floor, Schema: "OVN_Southbound 20.16.1"},
		Chassis: "dpu1", Bridge: "br-int", BridgeFound: true,
		Reasons: []string{"sb database not supported: " + floor},
	}
	addr := fakeDaemon(t, nil, h)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"status", "--http-addr=" + addr}, &stdout, &stderr); code != exitNotReady {
		t.Fatalf("exit %d, want %d (not ready): %s", code, exitNotReady, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"OVS database: connected, schema Open_vSwitch 8.3.0\n",
		"SB database:  not supported: " + floor + "\n",
		"Ready:        no: sb database not supported: " + floor,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
}
