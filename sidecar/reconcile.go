package sidecar

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// snapshot is one consistent-enough read of both caches. Rows are shared
// with the caches and must not be modified.
type snapshot struct {
	ovsRow      *vswitch.OpenvSwitch
	bridge      *vswitch.Bridge
	bridgeName  string
	ifaces      []Iface
	ifaceByUUID map[string]*Iface
	// oursByID is each iface-id's ovn-plugged interface.
	oursByID    map[string]*Iface
	portInUse   map[string]bool
	bindings    map[string]Binding
	chassisUUID string
	chassisName string
	hostname    string
	// sbLive is true when the SB cache is from a synced connection.
	sbLive bool
	primed bool
}

func (e *Engine) takeSnapshot(ovsTC, sbTC *cache.TableCache) *snapshot {
	e.mu.Lock()
	s := &snapshot{bridgeName: e.bridgeName, bindings: map[string]Binding{}}
	e.mu.Unlock()

	for _, m := range ovsTC.Table(vswitch.OpenvSwitchTable).RowsShallow() {
		s.ovsRow = m.(*vswitch.OpenvSwitch)
	}
	bridges := ovsTC.Table(vswitch.BridgeTable).RowsShallow()
	ports := ovsTC.Table(vswitch.PortTable).RowsShallow()
	portBridge := make(map[string]*vswitch.Bridge, len(ports))
	for _, m := range bridges {
		br := m.(*vswitch.Bridge)
		if br.Name == s.bridgeName {
			s.bridge = br
		}
		for _, p := range br.Ports {
			portBridge[p] = br
		}
	}
	ifacePort := make(map[string]string, len(ports))
	for uuid, m := range ports {
		for _, i := range m.(*vswitch.Port).Interfaces {
			ifacePort[i] = uuid
		}
	}
	for uuid, m := range ovsTC.Table(vswitch.InterfaceTable).RowsShallow() {
		row := m.(*vswitch.Interface)
		it := Iface{UUID: uuid, Name: row.Name, Type: row.Type, Options: row.Options, ExternalIDs: row.ExternalIDs, MTURequest: row.MTURequest}
		if row.Error != nil {
			it.Error = *row.Error
		}
		it.PortUUID = ifacePort[uuid]
		if br := portBridge[it.PortUUID]; br != nil {
			it.BridgeUUID, it.BridgeName = br.UUID, br.Name
		}
		s.ifaces = append(s.ifaces, it)
	}
	s.ifaceByUUID = make(map[string]*Iface, len(s.ifaces))
	s.portInUse = make(map[string]bool, len(s.ifaces))
	s.oursByID = map[string]*Iface{}
	for i := range s.ifaces {
		it := &s.ifaces[i]
		s.ifaceByUUID[it.UUID] = it
		s.portInUse[it.PortUUID] = true
		if it.Ours() {
			s.oursByID[it.IfaceID()] = it
		}
	}

	if sbTC != nil {
		s.sbLive = true
		e.noteChassis(sbTC)
		ch, known := e.checkChassis(sbTC)
		if known {
			s.chassisUUID, s.chassisName, s.hostname = ch.UUID, ch.Name, ch.Hostname
			for _, m := range sbTC.Table(sb.PortBindingTable).RowsShallow() {
				pb := m.(*sb.PortBinding)
				b := Binding{LogicalPort: pb.LogicalPort, Type: pb.Type, Options: pb.Options}
				if pb.ParentPort != nil {
					b.ParentPort = *pb.ParentPort
				}
				if pb.RequestedChassis != nil {
					b.RequestedChassis = *pb.RequestedChassis
				}
				s.bindings[b.LogicalPort] = b
			}
		}
		// Read the chassis again: a cache update that removed it (and, in
		// the same transaction, cleared requested_chassis on the bindings)
		// may have landed between the two reads above.
		if again, still := e.checkChassis(sbTC); !still || again.UUID != s.chassisUUID {
			s.chassisUUID, known = "", false
		}
		s.primed = known && e.ovs.Synced()
	}
	return s
}

