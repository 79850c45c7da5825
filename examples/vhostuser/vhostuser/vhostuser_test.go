package vhostuser_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/providertest"

	"example.com/vhostuser/vhostuser"
)

const neutronPort = "3f1c2a4e-9b7d-4c1e-8f00-123456789abc"

func opts(kv ...string) map[string]string {
	m := map[string]string{"vif-plug-type": vhostuser.Type}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// The whole provider contract, in one call.
func TestConformance(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vhost")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	providertest.TestProvider(t, vhostuser.Factory,
		providertest.Config(map[string]string{"socket-dir": dir}),
		providertest.Ports(
			providertest.Port{Name: neutronPort},
			providertest.Port{Name: "vm1-net0", Options: opts(vhostuser.OptSocket, "vm1-net0.sock", vhostuser.OptTxRetriesMax, "8")},
			providertest.Port{Name: "escape", Options: opts(vhostuser.OptSocket, "../../etc/x"), Want: providertest.Invalid},
			providertest.Port{Name: "retries", Options: opts(vhostuser.OptTxRetriesMax, "99"), Want: providertest.Invalid},
			providertest.Port{Name: "vm 2", Want: providertest.Invalid},
		),
		// The hypervisor's socket directory goes away.
		providertest.ChangeView(func() error { return os.Remove(dir) }),
	)
}

func setup(t *testing.T, dir string) providers.Provider {
	t.Helper()
	p, err := vhostuser.Factory.Build(map[string]string{"socket-dir": dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := providers.Init(p, providers.Env{}); err != nil {
		t.Fatal(err)
	}
	return p
}

func prepare(p providers.Provider, lport string, o map[string]string) (providers.PortCtxOut, error) {
	return prepareOn(p, "netdev", lport, o)
}

func prepareOn(p providers.Provider, datapath, lport string, o map[string]string) (providers.PortCtxOut, error) {
	var out providers.PortCtxOut
	in := &providers.PortCtxIn{Op: providers.OpCreate, LportName: lport, LportOptions: o, BridgeName: "br-int", BridgeDatapathType: datapath}
	err := p.Prepare(context.Background(), in, &out)
	return out, err
}

// On a kernel-datapath bridge vhost-user ports wait, until the bridge is
// switched to the userspace one.
func TestNeedsTheUserspaceDatapath(t *testing.T) {
	p := setup(t, t.TempDir())
	for _, dp := range []string{"", "system"} {
		if _, err := prepareOn(p, dp, neutronPort, opts()); !providers.IsNotReady(err) || !strings.Contains(err.Error(), "need netdev") {
			t.Errorf("datapath_type %q: %v, want not ready", dp, err)
		}
	}
}

func TestAnswers(t *testing.T) {
	dir := t.TempDir()
	p := setup(t, dir)
	out, err := prepare(p, neutronPort, opts())
	want := providers.PortCtxOut{Name: "vhu3f1c2a4e-9b", Type: "dpdkvhostuserclient", IfaceOptions: map[string]string{"vhost-server-path": dir + "/vhu3f1c2a4e-9b"}}
	if err != nil || out.Name != want.Name || out.Type != want.Type || !maps.Equal(out.IfaceOptions, want.IfaceOptions) {
		t.Fatalf("os-vif naming: %+v %v, want %+v", out, err, want)
	}
	out, err = prepare(p, "x", opts(vhostuser.OptSocket, "vm1.sock", vhostuser.OptTxRetriesMax, "08"))
	if err != nil || out.Name != "vm1.sock" || out.IfaceOptions["tx-retries-max"] != "8" || out.IfaceOptions["vhost-server-path"] != dir+"/vm1.sock" {
		t.Fatalf("explicit socket: %+v %v", out, err)
	}
	// Longer than 15 bytes is fine: not a netdev.
	long := strings.Repeat("s", 40)
	if out, err := prepare(p, "x", opts(vhostuser.OptSocket, long)); err != nil || providers.CheckAnswer(&out) != nil {
		t.Fatalf("a 40-byte socket name: %+v %v", out, err)
	}
	for _, tc := range []struct {
		lport string
		o     map[string]string
		why   string
	}{
		{"x", opts(vhostuser.OptSocket, ".hidden"), "not starting with a dot"},
		{"x", opts(vhostuser.OptSocket, "a/b"), "want 1 to 64"},
		{"x", opts(vhostuser.OptSocket, ""), "want 1 to 64"},
		{"ü-port", opts(), "set vif-plug:vhostuser:socket"},
		{"x", opts(vhostuser.OptTxRetriesMax, "-1"), "want 0 to 32"},
	} {
		if _, err := prepare(p, tc.lport, tc.o); !providers.IsInvalid(err) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("Prepare(%q, %v) = %v, want invalid: %s", tc.lport, tc.o, err, tc.why)
		}
	}
}

func TestSocketPathLimit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := setup(t, dir)
	name := strings.Repeat("n", 107-len(dir))
	if _, err := prepare(p, "x", opts(vhostuser.OptSocket, name)); !providers.IsInvalid(err) || !strings.Contains(err.Error(), "at most 107") {
		t.Fatalf("a %d-byte socket path: %v", len(dir)+1+len(name), err)
	}
	if _, err := prepare(p, "x", opts(vhostuser.OptSocket, name[1:])); err != nil {
		t.Fatalf("a 107-byte socket path: %v", err)
	}
}

// Without the socket directory ports wait, and the provider is down;
// Run notices the directory.
func TestWaitsForTheSocketDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	p := setup(t, dir)
	if _, err := prepare(p, neutronPort, opts()); !providers.IsNotReady(err) {
		t.Fatalf("without the directory: %v", err)
	}
	if providers.Health(p) == nil {
		t.Fatal("healthy without a socket directory")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if !providers.RunOnce(context.Background(), p) || providers.RunOnce(context.Background(), p) {
		t.Fatal("Run must report the new directory once")
	}
	if _, err := prepare(p, neutronPort, opts()); err != nil || providers.Health(p) != nil {
		t.Fatalf("with the directory: %v / %v", err, providers.Health(p))
	}
}

func TestConfig(t *testing.T) {
	for _, dir := range []string{"relative/dir", "/var/run/../x", ""} {
		if _, err := vhostuser.Factory.Build(map[string]string{"socket-dir": dir}); err == nil || !strings.Contains(err.Error(), "provider.vhostuser.socket-dir") {
			t.Errorf("socket-dir %q: %v", dir, err)
		}
	}
}
