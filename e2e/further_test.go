//go:build e2e

package e2e

// Where this project goes further than OVN 23.03 (see "Beyond OVN" in
// docs/vif-plug-contract.md and the table in docs/behaviour.md), and the
// rules about which bindings are considered at all.

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb/hwdbtest"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/dpusim"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// ctHostPFMAC is the host PF MAC of the simulated DPU.
const ctHostPFMAC = "0c:42:a1:c6:cf:7c"

// Withdrawal: removing vif-plug-type from the binding unplugs the port
// (OVN keeps it forever, ovn-org/ovn#312); putting it back plugs it again.
func TestFurtherWithdrawal(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	ctPlugLSP1(t, s, 420)
	m0 := ctScrape(t, s)

	start := time.Now()
	s.NBCtl("remove", "Logical_Switch_Port", "lsp1", "options", "vif-plug-type")
	ctWaitNoIface(t, s, "lsp1")
	t.Logf("lsp1 unplugged %v after vif-plug-type was removed", time.Since(start).Round(time.Millisecond))
	if st, ok := ctSidecarPorts(t, s)["lsp1"]; ok {
		t.Errorf("/ports still lists lsp1: %+v", st)
	}
	ctNever(t, ctSettle, "lsp1 stays unplugged", func() error {
		if ifs := ctIfacesFor(s.Interfaces(), "lsp1"); len(ifs) != 0 {
			return fmt.Errorf("lsp1 plugged again: %+v", ifs)
		}
		return nil
	})
	m1 := ctScrape(t, s)
	if d := ctOps(m1, "dummy", "unplug", "success") - ctOps(m0, "dummy", "unplug", "success"); d != 1 {
		t.Errorf("dummy unplugs = %g, want 1 (%s)", d, ctOpsTable(m1))
	}

	s.NBCtl(dummyOptions("lsp1", s.Chassis, 420)...)
	ctWaitIface(t, s, ctDummyWant("lsp1", 420))
	s.WaitLSPsUp(plugTimeout, "lsp1")
}

// Type change to a provider that refuses (representor, no hardware): as
// for any refusal, nothing is done. The dummy interface stays exactly as
// it is, the port shows pending with the representor's reason, and going
// back to dummy finds the interface still right, without a write.
func TestFurtherTypeChangeNotReady(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	old := ctPlugLSP1(t, s, 420)
	v0 := ctIfaceVersion(t, s, "lsp1")
	m0 := ctScrape(t, s)

	s.NBCtl("lsp-set-options", "lsp1", "requested-chassis="+s.Chassis, "vif-plug-type=representor",
		"vif-plug-mtu-request=420", "vif-plug:representor:pf-mac="+ctHostPFMAC, "vif-plug:representor:vf-num=3")
	var st ctPortStatus
	s.Eventually(plugTimeout, "lsp1 pending for representor", func() error {
		st = ctSidecarPorts(t, s)["lsp1"]
		if st.State != "pending" || st.Provider != "representor" || st.Reason == "" {
			return fmt.Errorf("/ports lsp1 = %+v, want pending for representor with a reason", st)
		}
		return nil
	})
	t.Logf("lsp1: %s", st.Reason)
	ctNever(t, ctSettle, "the dummy interface stays untouched", func() error {
		i, ok := s.Interface("lsp1")
		if !ok {
			return fmt.Errorf("Interface lsp1 is gone")
		}
		if err := ctSameIface(old, i); err != nil {
			return err
		}
		if v := ctIfaceVersion(t, s, "lsp1"); v != v0 {
			return fmt.Errorf("Interface lsp1 _version %s became %s", v0, v)
		}
		return nil
	})
	if m := ctScrape(t, s); ctOps(m, "", "", "") != ctOps(m0, "", "", "") {
		t.Errorf("plug operations moved: before %s, after %s", ctOpsTable(m0), ctOpsTable(m))
	}

	s.NBCtl(dummyOptions("lsp1", s.Chassis, 420)...)
	s.Eventually(plugTimeout, "lsp1 plugged by dummy again", func() error {
		if st := ctSidecarPorts(t, s)["lsp1"]; st.State != "plugged" || st.Provider != "dummy" {
			return fmt.Errorf("/ports lsp1 = %+v, want plugged by dummy", st)
		}
		return nil
	})
	i := ctWaitIface(t, s, ctDummyWant("lsp1", 420))
	if err := ctSameIface(old, i); err != nil {
		t.Errorf("lsp1 changed: %v", err)
	}
	if v := ctIfaceVersion(t, s, "lsp1"); v != v0 {
		t.Errorf("Interface lsp1 _version %s became %s", v0, v)
	}
	s.WaitLSPsUp(plugTimeout, "lsp1")
}

