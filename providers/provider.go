// Package providers defines the VIF plug provider interface, the context
// types passed to providers, and the registry that holds them.
//
// A provider package registers itself from init() with Add, the way
// database/sql drivers do, so a blank import decides what is compiled in:
//
//	import _ "github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/dummy"
//
// At run time the engine builds a Registry from the compiled-in providers
// that are enabled; Registry.Register runs Init and Unregister runs Destroy.
package providers

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
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

// Provider is a VIF plug provider. It mirrors OVN's struct vif_plug_class.
//
// Prepare is called from the engine's worker with a deadline in ctx and must
// not block on anything slow; answers should come from memory. Finish and
// CtxDestroy must not fail.
type Provider interface {
	// Type is the vif-plug-type value this provider serves.
	Type() string
	// Init is called once when the provider is registered at run time.
	Init(env Env) error
	// Destroy is called once when the provider is unregistered.
	Destroy() error
	// Run is a periodic refresh. It returns true when something changed
	// that may change Prepare's answers.
	Run(ctx context.Context) bool
	// MaintainedIfaceOptions lists the Interface option keys the provider
	// owns: they are set or removed to match. Nil means none are declared,
	// and option keys are then only added or changed, never removed.
	MaintainedIfaceOptions() []string
	// Prepare answers for one port. For OpCreate it fills out; for OpRemove
	// out is nil and a nil error means the interface may be removed.
	// Refusals are NotReadyError (retry later) or InvalidError (the request
	// itself is wrong); see NotReady and Invalid.
	Prepare(ctx context.Context, in *PortCtxIn, out *PortCtxOut) error
	// Finish is called after the transaction that applied Prepare's answer
	// committed. out is nil for OpRemove.
	Finish(in *PortCtxIn, out *PortCtxOut)
	// CtxDestroy releases what Prepare(OpCreate) put in out. It is called
	// after Finish, or alone when the answer was not applied.
	CtxDestroy(in *PortCtxIn, out *PortCtxOut)
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
