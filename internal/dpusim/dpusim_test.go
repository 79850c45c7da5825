//go:build root

package dpusim

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb/hwdbtest"
)

var testNS int

// newNetNS makes a namespace standing in for a stack's, named so that
// sweepStale removes it if this test binary is killed.
func newNetNS(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("dpusim tests need root (network namespaces, veth pairs)")
	}
	testNS++
	name := fmt.Sprintf("%s%d-test%d", vmNetNSPrefix, os.Getpid(), testNS)
	if _, err := ip("", "netns", "add", name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = ip("", "netns", "delete", name) })
	if _, err := ip(name, "link", "set", "lo", "up"); err != nil {
		t.Fatal(err)
	}
	return name
}

func readAttr(t *testing.T, dir, name, attr string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "class", "net", name, attr))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestTreeMatchesPresetAndLinks: the tree has the names, phys_port_names,
// switch IDs and PCI placement of hwdbtest's preset for the same DPU,
// and every ifindex is the real link's.
func TestTreeMatchesPresetAndLinks(t *testing.T) {
	ns := newNetNS(t)
	dpu := hwdbtest.DPU{Controller: 1, PFs: []hwdbtest.DPUPF{
		{HostMAC: "0c:42:a1:00:00:01", VFs: 2, SFs: []uint32{5}},
		{HostMAC: "0c:42:a1:00:00:02", VFs: 1},
	}}
	sim := New(t, Options{NetNS: ns, Dir: t.TempDir(), DPU: dpu})
	dir := sim.Dir()

	spec := dpu.Spec()
	var want, got []string
	for _, nd := range spec.Netdevs {
		want = append(want, nd.Name)
		if p := readAttr(t, dir, nd.Name, "phys_port_name"); p != nd.PhysPortName {
			t.Errorf("%s phys_port_name %q, preset %q", nd.Name, p, nd.PhysPortName)
		}
		if id := readAttr(t, dir, nd.Name, "phys_switch_id"); id != nd.SwitchID {
			t.Errorf("%s phys_switch_id %q, preset %q", nd.Name, id, nd.SwitchID)
		}
		link, err := os.Readlink(filepath.Join(dir, "class", "net", nd.Name))
		if err != nil || !strings.Contains(link, "/"+nd.PCI+"/net/"+nd.Name) {
			t.Errorf("%s class/net link %q (%v), want it under %s", nd.Name, link, err, nd.PCI)
		}
		idx, err := linkIfindex(ns, nd.Name)
		if err != nil {
			t.Errorf("%s: no real link: %v", nd.Name, err)
			continue
		}
		if ti := readAttr(t, dir, nd.Name, "ifindex"); ti != strconv.Itoa(idx) {
			t.Errorf("%s tree ifindex %s, link ifindex %d", nd.Name, ti, idx)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "class", "net"))
	for _, e := range ents {
		got = append(got, e.Name())
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("class/net = %v, want %v", got, want)
	}
	if cfg := readAttr(t, dir, "p1", "smart_nic/pf/config"); !strings.Contains(cfg, "0c:42:a1:00:00:02") {
		t.Errorf("p1 smart_nic config %q", cfg)
	}

	// hwdb reads it as the DPU it is.
	db := hwdb.New(hwdb.Options{SysfsRoot: dir, NoDevlink: true})
	if err := db.Rescan(); err != nil {
		t.Fatal(err)
	}
	mac, _ := hwdb.ParseMAC("0c:42:a1:00:00:01")
	for _, c := range []struct {
		port func() (hwdb.Port, error)
		want string
	}{
		{func() (hwdb.Port, error) { return db.LookupPF(mac, hwdb.AnyCtrl) }, "pf0hpf"},
		{func() (hwdb.Port, error) { return db.LookupVF(mac, 1, hwdb.AnyCtrl) }, "pf0vf1"},
		{func() (hwdb.Port, error) { return db.LookupSF(mac, 5, hwdb.AnyCtrl) }, "en3f0pf0sf5"},
	} {
		p, err := c.port()
		if err != nil || p.Name != c.want || p.Ifindex != sim.VM(c.want).Ifindex {
			t.Errorf("lookup = %+v, %v; want %s ifindex %d", p, err, c.want, sim.VM(c.want).Ifindex)
		}
	}

	// VMs: own namespace, eth0 with the MAC and address, pingable there.
	v := sim.VF(1, 0)
	if v.Name != "pf1vf0" || v.HostPFMAC != "0c:42:a1:00:00:02" || !DefaultSubnet.Contains(v.IP) {
		t.Errorf("VF(1,0) = %+v", v)
	}
	out, err := ip(v.NetNS, "-br", "addr", "show", "dev", VMDev)
	if err != nil || !strings.Contains(out, v.Prefix.String()) || !strings.Contains(out, "UP") {
		t.Errorf("VM %s: %q %v", v.NetNS, out, err)
	}
	out, _ = ip(v.NetNS, "-br", "link", "show", "dev", VMDev)
	if !strings.Contains(out, v.MAC) {
		t.Errorf("VM %s link %q, want MAC %s", v.NetNS, out, v.MAC)
	}
	r := sim.Ping("pf1vf0", v.IP, PingOptions{Count: 2, Interval: 10 * time.Millisecond})
	if r.Received != 2 {
		t.Errorf("ping own address:\n%s", r)
	}
	// Nothing connects two VMs without OVS: every echo is lost.
	r = sim.Ping("pf1vf0", sim.VF(0, 0).IP, PingOptions{Count: 1, Wait: 200 * time.Millisecond})
	if r.Sent != 1 || r.Received != 0 {
		t.Errorf("ping across with no switch:\n%s", r)
	}
	want4 := []string{"requested-chassis=ch1", "vif-plug-type=representor", "vif-plug:representor:pf-mac=0c:42:a1:00:00:01", "vif-plug:representor:sf-num=5"}
	if got := sim.SF(0, 5).PlugOptions("ch1"); !slices.Equal(got, want4) {
		t.Errorf("PlugOptions = %v", got)
	}
}

