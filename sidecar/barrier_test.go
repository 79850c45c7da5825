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

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
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
	bar := newUpdateBarrier(sb.SSLTable, func(uuid string) model.Model { return &sb.SSL{UUID: uuid} })
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
