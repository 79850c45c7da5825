package sidecar

import (
	"maps"
	"slices"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
)

// This file owns the indexes' check against the caches. libovsdb drops a
// cache event when its event buffer is full (an update of more rows than
// the buffer holds, a slow handler), and a handler-kept index then misses
// that row for good. The periodic resync compares every indexed row with
// the cache and repairs what differs. The caches and not libovsdb's own
// client indexes are read because the lookups the plan needs (the Port
// holding an Interface, by a set column) are not indexes libovsdb can keep.
//
// The cache runs ahead of the handler, so a difference may be an event
// still on its way. A row counts as lost only if it differs both before
// and after the handler has caught up (the barrier), and the cache holds
// the same row object both times: libovsdb stores a new object for each
// change, so an unchanged pointer means no event for it was pending.

// suspect is a row where an index and its cache differed.
type suspect struct {
	table, uuid string
	// row is the cache's row when the difference was seen; nil if absent.
	row model.Model
	// gen is the index generation it was seen in.
	gen uint64
}

// ovsTablesChecked are the OVS tables the index mirrors.
var ovsTablesChecked = []string{vswitch.InterfaceTable, vswitch.PortTable, vswitch.BridgeTable, vswitch.OpenvSwitchTable}

// suspects lists the rows where the index and the cache differ.
func (x *ovsIndex) suspects(tc *cache.TableCache) []suspect {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []suspect
	for _, table := range ovsTablesChecked {
		rows := tc.Table(table).RowsShallow()
		for uuid, row := range rows {
			if !x.t.holds(table, uuid, row) {
				out = append(out, suspect{table, uuid, row, x.gen})
			}
		}
		x.t.eachUUID(table, func(uuid string) {
			if _, ok := rows[uuid]; !ok {
				out = append(out, suspect{table, uuid, nil, x.gen})
			}
		})
	}
	return out
}

// repair applies the cache's rows to the suspects that still differ and
// have not changed in the cache since; it returns how many it fixed. Call
// it once the handler has seen every event queued before (the barrier).
func (x *ovsIndex) repair(tc *cache.TableCache, sus []suspect) int {
	rows := map[string]map[string]model.Model{}
	for _, table := range ovsTablesChecked {
		rows[table] = tc.Table(table).RowsShallow()
	}
	var changes []indexChange
	fixed := 0
	x.mu.Lock()
	for _, s := range sus {
		now := rows[s.table][s.uuid]
		if s.gen != x.gen || now != s.row || x.t.holds(s.table, s.uuid, now) {
			continue // changed since, or the handler caught up
		}
		fixed++
		var old model.Model
		if now == nil {
			old = x.t.row(s.table, s.uuid)
		}
		if ch := x.t.apply(s.table, old, now); ch.matters() {
			changes = append(changes, ch)
		}
	}
	react := x.react
	x.mu.Unlock()
	for _, ch := range changes {
		react(ch)
	}
	return fixed
}

// holds reports whether the index holds row (nil: holds no row) as the
// plan would read it.
func (t *ovsTables) holds(table, uuid string, row model.Model) bool {
	have := t.row(table, uuid)
	if have == nil || row == nil {
		return have == nil && row == nil
	}
	switch r := row.(type) {
	case *vswitch.Interface:
		h := have.(*vswitch.Interface)
		return sameIfaceForPlan(h, r) && maps.Equal(h.ExternalIDs, r.ExternalIDs)
	case *vswitch.Port:
		h := have.(*vswitch.Port)
		return h.Name == r.Name && slices.Equal(h.Interfaces, r.Interfaces)
	case *vswitch.Bridge:
		h := have.(*vswitch.Bridge)
		return h.Name == r.Name && h.DatapathType == r.DatapathType && slices.Equal(h.Ports, r.Ports)
	case *vswitch.OpenvSwitch:
		h := have.(*vswitch.OpenvSwitch)
		return maps.Equal(h.ExternalIDs, r.ExternalIDs) && slices.Equal(h.Bridges, r.Bridges)
	}
	return true
}

// row returns the current indexed row, nil if none.
func (t *ovsTables) row(table, uuid string) model.Model {
	switch table {
	case vswitch.InterfaceTable:
		if r, _ := t.ifaces.get(uuid); r != nil {
			return r
		}
	case vswitch.PortTable:
		if r, _ := t.ports.get(uuid); r != nil {
			return r
		}
	case vswitch.BridgeTable:
		if r, _ := t.bridges.get(uuid); r != nil {
			return r
		}
	case vswitch.OpenvSwitchTable:
		if r, _ := t.root.get(""); r != nil && r.UUID == uuid {
			return r
		}
	}
	return nil
}

// eachUUID calls f with the UUID of every current row of one table.
func (t *ovsTables) eachUUID(table string, f func(uuid string)) {
	switch table {
	case vswitch.InterfaceTable:
		for u := range t.ifaces.cur {
			f(u)
		}
	case vswitch.PortTable:
		for u := range t.ports.cur {
			f(u)
		}
	case vswitch.BridgeTable:
		for u := range t.bridges.cur {
			f(u)
		}
	case vswitch.OpenvSwitchTable:
		if r, _ := t.root.get(""); r != nil {
			f(r.UUID)
		}
	}
}

// suspects lists the bindings where the index and the cache differ.
func (x *sbIndex) suspects(tc *cache.TableCache) []suspect {
	x.mu.RLock()
	defer x.mu.RUnlock()
	rows := tc.Table(sb.PortBindingTable).RowsShallow()
	var out []suspect
	for uuid, row := range rows {
		if !x.t.holds(uuid, row) {
			out = append(out, suspect{sb.PortBindingTable, uuid, row, x.gen})
		}
	}
	for uuid := range x.t.lportOf {
		if _, ok := rows[uuid]; !ok {
			out = append(out, suspect{sb.PortBindingTable, uuid, nil, x.gen})
		}
	}
	return out
}

// repair is ovsIndex.repair for the bindings.
func (x *sbIndex) repair(tc *cache.TableCache, sus []suspect) int {
	rows := tc.Table(sb.PortBindingTable).RowsShallow()
	var lports []string
	fixed := 0
	x.mu.Lock()
	for _, s := range sus {
		now := rows[s.uuid]
		if s.gen != x.gen || now != s.row || x.t.holds(s.uuid, now) {
			continue
		}
		fixed++
		n, _ := now.(*sb.PortBinding)
		lports = append(lports, x.t.apply(s.uuid, n)...)
	}
	react := x.react
	x.mu.Unlock()
	if len(lports) > 0 {
		react(lports, false)
	}
	return fixed
}

// holds reports whether the index holds the binding row (nil: none with
// this UUID) as the plan would read it.
func (t *sbTables) holds(uuid string, row model.Model) bool {
	lport, indexed := t.lportOf[uuid]
	if row == nil {
		return !indexed
	}
	r := row.(*sb.PortBinding)
	if !indexed || lport != r.LogicalPort {
		return false
	}
	h, _ := t.bindings.get(lport)
	return h != nil && h.UUID == uuid && h.Type == r.Type && sameStringPtr(h.ParentPort, r.ParentPort) &&
		sameStringPtr(h.RequestedChassis, r.RequestedChassis) && maps.Equal(h.Options, r.Options)
}