// ctDPUStack starts a stack whose sidecar reads a simulated DPU with one
// PF and vfs VFs (real veth representors plus a sysfs tree).
func ctDPUStack(t *testing.T, vfs int) (*stack.Stack, *dpusim.Sim) {
	t.Helper()
	s := stack.New(t, stack.Options{ManualSidecar: true})
	sim := dpusim.New(t, dpusim.Options{NetNS: s.NetNS, Dir: filepath.Join(s.Dir, "ct-sysfs"),
		DPU: hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: ctHostPFMAC, VFs: vfs}}}})
	// Runs before the simulator's teardown takes the representors away.
	t.Cleanup(func() {
		if err := s.Sidecar.Stop(); err != nil {
			t.Errorf("sidecar on SIGTERM: %v", err)
		}
	})
	s.StartSidecar(sim.SysfsRootFlag())
	return s, sim
}

// ctWatchReplug polls until done() is nil, failing if any observation
// shows other than exactly one Interface for lsp: a replug is one
// transaction, so there is never a moment with none or two.
func ctWatchReplug(t *testing.T, s *stack.Stack, lsp string, done func(map[string]stack.Interface) error) {
	t.Helper()
	polls := 0
	s.Eventually(plugTimeout, lsp+" replugged", func() error {
		ifaces := s.Interfaces()
		polls++
		if ids := ctIfacesFor(ifaces, lsp); len(ids) != 1 {
			t.Fatalf("poll %d: %d interfaces for %s during the replug: %+v", polls, len(ids), lsp, ids)
		}
		return done(ifaces)
	})
}

// Type change with hardware present: dummy → representor replugs (the
// dummy Port goes, the representor's comes, one replug operation), the
// port comes up on the representor; and back to dummy the same way.
func TestFurtherTypeChangeReplug(t *testing.T) {
	t.Parallel()
	s, sim := ctDPUStack(t, 1)
	old := ctPlugLSP1(t, s, 0)
	vf := sim.VF(0, 0)
	rep := ctWant{name: vf.Representor, lsp: "lsp1", plugType: "representor", ifType: "", bridge: "br-int"}
	m0 := ctScrape(t, s)

	start := time.Now()
	s.NBCtl(append([]string{"lsp-set-options", "lsp1"}, vf.PlugOptions(s.Chassis)...)...)
	ctWatchReplug(t, s, "lsp1", rep.check)
	t.Logf("dummy → representor in %v", time.Since(start).Round(time.Millisecond))
	ctWaitNoIface(t, s, old.Name)
	s.WaitLSPsUp(plugTimeout, "lsp1")
	m1 := ctScrape(t, s)
	if d := ctOps(m1, "representor", "replug", "success") - ctOps(m0, "representor", "replug", "success"); d != 1 {
		t.Errorf("representor replugs = %g, want 1 (%s)", d, ctOpsTable(m1))
	}
	if d := ctOps(m1, "", "unplug", "") + ctOps(m1, "", "plug", "") - ctOps(m0, "", "unplug", "") - ctOps(m0, "", "plug", ""); d != 0 {
		t.Errorf("separate plug/unplug operations during the replug: before %s, after %s", ctOpsTable(m0), ctOpsTable(m1))
	}
	if st := ctSidecarPorts(t, s)["lsp1"]; st.State != "plugged" || st.Provider != "representor" || st.Interface != vf.Representor {
		t.Errorf("/ports lsp1 = %+v, want plugged by representor as %s", st, vf.Representor)
	}

	start = time.Now()
	s.NBCtl(dummyOptions("lsp1", s.Chassis, 0)...)
	ctWatchReplug(t, s, "lsp1", ctDummyWant("lsp1", 0).check)
	t.Logf("representor → dummy in %v", time.Since(start).Round(time.Millisecond))
	ctWaitNoIface(t, s, vf.Representor)
	s.WaitLSPsUp(plugTimeout, "lsp1")
	m2 := ctScrape(t, s)
	if d := ctOps(m2, "dummy", "replug", "success") - ctOps(m1, "dummy", "replug", "success"); d != 1 {
		t.Errorf("dummy replugs = %g, want 1 (%s)", d, ctOpsTable(m2))
	}
	if got := ctOps(m2, "", "", "error"); got != 0 {
		t.Errorf("failed operations: %s", ctOpsTable(m2))
	}
}

