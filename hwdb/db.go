// Package hwdb is an in-memory index of the switchdev ports of this DPU:
// uplinks, host PF representors, VF representors and SF representors,
// with the host PF MAC each belongs to.
//
// Lookups (LookupPF, LookupVF, LookupSF, ByIfindex) are map reads under
// an RWMutex and never touch sysfs or netlink. The index is filled by
// Rescan, a full scan of <root>/class/net, and kept current by the
// netlink link watcher (Start), which re-reads only the netdev an event
// names. Refresh and Forget do the same by hand, for tests and tools.
//
// Where the flavour and numbers of a port come from:
//   - devlink, when a port dump works (DevLinkGetAllPortList); the host PF
//     MAC is the port function hw_addr of pcipf ports;
//   - otherwise phys_port_name in sysfs (see ParsePhysPortName), with the
//     host PF MAC from the uplink's smart_nic/pf/config.
//
// sriovnet has helpers for single lookups (GetVfRepresentorDPU,
// GetRepresentorPeerMacAddress, ...), but each call rescans sysfs or
// dumps devlink, and all of them read the hard-coded /sys through a
// process-global filesystem, which --sysfs-root cannot use. So hwdb reads
// the handful of attributes itself and builds its own index.
package hwdb

import (
	"cmp"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/klog/v2"
)

// Options configures a DB. The zero value reads /sys with devlink.
type Options struct {
	// SysfsRoot is where sysfs is; "" means /sys. Every read happens
	// under it.
	SysfsRoot string
	// Logger receives diagnostics; the zero value discards them.
	Logger klog.Logger
	// DevlinkPorts lists devlink ports. When nil, DefaultDevlinkPorts is
	// used if SysfsRoot is /sys; with any other root devlink is not used,
	// because devlink describes the real kernel and not the tree.
	DevlinkPorts DevlinkPortsFunc
	// NoDevlink disables devlink entirely (sysfs only).
	NoDevlink bool
	// Subscribe subscribes to link events; nil means the DB's own
	// subscription, which decodes only links that may matter. Tests
	// inject fakes.
	Subscribe SubscribeFunc
	// ResyncInterval is how often the watcher does a full Rescan, to
	// catch what has no link event (a host PF MAC change, a tree edited
	// behind our back). 0 means 5 minutes; negative disables it.
	ResyncInterval time.Duration
	// Coalesce is how long the watcher waits for a burst of link events
	// to go quiet before applying them as one update. 0 means 20ms.
	Coalesce time.Duration
}

// DB is the index. It is safe for concurrent use.
type DB struct {
	opts    Options
	fs      sysfs
	log     klog.Logger
	devlink DevlinkPortsFunc

	// updMu serialises writers: Rescan, Refresh, Forget and the watcher.
	updMu sync.Mutex
	raw   map[int]rawPort
	dl    devlinkIndex // last good devlink dump
	dlOK  bool         // whether the last devlink dump worked
	dlErr string       // last devlink error, to log changes only

	mu sync.RWMutex
	st *state

	gen atomic.Uint64

	subMu   sync.Mutex
	subs    map[int]func()
	nextSub int

	watchMu  sync.Mutex
	stop     chan struct{}
	stopped  chan struct{}
	watching atomic.Bool
}

// rawPort is a port as read, before the host PF MACs are worked out.
// HostPFMAC holds what the port itself says: the smart_nic MAC of an
// uplink, or the devlink function MAC of a pcipf port.
type rawPort struct {
	Port
	group string // ports with the same group are on one eswitch
}

type pfKey struct {
	group string
	ctrl  uint32
	pf    uint16
}

type fnKey struct {
	pfKey
	num uint32
}

// state is an immutable snapshot of the index; writers build a new one
// and swap it in.
type state struct {
	ports  map[int]Port
	pfs    map[pfKey]int // host PF -> ifindex of its representor
	byMAC  map[MAC][]pfKey
	vfs    map[fnKey]int
	sfs    map[fnKey]int
	list   []Port
	counts map[Flavour]int
	// ecpfGroup maps a PCI function that switchdev ports hang off (the
	// ECPF, on a DPU) to their eswitch group, for LookupPFAt.
	ecpfGroup map[string]string
}

