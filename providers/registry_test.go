package providers_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// minimal implements only the required methods.
type minimal struct{ typ string }

func (m *minimal) Type() string                     { return m.typ }
func (m *minimal) MaintainedIfaceOptions() []string { return nil }
func (m *minimal) Prepare(_ context.Context, in *providers.PortCtxIn, out *providers.PortCtxOut) error {
	if out != nil {
		out.Name = in.LportName
	}
	return nil
}

// countingProvider implements every optional method and records calls.
type countingProvider struct {
	minimal
	inits, destroys      int
	finishes, ctxDestroy atomic.Int32
	initErr, health      error
	env                  providers.Env
}

func (c *countingProvider) Init(env providers.Env) error {
	c.inits++
	c.env = env
	return c.initErr
}
func (c *countingProvider) Destroy() error                                     { c.destroys++; return nil }
func (c *countingProvider) Run(context.Context) bool                           { return false }
func (c *countingProvider) Finish(*providers.PortCtxIn, *providers.PortCtxOut) { c.finishes.Add(1) }
func (c *countingProvider) Health() error                                      { return c.health }
func (c *countingProvider) CtxDestroy(*providers.PortCtxIn, *providers.PortCtxOut) {
	c.ctxDestroy.Add(1)
}

func counting(typ string) *countingProvider { return &countingProvider{minimal: minimal{typ: typ}} }

func TestRegistryLifecycle(t *testing.T) {
	reg := providers.NewRegistry(func(typ string) providers.Env { return providers.Env{SysfsRoot: "/x/" + typ} })
	if err := reg.Unregister("dummy"); !errors.Is(err, providers.ErrUnknown) {
		t.Fatalf("Unregister of unknown: got %v, want ErrUnknown", err)
	}
	p := counting("test")
	if err := reg.Register(p); err != nil {
		t.Fatal(err)
	}
	if p.inits != 1 || p.env.SysfsRoot != "/x/test" || p.env.Changed == nil {
		t.Fatalf("Init not called with the env (and a non-nil Changed): inits=%d env=%+v", p.inits, p.env)
	}
	if err := reg.Register(p); !errors.Is(err, providers.ErrExists) {
		t.Fatalf("duplicate Register: got %v, want ErrExists", err)
	}
	if p.inits != 1 {
		t.Fatalf("duplicate Register ran Init again")
	}
	got, err := reg.Get("test")
	if err != nil || got.Provider() != p || got.Type() != "test" {
		t.Fatalf("Get: %v %v", got, err)
	}
	if en := reg.Enabled(); len(en) != 1 || en[0] != got {
		t.Fatalf("Enabled = %v", en)
	}
	if err := reg.Unregister("test"); err != nil {
		t.Fatal(err)
	}
	if p.destroys != 1 {
		t.Fatalf("Destroy calls = %d, want 1", p.destroys)
	}
	if _, err := reg.Get("test"); !errors.Is(err, providers.ErrUnknown) {
		t.Fatalf("Get after Unregister: got %v", err)
	}
}

// A provider with only the required methods registers, answers, and
// survives every engine call.
func TestOptionalMethodsMayBeMissing(t *testing.T) {
	reg := providers.NewRegistry(nil)
	if err := reg.Register(&minimal{typ: "min"}); err != nil {
		t.Fatal(err)
	}
	in, _ := reg.Get("min")
	out := &providers.PortCtxOut{}
	pin := &providers.PortCtxIn{LportName: "lp"}
	if err := in.Prepare(context.Background(), pin, out); err != nil || out.Name != "lp" {
		t.Fatalf("Prepare: %v %+v", err, out)
	}
	in.Finish(pin, out)
	in.CtxDestroy(pin, out)
	if in.HasRun() || in.Run(context.Background()) || in.Health() != nil {
		t.Fatal("a provider without Run or Health must not poll or report trouble")
	}
	if err := reg.DestroyAll(); err != nil {
		t.Fatal(err)
	}
}

func TestRegistryInitFailureLeavesNothing(t *testing.T) {
	reg := providers.NewRegistry(nil)
	p := counting("broken")
	p.initErr = errors.New("no hardware")
	if err := reg.Register(p); err == nil {
		t.Fatal("Register succeeded although Init failed")
	}
	if _, err := reg.Get("broken"); !errors.Is(err, providers.ErrUnknown) {
		t.Fatalf("a provider whose Init failed is registered: %v", err)
	}
	if err := reg.InitError("broken"); err == nil || err.Error() != "no hardware" {
		t.Fatalf("InitError = %v, want the Init error", err)
	}
	if all := reg.Status(nil); len(all) != 1 || all[0].Type != "broken" || all[0].Up {
		t.Fatalf("Status(nil) = %+v, want the failed provider", all)
	}
	st := reg.Status([]string{"broken", "never"})
	if st[0].Up || st[0].Err.Error() != "no hardware" || st[1].Up || st[1].Err == nil {
		t.Fatalf("Status = %+v", st)
	}
	p.initErr = nil
	if err := reg.Register(p); err != nil || reg.InitError("broken") != nil {
		t.Fatalf("a later successful Register must clear the failure: %v / %v", err, reg.InitError("broken"))
	}
	if st := reg.Status([]string{"broken"}); !st[0].Up {
		t.Fatalf("Status after recovery = %+v", st)
	}
	p.health = errors.New("watcher died")
	if st := reg.Status([]string{"broken"}); st[0].Up || st[0].Err != p.health {
		t.Fatalf("Status with a health error = %+v", st)
	}
}

