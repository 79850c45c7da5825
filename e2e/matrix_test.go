//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// releasePair is one OVN Southbound schema and one Open vSwitch schema
// from ovsdbmodel/releases, served together.
type releasePair struct {
	OVN, OVS string // release tags: v22.03.0, main
	// Why the pair: the Southbound axis pairs each OVN with the OVS of
	// its era; the OVS axis pairs each OVS with OVN 23.03.
	Axis string
}

// releaseMatrix is what `make test` proves and README's "Supported
// versions" table lists (TestSupportedVersionsTable checks it).
var releaseMatrix = []releasePair{
	{"v22.03.0", "v2.17.0", "OVN"}, // Ubuntu 22.04
	{"v22.09.0", "v2.17.0", "OVN"}, // shipped with OVS 3.0, which has 2.17's tables
	{"v22.12.0", "v3.1.0", "OVN"},
	{"v23.03.0", "v3.1.0", "OVN"}, // Debian 12
	{"v23.09.0", "v3.2.0", "OVN"},
	{"v24.03.0", "v3.3.0", "OVN"}, // Ubuntu 24.04
	{"v24.09.0", "v3.4.0", "OVN"},
	{"v25.03.0", "v3.5.0", "OVN"},
	{"v25.09.0", "v3.6.0", "OVN"},
	{"main", "main", "OVN"},
	{"v23.03.0", "v2.17.0", "OVS"},
	{"v23.03.0", "v3.2.0", "OVS"},
	{"v23.03.0", "v3.3.0", "OVS"},
	{"v23.03.0", "v3.4.0", "OVS"},
	{"v23.03.0", "v3.5.0", "OVS"},
	{"v23.03.0", "v3.6.0", "OVS"},
	{"v23.03.0", "main", "OVS"},
}

func releasesDir(t testing.TB) string {
	t.Helper()
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "ovsdbmodel", "releases")
}

// TestReleaseMatrix runs the sidecar against real ovsdb-server processes
// serving each pair's schemas, with the Southbound rows written directly
// (no northd, no ovn-controller, no ovs-vswitchd): plug, MTU update, a
// restart that writes nothing, a conflict with an unmarked interface,
// unplug.
func TestReleaseMatrix(t *testing.T) {
	bin := os.Getenv(stack.EnvSidecarBin)
	if bin == "" {
		t.Fatalf("%s is not set: run make build and point it at bin/ovn-vif-sidecar", stack.EnvSidecarBin)
	}
	for _, cmd := range []string{"ovsdb-tool", "ovsdb-server", "ovsdb-client"} {
		if _, err := exec.LookPath(cmd); err != nil {
			t.Fatalf("%s not found: run make deps", cmd)
		}
	}
	dir := releasesDir(t)
	for _, p := range releaseMatrix {
		t.Run("ovn-"+p.OVN+"+ovs-"+p.OVS, func(t *testing.T) {
			t.Parallel()
			m := startMatrixStack(t, bin,
				filepath.Join(dir, "ovn-sb-"+p.OVN+".ovsschema"),
				filepath.Join(dir, "vswitch-"+p.OVS+".ovsschema"))
			m.run(t)
		})
	}
}

// matrixStack is two ovsdb-servers and a sidecar in a temp dir.
type matrixStack struct {
	dir, bin    string
	ovs, sb     string // unix socket paths
	httpAddr    string
	sidecar     *exec.Cmd
	sidecarDone chan struct{}
	dp, chassis string // SB row UUIDs
}

