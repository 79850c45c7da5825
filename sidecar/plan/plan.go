// Package plan is the sidecar's pure plan function: from the bindings this
// chassis should plug, the interfaces OVS has, the providers' answers and
// the priming gate, it computes the actions to write and every port's
// outcome with a typed cause. It touches no database and no provider, so
// it is tested exhaustively (table, property and fuzz tests) without
// either; the engine in package sidecar feeds it and carries out its
// actions.
package plan

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// Iface is an OVS Interface together with the Port and Bridge holding it.
type Iface struct {
	UUID        string
	Name        string
	Type        string
	Options     map[string]string
	ExternalIDs map[string]string
	MTURequest  *int
	PortUUID    string
	BridgeUUID  string
	BridgeName  string
	// Error is the Interface's error column: why OVS could not open it.
	Error string
}

// IfaceID is external_ids:iface-id.
func (i *Iface) IfaceID() string { return i.ExternalIDs[ExtIfaceID] }

// PluggedBy is external_ids:ovn-plugged, the provider that plugged it.
func (i *Iface) PluggedBy() string { return i.ExternalIDs[ExtOvnPlugged] }

// Ours reports whether the sidecar (or OVN) plugged this interface. Only
// such interfaces are ever modified or removed.
func (i *Iface) Ours() bool { return i.PluggedBy() != "" && i.IfaceID() != "" }

// Answer is a provider's Prepare(OpCreate) result for one logical port.
type Answer struct {
	Out *providers.PortCtxOut
	Err error
	// Maintained is the provider's maintained option set; nil if none.
	Maintained []string
}

// ProviderState says whether a provider type can be used.
type ProviderState int

const (
	ProviderUnknown ProviderState = iota
	ProviderDisabled
	ProviderEnabled
	// ProviderFailed is compiled in and enabled, but its Init failed.
	ProviderFailed
)

// PlanInput is everything the plan depends on. It is plain data so that
// the plan can be tested without any database.
type PlanInput struct {
	// Keys are the logical ports (iface-ids) to plan for.
	Keys []string
	// Desired holds the considered bindings by logical port.
	Desired map[string]Desired
	// Ifaces are all interfaces in the local OVS database.
	Ifaces []Iface
	// BridgeUUID and BridgeName identify the integration bridge.
	BridgeUUID string
	BridgeName string
	// Providers says which provider types exist and are on.
	// Providers says which provider types are compiled in and on; a type
	// not listed is not compiled in (ProviderUnknown).
	Providers map[string]ProviderState
	// Answers are Prepare(OpCreate) results by logical port, for keys whose
	// Desired.PlugType is set.
	Answers map[string]Answer
	// Consent holds Prepare(OpRemove) results by interface UUID: a nil error
	// allows removal. A missing entry has not been asked yet.
	Consent map[string]error
	// UnplugAllowed is the priming gate: both databases synced since the
	// last (re)connect and the chassis known.
	UnplugAllowed bool
	// Awaiting holds logical ports whose binding names this chassis but
	// is not resolved to it yet (see AwaitingResolution): they are held.
	Awaiting map[string]bool
}

// State is a logical port's plug state as operators see it.
type State string

const (
	StatePlugged       State = "plugged"
	StatePending       State = "pending"
	StateConflict      State = "conflict"
	StateError         State = "error"
	StateUnplugBlocked State = "unplug-blocked"
	// StateGone means nothing is plugged and nothing is wanted; the port
	// drops out of the status.
	StateGone State = ""
)

// Op is the kind of change an action makes.
type Op string

const (
	OpPlug   Op = "plug"
	OpUpdate Op = "update"
	OpUnplug Op = "unplug"
	OpReplug Op = "replug"
)

// Create is an Interface and Port to insert into the integration bridge.
type Create struct {
	// BridgeUUID is the integration bridge the port goes into.
	BridgeUUID  string
	Name        string
	Type        string
	Options     map[string]string
	ExternalIDs map[string]string
	MTURequest  int
}

// Update lists the column changes for an existing interface; only keys the
// sidecar owns are named, so others' keys are preserved.
type Update struct {
	IfaceUUID  string
	Type       *string
	SetExtIDs  map[string]string
	SetOptions map[string]string
	DelOptions []string
	SetMTU     bool
	MTURequest int // with SetMTU: 0 clears mtu_request
}

// Empty reports whether the update changes nothing.
func (u *Update) Empty() bool {
	return u.Type == nil && len(u.SetExtIDs) == 0 && len(u.SetOptions) == 0 && len(u.DelOptions) == 0 && !u.SetMTU
}

