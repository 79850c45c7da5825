package dbconn

import (
	"errors"
	"testing"
	"time"
)

func TestReconnectBackoff(t *testing.T) {
	b := &reconnectBackoff{base: 100 * time.Millisecond, max: time.Second}
	for i := range 10 {
		if d := b.NextBackOff(); d < 50*time.Millisecond || d > time.Second {
			t.Fatalf("attempt %d: %v outside [base/2, max]", i+1, d)
		}
	}
	b.Reset()
	if d := b.NextBackOff(); d > 100*time.Millisecond {
		t.Fatalf("after Reset: %v, want at most base", d)
	}
	b.park()
	got := make(chan time.Duration, 1)
	go func() { got <- b.NextBackOff() }()
	select {
	case d := <-got:
		t.Fatalf("a parked backoff returned %v: libovsdb would try again", d)
	case <-time.After(200 * time.Millisecond):
	}
	if !b.parked() {
		t.Fatal("parked() is false while NextBackOff blocks")
	}
}

func TestStayedUp(t *testing.T) {
	if stayedUp(time.Time{}, 1) {
		t.Error("a connection that never synced stayed up")
	}
	second := time.Now().Add(-time.Second)
	if !stayedUp(second, 1) {
		t.Error("up 1 s with a 250 ms delay: the delay should start again")
	}
	if stayedUp(second, 6) {
		t.Error("up 1 s with an 8 s delay: a flapping server would get its clients back at once")
	}
}

func TestCauseSetLogsEachCauseOnce(t *testing.T) {
	var s causeSet
	refused := errors.New("connect: connection refused")
	if !s.first(refused) || s.first(refused) {
		t.Error("a cause must be new once, then known")
	}
	if !s.first(errors.New("no SB remote: set --sb-db")) {
		t.Error("a changed cause must be new")
	}
	// The same failures in a shuffled endpoint order are the same cause.
	a := errors.New("unable to connect to any endpoints: failed to connect to tcp:a:1: x. failed to connect to tcp:b:1: y")
	b := errors.New("unable to connect to any endpoints: failed to connect to tcp:b:1: y. failed to connect to tcp:a:1: x")
	if !s.first(a) || s.first(b) {
		t.Error("a shuffled multi-endpoint failure must count as the same cause")
	}
}
