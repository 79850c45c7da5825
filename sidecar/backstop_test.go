package sidecar

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

func TestConvergenceGuard(t *testing.T) {
	g := newConvergenceGuard()
	now := time.Unix(1000, 0)
	plug := []plan.Action{{Op: plan.OpReplug, LogicalPort: "lp1"}, {Op: plan.OpPlug, LogicalPort: "lp2"}}
	fp := uint64(7)
	inputs := func(string) uint64 { return fp }
	keys := []string{"lp1", "lp2"}

	write := func() map[string]blocked {
		t.Helper()
		admitted, held := g.admit(keys, plug, inputs, now)
		for _, a := range admitted {
			if a.LogicalPort == "lp1" {
				g.wrote(a, fp)
			}
		}
		return held
	}
	// lp1's writes never converge; lp2 is planned and not written (its
	// transaction failed), so it never counts.
	for i := 1; i <= maxUnconvergedWrites; i++ {
		if held := write(); len(held) != 0 {
			t.Fatalf("write %d held back: %v", i, held)
		}
	}
	held := write()
	h, ok := held["lp1"]
	if !ok || !h.tripped || h.retryAfter != convergeMinBackoff || !strings.HasPrefix(h.reason, "not converging: ") {
		t.Fatalf("after %d unconverged writes: held = %+v", maxUnconvergedWrites, held)
	}
	if _, ok := held["lp2"]; ok {
		t.Fatal("lp2 was held back without any write")
	}
	// Within the backoff nothing is written, and it does not trip again.
	now = now.Add(convergeMinBackoff / 2)
	if h := write()["lp1"]; h.tripped || h.retryAfter != convergeMinBackoff/2 {
		t.Fatalf("within backoff: %+v", h)
	}
	// After it, one write; if that does not converge either, the backoff
	// doubles, up to the cap.
	want := convergeMinBackoff
	for range 10 {
		now = now.Add(want)
		if held := write(); len(held) != 0 {
			t.Fatalf("no retry after the backoff: %v", held)
		}
		want = min(2*want, convergeMaxBackoff)
		if h := write()["lp1"]; !h.tripped || h.retryAfter != want {
			t.Fatalf("retry did not converge: held %+v, want backoff %v", h, want)
		}
	}
	// Changed inputs write at once.
	fp = 8
	if held := write(); len(held) != 0 {
		t.Fatalf("changed binding held back: %v", held)
	}
	// A pass that plans lp1 with nothing to do ends the streak.
	g.admit([]string{"lp1"}, nil, inputs, now)
	if _, ok := g.ports["lp1"]; ok {
		t.Fatal("converged port still tracked")
	}
}

func TestBindingFingerprint(t *testing.T) {
	d := plan.Desired{LogicalPort: "lp", PlugType: "dummy", MTURequest: 1400, Options: map[string]string{"a": "1", "b": "2"}}
	base := bindingFingerprint(d, true, false)
	if base != bindingFingerprint(plan.Desired{LogicalPort: "lp", PlugType: "dummy", MTURequest: 1400, Options: map[string]string{"b": "2", "a": "1"}}, true, false) {
		t.Fatal("fingerprint depends on map order")
	}
	for what, other := range map[string]uint64{
		"mtu":        bindingFingerprint(plan.Desired{PlugType: "dummy", MTURequest: 1500, Options: d.Options}, true, false),
		"option":     bindingFingerprint(plan.Desired{PlugType: "dummy", MTURequest: 1400, Options: map[string]string{"a": "1", "b": "3"}}, true, false),
		"key/value":  bindingFingerprint(plan.Desired{PlugType: "dummy", MTURequest: 1400, Options: map[string]string{"a": "1b", "": "2"}}, true, false),
		"absent":     bindingFingerprint(d, false, false),
		"awaiting":   bindingFingerprint(d, false, true),
		"other type": bindingFingerprint(plan.Desired{PlugType: "dumm", MTURequest: 1400, Options: d.Options}, true, false),
	} {
		if other == base {
			t.Errorf("fingerprint ignores %s", what)
		}
	}
}

