package sidecar

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// planWorld builds a plan input for n ports of the dummy provider, either
// all already plugged (steady state) or none yet (bulk plug).
func planWorld(n int, plugged bool) PlanInput {
	in := PlanInput{
		Desired:       map[string]Desired{},
		Answers:       map[string]Answer{},
		Consent:       map[string]error{},
		BridgeUUID:    "br-uuid",
		BridgeName:    "br-int",
		UnplugAllowed: true,
		Providers:     map[string]ProviderState{"dummy": ProviderEnabled},
	}
	for i := range n {
		k := fmt.Sprintf("lsp%d", i)
		in.Keys = append(in.Keys, k)
		in.Desired[k] = Desired{LogicalPort: k, PlugType: "dummy", MTURequest: 1500}
		in.Answers[k] = Answer{
			Out:        &providers.PortCtxOut{Name: k, Type: "internal", IfaceOptions: map[string]string{"vif-plug-dummy-option": "value"}},
			Maintained: []string{"vif-plug-dummy-option"},
		}
		if plugged {
			mtu := 1500
			in.Ifaces = append(in.Ifaces, Iface{
				UUID: fmt.Sprintf("iface-%d", i), Name: k, Type: "internal",
				Options:     map[string]string{"vif-plug-dummy-option": "value"},
				ExternalIDs: map[string]string{ExtIfaceID: k, ExtOvnPlugged: "dummy", "ovn-installed": "true"},
				MTURequest:  &mtu, PortUUID: fmt.Sprintf("port-%d", i), BridgeUUID: "br-uuid", BridgeName: "br-int",
			})
		}
	}
	return in
}

func BenchmarkPlan1000Steady(b *testing.B) {
	in := planWorld(1000, true)
	b.ReportAllocs()
	for b.Loop() {
		if res := Plan(in); len(res.Actions) != 0 {
			b.Fatalf("steady state planned %d actions", len(res.Actions))
		}
	}
}

func BenchmarkPlan1000Plug(b *testing.B) {
	in := planWorld(1000, false)
	b.ReportAllocs()
	for b.Loop() {
		if res := Plan(in); len(res.Actions) != 1000 {
			b.Fatalf("planned %d plugs, want 1000", len(res.Actions))
		}
	}
}

func BenchmarkPlanSingleKeyIn1000(b *testing.B) {
	in := planWorld(1000, true)
	in.Keys = []string{"lsp500"}
	b.ReportAllocs()
	for b.Loop() {
		Plan(in)
	}
}

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
		h.OnAdd(vswitch.InterfaceTable, &vswitch.Interface{UUID: iu, Name: iu, ExternalIDs: map[string]string{ExtIfaceID: iu, ExtOvnPlugged: "dummy"}})
		h.OnAdd(vswitch.PortTable, &vswitch.Port{UUID: pu, Name: iu, Interfaces: []string{iu}})
		br.Ports = append(br.Ports, pu)
	}
	h.OnUpdate(vswitch.BridgeTable, &vswitch.Bridge{UUID: "br", Name: "br-int"}, br)
	b.ReportAllocs()
	for b.Loop() {
		ifc := &vswitch.Interface{UUID: "new", Name: "new", ExternalIDs: map[string]string{ExtIfaceID: "new", ExtOvnPlugged: "dummy"}}
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
