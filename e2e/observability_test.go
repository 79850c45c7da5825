//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// The operator-facing surface: /healthz, /readyz, /ports, the status
// subcommand and /metrics (docs/monitor.md). The helpers here, prefixed
// "op", are shared with ssl_test.go and cluster_test.go.

// opGet returns the status code and body of GET url.
func opGet(url string) (int, string, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// opMustGet is opGet failing the test if the sidecar does not answer.
func opMustGet(t *testing.T, s *stack.Stack, path string) (int, string) {
	t.Helper()
	code, body, err := opGet(s.SidecarURL() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return code, body
}

// opSample is one sample of the Prometheus text exposition format.
type opSample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

type opMetrics []opSample

// opScrape reads and parses the sidecar's /metrics.
func opScrape(t *testing.T, s *stack.Stack) opMetrics {
	t.Helper()
	code, body := opMustGet(t, s, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	m, err := opParseMetrics(body)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	return m
}

// opParseMetrics parses the text format: `name{k="v",...} value [ts]`.
func opParseMetrics(body string) (opMetrics, error) {
	var out opMetrics
	for n, line := range strings.Split(body, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		smp := opSample{Labels: map[string]string{}}
		i := strings.IndexAny(line, "{ ")
		if i <= 0 {
			return nil, fmt.Errorf("line %d: %q", n+1, line)
		}
		smp.Name, line = line[:i], line[i:]
		if line[0] == '{' {
			line = line[1:]
			for {
				line = strings.TrimLeft(line, ", ")
				if strings.HasPrefix(line, "}") {
					line = line[1:]
					break
				}
				k, rest, ok := strings.Cut(line, `="`)
				if !ok {
					return nil, fmt.Errorf("line %d: bad labels", n+1)
				}
				var v strings.Builder
				j := 0
				for ; j < len(rest) && rest[j] != '"'; j++ {
					if rest[j] == '\\' && j+1 < len(rest) {
						j++
						if rest[j] == 'n' {
							v.WriteByte('\n')
							continue
						}
					}
					v.WriteByte(rest[j])
				}
				if j == len(rest) {
					return nil, fmt.Errorf("line %d: unterminated label value", n+1)
				}
				smp.Labels[k] = v.String()
				line = rest[j+1:]
			}
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			return nil, fmt.Errorf("line %d: no value", n+1)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", n+1, err)
		}
		smp.Value = v
		out = append(out, smp)
	}
	return out, nil
}

// find returns the samples called name whose labels include kv (pairs).
func (m opMetrics) find(name string, kv ...string) []opSample {
	var out []opSample
	for _, smp := range m {
		if smp.Name != name {
			continue
		}
		ok := true
		for i := 0; i+1 < len(kv); i += 2 {
			if smp.Labels[kv[i]] != kv[i+1] {
				ok = false
			}
		}
		if ok {
			out = append(out, smp)
		}
	}
	return out
}

// check returns an error unless exactly one sample name{kv} exists and
// cond holds for its value.
func (m opMetrics) check(cond func(float64) bool, what, name string, kv ...string) error {
	f := m.find(name, kv...)
	if len(f) != 1 {
		return fmt.Errorf("%s%v: %d samples, want 1", name, kv, len(f))
	}
	if !cond(f[0].Value) {
		return fmt.Errorf("%s%v = %v, want %s", name, kv, f[0].Value, what)
	}
	return nil
}

func opEq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }
func opAtLeast(want float64) func(float64) bool {
	return func(v float64) bool { return v >= want }
}

// opPorts reads GET /ports as raw objects, in the order served.
func opPorts(t *testing.T, s *stack.Stack) []map[string]any {
	t.Helper()
	code, body := opMustGet(t, s, "/ports")
	if code != http.StatusOK {
		t.Fatalf("GET /ports: %d\n%s", code, body)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("GET /ports: %v\n%s", err, body)
	}
	return list
}

// opStates maps each logical port of GET /ports to its state.
func opStates(t *testing.T, s *stack.Stack) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range opPorts(t, s) {
		lp, _ := p["logical_port"].(string)
		st, _ := p["state"].(string)
		out[lp] = st
	}
	return out
}

// opReadyz returns /readyz's code and body; code 0 if no answer.
func opReadyz(s *stack.Stack) (int, string) {
	code, body, _ := opGet(s.SidecarURL() + "/readyz")
	return code, strings.TrimSpace(body)
}

// opLogCount counts the sidecar's log lines that contain every sub.
func opLogCount(s *stack.Stack, subs ...string) int {
	n := 0
	for _, l := range strings.Split(s.Sidecar.Log(), "\n") {
		all := true
		for _, sub := range subs {
			all = all && strings.Contains(l, sub)
		}
		if all {
			n++
		}
	}
	return n
}

// opLogLines returns the sidecar's log lines that contain sub.
func opLogLines(s *stack.Stack, sub string) []string {
	var out []string
	for _, l := range strings.Split(s.Sidecar.Log(), "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return out
}

var obsPortKeys = []string{"interface", "logical_port", "provider", "reason", "since", "state"}

// TestObservability: /healthz, /readyz before and after the SB database
// comes up, /ports with each state, the status subcommand, /metrics
// (values, the collectors, bounded labels) and the default listener.
func TestObservability(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{ManualSidecar: true})

	// The SB database is down when the sidecar starts.
	_ = s.SB.Stop() // ovsdb-server exits by the signal
	if s.SB.Running() {
		t.Fatal("SB ovsdb-server still running after Stop")
	}
	s.StartSidecar()
	if code, body := opMustGet(t, s, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz with SB down = %d %q, want 200", code, body)
	}
	// The first line is the state; the reasons follow, one per line.
	s.Eventually(plugTimeout, "/readyz 503 with OVS connected and SB not, saying why", func() error {
		code, body := opReadyz(s)
		first, reasons, _ := strings.Cut(body, "\n")
		if code != http.StatusServiceUnavailable || !strings.HasPrefix(first, `primed=false ovs_connected=true sb_connected=false ovs_schema="Open_vSwitch `) ||
			!strings.HasPrefix(reasons, "sb database not connected: ") {
			return fmt.Errorf("/readyz = %d %q", code, body)
		}
		return nil
	})

	s.Eventually(plugTimeout, "the SB connection failure to be logged", func() error {
		if opLogCount(s, "OVSDB connection failed; retrying", `db="sb"`) == 0 {
			return fmt.Errorf("no %q line for db=sb", "OVSDB connection failed; retrying")
		}
		return nil
	})
	m := opScrape(t, s)
	for _, err := range []error{
		m.check(opEq(0), "0", "ovn_vif_sidecar_db_connected", "db", "sb"),
		m.check(opEq(1), "1", "ovn_vif_sidecar_db_connected", "db", "ovs"),
		m.check(opEq(0), "0", "ovn_vif_sidecar_primed"),
	} {
		if err != nil {
			t.Errorf("SB down: %v", err)
		}
	}
	// And it stays so: nothing makes /readyz lie while SB is away.
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if code, body := opReadyz(s); code != http.StatusServiceUnavailable {
			t.Fatalf("/readyz with SB down = %d %q, want 503", code, body)
		}
		if code, _ := opMustGet(t, s, "/healthz"); code != http.StatusOK {
			t.Fatalf("/healthz with SB down = %d", code)
		}
	}

	start := time.Now()
	s.SB.Start()
	s.Eventually(time.Minute, "/readyz 200 once SB is up", func() error {
		code, body := opReadyz(s)
		if code != http.StatusOK || !strings.HasPrefix(body, `primed=true ovs_connected=true sb_connected=true ovs_schema="Open_vSwitch `) ||
			!strings.Contains(body, ` sb_schema="OVN_Southbound `) || strings.Contains(body, "\n") {
			return fmt.Errorf("/readyz = %d %q", code, body)
		}
		return nil
	})
	t.Logf("/readyz 200 %v after the SB database started", time.Since(start).Round(time.Millisecond))

	// One port in each state, plus one to unplug. The conflict is a
	// foreign interface that already carries the logical port's iface-id.
	s.VSCtl("add-port", "br-int", "obs-conflict", "--", "set", "Interface", "obs-conflict",
		"type=internal", "external_ids:iface-id=obs-conflict")
	lsps := map[string][]string{
		"obs-plugged":  {"vif-plug-type=dummy"},
		"obs-unplug":   {"vif-plug-type=dummy"},
		"obs-conflict": {"vif-plug-type=dummy"},
		"obs-error":    {"vif-plug-type=nonexistent"},
		"obs-pending":  {"vif-plug-type=representor", "vif-plug:representor:pf-mac=0c:42:a1:00:00:01"},
	}
	args := []string{"ls-add", sw}
	for _, lsp := range slices.Sorted(maps.Keys(lsps)) {
		args = append(args, "--", "lsp-add", sw, lsp, "--", "lsp-set-options", lsp, "requested-chassis="+s.Chassis)
		args = append(args, lsps[lsp]...)
	}
	s.NBCtl(args...)
	wantStates := map[string]string{
		"obs-plugged": "plugged", "obs-unplug": "plugged", "obs-conflict": "conflict",
		"obs-error": "error", "obs-pending": "pending",
	}
	s.Eventually(plugTimeout, "each port in its state", func() error {
		if got := opStates(t, s); !maps.Equal(got, wantStates) {
			return fmt.Errorf("GET /ports states %v, want %v", got, wantStates)
		}
		return dummyPlugged(s.Interfaces(), "obs-plugged", 0)
	})

	// An update: a tampered mtu_request is reverted.
	s.VSCtl("set", "Interface", "obs-plugged", "mtu_request=440")
	s.Eventually(plugTimeout, "obs-plugged's mtu_request reverted", func() error {
		return dummyPlugged(s.Interfaces(), "obs-plugged", 0)
	})
	// An unplug.
	s.NBCtl("lsp-del", "obs-unplug")
	delete(wantStates, "obs-unplug")
	s.Eventually(plugTimeout, "obs-unplug unplugged and gone from /ports", func() error {
		if i, ok := s.Interface("obs-unplug"); ok {
			return fmt.Errorf("Interface obs-unplug still there: %+v", i)
		}
		if got := opStates(t, s); !maps.Equal(got, wantStates) {
			return fmt.Errorf("GET /ports states %v, want %v", got, wantStates)
		}
		return nil
	})
	if _, ok := s.Interface("obs-conflict"); !ok {
		t.Fatal("the foreign interface obs-conflict is gone")
	}

	t.Run("ports", func(t *testing.T) { obsCheckPorts(t, s) })
	t.Run("status", func(t *testing.T) { obsCheckStatusCommand(t, s) })
	t.Run("metrics", func(t *testing.T) { obsCheckMetrics(t, s, slices.Collect(maps.Keys(lsps))) })
	t.Run("restart-with-defaults", func(t *testing.T) { obsCheckRestartWithDefaults(t, s) })
}

