package sidecar

import (
	"context"
	"sort"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// This file owns one reconcile pass (worker goroutine): read a pinned
// snapshot, ask the providers, plan, write, record.

// snapshot is a pass's view of both databases: the identity and root rows
// read once, and lookups into the indexes the cache handlers keep, so a
// pass reads only what its keys need. The index views are pinned: every
// read of a pass sees the indexes as they were when it started, however
// many events the handlers apply meanwhile (those re-queue their keys for
// the next pass). Building it has no side effects; release it when the
// pass is done. Rows are shared with the caches and must not be modified.
type snapshot struct {
	ovsRow     *vswitch.OpenvSwitch
	bridge     *vswitch.Bridge
	bridgeName string
	// chassis is the configured chassis name (system-id), for providers.
	chassis string
	ovs     ovsView
	sb      sbView
	// bindings are the bindings read so far, by logical port.
	bindings    map[string]plan.Binding
	chassisUUID string
	chassisName string
	hostname    string
	// sbLive is true when the SB cache is from a synced connection.
	sbLive bool
	primed bool
}

// takeSnapshot reads the view for a pass. ch is the chassis row the
// identity tracker confirmed for the current SB monitor, nil if none.
func (w *worker) takeSnapshot(sbTC *cache.TableCache, ch *sb.Chassis) *snapshot {
	chassis, _, bridge := w.e.id.names()
	s := &snapshot{bridgeName: bridge, chassis: chassis, ovs: w.e.ovsIdx.pin(), sb: w.e.sbIdx.pin(), bindings: map[string]plan.Binding{}}
	s.ovsRow, s.bridge = s.ovs.Root(s.bridgeName)
	if sbTC == nil {
		return s
	}
	s.sbLive = true
	if ch != nil {
		s.chassisUUID, s.chassisName, s.hostname = ch.UUID, ch.Name, ch.Hostname
		s.primed = w.e.ovs.Synced()
	}
	return s
}

func (s *snapshot) release() {
	s.ovs.release()
	s.sb.release()
}

// binding reads one logical port's binding into the view.
func (s *snapshot) binding(k string) (plan.Binding, bool) {
	if b, ok := s.bindings[k]; ok {
		return b, true
	}
	b, ok := s.sb.Binding(k)
	if ok {
		s.bindings[k] = b
	}
	return b, ok
}

// chassisStill reports whether the chassis row the pass started with is
// still the current one: an update that removed it (and, in the same
// transaction, cleared requested_chassis on the bindings) may have landed
// while the bindings were read.
func (w *worker) chassisStill(sbTC *cache.TableCache, s *snapshot) bool {
	ch := w.e.id.chassisRow(sbTC)
	return ch != nil && ch.UUID == s.chassisUUID
}

func (w *worker) reconcile(ctx context.Context, b batch) {
	ovsTC := w.e.ovs.Cache()
	if ovsTC == nil {
		return // the OVS resync on connect recomputes everything
	}
	if b.identity {
		w.e.refreshIdentity()
	}
	sbTC := w.e.sb.Cache()
	// The indexes are filled by the handlers, after the cache: before a
	// pass reads them, the handlers must have seen every row these caches
	// hold, or a new connection's half-handled dump would look like
	// bindings gone. The worker waited before draining the batch; only a
	// cache that changed since (a reconnect) needs another wait.
	if (ovsTC != b.ovsSeen && !w.e.ovsBarrier.wait(ovsTC)) || (sbTC != nil && sbTC != b.sbSeen && !w.e.sbBarrier.wait(sbTC)) {
		return // the connection is going away; its successor's resync recomputes
	}
	var ch *sb.Chassis
	if sbTC != nil {
		// The one side effect of a pass's start, kept out of the view:
		// move the SB monitor onto the chassis row if it changed.
		w.noteChassis(sbTC)
		ch = w.checkChassis(sbTC)
	}
	snap := w.takeSnapshot(sbTC, ch)
	defer snap.release()
	if !snap.sbLive || snap.chassisUUID == "" {
		// Without live bindings and a chassis row nothing plugs or
		// unplugs; the SB resync after (re)connect recomputes everything.
		return
	}
	if snap.bridge == nil {
		if !w.noBridgeLogged {
			klog.InfoS("Integration bridge does not exist yet; nothing is plugged until ovn-controller creates it", "bridge", snap.bridgeName)
			w.noBridgeLogged = true
		}
		return
	}
	w.noBridgeLogged = false

	keys := w.selectKeys(b, snap)
	if len(keys) == 0 {
		return
	}
	desired := map[string]plan.Desired{}
	awaiting := map[string]bool{}
	for _, k := range keys {
		if bd, ok := snap.binding(k); ok {
			if d, ok := plan.ConsiderBinding(bd, snap.chassisUUID); ok {
				desired[k] = d
			} else if plan.AwaitingResolution(bd, snap.chassisUUID, snap.chassisName, snap.hostname) {
				awaiting[k] = true
			}
		}
	}
	if !w.chassisStill(sbTC, snap) {
		w.e.q.AddAll() // the chassis changed under us: start over
		return
	}
	in := plan.PlanInput{
		Keys:          keys,
		Desired:       desired,
		BridgeUUID:    snap.bridge.UUID,
		BridgeName:    snap.bridge.Name,
		Answers:       map[string]plan.Answer{},
		Consent:       map[string]error{},
		UnplugAllowed: snap.primed,
		Awaiting:      awaiting,
	}
	creates := w.prep.prepareCreates(ctx, snap, desired)
	var wanted []string
	for k, p := range creates {
		ans := plan.Answer{Out: p.out, Err: p.err}
		if p.err == nil {
			ans.Maintained = p.prov.MaintainedIfaceOptions()
			wanted = append(wanted, p.out.Name)
		}
		in.Answers[k] = ans
	}
	in.Ifaces = planIfaces(snap.ovs, keys, wanted)
	in.Providers = map[string]plan.ProviderState{}
	for _, d := range desired {
		in.Providers[d.PlugType] = w.prep.providerState(d.PlugType)
	}
	for _, it := range in.Ifaces {
		if by := it.PluggedBy(); by != "" {
			in.Providers[by] = w.prep.providerState(by)
		}
	}
	res := plan.Plan(in)
	removes := map[string]*prepared{}
	if len(res.NeedConsent) > 0 {
		removes = w.prep.prepareRemoves(ctx, snap, res.NeedConsent)
		for uuid, p := range removes {
			in.Consent[uuid] = p.err
		}
		res = plan.Plan(in)
	}

	w.rememberWantedNames(creates)
	inputs := func(k string) uint64 {
		d, considered := desired[k]
		return bindingFingerprint(d, considered, awaiting[k])
	}
	now := time.Now()
	actions, held := w.converge.admit(keys, res.Actions, inputs, now)
	failed := w.apply(ctx, snap, actions, creates, removes)
	for _, a := range actions {
		if _, bad := failed[a.LogicalPort]; !bad && ctx.Err() == nil {
			w.converge.wrote(a, inputs(a.LogicalPort), now)
		}
	}
	for _, p := range creates {
		if !p.used && p.err == nil {
			p.prov.CtxDestroy(p.in, p.out)
		}
	}
	w.record(res, failed, held)
}

// selectKeys expands the batch into the logical ports to plan, leaving out
// ports whose last transaction the cache does not show yet. Only a full
// pass or a provider's wake-up reads every binding and interface.
func (w *worker) selectKeys(b batch, snap *snapshot) []string {
	set := map[string]struct{}{}
	for _, k := range b.keys {
		set[k] = struct{}{}
	}
	wantType := map[string]bool{}
	for _, p := range b.providers {
		wantType[p] = true
	}
	all := b.all
	if all || len(wantType) > 0 {
		snap.sb.Each(func(bd plan.Binding) {
			if all || wantType[bd.Options[plan.OptPlugType]] {
				set[bd.LogicalPort] = struct{}{}
			}
		})
		w.e.status.forEach(func(ps *PortStatus) {
			if all || wantType[ps.Provider] {
				set[ps.LogicalPort] = struct{}{}
			}
		})
		snap.ovs.OursIDs(func(id, by string) {
			if all || wantType[by] {
				set[id] = struct{}{}
			}
		})
	}
	keys := make([]string, 0, len(set))
	now := time.Now()
	for k := range set {
		if ok, wait := w.e.pending.ready(k, snap.ovs, now); !ok {
			// The echo of our own write re-queues it; if it never comes,
			// the deadline does.
			if wait > 0 {
				w.e.q.AddAfter(k, wait)
			}
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// planIfaces gathers the interfaces the plan looks at for these keys:
// those carrying their iface-ids, and those holding the names the
// providers asked for (a conflict, or the key's own interface).
func planIfaces(v ovsView, keys, names []string) []plan.Iface {
	var out []plan.Iface
	seen := map[string]bool{}
	for _, k := range keys {
		for _, it := range v.IfacesWithID(k) {
			if !seen[it.UUID] {
				seen[it.UUID] = true
				out = append(out, it)
			}
		}
	}
	for _, n := range names {
		if it, ok := v.Named(n); ok && !seen[it.UUID] {
			seen[it.UUID] = true
			out = append(out, it)
		}
	}
	return out
}

func (w *worker) rememberWantedNames(creates map[string]*prepared) {
	w.e.mu.Lock()
	defer w.e.mu.Unlock()
	for k, p := range creates {
		if p.err == nil && p.out != nil && p.out.Name != "" {
			w.e.wantedNames[p.out.Name] = k
		}
	}
	// Bound the map: drop names of ports that are gone, whenever it has
	// doubled since the last time, so a pass costs O(its keys) on average
	// however many ports are plugged.
	if len(w.e.wantedNames) > max(4096, 2*w.e.wantedNamesKept) {
		for name, k := range w.e.wantedNames {
			if _, ok := creates[k]; !ok && w.e.status.get(k) == nil {
				delete(w.e.wantedNames, name)
			}
		}
		w.e.wantedNamesKept = len(w.e.wantedNames)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
