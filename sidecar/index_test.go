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
	v := ovsView{x}
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
	h2.OnDelete(vswitch.InterfaceTable, ifc)
	if c := take(); len(c) != 1 {
		t.Errorf("delete reported %+v", c)
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
	if _, ok := x.Binding("deleted-while-away"); !ok {
		t.Fatal("handler did not index the binding")
	}
	x.rebuild(m.sb.Cache())
	if _, ok := x.Binding("deleted-while-away"); ok {
		t.Error("a binding the cache no longer has survived the rebuild")
	}
	if _, ok := x.Binding("live"); !ok {
		t.Error("the cache's binding is missing after the rebuild")
	}
}
