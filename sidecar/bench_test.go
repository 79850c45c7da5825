package sidecar

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// BenchmarkReconcile1000Steady measures a full recompute (as after a
// reconnect) of 1000 plugged ports: snapshot of both caches, 1000 provider
// calls, the plan, and no writes.
func BenchmarkReconcile1000Steady(b *testing.B) {
	m := newMemStack(b)
	e, _ := m.startEngine(b)
	ports := names("lsp", 1000)
	m.addBindings(b, ports, nil)
	waitFor(b, "1000 plugged", 60*time.Second, func() bool { return len(m.plugged()) == 1000 })
	waitFor(b, "status", 10*time.Second, func() bool { return len(e.Ports()) == 1000 })
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		before := e.passes.Load()
		e.q.AddAll()
		for e.passes.Load() == before {
			time.Sleep(20 * time.Microsecond)
		}
	}
}

// BenchmarkIndexPlugBeside5000 applies one plug's row events (Interface,
// Port, and the Bridge.ports update listing every port) to an index
// holding 5000 plugged ports: the handler's cost per plug must not grow
// quadratically with the ports plugged.
func BenchmarkIndexPlugBeside5000(b *testing.B) {
	x := newOVSIndex()
	h := x.handler(func(indexChange) {})
	br := &vswitch.Bridge{UUID: "br", Name: "br-int"}
	h.OnAdd(vswitch.BridgeTable, br)
	for i := range 5000 {
		iu, pu := fmt.Sprintf("i%d", i), fmt.Sprintf("p%d", i)
		h.OnAdd(vswitch.InterfaceTable, &vswitch.Interface{UUID: iu, Name: iu, ExternalIDs: map[string]string{plan.ExtIfaceID: iu, plan.ExtOvnPlugged: "dummy"}})
		h.OnAdd(vswitch.PortTable, &vswitch.Port{UUID: pu, Name: iu, Interfaces: []string{iu}})
		br.Ports = append(br.Ports, pu)
	}
	h.OnUpdate(vswitch.BridgeTable, &vswitch.Bridge{UUID: "br", Name: "br-int"}, br)
	b.ReportAllocs()
	for b.Loop() {
		ifc := &vswitch.Interface{UUID: "new", Name: "new", ExternalIDs: map[string]string{plan.ExtIfaceID: "new", plan.ExtOvnPlugged: "dummy"}}
		port := &vswitch.Port{UUID: "pnew", Name: "new", Interfaces: []string{"new"}}
		h.OnAdd(vswitch.InterfaceTable, ifc)
		h.OnAdd(vswitch.PortTable, port)
		with := &vswitch.Bridge{UUID: "br", Name: "br-int", Ports: append(slices.Clone(br.Ports), "pnew")}
		h.OnUpdate(vswitch.BridgeTable, br, with)
		// and the unplug
		h.OnUpdate(vswitch.BridgeTable, with, br)
		h.OnDelete(vswitch.PortTable, port)
		h.OnDelete(vswitch.InterfaceTable, ifc)
	}
}
