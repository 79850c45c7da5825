package providertest_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/providertest"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// The dummy provider through the real engine: plug, update, unplug.
func TestHarnessDummy(t *testing.T) {
	h := providertest.NewHarness(t, dummy.Factory)
	h.Bind("lsp-with-a-long-name", nil)
	iface := h.WaitPlugged("lsp-with-a-long-name")
	if iface.Name != "lsp-with-a-long" || iface.Type != "internal" ||
		iface.Options[dummy.OptionKey] != "value" || iface.ExternalIDs["ovn-plugged"] != dummy.Type {
		t.Fatalf("plugged %+v", iface)
	}
	h.Bind("lsp-with-a-long-name", map[string]string{"vif-plug-mtu-request": "9000"})
	h.Wait("mtu_request 9000", func() bool {
		i, _ := h.Interface("lsp-with-a-long-name")
		return i.MTURequest != nil && *i.MTURequest == 9000
	})
	h.Unbind("lsp-with-a-long-name")
	h.WaitUnplugged("lsp-with-a-long-name")
}

// gated is NotReady until opened, then calls Changed.
type gated struct {
	open    atomic.Bool
	changed func()
}

func (*gated) Type() string                     { return "gated" }
func (*gated) MaintainedIfaceOptions() []string { return []string{} }
func (g *gated) Init(env providers.Env) error   { g.changed = env.Changed; return nil }
func (g *gated) Prepare(_ context.Context, in *providers.PortCtxIn, out *providers.PortCtxOut) error {
	if in.Op == providers.OpRemove {
		return nil
	}
	if !g.open.Load() {
		return providers.NotReady("gate closed")
	}
	out.Name = "g-" + in.LportName
	return nil
}

// A refusal shows as pending with the provider's reason, and Changed
// (from the provider, outside any pass) gets the port plugged.
func TestHarnessChangedPlugs(t *testing.T) {
	g := &gated{}
	f := providers.Factory{Type: "gated", New: func(providers.Config) (providers.Provider, error) { return g, nil }}
	h := providertest.NewHarness(t, f)
	h.Bind("vm1", nil)
	if ps := h.WaitState("vm1", plan.StatePending); !strings.Contains(ps.Reason, "gate closed") {
		t.Fatalf("pending reason %q", ps.Reason)
	}
	g.open.Store(true)
	g.changed()
	if i := h.WaitPlugged("vm1"); i.Name != "g-vm1" || i.Type != "" {
		t.Fatalf("plugged %+v", i)
	}
}
