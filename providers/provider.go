// Package providers defines the VIF plug provider interface (API v2), the
// context types passed to providers, per-provider configuration, and the
// registry of live providers.
//
// A provider package registers a Factory from init(), the way
// node_exporter's collectors do, so a blank import decides what is
// compiled in:
//
//	import _ "github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
//
// The binary builds each enabled provider from its factory and its own
// configuration (--provider.<type>.<key>=value or a config file), then
// Registry.Register runs Init; Registry.Unregister runs Destroy.
//
// # What a provider implements
//
// Provider is required: Type, MaintainedIfaceOptions and Prepare. The rest
// mirror the members of OVN's struct vif_plug_class that may be NULL, and
// are optional interfaces a provider implements only when it needs them:
// Initializer, Destroyer, Runner, Finisher, CtxDestroyer and
// HealthReporter. The engine calls them through Instance (or the
// package-level helpers Finish, CtxDestroy and RunOnce), which skip what a
// provider does not implement.
//
// # Call order (OVN's)
//
//   - create or update: Prepare(OpCreate, out); after the transaction
//     commits, Finish(in, out) then CtxDestroy(in, out). When the answer is
//     not applied (refused, timed out, the transaction failed, a conflict),
//     only CtxDestroy. CtxDestroy is called exactly once for every
//     Prepare(OpCreate) that returned nil, and never for a refusal.
//   - remove: Prepare(OpRemove, nil out); after the commit, Finish(in, nil).
//     Never CtxDestroy.
//
// # Concurrency contract
//
//   - Prepare runs concurrently for different ports (up to 16 at a time),
//     each call on its own goroutine with a deadline in ctx. The engine
//     holds no lock while calling it; a provider guards its own state.
//     Two calls for the same port overlap only when the first overran its
//     deadline (its answer is then discarded).
//   - Finish and CtxDestroy may run concurrently with Prepare for other
//     ports and with Run.
//   - Run is called on a goroutine of its own per provider, at most one
//     call at a time, with a deadline; a Run that ignores its context
//     delays only its own provider's next Run, never the engine or other
//     providers.
//   - Init happens before every other call; Destroy after every call that
//     returned. Calls that overran their deadline by more than
//     DestroyGrace are not waited for, but a Prepare that answers after
//     Destroy never reaches CtxDestroy or Finish: Instance drops them.
//   - Env.Changed may be called from any goroutine, at any time between
//     Init and the end of Destroy, and never blocks.
package providers

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
)

// Op says whether a port is being created (or updated) or removed. It
// mirrors OVN's PLUG_OP_CREATE and PLUG_OP_REMOVE.
type Op int

const (
	OpCreate Op = iota
	OpRemove
)

func (o Op) String() string {
	switch o {
	case OpCreate:
		return "create"
	case OpRemove:
		return "remove"
	}
	return fmt.Sprintf("op(%d)", int(o))
}

// PortCtxIn is what the engine tells a provider about one logical port.
// Providers must treat it as read-only; the maps are the engine's copies.
type PortCtxIn struct {
	Op Op
	// LportName is the Port_Binding logical_port (the iface-id).
	LportName string
	// LportOptions are all Port_Binding options, verbatim.
	LportOptions map[string]string

	// The interface currently plugged for this port, when there is one.
	IfaceName    string
	IfaceType    string
	IfaceOptions map[string]string

	// The local Open_vSwitch row and the integration bridge row.
	OpenVSwitch *vswitch.OpenvSwitch
	Bridge      *vswitch.Bridge
}

// PortCtxOut is what a provider answers for OpCreate: the Interface it
// wants. It is nil for OpRemove.
type PortCtxOut struct {
	Name         string
	Type         string
	IfaceOptions map[string]string
}

// Provider is what every VIF plug provider implements. See the package
// documentation for the call order and the concurrency contract.
type Provider interface {
	// Type is the vif-plug-type value this provider serves.
	Type() string
	// MaintainedIfaceOptions lists the Interface option keys the provider
	// owns: they are set or removed to match its answers. Nil means none
	// are declared, and option keys are then only added or changed, never
	// removed. A provider that sets options should declare them all.
	MaintainedIfaceOptions() []string
	// Prepare answers for one port, from memory: it must return by ctx's
	// deadline. For OpCreate it fills out; for OpRemove out is nil, and
	// the answer must be nil (removal is always allowed) unless the
	// provider has a reason to keep the interface. Refusals are
	// NotReadyError (retry later) or InvalidError (the request itself is
	// wrong), each with a reason; see NotReady and Invalid.
	Prepare(ctx context.Context, in *PortCtxIn, out *PortCtxOut) error
}

