//go:build e2e

package e2e

// Start-up priming gates unplugging only (docs/vif-plug-contract.md): an
// unplug waits until both monitors have finished their initial dump since
// the last (re)connect and the chassis row is known; no iteration count,
// no timer.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// ctPlugMany creates the LSPs in one NB transaction and waits until all
// are plugged, up and ovn-installed. It returns their interfaces.
func ctPlugMany(t *testing.T, s *stack.Stack, lsps ...string) map[string]stack.Interface {
	t.Helper()
	args := []string{"--may-exist", "ls-add", sw}
	for _, lsp := range lsps {
		args = append(args, "--", "lsp-add", sw, lsp, "--")
		args = append(args, dummyOptions(lsp, s.Chassis, 0)...)
	}
	s.NBCtl(args...)
	s.Eventually(plugTimeout, fmt.Sprintf("%d ports plugged", len(lsps)), func() error {
		ifaces := s.Interfaces()
		for _, lsp := range lsps {
			if err := ctDummyWant(lsp, 0).check(ifaces); err != nil {
				return err
			}
		}
		return nil
	})
	s.WaitLSPsUp(plugTimeout, lsps...)
	s.Eventually(plugTimeout, "ovn-installed everywhere", func() error {
		ifaces := s.Interfaces()
		for _, lsp := range lsps {
			if ifaces[lsp].ExternalIDs["ovn-installed"] != "true" {
				return fmt.Errorf("%s not ovn-installed yet", lsp)
			}
		}
		return nil
	})
	out := map[string]stack.Interface{}
	for k, v := range s.Interfaces() {
		out[k] = v
	}
	return out
}

// ctUntouched fails unless each named interface is still the same row
// (same UUID: not unplugged and plugged again) with the same mtu_request.
func ctUntouched(ifaces, before map[string]stack.Interface, names ...string) error {
	for _, n := range names {
		i, ok := ifaces[n]
		switch {
		case !ok:
			return fmt.Errorf("Interface %s was unplugged", n)
		case i.UUID != before[n].UUID:
			return fmt.Errorf("Interface %s was replaced (uuid %s became %s)", n, before[n].UUID, i.UUID)
		case i.MTURequest != before[n].MTURequest:
			return fmt.Errorf("Interface %s mtu_request %d became %d", n, before[n].MTURequest, i.MTURequest)
		}
	}
	return nil
}

// ctMetricIs fails unless the sidecar exports name{labels} with value v.
func ctMetricIs(m ctMetrics, name string, labels map[string]string, v float64) error {
	if !m.has(name, labels) {
		return fmt.Errorf("no %s%v", name, labels)
	}
	if got := m.sum(name, labels); got != v {
		return fmt.Errorf("%s%v = %g, want %g", name, labels, got, v)
	}
	return nil
}

// ctStopSB stops the SB ovsdb-server. It exits by re-raising SIGTERM, so
// its exit status is not an error here.
func ctStopSB(t *testing.T, s *stack.Stack) {
	t.Helper()
	_ = s.SB.Stop()
	if s.SB.Running() {
		t.Fatal("SB ovsdb-server still running after Stop")
	}
}