// Foreign bridge: an ovn-plugged interface on a bridge other than br-int
// is removed from it once, without a loop; one whose binding is live is
// moved back onto br-int, again once.
func TestFurtherForeignBridge(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	s.VSCtl("add-br", "br-other", "--", "set", "bridge", "br-other", "datapath_type=netdev")
	ctPlugLSP1(t, s, 0)
	addDummyLSP(s, "lsp2", 0)
	ctWaitIface(t, s, ctDummyWant("lsp2", 0))
	s.WaitLSPsUp(plugTimeout, "lsp2")
	m0 := ctScrape(t, s)

	// A stale interface for a logical port that does not exist.
	s.VSCtl("add-port", "br-other", "stale0", "--", "set", "interface", "stale0", "type=internal",
		"external_ids:ovn-plugged=dummy", "external_ids:iface-id=gone-lsp")
	ctWaitNoIface(t, s, "stale0")

	// lsp2's interface moved to br-other, as if by a stale configuration.
	s.VSCtl("del-port", "br-int", "lsp2", "--", "add-port", "br-other", "lsp2",
		"--", "set", "interface", "lsp2", "type=internal", "options:vif-plug-dummy-option=value",
		"external_ids:ovn-plugged=dummy", "external_ids:iface-id=lsp2")
	ctWaitIface(t, s, ctDummyWant("lsp2", 0))

	ctNever(t, ctSettle, "no loop", func() error {
		ifaces := s.Interfaces()
		if _, ok := ifaces["stale0"]; ok {
			return fmt.Errorf("stale0 is back")
		}
		for _, lsp := range []string{"lsp1", "lsp2"} {
			if err := ctDummyWant(lsp, 0).check(ifaces); err != nil {
				return err
			}
		}
		return nil
	})
	m1 := ctScrape(t, s)
	for _, c := range []struct {
		op   string
		want float64
	}{{"unplug", 1}, {"replug", 1}, {"plug", 0}, {"update", 0}} {
		if d := ctOps(m1, "dummy", c.op, "success") - ctOps(m0, "dummy", c.op, "success"); d != c.want {
			t.Errorf("dummy %s operations = %g, want %g (%s)", c.op, d, c.want, ctOpsTable(m1))
		}
	}
	if got := ctOps(m1, "", "", "error"); got != 0 {
		t.Errorf("failed operations: %s", ctOpsTable(m1))
	}
	if ports := s.VSCtl("list-ports", "br-other"); ports != "" {
		t.Errorf("br-other still has ports: %q", ports)
	}
	s.WaitLSPsUp(plugTimeout, "lsp1", "lsp2")
}

// Foreign bridge at start-up: a stale interface of a live binding found
// on br-other when the sidecar starts is moved to br-int.
func TestFurtherForeignBridgeAtStart(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	s.VSCtl("add-br", "br-other", "--", "set", "bridge", "br-other", "datapath_type=netdev")
	s.NBCtl("ls-add", sw)
	if err := s.Sidecar.Stop(); err != nil {
		t.Fatalf("sidecar on SIGTERM: %v", err)
	}
	s.VSCtl("add-port", "br-other", "lsp2", "--", "set", "interface", "lsp2", "type=internal",
		"options:vif-plug-dummy-option=value", "external_ids:ovn-plugged=dummy", "external_ids:iface-id=lsp2")
	s.NBCtl(append([]string{"--wait=sb", "lsp-add", sw, "lsp2", "--"}, dummyOptions("lsp2", s.Chassis, 0)...)...)
	s.Sidecar.Start()
	ctWaitIface(t, s, ctDummyWant("lsp2", 0))
	ctNever(t, ctSettle, "lsp2 stays on br-int", func() error { return ctDummyWant("lsp2", 0).check(s.Interfaces()) })
	m := ctScrape(t, s)
	if got := ctOps(m, "dummy", "replug", "success"); got != 1 || ctOps(m, "", "", "") != 1 {
		t.Errorf("operations %s, want exactly one dummy replug", ctOpsTable(m))
	}
	s.WaitLSPsUp(plugTimeout, "lsp2")
}