// obsCheckPorts checks GET /ports: exactly the documented keys, sorted by
// name, and the values of each state.
func obsCheckPorts(t *testing.T, s *stack.Stack) {
	list := opPorts(t, s)
	var names []string
	byName := map[string]map[string]any{}
	for _, p := range list {
		if keys := slices.Sorted(maps.Keys(p)); !slices.Equal(keys, obsPortKeys) {
			t.Errorf("GET /ports object has keys %v, want exactly %v: %v", keys, obsPortKeys, p)
		}
		for _, k := range obsPortKeys {
			if _, ok := p[k].(string); !ok {
				t.Errorf("GET /ports: %s is %T, want a string: %v", k, p[k], p)
			}
		}
		lp, _ := p["logical_port"].(string)
		names = append(names, lp)
		byName[lp] = p
		since, err := time.Parse(time.RFC3339Nano, fmt.Sprint(p["since"]))
		if err != nil || since.IsZero() || since.After(time.Now().Add(time.Second)) {
			t.Errorf("%s: since %q: want an RFC 3339 time in the past (%v)", lp, p["since"], err)
		}
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("GET /ports is not sorted by logical port: %v", names)
	}
	want := map[string]struct{ provider, state, iface, reason string }{
		"obs-plugged":  {"dummy", "plugged", "obs-plugged", ""},
		"obs-conflict": {"dummy", "conflict", "", "already carries iface-id obs-conflict"},
		"obs-error":    {"nonexistent", "error", "", `vif-plug-type "nonexistent": no such provider is compiled in`},
		"obs-pending":  {"representor", "pending", "", "0c:42:a1:00:00:01"},
	}
	for lp, w := range want {
		p := byName[lp]
		switch {
		case p == nil:
			t.Errorf("%s missing from GET /ports", lp)
		case p["provider"] != w.provider || p["state"] != w.state:
			t.Errorf("%s: provider %q state %q, want %q %q", lp, p["provider"], p["state"], w.provider, w.state)
		case w.iface != "" && p["interface"] != w.iface:
			t.Errorf("%s: interface %q, want %q", lp, p["interface"], w.iface)
		case w.reason != "" && !strings.Contains(fmt.Sprint(p["reason"]), w.reason):
			t.Errorf("%s: reason %q, want it to mention %q", lp, p["reason"], w.reason)
		case w.state != "plugged" && p["reason"] == "":
			t.Errorf("%s: %s without a reason", lp, w.state)
		}
	}
	if len(list) != len(want) {
		t.Errorf("GET /ports lists %v, want exactly %v", names, slices.Sorted(maps.Keys(want)))
	}
}

