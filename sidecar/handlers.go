package sidecar

import (
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
)

// The handlers run on libovsdb's event goroutine, whose channel drops
// events when full, so they only enqueue keys.

func (e *Engine) ovsHandler() cache.EventHandler {
	return &cache.EventHandlerFuncs{
		AddFunc:    func(table string, m model.Model) { e.onOVSRow(table, nil, m) },
		UpdateFunc: func(table string, old, m model.Model) { e.onOVSRow(table, old, m) },
		DeleteFunc: func(table string, m model.Model) { e.onOVSRow(table, m, nil) },
	}
}

func (e *Engine) onOVSRow(table string, old, cur model.Model) {
	switch table {
	case vswitch.InterfaceTable:
		for _, m := range []model.Model{old, cur} {
			if i, ok := m.(*vswitch.Interface); ok {
				e.q.Add(i.ExternalIDs[ExtIfaceID])
				e.mu.Lock()
				owner := e.wantedNames[i.Name]
				e.mu.Unlock()
				e.q.Add(owner)
			}
		}
	case vswitch.BridgeTable:
		// Ports moving between bridges matter only to the ports moved;
		// a bridge appearing or going away changes everything.
		if old == nil || cur == nil {
			e.q.AddAll()
			return
		}
		o, n := old.(*vswitch.Bridge), cur.(*vswitch.Bridge)
		if o.Name != n.Name {
			e.q.AddAll()
			return
		}
		e.q.AddProvider(bridgePortsChanged)
	case vswitch.OpenvSwitchTable:
		e.q.AddProvider(identityChanged)
	}
}

func (e *Engine) sbHandler() cache.EventHandler {
	return &cache.EventHandlerFuncs{
		AddFunc:    func(table string, m model.Model) { e.onSBRow(table, nil, m) },
		UpdateFunc: func(table string, old, m model.Model) { e.onSBRow(table, old, m) },
		DeleteFunc: func(table string, m model.Model) { e.onSBRow(table, m, nil) },
	}
}

func (e *Engine) onSBRow(table string, old, cur model.Model) {
	switch table {
	case sb.PortBindingTable:
		for _, m := range []model.Model{old, cur} {
			if pb, ok := m.(*sb.PortBinding); ok {
				e.q.Add(pb.LogicalPort)
			}
		}
	case sb.ChassisTable:
		e.q.AddAll()
	}
}

// Internal markers carried in the queue's provider set; they are not valid
// vif-plug-type values because they contain spaces.
const (
	bridgePortsChanged = " bridge ports"
	identityChanged    = " identity"
)