func TestDestroyAll(t *testing.T) {
	reg := providers.NewRegistry(nil)
	a, b := counting("a"), counting("b")
	for _, p := range []*countingProvider{a, b} {
		if err := reg.Register(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := reg.DestroyAll(); err != nil {
		t.Fatal(err)
	}
	if a.destroys != 1 || b.destroys != 1 || len(reg.Types()) != 0 {
		t.Fatalf("DestroyAll: a=%d b=%d left=%v", a.destroys, b.destroys, reg.Types())
	}
}

func TestTypedErrors(t *testing.T) {
	nr := providers.NotReady("VF %d missing", 3)
	inv := providers.Invalid("bad mac %q", "zz")
	if !providers.IsNotReady(nr) || providers.IsInvalid(nr) {
		t.Fatalf("NotReady misclassified: %v", nr)
	}
	if !providers.IsInvalid(inv) || providers.IsNotReady(inv) {
		t.Fatalf("Invalid misclassified: %v", inv)
	}
	wrapped := errors.Join(errors.New("ctx"), nr)
	if !providers.IsNotReady(wrapped) || providers.Reason(wrapped) != "VF 3 missing" {
		t.Fatal("wrapped NotReady not recognised")
	}
	if nr.Error() != "not ready: VF 3 missing" || inv.Error() != `invalid request: bad mac "zz"` {
		t.Fatalf("messages: %q %q", nr, inv)
	}
	if providers.Reason(errors.New("plain")) != "" {
		t.Fatal("an untyped error has no reason")
	}
}

// uniqueType gives each run its own type name: Add is process-global, and
// go test -count=N runs a test N times in one process.
func uniqueType(t *testing.T) string {
	runs++
	return strings.ToLower(fmt.Sprintf("%s-%d", t.Name(), runs))
}

var runs int

func factory(typ string, opts ...providers.Option) providers.Factory {
	return providers.Factory{Type: typ, Options: opts, New: func(providers.Config) (providers.Provider, error) { return counting(typ), nil }}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

func TestAddPanicsOnMistakes(t *testing.T) {
	typ := uniqueType(t)
	providers.Add(factory(typ))
	mustPanic(t, "second Add of the same type", func() { providers.Add(factory(typ)) })
	mustPanic(t, "Add without New", func() { providers.Add(providers.Factory{Type: uniqueType(t)}) })
	mustPanic(t, "Add with a dotted type", func() { providers.Add(factory("a.b")) })
	mustPanic(t, "Add with a malformed key", func() { providers.Add(factory(uniqueType(t), providers.Option{Key: "Bad_Key"})) })
	mustPanic(t, "Add with a repeated key", func() {
		providers.Add(factory(uniqueType(t), providers.Option{Key: "a"}, providers.Option{Key: "a"}))
	})
	if f, ok := providers.CompiledFactory(typ); !ok || f.Type != typ {
		t.Fatalf("CompiledFactory(%q) = %v, %v", typ, f, ok)
	}
}

func TestSelect(t *testing.T) {
	typ := uniqueType(t)
	providers.Add(factory(typ))
	all, err := providers.Select("all")
	if err != nil || len(all) == 0 {
		t.Fatalf("Select(all) = %v, %v", all, err)
	}
	got, err := providers.Select(" " + typ + " , " + typ)
	if err != nil || len(got) != 1 || got[0] != typ {
		t.Fatalf("Select = %v, %v", got, err)
	}
	if _, err := providers.Select(typ + ",nope"); err == nil {
		t.Fatal("Select accepted a provider that is not compiled in")
	}
}

func TestConfig(t *testing.T) {
	f := providers.Factory{Type: "vx", Options: []providers.Option{
		{Key: "watch", Default: "true"}, {Key: "every", Default: "5m"}, {Key: "queues", Default: "1"}, {Key: "dir", Default: "/run"},
	}, New: func(cfg providers.Config) (providers.Provider, error) {
		if _, err := cfg.Bool("watch"); err != nil {
			return nil, err
		}
		if _, err := cfg.Duration("every"); err != nil {
			return nil, err
		}
		if _, err := cfg.Int("queues", 1, 8); err != nil {
			return nil, err
		}
		return &minimal{typ: "vx"}, nil
	}}
	cfg, err := providers.NewConfig(f, map[string]string{"dir": "/var/run"})
	if err != nil || cfg.String("dir") != "/var/run" || !cfg.IsSet("dir") || cfg.IsSet("watch") || cfg.String("watch") != "true" {
		t.Fatalf("NewConfig: %v %+v", err, cfg)
	}
	if _, err := f.Build(nil); err != nil {
		t.Fatalf("the defaults must build: %v", err)
	}
	for _, tc := range []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"bogus": "1"}, `provider.vx.bogus: unknown key; known keys: watch, every, queues, dir`},
		{map[string]string{"watch": "maybe"}, `provider.vx.watch="maybe": want true or false`},
		{map[string]string{"every": "-1s"}, `provider.vx.every="-1s": want a duration`},
		{map[string]string{"queues": "9"}, `provider.vx.queues="9": want an integer from 1 to 8`},
	} {
		_, err := f.Build(tc.set)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Build(%v) = %v, want %q", tc.set, err, tc.want)
		}
		var ce *providers.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("Build(%v): %v is not a ConfigError", tc.set, err)
		}
	}
	if _, err := (providers.Factory{Type: "noopt", New: f.New}).Build(map[string]string{"x": "1"}); err == nil || !strings.Contains(err.Error(), "takes no options") {
		t.Errorf("a provider without options: %v", err)
	}
	if _, err := (providers.Factory{Type: "other", Options: f.Options, New: f.New}).Build(nil); err == nil || !strings.Contains(err.Error(), `type "vx"`) {
		t.Errorf("a factory whose New returns another type: %v", err)
	}
}

