package sidecar

import (
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
	"testing"
	"time"
)

func TestEnginePlugsAndUnplugsInBulk(t *testing.T) {
	m := newMemStack(t)
	e, _ := m.startEngine(t)
	ports := names("lsp", 300)
	m.addBindings(t, ports, map[string]string{plan.OptMTURequest: "1400"})
	waitFor(t, "all ports plugged", 20*time.Second, func() bool { return len(m.plugged()) == len(ports) })
	for _, p := range ports {
		i := m.plugged()[p]
		if i.Type != "internal" || i.Options["vif-plug-dummy-option"] != "value" || i.MTURequest == nil || *i.MTURequest != 1400 {
			t.Fatalf("%s plugged wrong: %+v", p, i)
		}
	}
	waitFor(t, "status plugged", 5*time.Second, func() bool {
		n := 0
		for _, s := range e.Ports() {
			if s.State == plan.StatePlugged {
				n++
			}
		}
		return n == len(ports)
	})
	m.deleteBindings(t, ports[:100])
	waitFor(t, "100 ports unplugged", 20*time.Second, func() bool { return len(m.plugged()) == len(ports)-100 })
	if _, ok := m.plugged()[ports[0]]; ok {
		t.Fatalf("%s still plugged after its binding went away", ports[0])
	}
}

func TestEngineExitLeavesPortsAndRestartWritesNothing(t *testing.T) {
	m := newMemStack(t)
	_, stop := m.startEngine(t)
	ports := names("p", 50)
	m.addBindings(t, ports, nil)
	waitFor(t, "ports plugged", 10*time.Second, func() bool { return len(m.plugged()) == len(ports) })
	stop()
	if n := len(m.plugged()); n != len(ports) {
		t.Fatalf("exit unplugged ports: %d left of %d", n, len(ports))
	}

	// The test client's cache runs handlers off a queue: a fence first, so
	// that events of the first engine's writes still queued are not
	// counted as the restart's.
	ovsFence(t, m)
	updates := 0
	m.ovs.Cache().AddEventHandler(&countingHandler{n: &updates})
	e, _ := m.startEngine(t)
	// The restarted engine records every port's status at the end of
	// its first full pass, after any write it makes; the fence then
	// proves the counter has seen every change made until then.
	waitFor(t, "status after restart", 10*time.Second, func() bool { return len(e.Ports()) == len(ports) })
	ovsFence(t, m)
	if updates != 0 {
		t.Fatalf("restart with everything correct made %d OVS row changes, want 0", updates)
	}
}
