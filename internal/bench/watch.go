package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/nb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
)

// tracker lets a caller wait for a condition on state that a monitor
// updates. A condition is registered before the action that should make
// it true, so that the time reported is the moment the change that made
// it true was applied (in libovsdb's cache event handler), never a later
// poll.
type tracker struct {
	mu      sync.Mutex
	waiters map[*Expect]struct{}
}

// Expect is a registered condition.
type Expect struct {
	t    *tracker
	cond func() bool
	// key, if set, re-checks the condition after a change to one key
	// (an Interface or port name) only, which keeps a 1000-port
	// condition from costing O(N) on each of its N events.
	key func(string) bool
	ch  chan time.Time
}

// expect registers cond; the caller must not hold t.mu.
func (t *tracker) expect(cond func() bool, key func(string) bool) *Expect {
	e := &Expect{t: t, cond: cond, key: key, ch: make(chan time.Time, 1)}
	t.mu.Lock()
	defer t.mu.Unlock()
	if cond() {
		e.ch <- time.Now()
		return e
	}
	if t.waiters == nil {
		t.waiters = map[*Expect]struct{}{}
	}
	t.waiters[e] = struct{}{}
	return e
}

// changed re-evaluates the waiters after a change to the rows called
// keys that was applied at at; t.mu must be held.
func (t *tracker) changed(at time.Time, keys ...string) {
	for e := range t.waiters {
		done := false
		if e.key != nil {
			for _, k := range keys {
				done = e.key(k) || done
			}
		} else {
			done = e.cond()
		}
		if done {
			e.ch <- at
			delete(t.waiters, e)
		}
	}
}

// Wait returns when the condition became true, or false after timeout;
// the condition stays registered, so Wait may be called again.
func (e *Expect) Wait(timeout time.Duration) (time.Time, bool) {
	select {
	case at := <-e.ch:
		e.ch <- at
		return at, true
	default:
	}
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case at := <-e.ch:
		e.ch <- at // a later Wait sees it too
		return at, true
	case <-tm.C:
		return time.Time{}, false
	}
}

// Cancel unregisters the condition.
func (e *Expect) Cancel() {
	e.t.mu.Lock()
	defer e.t.mu.Unlock()
	delete(e.t.waiters, e)
}

// expectAll registers "pred holds for every one of keys", checked
// incrementally: a key leaves the set the first time pred holds for it.
func (t *tracker) expectAll(keys []string, pred func(string) bool) *Expect {
	left := map[string]bool{}
	for _, k := range keys {
		left[k] = true
	}
	return t.expect(func() bool {
		for k := range left {
			if pred(k) {
				delete(left, k)
			}
		}
		return len(left) == 0
	}, func(k string) bool {
		if left[k] && pred(k) {
			delete(left, k)
		}
		return len(left) == 0
	})
}

// handlerFuncs turns one function of (table, old, new) into libovsdb's
// cache event handler; old is nil for an insert, new nil for a delete.
// Events are handled on libovsdb's event goroutine, in order, right after
// the cache applied them; at is taken there.
func handlerFuncs(f func(table string, old, cur model.Model, at time.Time)) cache.EventHandler {
	return &cache.EventHandlerFuncs{
		AddFunc:    func(table string, m model.Model) { f(table, nil, m, time.Now()) },
		UpdateFunc: func(table string, old, m model.Model) { f(table, old, m, time.Now()) },
		DeleteFunc: func(table string, m model.Model) { f(table, m, nil, time.Now()) },
	}
}

// watch connects, adds the handler and starts the monitor; the initial
// contents go through the handler too.
func watch(ctx context.Context, remote string, dbModel model.ClientDBModel, h cache.EventHandler,
	monitor func(cl client.Client) *client.Monitor) (client.Client, error) {
	cl, err := connect(ctx, remote, dbModel)
	if err != nil {
		return nil, err
	}
	cl.Cache().AddEventHandler(h)
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := cl.Monitor(mctx, monitor(cl)); err != nil {
		cl.Close()
		return nil, err
	}
	return cl, nil
}

// IfaceRow is what the OVS watch keeps of one Interface.
type IfaceRow struct {
	Name    string
	MTU     int64 // 0 if unset
	IfaceID string
	Plugged string
}

