package providers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/klog/v2"
)

// DestroyGrace is how long Destroy waits for calls still inside the
// provider (a Prepare or Run that ignores its deadline) before it destroys
// the provider anyway, so that one stuck call cannot stall shutdown.
var DestroyGrace = 5 * time.Second

// Instance is a live provider in a Registry: the engine calls it, and it
// calls the provider's optional methods only when they exist. It keeps
// the lifecycle contract: nothing reaches the provider after Destroy, so
// a Prepare that answers late never gets its CtxDestroy or Finish after
// the provider was destroyed, and a panic in a provider method is logged
// and contained rather than taking the daemon down.
type Instance struct {
	typ      string
	p        Provider
	panicked func(Panic) // nil: only logged

	mu        sync.Mutex
	destroyed bool
	inflight  int
	idle      chan struct{} // closed when inflight reaches 0 after destroyed
}

func newInstance(p Provider, panicked func(Panic)) *Instance {
	return &Instance{typ: p.Type(), p: p, panicked: panicked}
}

// Panic is a panic in a provider method that Instance (or Register, for
// Init) contained: logged with the provider, the method and, for a
// port's call, the port and the op.
type Panic struct {
	Type   string
	Method string
	// Port and Op are the call's, or "" for a call not about a port.
	Port  string
	Op    string
	Value any
}

func (p Panic) String() string {
	if p.Port == "" && p.Op == "" {
		return fmt.Sprintf("provider %q panicked in %s: %v", p.Type, p.Method, p.Value)
	}
	return fmt.Sprintf("provider %q panicked in %s(%s, %q): %v", p.Type, p.Method, p.Op, p.Port, p.Value)
}

// contain logs and reports a recovered panic value r and returns it as an
// error.
func contain(typ, method string, in *PortCtxIn, r any, report func(Panic)) error {
	pe := Panic{Type: typ, Method: method, Value: r}
	if in != nil {
		pe.Port, pe.Op = in.LportName, in.Op.String()
	}
	klog.ErrorS(fmt.Errorf("%v", r), "Provider panicked", "provider", typ, "method", method, "lport", pe.Port, "op", pe.Op)
	if report != nil {
		report(pe)
	}
	return errors.New(pe.String())
}

// Type is the provider's type.
func (i *Instance) Type() string { return i.typ }

// Provider returns the provider itself, for type assertions on optional
// extras (such as the representor's hardware index).
func (i *Instance) Provider() Provider { return i.p }

// enter admits a call unless the instance is destroyed.
func (i *Instance) enter() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.destroyed {
		return false
	}
	i.inflight++
	return true
}

func (i *Instance) leave() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.inflight--
	if i.inflight == 0 && i.idle != nil {
		close(i.idle)
		i.idle = nil
	}
}

// recovered contains a panic of the calling method, when there is one.
func (i *Instance) recovered(method string, in *PortCtxIn, err *error) {
	if r := recover(); r != nil {
		e := contain(i.typ, method, in, r, i.panicked)
		if err != nil {
			*err = e
		}
	}
}

// Prepare calls the provider's Prepare. After Destroy it refuses (not
// ready) without calling it; a panic becomes an error.
func (i *Instance) Prepare(ctx context.Context, in *PortCtxIn, out *PortCtxOut) (err error) {
	if !i.enter() {
		return NotReady("provider %s is shut down", i.typ)
	}
	defer i.leave()
	defer i.recovered("Prepare", in, &err)
	return i.p.Prepare(ctx, in, out)
}

// MaintainedIfaceOptions returns the provider's maintained option keys.
func (i *Instance) MaintainedIfaceOptions() []string { return i.p.MaintainedIfaceOptions() }

// Finish calls the provider's Finish, if any, unless it is destroyed.
func (i *Instance) Finish(in *PortCtxIn, out *PortCtxOut) {
	if !i.enter() {
		return
	}
	defer i.leave()
	defer i.recovered("Finish", in, nil)
	Finish(i.p, in, out)
}

// CtxDestroy calls the provider's CtxDestroy, if any, unless it is
// destroyed.
func (i *Instance) CtxDestroy(in *PortCtxIn, out *PortCtxOut) {
	if !i.enter() {
		return
	}
	defer i.leave()
	defer i.recovered("CtxDestroy", in, nil)
	CtxDestroy(i.p, in, out)
}

// HasRun reports whether the provider polls (implements Runner).
func (i *Instance) HasRun() bool {
	_, ok := i.p.(Runner)
	return ok
}

// Run calls the provider's Run, if any, unless it is destroyed.
func (i *Instance) Run(ctx context.Context) (changed bool) {
	if !i.enter() {
		return false
	}
	defer i.leave()
	defer i.recovered("Run", nil, nil)
	return RunOnce(ctx, i.p)
}

// RunLoop calls Run every interval, each call with its own deadline, on a
// goroutine of its own, and calls changed when Run reports a change. A
// call still running at the next tick makes the loop skip that tick, so
// a Run that ignores its deadline delays only itself. RunLoop returns when
// ctx is done without waiting for a stuck call. Without a Run it returns
// at once.
func (i *Instance) RunLoop(ctx context.Context, interval, timeout time.Duration, changed func()) {
	if !i.HasRun() {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var running chan bool // non-nil while a call is in flight
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if running != nil {
				continue
			}
			running = make(chan bool, 1)
			go func(done chan<- bool) {
				rctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				done <- i.Run(rctx)
			}(running)
		case c := <-running:
			running = nil
			if c {
				changed()
			}
		}
	}
}

// Health is the provider's health error, or nil; after Destroy it says so.
func (i *Instance) Health() (err error) {
	if !i.enter() {
		return fmt.Errorf("provider %s is shut down", i.typ)
	}
	defer i.leave()
	defer i.recovered("Health", nil, &err)
	return Health(i.p)
}

// Destroy stops new calls, waits up to DestroyGrace for the calls in
// flight, then runs the provider's Destroy. Later calls are dropped (and
// Prepare refuses). Only the first Destroy does anything; a panic in it
// is its error.
func (i *Instance) Destroy() (err error) {
	i.mu.Lock()
	if i.destroyed {
		i.mu.Unlock()
		return nil
	}
	i.destroyed = true
	var wait chan struct{}
	if i.inflight > 0 {
		i.idle = make(chan struct{})
		wait = i.idle
	}
	i.mu.Unlock()
	if wait != nil {
		t := time.NewTimer(DestroyGrace)
		select {
		case <-wait:
		case <-t.C:
			klog.InfoS("Destroying provider with calls still running past their deadline", "provider", i.typ, "grace", DestroyGrace)
		}
		t.Stop()
	}
	defer i.recovered("Destroy", nil, &err)
	return Destroy(i.p)
}
