package sidecar

import (
	"fmt"
	"sync"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
)

// updateBarrier tells the worker when the cache event handlers have seen
// every row of the monitor updates libovsdb has applied so far, so that a
// pass starts on an update boundary: one SB update of 1000 bindings is one
// pass and one OVS transaction, not a first pass over the rows handed over
// so far and a second over the rest.
//
// libovsdb applies an update under the cache's write lock and queues one
// event per row, in order, for a single goroutine that calls the handlers.
// So: wait for the write lock to be free (the update in progress is then
// applied whole and all its events are queued), then queue a marker event
// behind them; when the handler sees the marker, it has seen them all.
// The marker is a row of a table the client model has but never monitors,
// added and removed again in the local cache only; nothing reads it.
type updateBarrier struct {
	table  string
	newRow func(uuid string) model.Model

	mu     sync.Mutex
	seen   uint64
	next   uint64
	signal chan struct{} // closed and replaced when a marker is seen
}

func newUpdateBarrier(table string, newRow func(uuid string) model.Model) *updateBarrier {
	return &updateBarrier{table: table, newRow: newRow, signal: make(chan struct{})}
}

// barrierTimeout bounds a wait: a cache that is being torn down (a
// reconnect) never delivers the marker, and then the pass just proceeds.
const barrierTimeout = 5 * time.Second

// wait returns true once the handlers have seen every event of the
// updates tc had applied when wait was called, false on timeout or error.
func (b *updateBarrier) wait(tc *cache.TableCache) bool {
	if tc == nil {
		return false
	}
	b.mu.Lock()
	b.next++
	n := b.next
	b.mu.Unlock()
	uuid := markerUUID(n)
	// Table takes the cache's read lock, so it returns once the update
	// being applied, if any, is in.
	if tc.Table(b.table) == nil {
		return false
	}
	if err := tc.ApplyCacheUpdate(markerUpdate{table: b.table, uuid: uuid, row: b.newRow(uuid)}); err != nil {
		return false
	}
	// The marker is done with once queued: take it out of the cache again.
	// Its delete event is dropped by the handler.
	_ = tc.ApplyCacheUpdate(markerUpdate{table: b.table, uuid: uuid, old: tc.Table(b.table).Row(uuid)})
	timeout := time.NewTimer(barrierTimeout)
	defer timeout.Stop()
	for {
		b.mu.Lock()
		seen, signal := b.seen, b.signal
		b.mu.Unlock()
		if seen >= n {
			return true
		}
		select {
		case <-signal:
		case <-timeout.C:
			return false
		}
	}
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

// markerUpdate is the one-row update the barrier applies to the cache: an
// insert when row is set, a delete when old is.
type markerUpdate struct {
	table    string
	uuid     string
	row, old model.Model
}

func (u markerUpdate) GetUpdatedTables() []string { return []string{u.table} }

func (u markerUpdate) ForEachModelUpdate(table string, do func(uuid string, old, newModel model.Model) error) error {
	if table != u.table || (u.row == nil && u.old == nil) {
		return nil
	}
	return do(u.uuid, u.old, u.row)
}
