package hwdbtest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb/hwdbtest"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// resolve follows a link and checks it is relative and stays in dir.
func resolve(t *testing.T, dir, link string) string {
	t.Helper()
	target, err := os.Readlink(filepath.Join(dir, link))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.IsAbs(target) {
		t.Fatalf("%s -> %s is absolute", link, target)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(dir, link))
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(root, real)
	if err != nil || strings.HasPrefix(rel, "..") {
		t.Fatalf("%s resolves outside the tree: %s", link, real)
	}
	return rel
}

func TestBuildTreeKernelLayout(t *testing.T) {
	dir := t.TempDir()
	spec := hwdbtest.Spec{
		Netdevs: []hwdbtest.Netdev{
			{Name: "p0", PhysPortName: "p0", SwitchID: "abcd", Ifindex: 10, PCI: "0000:03:00.0", NameAssignType: 4},
			{Name: "pf0vf0", PhysPortName: "c1pf0vf0", SwitchID: "abcd", Ifindex: 11, PCI: "0000:03:00.0"},
			{Name: "br-int", Ifindex: 12},
		},
		UplinkPFMACs: map[string]string{"p0": "0c:42:a1:c6:cf:7c"},
	}
	if err := hwdbtest.BuildTree(dir, spec); err != nil {
		t.Fatal(err)
	}
	dev := "devices/pci0000:00/0000:00:02.0/0000:03:00.0"
	if got := resolve(t, dir, "class/net/pf0vf0"); got != dev+"/net/pf0vf0" {
		t.Errorf("class/net/pf0vf0 -> %s", got)
	}
	if got := resolve(t, dir, "bus/pci/devices/0000:03:00.0"); got != dev {
		t.Errorf("bus/pci/devices/0000:03:00.0 -> %s", got)
	}
	if got := resolve(t, dir, "class/net/pf0vf0/device"); got != dev {
		t.Errorf("pf0vf0/device -> %s", got)
	}
	if got := resolve(t, dir, "class/net/br-int"); got != "devices/virtual/net/br-int" {
		t.Errorf("class/net/br-int -> %s", got)
	}
	n := filepath.Join(dir, "class/net/pf0vf0")
	if read(t, n+"/ifindex") != "11" || read(t, n+"/phys_port_name") != "c1pf0vf0" || read(t, n+"/phys_switch_id") != "abcd" {
		t.Error("pf0vf0 attributes")
	}
	if _, err := os.Stat(n + "/name_assign_type"); !os.IsNotExist(err) {
		t.Error("name_assign_type written though not asked for")
	}
	if read(t, filepath.Join(dir, "class/net/p0/name_assign_type")) != "4" {
		t.Error("p0 name_assign_type")
	}
	if _, err := os.Stat(filepath.Join(dir, "class/net/br-int/phys_switch_id")); !os.IsNotExist(err) {
		t.Error("br-int has a switch id")
	}
	cfg := read(t, filepath.Join(dir, "class/net/p0/smart_nic/pf/config"))
	if !strings.HasPrefix(cfg, "MAC        : 0c:42:a1:c6:cf:7c\n") {
		t.Errorf("smart_nic config: %q", cfg)
	}

	// Building again over an existing tree replaces, and keeps the rest.
	spec.Netdevs[1].Ifindex = 21
	if err := hwdbtest.BuildTree(dir, spec); err != nil {
		t.Fatal(err)
	}
	if read(t, n+"/ifindex") != "21" {
		t.Error("rebuild did not replace ifindex")
	}
}