// ctSegments splits the sidecar's output into one part per start.
func ctSegments(s *stack.Stack) []string {
	parts := strings.Split(s.Sidecar.Log(), "\n==== ")
	return parts[1:] // [0] is the file header
}

// ctOVSTxns counts the OVS transactions libovsdb logged (-v=4) in text.
func ctOVSTxns(text string) int {
	n := 0
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, `"transacting operations"`) && strings.Contains(l, `db="ovs"`) {
			n++
		}
	}
	return n
}

var ctVersionTables = []string{"Open_vSwitch", "Bridge", "Port", "Interface"}

// ctQuiesce waits until no row of the OVS database changes for 2 s, so
// that a later comparison is not spoiled by ovn-controller or
// ovs-vswitchd finishing their own work.
func ctQuiesce(t *testing.T, s *stack.Stack) map[string]ctRowVersion {
	t.Helper()
	prev := ctOvsVersions(t, s, ctVersionTables...)
	stableSince := time.Now()
	s.Eventually(time.Minute, "the OVS database to be quiet for 2 s", func() error {
		cur := ctOvsVersions(t, s, ctVersionTables...)
		if d := ctDiffVersions(prev, cur); len(d) > 0 {
			prev, stableSince = cur, time.Now()
			return fmt.Errorf("still changing: %v", d)
		}
		if time.Since(stableSince) < 2*time.Second {
			return fmt.Errorf("quiet for %v", time.Since(stableSince))
		}
		return nil
	})
	return prev
}

// Restart with everything already correct: zero OVS writes, as
// ovsdb-server sees it (no row of Open_vSwitch, Bridge, Port or Interface
// changes its _version) and as the sidecar's own transaction log says.
func TestFurtherRestartZeroWrites(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	lsps := []string{"lsp1", "lsp2", "lsp3", "a-logical-port-with-a-long-name"}
	mtus := []int64{0, 420, 9000, 1500}
	s.NBCtl("ls-add", sw)
	for i, lsp := range lsps {
		s.NBCtl(append([]string{"lsp-add", sw, lsp, "--"}, dummyOptions(lsp, s.Chassis, int(mtus[i]))...)...)
	}
	for i, lsp := range lsps {
		w := ctWaitIface(t, s, ctDummyWant(lsp, mtus[i]))
		ctWaitInstalled(t, s, w.Name, lsp)
	}
	// Some keys others own, which a sloppy diff would "fix".
	s.VSCtl("set", "interface", "lsp1", "options:foo=bar", "external_ids:owner=someone-else")
	ctWaitIface(t, s, ctWant{name: "lsp1", lsp: "lsp1", plugType: "dummy", ifType: "internal",
		options: map[string]string{"vif-plug-dummy-option": "value", "foo": "bar"}, bridge: "br-int"})
	before := ctQuiesce(t, s)
	if n := ctOVSTxns(ctSegments(s)[0]); n == 0 {
		t.Fatal(`the first run logged no "transacting operations" for db="ovs": the log check below would prove nothing`)
	}

	if err := s.Sidecar.Stop(); err != nil {
		t.Fatalf("sidecar on SIGTERM: %v", err)
	}
	start := time.Now()
	s.Sidecar.Start()
	ready := ctWaitReady(t, s, time.Minute)
	// A quiet window, not a settle: a restart must write nothing, now or
	// in the passes that follow ready.
	time.Sleep(2 * time.Second)
	t.Logf("restarted sidecar ready %v after start; compared 2 s later", ready.Sub(start).Round(time.Millisecond))

	after := ctOvsVersions(t, s, ctVersionTables...)
	if d := ctDiffVersions(before, after); len(d) > 0 {
		t.Errorf("the restart changed %d rows:\n%s", len(d), strings.Join(d, "\n"))
	}
	segs := ctSegments(s)
	if n := ctOVSTxns(segs[len(segs)-1]); n != 0 {
		t.Errorf("the restarted sidecar sent %d OVS transactions", n)
	}
	m := ctScrape(t, s)
	if got := ctOps(m, "", "", ""); got != 0 {
		t.Errorf("the restarted sidecar counted operations: %s", ctOpsTable(m))
	}
	// The new process did look at every port.
	ports := ctSidecarPorts(t, s)
	for _, lsp := range lsps {
		if ports[lsp].State != "plugged" {
			t.Errorf("/ports %s = %+v, want plugged", lsp, ports[lsp])
		}
	}

	// The comparison sees a write by the sidecar when there is one.
	s.NBCtl(dummyOptions("lsp2", s.Chassis, 430)...)
	ctWaitIface(t, s, ctDummyWant("lsp2", 430))
	if d := ctDiffVersions(after, ctOvsVersions(t, s, ctVersionTables...)); len(d) == 0 {
		t.Error("an mtu update by the sidecar changed no row version: the comparison is blind")
	}
}

