//go:build e2e

package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb/hwdbtest"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// These tests run the sidecar with the representor provider against a
// simulated DPU (internal/dpusim): real veth representors in the stack's
// namespace, a kernel-layout sysfs tree passed with --sysfs-root, and a
// namespace per VM behind each representor, so traffic really crosses
// OVS and OVN.

// TestRepresentorPlugAndPing: two VF ports on one logical switch are
// plugged as system interfaces named after their representors, go up,
// and the VMs behind them ping each other through OVN. `hw` lists the
// representors and who holds each.
func TestRepresentorPlugAndPing(t *testing.T) {
	t.Parallel()
	s, sim := newRepStack(t, 4)
	vm0, vm1 := sim.VF(0, 0), sim.VF(0, 1)
	addRepLSP(s, "vm0", vm0, "vif-plug-mtu-request=1400")
	addRepLSP(s, "vm1", vm1)
	repWaitPlugged(t, s, "vm0", "pf0vf0", 1400)
	repWaitPlugged(t, s, "vm1", "pf0vf1", 0)

	ports, err := repSidecarPorts(s)
	if err != nil {
		t.Fatal(err)
	}
	for lsp, netdev := range map[string]string{"vm0": "pf0vf0", "vm1": "pf0vf1"} {
		if err := repStatusIs(ports, lsp, "plugged"); err != nil {
			t.Error(err)
		} else if ports[lsp].Interface != netdev {
			t.Errorf("GET /ports %s interface %q, want %s", lsp, ports[lsp].Interface, netdev)
		}
	}
	// OVS applied the mtu_request to the representor netdev itself.
	if out := s.InNetNS("ip", "-o", "link", "show", "dev", "pf0vf0"); !strings.Contains(out, "mtu 1400") {
		t.Errorf("pf0vf0 after mtu_request=1400: %s", out)
	}

	repPingOK(t, s, sim, "pf0vf0", "pf0vf1")
	repPingOK(t, s, sim, "pf0vf1", "pf0vf0")

	// hw, run where the sidecar runs, with the same tree and OVS database.
	bin := repSidecarBin(t, s)
	out := s.InNetNS(bin, "hw", sim.SysfsRootFlag(), "--ovs-db="+s.OVSRemote(), "--json")
	var rows []repHWRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("hw --json: %v:\n%s", err, out)
	}
	byName := map[string]repHWRow{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	want := map[string]struct{ flavour, lsp string }{
		"p0": {"physical", ""}, "pf0hpf": {"pcipf", ""},
		"pf0vf0": {"pcivf", "vm0"}, "pf0vf1": {"pcivf", "vm1"}, "pf0vf2": {"pcivf", ""}, "pf0vf3": {"pcivf", ""},
	}
	if len(rows) != len(want) {
		t.Errorf("hw lists %d ports, want %d:\n%s", len(rows), len(want), out)
	}
	for name, w := range want {
		r, ok := byName[name]
		switch {
		case !ok:
			t.Errorf("hw does not list %s:\n%s", name, out)
		case r.Flavour != w.flavour || r.LogicalPort != w.lsp || r.HostPFMAC != repHostPFMAC || r.Ifindex != sim.Ifindex(name):
			t.Errorf("hw row %+v, want flavour %s logical port %q host MAC %s ifindex %d", r, w.flavour, w.lsp, repHostPFMAC, sim.Ifindex(name))
		case w.lsp != "" && (r.PluggedBy != "representor" || r.Bridge != "br-int"):
			t.Errorf("hw row %+v, want ovn_plugged=representor on br-int", r)
		}
	}
	table := s.InNetNS(bin, "hw", sim.SysfsRootFlag(), "--ovs-db="+s.OVSRemote())
	t.Logf("ovn-vif-sidecar hw:\n%s", table)
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && (f[0] == "pf0vf0" || f[0] == "pf0vf1") {
			lsp := map[string]string{"pf0vf0": "vm0", "pf0vf1": "vm1"}[f[0]]
			if !strings.Contains(line, " "+lsp) || !strings.Contains(line, repHostPFMAC) {
				t.Errorf("hw table line for %s lacks %s or %s: %q", f[0], lsp, repHostPFMAC, line)
			}
		}
	}
}

