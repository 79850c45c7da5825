package memdb

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/rpc2"
	"github.com/cenkalti/rpc2/jsonrpc"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/ovn-kubernetes/libovsdb/ovsdb/serverdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
)

// ops fails the test on an error building operations.
func ops(t *testing.T) func([]ovsdb.Operation, error) []ovsdb.Operation {
	return func(o []ovsdb.Operation, err error) []ovsdb.Operation {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
}

// sbFixture serves SB with two Chassis rows and a Datapath_Binding, and
// returns a client monitoring everything, and the rows' UUIDs.
func sbFixture(t *testing.T) (sock string, w client.Client, chA, chB, dp string) {
	sock = filepath.Join(t.TempDir(), "sb.sock")
	Serve(t, "OVN_Southbound", sb.FullDatabaseModel, sb.Schema(), sock)
	w = Dial(t, sb.FullDatabaseModel, sock)
	res := Commit(t, w, slices.Concat(
		ops(t)(w.Create(&sb.Chassis{UUID: "a", Name: "a"}, &sb.Chassis{UUID: "b", Name: "b"})),
		ops(t)(w.Create(&sb.DatapathBinding{UUID: "dp", TunnelKey: 1})))...)
	return sock, w, res[0].UUID.GoUUID, res[1].UUID.GoUUID, res[2].UUID.GoUUID
}

// TestConditionalMonitor: a libovsdb client monitoring the Port_Bindings
// of one chassis holds those and no others, through the initial dump,
// inserts, bindings moved to and away from the chassis, modifications
// and deletes; with monitor_cond_since (libovsdb's default) and
// monitor_cond.
func TestConditionalMonitor(t *testing.T) {
	for _, method := range []string{ovsdb.ConditionalMonitorSinceRPC, ovsdb.ConditionalMonitorRPC} {
		t.Run(method, func(t *testing.T) { testConditionalMonitor(t, method) })
	}
}

func testConditionalMonitor(t *testing.T, method string) {
	sock, w, chA, chB, dp := sbFixture(t)
	binding := func(name string, ch *string, key int) []ovsdb.Operation {
		return ops(t)(w.Create(&sb.PortBinding{LogicalPort: name, RequestedChassis: ch, Datapath: dp,
			TunnelKey: key, Options: map[string]string{"n": name}}))
	}
	where := func(name string) client.ConditionalAPI {
		return w.WhereCache(func(x *sb.PortBinding) bool { return x.LogicalPort == name })
	}
	move := func(name string, ch *string) []ovsdb.Operation {
		p := &sb.PortBinding{RequestedChassis: ch}
		return ops(t)(where(name).Update(p, &p.RequestedChassis))
	}
	change := func(name string) []ovsdb.Operation {
		p := &sb.PortBinding{Options: map[string]string{"n": "changed"}}
		return ops(t)(where(name).Update(p, &p.Options))
	}
	Commit(t, w, slices.Concat(binding("a1", &chA, 1), binding("b1", &chB, 2), binding("n1", nil, 3))...)

	cm, err := sb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.NewOVSDBClient(cm, client.WithEndpoint("unix:"+sock))
	if err == nil {
		err = cl.Connect(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	var mu sync.Mutex
	var events []string
	record := func(what string, m model.Model) {
		mu.Lock()
		events = append(events, what+" "+m.(*sb.PortBinding).LogicalPort)
		mu.Unlock()
	}
	cl.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(_ string, m model.Model) { record("add", m) },
		UpdateFunc: func(_ string, _, m model.Model) { record("update", m) },
		DeleteFunc: func(_ string, m model.Model) { record("delete", m) },
	})
	pb := &sb.PortBinding{}
	mon := cl.NewMonitor(client.WithConditionalTable(pb,
		[]model.Condition{{Field: &pb.RequestedChassis, Function: ovsdb.ConditionEqual, Value: &chA}},
		&pb.LogicalPort, &pb.RequestedChassis, &pb.Options, &pb.TunnelKey))
	mon.Method = method
	if _, err := cl.Monitor(context.Background(), mon); err != nil {
		t.Fatal(err)
	}
	seen := func() []string {
		var out []string
		for _, r := range cl.Cache().Table(sb.PortBindingTable).RowsShallow() {
			out = append(out, r.(*sb.PortBinding).LogicalPort)
		}
		slices.Sort(out)
		return out
	}
	if got := seen(); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("initial dump: %v, want [a1]", got)
	}
	// Each step's wanted state is seen only after the server sent every
	// earlier update on the connection, so a row that should never show
	// would have shown by then.
	await := func(step string, want ...string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !slices.Equal(seen(), want); time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the monitor holds %v, want %v", step, seen(), want)
			}
		}
		for _, r := range cl.Cache().Table(sb.PortBindingTable).RowsShallow() {
			if p := r.(*sb.PortBinding); p.RequestedChassis == nil || *p.RequestedChassis != chA {
				t.Errorf("%s: %s came with requested_chassis %v, want %s", step, p.LogicalPort, p.RequestedChassis, chA)
			}
		}
	}

	Commit(t, w, binding("b2", &chB, 4)...)
	Commit(t, w, binding("a2", &chA, 5)...)
	await("inserts", "a1", "a2")

	// b1 moves to chassis a, a1 away from it, in one transaction.
	Commit(t, w, slices.Concat(
		move("b1", &chA), move("a1", &chB))...)
	await("moves", "a2", "b1")
	got := cl.Cache().Table(sb.PortBindingTable).RowsShallow()
	for _, r := range got {
		if p := r.(*sb.PortBinding); p.LogicalPort == "b1" &&
			(p.TunnelKey != 2 || p.Options["n"] != "b1" || p.RequestedChassis == nil || *p.RequestedChassis != chA) {
			t.Errorf("b1 came in incomplete: %+v", p)
		}
	}

	// Foreign and unbound bindings change; then a2 does.
	Commit(t, w, slices.Concat(
		change("n1"), change("a1"))...)
	Commit(t, w, change("a2")...)
	a2Changed := func() bool {
		for _, r := range cl.Cache().Table(sb.PortBindingTable).RowsShallow() {
			if p := r.(*sb.PortBinding); p.LogicalPort == "a2" && p.Options["n"] == "changed" {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(5 * time.Second); !a2Changed(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a2's change never reached the monitor")
		}
	}

	Commit(t, w, ops(t)(w.WhereCache(func(x *sb.PortBinding) bool { return x.LogicalPort != "b2" }).Delete())...)
	Commit(t, w, binding("a3", &chA, 6)...)
	await("deletes", "a3")

	// libovsdb hands the cache's events over from another goroutine.
	want := []string{"add a1", "add a2", "add a3", "add b1", "delete a1", "delete a2", "delete b1", "update a2"}
	recorded := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Sorted(slices.Values(events))
	}
	for deadline := time.Now().Add(5 * time.Second); len(recorded()) < len(want); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			break
		}
	}
	if got := recorded(); !slices.Equal(got, want) {
		t.Errorf("cache events %v, want %v", got, want)
	}
}