// OVSWatch mirrors the local OVS database's Interface rows and counts
// every change to the columns that VIF plugging owns.
type OVSWatch struct {
	tracker
	cl     client.Client
	ifaces map[string]*IfaceRow // by row uuid
	byName map[string]*IfaceRow
	// plugWrites counts row changes in plug-owned columns: Interface
	// inserts, deletes and changes of name, type, options, mtu_request or
	// the iface-id/ovn-plugged keys; Port inserts, deletes and changes;
	// Bridge ports changes. otherWrites counts the rest we see (for
	// example ovn-controller's external_ids:ovn-installed).
	plugWrites  int64
	otherWrites int64
	// recent describes the last plug-owned changes, for diagnostics.
	recent []string
	// batches records bursts of Interface inserts and deletes, to show
	// how a bulk plug reached OVS; lastIns is the last such event.
	batches []Batch
	lastIns time.Time
	// deleted counts Interface deletions by name.
	deleted map[string]int
}

// Batch is one burst of Interface inserts and deletes: events handled
// less than batchGap apart. libovsdb hands over rows, not updates, so a
// burst stands in for one OVS update (one transaction of the plugger);
// two transactions committed within batchGap of each other merge.
type Batch struct {
	At               time.Time
	Inserted, Delete int
}

const batchGap = 2 * time.Millisecond

// Batches returns the bursts since t that inserted or deleted
// Interfaces.
func (w *OVSWatch) Batches(since time.Time) []Batch {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Batch
	for _, b := range w.batches {
		if !b.At.Before(since) {
			out = append(out, b)
		}
	}
	return out
}

func (w *OVSWatch) countBatch(at time.Time, ins, del int) {
	if n := len(w.batches); n > 0 && at.Sub(w.lastIns) < batchGap {
		w.batches[n-1].Inserted += ins
		w.batches[n-1].Delete += del
	} else {
		if len(w.batches) >= 10000 {
			w.batches = w.batches[:copy(w.batches, w.batches[5000:])]
		}
		w.batches = append(w.batches, Batch{At: at, Inserted: ins, Delete: del})
	}
	w.lastIns = at
}

const recentMax = 8

func (w *OVSWatch) note(at time.Time, format string, args ...any) {
	w.plugWrites++
	if len(w.recent) == recentMax {
		copy(w.recent, w.recent[1:])
		w.recent = w.recent[:recentMax-1]
	}
	w.recent = append(w.recent, at.Format("15:04:05.000000 ")+fmt.Sprintf(format, args...))
}

// Recent returns descriptions of the last few plug-owned changes.
func (w *OVSWatch) Recent() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.recent...)
}

func newOVSWatch() *OVSWatch {
	return &OVSWatch{ifaces: map[string]*IfaceRow{}, byName: map[string]*IfaceRow{}, deleted: map[string]int{}}
}

// WatchOVS connects to the OVS database and monitors it.
func WatchOVS(ctx context.Context, remote string) (*OVSWatch, error) {
	dbModel, err := model.NewClientDBModel("Open_vSwitch", map[string]model.Model{
		vswitch.InterfaceTable: &vswitch.Interface{},
		vswitch.PortTable:      &vswitch.Port{},
		vswitch.BridgeTable:    &vswitch.Bridge{},
	})
	if err != nil {
		return nil, err
	}
	w := newOVSWatch()
	w.cl, err = watch(ctx, remote, dbModel, handlerFuncs(w.onRow), func(cl client.Client) *client.Monitor {
		iface, port, br := &vswitch.Interface{}, &vswitch.Port{}, &vswitch.Bridge{}
		return cl.NewMonitor(
			client.WithTable(iface, &iface.Name, &iface.Type, &iface.Options, &iface.ExternalIDs, &iface.MTURequest),
			client.WithTable(port, &port.Name, &port.Interfaces),
			client.WithTable(br, &br.Name, &br.Ports))
	})
	if err != nil {
		return nil, fmt.Errorf("monitor OVS: %w", err)
	}
	return w, nil
}

// Close closes the monitor connection.
func (w *OVSWatch) Close() { w.cl.Close() }

