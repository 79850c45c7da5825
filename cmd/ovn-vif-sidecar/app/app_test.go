package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
		{[]string{"--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"--providers=dummy,nosuch"}, 2, `--providers: "nosuch" is not compiled in`},
		{[]string{"--private-key=k.pem", "--certificate=c.pem"}, 2, "must be given together"},
		{[]string{"--ca-cert=ca.pem"}, 2, "must be given together"},
		{[]string{"--http-addr=localhost"}, 2, `--http-addr "localhost": want HOST:PORT`},
		{[]string{"--http-addr=127.0.0.1:http"}, 2, `--http-addr "127.0.0.1:http": port "http"`},
		{[]string{"--ovs-db=/bare/path"}, 2, `--ovs-db: remote "/bare/path"`},
		{[]string{"--ovs-db=foo:bar"}, 2, `--ovs-db: remote "foo:bar": unknown method "foo"`},
		{[]string{"--ovs-db=ssl:127.0.0.1:6640"}, 2, "ssl: is not supported for the local database"},
		{[]string{"--sb-db=tcp:127.0.0.1:6642,/bare/path"}, 2, `--sb-db: remote "/bare/path"`},
		{[]string{"--sb-db=tcp:127.0.0.1"}, 2, `--sb-db: remote "tcp:127.0.0.1": tcp: needs HOST:PORT`},
		{[]string{"--sb-db=tcp:127.0.0.1:6642,ssl:127.0.0.1:6643"}, 2, "SB remote ssl:127.0.0.1:6643 needs --private-key, --certificate and --ca-cert"},
		{[]string{"--prepare-timeout=0s"}, 2, "--prepare-timeout 0s: must be positive"},
		{[]string{"version", "x"}, 2, "version takes no arguments"},
		{[]string{"help", "x"}, 2, "help takes no arguments"},
		{[]string{"status", "--state=bogus"}, 2, `status --state "bogus": want one of`},
		{[]string{"status", "extra"}, 2, `status: stray argument "extra"`},
		{[]string{"hw", "extra"}, 2, ""}, // hw prints to os.Stderr
		{[]string{"status", "--help"}, 0, "-state"},
		{[]string{"hw", "--help"}, 0, ""},
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
		if tc.code == 2 && tc.want != "" && !strings.HasPrefix(stderr.String(), "ovn-vif-sidecar: ") && !strings.HasPrefix(stderr.String(), "flag provided") {
			t.Errorf("ovn-vif-sidecar %s: the first line must say what is wrong: %q", strings.Join(tc.args, " "), stderr.String())
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
	addr := fakeDaemon(t, []sidecar.PortStatus{{LogicalPort: "a", State: plan.StatePlugged}}, sidecar.Health{})
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
		Reasons: []string{"sb database not connected: connect [tcp:192.0.2.1:6642]: connection refused"},
	}
	addr := fakeDaemon(t, []sidecar.PortStatus{{LogicalPort: "lp1", Provider: "dummy", State: plan.StatePlugged, Interface: "lp1"}}, h)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"status", "--http-addr=" + addr}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"OVS database: connected",
		"SB database:  not connected: connect [tcp:192.0.2.1:6642]: connection refused",
		"Chassis:      dpu1 (unknown: database not connected)",
		"Bridge:       br-int (exists)",
		"Primed:       no",
		"Ready:        no: sb database not connected",
		"LOGICAL PORT",
		"lp1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
}