// (a) An LSP deleted while the sidecar was down is unplugged within 2 s
// of both databases being synced, and nothing else is touched.
func TestPrimingUnplugAfterSync(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	keep := []string{"lsp1", "lsp3", "lsp4"}
	before := ctPlugMany(t, s, "lsp1", "lsp2", "lsp3", "lsp4")

	if err := s.Sidecar.Stop(); err != nil {
		t.Fatalf("sidecar on SIGTERM: %v", err)
	}
	s.NBCtl("--wait=sb", "lsp-del", "lsp2")
	start := time.Now()
	s.Sidecar.Start()
	ready := ctWaitReady(t, s, time.Minute)
	s.Eventually(plugTimeout, "lsp2 unplugged", func() error {
		ifaces := s.Interfaces()
		if err := ctUntouched(ifaces, before, keep...); err != nil {
			t.Fatal(err)
		}
		if _, ok := ifaces["lsp2"]; ok {
			return fmt.Errorf("lsp2 still plugged")
		}
		return nil
	})
	gone := time.Now()
	t.Logf("ready %v after start; lsp2 unplugged %v after ready", ready.Sub(start).Round(time.Millisecond), gone.Sub(ready).Round(time.Millisecond))
	if gone.Sub(ready) > 2*time.Second {
		t.Errorf("lsp2 unplugged %v after /readyz turned 200, want at most 2 s", gone.Sub(ready))
	}
	ctNever(t, ctSettle, "the other ports stay", func() error { return ctUntouched(s.Interfaces(), before, keep...) })
	m := ctScrape(t, s)
	if err := ctMetricIs(m, "ovn_vif_sidecar_primed", nil, 1); err != nil {
		t.Error(err)
	}
	if got := ctOps(m, "", "", ""); got != 1 || ctOps(m, "dummy", "unplug", "success") != 1 {
		t.Errorf("operations %s, want exactly one dummy unplug", ctOpsTable(m))
	}
}

// (b) Started while the SB ovsdb-server is down: alive, not ready, OVS
// connected, nothing unplugged. Once SB is back: ready, and the port whose
// LSP was deleted meanwhile is unplugged, only then.
func TestPrimingSBDownAtStart(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	before := ctPlugMany(t, s, "lsp1", "lsp2")
	if err := s.Sidecar.Stop(); err != nil {
		t.Fatalf("sidecar on SIGTERM: %v", err)
	}
	ctStopSB(t, s)
	// northd cannot reach the SB, so the binding stays until SB is back.
	s.NBCtl("lsp-del", "lsp2")
	s.Sidecar.Start()

	ctCheckHealthy(t, s)
	s.Eventually(plugTimeout, "OVS connected, SB not", func() error {
		m := ctScrape(t, s)
		if err := ctMetricIs(m, "ovn_vif_sidecar_db_connected", map[string]string{"db": "ovs"}, 1); err != nil {
			return err
		}
		return ctMetricIs(m, "ovn_vif_sidecar_db_connected", map[string]string{"db": "sb"}, 0)
	})
	ctNever(t, ctSettle, "not ready and nothing unplugged without SB", func() error {
		if c := ctReadyz(s); c != http.StatusServiceUnavailable {
			return fmt.Errorf("/readyz answered %d, want 503", c)
		}
		return ctUntouched(s.Interfaces(), before, "lsp1", "lsp2")
	})
	m := ctScrape(t, s)
	if err := ctMetricIs(m, "ovn_vif_sidecar_primed", nil, 0); err != nil {
		t.Error(err)
	}
	if got := ctOps(m, "", "", ""); got != 0 {
		t.Errorf("operations without SB: %s", ctOpsTable(m))
	}
	ctCheckHealthy(t, s)

	s.SB.Start()
	sbBack := time.Now()
	ready := ctWaitReady(t, s, time.Minute)
	var pbGone time.Time
	s.Eventually(plugTimeout, "lsp2 unplugged after SB is back", func() error {
		if pbGone.IsZero() && s.SBCtl("--bare", "--columns=_uuid", "find", "Port_Binding", "logical_port=lsp2") == "" {
			pbGone = time.Now()
		}
		ifaces := s.Interfaces()
		if err := ctUntouched(ifaces, before, "lsp1"); err != nil {
			t.Fatal(err)
		}
		if _, ok := ifaces["lsp2"]; ok {
			return fmt.Errorf("lsp2 still plugged")
		}
		return nil
	})
	t.Logf("SB back: sidecar ready after %v, northd deleted lsp2's binding by %v, lsp2 unplugged after %v",
		ready.Sub(sbBack).Round(time.Millisecond), pbGone.Sub(sbBack).Round(time.Millisecond), time.Since(sbBack).Round(time.Millisecond))
	m = ctScrape(t, s)
	if err := ctMetricIs(m, "ovn_vif_sidecar_db_connected", map[string]string{"db": "sb"}, 1); err != nil {
		t.Error(err)
	}
	if got := ctOps(m, "", "", ""); got != 1 || ctOps(m, "dummy", "unplug", "success") != 1 {
		t.Errorf("operations %s, want exactly one dummy unplug", ctOpsTable(m))
	}
	s.WaitLSPsUp(plugTimeout, "lsp1")
}

