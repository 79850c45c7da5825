package sidecar

import (
	"context"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/logs"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/dbconn"
)

// This file owns the worker: the goroutine that runs the passes, and the
// state only passes touch. A pass is in reconcile.go.

// worker runs the reconcile passes on one goroutine (see run), and owns
// the state only passes read and write. What it shares with the cache
// handlers, the connections and HTTP lives on Engine.
type worker struct {
	e    *Engine
	prep *preparer
	// noBridgeLogged: the missing integration bridge was logged.
	noBridgeLogged bool
	// chassisSeen is what was last logged about the Chassis row.
	chassisSeen chassisSeen
	converge    *convergenceGuard
	// warned rate-limits conflict warnings per port.
	warned map[string]warnState
}

// run is the worker goroutine: one pass per wake-up, on an update boundary.
func (w *worker) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.e.q.notify:
		}
		// Start on an update boundary, so that one SB update (a bulk NB
		// transaction's 1000 bindings, say) is one pass and one OVS
		// transaction, and the echo of our own write is seen whole.
		sbTC, ovsTC := w.e.sb.Cache(), w.e.ovs.Cache()
		sbSeen, ovsSeen := w.e.sbBarrier.wait(sbTC), w.e.ovsBarrier.wait(ovsTC)
		b := w.e.q.drain()
		if b.resync {
			w.verifyIndexes()
		}
		w.dropEchoes(&b)
		if b.empty() {
			continue // a wake-up whose keys an earlier pass took
		}
		if sbSeen {
			b.sbSeen = sbTC
		}
		if ovsSeen {
			b.ovsSeen = ovsTC
		}
		start := time.Now()
		w.reconcile(ctx, b)
		w.e.metrics.reconcileDuration.Observe(time.Since(start).Seconds())
		w.e.passes.Add(1)
		if w.e.Primed() && w.e.dumped.Swap(false) {
			w.e.releaseDump()
		}
	}
}

// verifyIndexes repairs the rows where an index lost events (see
// suspects). A suspect is checked again once the handler has caught up,
// so an event still on its way is not taken for a lost one.
func (w *worker) verifyIndexes() {
	type checked interface {
		suspects(*cache.TableCache) []suspect
		repair(*cache.TableCache, []suspect) int
	}
	for _, c := range []struct {
		db      string
		conn    *dbconn.Conn
		barrier *updateBarrier
		idx     checked
	}{{"ovs", w.e.ovs, w.e.ovsBarrier, w.e.ovsIdx}, {"sb", w.e.sb, w.e.sbBarrier, w.e.sbIdx}} {
		tc := c.conn.Cache()
		if tc == nil {
			continue
		}
		sus := c.idx.suspects(tc)
		if len(sus) == 0 || !c.barrier.wait(tc) || tc != c.conn.Cache() {
			continue
		}
		if n := c.idx.repair(tc, sus); n > 0 {
			w.e.metrics.indexRepairs.WithLabelValues(c.db).Add(float64(n))
			logs.WarnS("Repaired index rows that missed cache events; libovsdb dropped events (its event buffer was full)", "db", c.db, "rows", n)
		}
	}
}

// dropEchoes takes out of the batch the keys whose only news is the echo
// of our own last write: their interfaces are exactly as that write left
// them, so a pass could only repeat what the last one decided. It runs on
// an update boundary, after the barriers, because the handler sees an
// update row by row and would judge half an echo (an Interface without
// its Port yet).
func (w *worker) dropEchoes(b *batch) {
	if len(b.ovsOnly) == 0 {
		return
	}
	v := w.e.ovsIdx.pin()
	defer v.release()
	kept := b.keys[:0]
	for _, k := range b.keys {
		if _, only := b.ovsOnly[k]; only {
			if w.e.pending.echoOnly(k, v) {
				w.e.echoes.Add(1)
				continue
			}
		}
		kept = append(kept, k)
	}
	b.keys = kept
}

// checkChassis moves the Port_Binding monitor onto the chassis row's UUID
// when it differs from the one the current monitor uses. It returns the
// row the current monitor follows, if any.
func (w *worker) checkChassis(tc *cache.TableCache) *sb.Chassis {
	ch, restart := w.e.id.follow(tc)
	if restart {
		klog.InfoS("Chassis row found; monitoring its Port_Bindings", "chassis", ch.Name, "uuid", ch.UUID)
		w.e.sb.Restart()
		return nil
	}
	return ch
}

// chassisSeen is what was last logged about the Chassis row.
type chassisSeen struct {
	name    string
	present bool
	known   bool
}

// noteChassis logs, once per change, whether the Chassis row exists: an
// idle sidecar must say that it waits for ovn-controller.
func (w *worker) noteChassis(tc *cache.TableCache) {
	name, _, _ := w.e.id.names()
	ch := findChassis(tc, name)
	prev := w.chassisSeen
	now := chassisSeen{name: name, present: ch != nil, known: true}
	if prev == now || name == "" {
		return
	}
	w.chassisSeen = now
	switch {
	case ch == nil && prev.known && prev.present && prev.name == name:
		logs.WarnS("Chassis row disappeared from the Southbound database; nothing is plugged or unplugged until ovn-controller creates it again", "chassis", name)
	case ch == nil:
		logs.WarnS("Chassis row missing in the Southbound database; nothing is plugged or unplugged until ovn-controller creates it", "chassis", name)
	case prev.known && prev.name == name:
		klog.InfoS("Chassis row appeared in the Southbound database", "chassis", name, "uuid", ch.UUID)
	}
}
