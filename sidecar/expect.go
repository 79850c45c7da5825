package sidecar

import (
	"maps"
	"sync"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// expectation is one logical port's last write, as the cache must show
// it before the port is planned again: planning earlier would repeat the
// write (and a repeated insert fails on the name index).
type expectation struct {
	// after is the key's interface as the write leaves it (for a plug,
	// its UUID is known once the reply is in); nil when it leaves none.
	after *plan.Iface
	// removed are the Port UUIDs the write deletes.
	removed  []string
	deadline time.Time
	// seen: the handler saw the written interface, so a later difference
	// is someone else's change, not our echo still on its way.
	seen bool
	// deferred: a pass skipped the key while waiting, so some event other
	// than the echo may be behind it and the echo is not dropped.
	deferred bool
}

// expectationTimeout bounds how long a port waits for the cache to show
// our own write before it is planned regardless.
const expectationTimeout = 10 * time.Second

// pendingWrites holds the expectations, shared by the worker, which
// writes, and the OVS event handler, which sees the echoes.
type pendingWrites struct {
	mu    sync.Mutex
	byKey map[string]*expectation
}

func newPendingWrites() *pendingWrites {
	return &pendingWrites{byKey: map[string]*expectation{}}
}

// expect registers action a's write before it is sent. v is read for the
// interface an update changes; if it is gone there is nothing to wait for.
func (p *pendingWrites) expect(a plan.Action, v ovsView, deadline time.Time) {
	x := &expectation{deadline: deadline}
	for _, r := range a.Remove {
		x.removed = append(x.removed, r.PortUUID)
	}
	switch {
	case a.Create != nil:
		c := a.Create
		x.after = &plan.Iface{Name: c.Name, Type: c.Type, Options: c.Options, ExternalIDs: c.ExternalIDs, BridgeUUID: c.BridgeUUID}
		if c.MTURequest > 0 {
			x.after.MTURequest = &c.MTURequest
		}
	case a.Update != nil:
		it, ok := v.ByUUID(a.Update.IfaceUUID)
		if !ok {
			return
		}
		x.after = afterUpdate(it, a.Update)
	}
	p.mu.Lock()
	p.byKey[a.LogicalPort] = x
	p.mu.Unlock()
}

// committed records the reply: created is the plugged interface's UUID.
// The worker, which alone reads an expectation's outcome, is the one
// that waits for the reply, so it never sees one without it.
func (p *pendingWrites) committed(key, created string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	x := p.byKey[key]
	if x == nil {
		return
	}
	if x.after != nil && x.after.UUID == "" {
		if created == "" {
			delete(p.byKey, key) // nothing to recognise it by
			return
		}
		after := *x.after
		after.UUID = created
		x.after = &after
	}
}

// abandon forgets a write that failed: there is no echo to wait for.
func (p *pendingWrites) abandon(key string) {
	p.mu.Lock()
	delete(p.byKey, key)
	p.mu.Unlock()
}

// sawIface is called by the OVS handler with each new or changed
// interface row that carries an iface-id. It reports whether the row is
// as a write of ours still awaited leaves it: our echo.
func (p *pendingWrites) sawIface(row *vswitch.Interface) bool {
	key := row.ExternalIDs[plan.ExtIfaceID]
	p.mu.Lock()
	defer p.mu.Unlock()
	x := p.byKey[key]
	if x == nil || x.after == nil {
		return false
	}
	w := x.after
	if (w.UUID == "" || w.UUID == row.UUID) && asWritten(row.Name, row.Type, row.Options, row.ExternalIDs, row.MTURequest, w) {
		x.seen = true
		return true
	}
	return false
}

// removes reports whether a write of ours still awaited for key deletes
// ports (an unplug or a replug): a deleted interface of key may be ours.
func (p *pendingWrites) removes(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	x := p.byKey[key]
	return x != nil && len(x.removed) > 0
}

// ready reports whether key may be planned: no write of its is pending, or
// the cache shows it, or its deadline passed. A key not ready is marked
// deferred; wait is how long until its deadline.
func (p *pendingWrites) ready(key string, v ovsView, now time.Time) (ok bool, wait time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	x := p.byKey[key]
	if x == nil {
		return true, 0
	}
	if x.seen || (x.after == nil && portsGone(v, x.removed)) || !now.Before(x.deadline) {
		delete(p.byKey, key)
		return true, 0
	}
	first := !x.deferred
	x.deferred = true
	if !first {
		return false, 0
	}
	return false, x.deadline.Sub(now)
}

// echoOnly reports whether key's interfaces are exactly as its last write
// left them, with nothing else behind the key: planning it again could
// only repeat what the last pass decided. The expectation is then done.
func (p *pendingWrites) echoOnly(key string, v ovsView) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	x := p.byKey[key]
	if x == nil || x.deferred || !portsGone(v, x.removed) {
		return false
	}
	ifaces := v.IfacesWithID(key)
	exact := false
	if x.after == nil {
		exact = len(ifaces) == 0
	} else if len(ifaces) == 1 {
		it, w := ifaces[0], x.after
		exact = it.UUID == w.UUID && asWritten(it.Name, it.Type, it.Options, it.ExternalIDs, it.MTURequest, w) && it.Error == "" &&
			it.PortUUID != "" && it.BridgeUUID == w.BridgeUUID
	}
	if exact {
		delete(p.byKey, key)
	}
	return exact
}

func portsGone(v ovsView, ports []string) bool {
	for _, u := range ports {
		if v.PortExists(u) {
			return false
		}
	}
	return true
}

// asWritten compares an interface with how our write left it. Other
// agents' external_ids keys (ovn-controller's ovn-installed, which may
// arrive in the same update) do not count: the plan reads only ours.
func asWritten(name, typ string, options, extIDs map[string]string, mtu *int, w *plan.Iface) bool {
	if name != w.Name || typ != w.Type || !maps.Equal(options, w.Options) || !sameIntPtr(mtu, w.MTURequest) {
		return false
	}
	for k, v := range w.ExternalIDs {
		if got, ok := extIDs[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// afterUpdate is an interface as an update leaves it.
func afterUpdate(it plan.Iface, u *plan.Update) *plan.Iface {
	it.Options, it.ExternalIDs = maps.Clone(it.Options), maps.Clone(it.ExternalIDs)
	if u.Type != nil {
		it.Type = *u.Type
	}
	if it.ExternalIDs == nil {
		it.ExternalIDs = map[string]string{}
	}
	maps.Copy(it.ExternalIDs, u.SetExtIDs)
	if it.Options == nil {
		it.Options = map[string]string{}
	}
	maps.Copy(it.Options, u.SetOptions)
	for _, k := range u.DelOptions {
		delete(it.Options, k)
	}
	if u.SetMTU {
		it.MTURequest = nil
		if u.MTURequest > 0 {
			it.MTURequest = &u.MTURequest
		}
	}
	return &it
}
