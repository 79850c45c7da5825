package memdb

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
)

func sbModel(t *testing.T) model.DatabaseModel {
	t.Helper()
	cm, err := sb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	dm, errs := model.NewDatabaseModel(sb.Schema(), cm)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return dm
}

// pbMonitor builds a Port_Binding monitor from where clauses in JSON.
func pbMonitor(t *testing.T, dm model.DatabaseModel, where string) (*tableMonitor, error) {
	t.Helper()
	var req condRequest
	if err := json.Unmarshal([]byte(`{"where": `+where+`}`), &req); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return newTableMonitor(dm.Schema.Table(sb.PortBindingTable), req)
}

// TestConditionMatches: each function on each kind of column, constants,
// several clauses (ORed, as ovsdb-server does) and no clause at all.
func TestConditionMatches(t *testing.T) {
	dm := sbModel(t)
	const u1, u2 = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
	ch := u1
	pb := &sb.PortBinding{UUID: u2, LogicalPort: "lp1", RequestedChassis: &ch, MAC: []string{"a", "b"},
		Options: map[string]string{"k": "v", "x": "y"}, TunnelKey: 6}
	bare := &sb.PortBinding{UUID: u1, LogicalPort: "lp2"}
	for _, c := range []struct {
		where     string
		pb, other bool // matches pb, matches bare
	}{
		{`[]`, true, true},
		{`[true]`, true, true},
		{`[false]`, false, false},
		{`[false, true]`, true, true},
		{`[["logical_port", "==", "lp1"]]`, true, false},
		{`[["logical_port", "!=", "lp1"]]`, false, true},
		{`[["logical_port", "includes", "lp1"]]`, true, false},
		{`[["logical_port", "excludes", "lp1"]]`, false, true},
		{`[["_uuid", "==", ["uuid", "` + u2 + `"]]]`, true, false},
		// An optional reference, as an atom or as a set of 0 or 1.
		{`[["requested_chassis", "==", ["uuid", "` + u1 + `"]]]`, true, false},
		{`[["requested_chassis", "==", ["set", [["uuid", "` + u1 + `"]]]]]`, true, false},
		{`[["requested_chassis", "==", ["uuid", "` + u2 + `"]]]`, false, false},
		{`[["requested_chassis", "==", ["set", []]]]`, false, true},
		{`[["requested_chassis", "!=", ["uuid", "` + u1 + `"]]]`, false, true},
		{`[["requested_chassis", "includes", ["uuid", "` + u1 + `"]]]`, true, false},
		{`[["requested_chassis", "excludes", ["uuid", "` + u1 + `"]]]`, false, true},
		// Sets compare regardless of order.
		{`[["mac", "==", ["set", ["b", "a"]]]]`, true, false},
		{`[["mac", "==", ["set", ["a"]]]]`, false, false},
		{`[["mac", "!=", ["set", ["b", "a"]]]]`, false, true},
		{`[["mac", "includes", "a"]]`, true, false},
		{`[["mac", "includes", ["set", ["a", "c"]]]]`, false, false},
		{`[["mac", "excludes", ["set", ["c"]]]]`, true, true},
		{`[["options", "==", ["map", [["x", "y"], ["k", "v"]]]]]`, true, false},
		{`[["options", "includes", ["map", [["k", "v"]]]]]`, true, false},
		{`[["options", "includes", ["map", [["k", "w"]]]]]`, false, false},
		{`[["options", "excludes", ["map", [["k", "v"]]]]]`, false, true},
		{`[["tunnel_key", ">", 5]]`, true, false},
		{`[["tunnel_key", "<=", 5]]`, false, true},
		// Clauses are ORed.
		{`[["logical_port", "==", "lp1"], ["logical_port", "==", "lp2"]]`, true, true},
		{`[["logical_port", "==", "lp1"], ["mac", "includes", "c"]]`, true, false},
		{`[false, ["logical_port", "==", "lp2"]]`, false, true},
	} {
		tm, err := pbMonitor(t, dm, c.where)
		if err != nil {
			t.Errorf("%s: %v", c.where, err)
			continue
		}
		if got := tm.matches(dm, pb); got != c.pb {
			t.Errorf("%s on the full binding: %v, want %v", c.where, got, c.pb)
		}
		if got := tm.matches(dm, bare); got != c.other {
			t.Errorf("%s on the bare binding: %v, want %v", c.where, got, c.other)
		}
	}
}

// TestConditionErrors: a monitor with a condition ovsdb-server would
// refuse is refused, not crashed on or taken as matching.
func TestConditionErrors(t *testing.T) {
	dm := sbModel(t)
	for where, want := range map[string]string{
		`[["nope", "==", "x"]]`:                  `no column "nope"`,
		`[["logical_port", "<", "x"]]`:           "wrong condition function",
		`[["logical_port", "==", 1]]`:            "condition",
		`[["requested_chassis", "==", "x"]]`:     "condition",
		`[["logical_port", "==", "x", "extra"]]`: "3 element",
		`["true"]`:                               "condition",
	} {
		if _, err := pbMonitor(t, dm, where); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", where, err, want)
		}
	}
}