// TestRuntimeChangesReachTheWatcher drives hwdb's real netlink watcher
// (subscribed in the simulated DPU's namespace) through a late VF, a
// rename and a removal.
func TestRuntimeChangesReachTheWatcher(t *testing.T) {
	ns := newNetNS(t)
	const mac = "0c:42:a1:00:00:09"
	sim := New(t, Options{NetNS: ns, DPU: hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: mac, VFs: 1}}}})
	h, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	db := hwdb.New(hwdb.Options{SysfsRoot: sim.Dir(), NoDevlink: true, ResyncInterval: -1,
		Subscribe: func(ch chan<- netlink.LinkUpdate, done <-chan struct{}, o netlink.LinkSubscribeOptions) error {
			o.Namespace = &h
			return netlink.LinkSubscribeWithOptions(ch, done, o)
		}})
	db.Start()
	defer db.Stop()
	m, _ := hwdb.ParseMAC(mac)
	wait := func(what string, cond func() error) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			err := cond()
			if err == nil {
				return time.Since(start)
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	wait("watcher live", func() error {
		if !db.Watching() {
			return fmt.Errorf("not watching")
		}
		_, err := db.LookupVF(m, 0, hwdb.AnyCtrl)
		return err
	})

	v := sim.AddVF(0, 1)
	wait("late VF indexed", func() error {
		p, err := db.LookupVF(m, 1, hwdb.AnyCtrl)
		if err == nil && (p.Name != "pf0vf1" || p.Ifindex != v.Ifindex) {
			err = fmt.Errorf("got %+v, want pf0vf1 ifindex %d", p, v.Ifindex)
		}
		return err
	})
	t.Logf("late VF indexed %v after link creation", time.Since(v.Created).Round(time.Millisecond))

	sim.RenameRepresentor("pf0vf1", "vf1renamed")
	wait("rename followed", func() error {
		p, err := db.LookupVF(m, 1, hwdb.AnyCtrl)
		if err == nil && (p.Name != "vf1renamed" || p.Ifindex != v.Ifindex) {
			err = fmt.Errorf("got %+v", p)
		}
		return err
	})
	if got := sim.VM("pf0vf1").Representor; got != "vf1renamed" {
		t.Errorf("VM after rename: representor %q", got)
	}
	if got := sim.VM("vf1renamed").Name; got != "pf0vf1" {
		t.Errorf("VM by new representor name: %q", got)
	}
	if linkExists(ns, "pf0vf1") || !linkExists(ns, "vf1renamed") {
		t.Error("link not renamed")
	}

	vmns := v.NetNS
	sim.RemoveVF(0, 1)
	wait("removal followed", func() error {
		if p, err := db.LookupVF(m, 1, hwdb.AnyCtrl); err == nil {
			return fmt.Errorf("still indexed: %+v", p)
		}
		return nil
	})
	if netnsExists(vmns) {
		t.Errorf("VM namespace %s left after RemoveVF", vmns)
	}
	if _, err := os.Lstat(filepath.Join(sim.Dir(), "class", "net", "vf1renamed")); err == nil {
		t.Error("tree entry left after RemoveVF")
	}
	// A full rescan agrees with the watcher.
	if err := db.Rescan(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.LookupVF(m, 1, hwdb.AnyCtrl); err == nil {
		t.Error("rescan brought the removed VF back")
	}
}

// TestCleanup: the VM namespaces, the links and a temporary tree go with
// the TB.
func TestCleanup(t *testing.T) {
	ns := newNetNS(t)
	var vmns []string
	var dir string
	t.Run("sim", func(t *testing.T) {
		sim := New(t, Options{NetNS: ns, DPU: hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: "0c:42:a1:00:00:0a", VFs: 2}}}})
		sim.AddVF(0, 2)
		for _, v := range sim.VMs() {
			vmns = append(vmns, v.NetNS)
		}
		dir = sim.Dir()
	})
	if len(vmns) != 4 {
		t.Fatalf("VMs = %v, want host PF and 3 VFs", vmns)
	}
	for _, n := range vmns {
		if netnsExists(n) {
			t.Errorf("namespace %s left", n)
		}
	}
	out, err := ip(ns, "-br", "link")
	if err != nil || strings.TrimSpace(out) != strings.TrimSpace(firstLine(out)) || !strings.HasPrefix(out, "lo") {
		t.Errorf("links left in %s:\n%s (%v)", ns, out, err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("temporary tree %s left", dir)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// TestPlan: addresses are fixed per function and known in advance.
func TestPlan(t *testing.T) {
	ns := newNetNS(t)
	sim := New(t, Options{NetNS: ns, Subnet: netip.MustParsePrefix("10.9.0.0/16"),
		DPU: hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: "0c:42:a1:00:00:0b", VFs: 1}, {HostMAC: "0c:42:a1:00:00:0c"}}}})
	for _, c := range []struct {
		k        Kind
		pf       int
		num      uint32
		name, ip string
		mac      string
	}{
		{KindPF, 0, 0, "pf0hpf", "10.9.0.1", "0a:44:50:00:00:01"},
		{KindVF, 0, 0, "pf0vf0", "10.9.0.2", "0a:44:50:00:00:02"},
		{KindVF, 0, 300, "pf0vf300", "10.9.1.46", "0a:44:50:00:01:2e"},
		{KindSF, 0, 2, "en3f0pf0sf2", "10.9.8.2", "0a:44:50:00:08:02"},
		{KindPF, 1, 0, "pf1hpf", "10.9.16.1", "0a:44:50:00:10:01"},
	} {
		v, err := sim.Plan(c.k, c.pf, c.num)
		if err != nil || v.Name != c.name || v.IP.String() != c.ip || v.MAC != c.mac || v.Prefix.Bits() != 16 {
			t.Errorf("Plan(%v, %d, %d) = %+v, %v; want %s %s %s", c.k, c.pf, c.num, v, err, c.name, c.ip, c.mac)
		}
	}
	if v := sim.VF(0, 0); v.IP.String() != "10.9.0.2" || v.Addresses() != "0a:44:50:00:00:02 10.9.0.2" {
		t.Errorf("VF(0,0) = %+v", v)
	}
	for _, bad := range []struct {
		k   Kind
		pf  int
		num uint32
	}{{KindVF, 2, 0}, {KindVF, 0, 2046}, {KindSF, 0, 2047}, {KindPF, 0, 1}, {KindVF, -1, 0}} {
		if v, err := sim.Plan(bad.k, bad.pf, bad.num); err == nil {
			t.Errorf("Plan(%v, %d, %d) = %+v, want an error", bad.k, bad.pf, bad.num, v)
		}
	}
	// A re-created VF is the same VM again.
	before := sim.VF(0, 0)
	sim.RemoveVF(0, 0)
	after := sim.AddVF(0, 0)
	if after.IP != before.IP || after.MAC != before.MAC || after.NetNS != before.NetNS {
		t.Errorf("re-added VF %+v, was %+v", after, before)
	}
	// Kernel-named representors: name_assign_type 1, down, until renamed.
	if _, err := sim.AddVFErr(1, 3, "eth7"); err != nil {
		t.Fatal(err)
	}
	if got := readAttr(t, sim.Dir(), "eth7", "name_assign_type"); got != "1" {
		t.Errorf("eth7 name_assign_type %s", got)
	}
	if out, _ := ip(ns, "-br", "link", "show", "dev", "eth7"); !strings.Contains(out, "DOWN") {
		t.Errorf("eth7 is up before its rename: %s", out)
	}
	sim.RenameRepresentor("eth7", "pf1vf3")
	if got := readAttr(t, sim.Dir(), "pf1vf3", "name_assign_type"); got != "4" {
		t.Errorf("pf1vf3 name_assign_type %s after the rename", got)
	}
	if v := sim.VF(1, 3); v.Representor != "pf1vf3" || v.PhysPortName != "pf1vf3" {
		t.Errorf("VF(1,3) = %+v", v)
	}
	if _, err := sim.AddVFErr(0, 0, ""); err == nil {
		t.Error("adding an existing VF did not fail")
	}
}