// TestRepresentorLateVF: a port whose VF does not exist yet is pending;
// the VF's representor appearing (one RTM_NEWLINK) gets it plugged within
// a second, measured from the link's creation to the Interface row, and
// traffic flows.
func TestRepresentorLateVF(t *testing.T) {
	t.Parallel()
	s, sim := newRepStack(t, 2)
	addRepLSP(s, "vm0", sim.VF(0, 0))
	repWaitPlugged(t, s, "vm0", "pf0vf0", 0)

	// Neutron knows the port before the VF exists: its addresses are
	// those dpusim will give VF 5.
	addRepLSP(s, "late", sim.PlanVF(0, 5))
	repWaitStatus(t, s, "late", "pending", "VF 5")
	if err := repNoInterface(s.Interfaces(), "pf0vf5"); err != nil {
		t.Fatal(err)
	}

	v := sim.AddVF(0, 5)
	var plugged time.Duration
	deadline := v.Created.Add(10 * time.Second)
	for {
		out, err := s.VSCtlErr("--bare", "--columns=external_ids", "find", "Interface", "name=pf0vf5")
		if err == nil && strings.Contains(out, "iface-id=late") {
			plugged = time.Since(v.Created)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pf0vf5 not plugged 10s after its link appeared (find: %q %v)", out, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("late VF: Interface pf0vf5 with iface-id=late %v after the link was created", plugged.Round(time.Millisecond))
	if plugged > time.Second {
		t.Errorf("late VF plugged %v after its link appeared, want within 1s", plugged.Round(time.Millisecond))
	}
	repWaitPlugged(t, s, "late", "pf0vf5", 0)
	repWaitStatus(t, s, "late", "plugged")
	if v.Addresses() != sim.PlanVF(0, 5).Addresses() {
		t.Fatalf("VF 5 has addresses %q, planned %q", v.Addresses(), sim.PlanVF(0, 5).Addresses())
	}
	repPingOK(t, s, sim, "pf0vf5", "pf0vf0")
}

// TestRepresentorKernelNameThenUdevRename: a representor that appears
// with its kernel-assigned name (eth5, name_assign_type 1) is not plugged
// under that name, which is about to change; udev's rename to pf0vf3
// gets it plugged under the final name.
func TestRepresentorKernelNameThenUdevRename(t *testing.T) {
	t.Parallel()
	s, sim := newRepStack(t, 1)
	addRepLSP(s, "vm0", sim.VF(0, 0))
	addRepLSP(s, "vm3", sim.PlanVF(0, 3))
	repWaitPlugged(t, s, "vm0", "pf0vf0", 0)
	repWaitStatus(t, s, "vm3", "pending", "VF 3")

	if _, err := sim.AddVFErr(0, 3, "eth5"); err != nil {
		t.Fatal(err)
	}
	repWaitStatus(t, s, "vm3", "pending", "eth5", "kernel-assigned")
	repNever(t, time.Second, "eth5 plugged", func() error {
		return repNoInterface(s.Interfaces(), "eth5")
	})

	start := time.Now()
	sim.RenameRepresentor("eth5", "pf0vf3")
	repWaitPlugged(t, s, "vm3", "pf0vf3", 0)
	t.Logf("plugged %v after udev's rename", time.Since(start).Round(time.Millisecond))
	if err := repNoInterface(s.Interfaces(), "eth5"); err != nil {
		t.Error(err)
	}
	repPingOK(t, s, sim, "pf0vf3", "pf0vf0")
}

// TestRepresentorVFGoneAndBack: a plugged VF whose representor goes away
// (the host tore the VF down) is reported pending with the reason, and
// its neighbour is untouched; when it comes back (a new netdev with the
// same name and a new ifindex) the port is reported plugged on it again.
//
// Traffic after the return is not asserted: with the netdev datapath the
// test stacks use, ovs-vswitchd keeps its packet socket on the vanished
// netdev and does not reopen the new one while the Port row stays (only
// deleting the Port and re-adding it in a later transaction does). On a
// DPU's kernel datapath the vport goes away with the netdev and
// ovs-vswitchd adds it again when the netdev returns.
func TestRepresentorVFGoneAndBack(t *testing.T) {
	t.Parallel()
	s, sim := newRepStack(t, 2)
	addRepLSP(s, "vm0", sim.VF(0, 0))
	addRepLSP(s, "vm1", sim.VF(0, 1))
	addRepLSP(s, "host", sim.HostPF(0))
	repWaitPlugged(t, s, "vm0", "pf0vf0", 0)
	repWaitPlugged(t, s, "vm1", "pf0vf1", 0)
	repWaitPlugged(t, s, "host", "pf0hpf", 0)
	repPingOK(t, s, sim, "pf0vf1", "pf0vf0")
	oldIdx := sim.VF(0, 1).Ifindex

	sim.RemoveVF(0, 1)
	got := repWaitStatus(t, s, "vm1", "pending", "VF 1")
	i, ok := s.Interface("pf0vf1")
	t.Logf("VF 1 gone: GET /ports %s %q; Interface pf0vf1 present=%v ofport=%d error=%q", got.State, got.Reason, ok, i.OFPort, i.Error)
	if err := repPlugged(s.Interfaces(), "vm0", "pf0vf0", 0); err != nil {
		t.Errorf("bystander: %v", err)
	}
	repPingOK(t, s, sim, "pf0vf0", "pf0hpf")

	v := sim.AddVF(0, 1)
	if v.Ifindex == oldIdx {
		t.Fatalf("re-created VF kept ifindex %d", oldIdx)
	}
	repWaitPlugged(t, s, "vm1", "pf0vf1", 0)
	repWaitStatus(t, s, "vm1", "plugged")
}

// TestRepresentorPF: pf-mac without vf-num plugs the host PF's
// representor, pf0hpf, and the host reaches a VF's VM.
func TestRepresentorPF(t *testing.T) {
	t.Parallel()
	s, sim := newRepStack(t, 1)
	host := sim.HostPF(0)
	if host.Representor != "pf0hpf" {
		t.Fatalf("host PF representor %q", host.Representor)
	}
	addRepLSP(s, "host", host)
	addRepLSP(s, "vm0", sim.VF(0, 0))
	repWaitPlugged(t, s, "host", "pf0hpf", 0)
	repWaitPlugged(t, s, "vm0", "pf0vf0", 0)
	repPingOK(t, s, sim, "pf0hpf", "pf0vf0")
}

// TestRepresentorBlueField3TwoPFsAndSF: the newer layout, where the host's
// ports carry the external controller prefix (c1pf0vf0, c1pf1, c1pf0sf2),
// with two host PFs of different MACs and an SF: each request lands on
// its own PF's function, sf-num plugs the SF representor, and the VMs
// behind all three reach each other.
func TestRepresentorBlueField3TwoPFsAndSF(t *testing.T) {
	t.Parallel()
	const pf1MAC = "0c:42:a1:c6:cf:7d"
	s, sim := newRepStackWith(t, hwdbtest.DPU{Controller: 1, PFs: []hwdbtest.DPUPF{
		{HostMAC: repHostPFMAC, VFs: 1, SFs: []uint32{2}},
		{HostMAC: pf1MAC, VFs: 1},
	}})
	sf, vf, pf1vf := sim.SF(0, 2), sim.VF(0, 0), sim.VF(1, 0)
	if sf.PhysPortName != "c1pf0sf2" || pf1vf.PhysPortName != "c1pf1vf0" || pf1vf.HostPFMAC != pf1MAC {
		t.Fatalf("layout: SF %+v, PF1 VF %+v", sf, pf1vf)
	}
	addRepLSP(s, "sf", sf)
	addRepLSP(s, "vf", vf)
	addRepLSP(s, "pf1vf", pf1vf)
	repWaitPlugged(t, s, "sf", sf.Representor, 0)
	repWaitPlugged(t, s, "vf", "pf0vf0", 0)
	repWaitPlugged(t, s, "pf1vf", "pf1vf0", 0)
	repPingOK(t, s, sim, sf.Representor, "pf0vf0")
	repPingOK(t, s, sim, "pf1vf0", sf.Representor)
}

// TestRepresentorVFNumChange: changing vf-num in place replugs the port
// onto the new VF's representor and removes the old one; traffic follows.
func TestRepresentorVFNumChange(t *testing.T) {
	t.Parallel()
	s, sim := newRepStack(t, 3)
	addRepLSP(s, "vm", sim.VF(0, 0))
	addRepLSP(s, "peer", sim.VF(0, 2))
	repWaitPlugged(t, s, "vm", "pf0vf0", 0)
	repWaitPlugged(t, s, "peer", "pf0vf2", 0)
	repPingOK(t, s, sim, "pf0vf0", "pf0vf2")

	vf1 := sim.VF(0, 1)
	start := time.Now()
	s.NBCtl(append([]string{"lsp-set-addresses", "vm", vf1.Addresses(),
		"--", "lsp-set-options", "vm"}, vf1.PlugOptions(s.Chassis)...)...)
	s.Eventually(repPlugTimeout, "vm moved from pf0vf0 to pf0vf1", func() error {
		ifaces := s.Interfaces()
		if err := repNoInterface(ifaces, "pf0vf0"); err != nil {
			return err
		}
		return repPlugged(ifaces, "vm", "pf0vf1", 0)
	})
	t.Logf("vm moved to pf0vf1 in %v", time.Since(start).Round(time.Millisecond))
	s.WaitLSPsUp(repPlugTimeout, "vm")
	repWaitStatus(t, s, "vm", "plugged")
	if p, _ := repSidecarPorts(s); p["vm"].Interface != "pf0vf1" {
		t.Errorf("GET /ports vm interface %q, want pf0vf1", p["vm"].Interface)
	}
	repPingOK(t, s, sim, "pf0vf1", "pf0vf2")
	// VF 0 is no longer on the switch.
	repPingFails(t, sim, "pf0vf0", "pf0vf2")
}

// TestRepresentorRename: a representor renamed under a plugged port (as
// udev does) is followed: the OVS interface moves to the new name, the
// old one goes, and traffic flows through the renamed netdev.
func TestRepresentorRename(t *testing.T) {
	t.Parallel()
	s, sim := newRepStack(t, 2)
	addRepLSP(s, "vm0", sim.VF(0, 0))
	addRepLSP(s, "vm1", sim.VF(0, 1), "vif-plug-mtu-request=1450")
	repWaitPlugged(t, s, "vm0", "pf0vf0", 0)
	repWaitPlugged(t, s, "vm1", "pf0vf1", 1450)
	repPingOK(t, s, sim, "pf0vf0", "pf0vf1")

	start := time.Now()
	sim.RenameRepresentor("pf0vf1", "vf1rep")
	s.Eventually(repPlugTimeout, "vm1 moved from pf0vf1 to vf1rep", func() error {
		ifaces := s.Interfaces()
		if err := repNoInterface(ifaces, "pf0vf1"); err != nil {
			return err
		}
		return repPlugged(ifaces, "vm1", "vf1rep", 1450)
	})
	t.Logf("rename followed in %v", time.Since(start).Round(time.Millisecond))
	s.WaitLSPsUp(repPlugTimeout, "vm1")
	repWaitStatus(t, s, "vm1", "plugged")
	repPingOK(t, s, sim, "pf0vf0", "pf0vf1")
	if err := repPlugged(s.Interfaces(), "vm0", "pf0vf0", 0); err != nil {
		t.Errorf("bystander: %v", err)
	}
}

// TestRepresentorBadInput: malformed options plug nothing and say why in
// GET /ports (error: the request is wrong; pending: the hardware may
// appear), the sidecar stays healthy and keeps plugging good ports, and a
// fixed port plugs.
func TestRepresentorBadInput(t *testing.T) {
	t.Parallel()
	s, sim := newRepStack(t, 2)
	cases := []struct {
		lsp, state string
		opts       []string // on top of requested-chassis and vif-plug-type
		reason     []string // the GET /ports reason mentions each
	}{
		{"bad-mac", "error", []string{repOptPFMAC + "=0c:42:a1:c6:cf"}, []string{repOptPFMAC, "not a MAC"}},
		{"bad-mac-word", "error", []string{repOptPFMAC + "=hello", repOptVFNum + "=0"}, []string{repOptPFMAC, "not a MAC"}},
		{"zero-mac", "error", []string{repOptPFMAC + "=00:00:00:00:00:00"}, []string{repOptPFMAC, "zero"}},
		{"mcast-mac", "error", []string{repOptPFMAC + "=01:00:5e:00:00:01"}, []string{repOptPFMAC, "multicast"}},
		{"no-mac", "error", []string{repOptVFNum + "=0"}, []string{repOptPFMAC, "required"}},
		{"vf-negative", "error", []string{repOptPFMAC + "=" + repHostPFMAC, repOptVFNum + "=-1"}, []string{repOptVFNum, "negative"}},
		{"vf-word", "error", []string{repOptPFMAC + "=" + repHostPFMAC, repOptVFNum + "=one"}, []string{repOptVFNum, "not a decimal"}},
		{"vf-hex", "error", []string{repOptPFMAC + "=" + repHostPFMAC, repOptVFNum + "=0x1"}, []string{repOptVFNum, "not a decimal"}},
		{"vf-empty", "error", []string{repOptPFMAC + "=" + repHostPFMAC, repOptVFNum + "="}, []string{repOptVFNum, "empty"}},
		{"vf-range", "error", []string{repOptPFMAC + "=" + repHostPFMAC, repOptVFNum + "=65536"}, []string{repOptVFNum, "out of range"}},
		{"unknown-pf", "pending", []string{repOptPFMAC + "=0c:42:a1:00:00:99", repOptVFNum + "=0"}, []string{"0c:42:a1:00:00:99"}},
		{"unknown-pf-hpf", "pending", []string{repOptPFMAC + "=0c:42:a1:00:00:98"}, []string{"0c:42:a1:00:00:98"}},
		{"no-such-vf", "pending", []string{repOptPFMAC + "=" + repHostPFMAC, repOptVFNum + "=7"}, []string{"VF 7"}},
	}
	args := []string{"ls-add", repSw}
	for _, c := range cases {
		args = append(args, "--", "lsp-add", repSw, c.lsp,
			"--", "lsp-set-options", c.lsp, "requested-chassis="+s.Chassis, "vif-plug-type=representor")
		args = append(args, c.opts...)
	}
	s.NBCtl(args...)
	pid := s.Sidecar.PID()

	for _, c := range cases {
		got := repWaitStatus(t, s, c.lsp, c.state, c.reason...)
		t.Logf("%-14s %-7s %s", c.lsp, got.State, got.Reason)
	}
	// A good port still plugs beside them.
	addRepLSP(s, "good", sim.VF(0, 0))
	repWaitPlugged(t, s, "good", "pf0vf0", 0)

	// Some time later nothing has changed: nothing plugged for the bad
	// ports, the same reasons, the same healthy process. A quiet window
	// on purpose: a retry loop would show in it.
	time.Sleep(2 * time.Second)
	ifaces := s.Interfaces()
	for name, i := range ifaces {
		if i.ExternalIDs["ovn-plugged"] != "" && name != "pf0vf0" {
			t.Errorf("unexpected plugged Interface %s: %v", name, i.ExternalIDs)
		}
	}
	ports, err := repSidecarPorts(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		if err := repStatusIs(ports, c.lsp, c.state, c.reason...); err != nil {
			t.Error(err)
		}
	}
	if !s.Sidecar.Running() || s.Sidecar.PID() != pid {
		t.Fatalf("sidecar not running as pid %d any more (running %v, pid %d)", pid, s.Sidecar.Running(), s.Sidecar.PID())
	}
	repHealthz(t, s)

	// Fixing a bad port plugs it.
	repSetOptions(s, "vf-word", sim.VF(0, 1).PlugOptions(s.Chassis)...)
	repWaitPlugged(t, s, "vf-word", "pf0vf1", 0)
	repWaitStatus(t, s, "vf-word", "plugged")
}

// repHealthz requires GET /healthz to answer 200.
func repHealthz(t *testing.T, s *stack.Stack) {
	t.Helper()
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(s.SidecarURL() + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz answered %s: %s", resp.Status, body)
	}
}
