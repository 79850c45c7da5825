package sidecar

import (
	"slices"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

func TestOVSIndexFollowsRowsAndReportsOnlyWhatThePlanReads(t *testing.T) {
	x := newOVSIndex()
	var got []indexChange
	h := x.handler(func(c indexChange) { got = append(got, c) })
	take := func() []indexChange { c := got; got = nil; return c }

	ifc := &vswitch.Interface{UUID: "i1", Name: "lsp1", Type: "internal", ExternalIDs: map[string]string{plan.ExtIfaceID: "lsp1", plan.ExtOvnPlugged: "dummy"}}
	h.OnAdd(vswitch.InterfaceTable, ifc)
	h.OnAdd(vswitch.PortTable, &vswitch.Port{UUID: "p1", Name: "lsp1", Interfaces: []string{"i1"}})
	br := &vswitch.Bridge{UUID: "b1", Name: "br-int"}
	h.OnAdd(vswitch.BridgeTable, br)
	if c := take(); len(c) != 3 || !slices.Equal(c[0].ifaceIDs, []string{"lsp1"}) || !c[2].all {
		t.Fatalf("adds reported %+v", c)
	}
	br2 := &vswitch.Bridge{UUID: "b1", Name: "br-int", Ports: []string{"p1"}}
	h.OnUpdate(vswitch.BridgeTable, br, br2)
	if c := take(); len(c) != 1 || c[0].all || !slices.Equal(c[0].ifaceIDs, []string{"lsp1"}) {
		t.Fatalf("the port joining the bridge reported %+v, want only lsp1", c)
	}
	v := ovsView{x: x}
	it := v.Ours("lsp1")
	if it == nil || it.PortUUID != "p1" || it.BridgeUUID != "b1" || it.BridgeName != "br-int" {
		t.Fatalf("Ours(lsp1) = %+v", it)
	}
	if n, ok := v.Named("lsp1"); !ok || n.UUID != "i1" {
		t.Errorf("Named(lsp1) = %+v, %v", n, ok)
	}

	// ovn-controller marking the interface installed: nothing to do.
	installed := *ifc
	installed.ExternalIDs = map[string]string{plan.ExtIfaceID: "lsp1", plan.ExtOvnPlugged: "dummy", "ovn-installed": "true"}
	h.OnUpdate(vswitch.InterfaceTable, ifc, &installed)
	if c := take(); len(c) != 0 {
		t.Errorf("an ovn-installed update reported %+v", c)
	}
	// Tampering with mtu_request is something the plan reads.
	mtu := 440
	tampered := installed
	tampered.MTURequest = &mtu
	h.OnUpdate(vswitch.InterfaceTable, &installed, &tampered)
	if c := take(); len(c) != 1 || !slices.Equal(c[0].ifaceIDs, []string{"lsp1"}) || !slices.Equal(c[0].names, []string{"lsp1"}) {
		t.Errorf("an mtu_request change reported %+v", c)
	}

	// Another port joining the bridge reports only that port's interface.
	h.OnAdd(vswitch.InterfaceTable, &vswitch.Interface{UUID: "i2", Name: "x", ExternalIDs: map[string]string{plan.ExtIfaceID: "other"}})
	h.OnAdd(vswitch.PortTable, &vswitch.Port{UUID: "p2", Name: "x", Interfaces: []string{"i2"}})
	take()
	br3 := &vswitch.Bridge{UUID: "b1", Name: "br-int", Ports: []string{"p1", "p2"}}
	h.OnUpdate(vswitch.BridgeTable, br2, br3)
	if c := take(); len(c) != 1 || !slices.Equal(c[0].ifaceIDs, []string{"other"}) {
		t.Errorf("p2 joining reported %+v, want only its iface-id", c)
	}

	// The bridge dropping p1: lsp1 is no longer in any bridge.
	h.OnUpdate(vswitch.BridgeTable, br3, &vswitch.Bridge{UUID: "b1", Name: "br-int", Ports: []string{"p2"}})
	if c := take(); len(c) != 1 || !slices.Equal(c[0].ifaceIDs, []string{"lsp1"}) {
		t.Errorf("p1 leaving reported %+v", c)
	}
	if it := v.Ours("lsp1"); it == nil || it.BridgeUUID != "" {
		t.Errorf("after leaving the bridge Ours(lsp1) = %+v", it)
	}

	// The Open_vSwitch row: only system-id, ovn-remote and ovn-bridge count.
	root := &vswitch.OpenvSwitch{UUID: "o", ExternalIDs: map[string]string{"system-id": "c1"}}
	h.OnAdd(vswitch.OpenvSwitchTable, root)
	if c := take(); len(c) != 1 || !c[0].identity {
		t.Errorf("the root row's add reported %+v", c)
	}
	h.OnUpdate(vswitch.OpenvSwitchTable, root, &vswitch.OpenvSwitch{UUID: "o", ExternalIDs: map[string]string{"system-id": "c1", "hostname": "x"}})
	if c := take(); len(c) != 0 {
		t.Errorf("an unrelated external_ids key reported %+v", c)
	}

	// A new connection starts a new generation: the old handler's events
	// no longer count, and the index starts empty.
	h2 := x.handler(func(c indexChange) { got = append(got, c) })
	h.OnAdd(vswitch.InterfaceTable, &vswitch.Interface{UUID: "stale", Name: "stale", ExternalIDs: map[string]string{plan.ExtIfaceID: "stale"}})
	if _, ok := v.Named("stale"); ok || len(take()) != 0 {
		t.Error("an event of the previous connection's cache was applied")
	}
	if v.Ours("lsp1") != nil {
		t.Error("the new generation kept the old rows")
	}
	h2.OnAdd(vswitch.InterfaceTable, ifc)
	take()
	// A delete is judged by the row the index holds, not the event's.
	h2.OnDelete(vswitch.InterfaceTable, &vswitch.Interface{UUID: ifc.UUID})
	if c := take(); len(c) != 1 || !slices.Equal(c[0].ifaceIDs, []string{"lsp1"}) {
		t.Errorf("delete reported %+v", c)
	}
	// A delete of a row the index never held (its add was lost) changes
	// nothing and wakes nobody.
	h2.OnDelete(vswitch.InterfaceTable, ifc)
	if c := take(); len(c) != 0 {
		t.Errorf("a delete of an unknown row reported %+v", c)
	}
}

// TestSBIndexRebuildDropsWhatThePurgeHid: libovsdb purges a reconnected
// cache without delete events; the rebuild makes the index the cache's.
func TestSBIndexRebuildDropsWhatThePurgeHid(t *testing.T) {
	m := newMemStack(t)
	m.addBindings(t, []string{"live"}, nil)
	waitFor(t, "the binding in the test client's cache", 5*time.Second, func() bool {
		return m.sb.Cache().Table(sb.PortBindingTable).Len() == 1
	})
	x := newSBIndex()
	h := x.handler(func([]string, bool) {})
	h.OnAdd(sb.PortBindingTable, &sb.PortBinding{UUID: "gone", LogicalPort: "deleted-while-away"})
	if _, ok := (sbView{x: x}).Binding("deleted-while-away"); !ok {
		t.Fatal("handler did not index the binding")
	}
	x.rebuild(m.sb.Cache())
	if _, ok := (sbView{x: x}).Binding("deleted-while-away"); ok {
		t.Error("a binding the cache no longer has survived the rebuild")
	}
	if _, ok := (sbView{x: x}).Binding("live"); !ok {
		t.Error("the cache's binding is missing after the rebuild")
	}
}

// TestPinnedViewsReadOneState: events applied while a pass holds its
// views change nothing the pass reads, and the next pin sees them.
func TestPinnedViewsReadOneState(t *testing.T) {
	x := newOVSIndex()
	h := x.handler(func(indexChange) {})
	ifc := &vswitch.Interface{UUID: "i1", Name: "lsp1", ExternalIDs: map[string]string{plan.ExtIfaceID: "lsp1", plan.ExtOvnPlugged: "dummy"}}
	h.OnAdd(vswitch.InterfaceTable, ifc)
	h.OnAdd(vswitch.PortTable, &vswitch.Port{UUID: "p1", Name: "lsp1", Interfaces: []string{"i1"}})
	h.OnAdd(vswitch.BridgeTable, &vswitch.Bridge{UUID: "b1", Name: "br-int", Ports: []string{"p1"}})

	v := x.pin()
	// An update moves the interface to a new port on another bridge and
	// adds a second interface for the same iface-id.
	h.OnDelete(vswitch.PortTable, &vswitch.Port{UUID: "p1"})
	h.OnAdd(vswitch.PortTable, &vswitch.Port{UUID: "p2", Name: "lsp1", Interfaces: []string{"i1"}})
	h.OnAdd(vswitch.BridgeTable, &vswitch.Bridge{UUID: "b2", Name: "br-other", Ports: []string{"p2"}})
	h.OnUpdate(vswitch.BridgeTable, nil, &vswitch.Bridge{UUID: "b1", Name: "br-int"})
	h.OnAdd(vswitch.InterfaceTable, &vswitch.Interface{UUID: "i2", Name: "lsp1-b", ExternalIDs: map[string]string{plan.ExtIfaceID: "lsp1", plan.ExtOvnPlugged: "dummy"}})
	h.OnUpdate(vswitch.InterfaceTable, ifc, &vswitch.Interface{UUID: "i1", Name: "renamed", ExternalIDs: ifc.ExternalIDs})

	got := v.IfacesWithID("lsp1")
	if len(got) != 1 || got[0].Name != "lsp1" || got[0].PortUUID != "p1" || got[0].BridgeName != "br-int" {
		t.Errorf("pinned IfacesWithID(lsp1) = %+v, want i1 named lsp1 in p1 on br-int", got)
	}
	if !v.PortExists("p1") || v.PortExists("p2") {
		t.Error("pinned view sees the port change")
	}
	if _, ok := v.Named("renamed"); ok {
		t.Error("pinned view sees the rename")
	}
	if _, br := v.Root("br-other"); br != nil {
		t.Error("pinned view sees the new bridge")
	}
	n := 0
	v.OursIDs(func(string, string) { n++ })
	if n != 1 {
		t.Errorf("pinned OursIDs saw %d interfaces, want 1", n)
	}
	v.release()

	now := x.pin()
	defer now.release()
	if got := now.IfacesWithID("lsp1"); len(got) != 2 {
		t.Errorf("after release, IfacesWithID(lsp1) = %+v, want both", got)
	}
	if it, ok := now.ByUUID("i1"); !ok || it.Name != "renamed" || it.BridgeName != "br-other" {
		t.Errorf("after release, i1 = %+v", it)
	}

	// The SB view, likewise.
	s := newSBIndex()
	sh := s.handler(func([]string, bool) {})
	sh.OnAdd(sb.PortBindingTable, &sb.PortBinding{UUID: "u1", LogicalPort: "a", Type: ""})
	sv := s.pin()
	sh.OnUpdate(sb.PortBindingTable, nil, &sb.PortBinding{UUID: "u1", LogicalPort: "a", Type: "virtual"})
	sh.OnAdd(sb.PortBindingTable, &sb.PortBinding{UUID: "u2", LogicalPort: "b"})
	if b, ok := sv.Binding("a"); !ok || b.Type != "" {
		t.Errorf("pinned Binding(a) = %+v", b)
	}
	seen := 0
	sv.Each(func(plan.Binding) { seen++ })
	if _, ok := sv.Binding("b"); ok || seen != 1 {
		t.Errorf("pinned SB view sees the new binding (each saw %d)", seen)
	}
	sv.release()
	if b, _ := (sbView{x: s}).Binding("a"); b.Type != "virtual" {
		t.Errorf("after release Binding(a) = %+v", b)
	}
}
