package sidecar

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
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
				g.wrote(a, fp, now)
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
	// Writes further apart than the window (an interface deleted by hand
	// now and then) never trip it.
	for i := range 3 * maxUnconvergedWrites {
		now = now.Add(convergeWindow + time.Second)
		if held := write(); len(held) != 0 {
			t.Fatalf("write %d, a window after the last, held back: %v", i, held)
		}
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
	if len(got) > plan.MaxValueLen+40 || !strings.HasSuffix(got, "…[79488 more bytes cut]") || !strings.HasPrefix(long, strings.TrimSuffix(got, "…[79488 more bytes cut]")) {
		t.Fatalf("plan.Clip(80 kB) = %d bytes ending %q", len(got), got[len(got)-30:])
	}
	odd := "x" + long // byte plan.MaxValueLen falls inside a character
	got = plan.Clip(odd)
	kept, _, _ := strings.Cut(got, "…[")
	if !utf8.ValidString(got) || !strings.HasPrefix(odd, kept) || len(kept) != plan.MaxValueLen-1 ||
		!strings.HasSuffix(got, fmt.Sprintf("…[%d more bytes cut]", len(odd)-len(kept))) {
		t.Fatalf("clip on a character boundary kept %d bytes: %q", len(kept), got[len(got)-30:])
	}
}

// flipProvider answers a different interface name on every call. Before
// echoes were dropped, the echo of each write planned the port again and
// the next answer undid the write, forever; now nothing plans it again
// until something other than its own write changes.
type flipProvider struct {
	calls atomic.Int64
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
	out.Name, out.Type = "flipA", "internal"
	if p.calls.Add(1)%2 == 0 {
		out.Name = "flipB"
	}
	return nil
}

func TestEchoOfOwnWriteNeedsNoPass(t *testing.T) {
	m := newMemStack(t)
	prov := &flipProvider{}
	e, _ := m.startEngineWith(t, Config{}, prov, dummy.New())

	m.addBindings(t, []string{"lp-flip"}, map[string]string{plan.OptPlugType: "flip"})
	waitFor(t, "the echo of the plug", 10*time.Second, func() bool { return e.echoes.Load() == 1 })
	passes := e.passes.Load()
	// Another port's plug and echo: the worker has dealt with everything
	// queued before it, lp-flip's echo included, once that echo is dropped.
	m.addBindings(t, []string{"lp-other"}, nil)
	waitFor(t, "the echo of the second plug", 10*time.Second, func() bool { return e.echoes.Load() == 2 })
	if got := e.passes.Load() - passes; got != 1 {
		t.Errorf("%d passes for one binding and the echo of its plug, want 1", got)
	}
	if n := prov.calls.Load(); n != 1 {
		t.Errorf("the provider was asked %d times, want once: an echo was planned", n)
	}
	got := m.plugged()
	if it := got["lp-flip"]; it == nil || it.Name != "flipA" {
		t.Errorf("lp-flip plugged as %+v, want flipA", it)
	}
	if st := e.status.get("lp-flip"); st == nil || st.State != plan.StatePlugged {
		t.Errorf("lp-flip status %+v, want plugged", st)
	}
}

// mangle sets mtu_request to 1234 on lp-fight's interface whenever the
// sidecar has set it to 1400: another agent undoing every write.
func mangle(t *testing.T, m *memStack) {
	wake := make(chan string, 1)
	check := func(cur model.Model) {
		it, ok := cur.(*vswitch.Interface)
		if ok && it.ExternalIDs[plan.ExtIfaceID] == "lp-fight" && it.MTURequest != nil && *it.MTURequest == 1400 {
			select {
			case wake <- it.UUID:
			default:
			}
		}
	}
	m.ovs.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(_ string, cur model.Model) { check(cur) },
		UpdateFunc: func(_ string, _, cur model.Model) { check(cur) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case uuid := <-wake:
				it := &vswitch.Interface{UUID: uuid, MTURequest: ptr(1234)}
				ops, err := m.ovs.Where(it).Update(it, &it.MTURequest)
				if err == nil {
					_, err = m.ovs.Transact(ctx, ops...)
				}
				if err != nil && ctx.Err() == nil {
					t.Errorf("mangler: %v", err)
				}
			}
		}
	}()
}

func ptr[T any](v T) *T { return &v }

func TestBackstopStopsAFight(t *testing.T) {
	m := newMemStack(t)
	mangle(t, m)
	prom := prometheus.NewRegistry()
	e, _ := m.startEngineWith(t, Config{Metrics: NewMetrics(prom)}, dummy.New())
	txns := func() uint64 { return histogramCount(t, prom, Namespace+"_transaction_duration_seconds") }

	m.addBindings(t, []string{"lp-fight"}, map[string]string{plan.OptMTURequest: "1400"})
	waitFor(t, "port in error: not converging", 10*time.Second, func() bool {
		st := e.status.get("lp-fight")
		return st != nil && st.State == plan.StateError && strings.HasPrefix(st.Reason, "not converging: ")
	})
	tripped, before := time.Now(), txns()
	if n := counterValue(t, prom, Namespace+"_not_converging_total"); n != 1 {
		t.Fatalf("not_converging_total = %v, want 1", n)
	}
	if before > maxUnconvergedWrites+1 {
		t.Errorf("%d transactions before the guard stopped the fight, want at most %d", before, maxUnconvergedWrites+1)
	}
	// It backs off: the next write is the one retry when the backoff ends.
	waitFor(t, "the retry after the backoff", 3*convergeMinBackoff, func() bool { return txns() > before })
	if waited := time.Since(tripped); waited < convergeMinBackoff*9/10 {
		t.Errorf("wrote again %v after stopping, want the %v backoff", waited, convergeMinBackoff)
	}
	waitFor(t, "stopped again", 10*time.Second, func() bool {
		return counterValue(t, prom, Namespace+"_not_converging_total") == 2
	})
	if got := txns() - before; got != 1 {
		t.Errorf("%d transactions after the backoff, want the one retry", got)
	}

	// It recovers by itself when its binding changes to something the
	// other agent leaves alone.
	pb := &sb.PortBinding{Options: map[string]string{plan.OptPlugType: dummy.Type, plan.OptMTURequest: "1500"}}
	memdb.Commit(t, m.sb, must[[]ovsdb.Operation](t)(m.sb.WhereCache(func(pb *sb.PortBinding) bool { return pb.LogicalPort == "lp-fight" }).Update(pb, &pb.Options))...)
	waitFor(t, "port plugged after its binding changed", 10*time.Second, func() bool {
		st := e.status.get("lp-fight")
		it := m.plugged()["lp-fight"]
		return st != nil && st.State == plan.StatePlugged && it != nil && it.MTURequest != nil && *it.MTURequest == 1500
	})
}

// histogramCount sums a histogram family's sample counts from reg.
func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
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
