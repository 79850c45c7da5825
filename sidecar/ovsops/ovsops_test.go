package ovsops

import (
	"encoding/json"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// memOVS serves an empty Open_vSwitch database on libovsdb's in-memory
// server and returns a client that monitors every table, so committed
// rows can be read back from its cache.
func memOVS(t testing.TB) client.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "db.sock")
	memdb.Serve(t, "Open_vSwitch", vswitch.FullDatabaseModel, vswitch.Schema(), sock)
	return memdb.Dial(t, vswitch.FullDatabaseModel, sock)
}

func must(t testing.TB) func([]ovsdb.Operation, error) []ovsdb.Operation {
	return func(ops []ovsdb.Operation, err error) []ovsdb.Operation {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ops
	}
}

// sameOps compares operations as ovsdb-server receives them: JSON, with
// the order inside OVSDB maps not mattering.
func sameOps(t *testing.T, what string, got, want []ovsdb.Operation) {
	t.Helper()
	norm := func(ops []ovsdb.Operation) any {
		b, err := json.Marshal(ops)
		if err != nil {
			t.Fatal(err)
		}
		var back []ovsdb.Operation
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		return back
	}
	// The model API also writes the boolean columns at their schema
	// default (false); leaving them out stores the same row.
	for _, op := range want {
		for col, v := range op.Row {
			if v == false {
				delete(op.Row, col)
			}
		}
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s: operations differ from libovsdb's model API\n got: %+v\nwant: %+v", what, g, w)
	}
}

// waitFor polls the client's cache: the monitor update follows the reply.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// newBridge adds a bridge to the root Open_vSwitch row (created on first
// use): the server garbage-collects unreferenced rows of non-root tables.
func newBridge(t *testing.T, cl client.Client, name string) string {
	t.Helper()
	ops := must(t)(cl.Create(&vswitch.Bridge{UUID: "br", Name: name}))
	root := &vswitch.OpenvSwitch{UUID: "ovs", Bridges: []string{"br"}}
	if rows := cl.Cache().Table(vswitch.OpenvSwitchTable).RowsShallow(); len(rows) == 0 {
		ops = append(ops, must(t)(cl.Create(root))...)
	} else {
		for uuid := range rows {
			root.UUID = uuid
		}
		ops = append(ops, must(t)(cl.Where(root).Mutate(root, model.Mutation{Field: &root.Bridges, Mutator: ovsdb.MutateOperationInsert, Value: []string{"br"}}))...)
	}
	uuid := memdb.Commit(t, cl, ops...)[0].UUID.GoUUID
	waitFor(t, "bridge "+name, func() bool { return cl.Cache().Table(vswitch.BridgeTable).Row(uuid) != nil })
	return uuid
}

func ifaceRow(cl client.Client, uuid string) *vswitch.Interface {
	m := cl.Cache().Table(vswitch.InterfaceTable).Row(uuid)
	if m == nil {
		return nil
	}
	return m.(*vswitch.Interface)
}

func TestNamedUUIDsAreValid(t *testing.T) {
	for _, n := range []int{0, 7, 4999} {
		i, p := NamedUUIDs(n)
		if !ovsdb.IsNamedUUID(i) || !ovsdb.IsNamedUUID(p) || i == p {
			t.Errorf("NamedUUIDs(%d) = %q, %q: not two distinct named UUIDs", n, i, p)
		}
	}
}

func TestPlugMatchesModelAPIAndCommits(t *testing.T) {
	cl := memOVS(t)
	br := newBridge(t, cl, "br-int")
	for _, tc := range []struct {
		what string
		in   plan.Create
	}{
		{"full", plan.Create{Name: "vf3", Type: "internal", Options: map[string]string{"a": "1", "b": "2"},
			ExternalIDs: map[string]string{"iface-id": "lsp-1", "ovn-plugged": "dummy"}, MTURequest: 9000}},
		{"system interface, no options, no mtu", plan.Create{Name: "pf0vf1", ExternalIDs: map[string]string{"iface-id": "lsp-2", "ovn-plugged": "representor"}}},
	} {
		t.Run(tc.what, func(t *testing.T) {
			got, portNamed := Plug(3, tc.in)
			ifaceNamed, wantPort := NamedUUIDs(3)
			if portNamed != wantPort {
				t.Errorf("port named UUID %q, want %q", portNamed, wantPort)
			}
			iface := &vswitch.Interface{UUID: ifaceNamed, Name: tc.in.Name, Type: tc.in.Type, Options: tc.in.Options, ExternalIDs: tc.in.ExternalIDs}
			if tc.in.MTURequest > 0 {
				iface.MTURequest = &tc.in.MTURequest
			}
			want := must(t)(cl.Create(iface))
			want = append(want, must(t)(cl.Create(&vswitch.Port{UUID: wantPort, Name: tc.in.Name, Interfaces: []string{ifaceNamed}}))...)
			sameOps(t, "plug", got, want)

			bp := BridgePorts{}
			bp.Insert(br, portNamed)
			res := memdb.Commit(t, cl, append(got, bp.Ops()...)...)
			ifaceUUID, portUUID := res[0].UUID.GoUUID, res[1].UUID.GoUUID
			waitFor(t, "the plugged port in the bridge", func() bool {
				m := cl.Cache().Table(vswitch.BridgeTable).Row(br)
				return m != nil && strings.Contains(strings.Join(m.(*vswitch.Bridge).Ports, ","), portUUID)
			})
			row := ifaceRow(cl, ifaceUUID)
			if row == nil || row.Name != tc.in.Name || row.Type != tc.in.Type ||
				!reflect.DeepEqual(row.ExternalIDs, tc.in.ExternalIDs) || len(row.Options) != len(tc.in.Options) {
				t.Fatalf("committed interface %+v, want %+v", row, tc.in)
			}
			if (row.MTURequest == nil) != (tc.in.MTURequest == 0) || (row.MTURequest != nil && *row.MTURequest != tc.in.MTURequest) {
				t.Errorf("mtu_request %v, want %d", row.MTURequest, tc.in.MTURequest)
			}
			port := cl.Cache().Table(vswitch.PortTable).Row(portUUID).(*vswitch.Port)
			if port.Name != tc.in.Name || !reflect.DeepEqual(port.Interfaces, []string{ifaceUUID}) || len(port.ExternalIDs) != 0 {
				t.Errorf("committed port %+v", port)
			}
		})
	}
}