// Action is what one logical port needs done, as one unit of a transaction.
type Action struct {
	Op          Op
	LogicalPort string
	// Provider is the provider that plugs (for plug, update, replug).
	Provider string
	Create   *Create
	Update   *Update
	// Remove are ovn-plugged interfaces to take out of their bridges.
	Remove []Iface
}

// Cause says why a port is in its state, as a bounded value for metrics
// labels and tests; Reason is the text for operators.
type Cause string

const (
	CauseNone             Cause = ""
	CauseUnplugged        Cause = "unplugged"
	CauseUnplugGated      Cause = "unplug_gated"
	CauseRemoveBlocked    Cause = "remove_blocked"
	CauseAwaitingChassis  Cause = "awaiting_chassis"
	CauseProviderUnknown  Cause = "provider_unknown"
	CauseProviderDisabled Cause = "provider_disabled"
	CauseProviderFailed   Cause = "provider_failed"
	CauseConflictIfaceID  Cause = "conflict_iface_id"
	CauseConflictName     Cause = "conflict_name"
	CauseNoAnswer         Cause = "no_answer"
	CausePrepareTimeout   Cause = "prepare_timeout"
	CauseNotReady         Cause = "not_ready"
	CauseRefused          Cause = "refused"
	CauseBadAnswer        Cause = "bad_answer"
	CauseOVSError         Cause = "ovs_error"
	// Set by the engine after the plan.
	CauseTxnFailed     Cause = "transaction_failed"
	CauseNotConverging Cause = "not_converging"
)

// Outcome is the resulting state of one logical port after the plan.
type Outcome struct {
	LogicalPort string
	Provider    string
	State       State
	Cause       Cause
	Interface   string
	Reason      string
}

// PlanResult is the plan's answer.
type PlanResult struct {
	Actions  []Action
	Outcomes []Outcome
	// NeedConsent lists interface UUIDs whose removal the plan wants but
	// whose provider has not been asked (Prepare OpRemove) yet. Ask, fill
	// PlanInput.Consent and plan again.
	NeedConsent []string
	// Conflicts are the keys in conflict, for rate-limited warnings.
	Conflicts []string
}

// Plan turns desired state, the actual interfaces and the providers'
// answers into actions. It is pure: same input, same output.
func Plan(in PlanInput) PlanResult {
	p := newPlanner(in)
	keys := slices.Clone(in.Keys)
	sort.Strings(keys)
	keys = slices.Compact(keys)
	for _, k := range keys {
		p.considerKey(k)
	}
	return p.res
}

type planner struct {
	in        PlanInput
	res       PlanResult
	byIfaceID map[string][]*Iface
	byName    map[string]*Iface
	// claimed are interface names that earlier keys of this plan create.
	claimed map[string]string
}

func newPlanner(in PlanInput) *planner {
	p := &planner{
		in:        in,
		byIfaceID: map[string][]*Iface{},
		byName:    map[string]*Iface{},
		claimed:   map[string]string{},
	}
	for i := range in.Ifaces {
		iface := &in.Ifaces[i]
		if id := iface.IfaceID(); id != "" {
			p.byIfaceID[id] = append(p.byIfaceID[id], iface)
		}
		p.byName[iface.Name] = iface
	}
	for _, list := range p.byIfaceID {
		sort.Slice(list, func(a, b int) bool { return list[a].UUID < list[b].UUID })
	}
	return p
}

func (p *planner) outcome(k string, cause Cause, provider string, st State, iface, reason string) {
	p.res.Outcomes = append(p.res.Outcomes, Outcome{LogicalPort: k, Provider: provider, State: st, Cause: cause, Interface: iface, Reason: reason})
}

func (p *planner) considerKey(k string) {
	var ours, foreign []*Iface
	for _, i := range p.byIfaceID[k] {
		if i.BridgeUUID == "" {
			continue // not in any bridge: OVSDB is about to collect it
		}
		if i.Ours() {
			ours = append(ours, i)
		} else {
			foreign = append(foreign, i)
		}
	}
	d, considered := p.in.Desired[k]
	if !considered && p.in.Awaiting[k] {
		p.hold(k, ours)
		return
	}
	if !considered || d.PlugType == "" {
		p.considerUnplug(k, ours, considered)
		return
	}
	p.considerPlug(k, d, ours, foreign)
}

