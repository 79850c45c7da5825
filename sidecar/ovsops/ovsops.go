// Package ovsops builds the OVSDB operations the sidecar sends to the
// local Open_vSwitch database, as plain ovsdb.Operation values.
//
// libovsdb's model API (client.Create, Where(...).Mutate) finds every
// column by reflection and converts each value through the schema, a
// visible share of the engine's CPU in a bulk plug. The rows written here
// are few and fixed, so they are built directly, in the same wire form.
// The tests check each builder against libovsdb's model API and commit
// the result on libovsdb's in-memory server.
package ovsops

import (
	"maps"
	"slices"
	"strconv"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// Table and column names, from vswitch.ovsschema.
const (
	tableInterface = "Interface"
	tablePort      = "Port"
	tableBridge    = "Bridge"

	colUUID        = "_uuid"
	colName        = "name"
	colType        = "type"
	colOptions     = "options"
	colExternalIDs = "external_ids"
	colMTURequest  = "mtu_request"
	colInterfaces  = "interfaces"
	colPorts       = "ports"
)

// NamedUUIDs returns the named UUIDs of the n-th plug in a transaction.
// Named UUIDs must match [_a-zA-Z][_a-zA-Z0-9]*, so they are never derived
// from logical port names.
func NamedUUIDs(n int) (iface, port string) {
	s := strconv.Itoa(n)
	return "iface_" + s, "port_" + s
}

// Plug returns the Interface insert and the Port insert of the n-th plug in
// a transaction, and the Port's named UUID, which the caller inserts into
// its bridge's ports (see BridgePorts). i.BridgeUUID is not read: the
// caller collects the bridges' changes.
func Plug(n int, i plan.Create) (ops []ovsdb.Operation, portNamedUUID string) {
	ifaceName, portName := NamedUUIDs(n)
	row := ovsdb.Row{colName: i.Name}
	// Like libovsdb's model API, columns at their default are left out.
	if i.Type != "" {
		row[colType] = i.Type
	}
	if len(i.Options) > 0 {
		row[colOptions] = ovsMap(i.Options)
	}
	if len(i.ExternalIDs) > 0 {
		row[colExternalIDs] = ovsMap(i.ExternalIDs)
	}
	if i.MTURequest > 0 {
		row[colMTURequest] = ovsdb.OvsSet{GoSet: []any{i.MTURequest}}
	}
	return []ovsdb.Operation{
		{Op: ovsdb.OperationInsert, Table: tableInterface, Row: row, UUIDName: ifaceName},
		{Op: ovsdb.OperationInsert, Table: tablePort, UUIDName: portName, Row: ovsdb.Row{
			colName:       i.Name,
			colInterfaces: ovsdb.OvsSet{GoSet: []any{ovsdb.UUID{GoUUID: ifaceName}}},
		}},
	}, portName
}

// Unplug deletes a Port and its Interface explicitly, as OVN's
// ovsport_remove does, rather than relying on garbage collection. The
// caller also deletes the Port from its bridge's ports (see BridgePorts).
func Unplug(portUUID, ifaceUUID string) []ovsdb.Operation {
	return []ovsdb.Operation{
		{Op: ovsdb.OperationDelete, Table: tablePort, Where: byUUID(portUUID)},
		{Op: ovsdb.OperationDelete, Table: tableInterface, Where: byUUID(ifaceUUID)},
	}
}

// UpdateInterface returns at most two operations: an update of type and
// mtu_request, and one mutate of external_ids and options. A map insert
// mutation never overwrites an existing key, so a changed key is deleted
// first and inserted again in the same mutate. Only the keys u names are
// touched, so keys others own (ovn-installed, say) are preserved.
func UpdateInterface(u plan.Update) []ovsdb.Operation {
	var ops []ovsdb.Operation
	row := ovsdb.Row{}
	if u.Type != nil {
		row[colType] = *u.Type
	}
	if u.SetMTU {
		set := ovsdb.OvsSet{GoSet: []any{}}
		if u.MTURequest > 0 {
			set.GoSet = append(set.GoSet, u.MTURequest)
		}
		row[colMTURequest] = set
	}
	if len(row) > 0 {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: tableInterface, Row: row, Where: byUUID(u.IfaceUUID)})
	}
	var muts []ovsdb.Mutation
	if len(u.SetExtIDs) > 0 {
		muts = append(muts,
			ovsdb.Mutation{Column: colExternalIDs, Mutator: ovsdb.MutateOperationDelete, Value: stringSet(slices.Sorted(maps.Keys(u.SetExtIDs)))},
			ovsdb.Mutation{Column: colExternalIDs, Mutator: ovsdb.MutateOperationInsert, Value: ovsMap(u.SetExtIDs)})
	}
	if del := append(slices.Sorted(maps.Keys(u.SetOptions)), u.DelOptions...); len(del) > 0 {
		muts = append(muts, ovsdb.Mutation{Column: colOptions, Mutator: ovsdb.MutateOperationDelete, Value: stringSet(del)})
	}
	if len(u.SetOptions) > 0 {
		muts = append(muts, ovsdb.Mutation{Column: colOptions, Mutator: ovsdb.MutateOperationInsert, Value: ovsMap(u.SetOptions)})
	}
	if len(muts) > 0 {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationMutate, Table: tableInterface, Mutations: muts, Where: byUUID(u.IfaceUUID)})
	}
	return ops
}