// prepared is one provider call's context, kept until Finish/CtxDestroy.
type prepared struct {
	prov providers.Provider
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
	if slices.Contains(b.providers, identityChanged) {
		e.refreshIdentity()
	}
	snap := e.takeSnapshot(ovsTC, e.sb.Cache())
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
	desired := map[string]Desired{}
	awaiting := map[string]bool{}
	for _, k := range keys {
		if bd, ok := snap.bindings[k]; ok {
			if d, ok := ConsiderBinding(bd, snap.chassisUUID); ok {
				desired[k] = d
			} else if AwaitingResolution(bd, snap.chassisUUID, snap.chassisName, snap.hostname) {
				awaiting[k] = true
			}
		}
	}
	in := PlanInput{
		Keys:          keys,
		Desired:       desired,
		Ifaces:        snap.ifaces,
		BridgeUUID:    snap.bridge.UUID,
		BridgeName:    snap.bridge.Name,
		Providers:     e.providerState,
		Answers:       map[string]Answer{},
		Consent:       map[string]error{},
		UnplugAllowed: snap.primed,
		Awaiting:      awaiting,
	}
	creates := e.prepareCreates(ctx, snap, desired)
	for k, p := range creates {
		ans := Answer{Out: p.out, Err: p.err}
		if p.err == nil {
			ans.Maintained = p.prov.MaintainedIfaceOptions()
		}
		in.Answers[k] = ans
	}
	res := Plan(in)
	removes := map[string]*prepared{}
	if len(res.NeedConsent) > 0 {
		removes = e.prepareRemoves(ctx, snap, res.NeedConsent)
		for uuid, p := range removes {
			in.Consent[uuid] = p.err
		}
		res = Plan(in)
	}

	e.rememberWantedNames(creates)
	inputs := func(k string) uint64 {
		d, considered := desired[k]
		return bindingFingerprint(d, considered, awaiting[k])
	}
	actions, held := e.converge.admit(keys, res.Actions, inputs, time.Now())
	failed := e.apply(ctx, snap, actions, creates, removes)
	for _, a := range actions {
		if _, bad := failed[a.LogicalPort]; !bad && ctx.Err() == nil {
			e.converge.wrote(a, inputs(a.LogicalPort))
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
// ports whose last transaction the cache does not show yet.
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
		for k, bd := range snap.bindings {
			if all || wantType[bd.Options[OptPlugType]] {
				set[k] = struct{}{}
			}
		}
		e.status.forEach(func(ps *PortStatus) {
			if all || wantType[ps.Provider] {
				set[ps.LogicalPort] = struct{}{}
			}
		})
	}
	for i := range snap.ifaces {
		it := &snap.ifaces[i]
		if !it.Ours() {
			continue
		}
		if all || wantType[it.PluggedBy()] || (wantType[bridgePortsChanged] && it.BridgeUUID != snap.bridge.UUID) {
			set[it.IfaceID()] = struct{}{}
		}
	}
	keys := make([]string, 0, len(set))
	now := time.Now()
	for k := range set {
		if ex := e.expect[k]; ex != nil {
			if !ex.satisfied(snap) && now.Before(ex.deadline) {
				continue // the cache event for our own write re-queues it
			}
			delete(e.expect, k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (e *Engine) providerState(typ string) ProviderState {
	if _, err := e.reg.Get(typ); err == nil {
		return ProviderEnabled
	}
	if e.reg.InitError(typ) != nil {
		return ProviderFailed
	}
	if _, ok := providers.CompiledProvider(typ); ok {
		return ProviderDisabled
	}
	return ProviderUnknown
}

func (e *Engine) portIn(op providers.Op, snap *snapshot, lport string, opts map[string]string, iface *Iface) *providers.PortCtxIn {
	in := &providers.PortCtxIn{Op: op, LportName: lport, LportOptions: maps.Clone(opts), OpenVSwitch: snap.ovsRow, Bridge: snap.bridge}
	if iface != nil {
		in.IfaceName, in.IfaceType, in.IfaceOptions = iface.Name, iface.Type, maps.Clone(iface.Options)
	}
	return in
}

func (e *Engine) prepareCreates(ctx context.Context, snap *snapshot, desired map[string]Desired) map[string]*prepared {
	calls := map[string]*prepared{}
	for k, d := range desired {
		if d.PlugType == "" {
			continue
		}
		prov, err := e.reg.Get(d.PlugType)
		if err != nil {
			continue // the plan reports unknown or disabled providers
		}
		calls[k] = &prepared{prov: prov, in: e.portIn(providers.OpCreate, snap, k, d.Options, snap.oursByID[k]), out: &providers.PortCtxOut{}}
	}
	e.callPrepare(ctx, calls)
	return calls
}

func (e *Engine) prepareRemoves(ctx context.Context, snap *snapshot, uuids []string) map[string]*prepared {
	calls := map[string]*prepared{}
	for _, uuid := range uuids {
		it := snap.ifaceByUUID[uuid]
		if it == nil {
			continue
		}
		prov, err := e.reg.Get(it.PluggedBy())
		if err != nil {
			continue
		}
		var opts map[string]string
		if bd, ok := snap.bindings[it.IfaceID()]; ok {
			opts = bd.Options
		}
		calls[uuid] = &prepared{prov: prov, in: e.portIn(providers.OpRemove, snap, it.IfaceID(), opts, it)}
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
		warnS("Provider Prepare exceeded its deadline; will retry", "provider", typ, "op", op, "key", clip(key), "deadline", e.cfg.PrepareTimeout)
		go func() {
			if err := <-done; err == nil && out != nil {
				c.prov.CtxDestroy(c.in, out)
			}
		}()
		return fmt.Errorf("%w after %v", errPrepareTimeout, e.cfg.PrepareTimeout)
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
	// Bound the map: drop names of ports that are gone.
	if len(e.wantedNames) > 4*len(creates)+4096 {
		for name, k := range e.wantedNames {
			if _, ok := creates[k]; !ok && e.status.get(k) == nil {
				delete(e.wantedNames, name)
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
