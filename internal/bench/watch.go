package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// tracker lets a caller wait for a condition on state that a monitor
// updates. A condition is registered before the action that should make
// it true, so that the time reported is the arrival of the update that
// made it true, never a later poll.
type tracker struct {
	mu      sync.Mutex
	waiters map[*Expect]struct{}
}

// Expect is a registered condition.
type Expect struct {
	t    *tracker
	cond func() bool
	ch   chan time.Time
}

// expect registers cond; the caller must not hold t.mu.
func (t *tracker) expect(cond func() bool) *Expect {
	e := &Expect{t: t, cond: cond, ch: make(chan time.Time, 1)}
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

// changed re-evaluates the waiters after an update that arrived at at;
// t.mu must be held.
func (t *tracker) changed(at time.Time) {
	for e := range t.waiters {
		if e.cond() {
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
	conn   *Conn
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
	// batches records how many Interfaces each update inserted and
	// deleted, to show how a bulk plug reached OVS.
	batches []Batch
}

// Batch is one OVS update's Interface inserts and deletes.
type Batch struct {
	At               time.Time
	Inserted, Delete int
}

// Batches returns the updates since t that inserted or deleted
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

// WatchOVS connects to the OVS database and monitors it.
func WatchOVS(ctx context.Context, remote string) (*OVSWatch, error) {
	c, err := Dial(remote)
	if err != nil {
		return nil, err
	}
	w := &OVSWatch{conn: c, ifaces: map[string]*IfaceRow{}, byName: map[string]*IfaceRow{}}
	err = c.Monitor(ctx, "Open_vSwitch", "bench-ovs", map[string][]string{
		"Interface": {"name", "type", "options", "external_ids", "mtu_request"},
		"Port":      {"name", "interfaces"},
		"Bridge":    {"name", "ports"},
	}, w.update)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("monitor OVS: %w", err)
	}
	return w, nil
}

// Close closes the monitor connection.
func (w *OVSWatch) Close() { w.conn.Close() }

func (w *OVSWatch) update(tu TableUpdates, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b Batch
	for _, ru := range tu["Interface"] {
		switch {
		case ru.Old == nil:
			b.Inserted++
		case ru.New == nil:
			b.Delete++
		}
	}
	if b.Inserted+b.Delete > 0 {
		b.At = at
		if len(w.batches) >= 10000 {
			w.batches = w.batches[:copy(w.batches, w.batches[5000:])]
		}
		w.batches = append(w.batches, b)
	}
	for uuid, ru := range tu["Interface"] {
		if ru.New == nil {
			name := decodeString(ru.Old["name"])
			if r := w.ifaces[uuid]; r != nil {
				delete(w.ifaces, uuid)
				if w.byName[r.Name] == r {
					delete(w.byName, r.Name)
				}
			}
			w.note(at, "Interface %s deleted", name)
			continue
		}
		name := decodeString(ru.New["name"])
		r := w.ifaces[uuid]
		switch {
		case r == nil:
			r = &IfaceRow{}
			w.ifaces[uuid] = r
			w.note(at, "Interface %s inserted", name)
		case ifaceChangeIsPlug(ru):
			w.note(at, "Interface %s changed: old %s", name, compact(ru.Old))
		default:
			w.otherWrites++
		}
		if w.byName[r.Name] == r {
			delete(w.byName, r.Name)
		}
		r.Name = name
		r.MTU, _ = decodeInt(ru.New["mtu_request"])
		ext := decodeMap(ru.New["external_ids"])
		r.IfaceID, r.Plugged = ext["iface-id"], ext["ovn-plugged"]
		w.byName[r.Name] = r
	}
	for _, ru := range tu["Port"] {
		switch {
		case ru.Old == nil:
			w.note(at, "Port %s inserted", decodeString(ru.New["name"]))
		case ru.New == nil:
			w.note(at, "Port %s deleted", decodeString(ru.Old["name"]))
		default:
			w.note(at, "Port %s changed: old %s", decodeString(ru.New["name"]), compact(ru.Old))
		}
	}
	for _, ru := range tu["Bridge"] {
		if _, ok := ru.Old["ports"]; ok || ru.Old == nil || ru.New == nil {
			w.note(at, "Bridge %s ports changed", decodeString(ru.New["name"]))
		}
	}
	w.changed(at)
}

func compact(m map[string]json.RawMessage) string {
	b, _ := json.Marshal(m)
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// ifaceChangeIsPlug reports whether a modify touched a plug-owned column.
func ifaceChangeIsPlug(ru RowUpdate) bool {
	if ru.Old == nil {
		return true
	}
	for _, col := range []string{"name", "type", "options", "mtu_request"} {
		if _, ok := ru.Old[col]; ok {
			return true
		}
	}
	if old, ok := ru.Old["external_ids"]; ok {
		o, n := decodeMap(old), decodeMap(ru.New["external_ids"])
		return o["iface-id"] != n["iface-id"] || o["ovn-plugged"] != n["ovn-plugged"]
	}
	return false
}

// Writes returns the counts of plug-owned and other changes so far.
func (w *OVSWatch) Writes() (plug, other int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.plugWrites, w.otherWrites
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
	return w.countLocked(names)
}

func (w *OVSWatch) countLocked(names []string) int {
	n := 0
	for _, name := range names {
		if w.byName[ifaceName(name)] != nil {
			n++
		}
	}
	return n
}

// ExpectPresent registers "every one of lports has its Interface".
func (w *OVSWatch) ExpectPresent(lports ...string) *Expect {
	left := map[string]bool{}
	for _, p := range lports {
		left[ifaceName(p)] = true
	}
	return w.expect(func() bool {
		for n := range left {
			if w.byName[n] != nil {
				delete(left, n)
			}
		}
		return len(left) == 0
	})
}

// ExpectAbsent registers "none of lports has an Interface".
func (w *OVSWatch) ExpectAbsent(lports ...string) *Expect {
	left := map[string]bool{}
	for _, p := range lports {
		left[ifaceName(p)] = true
	}
	return w.expect(func() bool {
		for n := range left {
			if w.byName[n] == nil {
				delete(left, n)
			}
		}
		return len(left) == 0
	})
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
	})
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
	conn   *Conn
	up     map[string]bool   // by LSP name
	byUUID map[string]string // LSP uuid → name
	uuids  map[string]string // LSP name → uuid
	sws    map[string]string // switch name → uuid
	portSw map[string]string // LSP name → switch name, for ports we made
}

// WatchNB connects to the NB database and monitors the LSPs.
func WatchNB(ctx context.Context, remote string) (*NB, error) {
	c, err := Dial(remote)
	if err != nil {
		return nil, err
	}
	n := &NB{conn: c, up: map[string]bool{}, byUUID: map[string]string{}, uuids: map[string]string{}, sws: map[string]string{}, portSw: map[string]string{}}
	err = c.Monitor(ctx, "OVN_Northbound", "bench-nb", map[string][]string{
		"Logical_Switch_Port": {"name", "up"},
		"Logical_Switch":      {"name"},
	}, n.update)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("monitor NB: %w", err)
	}
	return n, nil
}

