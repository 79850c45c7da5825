package providertest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// Harness runs the sidecar's engine (sidecar.New: the daemon's plan and
// transaction code) against in-memory OVS and Southbound servers
// (internal/memdb), with one provider built from its factory and
// registered as the daemon registers it. It needs no root and no OVS.
//
// The in-memory server honours monitor conditions but does no garbage
// collection, so it exercises the engine's logic, not OVSDB's; the e2e
// tests run the real thing.
//
// A provider panic the engine contains fails the test, unless the
// ExpectPanics option says the test expects one. With Outstanding, what
// the provider holds must be back to its value after Init once the
// engine has stopped.
type Harness struct {
	t       testing.TB
	typ     string
	p       providers.Provider
	eng     *sidecar.Engine
	ovs, sb client.Client // the test's own clients

	chassisUUID, datapathUUID, bridgeUUID string

	mu      sync.Mutex
	nextKey int
	panics  []providers.Panic
}

// HarnessChassis and HarnessBridge are the names the harness's databases
// use.
const (
	HarnessChassis = "chassis-1"
	HarnessBridge  = "br-int"
)

// NewHarness starts the databases and the engine with f's provider,
// configured by the Config, SysfsRoot, Outstanding, ExpectPanics and Wait
// options (the others are the kit's), and waits until the engine is
// primed. Everything stops at the end of the test.
func NewHarness(t testing.TB, f providers.Factory, opts ...Option) *Harness {
	t.Helper()
	c := config{sysfsRoot: "/sys", wait: 10 * time.Second}
	for _, o := range opts {
		o(&c)
	}
	// Unix socket paths are short (108 bytes); test temp dirs can be long.
	dir, err := os.MkdirTemp("", "providertest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ovsSock, sbSock := filepath.Join(dir, "db.sock"), filepath.Join(dir, "sb.sock")
	memdb.Serve(t, "Open_vSwitch", vswitch.FullDatabaseModel, vswitch.Schema(), ovsSock)
	memdb.Serve(t, "OVN_Southbound", sb.FullDatabaseModel, sb.Schema(), sbSock)
	h := &Harness{t: t, typ: f.Type, ovs: memdb.Dial(t, vswitch.FullDatabaseModel, ovsSock), sb: memdb.Dial(t, sb.FullDatabaseModel, sbSock)}

	ops := h.ops(h.ovs.Create(&vswitch.Bridge{UUID: "br", Name: HarnessBridge, DatapathType: "netdev"}))
	ops = append(ops, h.ops(h.ovs.Create(&vswitch.OpenvSwitch{
		UUID: "ovs", Bridges: []string{"br"},
		ExternalIDs: map[string]string{"system-id": HarnessChassis, "ovn-remote": "unix:" + sbSock},
		OtherConfig: map[string]string{"hw-offload": "true"}, // as on a DPU
	}))...)
	h.bridgeUUID = memdb.Commit(h.t, h.ovs, ops...)[0].UUID.GoUUID
	res := memdb.Commit(h.t, h.sb, append(h.ops(h.sb.Create(&sb.Chassis{UUID: "ch", Name: HarnessChassis, Hostname: "dpu1"})),
		h.ops(h.sb.Create(&sb.DatapathBinding{UUID: "dp", TunnelKey: 1}))...)...)
	h.chassisUUID, h.datapathUUID = res[0].UUID.GoUUID, res[1].UUID.GoUUID

	p, err := f.Build(c.cfg)
	if err != nil {
		t.Fatalf("providertest: harness: %v", err)
	}
	h.p = p
	changes := sidecar.NewProviderChanges()
	reg := providers.NewRegistry(func(typ string) providers.Env {
		return providers.Env{Changed: changes.For(typ), SysfsRoot: c.sysfsRoot, Logger: logr.Discard()}
	})
	reg.OnPanic(func(pe providers.Panic) {
		h.mu.Lock()
		h.panics = append(h.panics, pe)
		h.mu.Unlock()
		if !c.expectPanics {
			t.Errorf("providertest: harness: %s", pe)
		}
	})
	if err := reg.Register(p); err != nil {
		t.Fatalf("providertest: harness: %v", err)
	}
	held0 := 0
	if c.outstanding != nil {
		held0 = c.outstanding(p)
	}
	h.eng, err = sidecar.New(sidecar.Config{OVSRemote: "unix:" + ovsSock, Registry: reg, Changes: changes})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.eng.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if c.outstanding != nil {
			// An answer abandoned after its deadline is released when it
			// comes, before Destroy.
			deadline := time.Now().Add(c.wait)
			n := c.outstanding(p)
			for n > held0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
				n = c.outstanding(p)
			}
			switch {
			case n > held0:
				t.Errorf("providertest: harness: the engine stopped with Outstanding %d, %d after Init: an answer was not released (leak)", n, held0)
			case n < held0:
				t.Errorf("providertest: harness: the engine stopped with Outstanding %d, %d after Init: something was released twice (double release)", n, held0)
			}
		}
		if err := reg.DestroyAll(); err != nil {
			t.Errorf("providertest: harness: Destroy: %v", err)
		}
	})
	h.wait("the engine to be primed", h.eng.Primed)
	return h
}

func (h *Harness) ops(ops []ovsdb.Operation, err error) []ovsdb.Operation {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("providertest: harness: %v", err)
	}
	return ops
}

// Wait polls cond until it holds, for up to 10 s, and fails the test
// naming what it waited for otherwise.
func (h *Harness) Wait(what string, cond func() bool) { h.t.Helper(); h.wait(what, cond) }