func TestUnplugMatchesModelAPIAndCommits(t *testing.T) {
	cl := memOVS(t)
	br := newBridge(t, cl, "br-int")
	ops, pn := Plug(0, plan.Create{Name: "gone", ExternalIDs: map[string]string{"iface-id": "x"}})
	keepOps, kn := Plug(1, plan.Create{Name: "kept"})
	bp := BridgePorts{}
	bp.Insert(br, pn)
	bp.Insert(br, kn)
	res := memdb.Commit(t, cl, append(append(ops, keepOps...), bp.Ops()...)...)
	ifaceUUID, portUUID, keptPort := res[0].UUID.GoUUID, res[1].UUID.GoUUID, res[3].UUID.GoUUID
	waitFor(t, "both interfaces", func() bool { return cl.Cache().Table(vswitch.InterfaceTable).Len() == 2 })

	got := Unplug(portUUID, ifaceUUID)
	want := must(t)(cl.Where(&vswitch.Port{UUID: portUUID}).Delete())
	want = append(want, must(t)(cl.Where(&vswitch.Interface{UUID: ifaceUUID}).Delete())...)
	sameOps(t, "unplug", got, want)

	bp = BridgePorts{}
	bp.Delete(br, portUUID)
	memdb.Commit(t, cl, append(got, bp.Ops()...)...)
	waitFor(t, "the unplugged rows to go", func() bool {
		return ifaceRow(cl, ifaceUUID) == nil && cl.Cache().Table(vswitch.PortTable).Row(portUUID) == nil
	})
	b := cl.Cache().Table(vswitch.BridgeTable).Row(br).(*vswitch.Bridge)
	if !reflect.DeepEqual(b.Ports, []string{keptPort}) {
		t.Errorf("bridge ports %v, want only the other port %s", b.Ports, keptPort)
	}
}

func TestUpdateInterfaceMatchesModelAPIAndKeepsOthersKeys(t *testing.T) {
	cl := memOVS(t)
	br := newBridge(t, cl, "br-int")
	mtu := 1500
	ops, pn := Plug(0, plan.Create{Name: "vf0", Type: "internal",
		Options:     map[string]string{"mine": "old", "gone": "x", "theirs": "keep"},
		ExternalIDs: map[string]string{"iface-id": "lsp", "ovn-plugged": "old", "ovn-installed": "true"},
		MTURequest:  mtu})
	bp := BridgePorts{}
	bp.Insert(br, pn)
	uuid := memdb.Commit(t, cl, append(ops, bp.Ops()...)...)[0].UUID.GoUUID
	waitFor(t, "the interface", func() bool { return ifaceRow(cl, uuid) != nil })

	typ := ""
	for _, tc := range []struct {
		what  string
		u     plan.Update
		check func(*vswitch.Interface) bool
	}{
		{"type and external_ids", plan.Update{IfaceUUID: uuid, Type: &typ, SetExtIDs: map[string]string{"ovn-plugged": "dummy"}},
			func(i *vswitch.Interface) bool {
				return i.Type == "" && i.ExternalIDs["ovn-plugged"] == "dummy" && i.ExternalIDs["ovn-installed"] == "true" && i.ExternalIDs["iface-id"] == "lsp"
			}},
		{"options set and delete", plan.Update{IfaceUUID: uuid, SetOptions: map[string]string{"mine": "new", "added": "1"}, DelOptions: []string{"gone"}},
			func(i *vswitch.Interface) bool {
				return reflect.DeepEqual(i.Options, map[string]string{"mine": "new", "added": "1", "theirs": "keep"})
			}},
		{"mtu set", plan.Update{IfaceUUID: uuid, SetMTU: true, MTURequest: 9000},
			func(i *vswitch.Interface) bool { return i.MTURequest != nil && *i.MTURequest == 9000 }},
		{"mtu cleared", plan.Update{IfaceUUID: uuid, SetMTU: true},
			func(i *vswitch.Interface) bool { return i.MTURequest == nil }},
	} {
		t.Run(tc.what, func(t *testing.T) {
			got := UpdateInterface(tc.u)
			sameOps(t, tc.what, got, modelAPIUpdate(t, cl, tc.u))
			memdb.Commit(t, cl, got...)
			waitFor(t, tc.what, func() bool { return tc.check(ifaceRow(cl, uuid)) })
		})
	}
	if ops := UpdateInterface(plan.Update{IfaceUUID: uuid}); len(ops) != 0 {
		t.Errorf("an empty update gave %d operations", len(ops))
	}
}

