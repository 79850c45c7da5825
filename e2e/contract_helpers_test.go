//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// Helpers for the contract tests (contract_test.go, further_test.go,
// priming_test.go): the sidecar's HTTP endpoints and metrics, ovsdb-server's
// own row versions, and interface checks that tolerate keys others own.
// Everything here is prefixed "ct" to stay apart from the other test
// files of package e2e.

// ctSettle is how long a negative assertion ("nothing happens") watches.
// Generous because the machine is shared; the sidecar reacts in
// milliseconds when it does react.
const ctSettle = 3 * time.Second

// ctPortStatus is one entry of GET /ports.
type ctPortStatus struct {
	LogicalPort string `json:"logical_port"`
	Provider    string `json:"provider"`
	State       string `json:"state"`
	Interface   string `json:"interface"`
	Reason      string `json:"reason"`
}

// ctHTTPGet returns the status code and body of GET url.
func ctHTTPGet(url string) (int, string, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// ctSidecarPorts reads GET /ports, keyed by logical port.
func ctSidecarPorts(t *testing.T, s *stack.Stack) map[string]ctPortStatus {
	t.Helper()
	code, body, err := ctHTTPGet(s.SidecarURL() + "/ports")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /ports: %d %v\n%s", code, err, body)
	}
	var list []ctPortStatus
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("GET /ports: %v\n%s", err, body)
	}
	out := map[string]ctPortStatus{}
	for _, p := range list {
		out[p.LogicalPort] = p
	}
	return out
}

// ctReadyz returns /readyz's status code (0 if the sidecar does not answer).
func ctReadyz(s *stack.Stack) int {
	code, _, _ := ctHTTPGet(s.SidecarURL() + "/readyz")
	return code
}

// ctWaitReady waits until /readyz answers 200 and returns when it did.
func ctWaitReady(t *testing.T, s *stack.Stack, timeout time.Duration) time.Time {
	t.Helper()
	s.Eventually(timeout, "sidecar /readyz 200", func() error {
		if c := ctReadyz(s); c != http.StatusOK {
			return fmt.Errorf("/readyz answered %d", c)
		}
		return nil
	})
	return time.Now()
}

// ctCheckHealthy fails unless the sidecar process runs and /healthz is 200.
func ctCheckHealthy(t *testing.T, s *stack.Stack) {
	t.Helper()
	if !s.Sidecar.Running() {
		t.Fatalf("sidecar is not running: %v", s.Sidecar.ExitErr())
	}
	if code, body, err := ctHTTPGet(s.SidecarURL() + "/healthz"); err != nil || code != http.StatusOK {
		t.Fatalf("/healthz: %d %v %q", code, err, body)
	}
}

// ctMetricLine matches one sample of the Prometheus text format.
var ctMetricLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)`)

var ctLabelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// ctMetrics is a scrape of /metrics: samples by name, each with its labels.
type ctMetrics map[string][]ctSample

type ctSample struct {
	labels map[string]string
	value  float64
}

// ctScrape reads the sidecar's /metrics.
func ctScrape(t *testing.T, s *stack.Stack) ctMetrics {
	t.Helper()
	code, body, err := ctHTTPGet(s.SidecarURL() + "/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	m := ctMetrics{}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		g := ctMetricLine.FindStringSubmatch(line)
		if g == nil {
			continue
		}
		v, err := strconv.ParseFloat(g[3], 64)
		if err != nil {
			continue
		}
		labels := map[string]string{}
		for _, lp := range ctLabelPair.FindAllStringSubmatch(g[2], -1) {
			labels[lp[1]] = lp[2]
		}
		m[g[1]] = append(m[g[1]], ctSample{labels, v})
	}
	return m
}

// sum adds the samples of name whose labels include want.
func (m ctMetrics) sum(name string, want map[string]string) float64 {
	total := 0.0
	for _, smp := range m[name] {
		ok := true
		for k, v := range want {
			if smp.labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			total += smp.value
		}
	}
	return total
}

// has reports whether name has a sample with exactly these label values
// (among others).
func (m ctMetrics) has(name string, want map[string]string) bool {
	for _, smp := range m[name] {
		ok := true
		for k, v := range want {
			if smp.labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

const ctOpsMetric = "ovn_vif_sidecar_plug_operations_total"

// ctOps is plug_operations_total summed over the given labels
// (provider, op, result); an empty value matches any.
func ctOps(m ctMetrics, provider, op, result string) float64 {
	labels := map[string]string{}
	for k, v := range map[string]string{"provider": provider, "op": op, "result": result} {
		if v != "" {
			labels[k] = v
		}
	}
	return m.sum(ctOpsMetric, labels)
}

// ctOpsTable renders all plug_operations_total samples, for messages.
func ctOpsTable(m ctMetrics) string {
	var lines []string
	for _, smp := range m[ctOpsMetric] {
		lines = append(lines, fmt.Sprintf("%s/%s/%s=%g", smp.labels["provider"], smp.labels["op"], smp.labels["result"], smp.value))
	}
	slices.Sort(lines)
	return strings.Join(lines, " ")
}

// ctRowVersion is a row as ovsdb-server sees it: its _version changes on
// every committed modification of the row, whoever makes it.
type ctRowVersion struct {
	Table   string
	UUID    string
	Name    string
	Version string
}

// ctOvsVersions selects _uuid, _version and name of every row of the tables
// from the OVS database, straight from ovsdb-server, keyed by
// "table/uuid".
func ctOvsVersions(t *testing.T, s *stack.Stack, tables ...string) map[string]ctRowVersion {
	t.Helper()
	txn := []any{"Open_vSwitch"}
	for _, tb := range tables {
		cols := []string{"_uuid", "_version"}
		if tb != "Open_vSwitch" {
			cols = append(cols, "name")
		}
		txn = append(txn, map[string]any{"op": "select", "table": tb, "where": []any{}, "columns": cols})
	}
	js, _ := json.Marshal(txn)
	out, err := s.Run("ovsdb-client", "-f", "json", "transact", s.OVSRemote(), string(js))
	if err != nil {
		t.Fatalf("ovsdb-client transact: %v", err)
	}
	var results []struct {
		Rows  []map[string]any `json:"rows"`
		Error string           `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &results); err != nil || len(results) != len(tables) {
		t.Fatalf("ovsdb-client transact: %v (%d results)\n%s", err, len(results), out)
	}
	rows := map[string]ctRowVersion{}
	for i, r := range results {
		if r.Error != "" {
			t.Fatalf("select %s: %s", tables[i], r.Error)
		}
		for _, row := range r.Rows {
			rv := ctRowVersion{Table: tables[i], UUID: ctUUIDOf(row["_uuid"]), Version: ctUUIDOf(row["_version"])}
			rv.Name, _ = row["name"].(string)
			rows[rv.Table+"/"+rv.UUID] = rv
		}
	}
	return rows
}

