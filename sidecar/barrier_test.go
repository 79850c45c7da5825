package sidecar

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
)

// TestUpdateBarrierSeesWholeUpdate: once the first row of a 1000-row
// update reaches the handler, a barrier returns only after all 1000 have.
func TestUpdateBarrierSeesWholeUpdate(t *testing.T) {
	m := newMemStack(t)
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

// fixedBackoff retries libovsdb's reconnect every few milliseconds.
type fixedBackoff struct{}

func (fixedBackoff) NextBackOff() time.Duration { return 5 * time.Millisecond }
func (fixedBackoff) Reset()                     {}

// TestUpdateBarrierDuringFullDumpReconnect: barriers run without pause
// while libovsdb reconnects to restarted servers, which cannot resume the
// monitor, so libovsdb purges the cache and loads a full dump. A barrier
// that touches the cache behind the back of its lock is a concurrent map
// read and write there: -race reports it (without -race, Go may abort).
func TestUpdateBarrierDuringFullDumpReconnect(t *testing.T) {
	dir := t.TempDir()
	serve := func(i int) string {
		sock := filepath.Join(dir, fmt.Sprintf("sb%d.sock", i))
		memdb.Serve(t, "OVN_Southbound", sb.FullDatabaseModel, sb.Schema(), sock)
		w := memdb.Dial(t, sb.FullDatabaseModel, sock)
		var ops []ovsdb.Operation
		for j := range 50 {
			ops = append(ops, must[[]ovsdb.Operation](t)(w.Create(&sb.Chassis{Name: fmt.Sprintf("ch%d-%d", i, j)}))...)
		}
		memdb.Commit(t, w, ops...)
		return sock
	}
	pxSock := filepath.Join(dir, "px.sock")
	px := newDropProxy(t, pxSock, serve(0))
	cm, err := model.NewClientDBModel("OVN_Southbound", map[string]model.Model{
		sb.ChassisTable: &sb.Chassis{},
		sb.SSLTable:     &sb.SSL{},
	})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.NewOVSDBClient(cm, client.WithEndpoint("unix:"+pxSock), client.WithReconnect(10*time.Second, fixedBackoff{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	bar := newUpdateBarrier(sb.SSLTable)
	cl.Cache().AddEventHandler(bar.wrap(&cache.EventHandlerFuncs{}))
	if _, err := cl.Monitor(context.Background(), cl.NewMonitor(client.WithTable(&sb.Chassis{}))); err != nil {
		t.Fatal(err)
	}
	tc := cl.Cache() // kept across reconnects, as dbconn keeps it

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
	for i := 1; i <= 5; i++ {
		px.restart(serve(i))
		want := fmt.Sprintf("ch%d-0", i)
		waitFor(t, "the full dump of restarted server "+want, 20*time.Second, func() bool {
			var chs []sb.Chassis
			if cl.List(context.Background(), &chs) != nil {
				return false
			}
			return slices.ContainsFunc(chs, func(c sb.Chassis) bool { return c.Name == want })
		})
		// Connected waits for libovsdb's reconnect to finish: a drop while
		// its reconnecting goroutine is still returning trips a race
		// between libovsdb's own goroutines, which this test is not about.
		waitFor(t, "the reconnect to finish", 20*time.Second, cl.Connected)
	}
	close(stop)
	<-done
	if passes.Load() == 0 {
		t.Fatal("no barrier ran")
	}
	if !bar.wait(tc) {
		t.Fatal("a barrier after the reconnects timed out")
	}
	if n := tc.Table(sb.ChassisTable).Len(); n != 50 {
		t.Errorf("the cache holds %d Chassis rows, want the last server's 50", n)
	}
	if n := tc.Table(sb.SSLTable).Len(); n != 0 {
		t.Errorf("%d marker rows left in the cache", n)
	}
}