func (w *OVSWatch) onRow(table string, old, cur model.Model, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch table {
	case vswitch.InterfaceTable:
		o, _ := old.(*vswitch.Interface)
		n, _ := cur.(*vswitch.Interface)
		w.onIface(o, n, at)
	case vswitch.PortTable:
		o, _ := old.(*vswitch.Port)
		n, _ := cur.(*vswitch.Port)
		switch {
		case o == nil:
			w.note(at, "Port %s inserted", n.Name)
		case n == nil:
			w.note(at, "Port %s deleted", o.Name)
		default:
			w.note(at, "Port %s changed: %d → %d interfaces", n.Name, len(o.Interfaces), len(n.Interfaces))
		}
	case vswitch.BridgeTable:
		o, _ := old.(*vswitch.Bridge)
		n, _ := cur.(*vswitch.Bridge)
		switch {
		case o == nil:
			w.note(at, "Bridge %s inserted", n.Name)
		case n == nil:
			w.note(at, "Bridge %s deleted", o.Name)
		case !sameSet(o.Ports, n.Ports):
			w.note(at, "Bridge %s ports changed: %d → %d", n.Name, len(o.Ports), len(n.Ports))
		}
	}
}

func (w *OVSWatch) onIface(o, n *vswitch.Interface, at time.Time) {
	if n == nil {
		if r := w.ifaces[o.UUID]; r != nil {
			delete(w.ifaces, o.UUID)
			if w.byName[r.Name] == r {
				delete(w.byName, r.Name)
			}
		}
		w.countBatch(at, 0, 1)
		w.deleted[o.Name]++
		w.note(at, "Interface %s deleted", o.Name)
		w.changed(at, o.Name)
		return
	}
	r := w.ifaces[n.UUID]
	switch {
	case r == nil:
		r = &IfaceRow{}
		w.ifaces[n.UUID] = r
		w.countBatch(at, 1, 0)
		w.note(at, "Interface %s inserted", n.Name)
	case o != nil && ifaceChangeIsPlug(o, n):
		w.note(at, "Interface %s changed: %s", n.Name, ifaceDiff(o, n))
	default:
		w.otherWrites++
	}
	oldName := r.Name
	if w.byName[r.Name] == r {
		delete(w.byName, r.Name)
	}
	r.Name = n.Name
	r.MTU = 0
	if n.MTURequest != nil {
		r.MTU = int64(*n.MTURequest)
	}
	r.IfaceID, r.Plugged = n.ExternalIDs["iface-id"], n.ExternalIDs["ovn-plugged"]
	w.byName[r.Name] = r
	if oldName != "" && oldName != r.Name {
		w.changed(at, oldName, r.Name)
	} else {
		w.changed(at, r.Name)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func mtuOf(p *int) int64 {
	if p == nil {
		return 0
	}
	return int64(*p)
}

// ifaceChangeIsPlug reports whether a modify touched a plug-owned column.
func ifaceChangeIsPlug(o, n *vswitch.Interface) bool {
	return o.Name != n.Name || o.Type != n.Type || !maps.Equal(o.Options, n.Options) ||
		mtuOf(o.MTURequest) != mtuOf(n.MTURequest) ||
		o.ExternalIDs["iface-id"] != n.ExternalIDs["iface-id"] ||
		o.ExternalIDs["ovn-plugged"] != n.ExternalIDs["ovn-plugged"]
}

// ifaceDiff describes a plug-owned change, for diagnostics.
func ifaceDiff(o, n *vswitch.Interface) string {
	var parts []string
	if o.Name != n.Name {
		parts = append(parts, fmt.Sprintf("name %q → %q", o.Name, n.Name))
	}
	if o.Type != n.Type {
		parts = append(parts, fmt.Sprintf("type %q → %q", o.Type, n.Type))
	}
	if !maps.Equal(o.Options, n.Options) {
		parts = append(parts, fmt.Sprintf("options %v → %v", o.Options, n.Options))
	}
	if a, b := mtuOf(o.MTURequest), mtuOf(n.MTURequest); a != b {
		parts = append(parts, fmt.Sprintf("mtu_request %d → %d", a, b))
	}
	for _, k := range []string{"iface-id", "ovn-plugged"} {
		if a, b := o.ExternalIDs[k], n.ExternalIDs[k]; a != b {
			parts = append(parts, fmt.Sprintf("external_ids:%s %q → %q", k, a, b))
		}
	}
	s := fmt.Sprint(parts)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// Writes returns the counts of plug-owned and other changes so far.
func (w *OVSWatch) Writes() (plug, other int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.plugWrites, w.otherWrites
}

// Deleted returns how many times an Interface called name was deleted.
func (w *OVSWatch) Deleted(name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.deleted[name]
}

// Iface returns the Interface called name.
func (w *OVSWatch) Iface(name string) (IfaceRow, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.byName[name]
	if r == nil {
		return IfaceRow{}, false
	}
	return *r, true
}

// Count returns how many of names have an Interface.
func (w *OVSWatch) Count(names []string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, name := range names {
		if w.byName[ifaceName(name)] != nil {
			n++
		}
	}
	return n
}

func ifaceNames(lports []string) []string {
	out := make([]string, len(lports))
	for i, p := range lports {
		out[i] = ifaceName(p)
	}
	return out
}

// ExpectPresent registers "every one of lports has its Interface".
func (w *OVSWatch) ExpectPresent(lports ...string) *Expect {
	return w.expectAll(ifaceNames(lports), func(n string) bool { return w.byName[n] != nil })
}

// ExpectAbsent registers "none of lports has an Interface".
func (w *OVSWatch) ExpectAbsent(lports ...string) *Expect {
	return w.expectAll(ifaceNames(lports), func(n string) bool { return w.byName[n] == nil })
}

// ExpectState registers "the Interfaces are exactly want": each key
// present with that MTU (0: none), and each of gone absent.
func (w *OVSWatch) ExpectState(want map[string]int64, gone []string) *Expect {
	return w.expect(func() bool {
		for lp, mtu := range want {
			r := w.byName[ifaceName(lp)]
			if r == nil || r.MTU != mtu || r.IfaceID != lp {
				return false
			}
		}
		for _, lp := range gone {
			if w.byName[ifaceName(lp)] != nil {
				return false
			}
		}
		return true
	}, nil)
}

// ifaceName is the dummy provider's interface name for a logical port.
func ifaceName(lport string) string {
	if len(lport) > 15 {
		return lport[:15]
	}
	return lport
}

// NB writes Logical_Switch_Ports in one transaction per call and
// monitors their "up" column.
type NB struct {
	tracker
	cl     client.Client
	up     map[string]bool   // by LSP name
	byUUID map[string]string // LSP uuid → name
	uuids  map[string]string // LSP name → uuid
	portSw map[string]string // LSP name → switch name, for ports we made
}

// WatchNB connects to the NB database and monitors the LSPs.
func WatchNB(ctx context.Context, remote string) (*NB, error) {
	dbModel, err := model.NewClientDBModel("OVN_Northbound", map[string]model.Model{
		nb.LogicalSwitchPortTable: &nb.LogicalSwitchPort{},
		nb.LogicalSwitchTable:     &nb.LogicalSwitch{},
	})
	if err != nil {
		return nil, err
	}
	n := &NB{up: map[string]bool{}, byUUID: map[string]string{}, uuids: map[string]string{}, portSw: map[string]string{}}
	n.cl, err = watch(ctx, remote, dbModel, handlerFuncs(n.onRow), func(cl client.Client) *client.Monitor {
		lsp, ls := &nb.LogicalSwitchPort{}, &nb.LogicalSwitch{}
		return cl.NewMonitor(
			client.WithTable(lsp, &lsp.Name, &lsp.Up),
			client.WithTable(ls, &ls.Name))
	})
	if err != nil {
		return nil, fmt.Errorf("monitor NB: %w", err)
	}
	return n, nil
}

// Close closes the connection.
func (n *NB) Close() { n.cl.Close() }

func (n *NB) onRow(table string, old, cur model.Model, at time.Time) {
	if table != nb.LogicalSwitchPortTable {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if cur == nil {
		o := old.(*nb.LogicalSwitchPort)
		if name, ok := n.byUUID[o.UUID]; ok {
			delete(n.up, name)
			delete(n.byUUID, o.UUID)
			if n.uuids[name] == o.UUID {
				delete(n.uuids, name)
			}
		}
		n.changed(at, o.Name)
		return
	}
	p := cur.(*nb.LogicalSwitchPort)
	n.byUUID[p.UUID] = p.Name
	n.uuids[p.Name] = p.UUID
	n.up[p.Name] = p.Up != nil && *p.Up
	n.changed(at, p.Name)
}

// ExpectUp registers "every one of lports is up".
func (n *NB) ExpectUp(lports ...string) *Expect {
	return n.expectAll(lports, func(p string) bool { return n.up[p] })
}

// PortSpec is one LSP to create on Switch, requested on Chassis with the
// dummy provider and, if MTU > 0, vif-plug-mtu-request.
type PortSpec struct {
	Name    string
	Switch  string
	Chassis string
	MTU     int
}

func (p PortSpec) options() map[string]string {
	o := map[string]string{"requested-chassis": p.Chassis, "vif-plug-type": "dummy"}
	if p.MTU > 0 {
		o["vif-plug-mtu-request"] = fmt.Sprint(p.MTU)
	}
	return o
}

// EnsureSwitches creates the logical switches that do not exist yet, in
// one transaction.
func (n *NB) EnsureSwitches(ctx context.Context, names ...string) error {
	// The cache, not the handler's mirror: Monitor has filled it.
	var have []nb.LogicalSwitch
	if err := n.cl.List(ctx, &have); err != nil {
		return err
	}
	exists := map[string]bool{}
	for _, ls := range have {
		exists[ls.Name] = true
	}
	var add []model.Model
	for _, name := range names {
		if !exists[name] {
			add = append(add, &nb.LogicalSwitch{Name: name})
		}
	}
	if len(add) == 0 {
		return nil
	}
	ops, err := n.cl.Create(add...)
	if err != nil {
		return err
	}
	_, err = transact(ctx, n.cl, ops)
	return err
}

// switchPorts is a mutation of one switch's ports, found by name.
func (n *NB) switchPorts(sw string, mutator ovsdb.Mutator, refs []string) ([]ovsdb.Operation, error) {
	ls := &nb.LogicalSwitch{}
	return n.cl.WhereAny(ls, model.Condition{Field: &ls.Name, Function: ovsdb.ConditionEqual, Value: sw}).
		Mutate(ls, model.Mutation{Field: &ls.Ports, Mutator: mutator, Value: refs})
}

// AddPorts creates the ports in one transaction and returns the time the
// commit was confirmed.
func (n *NB) AddPorts(ctx context.Context, ports []PortSpec) (time.Time, error) {
	lsps := make([]model.Model, len(ports))
	refs := map[string][]string{}
	var sws []string
	for i, p := range ports {
		named := fmt.Sprintf("p%d", i)
		lsps[i] = &nb.LogicalSwitchPort{UUID: named, Name: p.Name, Options: p.options()}
		if refs[p.Switch] == nil {
			sws = append(sws, p.Switch)
		}
		refs[p.Switch] = append(refs[p.Switch], named)
	}
	ops, err := n.cl.Create(lsps...)
	if err != nil {
		return time.Now(), err
	}
	for _, sw := range sws {
		mops, err := n.switchPorts(sw, ovsdb.MutateOperationInsert, refs[sw])
		if err != nil {
			return time.Now(), err
		}
		ops = append(ops, mops...)
	}
	res, err := n.cl.Transact(ctx, ops...)
	at := time.Now()
	if err == nil {
		_, err = ovsdb.CheckOperationResults(res, ops)
	}
	if err != nil {
		return at, err
	}
	for i, sw := range sws {
		if res[len(ports)+i].Count != 1 {
			return at, fmt.Errorf("no logical switch %s", sw)
		}
	}
	n.mu.Lock()
	for i, p := range ports {
		u := res[i].UUID.GoUUID
		n.uuids[p.Name] = u
		n.byUUID[u] = p.Name
		n.portSw[p.Name] = p.Switch
	}
	n.mu.Unlock()
	return at, nil
}

// DeletePorts removes the named ports from their switches in one
// transaction (LSPs are not root rows, so that deletes them).
func (n *NB) DeletePorts(ctx context.Context, names []string) (time.Time, error) {
	refs := map[string][]string{}
	var sws []string
	n.mu.Lock()
	for _, name := range names {
		u, ok := n.uuids[name]
		sw, ok2 := n.portSw[name]
		if !ok || !ok2 {
			n.mu.Unlock()
			return time.Now(), fmt.Errorf("delete: unknown port %s", name)
		}
		if refs[sw] == nil {
			sws = append(sws, sw)
		}
		refs[sw] = append(refs[sw], u)
		delete(n.portSw, name)
	}
	n.mu.Unlock()
	var ops []ovsdb.Operation
	for _, sw := range sws {
		mops, err := n.switchPorts(sw, ovsdb.MutateOperationDelete, refs[sw])
		if err != nil {
			return time.Now(), err
		}
		ops = append(ops, mops...)
	}
	if len(ops) == 0 {
		return time.Now(), nil
	}
	res, err := n.cl.Transact(ctx, ops...)
	at := time.Now()
	if err == nil {
		_, err = ovsdb.CheckOperationResults(res, ops)
	}
	return at, err
}

// SetMTU changes a port's vif-plug-mtu-request (0 removes it).
func (n *NB) SetMTU(ctx context.Context, name string, mtu int) (time.Time, error) {
	n.mu.Lock()
	u, ok := n.uuids[name]
	n.mu.Unlock()
	if !ok {
		return time.Now(), fmt.Errorf("set mtu: unknown port %s", name)
	}
	lsp := &nb.LogicalSwitchPort{UUID: u}
	muts := []model.Mutation{{Field: &lsp.Options, Mutator: ovsdb.MutateOperationDelete, Value: []string{"vif-plug-mtu-request"}}}
	if mtu > 0 {
		muts = append(muts, model.Mutation{Field: &lsp.Options, Mutator: ovsdb.MutateOperationInsert,
			Value: map[string]string{"vif-plug-mtu-request": fmt.Sprint(mtu)}})
	}
	ops, err := n.cl.Where(lsp).Mutate(lsp, muts...)
	if err != nil {
		return time.Now(), err
	}
	res, err := n.cl.Transact(ctx, ops...)
	at := time.Now()
	if err == nil {
		_, err = ovsdb.CheckOperationResults(res, ops)
	}
	return at, err
}

// SBWatch mirrors which Port_Bindings exist, to split a plug's latency
// into the part before the binding reaches the Southbound database
// (ovn-northd) and the part after (the plugging process).
type SBWatch struct {
	tracker
	cl      client.Client
	byUUID  map[string]string
	present map[string]bool
}

// WatchSB connects to the SB database and monitors Port_Binding names.
func WatchSB(ctx context.Context, remote string) (*SBWatch, error) {
	dbModel, err := model.NewClientDBModel("OVN_Southbound", map[string]model.Model{
		sb.PortBindingTable: &sb.PortBinding{},
	})
	if err != nil {
		return nil, err
	}
	w := &SBWatch{byUUID: map[string]string{}, present: map[string]bool{}}
	w.cl, err = watch(ctx, remote, dbModel, handlerFuncs(w.onRow), func(cl client.Client) *client.Monitor {
		pb := &sb.PortBinding{}
		return cl.NewMonitor(client.WithTable(pb, &pb.LogicalPort))
	})
	if err != nil {
		return nil, fmt.Errorf("monitor SB: %w", err)
	}
	return w, nil
}

// Close closes the monitor connection.
func (w *SBWatch) Close() { w.cl.Close() }

func (w *SBWatch) onRow(table string, old, cur model.Model, at time.Time) {
	if table != sb.PortBindingTable {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if cur == nil {
		o := old.(*sb.PortBinding)
		name := w.byUUID[o.UUID]
		delete(w.present, name)
		delete(w.byUUID, o.UUID)
		w.changed(at, name)
		return
	}
	pb := cur.(*sb.PortBinding)
	w.byUUID[pb.UUID] = pb.LogicalPort
	w.present[pb.LogicalPort] = true
	w.changed(at, pb.LogicalPort)
}

// ExpectBound registers "every one of lports has a Port_Binding".
func (w *SBWatch) ExpectBound(lports ...string) *Expect {
	return w.expectAll(lports, func(p string) bool { return w.present[p] })
}

// ExpectUnbound registers "none of lports has a Port_Binding".
func (w *SBWatch) ExpectUnbound(lports ...string) *Expect {
	return w.expectAll(lports, func(p string) bool { return !w.present[p] })
}
