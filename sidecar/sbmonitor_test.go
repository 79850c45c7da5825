package sidecar

import (
	"slices"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// TestSBMonitorKeepsToThisChassis: with many Port_Bindings for another
// chassis in SB, the engine's SB cache and index hold only this
// chassis's; a binding moved onto this chassis is plugged, and one moved
// away leaves the cache and is unplugged.
func TestSBMonitorKeepsToThisChassis(t *testing.T) {
	m := newMemStack(t)
	other := memdb.Commit(t, m.sb, must[[]ovsdb.Operation](t)(m.sb.Create(
		&sb.Chassis{UUID: "other", Name: "chassis-2", Hostname: "dpu2"}))...)[0].UUID.GoUUID
	far := names("far", 500)
	m.addBindingsFor(t, other, far, map[string]string{plan.OptRequestedChassis: "chassis-2"})
	near := names("near", 5)
	m.addBindings(t, near, nil)
	e, _ := m.startEngine(t)

	// held returns the logical ports in the engine's SB cache and index.
	held := func() (inCache, inIndex []string) {
		for _, r := range e.sb.Cache().Table(sb.PortBindingTable).RowsShallow() {
			inCache = append(inCache, r.(*sb.PortBinding).LogicalPort)
		}
		sbView{x: e.sbIdx}.Each(func(b plan.Binding) { inIndex = append(inIndex, b.LogicalPort) })
		slices.Sort(inCache)
		slices.Sort(inIndex)
		return inCache, inIndex
	}
	settled := func(what string, want []string) {
		t.Helper()
		waitFor(t, what, 10*time.Second, func() bool {
			p := m.plugged()
			if len(p) != len(want) {
				return false
			}
			for _, lp := range want {
				if p[lp] == nil {
					return false
				}
			}
			return true
		})
		// The plugs follow the index, so it is complete by now; a monitor
		// ignoring its condition would have brought every foreign row.
		want = slices.Sorted(slices.Values(want))
		inCache, inIndex := held()
		if !slices.Equal(inCache, want) || !slices.Equal(inIndex, want) {
			t.Fatalf("%s: the SB cache holds %d bindings %v… and the index %d %v…; want %v",
				what, len(inCache), inCache[:min(len(inCache), 8)], len(inIndex), inIndex[:min(len(inIndex), 8)], want)
		}
	}
	settled("this chassis's bindings plugged", near)

	moveTo := func(lport, ch, name string) []ovsdb.Operation {
		pb := &sb.PortBinding{RequestedChassis: &ch,
			Options: map[string]string{plan.OptPlugType: dummy.Type, plan.OptRequestedChassis: name}}
		return must[[]ovsdb.Operation](t)(m.sb.WhereCache(func(b *sb.PortBinding) bool { return b.LogicalPort == lport }).
			Update(pb, &pb.RequestedChassis, &pb.Options))
	}
	memdb.Commit(t, m.sb, moveTo("far7", m.chassisUUID, "chassis-1")...)
	settled("a binding moved here", append(slices.Clone(near), "far7"))

	memdb.Commit(t, m.sb, moveTo("near2", other, "chassis-2")...)
	want := slices.DeleteFunc(append(slices.Clone(near), "far7"), func(s string) bool { return s == "near2" })
	settled("a binding moved away", want)
}