// slowProvider answers Prepare only when released, ignoring its deadline.
type slowProvider struct {
	countingProvider
	release chan struct{}
	entered chan struct{}
}

func (s *slowProvider) Prepare(_ context.Context, _ *providers.PortCtxIn, out *providers.PortCtxOut) error {
	s.entered <- struct{}{}
	<-s.release
	out.Name = "late"
	return nil
}

// A Prepare that answers after Destroy never reaches CtxDestroy, and
// Destroy does not wait for it longer than DestroyGrace.
func TestLateAnswerNeverReachesCtxDestroyAfterDestroy(t *testing.T) {
	old := providers.DestroyGrace
	providers.DestroyGrace = 50 * time.Millisecond
	t.Cleanup(func() { providers.DestroyGrace = old })
	reg := providers.NewRegistry(nil)
	p := &slowProvider{countingProvider: *counting("slow"), release: make(chan struct{}), entered: make(chan struct{}, 1)}
	if err := reg.Register(p); err != nil {
		t.Fatal(err)
	}
	in, _ := reg.Get("slow")
	answered := make(chan error, 1)
	pin, out := &providers.PortCtxIn{LportName: "lp"}, &providers.PortCtxOut{}
	go func() { answered <- in.Prepare(context.Background(), pin, out) }()
	<-p.entered
	if err := reg.Unregister("slow"); err != nil {
		t.Fatal(err)
	}
	if p.destroys != 1 {
		t.Fatal("Destroy did not run after the grace period")
	}
	close(p.release)
	if err := <-answered; err != nil || out.Name != "late" {
		t.Fatalf("late answer: %v %+v", err, out)
	}
	// What the engine does with a late answer:
	in.CtxDestroy(pin, out)
	in.Finish(pin, out)
	if n := p.ctxDestroy.Load() + p.finishes.Load(); n != 0 {
		t.Fatalf("%d calls reached the provider after Destroy", n)
	}
	if err := in.Prepare(context.Background(), pin, out); !providers.IsNotReady(err) {
		t.Fatalf("Prepare after Destroy = %v, want a not-ready refusal", err)
	}
}

// blockingFinish holds Finish until released.
type blockingFinish struct {
	countingProvider
	inFinish, release chan struct{}
}

func (b *blockingFinish) Finish(*providers.PortCtxIn, *providers.PortCtxOut) {
	close(b.inFinish)
	<-b.release
}

// Destroy waits for a call in flight that returns in time.
func TestDestroyWaitsForCallsInFlight(t *testing.T) {
	reg := providers.NewRegistry(nil)
	p := &blockingFinish{countingProvider: *counting("bf"), inFinish: make(chan struct{}), release: make(chan struct{})}
	if err := reg.Register(p); err != nil {
		t.Fatal(err)
	}
	in, _ := reg.Get("bf")
	go in.Finish(&providers.PortCtxIn{}, nil)
	<-p.inFinish
	destroyed := make(chan struct{})
	go func() { _ = in.Destroy(); close(destroyed) }()
	select {
	case <-destroyed:
		t.Fatal("Destroy ran while Finish was still running")
	case <-time.After(20 * time.Millisecond):
	}
	close(p.release)
	<-destroyed
	if p.destroys != 1 {
		t.Fatalf("destroys = %d", p.destroys)
	}
}