// Close closes the connection.
func (n *NB) Close() { n.conn.Close() }

func (n *NB) update(tu TableUpdates, at time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for uuid, ru := range tu["Logical_Switch_Port"] {
		if ru.New == nil {
			if name, ok := n.byUUID[uuid]; ok {
				delete(n.up, name)
				delete(n.byUUID, uuid)
				if n.uuids[name] == uuid {
					delete(n.uuids, name)
				}
			}
			continue
		}
		name := decodeString(ru.New["name"])
		n.byUUID[uuid] = name
		n.uuids[name] = uuid
		n.up[name] = decodeBool(ru.New["up"])
	}
	for uuid, ru := range tu["Logical_Switch"] {
		if ru.New == nil {
			for name, u := range n.sws {
				if u == uuid {
					delete(n.sws, name)
				}
			}
			continue
		}
		n.sws[decodeString(ru.New["name"])] = uuid
	}
	n.changed(at)
}

// ExpectUp registers "every one of lports is up".
func (n *NB) ExpectUp(lports ...string) *Expect {
	left := map[string]bool{}
	for _, p := range lports {
		left[p] = true
	}
	return n.expect(func() bool {
		for p := range left {
			if n.up[p] {
				delete(left, p)
			}
		}
		return len(left) == 0
	})
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
	var ops []Op
	n.mu.Lock()
	for _, name := range names {
		if _, ok := n.sws[name]; !ok {
			ops = append(ops, Op{"op": "insert", "table": "Logical_Switch", "row": map[string]any{"name": name}})
		}
	}
	n.mu.Unlock()
	if len(ops) == 0 {
		return nil
	}
	_, err := n.conn.Transact(ctx, "OVN_Northbound", ops...)
	return err
}

