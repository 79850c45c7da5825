package vhostuser_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/providertest"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"

	"example.com/vhostuser/vhostuser"
)

// Through the sidecar's real engine, against in-memory OVS and SB: the
// Interface rows it writes, an option the binding drops, a refusal's
// reason in the status, and the unplug.
func TestEngine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vhost")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := providertest.NewHarness(t, vhostuser.Factory, providertest.Config(map[string]string{"socket-dir": dir}))

	h.Bind(neutronPort, map[string]string{vhostuser.OptTxRetriesMax: "4"})
	iface := h.WaitPlugged(neutronPort)
	if iface.Name != "vhu3f1c2a4e-9b" || iface.Type != "dpdkvhostuserclient" ||
		iface.Options["vhost-server-path"] != dir+"/vhu3f1c2a4e-9b" || iface.Options["tx-retries-max"] != "4" {
		t.Fatalf("plugged %+v", iface)
	}
	// tx-retries-max is maintained: dropping it from the binding drops it
	// from the Interface.
	h.Bind(neutronPort, nil)
	h.Wait("tx-retries-max removed", func() bool {
		i, ok := h.Interface(neutronPort)
		_, has := i.Options["tx-retries-max"]
		return ok && !has && i.Options["vhost-server-path"] != ""
	})

	h.Bind("vm2", map[string]string{vhostuser.OptSocket: "../vm2"})
	if ps := h.WaitState("vm2", plan.StateError); !strings.Contains(ps.Reason, "want 1 to 64") {
		t.Fatalf("vm2: %+v", ps)
	}

	h.Unbind(neutronPort)
	h.WaitUnplugged(neutronPort)
}