// wireUpdate is one update notification as sent on the wire.
type wireUpdate struct {
	method string
	params []json.RawMessage
}

// rawClient connects a bare JSON-RPC client that records notifications.
func rawClient(t *testing.T, sock string) (*rpc2.Client, chan wireUpdate) {
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	rc := rpc2.NewClientWithCodec(jsonrpc.NewJSONCodec(nc))
	rc.SetBlocking(true)
	got := make(chan wireUpdate, 100)
	for _, method := range []string{"update", "update2", "update3"} {
		rc.Handle(method, func(_ *rpc2.Client, p []json.RawMessage, _ *[]any) error {
			got <- wireUpdate{method, p}
			return nil
		})
	}
	go rc.Run()
	t.Cleanup(func() { _ = rc.Close() })
	return rc, got
}

func next(t *testing.T, got chan wireUpdate) wireUpdate {
	t.Helper()
	select {
	case u := <-got:
		return u
	case <-time.After(5 * time.Second):
		t.Fatal("no update notification")
	}
	return wireUpdate{}
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return v
}

// TestMonitorWire checks what goes on the wire: constant conditions, the
// monitored columns only, nothing for a change to other columns or
// rows, update3 with the transaction's id for monitor_cond_since and
// update2 for monitor_cond, a row leaving the condition as a delete, and
// a bad condition refused.
func TestMonitorWire(t *testing.T) {
	sock, w, chA, _, dp := sbFixture(t)
	rc, got := rawClient(t, sock)

	var since ovsdb.MonitorCondSinceReply
	err := rc.Call("monitor_cond_since", []any{"OVN_Southbound", "m1", map[string]any{
		"Chassis":          map[string]any{"columns": []string{"name"}, "where": []any{false}},
		"Datapath_Binding": map[string]any{"columns": []string{"tunnel_key"}, "where": []any{true}},
	}, "00000000-0000-0000-0000-000000000000"}, &since)
	if err != nil {
		t.Fatal(err)
	}
	wantDump := ovsdb.TableUpdates2{"Datapath_Binding": {dp: {Initial: &ovsdb.Row{"tunnel_key": float64(1)}}}}
	if since.Found || !reflect.DeepEqual(since.Updates, wantDump) {
		t.Errorf("monitor_cond_since reply: found %v, dump %v; want no history and %v", since.Found, since.Updates, wantDump)
	}
	var dump ovsdb.TableUpdates2
	err = rc.Call("monitor_cond", []any{"OVN_Southbound", "m2", map[string]any{
		"Port_Binding": map[string]any{"columns": []string{"logical_port"},
			"where": []any{[]any{"requested_chassis", "==", []any{"uuid", chA}}}},
	}}, &dump)
	if err != nil || len(dump) != 0 {
		t.Fatalf("monitor_cond: %v, dump %v; want an empty dump", err, dump)
	}
	err = rc.Call("monitor_cond", []any{"OVN_Southbound", "m3", map[string]any{
		"Port_Binding": map[string]any{"where": []any{[]any{"requested_chassis", "includes", "not-a-uuid"}}},
	}}, &dump)
	if err == nil || !strings.Contains(err.Error(), "requested_chassis") {
		t.Errorf("a bad condition: error %v", err)
	}

	dpOf := func(key int, ext map[string]string) []ovsdb.Operation {
		d := &sb.DatapathBinding{UUID: dp, TunnelKey: key, ExternalIDs: ext}
		return ops(t)(w.Where(d).Update(d, &d.TunnelKey, &d.ExternalIDs))
	}
	// Neither the Chassis change ([false]) nor the Datapath_Binding change
	// to a column m1 does not monitor may send anything: the first
	// notification must be the tunnel_key change.
	ch := &sb.Chassis{UUID: chA, Hostname: "h"}
	Commit(t, w, ops(t)(w.Where(ch).Update(ch, &ch.Hostname))...)
	Commit(t, w, dpOf(1, map[string]string{"x": "y"})...)
	Commit(t, w, dpOf(2, map[string]string{"x": "y"})...)
	u := next(t, got)
	if u.method != "update3" || len(u.params) != 3 || decode[string](t, u.params[0]) != "m1" {
		t.Fatalf("got %s %s, want update3 for m1", u.method, u.params)
	}
	if txn := decode[string](t, u.params[1]); len(txn) != 36 || txn == since.LastTransactionID {
		t.Errorf("update3 names transaction %q; want a new transaction's UUID", txn)
	}
	if tu := decode[ovsdb.TableUpdates2](t, u.params[2]); !reflect.DeepEqual(tu,
		ovsdb.TableUpdates2{"Datapath_Binding": {dp: {Modify: &ovsdb.Row{"tunnel_key": float64(2)}}}}) {
		t.Errorf("update3 carries %s; want only the tunnel_key change", u.params[2])
	}

	// A binding for chassis a appears to m2 with its monitored column,
	// then leaves the condition: a delete.
	pb := &sb.PortBinding{UUID: "p", LogicalPort: "p1", RequestedChassis: &chA, Datapath: dp, TunnelKey: 1}
	res := Commit(t, w, ops(t)(w.Create(pb))...)
	p := res[0].UUID.GoUUID
	u = next(t, got)
	if u.method != "update2" || decode[string](t, u.params[0]) != "m2" ||
		!reflect.DeepEqual(decode[ovsdb.TableUpdates2](t, u.params[1]),
			ovsdb.TableUpdates2{"Port_Binding": {p: {Insert: &ovsdb.Row{"logical_port": "p1"}}}}) {
		t.Fatalf("insert: got %s %s", u.method, u.params)
	}
	pb = &sb.PortBinding{UUID: p}
	Commit(t, w, ops(t)(w.Where(pb).Update(pb, &pb.RequestedChassis))...)
	u = next(t, got)
	tu := decode[ovsdb.TableUpdates2](t, u.params[1])
	if r := tu["Port_Binding"][p]; u.method != "update2" || len(tu) != 1 || len(tu["Port_Binding"]) != 1 ||
		r == nil || r.Insert != nil || r.Modify != nil || r.Initial != nil {
		t.Fatalf("leaving the condition: got %s %s, want a delete", u.method, u.params)
	}
	select {
	case u := <-got:
		t.Errorf("unexpected %s %s", u.method, u.params)
	default:
	}
}

