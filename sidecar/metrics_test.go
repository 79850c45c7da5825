package sidecar

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// Every counter series exists at 0 from the start, for every compiled-in
// provider, so that increase() alerts fire on the first error.
func TestCountersStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Registry: providers.NewRegistry(nil), Metrics: NewMetrics(reg)}); err != nil {
		t.Fatal(err)
	}
	types := providers.Compiled()
	if len(types) == 0 {
		t.Fatal("no provider compiled into the test binary")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			if m.GetCounter() != nil {
				seen[key] = m.GetCounter().GetValue()
			}
		}
	}
	for _, typ := range types {
		for _, op := range []string{"plug", "update", "unplug", "replug"} {
			for _, result := range []string{"error", "success"} {
				key := "ovn_vif_sidecar_plug_operations_total,op=" + op + ",provider=" + typ + ",result=" + result
				if v, ok := seen[key]; !ok || v != 0 {
					t.Errorf("%s: present %t value %v, want present at 0", key, ok, v)
				}
			}
		}
		if v, ok := seen["ovn_vif_sidecar_not_converging_total,provider="+typ]; !ok || v != 0 {
			t.Errorf("not_converging_total{provider=%q}: present %t value %v, want present at 0", typ, ok, v)
		}
		for _, op := range []string{"create", "remove"} {
			key := "ovn_vif_sidecar_prepare_timeouts_total,op=" + op + ",provider=" + typ
			if v, ok := seen[key]; !ok || v != 0 {
				t.Errorf("%s: present %t value %v, want present at 0", key, ok, v)
			}
		}
	}
	n := 0
	for k := range seen {
		if strings.HasPrefix(k, "ovn_vif_sidecar_plug_operations_total,") {
			n++
		}
	}
	if n != len(types)*8 {
		t.Errorf("%d plug_operations_total series, want %d", n, len(types)*8)
	}
}
