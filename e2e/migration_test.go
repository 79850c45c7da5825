//go:build e2e

package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// Live migration from ovn-controller's own VIF plugging to the sidecar and
// back, as docs/migration.md tells an operator to do it. Writes are
// counted at ovsdb-server (row _version and monitored commits of the
// columns a plugger writes), never by trusting the sidecar.

const dummyPlugFlag = "--enable-dummy-vif-plug"

// mgSetControllerPlugging restarts ovn-controller with or without its
// dummy VIF plug provider and waits until it is connected to both
// databases again.
func mgSetControllerPlugging(t *testing.T, s *stack.Stack, on bool) {
	t.Helper()
	// ovn-controller dies of the signal, without cleaning up (as a
	// restart through ovn-ctl does): "signal: terminated" is success.
	if err := s.Controller.Stop(); err != nil && !strings.Contains(err.Error(), "signal: terminated") {
		t.Fatalf("ovn-controller on SIGTERM: %v", err)
	}
	args := slices.DeleteFunc(s.Controller.Args(), func(a string) bool { return a == dummyPlugFlag })
	if on {
		// The OVS remote stays last.
		args = slices.Insert(args, len(args)-1, dummyPlugFlag)
	}
	s.Controller.SetArgs(args...)
	s.Controller.Start()
	s.Eventually(time.Minute, "ovn-controller connected to the SB again", func() error {
		out, err := s.AppctlErr(s.Controller, "connection-status")
		if err != nil || strings.TrimSpace(out) != "connected" {
			return fmt.Errorf("connection-status %q %v", out, err)
		}
		return nil
	})
}

// mgIfaceUUIDs maps each Interface name to its row UUID.
func mgIfaceUUIDs(t *testing.T, s *stack.Stack) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range ctOvsVersions(t, s, "Interface") {
		out[r.Name] = r.UUID
	}
	return out
}

// mgWaitSidecarSees waits until the sidecar's /ports lists every lsp as
// plugged: a pass that read all of them has completed.
func mgWaitSidecarSees(t *testing.T, s *stack.Stack, lsps ...string) {
	t.Helper()
	s.Eventually(plugTimeout, "the sidecar reports every port plugged", func() error {
		ports := ctSidecarPorts(t, s)
		for _, lsp := range lsps {
			if st := ports[lsp]; st.State != "plugged" {
				return fmt.Errorf("%s: %+v", lsp, st)
			}
		}
		return nil
	})
}

// mgNoWrites fails if any row of Open_vSwitch, Bridge, Port or Interface
// changed since before (ovsdb-server gives every committed change of a
// row a new _version; a deleted or re-created Interface shows as such),
// or if ovsdb-server reported a commit touching the columns a plugger
// writes.
func mgNoWrites(t *testing.T, s *stack.Stack, what string, w *ftWrites, before map[string]ctRowVersion) {
	t.Helper()
	if d := ctDiffVersions(before, ctOvsVersions(t, s, ctVersionTables...)); len(d) > 0 {
		t.Errorf("%s changed %d rows:\n%s", what, len(d), strings.Join(d, "\n"))
	}
	if perTable, most := w.since(time.Time{}); most != 0 {
		t.Errorf("%s: ovsdb-server committed transactions touching plug-owned columns: %v, want none", what, perTable)
	}
}

