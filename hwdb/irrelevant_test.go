package hwdb

import (
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb/hwdbtest"

	"github.com/vishvananda/netlink"
)

func TestIrrelevantLinkEvents(t *testing.T) {
	// A simulated tree: veths stand for representors there.
	db := New(Options{SysfsRoot: t.TempDir(), NoDevlink: true, ResyncInterval: -1})
	upd := func(l netlink.Link) netlink.LinkUpdate { return netlink.LinkUpdate{Link: l} }
	attrs := netlink.LinkAttrs{Index: 99, Name: "lsp1"}
	for _, tc := range []struct {
		what string
		link netlink.Link
		want bool
	}{
		{"tap of a userspace-datapath port", &netlink.Tuntap{LinkAttrs: attrs}, true},
		{"kernel-datapath internal port", &netlink.GenericLink{LinkAttrs: attrs, LinkType: "openvswitch"}, true},
		{"representor (no kind)", &netlink.Device{LinkAttrs: attrs}, false},
		{"veth (simulated representor)", &netlink.Veth{LinkAttrs: attrs}, false},
		{"no link in the message", nil, false},
	} {
		if got := db.irrelevant(upd(tc.link)); got != tc.want {
			t.Errorf("%s: irrelevant = %v, want %v", tc.what, got, tc.want)
		}
	}
}

func TestIrrelevantLinkEventsOnRealSysfs(t *testing.T) {
	db := New(Options{SysfsRoot: "/sys", NoDevlink: true, ResyncInterval: -1})
	attrs := netlink.LinkAttrs{Index: 99, Name: "veth9"}
	if !db.irrelevant(netlink.LinkUpdate{Link: &netlink.Veth{LinkAttrs: attrs}}) {
		t.Error("a veth on the real sysfs is never a representor, but its event was kept")
	}
	if db.irrelevant(netlink.LinkUpdate{Link: &netlink.Device{LinkAttrs: attrs}}) {
		t.Error("a link with no kind (a representor) was dropped")
	}
}

// withRepresentor is a DB over a simulated tree holding one representor,
// pf0vf0 at ifindex 7.
func withRepresentor(t *testing.T) *DB {
	t.Helper()
	root := t.TempDir()
	if err := hwdbtest.AddNetdev(root, hwdbtest.Netdev{Name: "pf0vf0", PhysPortName: "pf0vf0", SwitchID: "aabbccdd", Ifindex: 7, PCI: "0000:03:00.0"}); err != nil {
		t.Fatal(err)
	}
	db := New(Options{SysfsRoot: root, NoDevlink: true, ResyncInterval: -1})
	if err := db.Rescan(); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestKnownLinkIsNeverIrrelevant(t *testing.T) {
	db := withRepresentor(t)
	p, ok := db.ByIfindex(7)
	if !ok {
		t.Fatal("representor not indexed")
	}
	// A port renamed or turned into something else must still be applied.
	if db.irrelevant(netlink.LinkUpdate{Link: &netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Index: p.Ifindex, Name: p.Name}}}) {
		t.Error("an event for an indexed ifindex was dropped")
	}
}