// Initializer is implemented by providers that set something up before the
// first Prepare: read hardware, start a watcher, keep env.Changed. An
// error leaves the provider unregistered; its ports report it.
type Initializer interface {
	Init(env Env) error
}

// Destroyer is implemented by providers that hold something to release:
// goroutines, subscriptions, file descriptors. Plugged ports stay.
type Destroyer interface {
	Destroy() error
}

// Runner is implemented by providers that poll: Run returns true when
// something changed that may change Prepare's answers. Providers that
// learn of changes by events call Env.Changed instead and need no Run.
type Runner interface {
	Run(ctx context.Context) bool
}

// Finisher is implemented by providers that act once their answer is in
// OVS. out is nil for OpRemove. Finish must not fail or block.
type Finisher interface {
	Finish(in *PortCtxIn, out *PortCtxOut)
}

// CtxDestroyer is implemented by providers that allocate something per
// Prepare(OpCreate) answer, to release it. It must not fail or block.
type CtxDestroyer interface {
	CtxDestroy(in *PortCtxIn, out *PortCtxOut)
}

// HealthReporter is implemented by providers that can tell, after a
// successful Init, that they cannot currently do their job (a watcher
// that died, a daemon that went away). It feeds the provider's up metric
// and must answer from memory.
type HealthReporter interface {
	Health() error
}

// Env is what the engine gives a provider at Init.
type Env struct {
	// Changed asks the engine to reconsider every port of this provider,
	// for example because hardware appeared. It only enqueues work and is
	// safe to call from any goroutine.
	Changed func()
	// SysfsRoot is where sysfs is mounted, normally "/sys".
	SysfsRoot string
	// Logger is the provider's logger.
	Logger klog.Logger
}

// Finish calls p's Finish if it has one.
func Finish(p Provider, in *PortCtxIn, out *PortCtxOut) {
	if f, ok := p.(Finisher); ok {
		f.Finish(in, out)
	}
}

// CtxDestroy calls p's CtxDestroy if it has one.
func CtxDestroy(p Provider, in *PortCtxIn, out *PortCtxOut) {
	if d, ok := p.(CtxDestroyer); ok {
		d.CtxDestroy(in, out)
	}
}

// RunOnce calls p's Run if it has one; without one nothing changes.
func RunOnce(ctx context.Context, p Provider) bool {
	if r, ok := p.(Runner); ok {
		return r.Run(ctx)
	}
	return false
}

// Init calls p's Init if it has one.
func Init(p Provider, env Env) error {
	if i, ok := p.(Initializer); ok {
		return i.Init(env)
	}
	return nil
}

// Destroy calls p's Destroy if it has one.
func Destroy(p Provider) error {
	if d, ok := p.(Destroyer); ok {
		return d.Destroy()
	}
	return nil
}

// Health returns p's Health if it reports one.
func Health(p Provider) error {
	if h, ok := p.(HealthReporter); ok {
		return h.Health()
	}
	return nil
}

// NotReadyError is a refusal that may go away by itself: hardware is
// missing or still settling. The engine retries on a hardware change, a
// binding change, or with backoff, and reports the port as pending.
type NotReadyError struct{ Reason string }

func (e *NotReadyError) Error() string { return "not ready: " + e.Reason }

// InvalidError is a refusal because the request itself is wrong, for
// example a malformed option. The engine reports the port as error and
// retries only on a binding change or slowly.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string { return "invalid request: " + e.Reason }

// NotReady returns a *NotReadyError with a formatted reason.
func NotReady(format string, args ...any) error {
	return &NotReadyError{Reason: fmt.Sprintf(format, args...)}
}

// Invalid returns an *InvalidError with a formatted reason.
func Invalid(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}

// IsNotReady reports whether err is, or wraps, a NotReadyError.
func IsNotReady(err error) bool {
	var e *NotReadyError
	return errors.As(err, &e)
}

// IsInvalid reports whether err is, or wraps, an InvalidError.
func IsInvalid(err error) bool {
	var e *InvalidError
	return errors.As(err, &e)
}

// Reason returns a typed refusal's reason, or "" when err is not one.
func Reason(err error) string {
	var nr *NotReadyError
	if errors.As(err, &nr) {
		return nr.Reason
	}
	var inv *InvalidError
	if errors.As(err, &inv) {
		return inv.Reason
	}
	return ""
}