// TestMonitorAsNotification: a monitor request sent without an id gets no
// reply, and its updates must not wait for one.
func TestMonitorAsNotification(t *testing.T) {
	sock, w, _, _, dp := sbFixture(t)
	rc, got := rawClient(t, sock)
	if err := rc.Notify("monitor_cond", []any{"OVN_Southbound", "n", map[string]any{
		"Datapath_Binding": map[string]any{"columns": []string{"tunnel_key"}},
	}}); err != nil {
		t.Fatal(err)
	}
	// The monitor exists once the server has read the request; each
	// commit after that must reach it, though nothing is replied to rc.
	for key, deadline := 2, time.Now().Add(5*time.Second); ; key++ {
		d := &sb.DatapathBinding{UUID: dp, TunnelKey: key}
		Commit(t, w, ops(t)(w.Where(d).Update(d, &d.TunnelKey))...)
		select {
		case u := <-got:
			if u.method != "update2" || decode[string](t, u.params[0]) != "n" {
				t.Errorf("got %s %s, want update2 for n", u.method, u.params)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no update for a monitor requested as a notification")
		}
	}
}

// TestServerDB: _Server describes the database as a connected cluster
// leader with its ids and schema, and its raft index follows the
// transactions, to a monitor too.
func TestServerDB(t *testing.T) {
	sock, w, chA, _, _ := sbFixture(t)
	sm, err := serverdb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.NewOVSDBClient(sm, client.WithEndpoint("unix:"+sock))
	if err == nil {
		err = cl.Connect(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	if _, err := cl.MonitorAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	ours := func() *serverdb.Database {
		var dbs []serverdb.Database
		if err := cl.List(context.Background(), &dbs); err != nil {
			t.Fatal(err)
		}
		for _, d := range dbs {
			if d.Name == "OVN_Southbound" {
				return &d
			}
		}
		t.Fatalf("no OVN_Southbound row in %+v", dbs)
		return nil
	}
	d := ours()
	if d.Model != serverdb.DatabaseModelClustered || !d.Connected || !d.Leader || d.Cid == nil || d.Sid == nil || d.Index == nil || d.Schema == nil {
		t.Fatalf("_Server row %+v", d)
	}
	var schema ovsdb.DatabaseSchema
	if err := json.Unmarshal([]byte(*d.Schema), &schema); err != nil || schema.Name != "OVN_Southbound" {
		t.Errorf("_Server schema column: %v, name %q", err, schema.Name)
	}
	before := *d.Index
	ch := &sb.Chassis{UUID: chA, Hostname: "moved"}
	Commit(t, w, ops(t)(w.Where(ch).Update(ch, &ch.Hostname))...)
	deadline := time.Now().Add(5 * time.Second)
	for *ours().Index != before+1 {
		if time.Now().After(deadline) {
			t.Fatalf("raft index %d after a transaction, want %d", *ours().Index, before+1)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := cl.Transact(context.Background(), ovsdb.Operation{Op: ovsdb.OperationDelete, Table: serverdb.DatabaseTable,
		Where: []ovsdb.Condition{ovsdb.NewCondition("name", ovsdb.ConditionEqual, "OVN_Southbound")}}); err == nil {
		if d := ours(); d == nil {
			t.Error("a client deleted a _Server row")
		}
	}
}

// TestMonitorCondSinceResumes: a monitor_cond_since naming a transaction
// in the history is found and gets what changed since, for its condition
// only; one naming an unknown transaction gets a full dump.
func TestMonitorCondSinceResumes(t *testing.T) {
	sock, w, chA, chB, dp := sbFixture(t)
	binding := func(name, ch string, key int) []ovsdb.Operation {
		return ops(t)(w.Create(&sb.PortBinding{LogicalPort: name, RequestedChassis: &ch, Datapath: dp, TunnelKey: key}))
	}
	Commit(t, w, binding("a1", chA, 1)...)
	req := map[string]any{"Port_Binding": map[string]any{"columns": []string{"logical_port"},
		"where": []any{[]any{"requested_chassis", "==", []any{"uuid", chA}}}}}

	rc, _ := rawClient(t, sock)
	var first ovsdb.MonitorCondSinceReply
	if err := rc.Call("monitor_cond_since", []any{"OVN_Southbound", "m", req, "00000000-0000-0000-0000-000000000000"}, &first); err != nil {
		t.Fatal(err)
	}
	if first.Found || len(first.Updates["Port_Binding"]) != 1 {
		t.Fatalf("first monitor: found %v, %d bindings; want a full dump of 1", first.Found, len(first.Updates["Port_Binding"]))
	}
	_ = rc.Close()

	// While the client is away: a binding for it, one for another chassis.
	res := Commit(t, w, binding("a2", chA, 2)...)
	Commit(t, w, binding("b1", chB, 3)...)

	rc, got := rawClient(t, sock)
	var again ovsdb.MonitorCondSinceReply
	if err := rc.Call("monitor_cond_since", []any{"OVN_Southbound", "m", req, first.LastTransactionID}, &again); err != nil {
		t.Fatal(err)
	}
	if !again.Found || again.LastTransactionID != first.LastTransactionID || len(again.Updates) != 0 {
		t.Fatalf("resumed monitor: found %v, last %s, updates %v; want found after %s and no dump", again.Found, again.LastTransactionID, again.Updates, first.LastTransactionID)
	}
	u := next(t, got)
	want := ovsdb.TableUpdates2{"Port_Binding": {res[0].UUID.GoUUID: {Insert: &ovsdb.Row{"logical_port": "a2"}}}}
	if u.method != "update3" || !reflect.DeepEqual(decode[ovsdb.TableUpdates2](t, u.params[2]), want) {
		t.Fatalf("after the resumed reply: %s %s, want update3 with a2 only", u.method, u.params)
	}
	select {
	case u := <-got:
		t.Errorf("unexpected %s %s", u.method, u.params)
	case <-time.After(100 * time.Millisecond):
	}

	rc2, _ := rawClient(t, sock)
	var unknown ovsdb.MonitorCondSinceReply
	if err := rc2.Call("monitor_cond_since", []any{"OVN_Southbound", "m", req, "6f1b3a4e-0000-4000-8000-000000000000"}, &unknown); err != nil {
		t.Fatal(err)
	}
	if unknown.Found || len(unknown.Updates["Port_Binding"]) != 2 {
		t.Errorf("unknown transaction: found %v, %d bindings; want a full dump of 2", unknown.Found, len(unknown.Updates["Port_Binding"]))
	}
}
