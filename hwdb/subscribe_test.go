package hwdb

import (
	"testing"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// rawLink is an RTM_NEWLINK payload: an ifinfomsg, the name and, if kind
// is set, IFLA_LINKINFO/IFLA_INFO_KIND.
func rawLink(index int, name, kind string) []byte {
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	b := msg.Serialize()
	b = append(b, nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)).Serialize()...)
	if kind != "" {
		info := nl.NewRtAttr(unix.IFLA_LINKINFO|unix.NLA_F_NESTED, nil)
		info.AddRtAttr(unix.IFLA_INFO_KIND, nl.NonZeroTerminated(kind))
		b = append(b, info.Serialize()...)
	}
	return b
}

func TestSkipRawAgreesWithIrrelevant(t *testing.T) {
	simulated := withRepresentor(t)
	real := New(Options{SysfsRoot: "/sys", NoDevlink: true, ResyncInterval: -1})
	for _, tc := range []struct {
		what  string
		db    *DB
		index int
		kind  string
		skip  bool
	}{
		{"tap (the kernel's kind is tun)", simulated, 99, "tun", true},
		{"openvswitch internal port", simulated, 99, "openvswitch", true},
		{"representor (no kind)", simulated, 99, "", false},
		{"veth in a simulated tree", simulated, 99, "veth", false},
		{"veth on the real sysfs", real, 99, "veth", true},
		{"known ifindex, whatever its kind", simulated, 7, "openvswitch", false},
	} {
		if got := tc.db.skipRaw(rawLink(tc.index, "x", tc.kind)); got != tc.skip {
			t.Errorf("%s: skipped = %v, want %v", tc.what, got, tc.skip)
		}
	}
	for _, bad := range [][]byte{{1, 0, 2, 0}, {8, 0, 18, 0, 200, 0, 1, 0}, {0xff, 0xff, 18, 0}} {
		if k := linkKind(bad); k != "" {
			t.Errorf("linkKind(%v) = %q from malformed attributes", bad, k)
		}
	}
}
