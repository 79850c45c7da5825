package sidecar

import (
	"maps"
	"slices"
	"sync"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// ovsIndex mirrors the local OVS database in the shape the engine looks
// things up: Interface by UUID, by iface-id and by name, the Port holding
// an Interface and the Bridge holding a Port. The cache event handler
// keeps it current row by row, so a pass reads only the rows of its dirty
// keys instead of copying every row (a large share of the CPU under churn;
// see BenchmarkIndexPlugBeside5000).
//
// Ownership: the handler (libovsdb's event goroutine) writes, the worker
// reads through a pinned ovsView and repairs at resync; mu serialises
// them. Each derived map is a function of the row maps alone (an event's
// old row is not trusted, the stored one is used), so checking the rows
// against the cache is checking the whole index.
//
// Rows are the cache's own and must not be modified. Each new connection
// starts a new generation: libovsdb purges a cache without delete events,
// so the index starts empty, is refilled by the new cache's add events,
// and events still in flight from the old cache are ignored.
type ovsIndex struct {
	mu  sync.RWMutex
	gen uint64
	t   *ovsTables
	// react is the current generation's handler callback, also called
	// with what a repair changed.
	react func(indexChange)
}

// ovsTables is one generation of the index.
type ovsTables struct {
	root     versioned[*vswitch.OpenvSwitch] // under key ""
	ifaces   versioned[*vswitch.Interface]
	byID     versioned[[]string] // iface-id → Interface UUIDs, sorted
	byName   versioned[string]   // name → Interface UUID
	ports    versioned[*vswitch.Port]
	portOf   versioned[string] // Interface UUID → Port UUID
	bridges  versioned[*vswitch.Bridge]
	bridgeOf versioned[string] // Port UUID → Bridge UUID
	scratch  map[string]struct{}
}

func newOVSTables() *ovsTables {
	return &ovsTables{
		root: newVersioned[*vswitch.OpenvSwitch](), ifaces: newVersioned[*vswitch.Interface](),
		byID: newVersioned[[]string](), byName: newVersioned[string](),
		ports: newVersioned[*vswitch.Port](), portOf: newVersioned[string](),
		bridges: newVersioned[*vswitch.Bridge](), bridgeOf: newVersioned[string](),
		scratch: map[string]struct{}{},
	}
}

// pin starts (on) or ends a pin of every map.
func (t *ovsTables) pin(on bool) {
	pinOrUnpin(on, &t.root)
	pinOrUnpin(on, &t.ifaces)
	pinOrUnpin(on, &t.byID)
	pinOrUnpin(on, &t.byName)
	pinOrUnpin(on, &t.ports)
	pinOrUnpin(on, &t.portOf)
	pinOrUnpin(on, &t.bridges)
	pinOrUnpin(on, &t.bridgeOf)
}

func pinOrUnpin[V any](on bool, m *versioned[V]) {
	if on {
		m.pin()
	} else {
		m.unpin()
	}
}

func newOVSIndex() *ovsIndex { return &ovsIndex{t: newOVSTables(), react: func(indexChange) {}} }

// indexChange is what one row event means for the work queue.
type indexChange struct {
	// ifaceIDs are the logical ports whose interfaces changed in a way
	// the plan reads.
	ifaceIDs []string
	// names are interface names that appeared, went away or changed
	// owner, for ports waiting on a conflicting name.
	names []string
	// all: a bridge appeared, vanished or was renamed.
	all bool
	// identity: the Open_vSwitch row's external_ids changed.
	identity bool
	// ifaces are interface rows, new or changed in a way the plan reads,
	// that carry an iface-id: an echo of our own write may be among them.
	ifaces []*vswitch.Interface
	// modified and deleted are ovn-plugged interfaces changed in a way
	// the plan reads, or deleted: a write that was not ours among them
	// is another plugging agent's (see foreign.go). Inserts are not
	// listed: a (re)connect's dump inserts every row.
	modified, deleted []*vswitch.Interface
}

func (c indexChange) matters() bool {
	return len(c.ifaceIDs) > 0 || len(c.names) > 0 || c.all || c.identity
}

// handler starts a new generation and returns the event handler for one
// connection's cache. react is called, on the event goroutine, with each
// change that matters.
func (x *ovsIndex) handler(react func(indexChange)) cache.EventHandler {
	x.mu.Lock()
	x.gen++
	gen := x.gen
	// A view pinned on the old generation keeps reading it: nothing
	// writes there any more.
	x.t = newOVSTables()
	x.react = react
	x.mu.Unlock()
	apply := func(table string, old, cur model.Model) {
		x.mu.Lock()
		if x.gen != gen {
			x.mu.Unlock()
			return
		}
		ch := x.t.apply(table, old, cur)
		x.mu.Unlock()
		if ch.matters() {
			react(ch)
		}
	}
	return &cache.EventHandlerFuncs{
		AddFunc:    func(table string, m model.Model) { apply(table, nil, m) },
		UpdateFunc: func(table string, old, m model.Model) { apply(table, old, m) },
		DeleteFunc: func(table string, m model.Model) { apply(table, m, nil) },
	}
}

// apply updates the index for one row event: cur is the row now, nil if
// deleted; old serves only to name the deleted row.
func (t *ovsTables) apply(table string, old, cur model.Model) indexChange {
	switch table {
	case vswitch.InterfaceTable:
		n, _ := cur.(*vswitch.Interface)
		return t.applyIface(uuidOf(old, cur), n)
	case vswitch.PortTable:
		n, _ := cur.(*vswitch.Port)
		return t.applyPort(uuidOf(old, cur), n)
	case vswitch.BridgeTable:
		n, _ := cur.(*vswitch.Bridge)
		return t.applyBridge(uuidOf(old, cur), n)
	case vswitch.OpenvSwitchTable:
		n, _ := cur.(*vswitch.OpenvSwitch)
		o, _ := t.root.get("")
		if n == nil {
			if o == nil || o.UUID != uuidOf(old, cur) {
				return indexChange{}
			}
			t.root.del("")
		} else {
			t.root.set("", n)
		}
		return indexChange{identity: o == nil || n == nil || !sameIdentity(o.ExternalIDs, n.ExternalIDs)}
	}
	return indexChange{}
}

// uuidOf names the row of an event.
func uuidOf(old, cur model.Model) string {
	m := cur
	if m == nil {
		m = old
	}
	switch r := m.(type) {
	case *vswitch.Interface:
		return r.UUID
	case *vswitch.Port:
		return r.UUID
	case *vswitch.Bridge:
		return r.UUID
	case *vswitch.OpenvSwitch:
		return r.UUID
	}
	return ""
}

// sameIdentity compares the Open_vSwitch external_ids keys the sidecar
// reads (system-id, ovn-remote, ovn-bridge); ovn-controller writes others.
func sameIdentity(a, b map[string]string) bool {
	for _, k := range []string{"system-id", "ovn-remote", "ovn-bridge"} {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

func (t *ovsTables) applyIface(uuid string, n *vswitch.Interface) indexChange {
	var ch indexChange
	o, _ := t.ifaces.get(uuid)
	if o != nil {
		if id := o.ExternalIDs[plan.ExtIfaceID]; id != "" {
			ids, _ := t.byID.get(id)
			if left := slices.DeleteFunc(slices.Clone(ids), func(u string) bool { return u == uuid }); len(left) == 0 {
				t.byID.del(id)
			} else {
				t.byID.set(id, left)
			}
		}
		if u, _ := t.byName.get(o.Name); u == uuid {
			t.byName.del(o.Name)
		}
		t.ifaces.del(uuid)
	}
	if n != nil {
		t.ifaces.set(uuid, n)
		if id := n.ExternalIDs[plan.ExtIfaceID]; id != "" {
			ids, _ := t.byID.get(id)
			if i, found := slices.BinarySearch(ids, uuid); !found {
				t.byID.set(id, slices.Insert(slices.Clip(ids), i, uuid))
			}
		}
		t.byName.set(n.Name, uuid)
	}
	if o == nil && n == nil || o != nil && n != nil && sameIfaceForPlan(o, n) {
		return ch // ovn-installed, statistics and the like: nothing the plan reads
	}
	for _, i := range []*vswitch.Interface{o, n} {
		if i != nil {
			ch.ifaceIDs = appendNonEmpty(ch.ifaceIDs, i.ExternalIDs[plan.ExtIfaceID])
			ch.names = appendNonEmpty(ch.names, i.Name)
		}
	}
	if n != nil && n.ExternalIDs[plan.ExtIfaceID] != "" {
		ch.ifaces = append(ch.ifaces, n)
	}
	switch {
	case o != nil && n != nil && isPlugged(n) && !samePluggerColumns(o, n):
		ch.modified = append(ch.modified, n)
	case o != nil && n == nil && isPlugged(o):
		ch.deleted = append(ch.deleted, o)
	}
	return ch
}

// samePluggerColumns compares what only a plugger writes; ovs-vswitchd
// writes error, ovn-controller its own external_ids keys.
func samePluggerColumns(a, b *vswitch.Interface) bool {
	return a.Name == b.Name && a.Type == b.Type &&
		a.ExternalIDs[plan.ExtIfaceID] == b.ExternalIDs[plan.ExtIfaceID] &&
		a.ExternalIDs[plan.ExtOvnPlugged] == b.ExternalIDs[plan.ExtOvnPlugged] &&
		maps.Equal(a.Options, b.Options) && sameIntPtr(a.MTURequest, b.MTURequest)
}

func isPlugged(i *vswitch.Interface) bool {
	return i.ExternalIDs[plan.ExtIfaceID] != "" && i.ExternalIDs[plan.ExtOvnPlugged] != ""
}

// sameIfaceForPlan reports whether two versions of an Interface look the
// same to the plan.
func sameIfaceForPlan(a, b *vswitch.Interface) bool {
	return a.Name == b.Name && a.Type == b.Type &&
		a.ExternalIDs[plan.ExtIfaceID] == b.ExternalIDs[plan.ExtIfaceID] &&
		a.ExternalIDs[plan.ExtOvnPlugged] == b.ExternalIDs[plan.ExtOvnPlugged] &&
		maps.Equal(a.Options, b.Options) && sameIntPtr(a.MTURequest, b.MTURequest) &&
		sameStringPtr(a.Error, b.Error)
}

func (t *ovsTables) applyPort(uuid string, n *vswitch.Port) indexChange {
	var was, is []string
	if o, _ := t.ports.get(uuid); o != nil {
		was = o.Interfaces
	}
	if n != nil {
		is = n.Interfaces
		t.ports.set(uuid, n)
	} else {
		t.ports.del(uuid)
	}
	var ch indexChange
	for _, i := range was {
		if p, _ := t.portOf.get(i); p == uuid && !slices.Contains(is, i) {
			t.portOf.del(i)
			ch.ifaceIDs = appendNonEmpty(ch.ifaceIDs, t.ifaceID(i))
		}
	}
	for _, i := range is {
		if p, _ := t.portOf.get(i); p != uuid {
			t.portOf.set(i, uuid)
			ch.ifaceIDs = appendNonEmpty(ch.ifaceIDs, t.ifaceID(i))
		}
	}
	return ch
}

func (t *ovsTables) applyBridge(uuid string, n *vswitch.Bridge) indexChange {
	var was, is []string
	o, _ := t.bridges.get(uuid)
	if o != nil {
		was = o.Ports
	}
	if n != nil {
		is = n.Ports
		t.bridges.set(uuid, n)
	} else {
		t.bridges.del(uuid)
	}
	// A bridge appearing, vanishing or renamed may be or stop being the
	// integration bridge: everything is recomputed.
	ch := indexChange{all: (o == nil) != (n == nil) || o != nil && n != nil && o.Name != n.Name}
	// Only the ports that moved matter to the rest. Bridge.ports holds
	// every port, so this is linear in them (a reused set, no quadratic
	// scan): thousands of plugged ports cost microseconds per update.
	if o != nil {
		clear(t.scratch)
		for _, p := range is {
			t.scratch[p] = struct{}{}
		}
		for _, p := range was {
			if _, still := t.scratch[p]; !still {
				if b, _ := t.bridgeOf.get(p); b == uuid {
					t.bridgeOf.del(p)
					ch.ifaceIDs = t.appendPortIfaceIDs(ch.ifaceIDs, p)
				}
			}
		}
	}
	for _, p := range is {
		if b, _ := t.bridgeOf.get(p); b != uuid {
			t.bridgeOf.set(p, uuid)
			ch.ifaceIDs = t.appendPortIfaceIDs(ch.ifaceIDs, p)
		}
	}
	return ch
}

func (t *ovsTables) ifaceID(uuid string) string {
	if i, _ := t.ifaces.get(uuid); i != nil {
		return i.ExternalIDs[plan.ExtIfaceID]
	}
	return ""
}

func (t *ovsTables) appendPortIfaceIDs(ids []string, port string) []string {
	if p, _ := t.ports.get(port); p != nil {
		for _, i := range p.Interfaces {
			// Not deduplicated: a bridge's first dump lists every port,
			// and the queue merges repeated keys anyway.
			if id := t.ifaceID(i); id != "" {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// iface builds the plan's view of one Interface as pinned.
func (t *ovsTables) iface(uuid string) (plan.Iface, bool) {
	row, _ := t.ifaces.at(uuid)
	if row == nil {
		return plan.Iface{}, false
	}
	it := plan.Iface{UUID: uuid, Name: row.Name, Type: row.Type, Options: row.Options, ExternalIDs: row.ExternalIDs, MTURequest: row.MTURequest}
	if row.Error != nil {
		it.Error = *row.Error
	}
	it.PortUUID, _ = t.portOf.at(uuid)
	if it.PortUUID != "" {
		b, _ := t.bridgeOf.at(it.PortUUID)
		if br, _ := t.bridges.at(b); br != nil {
			it.BridgeUUID, it.BridgeName = br.UUID, br.Name
		}
	}
	return it, true
}

// pin returns a view of the index as it is now, which handlers' later
// events do not change, for one pass. Release it when the pass is done;
// only one view is pinned at a time (the worker's).
func (x *ovsIndex) pin() ovsView {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.t.pin(true)
	return ovsView{x: x, t: x.t}
}

// release ends the pin; the view must not be used after it.
func (v ovsView) release() {
	if v.t == nil {
		return
	}
	v.x.mu.Lock()
	defer v.x.mu.Unlock()
	v.t.pin(false)
}

// ovsView is a pass's read access to the index. Pinned (see pin), every
// read sees the state at the pin; a zero t reads the current state (for
// tests). The read lock is taken per call, as handlers keep writing.
type ovsView struct {
	x *ovsIndex
	t *ovsTables
}

// read calls f with the view's tables under the read lock.
func (v ovsView) read(f func(t *ovsTables)) {
	v.x.mu.RLock()
	defer v.x.mu.RUnlock()
	t := v.t
	if t == nil {
		t = v.x.t
	}
	f(t)
}

// IfacesWithID returns the interfaces carrying iface-id id, by UUID.
func (v ovsView) IfacesWithID(id string) []plan.Iface {
	var out []plan.Iface
	v.read(func(t *ovsTables) {
		uuids, _ := t.byID.at(id)
		for _, u := range uuids {
			if it, ok := t.iface(u); ok {
				out = append(out, it)
			}
		}
	})
	return out
}

// Ours returns the first ovn-plugged interface for iface-id id.
func (v ovsView) Ours(id string) *plan.Iface {
	for _, it := range v.IfacesWithID(id) {
		if it.Ours() {
			return &it
		}
	}
	return nil
}

// Named returns the interface named name.
func (v ovsView) Named(name string) (it plan.Iface, ok bool) {
	v.read(func(t *ovsTables) {
		u, _ := t.byName.at(name)
		it, ok = t.iface(u)
	})
	return it, ok
}

// ByUUID returns one interface.
func (v ovsView) ByUUID(uuid string) (it plan.Iface, ok bool) {
	v.read(func(t *ovsTables) { it, ok = t.iface(uuid) })
	return it, ok
}

// PortExists reports whether a Port row exists.
func (v ovsView) PortExists(uuid string) (ok bool) {
	v.read(func(t *ovsTables) {
		p, _ := t.ports.at(uuid)
		ok = p != nil
	})
	return ok
}

// Root returns the Open_vSwitch row and the bridge named bridge, if any.
func (v ovsView) Root(bridge string) (root *vswitch.OpenvSwitch, br *vswitch.Bridge) {
	v.read(func(t *ovsTables) {
		root, _ = t.root.at("")
		t.bridges.each(func(_ string, b *vswitch.Bridge) {
			if b.Name == bridge {
				br = b
			}
		})
	})
	return root, br
}

// OursIDs calls f with the iface-id and provider of every ovn-plugged
// interface (full passes only: it reads every interface).
func (v ovsView) OursIDs(f func(id, pluggedBy string)) {
	type pair struct{ id, by string }
	var ours []pair
	v.read(func(t *ovsTables) {
		t.ifaces.each(func(_ string, row *vswitch.Interface) {
			if id, by := row.ExternalIDs[plan.ExtIfaceID], row.ExternalIDs[plan.ExtOvnPlugged]; id != "" && by != "" {
				ours = append(ours, pair{id, by})
			}
		})
	})
	// f runs without the lock: it may read the view again.
	for _, p := range ours {
		f(p.id, p.by)
	}
}

func appendNonEmpty(s []string, v string) []string {
	if v == "" || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func sameIntPtr(a, b *int) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func sameStringPtr(a, b *string) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// sbIndex holds the monitored Port_Bindings by logical port, kept by the
// SB cache handler like ovsIndex, with the same ownership: the handler
// writes, the worker reads through a pinned sbView and repairs. The
// monitor's condition keeps it to this chassis's bindings.
type sbIndex struct {
	mu  sync.RWMutex
	gen uint64
	t   *sbTables
	// react is the current generation's handler callback (see handler).
	react func(lports []string, chassis bool)
}

type sbTables struct {
	bindings versioned[*sb.PortBinding]
	// lportOf is each binding's logical port by UUID, so a renamed or
	// deleted binding takes its entry with it whatever event was lost.
	lportOf map[string]string
}

func newSBTables() *sbTables {
	return &sbTables{bindings: newVersioned[*sb.PortBinding](), lportOf: map[string]string{}}
}

func newSBIndex() *sbIndex { return &sbIndex{t: newSBTables(), react: func([]string, bool) {}} }

// handler starts a new generation; react gets the logical ports whose
// binding changed, and chassis=true when a Chassis row did.
func (x *sbIndex) handler(react func(lports []string, chassis bool)) cache.EventHandler {
	x.mu.Lock()
	x.gen++
	gen := x.gen
	x.t = newSBTables()
	x.react = react
	x.mu.Unlock()
	apply := func(table string, old, cur model.Model) {
		switch table {
		case sb.ChassisTable:
			react(nil, true)
		case sb.PortBindingTable:
			n, _ := cur.(*sb.PortBinding)
			uuid := ""
			if o, _ := old.(*sb.PortBinding); o != nil {
				uuid = o.UUID
			}
			if n != nil {
				uuid = n.UUID
			}
			x.mu.Lock()
			if x.gen != gen {
				x.mu.Unlock()
				return
			}
			lports := x.t.apply(uuid, n)
			x.mu.Unlock()
			react(lports, false)
		}
	}
	return &cache.EventHandlerFuncs{
		AddFunc:    func(table string, m model.Model) { apply(table, nil, m) },
		UpdateFunc: func(table string, old, m model.Model) { apply(table, old, m) },
		DeleteFunc: func(table string, m model.Model) { apply(table, m, nil) },
	}
}

// apply sets the binding with this UUID to n (nil: deleted) and returns
// the logical ports it touched.
func (t *sbTables) apply(uuid string, n *sb.PortBinding) []string {
	var lports []string
	if prev, ok := t.lportOf[uuid]; ok {
		// logical_port is unique in SB: a binding deleted or renamed
		// takes its entry with it.
		if n == nil || n.LogicalPort != prev {
			if pb, _ := t.bindings.get(prev); pb != nil && pb.UUID == uuid {
				t.bindings.del(prev)
			}
			delete(t.lportOf, uuid)
		}
		lports = append(lports, prev)
	}
	if n != nil {
		t.bindings.set(n.LogicalPort, n)
		t.lportOf[uuid] = n.LogicalPort
		lports = appendNonEmpty(lports, n.LogicalPort)
	}
	return lports
}

// rebuild replaces the index with the cache's bindings. libovsdb's own
// reconnect (used for a clustered SB, so the monitor can resume) purges
// the cache without delete events when the server sends a full dump:
// a binding deleted while disconnected would otherwise stay in the index.
// Call it once the handler has seen every event queued before (the
// barrier); the lock keeps an event from landing between the read and
// the swap (a later event re-applies what the read already saw).
func (x *sbIndex) rebuild(tc *cache.TableCache) {
	x.mu.Lock()
	defer x.mu.Unlock()
	t := newSBTables()
	for uuid, r := range tc.Table(sb.PortBindingTable).RowsShallow() {
		t.apply(uuid, r.(*sb.PortBinding))
	}
	x.t = t
}

// pin returns a view of the bindings as they are now, for one pass.
func (x *sbIndex) pin() sbView {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.t.bindings.pin()
	return sbView{x: x, t: x.t}
}

// sbView is a pass's read access to the SB index, like ovsView.
type sbView struct {
	x *sbIndex
	t *sbTables
}

func (v sbView) release() {
	if v.t == nil {
		return
	}
	v.x.mu.Lock()
	defer v.x.mu.Unlock()
	v.t.bindings.unpin()
}

func (v sbView) tables() *sbTables {
	if v.t != nil {
		return v.t
	}
	return v.x.t
}

func bindingOf(pb *sb.PortBinding) plan.Binding {
	b := plan.Binding{LogicalPort: pb.LogicalPort, Type: pb.Type, Options: pb.Options}
	if pb.ParentPort != nil {
		b.ParentPort = *pb.ParentPort
	}
	if pb.RequestedChassis != nil {
		b.RequestedChassis = *pb.RequestedChassis
	}
	return b
}

// Binding returns the binding of one logical port.
func (v sbView) Binding(lport string) (plan.Binding, bool) {
	v.x.mu.RLock()
	pb, _ := v.tables().bindings.at(lport)
	v.x.mu.RUnlock()
	if pb == nil {
		return plan.Binding{}, false
	}
	return bindingOf(pb), true
}

// Each calls f for every binding (full passes only).
func (v sbView) Each(f func(plan.Binding)) {
	var all []plan.Binding
	v.x.mu.RLock()
	v.tables().bindings.each(func(_ string, pb *sb.PortBinding) { all = append(all, bindingOf(pb)) })
	v.x.mu.RUnlock()
	for _, b := range all {
		f(b)
	}
}
