package hwdb_test

import (
	"errors"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb/hwdbtest"
)

const (
	macA = "0c:42:a1:c6:cf:7c"
	macB = "0c:42:a1:c6:cf:7d"
	sw   = "0c42a1030065c6cf"
)

func mac(t testing.TB, s string) hwdb.MAC {
	t.Helper()
	m, err := hwdb.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// newDB builds spec in a temp dir and returns a rescanned sysfs-only DB.
func newDB(t *testing.T, spec hwdbtest.Spec) (*hwdb.DB, string) {
	t.Helper()
	dir := t.TempDir()
	if err := hwdbtest.BuildTree(dir, spec); err != nil {
		t.Fatal(err)
	}
	db := hwdb.New(hwdb.Options{SysfsRoot: dir, NoDevlink: true})
	if err := db.Rescan(); err != nil {
		t.Fatal(err)
	}
	return db, dir
}

func wantPort(t *testing.T, what string, p hwdb.Port, err error, name string) hwdb.Port {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if p.Name != name {
		t.Fatalf("%s = %s, want %s", what, p.Name, name)
	}
	return p
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

func TestBlueField2(t *testing.T) {
	db, _ := newDB(t, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 4, SFs: []uint32{2}}}}.Spec())
	a := mac(t, macA)

	p, err := db.LookupVF(a, 3, hwdb.AnyCtrl)
	p = wantPort(t, "VF 3", p, err, "pf0vf3")
	if p.Flavour != hwdb.FlavourPCIVF || p.VF != 3 || p.PF != 0 || p.Controller != 0 || p.External ||
		p.HostPFMAC != a || p.PhysPortName != "pf0vf3" || p.PCIAddr != "0000:03:00.0" ||
		p.SwitchID != sw || p.KernelName || p.Source != hwdb.SourceSysfs {
		t.Errorf("VF 3 record: %+v", p)
	}
	if q, ok := db.ByIfindex(p.Ifindex); !ok || q != p {
		t.Errorf("ByIfindex(%d) = %+v, %v", p.Ifindex, q, ok)
	}

	p, err = db.LookupPF(a, hwdb.AnyCtrl)
	p = wantPort(t, "PF", p, err, "pf0hpf")
	if p.Flavour != hwdb.FlavourPCIPF || p.HostPFMAC != a || p.PhysPortName != "pf0" {
		t.Errorf("PF record: %+v", p)
	}

	p, err = db.LookupSF(a, 2, hwdb.AnyCtrl)
	wantPort(t, "SF 2", p, err, "en3f0pf0sf2")

	// The controller of legacy names is 0.
	p, err = db.LookupVF(a, 0, hwdb.CtrlNum(0))
	wantPort(t, "VF 0 on controller 0", p, err, "pf0vf0")
	_, err = db.LookupVF(a, 0, hwdb.CtrlNum(1))
	wantErr(t, "VF 0 on controller 1", err, hwdb.ErrUnknownPF)

	_, err = db.LookupVF(a, 4, hwdb.AnyCtrl)
	wantErr(t, "VF 4", err, hwdb.ErrNoFunction)
	_, err = db.LookupSF(a, 3, hwdb.AnyCtrl)
	wantErr(t, "SF 3", err, hwdb.ErrNoFunction)
	_, err = db.LookupVF(mac(t, macB), 0, hwdb.AnyCtrl)
	wantErr(t, "unknown MAC", err, hwdb.ErrUnknownPF)

	uplink, ok := db.ByIfindex(100)
	if !ok || uplink.Name != "p0" || uplink.Flavour != hwdb.FlavourPhysical || uplink.HostPFMAC != a {
		t.Errorf("uplink: %+v, %v", uplink, ok)
	}
	want := map[hwdb.Flavour]int{hwdb.FlavourPhysical: 1, hwdb.FlavourPCIPF: 1, hwdb.FlavourPCIVF: 4, hwdb.FlavourPCISF: 1}
	if got := db.Counts(); !mapsEqual(got, want) {
		t.Errorf("Counts = %v, want %v", got, want)
	}
}

