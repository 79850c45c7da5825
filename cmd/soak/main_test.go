package main

import (
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP ovn_vif_sidecar_plug_operations_total Plug operations.
# TYPE ovn_vif_sidecar_plug_operations_total counter
ovn_vif_sidecar_plug_operations_total{op="plug",provider="dummy",result="success"} 7
ovn_vif_sidecar_plug_operations_total{op="unplug",provider="we{ird} x",result="success"} 3
ovn_vif_sidecar_transaction_duration_seconds_count 9
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.sum("ovn_vif_sidecar_plug_operations_total"); got != 10 {
		t.Errorf("plug operations = %g, want 10", got)
	}
	if got := m.sum("ovn_vif_sidecar_transaction_duration_seconds_count"); got != 9 {
		t.Errorf("transactions = %g, want 9", got)
	}
	if _, err := parseMetrics(strings.NewReader("name{a=\"b\"}\n")); err == nil {
		t.Error("a sample without a value parsed")
	}
}