// Exit never unplugs: after SIGTERM, and after SIGINT, every interface is
// still there, unchanged, and the process exits 0.
func TestFurtherExitKeepsPorts(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	s.NBCtl("ls-add", sw)
	lsps := []string{"lsp1", "lsp2", "lsp3"}
	for _, lsp := range lsps {
		s.NBCtl(append([]string{"lsp-add", sw, lsp, "--"}, dummyOptions(lsp, s.Chassis, 0)...)...)
	}
	for _, lsp := range lsps {
		ctWaitIface(t, s, ctDummyWant(lsp, 0))
		ctWaitInstalled(t, s, lsp, lsp)
	}
	before := ctQuiesce(t, s)

	check := func(how string) {
		t.Helper()
		ctNever(t, ctSettle, "ports stay after "+how, func() error {
			if d := ctDiffVersions(before, ctOvsVersions(t, s, ctVersionTables...)); len(d) > 0 {
				return fmt.Errorf("rows changed: %v", d)
			}
			return nil
		})
		ifaces := s.Interfaces()
		for _, lsp := range lsps {
			if err := ctDummyWant(lsp, 0).check(ifaces); err != nil {
				t.Errorf("after %s: %v", how, err)
			}
		}
	}

	if err := s.Sidecar.Stop(); err != nil {
		t.Fatalf("sidecar on SIGTERM: %v", err)
	}
	check("SIGTERM")

	s.Sidecar.Start()
	ctWaitReady(t, s, time.Minute)
	s.Sidecar.Signal(syscall.SIGINT)
	if err, ok := s.Sidecar.Wait(10 * time.Second); !ok || err != nil {
		t.Fatalf("sidecar on SIGINT: exited=%t err=%v", ok, err)
	}
	check("SIGINT")
	s.WaitLSPsUp(plugTimeout, lsps...)
}