func TestRenameRemove(t *testing.T) {
	dir := t.TempDir()
	if err := hwdbtest.BuildTree(dir, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: "0c:42:a1:c6:cf:7c", VFs: 1}}}.Spec()); err != nil {
		t.Fatal(err)
	}
	if err := hwdbtest.RenameNetdev(dir, "pf0vf0", "eth9"); err != nil {
		t.Fatal(err)
	}
	if got := resolve(t, dir, "class/net/eth9"); !strings.HasSuffix(got, "/0000:03:00.0/net/eth9") {
		t.Errorf("eth9 -> %s", got)
	}
	if read(t, filepath.Join(dir, "class/net/eth9/phys_port_name")) != "pf0vf0" {
		t.Error("rename lost attributes")
	}
	if _, err := os.Lstat(filepath.Join(dir, "class/net/pf0vf0")); !os.IsNotExist(err) {
		t.Error("old name still there")
	}
	if err := hwdbtest.SetAttr(dir, "eth9", "name_assign_type", "1"); err != nil {
		t.Fatal(err)
	}
	if err := hwdbtest.RemoveNetdev(dir, "eth9"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "devices/pci0000:00/0000:00:02.0/0000:03:00.0/net/eth9")); !os.IsNotExist(err) {
		t.Error("device directory left behind")
	}
	if err := hwdbtest.RemoveNetdev(dir, "eth9"); err != nil {
		t.Errorf("removing twice: %v", err)
	}
	if err := hwdbtest.SetUplinkPFMAC(dir, "p7", "0c:42:a1:c6:cf:7c"); err == nil {
		t.Error("SetUplinkPFMAC on a missing uplink succeeded")
	}
	if _, err := os.Lstat(filepath.Join(dir, "class/net/p7")); !os.IsNotExist(err) {
		t.Error("SetUplinkPFMAC created a bogus class/net entry")
	}
	for _, bad := range []hwdbtest.Netdev{
		{Name: "../x", Ifindex: 1},
		{Name: "ok", Ifindex: 0},
		{Name: "ok", Ifindex: 1, PCI: "03:00.0"},
		{Name: "waytoolongnetdevname", Ifindex: 1},
	} {
		if err := hwdbtest.AddNetdev(dir, bad); err == nil {
			t.Errorf("AddNetdev(%+v) succeeded", bad)
		}
	}
}

func TestDPUPresets(t *testing.T) {
	bf3 := hwdbtest.DPU{Controller: 1, PFs: []hwdbtest.DPUPF{{HostMAC: "0c:42:a1:c6:cf:7c", VFs: 2, SFs: []uint32{3}}, {VFs: 1}}}.Spec()
	want := map[string]string{
		"p0": "p0", "pf0hpf": "c1pf0", "pf0vf0": "c1pf0vf0", "pf0vf1": "c1pf0vf1", "en3f0pf0sf3": "c1pf0sf3",
		"p1": "p1", "pf1hpf": "c1pf1", "pf1vf0": "c1pf1vf0",
	}
	if len(bf3.Netdevs) != len(want) {
		t.Fatalf("%d netdevs: %+v", len(bf3.Netdevs), bf3.Netdevs)
	}
	seen := map[int]bool{}
	for _, nd := range bf3.Netdevs {
		if want[nd.Name] != nd.PhysPortName {
			t.Errorf("%s: phys_port_name %q, want %q", nd.Name, nd.PhysPortName, want[nd.Name])
		}
		if seen[nd.Ifindex] {
			t.Errorf("%s: ifindex %d reused", nd.Name, nd.Ifindex)
		}
		seen[nd.Ifindex] = true
	}
	if bf3.Netdev("pf1vf0").PCI != "0000:03:00.1" {
		t.Error("PF 1 functions are not on function 1")
	}
	if len(bf3.UplinkPFMACs) != 1 {
		t.Errorf("uplink MACs: %v", bf3.UplinkPFMACs)
	}
	bf2 := hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{VFs: 1}}}.Spec()
	if bf2.Netdev("pf0vf0").PhysPortName != "pf0vf0" || bf2.Netdev("pf0hpf").PhysPortName != "pf0" {
		t.Error("BlueField-2 names")
	}
	if bf2.Netdev("nosuch") != nil {
		t.Error("Netdev of a missing name")
	}
}