func ctUUIDOf(v any) string {
	if a, ok := v.([]any); ok && len(a) == 2 {
		if s, ok := a[1].(string); ok {
			return s
		}
	}
	return ""
}

// ctDiffVersions lists rows added, removed or modified between two reads.
func ctDiffVersions(before, after map[string]ctRowVersion) []string {
	var d []string
	for k, b := range before {
		a, ok := after[k]
		switch {
		case !ok:
			d = append(d, fmt.Sprintf("%s %s (%s) deleted", b.Table, b.Name, b.UUID))
		case a.Version != b.Version:
			d = append(d, fmt.Sprintf("%s %s (%s) modified", b.Table, b.Name, b.UUID))
		}
	}
	for k, a := range after {
		if _, ok := before[k]; !ok {
			d = append(d, fmt.Sprintf("%s %s (%s) inserted", a.Table, a.Name, a.UUID))
		}
	}
	slices.Sort(d)
	return d
}

// ctIfaceVersion is one Interface's _version, "" if there is none by that name.
func ctIfaceVersion(t *testing.T, s *stack.Stack, name string) string {
	t.Helper()
	for _, r := range ctOvsVersions(t, s, "Interface") {
		if r.Name == name {
			return r.Version
		}
	}
	return ""
}

// ctWant describes what a plugged interface must look like. Keys that
// others own (ovn-installed, options someone added) are allowed unless
// listed in absentOptions.
type ctWant struct {
	name, lsp, plugType, ifType string
	options                     map[string]string
	absentOptions               []string
	mtu                         int64
	bridge                      string
}

// ctDummyWant is what the dummy provider plugs for lsp.
func ctDummyWant(lsp string, mtu int64) ctWant {
	name := lsp
	if len(name) > 15 {
		name = name[:15]
	}
	return ctWant{name: name, lsp: lsp, plugType: "dummy", ifType: "internal",
		options: map[string]string{"vif-plug-dummy-option": "value"}, mtu: mtu, bridge: "br-int"}
}

func (w ctWant) check(ifaces map[string]stack.Interface) error {
	i, ok := ifaces[w.name]
	switch {
	case !ok:
		return fmt.Errorf("no Interface %s", w.name)
	case i.Bridge != w.bridge || i.Port != w.name:
		return fmt.Errorf("Interface %s is in port %q of bridge %q, want port %s of %s", w.name, i.Port, i.Bridge, w.name, w.bridge)
	case i.Type != w.ifType:
		return fmt.Errorf("Interface %s type %q, want %q", w.name, i.Type, w.ifType)
	case i.ExternalIDs["iface-id"] != w.lsp || i.ExternalIDs["ovn-plugged"] != w.plugType:
		return fmt.Errorf("Interface %s external_ids %v, want iface-id=%s ovn-plugged=%s", w.name, i.ExternalIDs, w.lsp, w.plugType)
	case i.MTURequest != w.mtu:
		return fmt.Errorf("Interface %s mtu_request %d, want %d", w.name, i.MTURequest, w.mtu)
	}
	for k, v := range w.options {
		if got, ok := i.Options[k]; !ok || got != v {
			return fmt.Errorf("Interface %s options %v, want %s=%s", w.name, i.Options, k, v)
		}
	}
	for _, k := range w.absentOptions {
		if _, ok := i.Options[k]; ok {
			return fmt.Errorf("Interface %s options %v, want no %s", w.name, i.Options, k)
		}
	}
	return nil
}

