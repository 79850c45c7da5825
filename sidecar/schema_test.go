package sidecar

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	fullvs "github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
)

// oldPortBinding is a Port_Binding of a Southbound older than 22.03:
// no requested_chassis.
type oldPortBinding struct {
	UUID        string            `ovsdb:"_uuid"`
	LogicalPort string            `ovsdb:"logical_port"`
	Options     map[string]string `ovsdb:"options"`
	ParentPort  *string           `ovsdb:"parent_port"`
	Type        string            `ovsdb:"type"`
	Datapath    string            `ovsdb:"datapath"`
	TunnelKey   int               `ovsdb:"tunnel_key"`
}

// serveOldSB serves a Southbound whose schema, 20.16.1, lacks
// Port_Binding.requested_chassis.
func serveOldSB(t *testing.T, sock string) {
	schema := sb.Schema()
	schema.Version = "20.16.1"
	pb := schema.Tables[sb.PortBindingTable]
	cols := map[string]*ovsdb.ColumnSchema{}
	for name, c := range pb.Columns {
		if name != "requested_chassis" {
			cols[name] = c
		}
	}
	pb.Columns = cols
	schema.Tables[sb.PortBindingTable] = pb
	memdb.Serve(t, "OVN_Southbound", func() (model.ClientDBModel, error) {
		return model.NewClientDBModel("OVN_Southbound", map[string]model.Model{
			sb.ChassisTable: &sb.Chassis{}, sb.PortBindingTable: &oldPortBinding{}, sb.SSLTable: &sb.SSL{},
		})
	}, schema, sock)
}

// A Southbound older than the floor: one log line naming the schema, the
// column and the release needed, the reason in /readyz and /health, the
// version in the metric; the sidecar keeps retrying.
func TestSchemaBelowFloor(t *testing.T) {
	logs := captureKlog(t)
	dir := t.TempDir()
	ovsSock, sbSock := filepath.Join(dir, "db.sock"), filepath.Join(dir, "sb.sock")
	memdb.Serve(t, "Open_vSwitch", fullvs.FullDatabaseModel, fullvs.Schema(), ovsSock)
	serveOldSB(t, sbSock)
	ovs := memdb.Dial(t, vswitch.FullDatabaseModel, ovsSock)
	ops := must[[]ovsdb.Operation](t)(ovs.Create(&vswitch.Bridge{UUID: "br", Name: "br-int", DatapathType: "netdev"}))
	ops = append(ops, must[[]ovsdb.Operation](t)(ovs.Create(&vswitch.OpenvSwitch{
		UUID: "ovs", Bridges: []string{"br"},
		ExternalIDs: map[string]string{"system-id": "chassis-1", "ovn-remote": "unix:" + sbSock},
	}))...)
	memdb.Commit(t, ovs, ops...)

	reg := providers.NewRegistry(nil)
	if err := reg.Register(dummy.New()); err != nil {
		t.Fatal(err)
	}
	promReg := prometheus.NewRegistry()
	e, err := New(Config{OVSRemote: "unix:" + ovsSock, Registry: reg, Metrics: NewMetrics(promReg)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	const want = "OVN_Southbound schema 20.16.1 lacks Port_Binding.requested_chassis: OVN 22.03 or later is needed"
	waitFor(t, "the Southbound refused", 10*time.Second, func() bool { return e.Health().SB.Unsupported == want })
	h := e.Health()
	if h.SB.Connected || h.SB.Schema != "OVN_Southbound 20.16.1" || !h.OVS.Connected || h.OVS.Schema != "Open_vSwitch 8.3.1" {
		t.Errorf("health = %+v %+v, want OVS connected to 8.3.1 and SB refused at 20.16.1", h.OVS, h.SB)
	}
	code, body := readyz(t, e)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "\nsb database not supported: "+want+"\n") ||
		!strings.Contains(body, `ovs_schema="Open_vSwitch 8.3.1" sb_schema="OVN_Southbound 20.16.1"`) {
		t.Errorf("/readyz = %d %q", code, body)
	}
	if got := schemaInfo(t, promReg); got != "db=ovs,version=8.3.1 1; db=sb,version=20.16.1 1; " {
		t.Errorf("ovn_vif_sidecar_db_schema_info: %s", got)
	}
	// Retries go on (250 ms, 500 ms, 1 s, ...), the line is not repeated.
	waitFor(t, "four attempts", 10*time.Second, func() bool { return e.sb.Attempts() >= 4 })
	if n := logs.count(want); n != 1 {
		t.Errorf("the floor line was logged %d times in %d attempts, want once", n, e.sb.Attempts())
	}
	if n := logs.count("Mapper Error"); n != 0 {
		t.Errorf("libovsdb's validation error reached the log %d times; the floor line says it", n)
	}
}

// schemaInfo renders the db_schema_info series, sorted.
func schemaInfo(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != "ovn_vif_sidecar_db_schema_info" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out = append(out, fmt.Sprintf("%s %v; ", strings.Join(labels, ","), m.GetGauge().GetValue()))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "")
}

