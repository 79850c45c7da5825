package sidecar

import (
	"errors"
	"testing"
	"time"
)

func TestFormatKVs(t *testing.T) {
	got := formatKVs("Not plugging", "lport", `a "b"`, "err", errors.New("x"), "n", 3, "d", 2*time.Second, "odd")
	want := `"Not plugging" lport="a \"b\"" err="x" n=3 d="2s" odd="(MISSING)"`
	if got != want {
		t.Errorf("formatKVs = %s\nwant        %s", got, want)
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
