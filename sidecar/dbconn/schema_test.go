package dbconn

import (
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim"
)

// A missing column asks for an older floor release; an index over a
// column the model lacks means a release newer than this sidecar.
func TestSchemaErrorSays(t *testing.T) {
	old := &SchemaError{Schema: SchemaInfo{"OVN_Southbound", "20.16.1"}, Floor: "OVN 22.03",
		Lacks: []slim.Lack{{Table: "Port_Binding", Column: "requested_chassis", Why: "missing"}}}
	if got, want := old.Error(), "OVN_Southbound schema 20.16.1 lacks Port_Binding.requested_chassis: OVN 22.03 or later is needed"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	newer := &SchemaError{Schema: SchemaInfo{"OVN_Southbound", "30.0.0"}, Floor: "OVN 22.03",
		Lacks: []slim.Lack{{Table: "Port_Binding", Column: "mac", Why: "indexed by the server, absent from the model"}}}
	if got, want := newer.Error(), "OVN_Southbound schema 30.0.0 has Port_Binding.mac (indexed by the server, absent from the model): this ovn-vif-sidecar is too old for it"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
