package sidecar

import (
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/ovsops"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// commitActions turns actions into one transaction, as Engine.transact
// does, and commits it with the test client.
func commitActions(t *testing.T, m *memStack, actions ...plan.Action) {
	t.Helper()
	var ops []ovsdb.Operation
	ports := ovsops.BridgePorts{}
	for i, a := range actions {
		o, err := actionOps(a, i, ports)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, o...)
	}
	memdb.Commit(t, m.ovs, append(ops, ports.Ops()...)...)
}

func ifaceOf(t *testing.T, m *memStack, lport string) (plan.Iface, bool) {
	t.Helper()
	for uuid, r := range m.ovs.Cache().Table(vswitch.InterfaceTable).RowsShallow() {
		i := r.(*vswitch.Interface)
		if i.ExternalIDs[plan.ExtIfaceID] != lport {
			continue
		}
		it := plan.Iface{UUID: uuid, Name: i.Name, Type: i.Type, Options: i.Options, ExternalIDs: i.ExternalIDs, MTURequest: i.MTURequest, BridgeUUID: m.bridgeUUID}
		for pu, pr := range m.ovs.Cache().Table(vswitch.PortTable).RowsShallow() {
			for _, x := range pr.(*vswitch.Port).Interfaces {
				if x == uuid {
					it.PortUUID = pu
				}
			}
		}
		return it, true
	}
	return plan.Iface{}, false
}

// TestActionOpsPlugUpdateReplugUnplug commits each kind of action on the
// in-memory database and checks the rows, including a replug that reuses
// the interface name in the same transaction.
func TestActionOpsPlugUpdateReplugUnplug(t *testing.T) {
	m := newMemStack(t)
	ext := map[string]string{plan.ExtIfaceID: "lsp", plan.ExtOvnPlugged: "dummy"}
	commitActions(t, m, plan.Action{Op: plan.OpPlug, LogicalPort: "lsp", Create: &plan.Create{BridgeUUID: m.bridgeUUID, Name: "lsp", Type: "internal",
		Options: map[string]string{"a": "1"}, ExternalIDs: ext, MTURequest: 1400}})
	var it plan.Iface
	waitFor(t, "the plugged interface", 5*time.Second, func() bool { var ok bool; it, ok = ifaceOf(t, m, "lsp"); return ok && it.PortUUID != "" })
	if it.Type != "internal" || it.Options["a"] != "1" || it.MTURequest == nil || *it.MTURequest != 1400 {
		t.Fatalf("plugged %+v", it)
	}

	commitActions(t, m, plan.Action{Op: plan.OpUpdate, LogicalPort: "lsp", Update: &plan.Update{IfaceUUID: it.UUID, SetOptions: map[string]string{"a": "2"}, SetMTU: true}})
	waitFor(t, "the update", 5*time.Second, func() bool { i, _ := ifaceOf(t, m, "lsp"); return i.Options["a"] == "2" && i.MTURequest == nil })

	commitActions(t, m, plan.Action{Op: plan.OpReplug, LogicalPort: "lsp", Remove: []plan.Iface{it},
		Create: &plan.Create{BridgeUUID: m.bridgeUUID, Name: "lsp", Type: "internal", ExternalIDs: ext}})
	waitFor(t, "the replug", 5*time.Second, func() bool { i, ok := ifaceOf(t, m, "lsp"); return ok && i.UUID != it.UUID && i.PortUUID != "" })
	it, _ = ifaceOf(t, m, "lsp")
	if n := m.ovs.Cache().Table(vswitch.InterfaceTable).Len(); n != 1 {
		t.Fatalf("%d interfaces after the replug, want 1", n)
	}

	commitActions(t, m, plan.Action{Op: plan.OpUnplug, LogicalPort: "lsp", Remove: []plan.Iface{it}})
	waitFor(t, "the unplug", 5*time.Second, func() bool { _, ok := ifaceOf(t, m, "lsp"); return !ok })
	br := m.ovs.Cache().Table(vswitch.BridgeTable).Row(m.bridgeUUID).(*vswitch.Bridge)
	if len(br.Ports) != 0 || m.ovs.Cache().Table(vswitch.PortTable).Len() != 0 {
		t.Errorf("after the unplug: bridge ports %v, %d Port rows", br.Ports, m.ovs.Cache().Table(vswitch.PortTable).Len())
	}

	if _, err := actionOps(plan.Action{Remove: []plan.Iface{{Name: "loose", UUID: it.UUID}}}, 0, ovsops.BridgePorts{}); err == nil {
		t.Error("removing an interface that is in no bridge built operations")
	}
}