// obsStatusRows runs `ovn-vif-sidecar status` with args and returns its
// rows (header checked) keyed by logical port, each split into fields.
func obsStatusRows(t *testing.T, out string) map[string][]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	// The health header comes first, then a blank line and the table.
	i := slices.IndexFunc(lines, obsIsHeader)
	if i < 0 {
		t.Fatalf("status output lacks the table header:\n%s", out)
	}
	if !slices.ContainsFunc(lines[:i], func(l string) bool { return strings.HasPrefix(l, "Ready:") }) {
		t.Errorf("status output lacks the health header (Ready: ...):\n%s", out)
	}
	lines = lines[i:]
	rows := map[string][]string{}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 6 {
			t.Fatalf("status row %q has %d fields:\n%s", l, len(f), out)
		}
		rows[f[0]] = f
	}
	return rows
}

func obsIsHeader(l string) bool {
	return strings.Join(strings.Fields(l), " ") == "LOGICAL PORT PROVIDER STATE INTERFACE SINCE REASON"
}

// obsCheckStatusCommand runs the status subcommand against the running
// daemon: inside the namespace at the daemon's own address, and from here
// through the stack's forward.
func obsCheckStatusCommand(t *testing.T, s *stack.Stack) {
	bin := s.SidecarBin()
	out := s.InNetNS(bin, "status", "--http-addr", s.SidecarAddr())
	t.Logf("ovn-vif-sidecar status --http-addr %s:\n%s", s.SidecarAddr(), out)
	rows := obsStatusRows(t, out)
	want := map[string][3]string{ // provider, state, interface
		"obs-plugged":  {"dummy", "plugged", "obs-plugged"},
		"obs-conflict": {"dummy", "conflict", "-"},
		"obs-error":    {"nonexistent", "error", "-"},
		"obs-pending":  {"representor", "pending", "-"},
	}
	if len(rows) != len(want) {
		t.Errorf("status lists %v, want %v", slices.Sorted(maps.Keys(rows)), slices.Sorted(maps.Keys(want)))
	}
	for lp, w := range want {
		f := rows[lp]
		if f == nil {
			t.Errorf("status lacks %s", lp)
			continue
		}
		if got := [3]string{f[1], f[2], f[3]}; got != w {
			t.Errorf("status row for %s: %v, want provider/state/interface %v", lp, f, w)
		}
		// SINCE is "2006-01-02 15:04:05" in local time.
		if _, err := time.ParseInLocation(time.DateTime, f[4]+" "+f[5], time.Local); err != nil {
			t.Errorf("status row for %s: SINCE %s %s: %v", lp, f[4], f[5], err)
		}
	}

	out, err := s.Run(bin, "status", "--http-addr", s.SidecarHostAddr(), "--state", "pending")
	if err != nil {
		t.Fatalf("status --state pending: %v", err)
	}
	t.Logf("ovn-vif-sidecar status --http-addr %s --state pending:\n%s", s.SidecarHostAddr(), out)
	if rows := obsStatusRows(t, out); len(rows) != 1 || rows["obs-pending"] == nil {
		t.Errorf("status --state pending lists %v, want only obs-pending", slices.Sorted(maps.Keys(rows)))
	}

	out, err = s.Run(bin, "status", "--http-addr", s.SidecarHostAddr(), "--state", "conflict", "--json")
	if err != nil {
		t.Fatalf("status --state conflict --json: %v", err)
	}
	var js []map[string]any
	if err := json.Unmarshal([]byte(out), &js); err != nil || len(js) != 1 || js[0]["logical_port"] != "obs-conflict" {
		t.Errorf("status --state conflict --json = %v (%v), want only obs-conflict:\n%s", js, err, out)
	}

	// Nothing listens there: a clear error and a non-zero exit.
	if out, err := s.InNetNSErr(bin, "status", "--http-addr", "127.0.0.1:1"); err == nil || !strings.Contains(out+err.Error(), "cannot reach ovn-vif-sidecar at 127.0.0.1:1") {
		t.Errorf("status against a closed port: err %v, output %q; want a 'cannot reach' error", err, out)
	}
}

