//go:build e2e

package e2e

// Helpers for the fault-injection tests (faults_test.go). Prefixed "ft".

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// ftTxnMetric counts the sidecar's OVS transactions (every one is timed).
const ftTxnMetric = "ovn_vif_sidecar_transaction_duration_seconds_count"

// ftSidecarTxns is the sidecar's own count of OVS transactions since it
// started.
func ftSidecarTxns(t *testing.T, s *stack.Stack) int {
	t.Helper()
	return int(ctScrape(t, s).sum(ftTxnMetric, nil))
}

// ftDummyName is the dummy provider's interface name for lsp: at most 15
// bytes, cut on a character boundary.
func ftDummyName(lsp string) string {
	if len(lsp) <= 15 {
		return lsp
	}
	n := 15
	for n > 0 && !utf8.RuneStart(lsp[n]) {
		n--
	}
	return lsp[:n]
}

// ftWrites counts, from ovsdb-server's point of view, the committed
// transactions that change any column a plugger writes: one `ovsdb-client
// monitor` per table, each update line being a commit that touched the
// table (or several, if ovsdb-server merged commits that came in one
// poll-loop iteration: a lower bound, but never zero when something was
// written). Unlike the sidecar's own counters it cannot miss a write the
// sidecar does not know it made.
type ftWrites struct {
	mu      sync.Mutex
	updates map[string][]time.Time // by table, after the initial dump
	initial map[string]bool
	procs   []*exec.Cmd
}

var ftWatched = []struct{ table, cols string }{
	{"Interface", "name,type,options,external_ids,mtu_request"},
	{"Port", "name,interfaces,external_ids"},
	{"Bridge", "ports"},
}

// ftMonitorWrites starts the monitors and waits for their initial dumps.
// They end with the test, or when the OVS ovsdb-server goes away.
func ftMonitorWrites(t *testing.T, s *stack.Stack) *ftWrites {
	t.Helper()
	w := &ftWrites{updates: map[string][]time.Time{}, initial: map[string]bool{}}
	for _, tc := range ftWatched {
		cmd := exec.Command("ovsdb-client", "--format=json", "monitor", s.OVSRemote(), "Open_vSwitch", tc.table, tc.cols)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("ovsdb-client monitor %s: %v", tc.table, err)
		}
		w.procs = append(w.procs, cmd)
		table := tc.table
		go func() {
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 1<<20), 64<<20)
			for sc.Scan() {
				w.mu.Lock()
				if !w.initial[table] {
					w.initial[table] = true
				} else {
					w.updates[table] = append(w.updates[table], time.Now())
				}
				w.mu.Unlock()
			}
			_ = cmd.Wait()
		}()
	}
	t.Cleanup(w.stop)
	stack.Eventually(t, 30*time.Second, "the write monitors' initial dumps", func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.initial) < len(ftWatched) {
			return fmt.Errorf("%d of %d monitors ready", len(w.initial), len(ftWatched))
		}
		return nil
	})
	return w
}

func (w *ftWrites) stop() {
	for _, c := range w.procs {
		if c.Process != nil {
			_ = c.Process.Kill()
		}
	}
}

// since returns the number of committed transactions that touched each
// table after t0, and the largest of them: a lower bound on the number of
// write transactions, and exact for a loop on one table.
func (w *ftWrites) since(t0 time.Time) (map[string]int, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out, most := map[string]int{}, 0
	for table, ts := range w.updates {
		n := len(ts) - sortSearchTime(ts, t0)
		out[table] = n
		most = max(most, n)
	}
	return out, most
}

func sortSearchTime(ts []time.Time, t0 time.Time) int {
	i, _ := slices.BinarySearchFunc(ts, t0, func(a, b time.Time) int { return a.Compare(b) })
	return i
}

