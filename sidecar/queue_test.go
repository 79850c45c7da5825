package sidecar

import (
	"slices"
	"testing"
	"time"
)

// The queue owns retries: each AddRateLimited counts one and brings the
// key back after its backoff; Forget restarts the count and cancels the
// retry still waiting.
func TestQueueOwnsRetries(t *testing.T) {
	q := newQueue()
	defer q.stop()
	fast := retryPolicy{time.Millisecond, 2 * time.Millisecond}
	q.AddRateLimited("a", fast)
	q.AddRateLimited("a", fast)
	if n := q.NumRequeues("a"); n != 2 {
		t.Fatalf("NumRequeues(a) = %d after two retries", n)
	}
	select {
	case <-q.notify:
	case <-time.After(5 * time.Second):
		t.Fatal("the retry never came")
	}
	if b := q.drain(); !slices.Equal(b.keys, []string{"a"}) {
		t.Errorf("retry drained %+v", b)
	}
	q.AddRateLimited("b", retryPolicy{time.Hour, time.Hour})
	q.Forget("b")
	q.Forget("a")
	if q.NumRequeues("a") != 0 || q.NumRequeues("b") != 0 {
		t.Error("Forget kept a retry count")
	}
	q.mu.Lock()
	waiting := len(q.timers)
	q.mu.Unlock()
	if waiting != 0 {
		t.Errorf("%d retries still scheduled after Forget", waiting)
	}
}

// Identity changes travel as their own signal, not as a provider type.
func TestQueueIdentitySignal(t *testing.T) {
	q := newQueue()
	q.AddIdentity()
	b := q.drain()
	if !b.identity || len(b.providers) != 0 || b.empty() {
		t.Errorf("identity batch %+v", b)
	}
	if b := q.drain(); b.identity || !b.empty() {
		t.Errorf("identity not cleared by drain: %+v", b)
	}
}