// obsCheckMetrics checks /metrics: the engine's metrics with real
// values, hwdb_ports, the libovsdb client metrics, the Go and process
// collectors, and that no label value names a logical port.
func obsCheckMetrics(t *testing.T, s *stack.Stack, lsps []string) {
	m := opScrape(t, s)
	pos := func(v float64) bool { return v > 0 }
	const ns = "ovn_vif_sidecar_"
	checks := []error{
		m.check(opEq(1), "1 (obs-plugged)", ns+"plugged_ports", "provider", "dummy"),
		m.check(opEq(1), "1 (obs-pending)", ns+"pending_ports", "provider", "representor", "reason", "not_ready"),
		m.check(opAtLeast(2), ">= 2 (obs-plugged, obs-unplug)", ns+"plug_operations_total", "provider", "dummy", "op", "plug", "result", "success"),
		m.check(opAtLeast(1), ">= 1 (mtu_request reverted)", ns+"plug_operations_total", "provider", "dummy", "op", "update", "result", "success"),
		m.check(opAtLeast(1), ">= 1 (obs-unplug)", ns+"plug_operations_total", "provider", "dummy", "op", "unplug", "result", "success"),
		m.check(opAtLeast(3), ">= 3", ns+"prepare_duration_seconds_count", "provider", "dummy", "op", "create"),
		m.check(opAtLeast(1), ">= 1", ns+"prepare_duration_seconds_count", "provider", "dummy", "op", "remove"),
		m.check(opAtLeast(1), ">= 1", ns+"prepare_duration_seconds_count", "provider", "representor", "op", "create"),
		m.check(pos, "> 0", ns+"prepare_duration_seconds_sum", "provider", "dummy", "op", "create"),
		m.check(opAtLeast(3), ">= 3", ns+"transaction_duration_seconds_count"),
		m.check(pos, "> 0", ns+"transaction_duration_seconds_sum"),
		m.check(opAtLeast(3), ">= 3", ns+"reconcile_duration_seconds_count"),
		m.check(pos, "> 0", ns+"reconcile_duration_seconds_sum"),
		m.check(opEq(1), "1", ns+"db_connected", "db", "sb"),
		m.check(opEq(1), "1", ns+"db_connected", "db", "ovs"),
		m.check(opEq(1), "1", ns+"primed"),
		m.check(opEq(1), "1", ns+"ports", "provider", "dummy", "state", "plugged"),
		m.check(opEq(1), "1", ns+"ports", "provider", "dummy", "state", "conflict"),
		m.check(opEq(1), "1", ns+"ports", "provider", "representor", "state", "pending"),
		m.check(opEq(1), "1 (vif-plug-type=nonexistent)", ns+"ports", "provider", "unknown", "state", "error"),
		m.check(opEq(1), "1", ns+"libovsdb_ovs_monitors", "primary_model", "Open_vSwitch"),
		m.check(opEq(1), "1", ns+"libovsdb_sb_monitors", "primary_model", "OVN_Southbound"),
		m.check(opAtLeast(0), ">= 0", ns+"libovsdb_ovs_disconnects_total", "primary_model", "Open_vSwitch"),
		m.check(opAtLeast(0), ">= 0", ns+"libovsdb_sb_disconnects_total", "primary_model", "OVN_Southbound"),
		m.check(pos, "> 0", "go_goroutines"),
		m.check(pos, "> 0", "process_resident_memory_bytes"),
		m.check(pos, "> 0", "process_start_time_seconds"),
		m.check(pos, "> 0", "process_cpu_seconds_total"),
	}
	for _, flavour := range []string{"physical", "pcipf", "pcivf", "pcisf", "unknown"} {
		checks = append(checks, m.check(opAtLeast(0), ">= 0", ns+"hwdb_ports", "flavour", flavour))
	}
	// Histograms have their buckets.
	if n := len(m.find(ns + "transaction_duration_seconds_bucket")); n < 2 {
		checks = append(checks, fmt.Errorf("transaction_duration_seconds has %d buckets", n))
	}
	for _, err := range checks {
		if err != nil {
			t.Error(err)
		}
	}

	// Cardinality: label values come from a small fixed set, never from
	// logical port names (nor interface names, which derive from them),
	// nor from other CMS input such as an unknown vif-plug-type.
	providers := map[string]bool{"dummy": true, "representor": true, "unknown": true}
	for _, smp := range m {
		for k, v := range smp.Labels {
			for _, lsp := range lsps {
				if strings.Contains(v, lsp) {
					t.Errorf("%s{%s=%q}: a label value names logical port %s", smp.Name, k, v, lsp)
				}
			}
			if k == "provider" && strings.HasPrefix(smp.Name, ns) && !providers[v] {
				t.Errorf("%s{provider=%q}: not a compiled-in provider nor \"unknown\"; label values must stay bounded", smp.Name, v)
			}
		}
	}
	if t.Failed() {
		var b strings.Builder
		for _, smp := range m {
			if strings.HasPrefix(smp.Name, ns) {
				fmt.Fprintf(&b, "%s %v %v\n", smp.Name, smp.Labels, smp.Value)
			}
		}
		t.Logf("ovn_vif_sidecar_ samples:\n%s", b.String())
	}
}

