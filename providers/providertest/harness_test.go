package providertest_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
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

// keyed keeps one entry per answer, keyed by the out Prepare filled, as
// a C provider keys by its vif_plug_port_ctx: it counts on Finish and
// CtxDestroy getting that very pointer, in the kit and in the engine.
type keyed struct {
	mu      sync.Mutex
	held    map[*providers.PortCtxOut]string
	foreign int // Finish or CtxDestroy of an out Prepare never filled
	last    providers.PortCtxIn
}

func (*keyed) Type() string                     { return "keyed" }
func (*keyed) MaintainedIfaceOptions() []string { return []string{} }
func (k *keyed) Prepare(_ context.Context, in *providers.PortCtxIn, out *providers.PortCtxOut) error {
	if in.Op == providers.OpRemove {
		return nil
	}
	h := fnv.New32a()
	h.Write([]byte(in.LportName))
	out.Name = fmt.Sprintf("k-%08x", h.Sum32())
	k.mu.Lock()
	defer k.mu.Unlock()
	k.held[out] = in.LportName
	k.last = *in
	return nil
}

func (k *keyed) Finish(_ *providers.PortCtxIn, out *providers.PortCtxOut) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.held[out]; out != nil && !ok {
		k.foreign++
	}
}

func (k *keyed) CtxDestroy(_ *providers.PortCtxIn, out *providers.PortCtxOut) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.held[out]; !ok {
		k.foreign++
	}
	delete(k.held, out)
}

func (k *keyed) state() (held, foreign int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.held), k.foreign
}

var keyedFactory = providers.Factory{Type: "keyed", New: func(providers.Config) (providers.Provider, error) {
	return &keyed{held: map[*providers.PortCtxOut]string{}}, nil
}}

func keyedHeld(p providers.Provider) int {
	held, foreign := p.(*keyed).state()
	return held + foreign
}

// Finish and CtxDestroy get the out Prepare filled, the same pointer, in
// the kit and in the engine alike: a provider keyed by it passes both and
// holds nothing once its answers are released.
func TestOutIsPreparesPointer(t *testing.T) {
	providertest.TestProvider(t, keyedFactory, providertest.Outstanding(keyedHeld),
		providertest.Ports(providertest.Port{Name: "vm1"}, providertest.Port{Name: "vm2-eth0"}))

	h := providertest.NewHarness(t, keyedFactory, providertest.Outstanding(keyedHeld))
	k := h.Provider().(*keyed)
	for _, lp := range []string{"vm1", "vm2", "vm3"} {
		h.Bind(lp, nil)
	}
	for _, lp := range []string{"vm1", "vm2", "vm3"} {
		h.WaitPlugged(lp)
	}
	h.Bind("vm2", map[string]string{"vif-plug-mtu-request": "9000"}) // an update: Prepare again
	h.Wait("mtu_request 9000", func() bool {
		i, _ := h.Interface("vm2")
		return i.MTURequest != nil && *i.MTURequest == 9000
	})
	h.Unbind("vm3")
	h.WaitUnplugged("vm3")
	h.Wait("every answer released", func() bool { held, _ := k.state(); return held == 0 })
	k.mu.Lock()
	in := k.last
	k.mu.Unlock()
	// The input is the engine's view in plain values.
	if in.Chassis != providertest.HarnessChassis || in.BridgeName != providertest.HarnessBridge || in.BridgeDatapathType != "netdev" ||
		in.OVSExternalIDs["system-id"] != providertest.HarnessChassis || in.OVSOtherConfig["hw-offload"] != "true" {
		t.Errorf("Prepare got %+v", in)
	}
	if _, foreign := k.state(); foreign != 0 {
		t.Fatalf("the engine called Finish or CtxDestroy %d time(s) with an out Prepare did not fill", foreign)
	}
}

// panicky panics in Finish.
type panicky struct{ keyed }

func (*panicky) Type() string                                       { return "panicky" }
func (*panicky) Finish(*providers.PortCtxIn, *providers.PortCtxOut) { panic("boom") }

var panickyFactory = providers.Factory{Type: "panicky", New: func(providers.Config) (providers.Provider, error) {
	return &panicky{keyed{held: map[*providers.PortCtxOut]string{}}}, nil
}}

// errRecorder keeps the harness's Errorf calls instead of failing.
type errRecorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *errRecorder) Errorf(f string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(f, a...))
}

func (r *errRecorder) recorded() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errs)
}

// A provider panic the engine contains fails a harness test, naming the
// method, port and op, unless the test expects it.
func TestHarnessPanics(t *testing.T) {
	t.Run("unexpected", func(t *testing.T) {
		r := &errRecorder{TB: t}
		h := providertest.NewHarness(r, panickyFactory)
		h.Bind("vm1", nil)
		h.WaitPlugged("vm1")
		want := `providertest: harness: provider "panicky" panicked in Finish(create, "vm1"): boom`
		h.Wait("the panic to be reported", func() bool { return slices.Contains(r.recorded(), want) })
	})
	t.Run("expected", func(t *testing.T) {
		h := providertest.NewHarness(t, panickyFactory, providertest.ExpectPanics())
		h.Bind("vm1", nil)
		h.WaitPlugged("vm1")
		h.Wait("the panic to be recorded", func() bool { return len(h.Panics()) > 0 })
		if p := h.Panics()[0]; p.Method != "Finish" || p.Port != "vm1" || p.Op != "create" || p.Value != "boom" {
			t.Fatalf("recorded %+v", p)
		}
	})
}