// (c) The SB ovsdb-server restarts while 20 ports are plugged: nothing is
// unplugged in the gap, the gate closes, and changes made in NB during the
// gap (a deletion, an MTU change, a new port) are applied once SB is back,
// without touching the other ports.
func TestPrimingSBRestart(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	var lsps []string
	for i := range 20 {
		lsps = append(lsps, fmt.Sprintf("p%02d", i))
	}
	before := ctPlugMany(t, s, lsps...)
	var others []string
	for _, l := range lsps {
		if l != "p05" && l != "p06" {
			others = append(others, l)
		}
	}

	ctStopSB(t, s)
	gap := time.Now()
	s.NBCtl("lsp-del", "p05")
	s.NBCtl(dummyOptions("p06", s.Chassis, 900)...)
	s.NBCtl(append([]string{"lsp-add", sw, "p20", "--"}, dummyOptions("p20", s.Chassis, 0)...)...)
	// Down, and saying why: the cause of the loss, then of each failed
	// reconnect, logged at W when it changes.
	s.Eventually(plugTimeout, "/readyz 503 while SB is down, with the cause", func() error {
		code, body := opReadyz(s)
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "sb database not connected: ") {
			return fmt.Errorf("/readyz = %d %q", code, body)
		}
		return nil
	})
	s.Eventually(plugTimeout, "the cause logged", func() error {
		for _, l := range opLogLines(s, `"OVSDB reconnect failed; retrying" db="sb" err=`) {
			if strings.HasPrefix(l, "W") {
				return nil
			}
		}
		return fmt.Errorf("no W %q line for db=sb", "OVSDB reconnect failed; retrying")
	})
	ctNever(t, ctSettle, "nothing changes in the gap", func() error {
		ifaces := s.Interfaces()
		if _, ok := ifaces["p20"]; ok {
			return fmt.Errorf("p20 plugged without SB")
		}
		return ctUntouched(ifaces, before, lsps...)
	})
	ctCheckHealthy(t, s)

	s.SB.Start()
	t.Logf("SB down for %v", time.Since(gap).Round(time.Millisecond))
	back := time.Now()
	s.Eventually(time.Minute, "the gap's changes applied", func() error {
		ifaces := s.Interfaces()
		if err := ctUntouched(ifaces, before, others...); err != nil {
			t.Fatal(err)
		}
		if _, ok := ifaces["p05"]; ok {
			return fmt.Errorf("p05 still plugged")
		}
		if err := ctDummyWant("p06", 900).check(ifaces); err != nil {
			return err
		}
		return ctDummyWant("p20", 0).check(ifaces)
	})
	t.Logf("changes applied %v after SB came back", time.Since(back).Round(time.Millisecond))
	ctWaitReady(t, s, time.Minute)
	if i, _ := s.Interface("p06"); i.UUID != before["p06"].UUID {
		t.Errorf("p06 was replugged for an MTU change (uuid %s became %s)", before["p06"].UUID, i.UUID)
	}
	ctNever(t, ctSettle, "the other ports stay", func() error { return ctUntouched(s.Interfaces(), before, others...) })
	m := ctScrape(t, s)
	for _, c := range []struct {
		op   string
		want float64
	}{{"unplug", 1}, {"update", 1}, {"plug", 21}, {"replug", 0}} {
		if got := ctOps(m, "dummy", c.op, "success"); got != c.want {
			t.Errorf("dummy %s operations = %g, want %g (%s)", c.op, got, c.want, ctOpsTable(m))
		}
	}
	s.WaitLSPsUp(time.Minute, append(others, "p06", "p20")...)
}

