//go:build root

package hwdb

import (
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

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