func (h *Harness) wait(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("providertest: harness: timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Engine returns the engine, for its Ports, Health and Handler.
func (h *Harness) Engine() *sidecar.Engine { return h.eng }

// Provider returns the provider the harness built and registered, for
// type assertions and checks of its state.
func (h *Harness) Provider() providers.Provider { return h.p }

// Panics returns the provider panics the engine contained so far.
func (h *Harness) Panics() []providers.Panic {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.panics)
}

// OVS returns a client of the OVS database, with every table monitored,
// for checks and tampering of your own.
func (h *Harness) OVS() client.Client { return h.ovs }

// Bind creates a Port_Binding for lport that requests the harness's
// chassis, or replaces the options of an existing one. vif-plug-type is
// set to the provider's type unless options has one.
func (h *Harness) Bind(lport string, options map[string]string) {
	h.t.Helper()
	o := maps.Clone(options)
	if o == nil {
		o = map[string]string{}
	}
	if _, ok := o[plan.OptPlugType]; !ok {
		o[plan.OptPlugType] = h.typ
	}
	if pb := h.binding(lport); pb != nil {
		pb.Options = o
		memdb.Commit(h.t, h.sb, h.ops(h.sb.Where(pb).Update(pb, &pb.Options))...)
		return
	}
	h.mu.Lock()
	h.nextKey++
	key := h.nextKey
	h.mu.Unlock()
	ch := h.chassisUUID
	memdb.Commit(h.t, h.sb, h.ops(h.sb.Create(&sb.PortBinding{
		UUID: "pb", LogicalPort: lport, RequestedChassis: &ch, Options: o, TunnelKey: key, Datapath: h.datapathUUID,
	}))...)
}

// Unbind deletes lport's Port_Binding.
func (h *Harness) Unbind(lport string) {
	h.t.Helper()
	pb := h.binding(lport)
	if pb == nil {
		h.t.Fatalf("providertest: harness: Unbind(%q): no such Port_Binding", lport)
	}
	memdb.Commit(h.t, h.sb, h.ops(h.sb.Where(pb).Delete())...)
}

func (h *Harness) binding(lport string) *sb.PortBinding {
	for _, r := range h.sb.Cache().Table(sb.PortBindingTable).RowsShallow() {
		if pb := r.(*sb.PortBinding); pb.LogicalPort == lport {
			c := *pb
			return &c
		}
	}
	return nil
}

// Interface returns the Interface row the sidecar plugged for lport, if
// any: one with external_ids:iface-id=lport and ovn-plugged set.
func (h *Harness) Interface(lport string) (vswitch.Interface, bool) {
	for _, r := range h.ovs.Cache().Table(vswitch.InterfaceTable).RowsShallow() {
		i := r.(*vswitch.Interface)
		if i.ExternalIDs[plan.ExtIfaceID] == lport && i.ExternalIDs[plan.ExtOvnPlugged] != "" {
			return *i, true
		}
	}
	return vswitch.Interface{}, false
}

// onBridge reports whether iface is in a Port of the integration bridge.
func (h *Harness) onBridge(ifaceUUID string) bool {
	br, ok := h.ovs.Cache().Table(vswitch.BridgeTable).Row(h.bridgeUUID).(*vswitch.Bridge)
	if !ok {
		return false
	}
	for _, pu := range br.Ports {
		if p, ok := h.ovs.Cache().Table(vswitch.PortTable).Row(pu).(*vswitch.Port); ok {
			for _, iu := range p.Interfaces {
				if iu == ifaceUUID {
					return true
				}
			}
		}
	}
	return false
}

// Status returns the engine's status of lport, as ovn-vif-sidecar status
// shows it.
func (h *Harness) Status(lport string) (sidecar.PortStatus, bool) {
	for _, ps := range h.eng.Ports() {
		if ps.LogicalPort == lport {
			return ps, true
		}
	}
	return sidecar.PortStatus{}, false
}

// WaitPlugged waits until lport is plugged (its Interface is on the
// integration bridge and the engine reports it plugged) and returns the
// Interface row.
func (h *Harness) WaitPlugged(lport string) vswitch.Interface {
	h.t.Helper()
	var iface vswitch.Interface
	plugged := func() bool {
		i, ok := h.Interface(lport)
		ps, _ := h.Status(lport)
		iface = i
		return ok && h.onBridge(i.UUID) && ps.State == plan.StatePlugged && ps.Interface == i.Name
	}
	deadline := time.Now().Add(10 * time.Second)
	for !plugged() {
		if time.Now().After(deadline) {
			h.t.Fatalf("providertest: harness: timed out waiting for %s to be plugged; its status: %s", lport, h.describe(lport))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return iface
}

// WaitUnplugged waits until no plugged Interface carries lport.
func (h *Harness) WaitUnplugged(lport string) {
	h.t.Helper()
	h.wait(lport+" to be unplugged", func() bool {
		_, ok := h.Interface(lport)
		return !ok
	})
}

// WaitState waits until the engine reports lport in state and returns its
// status (the reason says why, for pending and error).
func (h *Harness) WaitState(lport string, state plan.State) sidecar.PortStatus {
	h.t.Helper()
	var ps sidecar.PortStatus
	h.wait(fmt.Sprintf("%s to be %s", lport, state), func() bool {
		ps, _ = h.Status(lport)
		return ps.State == state
	})
	return ps
}

func (h *Harness) describe(lport string) string {
	if ps, ok := h.Status(lport); ok {
		return fmt.Sprintf("%s %q", ps.State, ps.Reason)
	}
	return "none"
}
