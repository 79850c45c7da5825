package hwdb

import (
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// SubscribeFunc has the signature of netlink.LinkSubscribeWithOptions. An
// implementation must close ch once done is closed (or when it fails),
// as netlink's does.
type SubscribeFunc func(ch chan<- netlink.LinkUpdate, done <-chan struct{}, opts netlink.LinkSubscribeOptions) error

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
	// rcvBuf asks for a larger socket buffer than the default, so a burst
	// of representors (hundreds of VFs created at once) is less likely
	// to overflow it (ENOBUFS), which costs a resubscribe and a rescan.
	rcvBuf = 1 << 20
)

// Start starts the netlink watcher in the background. It subscribes to
// link events, rescans, then applies events as they arrive: RTM_NEWLINK
// (add, change, rename) re-reads that netdev's sysfs attributes by its
// current name, RTM_DELLINK removes it. Bursts are applied as one
// update. When the subscription breaks (its channel closes, for example
// on ENOBUFS), the watcher resubscribes and rescans; while subscribing
// fails it retries with backoff and rescans each time. Start does
// nothing if the watcher is running.
//
// The subscription does not ask the kernel to list existing links
// (ListExisting): the rescan right after subscribing reads them all, and
// a dump of every link on a host with thousands of taps costs a message
// per link and is interrupted (NLM_F_DUMP_INTR) whenever a link comes or
// goes meanwhile, which then reached the log as a subscription error.
func (db *DB) Start() {
	db.watchMu.Lock()
	defer db.watchMu.Unlock()
	if db.stop != nil {
		return
	}
	db.stop, db.stopped = make(chan struct{}), make(chan struct{})
	go db.watch(db.stop, db.stopped)
}

// Stop stops the watcher and waits for it to exit. The index keeps its
// last state.
func (db *DB) Stop() {
	db.watchMu.Lock()
	stop, stopped := db.stop, db.stopped
	db.stop, db.stopped = nil, nil
	db.watchMu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-stopped
}

// Watching reports whether the watcher holds a live link subscription
// and has resynced since subscribing, that is whether the index follows
// the kernel without polling.
func (db *DB) Watching() bool { return db.watching.Load() }

func (db *DB) watch(stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	subscribe := db.opts.Subscribe
	if subscribe == nil {
		subscribe = db.subscribeLinks
	}
	var resync <-chan time.Time
	if db.opts.ResyncInterval > 0 {
		t := time.NewTicker(db.opts.ResyncInterval)
		defer t.Stop()
		resync = t.C
	}
	backoff := minBackoff
	for {
		ch := make(chan netlink.LinkUpdate, 1024)
		done := make(chan struct{})
		err := subscribe(ch, done, netlink.LinkSubscribeOptions{
			ReceiveBufferSize: rcvBuf,
			ErrorCallback: func(err error) {
				select {
				case <-done:
					return // the receive that fails because we closed the socket
				default:
				}
				db.log.V(2).Info("Link subscription error", "err", err)
			},
		})
		if err != nil {
			close(done)
			db.log.Error(err, "Cannot subscribe to link events; rescanning and retrying", "retryIn", backoff)
			if err := db.Rescan(); err != nil {
				db.log.V(2).Info("Rescan failed", "err", err)
			}
			select {
			case <-stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		// Subscribe first, then rescan: nothing that happens in between
		// is lost, and deletions missed while unsubscribed are caught.
		if err := db.Rescan(); err != nil {
			db.log.Error(err, "Rescan failed")
		}
		db.watching.Store(true)
		halt := db.consume(ch, stop, resync)
		db.watching.Store(false)
		close(done)
		if halt {
			for range ch { // let the receiver goroutine exit
			}
			return
		}
		db.log.Info("Link event subscription closed; resubscribing and resyncing")
		select {
		case <-stop:
			return
		case <-time.After(minBackoff):
		}
	}
}

// consume applies events until stop (true) or until ch closes (false).
func (db *DB) consume(ch <-chan netlink.LinkUpdate, stop <-chan struct{}, resync <-chan time.Time) bool {
	for {
		select {
		case <-stop:
			return true
		case <-resync:
			if err := db.Rescan(); err != nil {
				db.log.Error(err, "Periodic rescan failed")
			}
		case u, ok := <-ch:
			if !ok {
				return false
			}
			if db.irrelevant(u) {
				continue
			}
			batch, closed, halt := db.collect(eventOf(u), ch, stop)
			if halt {
				return true
			}
			db.applyEvents(batch)
			if closed {
				return false
			}
		}
	}
}

// collect gathers events until none came for Coalesce, or for at most
// ten times that.
func (db *DB) collect(first linkEvent, ch <-chan netlink.LinkUpdate, stop <-chan struct{}) (batch []linkEvent, closed, halt bool) {
	batch = []linkEvent{first}
	quiet := time.NewTimer(db.opts.Coalesce)
	defer quiet.Stop()
	limit := time.NewTimer(10 * db.opts.Coalesce)
	defer limit.Stop()
	for {
		select {
		case u, ok := <-ch:
			if !ok {
				return batch, true, false
			}
			if !db.irrelevant(u) {
				batch = append(batch, eventOf(u))
			}
			quiet.Reset(db.opts.Coalesce)
		case <-quiet.C:
			return batch, false, false
		case <-limit.C:
			return batch, false, false
		case <-stop:
			return nil, false, true
		}
	}
}

func eventOf(u netlink.LinkUpdate) linkEvent {
	ev := linkEvent{ifindex: int(u.Index), deleted: u.Header.Type == unix.RTM_DELLINK}
	if u.Link != nil {
		a := u.Attrs()
		if a.Index != 0 {
			ev.ifindex = a.Index
		}
		ev.name = a.Name
	}
	return ev
}

// softwareKinds are link kinds that are never switchdev representors. OVS
// creates one tap (userspace datapath) or internal port per plugged
// interface, so skipping them spares a sysfs read per plug.
// Names are the kernel's (IFLA_INFO_KIND), as skipRaw reads them, and
// netlink's Link.Type() where it differs ("tuntap" for the kernel's "tun").
var softwareKinds = map[string]bool{
	"tun": true, "tuntap": true, "openvswitch": true, "bridge": true, "bond": true,
	"vxlan": true, "geneve": true, "gre": true, "gretap": true, "vlan": true,
	"macvlan": true, "ipvlan": true, "wireguard": true, "dummy": true,
	"ifb": true, "vrf": true, "team": true, "ipip": true, "sit": true,
}

// irrelevant reports, from the event alone, a link the index cannot hold,
// so that it costs no sysfs read. A link the index holds is always
// relevant (its deletion or rename must be applied).
func (db *DB) irrelevant(u netlink.LinkUpdate) bool {
	if u.Link == nil {
		return false
	}
	a := u.Attrs()
	if _, known := db.ByIfindex(a.Index); known {
		return false
	}
	kind := u.Link.Type()
	if softwareKinds[kind] {
		return true
	}
	// On the real sysfs the kernel's attributes are the truth: a veth is
	// never a representor. A simulated tree (--sysfs-root) describes
	// veths as representors, so there only sysfs can tell.
	return kind == "veth" && db.kernelIsTruth()
}
