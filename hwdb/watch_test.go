package hwdb_test

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb/hwdbtest"
)

// fakeNetlink stands in for netlink.LinkSubscribeWithOptions.
type fakeNetlink struct {
	t     *testing.T
	subs  chan *fakeSub
	mu    sync.Mutex
	fails int // fail this many subscribe calls first
	calls int
}

// fakeSub is one subscription; it closes its channel when done closes,
// like netlink's receiver goroutine.
type fakeSub struct {
	mu     sync.Mutex
	ch     chan<- netlink.LinkUpdate
	closed bool
}

func newFakeNetlink(t *testing.T) *fakeNetlink {
	return &fakeNetlink{t: t, subs: make(chan *fakeSub, 10)}
}

func (f *fakeNetlink) subscribe(ch chan<- netlink.LinkUpdate, done <-chan struct{}, o netlink.LinkSubscribeOptions) error {
	f.mu.Lock()
	f.calls++
	fail := f.fails > 0
	if fail {
		f.fails--
	}
	f.mu.Unlock()
	// No dump of existing links: the rescan after subscribing reads them.
	if o.ListExisting || o.ErrorCallback == nil {
		f.t.Errorf("subscribe options %+v: want no ListExisting and an ErrorCallback", o)
	}
	if fail {
		return errors.New("simulated subscribe failure")
	}
	s := &fakeSub{ch: ch}
	go func() {
		<-done
		s.close()
	}()
	f.subs <- s
	return nil
}

func (f *fakeNetlink) next(t *testing.T) *fakeSub {
	t.Helper()
	select {
	case s := <-f.subs:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no subscription")
		return nil
	}
}

// close simulates the receive error (ENOBUFS) that makes netlink close
// the channel.
func (s *fakeSub) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

func (s *fakeSub) send(t *testing.T, typ uint16, ifindex int, name string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		t.Fatalf("send on a closed subscription")
	}
	u := netlink.LinkUpdate{Link: &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: ifindex, Name: name}}}
	u.Header.Type = typ
	u.Index = int32(ifindex)
	s.ch <- u
}

// notifications counts Subscribe callbacks and lets a test wait for them.
type notifications chan struct{}

func (n notifications) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-n:
	case <-time.After(5 * time.Second):
		t.Fatalf("no notification for %s", what)
	}
}

func (n notifications) none(t *testing.T, what string, d time.Duration) {
	t.Helper()
	select {
	case <-n:
		t.Fatalf("unexpected notification: %s", what)
	case <-time.After(d):
	}
}

func startWatched(t *testing.T, coalesce time.Duration, spec hwdbtest.Spec) (*hwdb.DB, string, *fakeNetlink, *fakeSub, notifications) {
	t.Helper()
	dir := t.TempDir()
	if err := hwdbtest.BuildTree(dir, spec); err != nil {
		t.Fatal(err)
	}
	f := newFakeNetlink(t)
	db := hwdb.New(hwdb.Options{SysfsRoot: dir, NoDevlink: true, Subscribe: f.subscribe, Coalesce: coalesce, ResyncInterval: -1})
	n := make(notifications, 1000)
	db.Subscribe(func() { n <- struct{}{} })
	db.Start()
	t.Cleanup(db.Stop)
	s := f.next(t)
	n.wait(t, "initial rescan")
	waitWatching(t, db)
	return db, dir, f, s, n
}

func waitWatching(t *testing.T, db *hwdb.DB) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !db.Watching(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("not watching after subscribing")
		}
	}
}

func TestWatcherAppliesLinkEvents(t *testing.T) {
	spec := hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 2}}}.Spec()
	db, dir, _, s, n := startWatched(t, 5*time.Millisecond, spec)
	a := mac(t, macA)
	if p, err := db.LookupVF(a, 1, hwdb.AnyCtrl); err != nil || p.Name != "pf0vf1" {
		t.Fatalf("initial VF 1: %+v, %v", p, err)
	}

	// A VF appears.
	if err := hwdbtest.AddNetdev(dir, hwdbtest.Netdev{Name: "pf0vf2", PhysPortName: "pf0vf2", SwitchID: sw, Ifindex: 300, PCI: "0000:03:00.0"}); err != nil {
		t.Fatal(err)
	}
	s.send(t, unix.RTM_NEWLINK, 300, "pf0vf2")
	n.wait(t, "new VF")
	if p, err := db.LookupVF(a, 2, hwdb.AnyCtrl); err != nil || p.Name != "pf0vf2" || p.Ifindex != 300 {
		t.Fatalf("VF 2: %+v, %v", p, err)
	}

	// A change that changes nothing we index (carrier up): no notification.
	s.send(t, unix.RTM_NEWLINK, 300, "pf0vf2")
	n.none(t, "no-op link change", 100*time.Millisecond)

	// It is renamed.
	if err := hwdbtest.RenameNetdev(dir, "pf0vf2", "vm7rep"); err != nil {
		t.Fatal(err)
	}
	s.send(t, unix.RTM_NEWLINK, 300, "vm7rep")
	n.wait(t, "rename")
	if p, err := db.LookupVF(a, 2, hwdb.AnyCtrl); err != nil || p.Name != "vm7rep" {
		t.Fatalf("VF 2 renamed: %+v, %v", p, err)
	}

	// It is deleted (the tree is left as is: the kernel's word counts).
	s.send(t, unix.RTM_DELLINK, 300, "vm7rep")
	n.wait(t, "delete")
	if _, err := db.LookupVF(a, 2, hwdb.AnyCtrl); !errors.Is(err, hwdb.ErrNoFunction) {
		t.Fatalf("VF 2 after delete: %v", err)
	}

	// A tree entry whose ifindex disagrees with the kernel's is stale and
	// ignored.
	if err := hwdbtest.AddNetdev(dir, hwdbtest.Netdev{Name: "pf0vf5", PhysPortName: "pf0vf5", SwitchID: sw, Ifindex: 555, PCI: "0000:03:00.0"}); err != nil {
		t.Fatal(err)
	}
	s.send(t, unix.RTM_NEWLINK, 777, "pf0vf5")
	n.none(t, "stale tree entry", 100*time.Millisecond)
	if _, err := db.LookupVF(a, 5, hwdb.AnyCtrl); err == nil {
		t.Fatal("stale tree entry indexed")
	}

	// Links that are not in the tree (br-int, say) are ignored.
	s.send(t, unix.RTM_NEWLINK, 9, "br-int")
	n.none(t, "unrelated link", 100*time.Millisecond)
}