// modelAPIUpdate is what sidecar/txn.go built through libovsdb's model API
// before this package existed.
func modelAPIUpdate(t *testing.T, cl client.Client, u plan.Update) []ovsdb.Operation {
	iface := &vswitch.Interface{UUID: u.IfaceUUID}
	where := cl.Where(iface)
	var ops []ovsdb.Operation
	var cols []any
	if u.Type != nil {
		iface.Type = *u.Type
		cols = append(cols, &iface.Type)
	}
	if u.SetMTU {
		if u.MTURequest > 0 {
			mtu := u.MTURequest
			iface.MTURequest = &mtu
		}
		cols = append(cols, &iface.MTURequest)
	}
	if len(cols) > 0 {
		ops = append(ops, must(t)(where.Update(iface, cols...))...)
	}
	var muts []model.Mutation
	if len(u.SetExtIDs) > 0 {
		muts = append(muts,
			model.Mutation{Field: &iface.ExternalIDs, Mutator: ovsdb.MutateOperationDelete, Value: slices.Sorted(maps.Keys(u.SetExtIDs))},
			model.Mutation{Field: &iface.ExternalIDs, Mutator: ovsdb.MutateOperationInsert, Value: u.SetExtIDs})
	}
	if del := append(slices.Sorted(maps.Keys(u.SetOptions)), u.DelOptions...); len(del) > 0 {
		muts = append(muts, model.Mutation{Field: &iface.Options, Mutator: ovsdb.MutateOperationDelete, Value: del})
	}
	if len(u.SetOptions) > 0 {
		muts = append(muts, model.Mutation{Field: &iface.Options, Mutator: ovsdb.MutateOperationInsert, Value: u.SetOptions})
	}
	if len(muts) > 0 {
		ops = append(ops, must(t)(where.Mutate(iface, muts...))...)
	}
	return ops
}

func TestBridgePortsOneMutatePerBridge(t *testing.T) {
	cl := memOVS(t)
	br := newBridge(t, cl, "br-int")
	other := newBridge(t, cl, "br-other")

	// Three plugs into br-int and one into br-other, in one transaction.
	var ops []ovsdb.Operation
	bp := BridgePorts{}
	for n := range 4 {
		o, pn := Plug(n, plan.Create{Name: "p" + string(rune('a'+n))})
		ops = append(ops, o...)
		if n == 3 {
			bp.Insert(other, pn)
		} else {
			bp.Insert(br, pn)
		}
	}
	bops := bp.Ops()
	if len(bops) != 2 {
		t.Fatalf("%d bridge operations for two bridges, want 2", len(bops))
	}
	res := memdb.Commit(t, cl, append(ops, bops...)...)
	waitFor(t, "four ports", func() bool { return cl.Cache().Table(vswitch.PortTable).Len() == 4 })
	ports := func(uuid string) []string {
		return cl.Cache().Table(vswitch.BridgeTable).Row(uuid).(*vswitch.Bridge).Ports
	}
	if len(ports(br)) != 3 || !reflect.DeepEqual(ports(other), []string{res[7].UUID.GoUUID}) {
		t.Fatalf("br-int ports %v, br-other ports %v", ports(br), ports(other))
	}

	// A replug on br-int: delete one port and insert another in one mutate.
	gone := res[1].UUID.GoUUID
	bp = BridgePorts{}
	o, pn := Plug(0, plan.Create{Name: "pz"})
	bp.Delete(br, gone)
	bp.Insert(br, pn)
	got := append(Unplug(gone, res[0].UUID.GoUUID), o...)
	bops = bp.Ops()
	b := &vswitch.Bridge{UUID: br}
	want := must(t)(cl.Where(b).Mutate(b,
		model.Mutation{Field: &b.Ports, Mutator: ovsdb.MutateOperationDelete, Value: []string{gone}},
		model.Mutation{Field: &b.Ports, Mutator: ovsdb.MutateOperationInsert, Value: []string{pn}}))
	sameOps(t, "bridge mutate", bops, want)
	memdb.Commit(t, cl, append(got, bops...)...)
	waitFor(t, "the replug", func() bool {
		p := ports(br)
		return len(p) == 3 && !strings.Contains(strings.Join(p, ","), gone)
	})
	if ops := (BridgePorts{}).Ops(); len(ops) != 0 {
		t.Errorf("no changes gave %d operations", len(ops))
	}
}