func mapsEqual(a, b map[hwdb.Flavour]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestBlueField3(t *testing.T) {
	spec := hwdbtest.DPU{Controller: 1, PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 4, SFs: []uint32{0}}}}.Spec()
	// The DPU's own SF 0 (controller 0) must not be mistaken for the
	// host's SF 0, nor a local PF representor for the host's.
	spec.Netdevs = append(spec.Netdevs,
		hwdbtest.Netdev{Name: "dpusf0", PhysPortName: "pf0sf0", SwitchID: sw, Ifindex: 500, PCI: "0000:03:00.0"},
		hwdbtest.Netdev{Name: "dpupf0", PhysPortName: "pf0", SwitchID: sw, Ifindex: 501, PCI: "0000:03:00.0"},
	)
	db, _ := newDB(t, spec)
	a := mac(t, macA)

	p, err := db.LookupVF(a, 3, hwdb.AnyCtrl)
	p = wantPort(t, "VF 3", p, err, "pf0vf3")
	if p.Controller != 1 || !p.External || p.PhysPortName != "c1pf0vf3" || p.HostPFMAC != a {
		t.Errorf("VF 3 record: %+v", p)
	}
	p, err = db.LookupPF(a, hwdb.AnyCtrl)
	wantPort(t, "PF", p, err, "pf0hpf")
	p, err = db.LookupSF(a, 0, hwdb.AnyCtrl)
	wantPort(t, "SF 0", p, err, "en3f0pf0sf0")
	p, err = db.LookupVF(a, 3, hwdb.CtrlNum(1))
	wantPort(t, "VF 3 on controller 1", p, err, "pf0vf3")
	_, err = db.LookupVF(a, 3, hwdb.CtrlNum(0))
	wantErr(t, "VF 3 on controller 0", err, hwdb.ErrUnknownPF)

	local, _ := db.ByIfindex(501)
	if local.HostPFMAC != (hwdb.MAC{}) || local.Controller != 0 || local.External {
		t.Errorf("the local PF representor got the host's MAC: %+v", local)
	}
}

func TestSubFunctions(t *testing.T) {
	db, _ := newDB(t, hwdbtest.DPU{Controller: 1, PFs: []hwdbtest.DPUPF{{HostMAC: macA, SFs: []uint32{1, 7, 1000}}}}.Spec())
	a := mac(t, macA)
	for _, sf := range []uint32{1, 7, 1000} {
		p, err := db.LookupSF(a, sf, hwdb.AnyCtrl)
		if err != nil || p.Flavour != hwdb.FlavourPCISF || p.SF != sf || p.HostPFMAC != a {
			t.Errorf("SF %d: %+v, %v", sf, p, err)
		}
	}
	// SF numbers are not VF numbers.
	_, err := db.LookupVF(a, 7, hwdb.AnyCtrl)
	wantErr(t, "VF 7", err, hwdb.ErrNoFunction)
}

func TestTwoPFs(t *testing.T) {
	db, _ := newDB(t, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 2}, {HostMAC: macB, VFs: 2}}}.Spec())
	a, b := mac(t, macA), mac(t, macB)
	p, err := db.LookupVF(a, 1, hwdb.AnyCtrl)
	p = wantPort(t, "PF0 VF 1", p, err, "pf0vf1")
	if p.PCIAddr != "0000:03:00.0" || p.PF != 0 {
		t.Errorf("PF0 VF 1: %+v", p)
	}
	p, err = db.LookupVF(b, 1, hwdb.AnyCtrl)
	p = wantPort(t, "PF1 VF 1", p, err, "pf1vf1")
	if p.PCIAddr != "0000:03:00.1" || p.PF != 1 || p.HostPFMAC != b {
		t.Errorf("PF1 VF 1: %+v", p)
	}
	p, err = db.LookupPF(b, hwdb.AnyCtrl)
	wantPort(t, "PF1", p, err, "pf1hpf")

	// Lists are ordered uplink, PF, VFs per PF.
	var names []string
	for _, p := range db.List() {
		names = append(names, p.Name)
	}
	want := []string{"p0", "pf0hpf", "pf0vf0", "pf0vf1", "p1", "pf1hpf", "pf1vf0", "pf1vf1"}
	if !slices.Equal(names, want) {
		t.Errorf("List = %v, want %v", names, want)
	}
}

// multiHost is one card shared by two hosts (controllers 1 and 2). In
// sysfs there is one smart_nic MAC per uplink, so both hosts' PF 0 get it.
func multiHost() hwdbtest.Spec {
	pci := "0000:03:00.0"
	return hwdbtest.Spec{
		Netdevs: []hwdbtest.Netdev{
			{Name: "p0", PhysPortName: "p0", SwitchID: sw, Ifindex: 10, PCI: pci},
			{Name: "h1pf0", PhysPortName: "c1pf0", SwitchID: sw, Ifindex: 11, PCI: pci},
			{Name: "h2pf0", PhysPortName: "c2pf0", SwitchID: sw, Ifindex: 12, PCI: pci},
			{Name: "h1pf0vf0", PhysPortName: "c1pf0vf0", SwitchID: sw, Ifindex: 13, PCI: pci},
			{Name: "h2pf0vf0", PhysPortName: "c2pf0vf0", SwitchID: sw, Ifindex: 14, PCI: pci},
		},
		UplinkPFMACs: map[string]string{"p0": macA},
	}
}