// BridgePorts collects a transaction's changes to Bridge.ports, so each
// bridge gets one mutate: a mutate per port would make ovsdb-server copy
// the growing set once per port, quadratic in a burst.
type BridgePorts map[string]*portChanges

type portChanges struct{ insert, delete []string }

func (b BridgePorts) change(bridge string) *portChanges {
	c := b[bridge]
	if c == nil {
		c = &portChanges{}
		b[bridge] = c
	}
	return c
}

// Insert adds a Port (a UUID or a named UUID of this transaction) to a
// bridge.
func (b BridgePorts) Insert(bridgeUUID, port string) {
	c := b.change(bridgeUUID)
	c.insert = append(c.insert, port)
}

// Delete removes a Port from a bridge.
func (b BridgePorts) Delete(bridgeUUID, portUUID string) {
	c := b.change(bridgeUUID)
	c.delete = append(c.delete, portUUID)
}

// Ops returns one mutate per bridge, bridges in UUID order, deletions
// before insertions so a replug may reuse a name.
func (b BridgePorts) Ops() []ovsdb.Operation {
	ops := make([]ovsdb.Operation, 0, len(b))
	for _, uuid := range slices.Sorted(maps.Keys(b)) {
		c := b[uuid]
		var muts []ovsdb.Mutation
		if len(c.delete) > 0 {
			muts = append(muts, ovsdb.Mutation{Column: colPorts, Mutator: ovsdb.MutateOperationDelete, Value: uuidSet(c.delete)})
		}
		if len(c.insert) > 0 {
			muts = append(muts, ovsdb.Mutation{Column: colPorts, Mutator: ovsdb.MutateOperationInsert, Value: uuidSet(c.insert)})
		}
		if len(muts) > 0 {
			ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationMutate, Table: tableBridge, Mutations: muts, Where: byUUID(uuid)})
		}
	}
	return ops
}

func byUUID(uuid string) []ovsdb.Condition {
	return []ovsdb.Condition{{Column: colUUID, Function: ovsdb.ConditionEqual, Value: ovsdb.UUID{GoUUID: uuid}}}
}

func ovsMap(m map[string]string) ovsdb.OvsMap {
	g := make(map[any]any, len(m))
	for k, v := range m {
		g[k] = v
	}
	return ovsdb.OvsMap{GoMap: g}
}

func stringSet(s []string) ovsdb.OvsSet {
	g := make([]any, len(s))
	for i, v := range s {
		g[i] = v
	}
	return ovsdb.OvsSet{GoSet: g}
}

func uuidSet(s []string) ovsdb.OvsSet {
	g := make([]any, len(s))
	for i, v := range s {
		g[i] = ovsdb.UUID{GoUUID: v}
	}
	return ovsdb.OvsSet{GoSet: g}
}