// considerUnplug removes our interfaces for a port that is no longer
// requested here, if the priming gate and the providers allow it.
func (p *planner) considerUnplug(k string, ours []*Iface, considered bool) {
	if len(ours) == 0 {
		p.outcome(k, CauseNone, "", StateGone, "", "")
		return
	}
	why := "no Port_Binding requests this chassis"
	if considered {
		why = "vif-plug-type was removed from the Port_Binding"
	}
	if !p.in.UnplugAllowed {
		p.outcome(k, CauseUnplugGated, ours[0].PluggedBy(), StateUnplugBlocked, ours[0].Name, why+"; unplug waits until both databases have synced")
		return
	}
	remove, blocked, reason := p.removable(ours)
	if blocked {
		p.outcome(k, CauseRemoveBlocked, ours[0].PluggedBy(), StateUnplugBlocked, ours[0].Name, reason)
		return
	}
	if remove == nil {
		return // waiting for consent
	}
	p.res.Actions = append(p.res.Actions, Action{Op: OpUnplug, LogicalPort: k, Provider: ours[0].PluggedBy(), Remove: remove})
	p.outcome(k, CauseUnplugged, ours[0].PluggedBy(), StateGone, "", why)
}

// hold leaves a port alone while northd resolves its requested chassis.
func (p *planner) hold(k string, ours []*Iface) {
	const why = "options:requested-chassis names this chassis but ovn-northd has not pointed requested_chassis at its Chassis row yet; waiting"
	if len(ours) == 0 {
		p.outcome(k, CauseAwaitingChassis, "", StatePending, "", why)
		return
	}
	p.outcome(k, CauseAwaitingChassis, ours[0].PluggedBy(), StateUnplugBlocked, ours[0].Name, why)
}

// removable checks every interface's provider consent. It returns the
// interfaces when all may go, blocked with a reason when any may not, and
// (nil, false) when consent still has to be asked.
func (p *planner) removable(ifaces []*Iface) (remove []Iface, blocked bool, reason string) {
	var need []string
	for _, i := range ifaces {
		switch p.in.Providers[i.PluggedBy()] {
		case ProviderUnknown:
			return nil, true, fmt.Sprintf("interface %s was plugged by provider %q, which is not compiled in; leaving it", i.Name, Clip(i.PluggedBy()))
		case ProviderDisabled:
			return nil, true, fmt.Sprintf("interface %s was plugged by provider %q, which is disabled; leaving it", i.Name, i.PluggedBy())
		case ProviderFailed:
			return nil, true, fmt.Sprintf("interface %s was plugged by provider %q, which failed to initialise at start; leaving it", i.Name, i.PluggedBy())
		}
		err, asked := p.in.Consent[i.UUID]
		if !asked {
			need = append(need, i.UUID)
			continue
		}
		if err != nil {
			return nil, true, fmt.Sprintf("provider %q refused to remove interface %s: %v", i.PluggedBy(), i.Name, err)
		}
		remove = append(remove, *i)
	}
	if len(need) > 0 {
		p.res.NeedConsent = append(p.res.NeedConsent, need...)
		return nil, false, ""
	}
	return remove, false, ""
}