// TestMigrationFromOVNPluggingAndBack: ports that ovn-controller
// --enable-dummy-vif-plug plugged are adopted by the sidecar with no OVS
// write at all; the sidecar then plugs, updates and unplugs; and rolling
// back to ovn-controller's plugging leaves every row as it is.
func TestMigrationFromOVNPluggingAndBack(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{ManualSidecar: true, ControllerArgs: []string{dummyPlugFlag}})
	lsps := []string{"mg1", "mg2", "mg3", "a-logical-port-with-a-long-name"}
	mtus := map[string]int64{"mg2": 1400, "mg3": 9000}
	s.NBCtl("ls-add", sw)
	for _, lsp := range lsps {
		s.NBCtl(append([]string{"lsp-add", sw, lsp, "--"}, dummyOptions(lsp, s.Chassis, int(mtus[lsp]))...)...)
	}
	for _, lsp := range lsps {
		w := ctWaitIface(t, s, ctDummyWant(lsp, mtus[lsp]))
		ctWaitInstalled(t, s, w.Name, lsp)
	}
	plugged := mgIfaceUUIDs(t, s)

	// Step 1: ovn-controller without its plugging. It must not touch the
	// interfaces it plugged either.
	mgSetControllerPlugging(t, s, false)
	s.WaitLSPsUp(plugTimeout, lsps...)

	// Step 2: the sidecar adopts what is there.
	writes := ftMonitorWrites(t, s)
	before := ctQuiesce(t, s)
	start := time.Now()
	s.StartSidecar()
	ctWaitReady(t, s, time.Minute)
	mgWaitSidecarSees(t, s, lsps...)
	t.Logf("adopted %d ports %v after the sidecar started", len(lsps), time.Since(start).Round(time.Millisecond))
	mgNoWrites(t, s, "adoption", writes, before)
	if n := ftSidecarTxns(t, s); n != 0 {
		t.Errorf("the sidecar counted %d OVS transactions on adoption", n)
	}
	for name, uuid := range plugged {
		if got := mgIfaceUUIDs(t, s)[name]; got != uuid {
			t.Errorf("Interface %s is now %q, was %s", name, got, uuid)
		}
	}

	// Step 3: the sidecar owns plug, update and unplug.
	s.NBCtl(append([]string{"lsp-add", sw, "mg4", "--"}, dummyOptions("mg4", s.Chassis, 0)...)...)
	w4 := ctWaitIface(t, s, ctDummyWant("mg4", 0))
	ctWaitInstalled(t, s, w4.Name, "mg4")
	s.NBCtl(dummyOptions("mg2", s.Chassis, 1450)...)
	ctWaitIface(t, s, ctDummyWant("mg2", 1450))
	s.NBCtl("lsp-del", "mg1")
	s.Eventually(plugTimeout, "mg1 unplugged", func() error {
		if _, ok := s.Interface("mg1"); ok {
			return fmt.Errorf("Interface mg1 still there")
		}
		return nil
	})
	m := ctScrape(t, s)
	for _, op := range []string{"plug", "update", "unplug"} {
		if ctOps(m, "dummy", op, "success") < 1 {
			t.Errorf("the sidecar counted no successful %s: %s", op, ctOpsTable(m))
		}
	}
	// The adoption checks see the sidecar's writes when there are some.
	if _, most := writes.since(time.Time{}); most == 0 {
		t.Error("the write monitors saw none of the sidecar's writes: the adoption check is blind")
	}
	if len(ctDiffVersions(before, ctOvsVersions(t, s, ctVersionTables...))) == 0 {
		t.Error("the sidecar's writes changed no row version: the adoption check is blind")
	}
	writes.stop()

	// Step 4: roll back. The sidecar stops (exit never unplugs) and
	// ovn-controller plugs again; the rows stay as they are, including
	// the port the sidecar plugged and the MTU it set.
	owned := []string{"mg2", "mg3", "mg4", "a-logical-port-with-a-long-name"}
	mon := s.MonitorInterfaces()
	before = ctQuiesce(t, s)
	if err := s.Sidecar.Stop(); err != nil {
		t.Fatalf("sidecar on SIGTERM: %v", err)
	}
	mgSetControllerPlugging(t, s, true)
	s.WaitLSPsUp(plugTimeout, owned...)
	// ovn-controller has run its plug providers over every port once it
	// has claimed a new one; a port added after the restart proves that.
	s.NBCtl(append([]string{"lsp-add", sw, "mg5", "--"}, dummyOptions("mg5", s.Chassis, 0)...)...)
	w5 := ctWaitIface(t, s, ctDummyWant("mg5", 0))
	ctWaitInstalled(t, s, w5.Name, "mg5")
	mon.Fence()
	for _, ev := range mon.Events() {
		if (ev.Action == "insert" || ev.Action == "delete") && ev.Name != "mg5" {
			t.Errorf("rollback: Interface %s %sd", ev.Name, ev.Action)
		}
	}
	after := ctOvsVersions(t, s, ctVersionTables...)
	for k, b := range before {
		if b.Table != "Interface" || !slices.Contains(owned, b.Name) && b.Name != ftDummyName("a-logical-port-with-a-long-name") {
			continue
		}
		if a, ok := after[k]; !ok || a.Version != b.Version {
			t.Errorf("rollback changed Interface %s (%s): %+v -> %+v", b.Name, b.UUID, b, a)
		}
	}
	// ovn-controller owns the ports again.
	s.NBCtl(dummyOptions("mg3", s.Chassis, 1500)...)
	ctWaitIface(t, s, ctDummyWant("mg3", 1500))
}