// ctWaitIface waits until the interface matches w and returns it.
func ctWaitIface(t *testing.T, s *stack.Stack, w ctWant) stack.Interface {
	t.Helper()
	var got stack.Interface
	s.Eventually(plugTimeout, w.lsp+" plugged as "+w.name, func() error {
		ifaces := s.Interfaces()
		got = ifaces[w.name]
		return w.check(ifaces)
	})
	return got
}

// ctWaitNoIface waits until no Interface and no Port called name exist.
func ctWaitNoIface(t *testing.T, s *stack.Stack, name string) {
	t.Helper()
	s.Eventually(plugTimeout, name+" unplugged", func() error {
		if i, ok := s.Interface(name); ok {
			return fmt.Errorf("Interface %s still there: %+v", name, i)
		}
		if p := s.VSCtl("--bare", "--columns=_uuid", "find", "Port", "name="+name); p != "" {
			return fmt.Errorf("Port %s still there (%s)", name, p)
		}
		return nil
	})
}

// ctIfacesFor returns the Interfaces whose iface-id is lsp.
func ctIfacesFor(ifaces map[string]stack.Interface, lsp string) []stack.Interface {
	var out []stack.Interface
	for _, i := range ifaces {
		if i.ExternalIDs["iface-id"] == lsp {
			out = append(out, i)
		}
	}
	return out
}

// ctSameIface compares the columns a plug or update could touch.
func ctSameIface(a, b stack.Interface) error {
	switch {
	case a.UUID != b.UUID:
		return fmt.Errorf("uuid %s became %s", a.UUID, b.UUID)
	case a.Name != b.Name || a.Type != b.Type || a.Bridge != b.Bridge || a.Port != b.Port || a.MTURequest != b.MTURequest:
		return fmt.Errorf("%+v became %+v", a, b)
	case !maps.Equal(a.Options, b.Options):
		return fmt.Errorf("options %v became %v", a.Options, b.Options)
	case !maps.Equal(a.ExternalIDs, b.ExternalIDs):
		return fmt.Errorf("external_ids %v became %v", a.ExternalIDs, b.ExternalIDs)
	}
	return nil
}

// ctWaitInstalled waits until ovn-controller has marked lsp's interface
// ovn-installed and the LSP is up, so that ovn-controller's own writes to
// the row are done before a test compares versions.
func ctWaitInstalled(t *testing.T, s *stack.Stack, iface string, lsps ...string) {
	t.Helper()
	s.WaitLSPsUp(plugTimeout, lsps...)
	s.Eventually(plugTimeout, iface+" ovn-installed", func() error {
		i, ok := s.Interface(iface)
		if !ok || i.ExternalIDs["ovn-installed"] != "true" {
			return fmt.Errorf("Interface %s external_ids %v", iface, i.ExternalIDs)
		}
		return nil
	})
}

// ctLogCount counts the sidecar's log lines (all runs) containing every one
// of the substrings.
func ctLogCount(s *stack.Stack, subs ...string) int {
	n := 0
	for _, line := range strings.Split(s.Sidecar.Log(), "\n") {
		all := true
		for _, sub := range subs {
			if !strings.Contains(line, sub) {
				all = false
				break
			}
		}
		if all {
			n++
		}
	}
	return n
}

// ctPasses is the sidecar's count of completed reconcile passes.
func ctPasses(m ctMetrics) float64 {
	return m.sum("ovn_vif_sidecar_reconcile_duration_seconds_count", nil)
}

// ctWaitPass waits for a reconcile pass to complete after a scrape that
// counted passes: the sidecar has then acted on what it saw before.
func ctWaitPass(t *testing.T, s *stack.Stack, passes float64) {
	t.Helper()
	s.Eventually(plugTimeout, "a reconcile pass", func() error {
		if n := ctPasses(ctScrape(t, s)); n <= passes {
			return fmt.Errorf("%g passes, still", n)
		}
		return nil
	})
}

// ctLogLines returns the sidecar's log lines containing sub.
func ctLogLines(s *stack.Stack, sub string) []string {
	var out []string
	for _, line := range strings.Split(s.Sidecar.Log(), "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return out
}

// ctNever polls cond for d and fails at the first error it returns.
func ctNever(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if err := cond(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ctBindingChassis returns the Port_Binding's requested_chassis and
// requested_additional_chassis as chassis names.
func ctBindingChassis(t *testing.T, s *stack.Stack, lsp string) (requested string, additional []string) {
	t.Helper()
	names := map[string]string{}
	for _, r := range s.List(stack.SB, "Chassis", "_uuid", "name") {
		names[r.Str("_uuid")] = r.Str("name")
	}
	for _, r := range s.List(stack.SB, "Port_Binding", "logical_port", "requested_chassis", "requested_additional_chassis") {
		if r.Str("logical_port") != lsp {
			continue
		}
		for _, u := range r.Strs("requested_additional_chassis") {
			additional = append(additional, names[u])
		}
		return names[r.Str("requested_chassis")], additional
	}
	t.Fatalf("no Port_Binding for %s", lsp)
	return "", nil
}
