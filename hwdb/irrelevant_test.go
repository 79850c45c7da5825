package hwdb

import (
	"testing"

	"github.com/vishvananda/netlink"
)

func TestIrrelevantLinkEvents(t *testing.T) {
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