func TestMultiHostSysfs(t *testing.T) {
	db, _ := newDB(t, multiHost())
	a := mac(t, macA)
	_, err := db.LookupVF(a, 0, hwdb.AnyCtrl)
	wantErr(t, "VF 0, any controller", err, hwdb.ErrAmbiguousPF)
	p, err := db.LookupVF(a, 0, hwdb.CtrlNum(2))
	wantPort(t, "VF 0 on controller 2", p, err, "h2pf0vf0")
	p, err = db.LookupPF(a, hwdb.CtrlNum(1))
	wantPort(t, "PF on controller 1", p, err, "h1pf0")
	_, err = db.LookupVF(a, 0, hwdb.CtrlNum(3))
	wantErr(t, "VF 0 on controller 3", err, hwdb.ErrUnknownPF)
}

func u16(v uint16) *uint16 { return &v }
func u32(v uint32) *uint32 { return &v }
func yes(v bool) *bool     { return &v }

func devlinkPort(name string, ifindex int, flavour uint16, ctrl uint32, pf uint16, num uint32, hw string) *netlink.DevlinkPort {
	p := &netlink.DevlinkPort{
		BusName: "pci", DeviceName: "0000:03:00.0", NetdeviceName: name, NetdevIfIndex: uint32(ifindex),
		PortFlavour: flavour, ControllerNumber: u32(ctrl), External: yes(ctrl > 0),
	}
	switch flavour {
	case 0:
		p.PortNumber = u32(uint32(pf))
	case 3:
		p.PfNumber = u16(pf)
	case 4:
		p.PfNumber, p.VfNumber = u16(pf), u16(uint16(num))
	case 7:
		p.PfNumber, p.SfNumber = u16(pf), u32(num)
	}
	if hw != "" {
		m, _ := hwdb.ParseMAC(hw)
		p.Fn = &netlink.DevlinkPortFn{HwAddr: m[:]}
	}
	return p
}

// With devlink each host PF reports its own MAC, so multi-host needs no
// controller option.
func TestMultiHostDevlink(t *testing.T) {
	dir := t.TempDir()
	if err := hwdbtest.BuildTree(dir, multiHost()); err != nil {
		t.Fatal(err)
	}
	ports := []*netlink.DevlinkPort{
		devlinkPort("p0", 10, 0, 0, 0, 0, ""),
		devlinkPort("h1pf0", 11, 3, 1, 0, 0, macA),
		devlinkPort("h2pf0", 12, 3, 2, 0, 0, macB),
		devlinkPort("h1pf0vf0", 13, 4, 1, 0, 0, "00:00:00:00:00:00"),
		devlinkPort("h2pf0vf0", 14, 4, 2, 0, 0, ""),
		{BusName: "pci", DeviceName: "0000:03:00.0", PortFlavour: 4}, // no netdev
	}
	calls := 0
	db := hwdb.New(hwdb.Options{SysfsRoot: dir, DevlinkPorts: func() ([]*netlink.DevlinkPort, error) {
		calls++
		return ports, nil
	}})
	if err := db.Rescan(); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("devlink dumped %d times", calls)
	}
	p, err := db.LookupVF(mac(t, macB), 0, hwdb.AnyCtrl)
	p = wantPort(t, "host 2 VF 0", p, err, "h2pf0vf0")
	if p.Source != hwdb.SourceDevlink || p.Controller != 2 || !p.External || p.HostPFMAC != mac(t, macB) {
		t.Errorf("host 2 VF 0: %+v", p)
	}
	p, err = db.LookupVF(mac(t, macA), 0, hwdb.AnyCtrl)
	wantPort(t, "host 1 VF 0", p, err, "h1pf0vf0")

	// A pcipf port without a function MAC (older kernels) falls back to
	// the uplink's smart_nic/pf/config.
	ports[1] = devlinkPort("h1pf0", 11, 3, 1, 0, 0, "")
	ports = ports[:2]
	if err := db.Rescan(); err != nil {
		t.Fatal(err)
	}
	p, err = db.LookupPF(mac(t, macA), hwdb.CtrlNum(1))
	p = wantPort(t, "host 1 PF via smart_nic", p, err, "h1pf0")
	if p.Source != hwdb.SourceDevlink {
		t.Errorf("h1pf0: %+v", p)
	}
	// h2pf0 and the VFs are no longer in devlink, so they come from sysfs,
	// where h2pf0 shares the smart_nic MAC with h1pf0.
	if p, _ := db.ByIfindex(12); p.Source != hwdb.SourceSysfs || p.HostPFMAC != mac(t, macA) {
		t.Errorf("h2pf0 from sysfs: %+v", p)
	}
	_, err = db.LookupVF(mac(t, macA), 0, hwdb.AnyCtrl)
	wantErr(t, "VF 0 with two host PFs on one MAC", err, hwdb.ErrAmbiguousPF)
}