// New returns an empty DB. Call Rescan to fill it and Start to keep it
// current.
func New(opts Options) *DB {
	if opts.SysfsRoot == "" {
		opts.SysfsRoot = "/sys"
	}
	if opts.ResyncInterval == 0 {
		opts.ResyncInterval = 5 * time.Minute
	}
	if opts.Coalesce <= 0 {
		opts.Coalesce = 20 * time.Millisecond
	}
	db := &DB{
		opts: opts,
		fs:   sysfs{root: opts.SysfsRoot},
		log:  opts.Logger,
		raw:  map[int]rawPort{},
		st:   build(nil, klog.Logger{}),
		subs: map[int]func(){},
	}
	switch {
	case opts.NoDevlink:
	case opts.DevlinkPorts != nil:
		db.devlink = opts.DevlinkPorts
	case filepath.Clean(opts.SysfsRoot) == "/sys":
		db.devlink = DefaultDevlinkPorts
	}
	return db
}

// kernelIsTruth reports whether sysfs is the kernel's own, so that the
// kernel's link attributes describe the same netdevs the index reads.
func (db *DB) kernelIsTruth() bool { return filepath.Clean(db.opts.SysfsRoot) == "/sys" }

// SysfsRoot returns the root the DB reads.
func (db *DB) SysfsRoot() string { return db.opts.SysfsRoot }

// Rescan rebuilds the index from a full scan of class/net (and a devlink
// dump, when devlink works). It fails only when class/net cannot be
// listed; unreadable netdevs are skipped.
func (db *DB) Rescan() error {
	names, err := db.fs.listNetdevs()
	if err != nil {
		return fmt.Errorf("hwdb: %w", err)
	}
	slices.Sort(names)
	db.updMu.Lock()
	db.refreshDevlinkLocked()
	raw := make(map[int]rawPort, len(db.raw))
	for _, name := range names {
		info, err := db.fs.readNetdev(name, db.inDevlinkLocked)
		if err != nil {
			db.log.V(4).Info("Skipping netdev", "name", name, "err", err)
			continue
		}
		r, ok := db.makeRaw(info)
		if !ok {
			continue
		}
		if prev, dup := raw[r.Ifindex]; dup {
			db.log.V(2).Info("Two netdevs claim one ifindex; keeping the first", "ifindex", r.Ifindex, "kept", prev.Name, "skipped", name)
			continue
		}
		raw[r.Ifindex] = r
	}
	db.raw = raw
	changed := db.publishLocked()
	db.updMu.Unlock()
	if changed {
		db.notify()
	}
	return nil
}

// Refresh re-reads one netdev by its current name: it is added, updated,
// or, if class/net/<name> is gone or is no switchdev port, removed.
func (db *DB) Refresh(name string) {
	db.applyEvents([]linkEvent{{name: name}})
}

// Forget removes the port with this ifindex, as RTM_DELLINK does.
func (db *DB) Forget(ifindex int) {
	db.applyEvents([]linkEvent{{ifindex: ifindex, deleted: true}})
}

// linkEvent is one link change. ifindex 0 means "whatever ifindex sysfs
// says" (Refresh by name).
type linkEvent struct {
	ifindex int
	name    string
	deleted bool
}

// applyEvents applies a batch of link changes as one update, so a burst
// makes one notification.
func (db *DB) applyEvents(evs []linkEvent) {
	// Only the last event per ifindex matters: each re-reads the current
	// state anyway.
	last := map[int]int{}
	for i, ev := range evs {
		if ev.ifindex != 0 {
			last[ev.ifindex] = i
		}
	}
	db.updMu.Lock()
	if db.dlOK {
		db.refreshDevlinkLocked()
	}
	touched := map[pfKey]bool{}
	for i, ev := range evs {
		if ev.ifindex != 0 && last[ev.ifindex] != i {
			continue
		}
		if r, ok := db.applyLocked(ev); ok && r.Flavour == FlavourPCIPF {
			touched[pfKey{group: r.group, pf: r.PF}] = true
		}
	}
	// A host PF representor event (the host PF came up, say) is our cue
	// that the host PF MAC may have changed: re-read its uplink's.
	for idx, r := range db.raw {
		if r.Flavour == FlavourPhysical && touched[pfKey{group: r.group, pf: r.PF}] {
			if mac, err := db.fs.readUplinkMAC(r.Name); err == nil {
				r.HostPFMAC = mac
				db.raw[idx] = r
			}
		}
	}
	changed := db.publishLocked()
	db.updMu.Unlock()
	if changed {
		db.notify()
	}
}

