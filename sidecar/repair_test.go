package sidecar

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
)

// eventBuffer is libovsdb's cache event buffer (cache.bufferSize, not
// exported). An update of more rows than this, reaching a handler that
// cannot keep up, loses events.
const eventBuffer = 65536

// floodIfaces is how many rows the test's one update carries.
var floodIfaces = eventBuffer + 2000

// TestResyncRepairsIndexThatLostEvents makes libovsdb drop cache events
// the way production does (an update larger than its event buffer while
// the handler is busy) and checks that the next resync leaves the OVS
// index equal to the cache and counts what it repaired.
func TestResyncRepairsIndexThatLostEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("commits more rows than libovsdb's event buffer")
	}
	m := newMemStack(t)
	e, _ := m.startEngine(t)
	m.addBindings(t, []string{"lsp0"}, nil)
	waitFor(t, "lsp0 plugged", 20*time.Second, func() bool { return len(m.plugged()) == 1 })

	// The handler blocks on the index lock, so the cache's events pile up
	// in libovsdb's buffer until it is full and the rest are dropped.
	// The update goes straight into the engine's cache through
	// Populate2, the call libovsdb makes for a monitor update: a server
	// takes minutes to commit this many rows under -race, and the
	// connection would time out meanwhile.
	rows := floodIfaces
	tc := e.ovs.Cache()
	before := tc.Table(vswitch.InterfaceTable).Len()
	flood := ovsdb.TableUpdate2{}
	for i := range rows {
		name := fmt.Sprintf("flood%d", i)
		flood[fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)] = &ovsdb.RowUpdate2{Insert: &ovsdb.Row{"name": name}}
	}
	e.ovsIdx.mu.Lock()
	if err := tc.Populate2(ovsdb.TableUpdates2{vswitch.InterfaceTable: flood}); err != nil {
		e.ovsIdx.mu.Unlock()
		t.Fatal(err)
	}
	// (lsp0's own interface may reach this cache only now.)
	if n := tc.Table(vswitch.InterfaceTable).Len(); n < before+rows {
		e.ovsIdx.mu.Unlock()
		t.Fatalf("cache holds %d interfaces, want %d", n, before+rows)
	}
	e.ovsIdx.mu.Unlock()
	// A barrier's marker may itself be dropped: ask until one is seen.
	waitFor(t, "the handler to catch up", time.Minute, func() bool { return e.ovsBarrier.wait(tc) })
	lost := len(e.ovsIdx.suspects(tc))
	if lost == 0 {
		t.Fatal("no event was lost: the test did not overflow libovsdb's event buffer")
	}

	passes := e.passes.Load()
	e.q.AddResync()
	waitFor(t, "a resync pass", 30*time.Second, func() bool { return e.passes.Load() > passes })
	if s := e.ovsIdx.suspects(tc); len(s) != 0 {
		t.Fatalf("after the resync %d index rows still differ from the cache, first %+v", len(s), s[0])
	}
	e.ovsIdx.mu.RLock()
	indexed := e.ovsIdx.t.ifaces.len()
	e.ovsIdx.mu.RUnlock()
	if indexed != tc.Table(vswitch.InterfaceTable).Len() {
		t.Errorf("index holds %d interfaces, cache %d", indexed, tc.Table(vswitch.InterfaceTable).Len())
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(e.metrics.indexRepairs)
	if got := counterValue(t, reg, Namespace+"_index_repairs_total"); int(got) != lost {
		t.Errorf("index_repairs_total = %v, want %d (all on db=ovs)", got, lost)
	}
	if it := (ovsView{x: e.ovsIdx}).Ours("lsp0"); it == nil || it.BridgeName != "br-int" {
		t.Errorf("the plugged port lost its place in the index: %+v", it)
	}
}

func testCache(t *testing.T, dbModel model.ClientDBModel, schema ovsdb.DatabaseSchema, data cache.Data) *cache.TableCache {
	t.Helper()
	dm, errs := model.NewDatabaseModel(schema, dbModel)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	l := logr.Discard()
	tc, err := cache.NewTableCache(dm, data, &l)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// TestSBRepairCountsOnlyLostRows: a binding whose add, delete or change
// was lost is repaired and counted; one whose cache row changed between
// the check and the repair is an event on its way and left to it.
func TestSBRepairCountsOnlyLostRows(t *testing.T) {
	ch := "ch"
	keys := 0
	pb := func(uuid, lport, typ string) *sb.PortBinding {
		keys++ // (datapath, tunnel_key) is unique
		return &sb.PortBinding{UUID: uuid, LogicalPort: lport, Type: typ, RequestedChassis: &ch, Options: map[string]string{}, TunnelKey: keys}
	}
	tc := testCache(t, must[model.ClientDBModel](t)(sb.FullDatabaseModel()), sb.Schema(), cache.Data{sb.PortBindingTable: {
		"u-missed":   pb("u-missed", "missed", ""),
		"u-changed":  pb("u-changed", "changed", "virtual"),
		"u-inflight": pb("u-inflight", "inflight", ""),
		"u-same":     pb("u-same", "same", ""),
	}})
	x := newSBIndex()
	var woken []string
	h := x.handler(func(l []string, _ bool) { woken = append(woken, l...) })
	h.OnAdd(sb.PortBindingTable, pb("u-changed", "changed", ""))
	h.OnAdd(sb.PortBindingTable, pb("u-deleted", "deleted", ""))
	h.OnAdd(sb.PortBindingTable, pb("u-same", "same", ""))
	woken = nil

	sus := x.suspects(tc)
	if len(sus) != 4 {
		t.Fatalf("suspects %+v, want missed, changed, inflight and deleted", sus)
	}
	// inflight's event arrives between the check and the repair.
	if _, err := tc.Table(sb.PortBindingTable).Update("u-inflight", pb("u-inflight", "inflight", "virtual"), false); err != nil {
		t.Fatal(err)
	}
	if n := x.repair(tc, sus); n != 3 {
		t.Errorf("repaired %d rows, want 3", n)
	}
	v := sbView{x: x}
	for lport, want := range map[string]bool{"missed": true, "changed": true, "deleted": false, "same": true, "inflight": false} {
		if _, ok := v.Binding(lport); ok != want {
			t.Errorf("after repair Binding(%s) present=%v, want %v", lport, ok, want)
		}
	}
	if b, _ := v.Binding("changed"); b.Type != "virtual" {
		t.Errorf("changed binding not repaired: %+v", b)
	}
	if len(woken) != 3 {
		t.Errorf("repair woke %v, want the three repaired ports", woken)
	}
}
