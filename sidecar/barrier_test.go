package sidecar

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
)

// TestUpdateBarrierSeesWholeUpdate: once the first row of a 1000-row
// update reaches the handler, a barrier returns only after all 1000 have.
func TestUpdateBarrierSeesWholeUpdate(t *testing.T) {
	m := newMemStack(t)
	cl := barrierTestClient(t, m)
	bar := newUpdateBarrier(sb.SSLTable)
	var rows, others atomic.Int64
	first := make(chan struct{}, 1)
	cl.Cache().AddEventHandler(bar.wrap(&cache.EventHandlerFuncs{
		AddFunc: func(table string, _ model.Model) {
			if table != sb.PortBindingTable {
				others.Add(1)
				return
			}
			if rows.Add(1) == 1 {
				first <- struct{}{}
			}
			// A slow handler (50 ms for the update) makes the race the
			// barrier closes certain to show without it.
			for start := time.Now(); time.Since(start) < 50*time.Microsecond; {
				runtime.Gosched()
			}
		},
		DeleteFunc: func(string, model.Model) { others.Add(1) },
	}))
	pb := &sb.PortBinding{}
	if _, err := cl.Monitor(context.Background(), cl.NewMonitor(client.WithTable(pb, &pb.LogicalPort))); err != nil {
		t.Fatal(err)
	}
	if !bar.wait(cl.Cache()) {
		t.Fatal("barrier on an idle cache timed out")
	}

	const n = 1000
	m.addBindings(t, names("lsp", n), nil)
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		t.Fatal("no binding event")
	}
	if !bar.wait(cl.Cache()) {
		t.Fatal("barrier timed out")
	}
	if got := rows.Load(); got != n {
		t.Fatalf("after the barrier the handler had seen %d of the update's %d rows", got, n)
	}
	if others.Load() != 0 {
		t.Errorf("the handler saw %d marker events", others.Load())
	}
	if l := cl.Cache().Table(sb.SSLTable).Len(); l != 0 {
		t.Errorf("%d marker rows left in the cache", l)
	}
}

// TestUpdateBarrierDuringFullDumpReconnect: barriers run without pause
// while the cache is purged and refilled, as libovsdb does on a reconnect
// that cannot resume the monitor (a restarted server, no history): it
// calls TableCache.Purge, then loads the full dump with Populate2. A
// barrier that touches the cache behind the back of its lock is then a
// concurrent map read and write: -race reports it (without -race, Go may
// abort). The test purges itself rather than through libovsdb's
// reconnect, because a reconnected libovsdb v0.8 client that is
// disconnected again trips a race inside libovsdb (between its old and
// new disconnect handlers), which would make this test fail at random.
func TestUpdateBarrierDuringFullDumpReconnect(t *testing.T) {
	m := newMemStack(t)
	m.addBindings(t, names("lsp", 50), nil)
	cl := barrierTestClient(t, m)
	bar := newUpdateBarrier(sb.SSLTable)
	cl.Cache().AddEventHandler(bar.wrap(&cache.EventHandlerFuncs{}))
	pb := &sb.PortBinding{}
	if _, err := cl.Monitor(context.Background(), cl.NewMonitor(client.WithTable(pb, &pb.LogicalPort))); err != nil {
		t.Fatal(err)
	}
	tc := cl.Cache()
	// The full dump a restarted server would send.
	dump := ovsdb.TableUpdates2{sb.PortBindingTable: {}}
	for uuid, r := range tc.Table(sb.PortBindingTable).Rows() {
		dump[sb.PortBindingTable][uuid] = &ovsdb.RowUpdate2{Initial: &ovsdb.Row{"logical_port": r.(*sb.PortBinding).LogicalPort}}
	}

	stop := make(chan struct{})
	var passes atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			bar.wait(tc)
			passes.Add(1)
		}
	}()
	dm := tc.DatabaseModel()
	for range 100 {
		tc.Purge(dm)
		if err := tc.Populate2(dump); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	<-done
	if passes.Load() == 0 {
		t.Fatal("no barrier ran")
	}
	if !bar.wait(tc) {
		t.Fatal("a barrier after the reloads timed out")
	}
	if n := tc.Table(sb.PortBindingTable).Len(); n != 50 {
		t.Errorf("the cache holds %d bindings, want the dump's 50", n)
	}
	if n := tc.Table(sb.SSLTable).Len(); n != 0 {
		t.Errorf("%d marker rows left in the cache", n)
	}
}

// barrierTestClient connects to m's Southbound with the tables a barrier
// test reads: bindings, and SSL for the markers.
func barrierTestClient(t *testing.T, m *memStack) client.Client {
	t.Helper()
	cm, err := model.NewClientDBModel("OVN_Southbound", map[string]model.Model{
		sb.PortBindingTable: &sb.PortBinding{},
		sb.SSLTable:         &sb.SSL{},
	})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.NewOVSDBClient(cm, client.WithEndpoint("unix:"+m.sbSock))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
