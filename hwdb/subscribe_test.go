package hwdb

import (
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
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

// TestSubscribeLinksDecodesOnlyWhatMayMatter subscribes in a network
// namespace of its own and makes an OVS-style tap and a veth pair there:
// only the veth's events come through (a simulated tree, where veths
// stand for representors).
func TestSubscribeLinksDecodesOnlyWhatMayMatter(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New() // as root, like the e2e tests
	if err != nil {
		t.Fatalf("new netns (run as root): %v", err)
	}
	defer func() { _ = netns.Set(orig); ns.Close() }()

	db := New(Options{SysfsRoot: t.TempDir(), NoDevlink: true, ResyncInterval: -1})
	ch := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	if err := db.subscribeLinks(ch, done, netlink.LinkSubscribeOptions{ReceiveBufferSize: rcvBuf}); err != nil {
		t.Fatal(err)
	}
	tap := &netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: "tap-skip"}, Mode: netlink.TUNTAP_MODE_TAP}
	if err := netlink.LinkAdd(tap); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vkeep0"}, PeerName: "vkeep1"}); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkDel(tap); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	deadline := time.After(5 * time.Second)
	for !seen["vkeep0"] || !seen["vkeep1"] {
		select {
		case u, ok := <-ch:
			if !ok {
				t.Fatal("subscription closed")
			}
			seen[u.Attrs().Name] = true
		case <-deadline:
			t.Fatalf("veth events not seen; got %v", seen)
		}
	}
	close(done)
	for u := range ch { // closed once the socket is
		seen[u.Attrs().Name] = true
	}
	if seen["tap-skip"] {
		t.Error("the tap's events were decoded and delivered")
	}
}
