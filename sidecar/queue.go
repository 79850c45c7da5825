package sidecar

import (
	"sync"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
)

// queue is the engine's work queue, in the style of a Kubernetes
// controller: event handlers only add keys, and the single worker drains
// them in batches and recomputes from the caches. A key added many times
// before the worker runs is processed once.
type queue struct {
	mu    sync.Mutex
	dirty map[string]struct{}
	// ovsOnly are dirty keys that only OVS row events added: the echo
	// of our own write may be all they carry (see Engine.dropEchoes).
	ovsOnly   map[string]struct{}
	all       bool
	providers map[string]struct{}
	timers    map[string]*time.Timer
	notify    chan struct{}
}

func newQueue() *queue {
	return &queue{
		dirty:     map[string]struct{}{},
		ovsOnly:   map[string]struct{}{},
		providers: map[string]struct{}{},
		timers:    map[string]*time.Timer{},
		notify:    make(chan struct{}, 1),
	}
}

func (q *queue) wake() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Add marks logical ports dirty.
func (q *queue) Add(keys ...string) {
	q.mu.Lock()
	for _, k := range keys {
		if k != "" {
			q.dirty[k] = struct{}{}
			delete(q.ovsOnly, k)
		}
	}
	q.mu.Unlock()
	q.wake()
}

// AddFromOVS marks logical ports dirty because of OVS row events.
func (q *queue) AddFromOVS(keys ...string) {
	q.mu.Lock()
	for _, k := range keys {
		if k == "" {
			continue
		}
		if _, ok := q.dirty[k]; !ok {
			q.dirty[k] = struct{}{}
			q.ovsOnly[k] = struct{}{}
		}
	}
	q.mu.Unlock()
	q.wake()
}

// AddAll asks for a full recompute, as after any reconnect.
func (q *queue) AddAll() {
	q.mu.Lock()
	q.all = true
	q.mu.Unlock()
	q.wake()
}

// AddProvider asks to reconsider every port of one provider type.
func (q *queue) AddProvider(typ string) {
	q.mu.Lock()
	q.providers[typ] = struct{}{}
	q.mu.Unlock()
	q.wake()
}

// AddAfter marks a key dirty after a delay; a later AddAfter for the same
// key replaces the earlier one.
func (q *queue) AddAfter(key string, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if t, ok := q.timers[key]; ok {
		t.Stop()
	}
	q.timers[key] = time.AfterFunc(d, func() {
		q.mu.Lock()
		delete(q.timers, key)
		q.mu.Unlock()
		q.Add(key)
	})
}

// Forget cancels a delayed retry.
func (q *queue) Forget(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if t, ok := q.timers[key]; ok {
		t.Stop()
		delete(q.timers, key)
	}
}

// batch is one drain of the queue.
type batch struct {
	keys []string
	// ovsOnly are the keys only OVS row events marked dirty.
	ovsOnly   map[string]struct{}
	all       bool
	providers []string
	// sbSeen and ovsSeen are the caches whose handlers had seen every row
	// when the batch was drained, so the pass need not wait for them again.
	sbSeen, ovsSeen *cache.TableCache
}

func (b batch) empty() bool { return len(b.keys) == 0 && !b.all && len(b.providers) == 0 }

func (q *queue) drain() batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := batch{all: q.all}
	for k := range q.dirty {
		b.keys = append(b.keys, k)
	}
	for p := range q.providers {
		b.providers = append(b.providers, p)
	}
	if len(q.ovsOnly) > 0 {
		b.ovsOnly = q.ovsOnly
		q.ovsOnly = map[string]struct{}{}
	}
	clear(q.dirty)
	clear(q.providers)
	q.all = false
	return b
}

func (q *queue) stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, t := range q.timers {
		t.Stop()
		delete(q.timers, k)
	}
}