// TestMigrationBothPlugging: the sidecar and ovn-controller
// --enable-dummy-vif-plug both running on the same ports by mistake.
// They must not fight: every port is plugged once, updates and unplugs
// settle with nothing written after. The operator is told, in a warning
// and the port's status, when the other agent's write lands first; and
// when some agent keeps rewriting a port, the loop backstop stops the
// sidecar's side and its reason says another agent is at work.
func TestMigrationBothPlugging(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{ControllerArgs: []string{dummyPlugFlag}})
	mon := s.MonitorInterfaces()
	var lsps []string
	s.NBCtl("ls-add", sw)
	for i := range 10 {
		lsp := fmt.Sprintf("bp%d", i)
		lsps = append(lsps, lsp)
		s.NBCtl(append([]string{"lsp-add", sw, lsp, "--"}, dummyOptions(lsp, s.Chassis, 0)...)...)
	}
	for _, lsp := range lsps {
		ctWaitIface(t, s, ctDummyWant(lsp, 0))
	}
	s.WaitLSPsUp(plugTimeout, lsps...)
	mgWaitSidecarSees(t, s, lsps...)

	// Both update and unplug; whichever is first, the other finds
	// nothing to do. When the SB news reaches the sidecar before the
	// other agent's write, the two writes are the same and nothing shows
	// it: the deterministic case of being told is below.
	s.NBCtl(dummyOptions("bp1", s.Chassis, 1450)...)
	ctWaitIface(t, s, ctDummyWant("bp1", 1450))
	s.NBCtl("lsp-del", "bp2")
	s.Eventually(plugTimeout, "bp2 unplugged", func() error {
		if _, ok := s.Interface("bp2"); ok {
			return fmt.Errorf("Interface bp2 still there")
		}
		return nil
	})
	s.NBCtl(dummyOptions("bp3", s.Chassis, 9000)...)
	ctWaitIface(t, s, ctDummyWant("bp3", 9000))

	// No fight: once settled, nobody writes.
	writes := ftMonitorWrites(t, s)
	tx0 := ftSidecarTxns(t, s)
	time.Sleep(3 * time.Second) // a quiet window: a fight would write in it
	if perTable, most := writes.since(time.Time{}); most != 0 {
		t.Errorf("with both agents settled, ovsdb-server committed plug writes: %v", perTable)
	}
	mon.Fence() // after the count: the fence is a write too
	if tx := ftSidecarTxns(t, s); tx != tx0 {
		t.Errorf("the sidecar made %d OVS transactions while settled", tx-tx0)
	}
	inserts := map[string]int{}
	for _, ev := range mon.Events() {
		switch {
		case ev.Action == "insert":
			inserts[ev.Name]++
		case ev.Action == "delete" && ev.Name != "bp2":
			t.Errorf("Interface %s deleted", ev.Name)
		}
	}
	for _, lsp := range lsps {
		if inserts[lsp] != 1 {
			t.Errorf("Interface %s inserted %d times, want once", lsp, inserts[lsp])
		}
	}
	writes.stop()

	// An interface deleted by hand while the sidecar is stalled is
	// plugged again by ovn-controller: the sidecar, back, sees a delete
	// it did not make and tells the operator, in the port's status and
	// one warning.
	s.Sidecar.Pause()
	old, _ := s.Interface("bp4")
	s.VSCtl("del-port", "bp4")
	s.Eventually(plugTimeout, "bp4 plugged again by ovn-controller", func() error {
		if i, ok := s.Interface("bp4"); !ok || i.UUID == old.UUID {
			return fmt.Errorf("bp4 not re-created yet")
		}
		return dummyPlugged(s.Interfaces(), "bp4", 0)
	})
	s.Sidecar.Resume()
	s.Eventually(plugTimeout, "bp4's status names another agent", func() error {
		st := ctSidecarPorts(t, s)["bp4"]
		if st.State != "plugged" || !strings.Contains(st.Reason, "another agent deleted interface bp4") {
			return fmt.Errorf("bp4: %+v", st)
		}
		return nil
	})
	if n := ctLogCount(s, "Another agent writes a port this sidecar plugs", "bp4"); n != 1 {
		t.Errorf("%d warnings naming bp4 and another agent, want 1:\n%s", n, strings.Join(ctLogLines(s, "Another agent"), "\n"))
	}

	// An agent that keeps rewriting bp3 (here a script setting another
	// MTU, as a disagreeing plugger would): the sidecar backs off. With
	// ovn-controller's plugging still on, ovn-controller would be the one
	// to undo the script, and the sidecar would only watch.
	mgSetControllerPlugging(t, s, false)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			_, _ = s.VSCtlErr("set", "Interface", "bp3", "mtu_request=1300")
		}
	}()
	defer func() { close(stop); <-done }()
	s.Eventually(time.Minute, "bp3 in error: not converging, another agent", func() error {
		st := ctSidecarPorts(t, s)["bp3"]
		if st.State != "error" || !strings.HasPrefix(st.Reason, "not converging: ") || !strings.Contains(st.Reason, "another agent changed interface bp3") {
			return fmt.Errorf("bp3: %+v", st)
		}
		return nil
	})
	t.Logf("bp3: %s", ctSidecarPorts(t, s)["bp3"].Reason)
	if n := ctLogCount(s, "Logical port is not converging", "bp3"); n < 1 {
		t.Errorf("no not-converging warning for bp3")
	}
}