// applyLocked applies one event to db.raw and returns the record it
// stored, if any.
func (db *DB) applyLocked(ev linkEvent) (rawPort, bool) {
	if ev.deleted {
		delete(db.raw, ev.ifindex)
		return rawPort{}, false
	}
	var (
		kept rawPort
		keep int
	)
	info, err := db.fs.readNetdev(ev.name, db.inDevlinkLocked)
	switch {
	case err != nil:
		db.log.V(4).Info("Netdev not in sysfs", "name", ev.name, "ifindex", ev.ifindex, "err", err)
	case ev.ifindex != 0 && info.ifindex != ev.ifindex:
		// Only a simulated tree can disagree with the kernel; such an
		// entry is stale and describes some other netdev.
		db.log.V(2).Info("Ignoring sysfs entry whose ifindex disagrees with the kernel's", "name", ev.name, "kernel", ev.ifindex, "sysfs", info.ifindex)
	default:
		if r, ok := db.makeRaw(info); ok {
			db.raw[r.Ifindex] = r
			kept, keep = r, r.Ifindex
		}
	}
	if ev.ifindex != 0 && ev.ifindex != keep {
		delete(db.raw, ev.ifindex)
	}
	// A name belongs to one netdev: whoever had it before was renamed or
	// deleted.
	for idx, r := range db.raw {
		if r.Name == ev.name && idx != keep {
			delete(db.raw, idx)
		}
	}
	return kept, keep != 0
}

// inDevlinkLocked reports whether the last devlink dump lists ifindex.
func (db *DB) inDevlinkLocked(ifindex int) bool {
	_, ok := db.dl[ifindex]
	return ok
}

// refreshDevlinkLocked re-dumps devlink ports, if devlink is in use.
func (db *DB) refreshDevlinkLocked() {
	if db.devlink == nil {
		return
	}
	ports, err := db.devlink()
	if err != nil {
		if msg := err.Error(); msg != db.dlErr {
			db.log.Info("Devlink port dump failed; using sysfs phys_port_name instead", "err", err)
			db.dlErr = msg
		}
		db.dl, db.dlOK = nil, false
		return
	}
	if db.dlErr != "" {
		db.log.Info("Devlink port dump works again")
		db.dlErr = ""
	}
	db.dl, db.dlOK = indexDevlink(ports), true
}

// makeRaw turns one netdev's sysfs attributes, plus its devlink port if
// there is one, into a record. Netdevs that are no switchdev port are
// refused.
func (db *DB) makeRaw(info netdevInfo) (rawPort, bool) {
	d, fromDL := db.dl[info.ifindex]
	if info.switchID == "" && !fromDL {
		return rawPort{}, false
	}
	p := Port{
		Name:         info.name,
		Ifindex:      info.ifindex,
		SwitchID:     info.switchID,
		PhysPortName: info.physPortName,
		PCIAddr:      info.pciAddr,
		KernelName:   isKernelName(info.name, info.nameAssignType),
	}
	if fromDL {
		p.Flavour, p.Controller, p.External = d.flavour, d.controller, d.external
		p.PF, p.VF, p.SF = d.pf, d.vf, d.sf
		p.Source = SourceDevlink
		if p.Flavour == FlavourPCIPF {
			p.HostPFMAC = d.fnMAC
		}
	} else if pp, ok := ParsePhysPortName(info.physPortName); ok {
		p.Flavour, p.Controller, p.External = pp.Flavour, pp.Controller, pp.External
		p.PF, p.VF, p.SF = pp.PF, pp.VF, pp.SF
	}
	if p.Flavour == FlavourPhysical {
		if mac, err := db.fs.readUplinkMAC(info.name); err == nil {
			p.HostPFMAC = mac
		}
	}
	group := info.switchID
	if group == "" {
		group = "devlink:" + d.device
	}
	return rawPort{Port: p, group: group}, true
}

// publishLocked builds a new snapshot and swaps it in if it differs.
func (db *DB) publishLocked() bool {
	st := build(db.raw, db.log)
	db.mu.Lock()
	defer db.mu.Unlock()
	if maps.Equal(st.ports, db.st.ports) {
		return false
	}
	db.st = st
	db.gen.Add(1)
	return true
}

