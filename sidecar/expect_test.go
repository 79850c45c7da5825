package sidecar

import (
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// expectRig is an index fed row events by hand, its handler marking the
// expectations as the engine's does.
type expectRig struct {
	x   *ovsIndex
	h   cache.EventHandler
	p   *pendingWrites
	now time.Time
}

func newExpectRig() *expectRig {
	r := &expectRig{x: newOVSIndex(), p: newPendingWrites(), now: time.Unix(1000, 0)}
	r.h = r.x.handler(func(ch indexChange) {
		for _, row := range ch.ifaces {
			r.p.sawIface(row)
		}
	})
	r.h.OnAdd(vswitch.BridgeTable, &vswitch.Bridge{UUID: "br", Name: "br-int"})
	return r
}

func (r *expectRig) view() ovsView { return ovsView{x: r.x} }

// plug shows an interface in a port on the bridge, as one echo would.
func (r *expectRig) plug(it *vswitch.Interface, port string) {
	r.h.OnAdd(vswitch.InterfaceTable, it)
	r.h.OnAdd(vswitch.PortTable, &vswitch.Port{UUID: port, Name: it.Name, Interfaces: []string{it.UUID}})
	r.h.OnUpdate(vswitch.BridgeTable, &vswitch.Bridge{UUID: "br", Name: "br-int"}, &vswitch.Bridge{UUID: "br", Name: "br-int", Ports: []string{port}})
}

// want checks whether lp's echo is dropped and, then, whether lp may be
// planned now.
func (r *expectRig) want(t *testing.T, echoOnly, ready bool, what string) {
	t.Helper()
	if got := r.p.echoOnly("lp", r.view()); got != echoOnly {
		t.Fatalf("%s: dropped as an echo = %v, want %v", what, got, echoOnly)
	}
	if got, _ := r.p.ready("lp", r.view(), r.now); got != ready {
		t.Fatalf("%s: ready to plan = %v, want %v", what, got, ready)
	}
}

// wrote registers a write and its reply.
func (r *expectRig) wrote(a plan.Action, created string) {
	r.p.expect(a, r.view(), r.now.Add(expectationTimeout))
	r.p.committed(a.LogicalPort, created)
}

func (r *expectRig) change(old, cur *vswitch.Interface) {
	r.h.OnUpdate(vswitch.InterfaceTable, old, cur)
}

func TestPendingWrites(t *testing.T) {
	ext := map[string]string{plan.ExtIfaceID: "lp", plan.ExtOvnPlugged: "dummy"}
	create := plan.Action{Op: plan.OpPlug, LogicalPort: "lp", Create: &plan.Create{BridgeUUID: "br", Name: "lp", Type: "internal", ExternalIDs: ext, MTURequest: 1400}}
	row := func(mtu int) *vswitch.Interface {
		return &vswitch.Interface{UUID: "i1", Name: "lp", Type: "internal", ExternalIDs: ext, MTURequest: &mtu}
	}

	t.Run("exact echo needs no pass", func(t *testing.T) {
		r := newExpectRig()
		r.p.expect(create, r.view(), r.now.Add(expectationTimeout))
		r.plug(row(1400), "p1") // before the reply: the echo can overtake it
		if r.p.echoOnly("lp", r.view()) {
			t.Fatal("echo dropped before the reply was in")
		}
		r.p.committed("lp", "i1")
		installed := row(1400)
		installed.ExternalIDs = map[string]string{plan.ExtIfaceID: "lp", plan.ExtOvnPlugged: "dummy", "ovn-installed": "true"}
		r.change(row(1400), installed) // ovn-controller's key is not ours
		r.want(t, true, true, "an exact echo")
	})

	t.Run("overwritten after the echo is planned at once", func(t *testing.T) {
		r := newExpectRig()
		r.wrote(create, "i1")
		r.plug(row(1400), "p1")
		r.change(row(1400), row(1234)) // someone else, before the worker looked
		r.want(t, false, true, "another agent's change after our echo")
	})

	t.Run("an echo not seen waits for its deadline, then is not dropped", func(t *testing.T) {
		r := newExpectRig()
		r.wrote(create, "i1")
		ok, wait := r.p.ready("lp", r.view(), r.now)
		if ok || wait != expectationTimeout {
			t.Fatalf("ready = %v, wait %v; want false, %v", ok, wait, expectationTimeout)
		}
		if ok, wait := r.p.ready("lp", r.view(), r.now.Add(time.Second)); ok || wait != 0 {
			t.Fatalf("second look: ready = %v, wait %v; want false and no second timer", ok, wait)
		}
		r.plug(row(1400), "p1")
		if r.p.echoOnly("lp", r.view()) {
			t.Fatal("the echo of a deferred key was dropped: what deferred it would be lost")
		}
		if ok, _ := r.p.ready("lp", r.view(), r.now.Add(expectationTimeout)); !ok {
			t.Fatal("not ready at the deadline")
		}
	})

	t.Run("a failed write leaves nothing to wait for", func(t *testing.T) {
		r := newExpectRig()
		r.p.expect(create, r.view(), r.now.Add(expectationTimeout))
		r.p.abandon("lp")
		if ok, _ := r.p.ready("lp", r.view(), r.now); !ok {
			t.Fatal("waiting on a write that failed")
		}
	})

	t.Run("update and unplug", func(t *testing.T) {
		r := newExpectRig()
		r.plug(row(1400), "p1")
		up := plan.Action{Op: plan.OpUpdate, LogicalPort: "lp", Update: &plan.Update{IfaceUUID: "i1", SetMTU: true, MTURequest: 1500}}
		r.wrote(up, "")
		if r.p.echoOnly("lp", r.view()) {
			t.Fatal("the row before the update taken for its echo")
		}
		r.change(row(1400), row(1500))
		if !r.p.echoOnly("lp", r.view()) {
			t.Fatal("exact echo of an update not recognised")
		}

		unplug := plan.Action{Op: plan.OpUnplug, LogicalPort: "lp", Remove: []plan.Iface{{UUID: "i1", PortUUID: "p1"}}}
		r.wrote(unplug, "")
		if ok, _ := r.p.ready("lp", r.view(), r.now); ok {
			t.Fatal("ready while the port is still there")
		}
		r.h.OnUpdate(vswitch.BridgeTable, &vswitch.Bridge{UUID: "br", Name: "br-int", Ports: []string{"p1"}}, &vswitch.Bridge{UUID: "br", Name: "br-int"})
		r.h.OnDelete(vswitch.PortTable, &vswitch.Port{UUID: "p1", Name: "lp", Interfaces: []string{"i1"}})
		r.h.OnDelete(vswitch.InterfaceTable, row(1500))
		if ok, _ := r.p.ready("lp", r.view(), r.now); !ok {
			t.Fatal("not ready once the port is gone")
		}
	})
}