func (p *planner) considerPlug(k string, d Desired, ours, foreign []*Iface) {
	typ := d.PlugType
	switch p.in.Providers[typ] {
	case ProviderUnknown:
		p.outcome(k, CauseProviderUnknown, typ, StateError, nameOf(ours), fmt.Sprintf("vif-plug-type %q: no such provider is compiled in", Clip(typ)))
		return
	case ProviderDisabled:
		p.outcome(k, CauseProviderDisabled, typ, StateError, nameOf(ours), fmt.Sprintf("vif-plug-type %q: provider is disabled (--providers)", typ))
		return
	case ProviderFailed:
		p.outcome(k, CauseProviderFailed, typ, StateError, nameOf(ours), fmt.Sprintf("vif-plug-type %q: provider failed to initialise at start (see the start-up log); restart the sidecar once that is fixed", typ))
		return
	}
	if len(foreign) > 0 {
		p.conflict(k, CauseConflictIfaceID, typ, fmt.Sprintf("interface %s (%s) already carries iface-id %s and was not plugged by OVN; leaving it", foreign[0].Name, foreign[0].UUID, Clip(k)))
		return
	}
	ans, ok := p.in.Answers[k]
	if !ok {
		p.outcome(k, CauseNoAnswer, typ, StatePending, nameOf(ours), "provider has not answered yet")
		return
	}
	if ans.Err != nil {
		st, cause := StateError, CauseRefused
		switch {
		case errors.Is(ans.Err, ErrPrepareTimeout):
			st, cause = StatePending, CausePrepareTimeout
		case providers.IsNotReady(ans.Err):
			st, cause = StatePending, CauseNotReady
		}
		p.outcome(k, cause, typ, st, nameOf(ours), ans.Err.Error())
		return
	}
	out := ans.Out
	// An answer OVS would store differently from what was asked would
	// never match again and be replugged on every pass: refuse it here,
	// before anything is written.
	if err := providers.CheckAnswer(out); err != nil {
		p.outcome(k, CauseBadAnswer, typ, StateError, nameOf(ours), fmt.Sprintf("provider %q gave an unusable answer: %v", typ, err))
		return
	}

	// keep is our interface that already is what the provider asks for: the
	// same name on the integration bridge, plugged by this provider (or by
	// a name no binary compiles in, meaning ovn-plugged was tampered with).
	// A disabled provider is real, so its interface goes through its remove.
	var keep *Iface
	var remove []*Iface
	for _, i := range ours {
		sameOwner := i.PluggedBy() == typ || p.in.Providers[i.PluggedBy()] == ProviderUnknown
		if keep == nil && i.Name == out.Name && i.BridgeUUID == p.in.BridgeUUID && sameOwner {
			keep = i
			continue
		}
		remove = append(remove, i)
	}
	if holder, taken := p.byName[out.Name]; taken && holder.IfaceID() != k {
		p.conflict(k, CauseConflictName, typ, fmt.Sprintf("interface name %s is already used by interface %s (iface-id %q, ovn-plugged %q); leaving it", out.Name, holder.UUID, Clip(holder.IfaceID()), Clip(holder.PluggedBy())))
		return
	}
	if other, taken := p.claimed[out.Name]; taken {
		p.conflict(k, CauseConflictName, typ, fmt.Sprintf("interface name %s is also wanted by logical port %s", out.Name, Clip(other)))
		return
	}
	var removed []Iface
	if len(remove) > 0 {
		var blocked bool
		var reason string
		removed, blocked, reason = p.removable(remove)
		if blocked {
			p.outcome(k, CauseRemoveBlocked, typ, StateUnplugBlocked, nameOf(ours), reason)
			return
		}
		if removed == nil {
			return // waiting for consent
		}
	}
	p.claimed[out.Name] = k

	extIDs := map[string]string{ExtIfaceID: k, ExtOvnPlugged: typ}
	if keep == nil {
		op := OpPlug
		if len(removed) > 0 {
			op = OpReplug
		}
		p.res.Actions = append(p.res.Actions, Action{
			Op: op, LogicalPort: k, Provider: typ, Remove: removed,
			Create: &Create{BridgeUUID: p.in.BridgeUUID, Name: out.Name, Type: out.Type, Options: maps.Clone(out.IfaceOptions), ExternalIDs: extIDs, MTURequest: d.MTURequest},
		})
		p.outcome(k, CauseNone, typ, StatePlugged, out.Name, "")
		return
	}
	up := diffIface(keep, out, extIDs, ans.Maintained, d.MTURequest)
	if !up.Empty() || len(removed) > 0 {
		a := Action{Op: OpUpdate, LogicalPort: k, Provider: typ, Remove: removed}
		if !up.Empty() {
			a.Update = up
		}
		p.res.Actions = append(p.res.Actions, a)
	}
	reason, cause := "", CauseNone
	if keep.Error != "" {
		reason, cause = "OVS reports: "+keep.Error, CauseOVSError
	}
	p.outcome(k, cause, typ, StatePlugged, keep.Name, reason)
}

func (p *planner) conflict(k string, cause Cause, typ, reason string) {
	p.res.Conflicts = append(p.res.Conflicts, k)
	p.outcome(k, cause, typ, StateConflict, "", reason)
}

// diffIface computes the changes that make iface match the provider's
// answer, touching only what the sidecar owns.
func diffIface(iface *Iface, out *providers.PortCtxOut, extIDs map[string]string, maintained []string, mtu int) *Update {
	u := &Update{IfaceUUID: iface.UUID}
	if iface.Type != out.Type {
		t := out.Type
		u.Type = &t
	}
	for k, v := range extIDs {
		if cur, ok := iface.ExternalIDs[k]; !ok || cur != v {
			if u.SetExtIDs == nil {
				u.SetExtIDs = map[string]string{}
			}
			u.SetExtIDs[k] = v
		}
	}
	setOpt := func(k, v string) {
		if cur, ok := iface.Options[k]; !ok || cur != v {
			if u.SetOptions == nil {
				u.SetOptions = map[string]string{}
			}
			u.SetOptions[k] = v
		}
	}
	if maintained != nil {
		for _, k := range maintained {
			v, want := out.IfaceOptions[k]
			_, have := iface.Options[k]
			switch {
			case want:
				setOpt(k, v)
			case have:
				u.DelOptions = append(u.DelOptions, k)
			}
		}
		sort.Strings(u.DelOptions)
	} else {
		for k, v := range out.IfaceOptions {
			setOpt(k, v)
		}
	}
	cur := 0
	if iface.MTURequest != nil {
		cur = *iface.MTURequest
	}
	if cur != mtu {
		u.SetMTU = true
		u.MTURequest = mtu
	}
	return u
}

func nameOf(ifaces []*Iface) string {
	if len(ifaces) == 0 {
		return ""
	}
	return ifaces[0].Name
}