func TestDevlinkUnavailable(t *testing.T) {
	dir := t.TempDir()
	if err := hwdbtest.BuildTree(dir, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 1}}}.Spec()); err != nil {
		t.Fatal(err)
	}
	db := hwdb.New(hwdb.Options{SysfsRoot: dir, DevlinkPorts: func() ([]*netlink.DevlinkPort, error) {
		return nil, syscall.ENOENT
	}})
	if err := db.Rescan(); err != nil {
		t.Fatal(err)
	}
	p, err := db.LookupVF(mac(t, macA), 0, hwdb.AnyCtrl)
	p = wantPort(t, "VF 0", p, err, "pf0vf0")
	if p.Source != hwdb.SourceSysfs {
		t.Errorf("source %v", p.Source)
	}
}

func TestKernelNames(t *testing.T) {
	pci := "0000:03:00.0"
	db, _ := newDB(t, hwdbtest.Spec{
		Netdevs: []hwdbtest.Netdev{
			{Name: "p0", PhysPortName: "p0", SwitchID: sw, Ifindex: 10, PCI: pci},
			{Name: "pf0hpf", PhysPortName: "pf0", SwitchID: sw, Ifindex: 11, PCI: pci},
			{Name: "eth5", PhysPortName: "pf0vf0", SwitchID: sw, Ifindex: 12, PCI: pci},
			{Name: "pf0vf1", PhysPortName: "pf0vf1", SwitchID: sw, Ifindex: 13, PCI: pci, NameAssignType: 1},
			{Name: "eth7", PhysPortName: "pf0vf2", SwitchID: sw, Ifindex: 14, PCI: pci, NameAssignType: 4},
			{Name: "eth0", Ifindex: 1, PCI: "0000:00:03.0"}, // not a switchdev port
			{Name: "lo", Ifindex: 2},
		},
		UplinkPFMACs: map[string]string{"p0": macA},
	})
	a := mac(t, macA)
	for vf, want := range []bool{true, true, false} {
		p, err := db.LookupVF(a, uint16(vf), hwdb.AnyCtrl)
		if err != nil || p.KernelName != want {
			t.Errorf("VF %d: %+v, %v; want KernelName %v", vf, p, err, want)
		}
	}
	if _, ok := db.ByIfindex(1); ok {
		t.Error("non-switchdev eth0 indexed")
	}
	if db.Len() != 5 {
		t.Errorf("Len = %d, want 5", db.Len())
	}
}