// build derives the lookup maps. When several ports claim one key (which
// a healthy kernel never shows) the lowest ifindex wins.
//
// Host PF MACs: a pcipf port's own devlink function MAC wins. Failing
// that, the MAC of uplink p<N> on the same switch goes to the pcipf ports
// with pf number N; if some of those are external ("c1pf0") only they get
// it, since smart_nic/pf/config describes the external host's PF.
func build(raw map[int]rawPort, log klog.Logger) *state {
	st := &state{
		ports:  make(map[int]Port, len(raw)),
		pfs:    map[pfKey]int{},
		byMAC:  map[MAC][]pfKey{},
		vfs:    map[fnKey]int{},
		sfs:    map[fnKey]int{},
		counts: map[Flavour]int{},

		ecpfGroup: map[string]string{},
	}
	idxs := slices.Sorted(maps.Keys(raw))
	type groupPF struct {
		group string
		pf    uint16
	}
	uplinkMAC := map[groupPF]MAC{}
	external := map[groupPF]bool{}
	for _, idx := range idxs {
		r := raw[idx]
		if _, dup := st.ecpfGroup[r.PCIAddr]; r.PCIAddr != "" && !dup {
			st.ecpfGroup[r.PCIAddr] = r.group
		}
		k := groupPF{r.group, r.PF}
		switch r.Flavour {
		case FlavourPhysical:
			if _, dup := uplinkMAC[k]; !dup && !r.HostPFMAC.IsZero() {
				uplinkMAC[k] = r.HostPFMAC
			}
		case FlavourPCIPF:
			external[k] = external[k] || r.External
		}
	}
	for _, idx := range idxs {
		r := raw[idx]
		if r.Flavour != FlavourPCIPF {
			continue
		}
		p := r.Port
		if k := (groupPF{r.group, r.PF}); p.HostPFMAC.IsZero() && (p.External || !external[k]) {
			p.HostPFMAC = uplinkMAC[k]
		}
		key := pfKey{r.group, p.Controller, p.PF}
		if prev, dup := st.pfs[key]; dup {
			log.V(2).Info("Duplicate host PF representor", "kept", raw[prev].Name, "ignored", p.Name)
		} else {
			st.pfs[key] = idx
			if !p.HostPFMAC.IsZero() {
				st.byMAC[p.HostPFMAC] = append(st.byMAC[p.HostPFMAC], key)
			}
		}
		st.ports[idx] = p
	}
	for _, idx := range idxs {
		r := raw[idx]
		p := r.Port
		var (
			m   map[fnKey]int
			num uint32
		)
		switch p.Flavour {
		case FlavourPCIPF:
			continue
		case FlavourPCIVF:
			m, num = st.vfs, uint32(p.VF)
		case FlavourPCISF:
			m, num = st.sfs, p.SF
		}
		if m != nil {
			key := pfKey{r.group, p.Controller, p.PF}
			if pfIdx, ok := st.pfs[key]; ok {
				p.HostPFMAC = st.ports[pfIdx].HostPFMAC
			}
			if prev, dup := m[fnKey{key, num}]; dup {
				log.V(2).Info("Duplicate function representor", "kept", raw[prev].Name, "ignored", p.Name)
			} else {
				m[fnKey{key, num}] = idx
			}
		}
		st.ports[idx] = p
	}
	st.list = slices.Collect(maps.Values(st.ports))
	slices.SortFunc(st.list, comparePorts)
	for _, p := range st.list {
		st.counts[p.Flavour]++
	}
	return st
}

// flavourRank orders List: uplinks first, then host PFs, VFs, SFs.
var flavourRank = map[Flavour]int{FlavourPhysical: 0, FlavourPCIPF: 1, FlavourPCIVF: 2, FlavourPCISF: 3, FlavourUnknown: 4}

func comparePorts(a, b Port) int {
	return cmp.Or(
		cmp.Compare(a.SwitchID, b.SwitchID),
		cmp.Compare(a.Controller, b.Controller),
		cmp.Compare(a.PF, b.PF),
		cmp.Compare(flavourRank[a.Flavour], flavourRank[b.Flavour]),
		cmp.Compare(a.VF, b.VF),
		cmp.Compare(a.SF, b.SF),
		cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Ifindex, b.Ifindex),
	)
}

// Generation counts the changes of the index; it starts at 0 and goes up
// by one for every update that changed some port.
func (db *DB) Generation() uint64 { return db.gen.Load() }