// Bindings that are not considered are never plugged: a container port
// (parent_port set), a non-VIF type (localport), and a binding that names
// this chassis only in requested_additional_chassis. Bindings that are
// considered: this chassis first in a list, and this chassis by hostname.
func TestFurtherRowsNotConsidered(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	const hostname = "dpu-host-7"
	s.SBCtl("chassis-add", "other", "geneve", "127.0.0.2")
	s.VSCtl("set", "Open_vSwitch", ".", "external_ids:hostname="+hostname)
	s.Eventually(plugTimeout, "SB Chassis hostname "+hostname, func() error {
		if got := s.SBCtl("--bare", "--columns=hostname", "find", "Chassis", "name="+s.Chassis); got != hostname {
			return fmt.Errorf("hostname %q", got)
		}
		return nil
	})

	plug := func(lsp, rc string) []string {
		return []string{"lsp-set-options", lsp, "requested-chassis=" + rc, "vif-plug-type=dummy"}
	}
	s.NBCtl("ls-add", sw)
	s.NBCtl(append([]string{"lsp-add", sw, "parent", "--"}, plug("parent", s.Chassis)...)...)
	s.NBCtl(append([]string{"lsp-add", sw, "child", "parent", "42", "--"}, plug("child", s.Chassis)...)...)
	s.NBCtl(append([]string{"lsp-add", sw, "lp", "--", "lsp-set-type", "lp", "localport", "--"}, plug("lp", s.Chassis)...)...)
	s.NBCtl(append([]string{"lsp-add", sw, "addl", "--"}, plug("addl", "other,"+s.Chassis)...)...)
	s.NBCtl(append([]string{"lsp-add", sw, "first", "--"}, plug("first", s.Chassis+",other")...)...)
	s.NBCtl(append([]string{"--wait=sb", "lsp-add", sw, "byhost", "--"}, plug("byhost", hostname)...)...)

	// The bindings are what the test claims they are.
	for _, c := range []struct {
		lsp, requested, additional string
	}{
		{"child", s.Chassis, ""}, {"lp", s.Chassis, ""}, {"addl", "other", s.Chassis},
		{"first", s.Chassis, "other"}, {"byhost", s.Chassis, ""},
	} {
		rc, add := ctBindingChassis(t, s, c.lsp)
		if rc != c.requested || strings.Join(add, ",") != c.additional {
			t.Fatalf("Port_Binding %s: requested_chassis %q, additional %v; want %q, %q", c.lsp, rc, add, c.requested, c.additional)
		}
	}
	if got := s.SBCtl("--bare", "--columns=parent_port", "find", "Port_Binding", "logical_port=child"); got != "parent" {
		t.Fatalf("Port_Binding child parent_port = %q, want parent", got)
	}
	if got := s.SBCtl("--bare", "--columns=type", "find", "Port_Binding", "logical_port=lp"); got != "localport" {
		t.Fatalf("Port_Binding lp type = %q, want localport", got)
	}

	for _, lsp := range []string{"parent", "first", "byhost"} {
		ctWaitIface(t, s, ctDummyWant(lsp, 0))
	}
	ctNever(t, ctSettle, "nothing plugged for child, lp and addl", func() error {
		ifaces := s.Interfaces()
		for _, lsp := range []string{"child", "lp", "addl"} {
			if _, ok := ifaces[lsp]; ok {
				return fmt.Errorf("Interface %s exists", lsp)
			}
			if ids := ctIfacesFor(ifaces, lsp); len(ids) > 0 {
				return fmt.Errorf("interfaces for %s: %+v", lsp, ids)
			}
		}
		return nil
	})
	ports := ctSidecarPorts(t, s)
	for _, lsp := range []string{"child", "lp", "addl"} {
		if st, ok := ports[lsp]; ok {
			t.Errorf("/ports lists %s: %+v", lsp, st)
		}
	}
	s.WaitLSPsUp(plugTimeout, "parent", "first", "byhost")
}

// Logical port names longer than 15 bytes: the dummy interface is the
// first 15 bytes, iface-id the full name. Two names with the same first
// 15 bytes conflict; the second is plugged once the first is gone.
func TestFurtherLongNames(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	long1 := "a-logical-port-whose-name-is-long"
	long2 := "a-logical-port-with-the-same-prefix"
	const ifname = "a-logical-port-"
	if long1[:15] != ifname || long2[:15] != ifname {
		t.Fatal("test names do not share their first 15 bytes")
	}
	addDummyLSP(s, long1, 1400)
	i1 := ctWaitIface(t, s, ctDummyWant(long1, 1400))
	if i1.Name != ifname || i1.ExternalIDs["iface-id"] != long1 {
		t.Fatalf("Interface %q iface-id %q, want %q and %q", i1.Name, i1.ExternalIDs["iface-id"], ifname, long1)
	}
	s.WaitLSPsUp(plugTimeout, long1)
	if st := ctSidecarPorts(t, s)[long1]; st.State != "plugged" || st.Interface != ifname {
		t.Errorf("/ports %s = %+v, want plugged as %s", long1, st, ifname)
	}

	addDummyLSP(s, long2, 0)
	s.Eventually(plugTimeout, long2+" in conflict", func() error {
		st := ctSidecarPorts(t, s)[long2]
		if st.State != "conflict" || !strings.Contains(st.Reason, ifname) {
			return fmt.Errorf("/ports %s = %+v, want conflict over %s", long2, st, ifname)
		}
		return nil
	})
	ctNever(t, ctSettle, long1+" keeps "+ifname, func() error {
		i, ok := s.Interface(ifname)
		if !ok || i.UUID != i1.UUID || i.ExternalIDs["iface-id"] != long1 {
			return fmt.Errorf("Interface %s = %+v, want %s's %s", ifname, i, long1, i1.UUID)
		}
		return nil
	})

	s.NBCtl("lsp-del", long1)
	s.Eventually(plugTimeout, long2+" plugged after "+long1+" is gone", func() error {
		ifaces := s.Interfaces()
		if i, ok := ifaces[ifname]; ok && i.UUID == i1.UUID {
			return fmt.Errorf("%s still holds %s", long1, ifname)
		}
		return ctDummyWant(long2, 0).check(ifaces)
	})
	s.WaitLSPsUp(plugTimeout, long2)
}