// ftIntegrity checks the OVS database's structure and that the
// ovn-plugged interfaces are exactly one per live logical port:
//   - every Bridge.ports entry is an existing Port, held by one bridge;
//   - every Port holds at least one existing Interface and is on a bridge;
//   - every Interface is held by exactly one Port;
//   - each live LSP has exactly one Interface with its iface-id, which is
//     ovn-plugged; no other ovn-plugged Interface exists.
func ftIntegrity(t *testing.T, s *stack.Stack, live map[string]bool) error {
	t.Helper()
	// One transaction, so the three tables are read at one instant.
	txn := `["Open_vSwitch",
	 {"op":"select","table":"Bridge","where":[],"columns":["_uuid","name","ports"]},
	 {"op":"select","table":"Port","where":[],"columns":["_uuid","name","interfaces"]},
	 {"op":"select","table":"Interface","where":[],"columns":["_uuid","name","external_ids"]}]`
	out, err := s.Run("ovsdb-client", "-f", "json", "transact", s.OVSRemote(), txn)
	if err != nil {
		return fmt.Errorf("ovsdb-client transact: %v", err)
	}
	var results []struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &results); err != nil || len(results) != 3 {
		return fmt.Errorf("ovsdb-client transact: %v (%d results)", err, len(results))
	}
	bridges, ports, ifaces := results[0].Rows, map[string]map[string]any{}, map[string]map[string]any{}
	for _, p := range results[1].Rows {
		ports[ctUUIDOf(p["_uuid"])] = p
	}
	for _, i := range results[2].Rows {
		ifaces[ctUUIDOf(i["_uuid"])] = i
	}
	var problems []string
	onBridge := map[string]int{}
	for _, b := range bridges {
		for _, p := range ftUUIDSet(b["ports"]) {
			if _, ok := ports[p]; !ok {
				problems = append(problems, fmt.Sprintf("Bridge %v ports has %s, which is no Port", b["name"], p))
			}
			onBridge[p]++
		}
	}
	held := map[string]int{}
	for u, p := range ports {
		if onBridge[u] != 1 {
			problems = append(problems, fmt.Sprintf("Port %v is on %d bridges", p["name"], onBridge[u]))
		}
		is := ftUUIDSet(p["interfaces"])
		if len(is) == 0 {
			problems = append(problems, fmt.Sprintf("Port %v has no Interface", p["name"]))
		}
		for _, i := range is {
			if _, ok := ifaces[i]; !ok {
				problems = append(problems, fmt.Sprintf("Port %v holds %s, which is no Interface", p["name"], i))
			}
			held[i]++
		}
	}
	perLSP := map[string]int{}
	for u, i := range ifaces {
		if held[u] != 1 {
			problems = append(problems, fmt.Sprintf("Interface %v is held by %d ports", i["name"], held[u]))
		}
		ext := ftStrMap(i["external_ids"])
		lsp := ext["iface-id"]
		if lsp == "" {
			continue
		}
		perLSP[lsp]++
		if ext["ovn-plugged"] != "" && !live[lsp] {
			problems = append(problems, fmt.Sprintf("Interface %v is plugged for %s, which is not a live LSP", i["name"], lsp))
		}
	}
	var missing []string
	for lsp := range live {
		switch n := perLSP[lsp]; {
		case n == 0:
			missing = append(missing, lsp)
		case n > 1:
			problems = append(problems, fmt.Sprintf("%d Interfaces carry iface-id %s", n, lsp))
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		problems = append(problems, fmt.Sprintf("%d live LSPs have no Interface (first: %s)", len(missing), missing[0]))
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		if len(problems) > 10 {
			problems = append(problems[:10], fmt.Sprintf("... and %d more", len(problems)-10))
		}
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// ftUUIDSet decodes an OVSDB JSON uuid or set of uuids.
func ftUUIDSet(v any) []string {
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return nil
	}
	if a[0] == "uuid" {
		return []string{ctUUIDOf(v)}
	}
	var out []string
	elems, _ := a[1].([]any)
	for _, e := range elems {
		out = append(out, ctUUIDOf(e))
	}
	return out
}

// ftStrMap decodes an OVSDB JSON map of strings.
func ftStrMap(v any) map[string]string {
	out := map[string]string{}
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return out
	}
	pairs, _ := a[1].([]any)
	for _, p := range pairs {
		if kv, ok := p.([]any); ok && len(kv) == 2 {
			k, _ := kv[0].(string)
			val, _ := kv[1].(string)
			out[k] = val
		}
	}
	return out
}

// ftLSPArgs are the ovn-nbctl arguments that add the LSPs, dummy-plugged
// on the stack's chassis, in one NB transaction.
func ftLSPArgs(s *stack.Stack, lsps []string) []string {
	args := []string{"--may-exist", "ls-add", sw}
	for _, lsp := range lsps {
		args = append(args, "--", "lsp-add", sw, lsp, "--")
		args = append(args, dummyOptions(lsp, s.Chassis, 0)...)
	}
	return args
}