// obsCheckRestartWithDefaults replaces the sidecar by one started with
// defaults only (no --http-addr, --chassis or --sb-db): it listens on
// loopback only, at the documented default, which is also where the
// status subcommand looks; it takes its identity from the Open_vSwitch
// row; and finding everything correct, it makes no OVS write.
func obsCheckRestartWithDefaults(t *testing.T, s *stack.Stack) {
	before, ok := s.Interface("obs-plugged")
	if !ok {
		t.Fatal("no Interface obs-plugged")
	}
	mon := s.MonitorInterfaces()
	if err := s.Sidecar.Stop(); err != nil {
		t.Fatalf("stop sidecar: %v", err)
	}
	p := s.NewProc("sidecar-default-http", nil, s.SidecarBin(), "--ovs-db="+s.OVSRemote(), "--logtostderr")
	// Several restarts: whatever goes wrong on a restart may be a race.
	const restarts = 3
	for n := range restarts {
		p.Start()
		var addrs []string
		s.Eventually(plugTimeout, "the sidecar's HTTP listener", func() error {
			var err error
			addrs, err = stack.ListeningTCP(p.PID())
			if err == nil && len(addrs) == 0 {
				err = fmt.Errorf("pid %d listens on no TCP port", p.PID())
			}
			return err
		})
		if !slices.Equal(addrs, []string{"127.0.0.1:9476"}) {
			t.Errorf("without --http-addr the sidecar listens on %v, want only 127.0.0.1:9476", addrs)
		}
		// The status subcommand's default address is the daemon's.
		s.Eventually(plugTimeout, "`ovn-vif-sidecar status` with no flags to show obs-plugged plugged", func() error {
			out, err := s.InNetNSErr(s.SidecarBin(), "status", "--state", "plugged")
			if err != nil {
				return err
			}
			if !strings.Contains(out, "obs-plugged") {
				return fmt.Errorf("status output lacks obs-plugged:\n%s", out)
			}
			return nil
		})
		time.Sleep(time.Second) // a late write would show in the monitor
		// The identity comes from the Open_vSwitch row, which the SB
		// connection waits for instead of reporting a missing chassis.
		if strings.Contains(p.Log(), "no chassis name") {
			t.Errorf("restart %d: the log says 'no chassis name' although system-id is set", n+1)
		}
		if err := p.Stop(); err != nil {
			t.Errorf("sidecar without --http-addr on SIGTERM: %v", err)
		}
		// Everything was correct: a restart (without --chassis and --sb-db
		// this time) keeps obs-plugged, never unplugs and plugs it again.
		after, ok := s.Interface("obs-plugged")
		if !ok || after.UUID != before.UUID {
			t.Errorf("restart %d of %d: Interface obs-plugged was %s before the restart and %s after: a restart must leave correct ports alone",
				n+1, restarts, before.UUID, after.UUID)
			before = after
		}
		for _, ev := range mon.Events() {
			if ev.Action == "delete" || ev.Action == "insert" {
				t.Errorf("restart %d of %d made an OVS write: %s Interface %s (%s) external_ids %v",
					n+1, restarts, ev.Action, ev.Name, ev.UUID, ev.ExternalIDs)
			}
		}
		if t.Failed() {
			return
		}
	}
}
