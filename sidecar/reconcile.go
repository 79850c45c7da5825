package sidecar

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/logs"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

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
	ovs        ovsView
	sb         sbView
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
func (e *Engine) takeSnapshot(sbTC *cache.TableCache, ch *sb.Chassis) *snapshot {
	_, _, bridge := e.id.names()
	s := &snapshot{bridgeName: bridge, ovs: e.ovsIdx.pin(), sb: e.sbIdx.pin(), bindings: map[string]plan.Binding{}}
	s.ovsRow, s.bridge = s.ovs.Root(s.bridgeName)
	if sbTC == nil {
		return s
	}
	s.sbLive = true
	if ch != nil {
		s.chassisUUID, s.chassisName, s.hostname = ch.UUID, ch.Name, ch.Hostname
		s.primed = e.ovs.Synced()
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
func (e *Engine) chassisStill(sbTC *cache.TableCache, s *snapshot) bool {
	ch := e.id.chassisRow(sbTC)
	return ch != nil && ch.UUID == s.chassisUUID
}

// prepared is one provider call's context, kept until Finish/CtxDestroy.
type prepared struct {
	prov *providers.Instance
	in   *providers.PortCtxIn
	out  *providers.PortCtxOut
	err  error
	used bool
}

func (e *Engine) reconcile(ctx context.Context, b batch) {
	ovsTC := e.ovs.Cache()
	if ovsTC == nil {
		return // the OVS resync on connect recomputes everything
	}
	if b.identity {
		e.refreshIdentity()
	}
	sbTC := e.sb.Cache()
	// The indexes are filled by the handlers, after the cache: before a
	// pass reads them, the handlers must have seen every row these caches
	// hold, or a new connection's half-handled dump would look like
	// bindings gone. The worker waited before draining the batch; only a
	// cache that changed since (a reconnect) needs another wait.
	if (ovsTC != b.ovsSeen && !e.ovsBarrier.wait(ovsTC)) || (sbTC != nil && sbTC != b.sbSeen && !e.sbBarrier.wait(sbTC)) {
		return // the connection is going away; its successor's resync recomputes
	}
	var ch *sb.Chassis
	if sbTC != nil {
		// The one side effect of a pass's start, kept out of the view:
		// move the SB monitor onto the chassis row if it changed.
		e.noteChassis(sbTC)
		ch = e.checkChassis(sbTC)
	}
	snap := e.takeSnapshot(sbTC, ch)
	defer snap.release()
	if !snap.sbLive || snap.chassisUUID == "" {
		// Without live bindings and a chassis row nothing plugs or
		// unplugs; the SB resync after (re)connect recomputes everything.
		return
	}
	if snap.bridge == nil {
		if !e.noBridgeLogged {
			klog.InfoS("Integration bridge does not exist yet; nothing is plugged until ovn-controller creates it", "bridge", snap.bridgeName)
			e.noBridgeLogged = true
		}
		return
	}
	e.noBridgeLogged = false

	keys := e.selectKeys(b, snap)
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
	if !e.chassisStill(sbTC, snap) {
		e.q.AddAll() // the chassis changed under us: start over
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
	creates := e.prepareCreates(ctx, snap, desired)
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
		in.Providers[d.PlugType] = e.providerState(d.PlugType)
	}
	for _, it := range in.Ifaces {
		if by := it.PluggedBy(); by != "" {
			in.Providers[by] = e.providerState(by)
		}
	}
	res := plan.Plan(in)
	removes := map[string]*prepared{}
	if len(res.NeedConsent) > 0 {
		removes = e.prepareRemoves(ctx, snap, res.NeedConsent)
		for uuid, p := range removes {
			in.Consent[uuid] = p.err
		}
		res = plan.Plan(in)
	}

	e.rememberWantedNames(creates)
	inputs := func(k string) uint64 {
		d, considered := desired[k]
		return bindingFingerprint(d, considered, awaiting[k])
	}
	now := time.Now()
	actions, held := e.converge.admit(keys, res.Actions, inputs, now)
	failed := e.apply(ctx, snap, actions, creates, removes)
	for _, a := range actions {
		if _, bad := failed[a.LogicalPort]; !bad && ctx.Err() == nil {
			e.converge.wrote(a, inputs(a.LogicalPort), now)
		}
	}
	for _, p := range creates {
		if !p.used && p.err == nil {
			p.prov.CtxDestroy(p.in, p.out)
		}
	}
	e.record(res, failed, held)
}

// selectKeys expands the batch into the logical ports to plan, leaving out
// ports whose last transaction the cache does not show yet. Only a full
// pass or a provider's wake-up reads every binding and interface.
func (e *Engine) selectKeys(b batch, snap *snapshot) []string {
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
		e.status.forEach(func(ps *PortStatus) {
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
		if ok, wait := e.pending.ready(k, snap.ovs, now); !ok {
			// The echo of our own write re-queues it; if it never comes,
			// the deadline does.
			if wait > 0 {
				e.q.AddAfter(k, wait)
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

func (e *Engine) providerState(typ string) plan.ProviderState {
	if _, err := e.reg.Get(typ); err == nil {
		return plan.ProviderEnabled
	}
	if e.reg.InitError(typ) != nil {
		return plan.ProviderFailed
	}
	if _, ok := providers.CompiledFactory(typ); ok {
		return plan.ProviderDisabled
	}
	return plan.ProviderUnknown
}

func (e *Engine) portIn(op providers.Op, snap *snapshot, lport string, opts map[string]string, iface *plan.Iface) *providers.PortCtxIn {
	in := &providers.PortCtxIn{Op: op, LportName: lport, LportOptions: maps.Clone(opts), OpenVSwitch: snap.ovsRow, Bridge: snap.bridge}
	if iface != nil {
		in.IfaceName, in.IfaceType, in.IfaceOptions = iface.Name, iface.Type, maps.Clone(iface.Options)
	}
	return in
}

func (e *Engine) prepareCreates(ctx context.Context, snap *snapshot, desired map[string]plan.Desired) map[string]*prepared {
	calls := map[string]*prepared{}
	for k, d := range desired {
		if d.PlugType == "" {
			continue
		}
		prov, err := e.reg.Get(d.PlugType)
		if err != nil {
			continue // the plan reports unknown or disabled providers
		}
		calls[k] = &prepared{prov: prov, in: e.portIn(providers.OpCreate, snap, k, d.Options, snap.ovs.Ours(k)), out: &providers.PortCtxOut{}}
	}
	e.callPrepare(ctx, calls)
	return calls
}

func (e *Engine) prepareRemoves(ctx context.Context, snap *snapshot, uuids []string) map[string]*prepared {
	calls := map[string]*prepared{}
	for _, uuid := range uuids {
		it, ok := snap.ovs.ByUUID(uuid)
		if !ok {
			continue
		}
		prov, err := e.reg.Get(it.PluggedBy())
		if err != nil {
			continue
		}
		var opts map[string]string
		if bd, ok := snap.binding(it.IfaceID()); ok {
			opts = bd.Options
		}
		calls[uuid] = &prepared{prov: prov, in: e.portIn(providers.OpRemove, snap, it.IfaceID(), opts, &it)}
	}
	e.callPrepare(ctx, calls)
	return calls
}

// prepareParallelism bounds concurrent Prepare calls in one batch.
const prepareParallelism = 16

// callPrepare runs Prepare for each call with a deadline, in parallel, so
// a slow provider delays a batch by at most PrepareTimeout. An answer that
// arrives after its deadline is discarded and its context destroyed.
func (e *Engine) callPrepare(ctx context.Context, calls map[string]*prepared) {
	if len(calls) == 0 {
		return
	}
	sem := make(chan struct{}, prepareParallelism)
	var wg sync.WaitGroup
	for key, c := range calls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.err = e.prepareOne(ctx, key, c)
		}()
	}
	wg.Wait()
}

func (e *Engine) prepareOne(ctx context.Context, key string, c *prepared) error {
	typ := c.prov.Type()
	op := c.in.Op.String()
	pctx, cancel := context.WithTimeout(ctx, e.cfg.PrepareTimeout)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	// The provider writes into its own out, copied to c.out only if it
	// answers in time, so a late answer never races with the engine.
	var out *providers.PortCtxOut
	if c.out != nil {
		out = &providers.PortCtxOut{}
	}
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("provider %q panicked in Prepare: %v", typ, r)
			}
		}()
		done <- c.prov.Prepare(pctx, c.in, out)
	}()
	select {
	case err := <-done:
		e.metrics.prepareDuration.WithLabelValues(typ, op).Observe(time.Since(start).Seconds())
		if out != nil {
			*c.out = *out
		}
		return err
	case <-pctx.Done():
		e.metrics.prepareDuration.WithLabelValues(typ, op).Observe(time.Since(start).Seconds())
		e.metrics.prepareTimeouts.WithLabelValues(typ, op).Inc()
		logs.WarnS("Provider Prepare exceeded its deadline; will retry", "provider", typ, "op", op, "key", plan.Clip(key), "deadline", e.cfg.PrepareTimeout)
		go func() {
			if err := <-done; err == nil && out != nil {
				c.prov.CtxDestroy(c.in, out)
			}
		}()
		return fmt.Errorf("%w after %v", plan.ErrPrepareTimeout, e.cfg.PrepareTimeout)
	}
}

func (e *Engine) rememberWantedNames(creates map[string]*prepared) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, p := range creates {
		if p.err == nil && p.out != nil && p.out.Name != "" {
			e.wantedNames[p.out.Name] = k
		}
	}
	// Bound the map: drop names of ports that are gone, whenever it has
	// doubled since the last time, so a pass costs O(its keys) on average
	// however many ports are plugged.
	if len(e.wantedNames) > max(4096, 2*e.wantedNamesKept) {
		for name, k := range e.wantedNames {
			if _, ok := creates[k]; !ok && e.status.get(k) == nil {
				delete(e.wantedNames, name)
			}
		}
		e.wantedNamesKept = len(e.wantedNames)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