// List returns a snapshot of all ports, sorted by switch, controller, pf
// number, flavour (uplink, host PF, VFs, SFs), then VF/SF number.
func (db *DB) List() []Port {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return slices.Clone(db.st.list)
}

// Len returns the number of ports.
func (db *DB) Len() int {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return len(db.st.list)
}

// Counts returns the number of ports by flavour (flavours with none are
// absent), for the hwdb_ports{flavour} metric.
func (db *DB) Counts() map[Flavour]int {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return maps.Clone(db.st.counts)
}

// ByIfindex returns the port with this ifindex.
func (db *DB) ByIfindex(ifindex int) (Port, bool) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	p, ok := db.st.ports[ifindex]
	return p, ok
}

// LookupPF returns the representor of the host PF with this MAC.
//
// Controller rule: with c set, only host PFs of controller c.Num are
// considered. With AnyCtrl, a MAC that only one host PF has picks it;
// when several have it (sysfs on a multi-host card, where smart_nic
// gives one MAC for all hosts' PF N), the single external one is chosen;
// if that still leaves several, the lookup fails with ErrAmbiguousPF.
// A MAC no host PF has (on that controller) fails with ErrUnknownPF.
func (db *DB) LookupPF(mac MAC, c Ctrl) (Port, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	key, err := db.st.resolvePF(mac, c)
	if err != nil {
		return Port{}, err
	}
	return db.st.ports[db.st.pfs[key]], nil
}

// LookupVF returns the representor of VF vf of the host PF with this
// MAC, the PF chosen as in LookupPF. A known PF without that VF fails
// with ErrNoFunction.
func (db *DB) LookupVF(mac MAC, vf uint16, c Ctrl) (Port, error) {
	return db.lookupFn(mac, uint32(vf), c, false)
}

// LookupSF is LookupVF for SF sf.
func (db *DB) LookupSF(mac MAC, sf uint32, c Ctrl) (Port, error) {
	return db.lookupFn(mac, sf, c, true)
}

func (db *DB) lookupFn(mac MAC, num uint32, c Ctrl, sf bool) (Port, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	key, err := db.st.resolvePF(mac, c)
	if err != nil {
		return Port{}, err
	}
	return db.st.function(key, num, sf)
}

func (st *state) resolvePF(mac MAC, c Ctrl) (pfKey, error) {
	all := st.byMAC[mac]
	if len(all) == 0 {
		return pfKey{}, fmt.Errorf("%w: %s", ErrUnknownPF, mac)
	}
	cands := all
	if c.Set {
		cands = nil
		for _, k := range all {
			if k.ctrl == c.Num {
				cands = append(cands, k)
			}
		}
		if len(cands) == 0 {
			return pfKey{}, fmt.Errorf("%w: %s on controller %d (it is on %s)", ErrUnknownPF, mac, c.Num, st.describeKeys(all))
		}
	}
	if len(cands) == 1 {
		return cands[0], nil
	}
	if !c.Set {
		var ext []pfKey
		for _, k := range cands {
			if st.ports[st.pfs[k]].External {
				ext = append(ext, k)
			}
		}
		if len(ext) == 1 {
			return ext[0], nil
		}
	}
	return pfKey{}, fmt.Errorf("%w: %s is on %s", ErrAmbiguousPF, mac, st.describeKeys(cands))
}

func (st *state) describeKeys(keys []pfKey) string {
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, describePF(st.ports[st.pfs[k]]))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func describePF(p Port) string {
	return fmt.Sprintf("%s: controller %d pf %d switch %s", p.Name, p.Controller, p.PF, p.SwitchID)
}

// Subscribe calls fn after every update that changed the index: hardware
// appeared, went away, or was renamed. A burst of link events makes one
// call. fn runs on the updating goroutine, after the new state is
// visible to lookups, and must not block. The returned func unsubscribes.
func (db *DB) Subscribe(fn func()) (cancel func()) {
	db.subMu.Lock()
	defer db.subMu.Unlock()
	id := db.nextSub
	db.nextSub++
	db.subs[id] = fn
	return func() {
		db.subMu.Lock()
		defer db.subMu.Unlock()
		delete(db.subs, id)
	}
}

func (db *DB) notify() {
	db.subMu.Lock()
	fns := slices.Collect(maps.Values(db.subs))
	db.subMu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
