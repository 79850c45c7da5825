package stack

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Interface is an OVS Interface row, with the bridge whose Port holds it.
type Interface struct {
	UUID        string
	Name        string
	Type        string
	Bridge      string // "" if no bridge holds it
	Port        string // name of the Port holding it
	Options     map[string]string
	ExternalIDs map[string]string
	MTURequest  int64 // 0 when unset
	OFPort      int64 // 0 when unset, -1 on error
	Error       string
}

// Interfaces reads every Interface row in one ovs-vsctl call, keyed by name.
func (s *Stack) Interfaces() map[string]Interface {
	s.tb.Helper()
	out := s.VSCtl("--format=json",
		"--columns=_uuid,name,type,options,external_ids,mtu_request,ofport,error", "list", "Interface",
		"--", "--columns=_uuid,name,interfaces", "list", "Port",
		"--", "--columns=name,ports", "list", "Bridge")
	tables, err := parseTables(out)
	if err != nil || len(tables) != 3 {
		s.tb.Fatalf("stack: parse interfaces (%d tables): %v", len(tables), err)
	}
	portBridge := map[string]string{}
	for _, b := range tables[2] {
		for _, p := range b.Strs("ports") {
			portBridge[p] = b.Str("name")
		}
	}
	type holder struct{ port, bridge string }
	ifaceHolder := map[string]holder{}
	for _, p := range tables[1] {
		for _, i := range p.Strs("interfaces") {
			ifaceHolder[i] = holder{p.Str("name"), portBridge[p.Str("_uuid")]}
		}
	}
	ifaces := make(map[string]Interface, len(tables[0]))
	for _, r := range tables[0] {
		mtu, _ := r.Int("mtu_request")
		ofport, _ := r.Int("ofport")
		h := ifaceHolder[r.Str("_uuid")]
		ifaces[r.Str("name")] = Interface{
			UUID:        r.Str("_uuid"),
			Name:        r.Str("name"),
			Type:        r.Str("type"),
			Bridge:      h.bridge,
			Port:        h.port,
			Options:     r.Map("options"),
			ExternalIDs: r.Map("external_ids"),
			MTURequest:  mtu,
			OFPort:      ofport,
			Error:       r.Str("error"),
		}
	}
	return ifaces
}

// Interface returns the Interface row called name.
func (s *Stack) Interface(name string) (Interface, bool) {
	s.tb.Helper()
	i, ok := s.Interfaces()[name]
	return i, ok
}

// LSPsUp reads every Logical_Switch_Port's `up` column, keyed by name.
func (s *Stack) LSPsUp() map[string]bool {
	s.tb.Helper()
	up := map[string]bool{}
	for _, r := range s.List(NB, "Logical_Switch_Port", "name", "up") {
		up[r.Str("name")] = r.Bool("up")
	}
	return up
}

// LSPUp reports whether the logical switch port is up (bound by
// ovn-controller). A missing port is not up.
func (s *Stack) LSPUp(name string) bool {
	s.tb.Helper()
	return s.LSPsUp()[name]
}

// WaitLSPsUp waits until every named LSP is up.
func (s *Stack) WaitLSPsUp(timeout time.Duration, names ...string) {
	s.tb.Helper()
	s.Eventually(timeout, fmt.Sprintf("%d LSP(s) up", len(names)), func() error {
		up := s.LSPsUp()
		var down []string
		for _, n := range names {
			if !up[n] {
				down = append(down, n)
			}
		}
		return missingErr("not up", down)
	})
}

// missingErr summarises a list of names without printing a thousand.
func missingErr(what string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	sort.Strings(names)
	if len(names) > 5 {
		return fmt.Errorf("%d %s (first 5: %s)", len(names), what, strings.Join(names[:5], ", "))
	}
	return fmt.Errorf("%d %s: %s", len(names), what, strings.Join(names, ", "))
}

// Eventually polls cond until it returns nil, failing the test with cond's
// last error after timeout. It fails at once if a stack process died on
// its own, since waiting longer cannot help.
func (s *Stack) Eventually(timeout time.Duration, what string, cond func() error) {
	s.tb.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	interval := 10 * time.Millisecond
	for {
		err := cond()
		if err == nil {
			return
		}
		if d := s.deaths(); d != "" {
			// Teardown shows the logs.
			s.tb.Fatalf("stack: gave up waiting for %s: %v\n%s", what, err, strings.TrimSpace(d))
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("stack: timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(interval)
		interval = min(2*interval, 200*time.Millisecond)
	}
}

// Eventually polls cond until it returns nil, failing tb with cond's last
// error after timeout. For waits that have no stack.
func Eventually(tb TB, timeout time.Duration, what string, cond func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
