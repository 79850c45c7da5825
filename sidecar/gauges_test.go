package sidecar

import (
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
	"github.com/prometheus/client_golang/prometheus"
)

// gauges returns every sample of the engine's per-port gauges as
// "name{label=value,...}" → value.
func gauges(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		switch mf.GetName() {
		case Namespace + "_plugged_ports", Namespace + "_pending_ports", Namespace + "_ports":
		default:
			continue
		}
		for _, m := range mf.GetMetric() {
			key := mf.GetName() + "{"
			for i, l := range m.GetLabel() {
				if i > 0 {
					key += ","
				}
				key += l.GetName() + "=" + l.GetValue()
			}
			out[key+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

// TestGaugesFollowTransitions: the per-state gauges are kept from counts
// updated on each transition, and a label set with no ports left goes away.
func TestGaugesFollowTransitions(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := &Engine{status: newStatusStore(), metrics: NewMetrics(reg)}
	now := time.Now()
	set := func(k string, st plan.State, c plan.Cause) {
		e.status.set(plan.Outcome{LogicalPort: k, Provider: "dummy", State: st, Cause: c}, now)
		updateGauges(e.status, e.metrics)
	}
	check := func(want map[string]float64) {
		t.Helper()
		got := gauges(t, reg)
		if len(got) != len(want) {
			t.Errorf("gauges %v, want %v", got, want)
			return
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("gauges %v, want %v", got, want)
				return
			}
		}
	}
	const ns = Namespace + "_"
	set("a", plan.StatePending, plan.CauseNoAnswer)
	set("b", plan.StatePending, plan.CauseNotReady)
	set("c", plan.StatePlugged, plan.CauseNone)
	check(map[string]float64{
		ns + "pending_ports{provider=dummy,reason=no_answer}": 1,
		ns + "pending_ports{provider=dummy,reason=not_ready}": 1,
		ns + "ports{provider=dummy,state=pending}":            2,
		ns + "ports{provider=dummy,state=plugged}":            1,
		ns + "plugged_ports{provider=dummy}":                  1,
	})

	set("a", plan.StatePlugged, plan.CauseNone)
	set("b", plan.StatePending, plan.CausePrepareTimeout) // same state, another class
	check(map[string]float64{
		ns + "pending_ports{provider=dummy,reason=prepare_timeout}": 1,
		ns + "ports{provider=dummy,state=pending}":                  1,
		ns + "ports{provider=dummy,state=plugged}":                  2,
		ns + "plugged_ports{provider=dummy}":                        2,
	})

	set("a", plan.StateGone, plan.CauseUnplugged)
	set("b", plan.StateGone, plan.CauseUnplugged)
	set("c", plan.StateGone, plan.CauseUnplugged)
	check(map[string]float64{})
}