func startMatrixStack(t testing.TB, bin, sbSchema, ovsSchema string) *matrixStack {
	t.Helper()
	dir, err := os.MkdirTemp("", "ovs-vif-matrix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() && os.Getenv(stack.EnvKeep) != "" {
			t.Logf("kept %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	m := &matrixStack{dir: dir, bin: bin, ovs: filepath.Join(dir, "db.sock"), sb: filepath.Join(dir, "sb.sock")}
	m.serve(t, "ovs", ovsSchema, m.ovs)
	m.serve(t, "sb", sbSchema, m.sb)
	return m
}

// serve creates a database from schema and runs an ovsdb-server for it
// until the test ends.
func (m *matrixStack) serve(t testing.TB, name, schema, sock string) {
	t.Helper()
	db := filepath.Join(m.dir, name+".db")
	if out, err := exec.Command("ovsdb-tool", "create", db, schema).CombinedOutput(); err != nil {
		t.Fatalf("ovsdb-tool create %s: %v\n%s", schema, err, out)
	}
	cmd := exec.Command("ovsdb-server", "--remote=punix:"+sock,
		"--unixctl="+filepath.Join(m.dir, name+".ctl"), "--log-file="+filepath.Join(m.dir, name+".log"),
		"--pidfile="+filepath.Join(m.dir, name+".pid"), db)
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+m.dir, "OVS_LOGDIR="+m.dir, "OVS_DBDIR="+m.dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitUntil(t, 10*time.Second, name+" ovsdb-server listening", func() error {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err
	})
}

// transact runs one transaction and fails the test on any error.
func transact(t testing.TB, sock, db string, ops ...map[string]any) []map[string]any {
	t.Helper()
	req, _ := json.Marshal(append([]any{db}, anySlice(ops)...))
	out, err := exec.Command("ovsdb-client", "transact", "unix:"+sock, string(req)).CombinedOutput()
	if err != nil {
		t.Fatalf("ovsdb-client transact %s: %v\n%s", req, err, out)
	}
	var res []map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ovsdb-client transact: %v\n%s", err, out)
	}
	for i, r := range res {
		if r != nil && r["error"] != nil {
			t.Fatalf("transact %s: operation %d: %v", req, i, r)
		}
	}
	return res
}

func anySlice(ops []map[string]any) []any {
	out := make([]any, len(ops))
	for i, o := range ops {
		out[i] = o
	}
	return out
}

func ovsMap(kv map[string]string) []any {
	pairs := []any{}
	for k, v := range kv {
		pairs = append(pairs, []any{k, v})
	}
	return []any{"map", pairs}
}

func uuidOf(res map[string]any) string {
	u, _ := res["uuid"].([]any)
	if len(u) != 2 {
		return ""
	}
	s, _ := u[1].(string)
	return s
}

// versions maps each row of the OVS tables the sidecar may write to its
// _version: a row written, added or removed changes the map.
func (m *matrixStack) versions(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range []string{"Open_vSwitch", "Bridge", "Port", "Interface"} {
		res := transact(t, m.ovs, "Open_vSwitch", map[string]any{"op": "select", "table": table, "where": []any{}, "columns": []string{"_uuid", "_version"}})
		rows, _ := res[0]["rows"].([]any)
		for _, r := range rows {
			row := r.(map[string]any)
			out[table+" "+uuidOf(map[string]any{"uuid": row["_uuid"]})] = fmt.Sprint(row["_version"])
		}
	}
	return out
}

// iface returns the Interface row named name, or nil.
func (m *matrixStack) iface(t testing.TB, name string) map[string]any {
	t.Helper()
	res := transact(t, m.ovs, "Open_vSwitch", map[string]any{"op": "select", "table": "Interface",
		"where": []any{[]any{"name", "==", name}}})
	rows, _ := res[0]["rows"].([]any)
	if len(rows) == 0 {
		return nil
	}
	return rows[0].(map[string]any)
}

func (m *matrixStack) setup(t testing.TB) {
	t.Helper()
	transact(t, m.ovs, "Open_vSwitch",
		map[string]any{"op": "insert", "table": "Bridge", "uuid-name": "br", "row": map[string]any{"name": "br-int", "datapath_type": "netdev"}},
		map[string]any{"op": "insert", "table": "Open_vSwitch", "row": map[string]any{
			"bridges":      []any{"named-uuid", "br"},
			"external_ids": ovsMap(map[string]string{"system-id": "ch1", "ovn-remote": "unix:" + m.sb, "hostname": "dpu1"}),
		}})
	res := transact(t, m.sb, "OVN_Southbound",
		map[string]any{"op": "insert", "table": "Encap", "uuid-name": "enc", "row": map[string]any{"type": "geneve", "ip": "192.0.2.1", "chassis_name": "ch1"}},
		map[string]any{"op": "insert", "table": "Chassis", "row": map[string]any{"name": "ch1", "hostname": "dpu1", "encaps": []any{"named-uuid", "enc"}}},
		map[string]any{"op": "insert", "table": "Datapath_Binding", "row": map[string]any{"tunnel_key": 1}})
	m.chassis, m.dp = uuidOf(res[1]), uuidOf(res[2])
}

// bind inserts a Port_Binding requesting a dummy plug on ch1.
func (m *matrixStack) bind(t testing.TB, lport string, key int, mtu string) {
	t.Helper()
	transact(t, m.sb, "OVN_Southbound", map[string]any{"op": "insert", "table": "Port_Binding", "row": map[string]any{
		"logical_port": lport, "tunnel_key": key, "datapath": []any{"uuid", m.dp},
		"requested_chassis": []any{"uuid", m.chassis},
		"options":           ovsMap(bindingOptions(mtu)),
	}})
}

func bindingOptions(mtu string) map[string]string {
	o := map[string]string{"requested-chassis": "ch1", "vif-plug-type": "dummy"}
	if mtu != "" {
		o["vif-plug-mtu-request"] = mtu
	}
	return o
}

func (m *matrixStack) startSidecar(t testing.TB) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.httpAddr = l.Addr().String()
	l.Close()
	log, err := os.OpenFile(filepath.Join(m.dir, "sidecar.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(m.bin, "--ovs-db=unix:"+m.ovs, "--chassis=ch1", "--http-addr="+m.httpAddr, "-v=2", "--logtostderr")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m.sidecar, m.sidecarDone = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(m.sidecarDone) }()
	t.Cleanup(func() { m.stopSidecar(t) })
}

func (m *matrixStack) stopSidecar(t testing.TB) {
	if m.sidecar == nil {
		return
	}
	_ = m.sidecar.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.sidecarDone:
	case <-time.After(10 * time.Second):
		_ = m.sidecar.Process.Kill()
		<-m.sidecarDone
		t.Errorf("the sidecar did not stop within 10s of SIGTERM")
	}
	m.sidecar = nil
}

func (m *matrixStack) get(path string, v any) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.httpAddr+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if v != nil {
		if err := json.Unmarshal(buf.Bytes(), v); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}

// portState is the sidecar's state for lport, from /ports.
func (m *matrixStack) portState(lport string) (string, error) {
	var ports []struct {
		LogicalPort string `json:"logical_port"`
		State       string `json:"state"`
	}
	if _, err := m.get("/ports", &ports); err != nil {
		return "", err
	}
	for _, p := range ports {
		if p.LogicalPort == lport {
			return p.State, nil
		}
	}
	return "", fmt.Errorf("%s not in /ports", lport)
}

func (m *matrixStack) sidecarLog() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, "sidecar.log"))
	lines := strings.Split(string(b), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mtuOf(row map[string]any) string {
	// An empty set is ["set", []]; one integer is the integer itself.
	if v, ok := row["mtu_request"].(float64); ok {
		return fmt.Sprint(int(v))
	}
	return ""
}

func (m *matrixStack) run(t testing.TB) {
	m.setup(t)
	m.bind(t, "lp1", 1, "1400")
	m.startSidecar(t)
	defer func() {
		if t.Failed() {
			t.Logf("sidecar log tail:\n%s", m.sidecarLog())
		}
	}()

	// Plug.
	waitUntil(t, 30*time.Second, "lp1 plugged with mtu_request 1400", func() error {
		i := m.iface(t, "lp1")
		if i == nil || mtuOf(i) != "1400" {
			return fmt.Errorf("interface %v", i)
		}
		return nil
	})
	plugged := uuidOf(map[string]any{"uuid": m.iface(t, "lp1")["_uuid"]})

	// MTU update, in place.
	transact(t, m.sb, "OVN_Southbound", map[string]any{"op": "update", "table": "Port_Binding",
		"where": []any{[]any{"logical_port", "==", "lp1"}}, "row": map[string]any{"options": ovsMap(bindingOptions("1500"))}})
	waitUntil(t, 30*time.Second, "lp1's mtu_request 1500", func() error {
		if i := m.iface(t, "lp1"); i == nil || mtuOf(i) != "1500" {
			return fmt.Errorf("interface %v", i)
		}
		return nil
	})
	if now := uuidOf(map[string]any{"uuid": m.iface(t, "lp1")["_uuid"]}); now != plugged {
		t.Errorf("the MTU update replaced lp1's Interface (%s, was %s)", now, plugged)
	}

	// A restart writes nothing: every OVS row keeps its _version.
	waitUntil(t, 30*time.Second, "lp1 plugged in /ports", func() error {
		if s, err := m.portState("lp1"); err != nil || s != "plugged" {
			return fmt.Errorf("state %q %v", s, err)
		}
		return nil
	})
	m.stopSidecar(t)
	before := m.versions(t)
	m.startSidecar(t)
	waitUntil(t, 30*time.Second, "ready after the restart, lp1 plugged", func() error {
		if code, err := m.get("/readyz", nil); err != nil || code != http.StatusOK {
			return fmt.Errorf("/readyz %d %v", code, err)
		}
		if s, err := m.portState("lp1"); err != nil || s != "plugged" {
			return fmt.Errorf("state %q %v", s, err)
		}
		return nil
	})
	// A late write would come within a pass or two.
	time.Sleep(time.Second)
	if after := m.versions(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the restart wrote to OVS:\nbefore %v\nafter  %v", before, after)
	}

	// A conflict: an interface named as lp2's would be, not ours.
	transact(t, m.ovs, "Open_vSwitch",
		map[string]any{"op": "insert", "table": "Interface", "uuid-name": "i", "row": map[string]any{"name": "lp2", "type": "internal"}},
		map[string]any{"op": "insert", "table": "Port", "uuid-name": "p", "row": map[string]any{"name": "lp2", "interfaces": []any{"named-uuid", "i"}}},
		map[string]any{"op": "mutate", "table": "Bridge", "where": []any{[]any{"name", "==", "br-int"}},
			"mutations": []any{[]any{"ports", "insert", []any{"set", []any{[]any{"named-uuid", "p"}}}}}})
	foreign := m.versions(t)
	m.bind(t, "lp2", 2, "")
	waitUntil(t, 30*time.Second, "lp2 in conflict", func() error {
		if s, err := m.portState("lp2"); err != nil || s != "conflict" {
			return fmt.Errorf("state %q %v", s, err)
		}
		return nil
	})

	// Unplug lp1; the foreign lp2 stays as it was.
	transact(t, m.sb, "OVN_Southbound", map[string]any{"op": "delete", "table": "Port_Binding",
		"where": []any{[]any{"logical_port", "==", "lp1"}}})
	waitUntil(t, 30*time.Second, "lp1 unplugged", func() error {
		if i := m.iface(t, "lp1"); i != nil {
			return fmt.Errorf("interface lp1 still there")
		}
		return nil
	})
	after := m.versions(t)
	lp2 := m.iface(t, "lp2")
	if lp2 == nil {
		t.Fatal("the unmarked interface lp2 was deleted")
	}
	for k, v := range foreign {
		// Every row but lp1's and br-int (whose ports lost lp1's) is as the
		// other agent left it.
		if k == "Interface "+plugged || strings.HasPrefix(k, "Bridge ") || strings.HasPrefix(k, "Port ") && after[k] == "" {
			continue
		}
		if after[k] != v {
			t.Errorf("%s: _version %q, was %q before lp2's binding", k, after[k], v)
		}
	}
	if k := "Interface " + uuidOf(map[string]any{"uuid": lp2["_uuid"]}); after[k] == "" || after[k] != foreign[k] {
		t.Errorf("the unmarked interface lp2 was written: _version %s, was %s", after[k], foreign[k])
	}
}

// supportedVersionsTable renders releaseMatrix as README's table.
func supportedVersionsTable(t testing.TB) string {
	t.Helper()
	version := func(file string) string {
		b, err := os.ReadFile(filepath.Join(releasesDir(t), file))
		if err != nil {
			t.Fatal(err)
		}
		var s struct{ Version string }
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		return s.Version
	}
	release := func(tag string) string {
		if tag == "main" {
			return "main"
		}
		return strings.TrimPrefix(tag, "v")
	}
	var b strings.Builder
	b.WriteString("| OVN (Southbound schema) | Open vSwitch (schema) |\n|---|---|\n")
	for _, p := range releaseMatrix {
		fmt.Fprintf(&b, "| %s (%s) | %s (%s) |\n",
			release(p.OVN), version("ovn-sb-"+p.OVN+".ovsschema"), release(p.OVS), version("vswitch-"+p.OVS+".ovsschema"))
	}
	return b.String()
}

// README's "Supported versions" lists exactly the pairs TestReleaseMatrix
// runs.
func TestSupportedVersionsTable(t *testing.T) {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Supported versions\n")
	if !ok {
		t.Fatal(`README.md has no "## Supported versions" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	if want := supportedVersionsTable(t); !strings.Contains(section, want) {
		t.Errorf("README's Supported versions table is not the release matrix; it should hold:\n%s", want)
	}
}

// A Southbound older than 22.03 (doctored: 22.03's schema without
// Port_Binding.requested_chassis, version 20.16.1) is refused with one
// clear log line, a /readyz reason and the version in the metric; once
// the database is converted to 22.03 under the running sidecar, it plugs.
func TestSchemaFloor(t *testing.T) {
	bin := os.Getenv(stack.EnvSidecarBin)
	if bin == "" {
		t.Fatalf("%s is not set: run make build and point it at bin/ovn-vif-sidecar", stack.EnvSidecarBin)
	}
	dir := releasesDir(t)
	b, err := os.ReadFile(filepath.Join(dir, "ovn-sb-v22.03.0.ovsschema"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	schema["version"] = "20.16.1"
	delete(schema["tables"].(map[string]any)["Port_Binding"].(map[string]any)["columns"].(map[string]any), "requested_chassis")
	old := filepath.Join(t.TempDir(), "ovn-sb-old.ovsschema")
	b, _ = json.Marshal(schema)
	if err := os.WriteFile(old, b, 0o644); err != nil {
		t.Fatal(err)
	}

	m := startMatrixStack(t, bin, old, filepath.Join(dir, "vswitch-v2.17.0.ovsschema"))
	m.setup(t)
	m.startSidecar(t)
	defer func() {
		if t.Failed() {
			t.Logf("sidecar log tail:\n%s", m.sidecarLog())
		}
	}()
	const line = "OVN_Southbound schema 20.16.1 lacks Port_Binding.requested_chassis: OVN 22.03 or later is needed"
	waitUntil(t, 30*time.Second, "/readyz to give the floor as the reason", func() error {
		code, body, err := m.getText("/readyz")
		if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, "\nsb database not supported: "+line+"\n") {
			return fmt.Errorf("/readyz %d %q %v", code, body, err)
		}
		return nil
	})
	_, metrics, err := m.getText("/metrics")
	if err != nil || !strings.Contains(metrics, `ovn_vif_sidecar_db_schema_info{db="sb",version="20.16.1"} 1`) ||
		!strings.Contains(metrics, `ovn_vif_sidecar_db_schema_info{db="ovs",version="8.3.0"} 1`) {
		t.Errorf("/metrics lacks the schema versions (%v)", err)
	}
	// Several attempts later, still one line.
	time.Sleep(3 * time.Second)
	log, _ := os.ReadFile(filepath.Join(m.dir, "sidecar.log"))
	if n := strings.Count(string(log), line); n != 1 {
		t.Errorf("the floor line was logged %d times, want once", n)
	}
	if strings.Contains(string(log), "Mapper Error") {
		t.Error("libovsdb's validation error reached the log; the floor line says it")
	}

	// The database is upgraded under the sidecar: it connects and plugs.
	if out, err := exec.Command("ovsdb-client", "convert", "unix:"+m.sb, filepath.Join(dir, "ovn-sb-v22.03.0.ovsschema")).CombinedOutput(); err != nil {
		t.Fatalf("ovsdb-client convert: %v\n%s", err, out)
	}
	m.bind(t, "lp1", 1, "1400")
	waitUntil(t, 30*time.Second, "lp1 plugged after the upgrade", func() error {
		if i := m.iface(t, "lp1"); i == nil || mtuOf(i) != "1400" {
			return fmt.Errorf("interface %v", i)
		}
		return nil
	})
}

func (m *matrixStack) getText(path string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.httpAddr+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.String(), nil
}

// BenchmarkSidecarRSS1000Local100kForeign: the sidecar's resident memory
// once it has plugged 1000 bindings of its chassis, on a Southbound (OVN
// 23.03 schema) that also holds 100,000 bindings of another chassis.
// Each iteration starts the sidecar on an empty bridge.
// `go test -tags e2e -run XXX -bench SidecarRSS -benchtime=3x ./e2e/`.
func BenchmarkSidecarRSS1000Local100kForeign(b *testing.B) {
	bin := os.Getenv(stack.EnvSidecarBin)
	if bin == "" {
		b.Fatalf("%s is not set: run make build and point it at bin/ovn-vif-sidecar", stack.EnvSidecarBin)
	}
	dir := releasesDir(b)
	m := startMatrixStack(b, bin, filepath.Join(dir, "ovn-sb-v23.03.0.ovsschema"), filepath.Join(dir, "vswitch-v3.1.0.ovsschema"))
	m.setup(b)
	// The foreign chassis and its bindings, on datapaths of their own
	// (tunnel keys are unique per datapath and at most 32767).
	res := transact(b, m.sb, "OVN_Southbound",
		map[string]any{"op": "insert", "table": "Encap", "uuid-name": "enc", "row": map[string]any{"type": "geneve", "ip": "192.0.2.2", "chassis_name": "ch2"}},
		map[string]any{"op": "insert", "table": "Chassis", "row": map[string]any{"name": "ch2", "hostname": "dpu2", "encaps": []any{"named-uuid", "enc"}}})
	ch2 := uuidOf(res[1])
	const foreign, perDatapath, batch = 100000, 25000, 300
	var dp string
	var ops []map[string]any
	for i := range foreign {
		if i%perDatapath == 0 {
			dp = uuidOf(transact(b, m.sb, "OVN_Southbound", map[string]any{"op": "insert", "table": "Datapath_Binding", "row": map[string]any{"tunnel_key": 2 + i/perDatapath}})[0])
		}
		ops = append(ops, map[string]any{"op": "insert", "table": "Port_Binding", "row": map[string]any{
			"logical_port": fmt.Sprintf("f%d", i), "tunnel_key": 1 + i%perDatapath, "datapath": []any{"uuid", dp},
			"requested_chassis": []any{"uuid", ch2},
			"options":           ovsMap(map[string]string{"requested-chassis": "ch2", "vif-plug-type": "dummy"}),
			"external_ids":      ovsMap(map[string]string{"neutron:device_owner": "compute:nova", "neutron:port_name": fmt.Sprintf("port-%d", i)}),
		}})
		// One argument of ovsdb-client is at most 128 KiB.
		if len(ops) == batch {
			transact(b, m.sb, "OVN_Southbound", ops...)
			ops = nil
		}
	}
	for i := range 1000 {
		ops = append(ops, map[string]any{"op": "insert", "table": "Port_Binding", "row": map[string]any{
			"logical_port": fmt.Sprintf("l%d", i), "tunnel_key": 1 + i, "datapath": []any{"uuid", m.dp},
			"requested_chassis": []any{"uuid", m.chassis},
			"options":           ovsMap(bindingOptions("1400")),
		}})
		if len(ops) == batch {
			transact(b, m.sb, "OVN_Southbound", ops...)
			ops = nil
		}
	}
	transact(b, m.sb, "OVN_Southbound", ops...)

	plugged := func() int {
		res := transact(b, m.ovs, "Open_vSwitch", map[string]any{"op": "select", "table": "Interface", "where": []any{}, "columns": []string{"name"}})
		rows, _ := res[0]["rows"].([]any)
		return len(rows)
	}
	var rss []float64
	for b.Loop() {
		b.StopTimer()
		m.stopSidecar(b)
		// An empty bridge: OVS collects the Ports and Interfaces.
		transact(b, m.ovs, "Open_vSwitch", map[string]any{"op": "update", "table": "Bridge",
			"where": []any{[]any{"name", "==", "br-int"}}, "row": map[string]any{"ports": []any{"set", []any{}}}})
		b.StartTimer()
		m.startSidecar(b)
		waitUntil(b, 2*time.Minute, "1000 plugged", func() error {
			if n := plugged(); n < 1000 {
				return fmt.Errorf("%d plugged", n)
			}
			return nil
		})
		b.StopTimer()
		// Settled: the status is written and the dump released.
		time.Sleep(3 * time.Second)
		kb, err := vmRSS(m.sidecar.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		rss = append(rss, float64(kb))
		b.StartTimer()
	}
	var sum float64
	for _, v := range rss {
		sum += v
	}
	b.ReportMetric(sum/float64(len(rss))/1024, "rss-MiB")
}

// vmRSS reads a process's resident set size in KiB.
func vmRSS(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int
			_, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			return kb, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
