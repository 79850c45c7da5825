package sidecar

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
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
