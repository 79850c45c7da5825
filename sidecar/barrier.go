package sidecar

import (
	"fmt"
	"sync"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// updateBarrier tells the worker when the cache event handlers have seen
// every row of the monitor updates libovsdb has applied so far, so that a
// pass starts on an update boundary: one SB update of 1000 bindings is one
// pass and one OVS transaction, not a first pass over the rows handed over
// so far and a second over the rest.
//
// libovsdb applies an update with TableCache.Populate2, under the cache's
// write lock, and queues one event per row, in order, for a single
// goroutine that calls the handlers. The barrier applies its own one-row
// update the same way: a marker row inserted, then deleted again, in a
// table the client model has but never monitors. Populate2 waits for the
// update in progress, if any, so the marker's event is queued behind all
// its events; when the handler sees the marker, it has seen them all.
// Populate2 takes the same lock as libovsdb's Purge of the cache on a
// reconnect that cannot resume, so the two never race. Nothing reads the
// marker rows. TestUpdateBarrierSeesWholeUpdate and
// TestUpdateBarrierDuringFullDumpReconnect pin what this rests on.
type updateBarrier struct {
	table string

	mu     sync.Mutex
	seen   uint64
	next   uint64
	signal chan struct{} // closed and replaced when a marker is seen
}

func newUpdateBarrier(table string) *updateBarrier {
	return &updateBarrier{table: table, signal: make(chan struct{})}
}

// barrierTimeout bounds a wait: a cache that is being torn down (a
// reconnect) may not deliver the marker for a while, and then the pass
// just proceeds.
const barrierTimeout = 5 * time.Second

// barrierResend is how long a wait gives one marker before it sends
// another: libovsdb drops events, markers included, while its event
// buffer is full, and a later marker proves as much as the lost one.
const barrierResend = 500 * time.Millisecond

// wait returns true once the handlers have seen every event of the
// updates tc had applied when wait was called, false on timeout or error.
func (b *updateBarrier) wait(tc *cache.TableCache) bool {
	if tc == nil {
		return false
	}
	n, ok := b.mark(tc)
	if !ok {
		return false
	}
	timeout := time.NewTimer(barrierTimeout)
	defer timeout.Stop()
	resend := time.NewTicker(barrierResend)
	defer resend.Stop()
	for {
		b.mu.Lock()
		seen, signal := b.seen, b.signal
		b.mu.Unlock()
		if seen >= n {
			return true
		}
		select {
		case <-signal:
		case <-resend.C:
			if _, ok := b.mark(tc); !ok {
				return false
			}
		case <-timeout.C:
			return false
		}
	}
}

// mark queues a new marker behind the events of every update applied to
// tc so far and returns its number.
func (b *updateBarrier) mark(tc *cache.TableCache) (uint64, bool) {
	b.mu.Lock()
	b.next++
	n := b.next
	b.mu.Unlock()
	uuid := markerUUID(n)
	insert := ovsdb.TableUpdates2{b.table: {uuid: &ovsdb.RowUpdate2{Insert: &ovsdb.Row{}}}}
	if err := tc.Populate2(insert); err != nil {
		return 0, false
	}
	// The marker is done with once queued: take it out of the cache again.
	// Its delete event is dropped by the handler.
	_ = tc.Populate2(ovsdb.TableUpdates2{b.table: {uuid: &ovsdb.RowUpdate2{Delete: &ovsdb.Row{}}}})
	return n, true
}

// wrap returns a handler that consumes the markers and passes every
// other event on to h.
func (b *updateBarrier) wrap(h cache.EventHandler) cache.EventHandler {
	return &cache.EventHandlerFuncs{
		AddFunc: func(table string, m model.Model) {
			if table == b.table {
				b.marked(m)
				return
			}
			h.OnAdd(table, m)
		},
		UpdateFunc: func(table string, old, m model.Model) {
			if table != b.table {
				h.OnUpdate(table, old, m)
			}
		},
		DeleteFunc: func(table string, m model.Model) {
			if table != b.table {
				h.OnDelete(table, m)
			}
		},
	}
}

func (b *updateBarrier) marked(m model.Model) {
	u, ok := m.(interface{ GetUUID() string })
	if !ok {
		return
	}
	var n uint64
	if _, err := fmt.Sscanf(u.GetUUID(), "00000000-0000-4000-8000-%012x", &n); err != nil {
		return
	}
	b.mu.Lock()
	if n > b.seen {
		b.seen = n
		close(b.signal)
		b.signal = make(chan struct{})
	}
	b.mu.Unlock()
}

func markerUUID(n uint64) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", n) }
