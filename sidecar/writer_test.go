package sidecar

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	fullvs "github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/ovsops"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// newTestWriter starts an in-memory OVS database and a writer for it.
func newTestWriter(t *testing.T) *writer {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "db.sock")
	memdb.Serve(t, "Open_vSwitch", fullvs.FullDatabaseModel, fullvs.Schema(), sock)
	cm, err := vswitch.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	w := newWriter("unix:"+sock, cm)
	t.Cleanup(w.close)
	return w
}

// TestWriterCommitsAndReconnects: the writer commits on its own
// connection, and after that connection dropped it sends the next
// transaction on a new one instead of failing it.
func TestWriterCommitsAndReconnects(t *testing.T) {
	w := newTestWriter(t)
	insert := func(name string) error {
		ops, _ := ovsops.Plug(0, plan.Create{Name: name})
		res, err := w.transact(context.Background(), ops)
		if err == nil {
			_, err = ovsdb.CheckOperationResults(res, ops)
		}
		return err
	}
	if err := insert("a"); err != nil {
		t.Fatalf("first transaction: %v", err)
	}
	first := w.cl

	// The connection drops (libovsdb's in-memory server cannot drop its
	// clients, so the client end is closed instead).
	first.Close()
	if err := insert("b"); err != nil {
		t.Fatalf("transaction after the server came back: %v", err)
	}
	if w.cl == first {
		t.Error("the writer kept the dead connection")
	}
}

// TestWriterWarm: warm connects ahead of the first transaction and
// replaces a connection that died.
func TestWriterWarm(t *testing.T) {
	w := newTestWriter(t)
	w.warm(context.Background())
	first := w.cl
	if first == nil || !first.Connected() {
		t.Fatal("warm did not connect")
	}
	w.warm(context.Background())
	if w.cl != first {
		t.Error("warm replaced a live connection")
	}
	first.Close()
	w.warm(context.Background())
	if w.cl == first || w.cl == nil || !w.cl.Connected() {
		t.Error("warm kept a dead connection")
	}
}
