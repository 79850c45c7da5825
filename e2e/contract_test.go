//go:build e2e

package e2e

// OVN's "ovn-controller - VIF plugging" scenarios (tests/ovn-controller.at,
// OVN 23.03), with the sidecar doing the plugging. Each scenario has its
// own stack so that each passes or fails on its own.

import (
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// ctPlugLSP1 creates lsp1 asking for the dummy provider with mtu, and waits
// until it is plugged, up and marked ovn-installed by ovn-controller.
func ctPlugLSP1(t *testing.T, s *stack.Stack, mtu int64) stack.Interface {
	t.Helper()
	addDummyLSP(s, "lsp1", int(mtu))
	ctWaitIface(t, s, ctDummyWant("lsp1", mtu))
	ctWaitInstalled(t, s, "lsp1", "lsp1")
	i, _ := s.Interface("lsp1")
	return i
}

// ctInstalledKept fails if ovn-controller's ovn-installed key is gone, or was
// written again (a new timestamp means someone removed and it re-added it).
func ctInstalledKept(s *stack.Stack, before stack.Interface) error {
	i, ok := s.Interface(before.Name)
	switch {
	case !ok:
		return fmt.Errorf("Interface %s is gone", before.Name)
	case i.ExternalIDs["ovn-installed"] != "true":
		return fmt.Errorf("Interface %s lost ovn-installed: external_ids %v", i.Name, i.ExternalIDs)
	case i.ExternalIDs["ovn-installed-ts"] != before.ExternalIDs["ovn-installed-ts"]:
		return fmt.Errorf("Interface %s ovn-installed-ts %q became %q: the key was rewritten", i.Name,
			before.ExternalIDs["ovn-installed-ts"], i.ExternalIDs["ovn-installed-ts"])
	case i.UUID != before.UUID:
		return fmt.Errorf("Interface %s was replaced (uuid %s became %s)", i.Name, before.UUID, i.UUID)
	}
	return nil
}

// Scenario 1: plug with type, options, external_ids and mtu_request; the
// Port has no external_ids; ovn-installed is added and kept; the LSP is up.
func TestContractPlug(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	start := time.Now()
	i := ctPlugLSP1(t, s, 420)
	t.Logf("lsp1 plugged, up and ovn-installed after %v", time.Since(start).Round(time.Millisecond))

	if !maps.Equal(i.Options, map[string]string{"vif-plug-dummy-option": "value"}) {
		t.Errorf("options = %v, want exactly vif-plug-dummy-option=value", i.Options)
	}
	for _, p := range s.List(stack.OVS, "Port", "name", "external_ids", "interfaces") {
		if p.Str("name") != "lsp1" {
			continue
		}
		if ext := p.Map("external_ids"); len(ext) != 0 {
			t.Errorf("Port lsp1 external_ids = %v, want none", ext)
		}
		if ifs := p.Strs("interfaces"); len(ifs) != 1 || ifs[0] != i.UUID {
			t.Errorf("Port lsp1 interfaces = %v, want [%s]", ifs, i.UUID)
		}
	}
	if st := ctSidecarPorts(t, s)["lsp1"]; st.State != "plugged" || st.Provider != "dummy" || st.Interface != "lsp1" {
		t.Errorf("/ports lsp1 = %+v, want plugged by dummy as lsp1", st)
	}

	// A later update by the sidecar keeps ovn-controller's key.
	s.NBCtl(dummyOptions("lsp1", s.Chassis, 430)...)
	s.Eventually(plugTimeout, "mtu_request 430 with ovn-installed kept", func() error {
		if err := ctInstalledKept(s, i); err != nil {
			t.Fatal(err) // ovn-installed must survive every write
		}
		return ctDummyWant("lsp1", 430).check(s.Interfaces())
	})
	if err := ctInstalledKept(s, i); err != nil {
		t.Fatal(err)
	}
	if !s.LSPUp("lsp1") {
		t.Error("lsp1 is no longer up after the update")
	}
}

// Scenario 2: a new vif-plug-mtu-request is applied in place.
func TestContractMTUChange(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	i := ctPlugLSP1(t, s, 420)
	start := time.Now()
	s.NBCtl(dummyOptions("lsp1", s.Chassis, 430)...)
	ctWaitIface(t, s, ctDummyWant("lsp1", 430))
	t.Logf("mtu_request 430 after %v", time.Since(start).Round(time.Millisecond))
	if err := ctInstalledKept(s, i); err != nil {
		t.Fatal(err)
	}
}

// Scenario 3: a local change of mtu_request is reverted.
func TestContractMTUTamperReverted(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	addDummyLSP(s, "lsp1", 430)
	ctWaitIface(t, s, ctDummyWant("lsp1", 430))
	ctWaitInstalled(t, s, "lsp1", "lsp1")
	i, _ := s.Interface("lsp1")

	start := time.Now()
	s.VSCtl("set", "interface", "lsp1", "mtu_request=440")
	ctWaitIface(t, s, ctDummyWant("lsp1", 430))
	t.Logf("mtu_request 440 reverted to 430 after %v", time.Since(start).Round(time.Millisecond))
	if err := ctInstalledKept(s, i); err != nil {
		t.Fatal(err)
	}
	ctNever(t, ctSettle, "mtu_request stays 430", func() error { return ctDummyWant("lsp1", 430).check(s.Interfaces()) })
}

// Scenario 4: a removed or changed maintained option, a tampered
// ovn-plugged and a tampered type are restored; a foreign option is kept.
func TestContractOptionsTamper(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	i := ctPlugLSP1(t, s, 420)

	withFoo := ctDummyWant("lsp1", 420)
	withFoo.options = map[string]string{"vif-plug-dummy-option": "value", "foo": "bar"}

	s.VSCtl("remove", "interface", "lsp1", "options", "vif-plug-dummy-option",
		"--", "set", "interface", "lsp1", "options:foo=bar")
	ctWaitIface(t, s, withFoo)
	if err := ctInstalledKept(s, i); err != nil {
		t.Error(err)
	}

	s.VSCtl("set", "interface", "lsp1", "options:vif-plug-dummy-option=tampered")
	ctWaitIface(t, s, withFoo)

	s.VSCtl("set", "interface", "lsp1", "external_ids:ovn-plugged=bogus")
	ctWaitIface(t, s, withFoo)
	if err := ctInstalledKept(s, i); err != nil {
		t.Error(err)
	}

	// A system interface called lsp1 does not exist, so OVS reports an
	// error until the type is put back; that is harmless here. OVS
	// recreates the port, so ovn-controller installs it again and writes
	// a new ovn-installed-ts: only the type and the row are checked.
	s.VSCtl("set", "interface", "lsp1", "type=system")
	got := ctWaitIface(t, s, withFoo)
	if got.UUID != i.UUID {
		t.Errorf("lsp1 was replugged (uuid %s became %s) instead of updated", i.UUID, got.UUID)
	}
	ctNever(t, ctSettle, "foo=bar kept and lsp1 as plugged", func() error { return withFoo.check(s.Interfaces()) })
	ctWaitInstalled(t, s, "lsp1", "lsp1")
	s.WaitLSPsUp(plugTimeout, "lsp1")
}

// Scenario 5: no, a non-numeric, a negative or a zero vif-plug-mtu-request
// clears mtu_request, and none of them upsets the sidecar.
func TestContractMTUCleared(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	ctPlugLSP1(t, s, 420)

	s.NBCtl("remove", "Logical_Switch_Port", "lsp1", "options", "vif-plug-mtu-request")
	ctWaitIface(t, s, ctDummyWant("lsp1", 0))
	ctCheckHealthy(t, s)

	for _, bad := range []string{"abc", "-5", "0", "", " ", "1.5", "99999999999999999999"} {
		s.NBCtl(dummyOptions("lsp1", s.Chassis, 500)...)
		ctWaitIface(t, s, ctDummyWant("lsp1", 500))
		s.NBCtl("set", "Logical_Switch_Port", "lsp1", fmt.Sprintf("options:vif-plug-mtu-request=%q", bad))
		ctWaitIface(t, s, ctDummyWant("lsp1", 0))
		ctCheckHealthy(t, s)
		if st := ctSidecarPorts(t, s)["lsp1"]; st.State != "plugged" {
			t.Errorf("vif-plug-mtu-request=%q: /ports lsp1 = %+v, want plugged", bad, st)
		}
	}
	s.WaitLSPsUp(plugTimeout, "lsp1")
}

// Scenario 6: requested-chassis naming another chassis, or a chassis that
// does not exist, unplugs.
func TestContractRequestedChassisElsewhere(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	s.SBCtl("chassis-add", "other", "geneve", "127.0.0.2")
	ctPlugLSP1(t, s, 420)

	s.NBCtl("lsp-set-options", "lsp1", "requested-chassis=other", "vif-plug-type=dummy", "vif-plug-mtu-request=420")
	ctWaitNoIface(t, s, "lsp1")
	if rc, _ := ctBindingChassis(t, s, "lsp1"); rc != "other" {
		t.Fatalf("Port_Binding lsp1 requested_chassis = %q, want other", rc)
	}
	if st, ok := ctSidecarPorts(t, s)["lsp1"]; ok {
		t.Errorf("/ports still lists lsp1 after unplug: %+v", st)
	}

	s.NBCtl(dummyOptions("lsp1", s.Chassis, 420)...)
	ctWaitIface(t, s, ctDummyWant("lsp1", 420))

	s.NBCtl("lsp-set-options", "lsp1", "requested-chassis=no-such-chassis", "vif-plug-type=dummy", "vif-plug-mtu-request=420")
	ctWaitNoIface(t, s, "lsp1")
	if rc, _ := ctBindingChassis(t, s, "lsp1"); rc != "" {
		t.Fatalf("Port_Binding lsp1 requested_chassis = %q, want none", rc)
	}
	ctNever(t, ctSettle, "lsp1 stays unplugged", func() error {
		if ifs := ctIfacesFor(s.Interfaces(), "lsp1"); len(ifs) != 0 {
			return fmt.Errorf("lsp1 plugged again: %+v", ifs)
		}
		return nil
	})
}

// Scenario 7: deleting the LSP unplugs: Interface, Port and the bridge's
// reference are gone.
func TestContractUnplugOnLSPDel(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	i := ctPlugLSP1(t, s, 420)
	addDummyLSP(s, "lsp2", 0)
	ctWaitIface(t, s, ctDummyWant("lsp2", 0))

	start := time.Now()
	s.NBCtl("lsp-del", "lsp1")
	ctWaitNoIface(t, s, "lsp1")
	t.Logf("lsp1 unplugged after %v", time.Since(start).Round(time.Millisecond))
	for _, r := range s.List(stack.OVS, "Interface", "_uuid") {
		if r.Str("_uuid") == i.UUID {
			t.Fatalf("Interface row %s still exists", i.UUID)
		}
	}
	if ifs := ctIfacesFor(s.Interfaces(), "lsp1"); len(ifs) != 0 {
		t.Fatalf("interfaces for lsp1 remain: %+v", ifs)
	}
	// The other port is untouched.
	ctWaitIface(t, s, ctDummyWant("lsp2", 0))
}

// Scenario 8: an ovn-plugged interface for a logical port that does not
// exist is removed.
func TestContractStaleOVNPluggedRemoved(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	ctPlugLSP1(t, s, 0)
	before := ctScrape(t, s)

	s.VSCtl("add-port", "br-int", "x", "--", "set", "interface", "x", "type=internal",
		"external_ids:ovn-plugged=dummy", "external_ids:iface-id=non-existing-lsp")
	ctWaitNoIface(t, s, "x")
	ctNever(t, ctSettle, "x stays removed, lsp1 stays", func() error {
		ifaces := s.Interfaces()
		if _, ok := ifaces["x"]; ok {
			return fmt.Errorf("x is back")
		}
		return ctDummyWant("lsp1", 0).check(ifaces)
	})
	after := ctScrape(t, s)
	if d := ctOps(after, "dummy", "unplug", "success") - ctOps(before, "dummy", "unplug", "success"); d != 1 {
		t.Errorf("dummy unplugs = %g, want 1 (%s)", d, ctOpsTable(after))
	}
}

// Scenario 9: an interface the sidecar does not own that carries the
// wanted iface-id, or the wanted name, blocks the plug: nothing is
// written, the port shows "conflict" naming it, the warning is
// rate-limited, no transaction is retried in a loop; once it goes away
// the port is plugged.
func TestContractForeignInterfaceConflict(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	s.NBCtl("ls-add", sw)
	s.VSCtl("add-port", "br-int", "vif3", "--", "set", "interface", "vif3", "type=internal", "external_ids:iface-id=lsp3")
	s.NBCtl("lsp-add", sw, "lsp3", "--", "lsp-set-options", "lsp3", "requested-chassis="+s.Chassis)
	// ovn-controller binds vif3 and writes ovn-installed; wait for that so
	// vif3's version only changes if the sidecar touches it.
	ctWaitInstalled(t, s, "vif3", "lsp3")
	vif3, _ := s.Interface("vif3")
	v0 := ctIfaceVersion(t, s, "vif3")
	m0 := ctScrape(t, s)

	s.NBCtl(dummyOptions("lsp3", s.Chassis, 0)...)
	var st ctPortStatus
	s.Eventually(plugTimeout, "lsp3 in conflict", func() error {
		st = ctSidecarPorts(t, s)["lsp3"]
		if st.State != "conflict" || !strings.Contains(st.Reason, vif3.UUID) {
			return fmt.Errorf("/ports lsp3 = %+v, want conflict naming %s", st, vif3.UUID)
		}
		return nil
	})
	t.Logf("lsp3: %s", st.Reason)
	tx0 := ctOVSTxns(s.Sidecar.Log())

	// Wake lsp3 repeatedly with changes of its binding: each one makes the
	// sidecar reconsider it, which must neither write nor log again.
	for n := range 5 {
		passes := ctPasses(ctScrape(t, s))
		s.NBCtl("--wait=sb", "set", "Logical_Switch_Port", "lsp3", fmt.Sprintf(`options:"vif-plug:dummy:poke"=%d`, n))
		ctWaitPass(t, s, passes)
	}
	if got := s.SBCtl("--bare", "--columns=options", "find", "Port_Binding", "logical_port=lsp3"); !strings.Contains(got, "vif-plug:dummy:poke=4") {
		t.Fatalf("Port_Binding lsp3 options %q: the pokes did not reach the SB", got)
	}
	if n := ctLogCount(s, "lsp3", "conflict"); n < 1 || n > 2 {
		t.Errorf("%d conflict log lines for lsp3 in ~5 s, want 1 or 2:\n%s", n, strings.Join(ctLogLines(s, "conflict"), "\n"))
	}
	if m := ctScrape(t, s); ctOps(m, "", "", "") != ctOps(m0, "", "", "") {
		t.Errorf("plug operations moved during the conflict: before %s, after %s", ctOpsTable(m0), ctOpsTable(m))
	}
	if n := ctOVSTxns(s.Sidecar.Log()) - tx0; n != 0 {
		t.Errorf("the sidecar sent %d OVS transactions while lsp3 was in conflict", n)
	}
	if v := ctIfaceVersion(t, s, "vif3"); v != v0 {
		t.Errorf("vif3 _version %s became %s: it was modified", v0, v)
	}
	ifaces := s.Interfaces()
	if err := ctSameIface(vif3, ifaces["vif3"]); err != nil {
		t.Errorf("vif3 changed: %v", err)
	}
	if ids := ctIfacesFor(ifaces, "lsp3"); len(ids) != 1 || ids[0].Name != "vif3" {
		t.Errorf("interfaces with iface-id lsp3: %+v, want only vif3", ids)
	}
	if st := ctSidecarPorts(t, s)["lsp3"]; st.State != "conflict" {
		t.Errorf("/ports lsp3 = %+v, want still conflict", st)
	}

	// The wanted name taken by an interface without iface-id.
	s.VSCtl("add-port", "br-int", "lsp4", "--", "set", "interface", "lsp4", "type=internal")
	lsp4, _ := s.Interface("lsp4")
	v4 := ctIfaceVersion(t, s, "lsp4")
	addDummyLSP(s, "lsp4", 0)
	s.Eventually(plugTimeout, "lsp4 in conflict", func() error {
		st = ctSidecarPorts(t, s)["lsp4"]
		if st.State != "conflict" || !strings.Contains(st.Reason, lsp4.UUID) {
			return fmt.Errorf("/ports lsp4 = %+v, want conflict naming %s", st, lsp4.UUID)
		}
		return nil
	})
	ctNever(t, ctSettle, "lsp4 untouched", func() error {
		if v := ctIfaceVersion(t, s, "lsp4"); v != v4 {
			return fmt.Errorf("interface lsp4 _version %s became %s", v4, v)
		}
		return nil
	})

	// Once the foreign interfaces go, both ports are plugged.
	start := time.Now()
	s.VSCtl("del-port", "vif3")
	ctWaitIface(t, s, ctDummyWant("lsp3", 0))
	t.Logf("lsp3 plugged %v after vif3 was deleted", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	s.VSCtl("del-port", "lsp4")
	i4 := ctWaitIface(t, s, ctDummyWant("lsp4", 0))
	if i4.UUID == lsp4.UUID {
		t.Errorf("lsp4 is still the foreign interface %s", lsp4.UUID)
	}
	t.Logf("lsp4 plugged %v after the foreign lsp4 was deleted", time.Since(start).Round(time.Millisecond))
	s.WaitLSPsUp(plugTimeout, "lsp3", "lsp4")
}

// Scenario 10: ovs-vswitchd frozen while 50 ports are plugged: no
// duplicate inserts, nothing leaked, each port plugged exactly once.
func TestContractFrozenVswitchd(t *testing.T) {
	t.Parallel()
	const n = 50
	s := stack.New(t, stack.Options{})
	s.NBCtl("ls-add", sw)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("lsp%02d", i)
	}

	s.Vswitchd.Pause()
	// Five NB transactions a little apart, so the sidecar plugs in several
	// passes while earlier ones are still unseen by ovs-vswitchd, plus
	// MTU changes for ports already plugged.
	for b := range 5 {
		args := []string{}
		for _, lsp := range names[b*10 : b*10+10] {
			args = append(args, "--", "lsp-add", sw, lsp, "--")
			args = append(args, dummyOptions(lsp, s.Chassis, 0)...)
		}
		s.NBCtl(args[1:]...)
		if b > 0 {
			s.NBCtl(dummyOptions(names[b*10-1], s.Chassis, 1400)...)
		}
		time.Sleep(200 * time.Millisecond)
	}
	mtu := func(lsp string) int64 {
		for b := 1; b < 5; b++ {
			if lsp == names[b*10-1] {
				return 1400
			}
		}
		return 0
	}
	allPlugged := func() error {
		ifaces := s.Interfaces()
		var missing []string
		for _, lsp := range names {
			if ctDummyWant(lsp, mtu(lsp)).check(ifaces) != nil {
				missing = append(missing, lsp)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d not plugged yet (first: %v)", len(missing), ctDummyWant(missing[0], mtu(missing[0])).check(ifaces))
		}
		return nil
	}
	// The sidecar writes to ovsdb-server, which is not frozen.
	s.Eventually(2*time.Minute, "50 ports in the database while ovs-vswitchd is frozen", allPlugged)
	frozen := s.Interfaces()
	time.Sleep(2 * time.Second) // let any retry loop show itself
	s.Vswitchd.Resume()

	s.Eventually(2*time.Minute, "50 ports plugged after the thaw", allPlugged)
	s.WaitLSPsUp(2*time.Minute, names...)

	for _, bad := range []string{"duplicate", "constraint violation", "Batched transaction failed", "transaction failed"} {
		if lines := ctLogLines(s, bad); len(lines) > 0 {
			t.Errorf("sidecar log has %q:\n%s", bad, strings.Join(lines, "\n"))
		}
	}
	ifaces := s.Interfaces()
	for _, lsp := range names {
		ids := ctIfacesFor(ifaces, lsp)
		if len(ids) != 1 {
			t.Errorf("%s has %d interfaces: %+v", lsp, len(ids), ids)
			continue
		}
		if ids[0].UUID != frozen[lsp].UUID {
			t.Errorf("%s was replugged after the thaw: uuid %s became %s", lsp, frozen[lsp].UUID, ids[0].UUID)
		}
	}
	// br-int's own port plus one per LSP, and no Port or Interface row
	// outside them.
	if len(ifaces) != n+1 {
		t.Errorf("%d Interface rows, want %d", len(ifaces), n+1)
	}
	if ports := s.List(stack.OVS, "Port", "name"); len(ports) != n+1 {
		t.Errorf("%d Port rows, want %d", len(ports), n+1)
	}
	m := ctScrape(t, s)
	if got := ctOps(m, "dummy", "plug", "success"); got != n {
		t.Errorf("dummy plugs = %g, want %d (%s)", got, n, ctOpsTable(m))
	}
	for _, op := range []string{"unplug", "replug"} {
		if got := ctOps(m, "", op, ""); got != 0 {
			t.Errorf("%s operations = %g, want 0 (%s)", op, got, ctOpsTable(m))
		}
	}
	if got := ctOps(m, "", "", "error"); got != 0 {
		t.Errorf("failed operations = %g, want 0 (%s)", got, ctOpsTable(m))
	}
}