type panicky struct{ minimal }

func (*panicky) Finish(*providers.PortCtxIn, *providers.PortCtxOut) { panic("boom") }
func (*panicky) Run(context.Context) bool                           { panic("boom") }
func (*panicky) Prepare(context.Context, *providers.PortCtxIn, *providers.PortCtxOut) error {
	panic("boom")
}

func TestPanicsAreContained(t *testing.T) {
	reg := providers.NewRegistry(nil)
	if err := reg.Register(&panicky{minimal{typ: "p"}}); err != nil {
		t.Fatal(err)
	}
	in, _ := reg.Get("p")
	if err := in.Prepare(context.Background(), &providers.PortCtxIn{}, &providers.PortCtxOut{}); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("Prepare panic: %v", err)
	}
	in.Finish(&providers.PortCtxIn{}, nil)
	if in.Run(context.Background()) {
		t.Fatal("a panicking Run reported a change")
	}
}

// panicsInLifecycle panics in Init or Destroy.
type panicsInLifecycle struct {
	minimal
	inInit bool
}

func (p *panicsInLifecycle) Init(providers.Env) error {
	if p.inInit {
		panic("init")
	}
	return nil
}
func (*panicsInLifecycle) Destroy() error { panic("destroy") }

// Every contained panic reaches OnPanic with the method and, for a
// port's call, the port and op; a panic in Init or Destroy is its error.
func TestOnPanic(t *testing.T) {
	var got []string
	reg := providers.NewRegistry(nil)
	reg.OnPanic(func(p providers.Panic) { got = append(got, p.String()) })
	if err := reg.Register(&panicky{minimal{typ: "p"}}); err != nil {
		t.Fatal(err)
	}
	in, _ := reg.Get("p")
	port := &providers.PortCtxIn{Op: providers.OpRemove, LportName: "vm1"}
	_ = in.Prepare(context.Background(), port, nil)
	in.Finish(port, nil)
	in.Run(context.Background())
	err := reg.Register(&panicsInLifecycle{minimal: minimal{typ: "i"}, inInit: true})
	if err == nil || !strings.Contains(err.Error(), `provider "i" panicked in Init: init`) {
		t.Errorf("Register of a provider whose Init panics: %v", err)
	}
	if err := reg.Register(&panicsInLifecycle{minimal: minimal{typ: "d"}}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Unregister("d"); err == nil || err.Error() != `provider "d" panicked in Destroy: destroy` {
		t.Errorf("Unregister of a provider whose Destroy panics: %v", err)
	}
	want := []string{
		`provider "p" panicked in Prepare(remove, "vm1"): boom`,
		`provider "p" panicked in Finish(remove, "vm1"): boom`,
		`provider "p" panicked in Run: boom`,
		`provider "i" panicked in Init: init`,
		`provider "d" panicked in Destroy: destroy`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("OnPanic saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// stuckRun never returns from Run until released.
type stuckRun struct {
	minimal
	release chan struct{}
	calls   atomic.Int32
}

func (s *stuckRun) Run(context.Context) bool {
	s.calls.Add(1)
	<-s.release
	return false
}

type changingRun struct {
	minimal
	calls atomic.Int32
}

func (c *changingRun) Run(context.Context) bool { return c.calls.Add(1)%2 == 1 }

// One provider's Run ignoring its context stalls neither another
// provider's loop nor the loop's own return.
func TestRunLoopIsolatesAStuckRun(t *testing.T) {
	stuck := &stuckRun{minimal: minimal{typ: "stuck"}, release: make(chan struct{})}
	defer close(stuck.release)
	good := &changingRun{minimal: minimal{typ: "good"}}
	reg := providers.NewRegistry(nil)
	for _, p := range []providers.Provider{stuck, good} {
		if err := reg.Register(p); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var changes atomic.Int32
	done := make(chan struct{}, 2)
	for _, in := range reg.Enabled() {
		go func() {
			in.RunLoop(ctx, time.Millisecond, time.Millisecond, func() { changes.Add(1) })
			done <- struct{}{}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for changes.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if changes.Load() < 3 {
		t.Fatalf("the good provider's changes were not reported while the other's Run was stuck (%d)", changes.Load())
	}
	cancel()
	for range 2 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("RunLoop did not return after its context ended")
		}
	}
	if n := stuck.calls.Load(); n != 1 {
		t.Fatalf("a stuck Run was called again while still running: %d calls", n)
	}
}
