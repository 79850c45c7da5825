package sidecar

import (
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// The handlers run on libovsdb's event goroutine, whose channel drops
// events when full, so they only enqueue keys.

// ovsHandler starts a new generation of the OVS index and returns its
// handler: the index applies each row, and only changes the plan reads
// wake the worker.
func (e *Engine) ovsHandler() cache.EventHandler {
	return e.ovsIdx.handler(func(ch indexChange) {
		if ch.all {
			e.q.AddAll()
		}
		if ch.identity {
			e.q.AddIdentity()
		}
		ours := map[*vswitch.Interface]bool{}
		for _, row := range ch.ifaces {
			ours[row] = e.pending.sawIface(row)
		}
		for _, row := range ch.modified {
			if !ours[row] {
				e.foreign.note(row, "changed", time.Now())
			}
		}
		for _, row := range ch.deleted {
			if !e.pending.removes(row.ExternalIDs[plan.ExtIfaceID]) {
				e.foreign.note(row, "deleted", time.Now())
			}
		}
		keys := ch.ifaceIDs
		if len(ch.names) > 0 {
			// A port waiting on a name held by another interface is
			// woken when that interface changes or goes away.
			e.mu.Lock()
			for _, n := range ch.names {
				keys = appendNonEmpty(keys, e.wantedNames[n])
			}
			e.mu.Unlock()
		}
		if len(keys) > 0 {
			e.q.AddFromOVS(keys...)
		}
	})
}

// sbHandler starts a new generation of the SB index and returns its
// handler. A Chassis change recomputes everything.
func (e *Engine) sbHandler() cache.EventHandler {
	return e.sbIdx.handler(func(lports []string, chassis bool) {
		if chassis {
			e.q.AddChassis()
			return
		}
		e.q.Add(lports...)
	})
}