// Each database's schema is logged at connect, shown in /health and
// exported as db_schema_info.
func TestSchemaSaidAtConnect(t *testing.T) {
	logs := captureKlog(t)
	m := newMemStack(t)
	promReg := prometheus.NewRegistry()
	e, _ := m.startEngineWith(t, Config{Metrics: NewMetrics(promReg)}, dummy.New())
	for _, want := range []string{
		`"OVSDB connected and synced" db="ovs" endpoint="unix:` + m.ovsSock + `" schema="Open_vSwitch 8.3.1"`,
		`"OVSDB connected and synced" db="sb" endpoint="unix:` + m.sbSock + `" schema="OVN_Southbound 20.27.0"`,
	} {
		if logs.count(want) != 1 {
			t.Errorf("the log lacks %s", want)
		}
	}
	if h := e.Health(); h.OVS.Schema != "Open_vSwitch 8.3.1" || h.SB.Schema != "OVN_Southbound 20.27.0" || h.SB.Unsupported != "" {
		t.Errorf("health = %+v %+v", h.OVS, h.SB)
	}
	if got := schemaInfo(t, promReg); got != "db=ovs,version=8.3.1 1; db=sb,version=20.27.0 1; " {
		t.Errorf("ovn_vif_sidecar_db_schema_info: %s", got)
	}
}

// oldInterface is an Interface without mtu_request.
type oldInterface struct {
	UUID        string            `ovsdb:"_uuid"`
	Name        string            `ovsdb:"name"`
	Type        string            `ovsdb:"type"`
	Options     map[string]string `ovsdb:"options"`
	ExternalIDs map[string]string `ovsdb:"external_ids"`
	Error       *string           `ovsdb:"error"`
}

// An Open_vSwitch database lacking a needed column names the oldest OVS.
func TestOVSSchemaBelowFloor(t *testing.T) {
	schema := vswitch.Schema()
	schema.Version = "7.16.0"
	iface := schema.Tables[vswitch.InterfaceTable]
	cols := map[string]*ovsdb.ColumnSchema{}
	for name, c := range iface.Columns {
		if name != "mtu_request" {
			cols[name] = c
		}
	}
	iface.Columns = cols
	schema.Tables[vswitch.InterfaceTable] = iface
	sock := filepath.Join(t.TempDir(), "db.sock")
	memdb.Serve(t, "Open_vSwitch", func() (model.ClientDBModel, error) {
		return model.NewClientDBModel("Open_vSwitch", map[string]model.Model{
			vswitch.OpenvSwitchTable: &vswitch.OpenvSwitch{}, vswitch.BridgeTable: &vswitch.Bridge{},
			vswitch.PortTable: &vswitch.Port{}, vswitch.InterfaceTable: &oldInterface{}, vswitch.SSLTable: &vswitch.SSL{},
		})
	}, schema, sock)
	reg := providers.NewRegistry(nil)
	if err := reg.Register(dummy.New()); err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{OVSRemote: "unix:" + sock, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	const want = "Open_vSwitch schema 7.16.0 lacks Interface.mtu_request: Open vSwitch 2.17 or later is needed"
	waitFor(t, "the OVS database refused", 10*time.Second, func() bool { return e.Health().OVS.Unsupported == want })
	if code, body := readyz(t, e); code != http.StatusServiceUnavailable || !strings.Contains(body, "\novs database not supported: "+want+"\n") {
		t.Errorf("/readyz = %d %q", code, body)
	}
}
