package sidecar

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
)

// TestDumpReleasedOncePerConnect: the first primed pass after a
// connection synced returns the dump's garbage; later passes do not, and
// a new connection's dump is released again.
func TestDumpReleasedOncePerConnect(t *testing.T) {
	m := newMemStack(t)
	reg := providers.NewRegistry(nil)
	if err := reg.Register(dummy.New()); err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{OVSRemote: "unix:" + m.ovsSock, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	var released atomic.Int32
	e.releaseDump = func() {
		if !e.Primed() {
			t.Error("released before the gate opened: a later dump would follow")
		}
		released.Add(1)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	waitFor(t, "the first dumps released", 10*time.Second, func() bool { return released.Load() >= 1 })
	ports := names("r", 20)
	m.addBindings(t, ports, nil)
	waitFor(t, "ports plugged", 10*time.Second, func() bool { return len(m.plugged()) == len(ports) })
	before := e.passes.Load()
	atStart := released.Load()
	m.deleteBindings(t, ports)
	waitFor(t, "ports unplugged", 10*time.Second, func() bool { return len(m.plugged()) == 0 && e.passes.Load() > before })
	if n := released.Load(); n != atStart {
		t.Fatalf("released %d more times without a new connection", n-atStart)
	}

	e.sb.Restart()
	waitFor(t, "the new SB dump released", 10*time.Second, func() bool { return released.Load() == atStart+1 })
}