func TestWatcherCoalescesBursts(t *testing.T) {
	spec := hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA}}}.Spec()
	db, dir, _, s, n := startWatched(t, 300*time.Millisecond, spec)
	const vfs = 64
	for vf := range vfs {
		name := "pf0vf" + strconv.Itoa(vf)
		if err := hwdbtest.AddNetdev(dir, hwdbtest.Netdev{Name: name, PhysPortName: name, SwitchID: sw, Ifindex: 1000 + vf, PCI: "0000:03:00.0"}); err != nil {
			t.Fatal(err)
		}
	}
	for vf := range vfs {
		s.send(t, unix.RTM_NEWLINK, 1000+vf, "pf0vf"+strconv.Itoa(vf))
	}
	n.wait(t, "burst")
	n.none(t, "second notification for one burst", 500*time.Millisecond)
	if c := db.Counts()[hwdb.FlavourPCIVF]; c != vfs {
		t.Fatalf("%d VFs indexed, want %d", c, vfs)
	}
}

// When the subscription breaks (ENOBUFS closes the channel) the watcher
// resubscribes and resyncs, catching what it missed.
func TestWatcherResubscribesAndResyncs(t *testing.T) {
	spec := hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 1}}}.Spec()
	db, dir, f, s, n := startWatched(t, 5*time.Millisecond, spec)
	// Changes whose events are lost.
	if err := hwdbtest.AddNetdev(dir, hwdbtest.Netdev{Name: "pf0vf7", PhysPortName: "pf0vf7", SwitchID: sw, Ifindex: 307, PCI: "0000:03:00.0"}); err != nil {
		t.Fatal(err)
	}
	if err := hwdbtest.RemoveNetdev(dir, "pf0vf0"); err != nil {
		t.Fatal(err)
	}
	s.close()
	s2 := f.next(t)
	n.wait(t, "resync")
	waitWatching(t, db)
	a := mac(t, macA)
	if p, err := db.LookupVF(a, 7, hwdb.AnyCtrl); err != nil || p.Name != "pf0vf7" {
		t.Fatalf("VF 7 after resync: %+v, %v", p, err)
	}
	if _, err := db.LookupVF(a, 0, hwdb.AnyCtrl); !errors.Is(err, hwdb.ErrNoFunction) {
		t.Fatalf("VF 0 after resync: %v", err)
	}
	// The new subscription works.
	if err := hwdbtest.RemoveNetdev(dir, "pf0vf7"); err != nil {
		t.Fatal(err)
	}
	s2.send(t, unix.RTM_DELLINK, 307, "pf0vf7")
	n.wait(t, "delete on the new subscription")
	if db.Len() != 2 {
		t.Fatalf("Len = %d, want 2", db.Len())
	}
	db.Stop()
	if db.Watching() {
		t.Fatal("still watching after Stop")
	}
	s2.mu.Lock()
	closed := s2.closed
	s2.mu.Unlock()
	if !closed {
		t.Fatal("Stop did not end the subscription")
	}
}

func TestWatcherRetriesSubscribe(t *testing.T) {
	dir := t.TempDir()
	if err := hwdbtest.BuildTree(dir, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: macA, VFs: 1}}}.Spec()); err != nil {
		t.Fatal(err)
	}
	f := newFakeNetlink(t)
	f.fails = 2
	db := hwdb.New(hwdb.Options{SysfsRoot: dir, NoDevlink: true, Subscribe: f.subscribe, ResyncInterval: -1})
	db.Start()
	defer db.Stop()
	f.next(t)
	f.mu.Lock()
	calls := f.calls
	f.mu.Unlock()
	if calls != 3 {
		t.Fatalf("subscribe called %d times, want 3", calls)
	}
	if _, err := db.LookupVF(mac(t, macA), 0, hwdb.AnyCtrl); err != nil {
		t.Fatal(err)
	}
	db.Start() // idempotent
	db.Stop()
	db.Stop()
}
