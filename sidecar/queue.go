package sidecar

import (
	"sync"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/backoff"
)

// queue is the engine's work queue, in the style of a Kubernetes
// controller: event handlers only add keys, and the single worker drains
// them in batches and recomputes from the caches. A key added many times
// before the worker runs is processed once, and a burst of keys is one
// batch (one pass, one transaction). Like client-go's rate-limiting
// queue, it owns each key's retry count and backoff (AddRateLimited,
// NumRequeues, Forget). Every method is safe from any goroutine.
type queue struct {
	mu    sync.Mutex
	dirty map[string]struct{}
	// ovsOnly are dirty keys that only OVS row events added: the echo
	// of our own write may be all they carry (see Engine.dropEchoes).
	ovsOnly map[string]struct{}
	all     bool
	resync  bool
	// identity: the Open_vSwitch row's identity keys changed.
	identity  bool
	providers map[string]struct{}
	timers    map[string]*time.Timer
	// requeues counts each key's retries since it last succeeded.
	requeues map[string]int
	notify   chan struct{}
}

func newQueue() *queue {
	return &queue{
		dirty:     map[string]struct{}{},
		ovsOnly:   map[string]struct{}{},
		providers: map[string]struct{}{},
		timers:    map[string]*time.Timer{},
		requeues:  map[string]int{},
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

// AddResync asks for a full recompute that first checks the indexes
// against the caches (see ovsIndex.suspects).
func (q *queue) AddResync() {
	q.mu.Lock()
	q.all, q.resync = true, true
	q.mu.Unlock()
	q.wake()
}

// AddIdentity asks the worker to read the identity (chassis name, SB
// remote, bridge) from the Open_vSwitch row again.
func (q *queue) AddIdentity() {
	q.mu.Lock()
	q.identity = true
	q.mu.Unlock()
	q.wake()
}

// AddChassis reports a change of the Chassis row, which everything
// depends on: a full recompute.
func (q *queue) AddChassis() { q.AddAll() }

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

// retryPolicy is a backoff profile for AddRateLimited.
type retryPolicy struct{ base, max time.Duration }

var (
	// retrySoon is for a port waiting on something that normally comes
	// (hardware not there yet).
	retrySoon = retryPolicy{time.Second, 30 * time.Second}
	// retrySlowly is for a refusal an operator must look at.
	retrySlowly = retryPolicy{5 * time.Second, 5 * time.Minute}
)

// AddRateLimited counts a retry of key and adds it after the policy's
// jittered backoff for that count.
func (q *queue) AddRateLimited(key string, p retryPolicy) {
	q.mu.Lock()
	q.requeues[key]++
	n := q.requeues[key]
	q.mu.Unlock()
	q.AddAfter(key, backoff.Jittered(n, p.base, p.max))
}

// NumRequeues is how many retries of key were counted since its last
// Forget.
func (q *queue) NumRequeues(key string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.requeues[key]
}

// Forget ends key's retries: its count restarts and a delayed retry is
// cancelled.
func (q *queue) Forget(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.requeues, key)
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
	resync    bool
	identity  bool
	providers []string
	// sbSeen and ovsSeen are the caches whose handlers had seen every row
	// when the batch was drained, so the pass need not wait for them again.
	sbSeen, ovsSeen *cache.TableCache
}

func (b batch) empty() bool {
	return len(b.keys) == 0 && !b.all && !b.resync && !b.identity && len(b.providers) == 0
}

func (q *queue) drain() batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := batch{all: q.all, resync: q.resync, identity: q.identity}
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
	q.all, q.resync, q.identity = false, false, false
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
