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

func TestCauseLogSeesChanges(t *testing.T) {
	var l causeLog
	refused := errors.New("connect: connection refused")
	if !l.changed(refused) || l.changed(refused) {
		t.Error("a cause must be new once, then known")
	}
	other := errors.New("no SB remote: set --sb-db")
	if !l.changed(other) {
		t.Error("a changed cause must be new")
	}
	if !l.changed(refused) {
		t.Error("a cause that comes back after another must be new again")
	}
	// The same failures in a shuffled endpoint order are the same cause.
	a := errors.New("unable to connect to any endpoints: failed to connect to tcp:a:1: x. failed to connect to tcp:b:1: y")
	b := errors.New("unable to connect to any endpoints: failed to connect to tcp:b:1: y. failed to connect to tcp:a:1: x")
	if !l.changed(a) || l.changed(b) {
		t.Error("a shuffled multi-endpoint failure must count as the same cause")
	}
	l.reset()
	if !l.changed(b) {
		t.Error("after a success, the old cause must be new again")
	}
}