func TestRefreshRenameRemove(t *testing.T) {
	spec := hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 2}}}.Spec()
	// A VF representor that udev has not renamed yet.
	spec.Netdevs = append(spec.Netdevs, hwdbtest.Netdev{Name: "eth5", PhysPortName: "pf0vf3", SwitchID: sw, Ifindex: 200, PCI: "0000:03:00.0"})
	db, dir := newDB(t, spec)
	a := mac(t, macA)
	var notified atomic.Int32
	db.Subscribe(func() { notified.Add(1) })

	p, err := db.LookupVF(a, 3, hwdb.AnyCtrl)
	if p = wantPort(t, "VF 3", p, err, "eth5"); !p.KernelName {
		t.Errorf("eth5 not flagged as kernel-named")
	}

	// udev renames it.
	if err := hwdbtest.RenameNetdev(dir, "eth5", "pf0vf3"); err != nil {
		t.Fatal(err)
	}
	gen := db.Generation()
	db.Refresh("pf0vf3")
	p, err = db.LookupVF(a, 3, hwdb.AnyCtrl)
	if p = wantPort(t, "VF 3 renamed", p, err, "pf0vf3"); p.KernelName || p.Ifindex != 200 {
		t.Errorf("renamed: %+v", p)
	}
	if n := notified.Load(); n != 1 || db.Generation() != gen+1 {
		t.Errorf("rename: %d notifications, generation %d -> %d", n, gen, db.Generation())
	}
	for _, p := range db.List() {
		if p.Name == "eth5" {
			t.Error("old name still listed")
		}
	}

	// Nothing changed: no notification.
	db.Refresh("pf0vf3")
	if err := db.Rescan(); err != nil {
		t.Fatal(err)
	}
	if n := notified.Load(); n != 1 {
		t.Errorf("no-op refresh/rescan notified (%d)", n)
	}

	// The VF goes away.
	if err := hwdbtest.RemoveNetdev(dir, "pf0vf3"); err != nil {
		t.Fatal(err)
	}
	db.Refresh("pf0vf3")
	_, err = db.LookupVF(a, 3, hwdb.AnyCtrl)
	wantErr(t, "VF 3 removed", err, hwdb.ErrNoFunction)
	if _, ok := db.ByIfindex(200); ok {
		t.Error("removed VF still indexed by ifindex")
	}
	if n := notified.Load(); n != 2 {
		t.Errorf("removal: %d notifications", n)
	}

	// Forget drops a port by ifindex even if the tree still has it;
	// a rescan brings it back.
	vf1, _ := db.LookupVF(a, 1, hwdb.AnyCtrl)
	db.Forget(vf1.Ifindex)
	_, err = db.LookupVF(a, 1, hwdb.AnyCtrl)
	wantErr(t, "VF 1 forgotten", err, hwdb.ErrNoFunction)
	if err := db.Rescan(); err != nil {
		t.Fatal(err)
	}
	p, err = db.LookupVF(a, 1, hwdb.AnyCtrl)
	wantPort(t, "VF 1 rescanned", p, err, "pf0vf1")
	if n := notified.Load(); n != 4 {
		t.Errorf("forget+rescan: %d notifications, want 4", n)
	}

	// Refresh of something that is not there, or of a nonsense name, is
	// harmless.
	db.Refresh("nosuch")
	db.Refresh("../../etc")
	if n := notified.Load(); n != 4 {
		t.Errorf("refresh of a missing netdev notified")
	}
}

// A new host PF MAC has no netlink event of its own; a host PF
// representor event re-reads the uplink's.
func TestHostPFMACChange(t *testing.T) {
	db, dir := newDB(t, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 1}}}.Spec())
	if err := hwdbtest.SetUplinkPFMAC(dir, "p0", macB); err != nil {
		t.Fatal(err)
	}
	db.Refresh("pf0hpf")
	p, err := db.LookupVF(mac(t, macB), 0, hwdb.AnyCtrl)
	wantPort(t, "VF 0 by the new MAC", p, err, "pf0vf0")
	_, err = db.LookupVF(mac(t, macA), 0, hwdb.AnyCtrl)
	wantErr(t, "VF 0 by the old MAC", err, hwdb.ErrUnknownPF)
}

// Without a host PF representor there is no host PF, even if the uplink
// has a MAC: plugging the DPU's own functions by mistake is worse than
// waiting.
func TestNoHostPFRepresentor(t *testing.T) {
	spec := hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 1}}}.Spec()
	db, dir := newDB(t, spec)
	if err := hwdbtest.RemoveNetdev(dir, "pf0hpf"); err != nil {
		t.Fatal(err)
	}
	if err := db.Rescan(); err != nil {
		t.Fatal(err)
	}
	_, err := db.LookupVF(mac(t, macA), 0, hwdb.AnyCtrl)
	wantErr(t, "VF 0 without PF representor", err, hwdb.ErrUnknownPF)
	if p, _ := db.ByIfindex(spec.Netdev("pf0vf0").Ifindex); p.HostPFMAC != (hwdb.MAC{}) {
		t.Errorf("orphan VF got a host PF MAC: %+v", p)
	}
}

func TestRescanMissingRoot(t *testing.T) {
	db := hwdb.New(hwdb.Options{SysfsRoot: t.TempDir() + "/nope", NoDevlink: true})
	if err := db.Rescan(); err == nil {
		t.Fatal("Rescan of a missing root succeeded")
	}
	if db.Len() != 0 {
		t.Fatal("index not empty")
	}
}

func TestListIsACopy(t *testing.T) {
	db, _ := newDB(t, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 1}}}.Spec())
	l := db.List()
	l[0].Name = "mangled"
	if db.List()[0].Name == "mangled" {
		t.Fatal("List shares its backing array")
	}
	c := db.Counts()
	c[hwdb.FlavourPCIVF] = 99
	if db.Counts()[hwdb.FlavourPCIVF] != 1 {
		t.Fatal("Counts shares its map")
	}
}