func TestClip(t *testing.T) {
	if got := plan.Clip("lsp1"); got != "lsp1" {
		t.Fatalf("plan.Clip(short) = %q", got)
	}
	long := strings.Repeat("é", 40000) // 80,000 bytes
	got := plan.Clip(long)
	if len(got) > plan.MaxEcho+40 || !strings.HasSuffix(got, "…[79488 more bytes cut]") || !strings.HasPrefix(long, strings.TrimSuffix(got, "…[79488 more bytes cut]")) {
		t.Fatalf("plan.Clip(80 kB) = %d bytes ending %q", len(got), got[len(got)-30:])
	}
	odd := "x" + long // byte plan.MaxEcho falls inside a character
	got = plan.Clip(odd)
	kept, _, _ := strings.Cut(got, "…[")
	if !utf8.ValidString(got) || !strings.HasPrefix(odd, kept) || len(kept) != plan.MaxEcho-1 ||
		!strings.HasSuffix(got, fmt.Sprintf("…[%d more bytes cut]", len(odd)-len(kept))) {
		t.Fatalf("clip on a character boundary kept %d bytes: %q", len(kept), got[len(got)-30:])
	}
}

// flipProvider answers a different interface name on every call: every
// write it asks for is undone by the next answer, so without the
// backstop the engine would replug it on every pass, forever.
type flipProvider struct {
	calls  atomic.Int64
	steady atomic.Bool
}

func (*flipProvider) Type() string                                           { return "flip" }
func (*flipProvider) Init(providers.Env) error                               { return nil }
func (*flipProvider) Destroy() error                                         { return nil }
func (*flipProvider) Run(context.Context) bool                               { return false }
func (*flipProvider) MaintainedIfaceOptions() []string                       { return nil }
func (*flipProvider) Finish(*providers.PortCtxIn, *providers.PortCtxOut)     {}
func (*flipProvider) CtxDestroy(*providers.PortCtxIn, *providers.PortCtxOut) {}
func (p *flipProvider) Prepare(_ context.Context, in *providers.PortCtxIn, out *providers.PortCtxOut) error {
	if in.Op == providers.OpRemove {
		return nil
	}
	n := p.calls.Add(1)
	out.Name, out.Type = "flipA", "internal"
	if !p.steady.Load() && n%2 == 0 {
		out.Name = "flipB"
	}
	return nil
}

func TestBackstopStopsANonConvergingPort(t *testing.T) {
	m := newMemStack(t)
	prom := prometheus.NewRegistry()
	metrics := NewMetrics(prom)
	prov := &flipProvider{}
	e, _ := m.startEngineWith(t, Config{Metrics: metrics}, prov)
	changes := 0
	counter := &countingHandler{n: &changes}
	m.ovs.Cache().AddEventHandler(counter)
	rowChanges := func() int { counter.mu.Lock(); defer counter.mu.Unlock(); return changes }

	m.addBindings(t, []string{"lp-flip"}, map[string]string{plan.OptPlugType: "flip"})
	waitFor(t, "port in error: not converging", 10*time.Second, func() bool {
		st := e.status.get("lp-flip")
		return st != nil && st.State == plan.StateError && strings.HasPrefix(st.Reason, "not converging: ")
	})
	if n := counterValue(t, prom, Namespace+"_not_converging_total"); n != 1 {
		t.Fatalf("not_converging_total = %v, want 1", n)
	}
	// Settled: nothing is written while it backs off.
	before, calls := rowChanges(), prov.calls.Load()
	time.Sleep(convergeMinBackoff / 2)
	if got := rowChanges() - before; got != 0 {
		t.Fatalf("%d OVS row changes while backing off, want 0", got)
	}
	t.Logf("settled after %d Prepare calls; %d row changes before settling", calls, before)

	// It recovers by itself when its binding changes and the provider
	// answers the same again.
	prov.steady.Store(true)
	pb := &sb.PortBinding{Options: map[string]string{plan.OptPlugType: "flip", plan.OptMTURequest: "1400"}}
	memdb.Commit(t, m.sb, must[[]ovsdb.Operation](t)(m.sb.WhereCache(func(pb *sb.PortBinding) bool { return pb.LogicalPort == "lp-flip" }).Update(pb, &pb.Options))...)
	waitFor(t, "port plugged after its binding changed", 10*time.Second, func() bool {
		st := e.status.get("lp-flip")
		return st != nil && st.State == plan.StatePlugged
	})
}

// counterValue sums a counter family's samples from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
