package sidecar

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	fullsb "github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	fullvs "github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// memStack is an in-process OVS and SB pair on internal/memdb. It honours
// monitor conditions but does no garbage collection, so it exercises the
// engine's logic, not OVSDB's; e2e/ does the real thing.
type memStack struct {
	ovsSock, sbSock string
	ovs, sb         client.Client // test-side clients
	chassisUUID     string
	bridgeUUID      string
	tunnelKeys      int // last Port_Binding tunnel_key used
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func newMemStack(t testing.TB) *memStack {
	dir := t.TempDir()
	m := &memStack{ovsSock: filepath.Join(dir, "db.sock"), sbSock: filepath.Join(dir, "sb.sock")}
	memdb.Serve(t, "Open_vSwitch", fullvs.FullDatabaseModel, fullvs.Schema(), m.ovsSock)
	memdb.Serve(t, "OVN_Southbound", fullsb.FullDatabaseModel, fullsb.Schema(), m.sbSock)
	m.ovs = memdb.Dial(t, vswitch.FullDatabaseModel, m.ovsSock)
	m.sb = memdb.Dial(t, sb.FullDatabaseModel, m.sbSock)

	ops := must[[]ovsdb.Operation](t)(m.ovs.Create(&vswitch.Bridge{UUID: "br", Name: "br-int", DatapathType: "netdev"}))
	ops = append(ops, must[[]ovsdb.Operation](t)(m.ovs.Create(&vswitch.OpenvSwitch{
		UUID:        "ovs",
		Bridges:     []string{"br"},
		ExternalIDs: map[string]string{"system-id": "chassis-1", "ovn-remote": "unix:" + m.sbSock},
	}))...)
	res := memdb.Commit(t, m.ovs, ops...)
	m.bridgeUUID = res[0].UUID.GoUUID
	res = memdb.Commit(t, m.sb, must[[]ovsdb.Operation](t)(m.sb.Create(&sb.Chassis{UUID: "ch", Name: "chassis-1", Hostname: "dpu1"}))...)
	m.chassisUUID = res[0].UUID.GoUUID
	return m
}

// addBindings inserts Port_Bindings requesting this chassis in one
// transaction.
func (m *memStack) addBindings(t testing.TB, names []string, opts map[string]string) {
	t.Helper()
	m.addBindingsFor(t, m.chassisUUID, names, opts)
}

// addBindingsFor inserts Port_Bindings whose requested_chassis is the
// Chassis row ch, in one transaction.
func (m *memStack) addBindingsFor(t testing.TB, ch string, names []string, opts map[string]string) {
	t.Helper()
	var ops []ovsdb.Operation
	for i, n := range names {
		o := map[string]string{plan.OptPlugType: dummy.Type}
		for k, v := range opts {
			o[k] = v
		}
		// (datapath, tunnel_key) is unique.
		m.tunnelKeys++
		ops = append(ops, must[[]ovsdb.Operation](t)(m.sb.Create(&sb.PortBinding{
			UUID: fmt.Sprintf("pb%d", i), LogicalPort: n, RequestedChassis: &ch, Options: o, TunnelKey: m.tunnelKeys,
			Datapath: m.datapath(t),
		}))...)
	}
	memdb.Commit(t, m.sb, ops...)
}

var dpOnce sync.Map

// datapath returns a Datapath_Binding UUID; Port_Binding requires one.
func (m *memStack) datapath(t testing.TB) string {
	if v, ok := dpOnce.Load(m); ok {
		return v.(string)
	}
	// A raw insert: the slim model has no Datapath_Binding.
	res := memdb.Commit(t, m.sb, ovsdb.Operation{Op: ovsdb.OperationInsert, Table: fullsb.DatapathBindingTable, Row: ovsdb.Row{"tunnel_key": 1}})
	dpOnce.Store(m, res[0].UUID.GoUUID)
	return res[0].UUID.GoUUID
}

func (m *memStack) deleteBindings(t testing.TB, names []string) {
	t.Helper()
	var ops []ovsdb.Operation
	for _, n := range names {
		ops = append(ops, must[[]ovsdb.Operation](t)(m.sb.WhereCache(func(pb *sb.PortBinding) bool { return pb.LogicalPort == n }).Delete())...)
	}
	memdb.Commit(t, m.sb, ops...)
}

// plugged returns the test client's view of ovn-plugged interfaces.
func (m *memStack) plugged() map[string]*vswitch.Interface {
	out := map[string]*vswitch.Interface{}
	for _, r := range m.ovs.Cache().Table(vswitch.InterfaceTable).RowsShallow() {
		i := r.(*vswitch.Interface)
		if i.ExternalIDs[plan.ExtOvnPlugged] != "" {
			out[i.ExternalIDs[plan.ExtIfaceID]] = i
		}
	}
	return out
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startEngine runs an engine with the dummy provider against m.
func (m *memStack) startEngine(t testing.TB) (*Engine, context.CancelFunc) {
	t.Helper()
	return m.startEngineWith(t, Config{}, dummy.New())
}

// startEngineWith runs an engine with cfg and the given providers.
func (m *memStack) startEngineWith(t testing.TB, cfg Config, provs ...providers.Provider) (*Engine, context.CancelFunc) {
	t.Helper()
	reg := providers.NewRegistry(nil)
	for _, p := range provs {
		if err := reg.Register(p); err != nil {
			t.Fatal(err)
		}
	}
	cfg.OVSRemote, cfg.Registry = "unix:"+m.ovsSock, reg
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	waitFor(t, "engine primed", 10*time.Second, e.Primed)
	return e, stop
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// countingHandler counts Interface, Port and Bridge changes.
type countingHandler struct {
	mu sync.Mutex
	n  *int
}

func (c *countingHandler) bump(table string) {
	if table == vswitch.InterfaceTable || table == vswitch.PortTable || table == vswitch.BridgeTable {
		c.mu.Lock()
		*c.n++
		c.mu.Unlock()
	}
}
func (c *countingHandler) OnAdd(table string, _ model.Model)       { c.bump(table) }
func (c *countingHandler) OnUpdate(table string, _, _ model.Model) { c.bump(table) }
func (c *countingHandler) OnDelete(table string, _ model.Model)    { c.bump(table) }