// AddPorts creates the ports in one transaction and returns the time the
// commit was confirmed.
func (n *NB) AddPorts(ctx context.Context, ports []PortSpec) (time.Time, error) {
	ops := make([]Op, 0, len(ports)+1)
	refs := map[string][]any{}
	var sws []string
	for i, p := range ports {
		named := fmt.Sprintf("p%d", i)
		ops = append(ops, Op{"op": "insert", "table": "Logical_Switch_Port", "uuid-name": named,
			"row": map[string]any{"name": p.Name, "options": OVSMap(p.options())}})
		if refs[p.Switch] == nil {
			sws = append(sws, p.Switch)
		}
		refs[p.Switch] = append(refs[p.Switch], NamedRef(named))
	}
	for _, sw := range sws {
		ops = append(ops, Op{"op": "mutate", "table": "Logical_Switch", "where": []any{[]any{"name", "==", sw}},
			"mutations": []any{[]any{"ports", "insert", OVSSet(refs[sw]...)}}})
	}
	res, err := n.conn.Transact(ctx, "OVN_Northbound", ops...)
	at := time.Now()
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
		u := res[i].UUIDOf()
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
	refs := map[string][]any{}
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
		refs[sw] = append(refs[sw], UUIDRef(u))
		delete(n.portSw, name)
	}
	n.mu.Unlock()
	ops := make([]Op, 0, len(sws))
	for _, sw := range sws {
		ops = append(ops, Op{"op": "mutate", "table": "Logical_Switch",
			"where":     []any{[]any{"name", "==", sw}},
			"mutations": []any{[]any{"ports", "delete", OVSSet(refs[sw]...)}}})
	}
	if len(ops) == 0 {
		return time.Now(), nil
	}
	_, err := n.conn.Transact(ctx, "OVN_Northbound", ops...)
	return time.Now(), err
}

// SetMTU changes a port's vif-plug-mtu-request (0 removes it).
func (n *NB) SetMTU(ctx context.Context, name string, mtu int) (time.Time, error) {
	n.mu.Lock()
	u, ok := n.uuids[name]
	n.mu.Unlock()
	if !ok {
		return time.Now(), fmt.Errorf("set mtu: unknown port %s", name)
	}
	muts := []any{[]any{"options", "delete", OVSSet("vif-plug-mtu-request")}}
	if mtu > 0 {
		muts = append(muts, []any{"options", "insert", OVSMap(map[string]string{"vif-plug-mtu-request": fmt.Sprint(mtu)})})
	}
	_, err := n.conn.Transact(ctx, "OVN_Northbound", Op{"op": "mutate", "table": "Logical_Switch_Port",
		"where": []any{[]any{"_uuid", "==", UUIDRef(u)}}, "mutations": muts})
	return time.Now(), err
}

// SBWatch mirrors which Port_Bindings exist, to split a plug's latency
// into the part before the binding reaches the Southbound database
// (ovn-northd) and the part after (the plugging process).
type SBWatch struct {
	tracker
	conn    *Conn
	byUUID  map[string]string
	present map[string]bool
}

// WatchSB connects to the SB database and monitors Port_Binding names.
func WatchSB(ctx context.Context, remote string) (*SBWatch, error) {
	c, err := Dial(remote)
	if err != nil {
		return nil, err
	}
	w := &SBWatch{conn: c, byUUID: map[string]string{}, present: map[string]bool{}}
	err = c.Monitor(ctx, "OVN_Southbound", "bench-sb", map[string][]string{
		"Port_Binding": {"logical_port"},
	}, w.update)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("monitor SB: %w", err)
	}
	return w, nil
}

// Close closes the monitor connection.
func (w *SBWatch) Close() { w.conn.Close() }

func (w *SBWatch) update(tu TableUpdates, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for uuid, ru := range tu["Port_Binding"] {
		if ru.New == nil {
			delete(w.present, w.byUUID[uuid])
			delete(w.byUUID, uuid)
			continue
		}
		name := decodeString(ru.New["logical_port"])
		w.byUUID[uuid] = name
		w.present[name] = true
	}
	w.changed(at)
}

// ExpectBound registers "every one of lports has a Port_Binding".
func (w *SBWatch) ExpectBound(lports ...string) *Expect {
	left := map[string]bool{}
	for _, p := range lports {
		left[p] = true
	}
	return w.expect(func() bool {
		for p := range left {
			if w.present[p] {
				delete(left, p)
			}
		}
		return len(left) == 0
	})
}

// ExpectUnbound registers "none of lports has a Port_Binding".
func (w *SBWatch) ExpectUnbound(lports ...string) *Expect {
	left := map[string]bool{}
	for _, p := range lports {
		left[p] = true
	}
	return w.expect(func() bool {
		for p := range left {
			if !w.present[p] {
				delete(left, p)
			}
		}
		return len(left) == 0
	})
}
