package sidecar

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
)

// TestOneSBUpdateIsOneTransaction: a 1000-binding SB update, and its
// removal, are each one OVS transaction. Every transaction of the engine
// mutates Bridge.ports once, so the bridge's updates count them.
func TestOneSBUpdateIsOneTransaction(t *testing.T) {
	m := newMemStack(t)
	m.startEngine(t)
	var txns atomic.Int64
	m.ovs.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		UpdateFunc: func(table string, _, _ model.Model) {
			if table == vswitch.BridgeTable {
				txns.Add(1)
			}
		},
	})
	ports := names("lsp", 1000)
	m.addBindings(t, ports, nil)
	waitFor(t, "1000 plugged", 60*time.Second, func() bool { return len(m.plugged()) == len(ports) })
	waitFor(t, "the bridge update", 10*time.Second, func() bool { return txns.Load() > 0 })
	if n := txns.Load(); n != 1 {
		t.Errorf("one SB update of 1000 bindings took %d OVS transactions, want 1", n)
	}
	txns.Store(0)
	m.deleteBindings(t, ports)
	waitFor(t, "all unplugged", 60*time.Second, func() bool { return len(m.plugged()) == 0 })
	waitFor(t, "the bridge update", 10*time.Second, func() bool { return txns.Load() > 0 })
	if n := txns.Load(); n != 1 {
		t.Errorf("removing 1000 bindings in one SB update took %d OVS transactions, want 1", n)
	}
}

// ovsFence returns once every OVS change made before it has reached the
// handlers of the test client's cache: it writes a key of its own and
// waits for a handler, registered after the others, to see it (handlers
// see events in order).
func ovsFence(t testing.TB, m *memStack) {
	t.Helper()
	seen := make(chan struct{})
	var once sync.Once
	token := fmt.Sprint(time.Now().UnixNano())
	m.ovs.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		UpdateFunc: func(table string, _, cur model.Model) {
			if r, ok := cur.(*vswitch.OpenvSwitch); ok && r.ExternalIDs["test-fence"] == token {
				once.Do(func() { close(seen) })
			}
		},
	})
	var root string
	for uuid := range m.ovs.Cache().Table(vswitch.OpenvSwitchTable).RowsShallow() {
		root = uuid
	}
	row := &vswitch.OpenvSwitch{UUID: root}
	memdb.Commit(t, m.ovs, must[[]ovsdb.Operation](t)(m.ovs.Where(row).Mutate(row,
		model.Mutation{Field: &row.ExternalIDs, Mutator: ovsdb.MutateOperationDelete, Value: []string{"test-fence"}},
		model.Mutation{Field: &row.ExternalIDs, Mutator: ovsdb.MutateOperationInsert, Value: map[string]string{"test-fence": token}}))...)
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the OVS fence never reached the test client")
	}
}