// Restarting the sidecar, again and again, never unplugs a port whose
// binding is live: each start's first SB session (before the chassis is
// known) must not count as the Port_Binding dump.
func TestPrimingRestartNeverUnplugs(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	var lsps []string
	for i := range 20 {
		lsps = append(lsps, fmt.Sprintf("p%02d", i))
	}
	before := ctPlugMany(t, s, lsps...)
	for round := 1; round <= 10; round++ {
		if err := s.Sidecar.Stop(); err != nil {
			t.Fatalf("round %d: sidecar on SIGTERM: %v", round, err)
		}
		s.Sidecar.Start()
		ctWaitReady(t, s, time.Minute)
		ctNever(t, time.Second, fmt.Sprintf("round %d: ports stay", round), func() error {
			return ctUntouched(s.Interfaces(), before, lsps...)
		})
		if m := ctScrape(t, s); ctOps(m, "", "", "") != 0 {
			t.Fatalf("round %d: the restarted sidecar wrote: %s", round, ctOpsTable(m))
		}
	}
}

// TestPrimingControllerExitKeepsPorts covers an ovn-controller stop and
// start (an upgrade): its graceful exit deletes the Chassis row, which
// clears requested_chassis on every binding in the same transaction, and
// the new Chassis row is resolved by ovn-northd only a moment later.
// Neither gap may look like "the bindings are gone".
func TestPrimingControllerExitKeepsPorts(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	lsps := []string{"up1", "up2", "up3", "up4", "up5"}
	before := ctPlugMany(t, s, lsps...)

	s.Appctl(s.Controller, "exit")
	if _, ok := s.Controller.Wait(30 * time.Second); !ok {
		t.Fatal("ovn-controller did not exit")
	}
	s.Eventually(30*time.Second, "chassis row deleted by ovn-controller's exit", func() error {
		if out := s.SBCtl("--bare", "--columns=name", "find", "Chassis", "name="+s.Chassis); out != "" {
			return fmt.Errorf("chassis still there: %q", out)
		}
		return nil
	})
	ctNever(t, 3*time.Second, "ports while the chassis row is gone", func() error {
		return ctUntouched(s.Interfaces(), before, lsps...)
	})
	if got := ctSidecarPorts(t, s)["up1"]; got.State != "unplug-blocked" && got.State != "plugged" {
		t.Fatalf("up1 while the chassis is gone: %+v", got)
	}

	// Freeze northd so the new Chassis row stays unresolved in the
	// bindings for a while: the window is otherwise only milliseconds.
	s.Northd.Pause()
	s.Controller.Start()
	s.Eventually(30*time.Second, "new chassis row and sidecar primed on it", func() error {
		if out := s.SBCtl("--bare", "--columns=name", "find", "Chassis", "name="+s.Chassis); out == "" {
			return fmt.Errorf("no chassis row yet")
		}
		if code := ctReadyz(s); code != http.StatusOK {
			return fmt.Errorf("/readyz %d", code)
		}
		return nil
	})
	ctNever(t, 3*time.Second, "ports while northd has not resolved the new chassis", func() error {
		return ctUntouched(s.Interfaces(), before, lsps...)
	})
	if got := ctSidecarPorts(t, s)["up1"]; got.State != "unplug-blocked" {
		t.Fatalf("up1 while its binding is unresolved: %+v, want unplug-blocked", got)
	}
	s.Northd.Resume()
	s.WaitLSPsUp(plugTimeout, lsps...)
	if err := ctUntouched(s.Interfaces(), before, lsps...); err != nil {
		t.Fatal(err)
	}
	s.Eventually(plugTimeout, "status plugged again", func() error {
		for _, l := range lsps {
			if st := ctSidecarPorts(t, s)[l]; st.State != "plugged" {
				return fmt.Errorf("%s: %+v", l, st)
			}
		}
		return nil
	})
}
