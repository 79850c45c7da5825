package stack

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// IfaceEvent is one change of an OVS Interface row, as an `ovsdb-client
// monitor` of the stack's Open_vSwitch database reported it.
type IfaceEvent struct {
	// At is when this process read the event: a little after the commit.
	At time.Time
	// Action is "initial", "insert", "delete" or "modify".
	Action string
	UUID   string
	Name   string
	// ExternalIDs are the row's external_ids: the deleted values for a
	// delete, the new ones for a modify.
	ExternalIDs map[string]string
	// OldExternalIDs are the values before a modify, if they changed.
	OldExternalIDs map[string]string
}

// IfaceMonitor records every change of the OVS Interface table (name and
// external_ids) in the background, so that a test can check each
// deletion afterwards instead of hoping to poll at the right moment.
type IfaceMonitor struct {
	s    *Stack
	cmd  *exec.Cmd
	done chan struct{}

	mu     sync.Mutex
	events []IfaceEvent
	err    error
	lines  int
	fence  string // the last fence value the monitor reported
}

// fenceSeq makes every fence value new, also across monitors of a stack.
var fenceSeq atomic.Int64

// fenceKey is the br-int Interface external_ids key Fence writes.
const fenceKey = "e2e-monitor-fence"

// MonitorInterfaces starts the monitor and waits for its initial dump,
// which is never empty once New has returned (br-int has an Interface).
// It stops at the test's cleanup, or with Stop. It ends by itself if
// the OVS ovsdb-server goes away; Err says so.
func (s *Stack) MonitorInterfaces() *IfaceMonitor {
	s.tb.Helper()
	// Not --timestamp: with --format=json it crashes ovsdb-client 3.1.
	cmd := exec.Command("ovsdb-client", "--format=json", "monitor", s.OVSRemote(), "Open_vSwitch", "Interface", "name,external_ids")
	cmd.Dir, cmd.Env = s.Dir, s.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		s.tb.Fatalf("stack: interface monitor: %v", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("stack: interface monitor: %v", err)
	}
	m := &IfaceMonitor{s: s, cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		rerr := m.read(stdout)
		werr := cmd.Wait()
		m.mu.Lock()
		defer m.mu.Unlock()
		switch {
		case rerr != nil:
			m.err = rerr
		case werr != nil:
			m.err = fmt.Errorf("ovsdb-client monitor: %v: %s", werr, strings.TrimSpace(stderr.String()))
		default:
			m.err = io.EOF
		}
	}()
	s.tb.Cleanup(m.Stop)
	Eventually(s.tb, startTimeout, "the interface monitor's initial dump", func() error {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.lines > 0 {
			return nil
		}
		if m.err != nil {
			return m.err
		}
		return fmt.Errorf("no output yet")
	})
	return m
}

func (m *IfaceMonitor) read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		evs, err := parseIfaceUpdate(sc.Text(), time.Now())
		if err != nil {
			return err
		}
		m.mu.Lock()
		for _, ev := range evs {
			if v, ok := isFence(ev); ok {
				m.fence = v
				continue
			}
			m.events = append(m.events, ev)
		}
		m.lines++
		m.mu.Unlock()
	}
	return sc.Err()
}

// parseIfaceUpdate decodes one line of `ovsdb-client --format=json
// monitor`: a table whose rows are [row, action, name, external_ids].
// A modification is an "old" row (changed columns only) followed by a
// "new" row with an empty uuid.
func parseIfaceUpdate(line string, at time.Time) ([]IfaceEvent, error) {
	tables, err := parseTables(line)
	if err != nil || len(tables) != 1 {
		return nil, fmt.Errorf("interface monitor: bad line %q: %v", line, err)
	}
	var evs []IfaceEvent
	var old *Row
	for _, r := range tables[0] {
		switch action := r.Str("action"); action {
		case "old":
			old = &r
		case "new":
			ev := IfaceEvent{At: at, Action: "modify", Name: r.Str("name"), ExternalIDs: r.Map("external_ids")}
			if old != nil {
				ev.UUID = old.Str("row")
				if _, ok := (*old)["external_ids"].(map[string]string); ok {
					ev.OldExternalIDs = old.Map("external_ids")
				}
			}
			old = nil
			evs = append(evs, ev)
		case "initial", "insert", "delete":
			evs = append(evs, IfaceEvent{At: at, Action: action, UUID: r.Str("row"), Name: r.Str("name"), ExternalIDs: r.Map("external_ids")})
		default:
			return nil, fmt.Errorf("interface monitor: unknown action %q in %q", action, line)
		}
	}
	return evs, nil
}

// isFence reports whether ev is only a Fence write, and its value.
func isFence(ev IfaceEvent) (string, bool) {
	if ev.Action != "modify" || ev.Name != "br-int" {
		return "", false
	}
	v := ev.ExternalIDs[fenceKey]
	if v == ev.OldExternalIDs[fenceKey] {
		return "", false
	}
	for k, nv := range ev.ExternalIDs {
		if k != fenceKey && ev.OldExternalIDs[k] != nv {
			return "", false
		}
	}
	for k := range ev.OldExternalIDs {
		if _, ok := ev.ExternalIDs[k]; !ok && k != fenceKey {
			return "", false
		}
	}
	return v, true
}

// Fence waits until the monitor has reported every OVS commit made before
// it was called: it commits a marker to br-int's Interface and waits for
// that update, which ovsdb-server sends after all earlier ones. The
// marker's own update is not recorded as an event.
func (m *IfaceMonitor) Fence() {
	m.s.tb.Helper()
	v := fmt.Sprint(fenceSeq.Add(1))
	m.s.VSCtl("set", "Interface", "br-int", "external_ids:"+fenceKey+"="+v)
	Eventually(m.s.tb, startTimeout, "the interface monitor's fence "+v, func() error {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.fence == v {
			return nil
		}
		if m.err != nil {
			return m.err
		}
		return fmt.Errorf("fence %s not seen yet (last %q)", v, m.fence)
	})
}

// Events returns every event so far, oldest first.
func (m *IfaceMonitor) Events() []IfaceEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]IfaceEvent(nil), m.events...)
}

// Deletions returns the delete events so far, oldest first.
func (m *IfaceMonitor) Deletions() []IfaceEvent {
	var out []IfaceEvent
	for _, e := range m.Events() {
		if e.Action == "delete" {
			out = append(out, e)
		}
	}
	return out
}

// Err is nil while the monitor runs, and why it ended otherwise.
func (m *IfaceMonitor) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// Stop ends the monitor. The events read so far stay available.
func (m *IfaceMonitor) Stop() {
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Kill()
	<-m.done
}
