package providers_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// countingProvider records lifecycle calls.
type countingProvider struct {
	typ             string
	inits, destroys int
	initErr         error
	env             providers.Env
}

func (c *countingProvider) Type() string { return c.typ }
func (c *countingProvider) Init(env providers.Env) error {
	c.inits++
	c.env = env
	return c.initErr
}
func (c *countingProvider) Destroy() error                   { c.destroys++; return nil }
func (c *countingProvider) Run(context.Context) bool         { return false }
func (c *countingProvider) MaintainedIfaceOptions() []string { return nil }
func (c *countingProvider) Prepare(context.Context, *providers.PortCtxIn, *providers.PortCtxOut) error {
	return nil
}
func (c *countingProvider) Finish(*providers.PortCtxIn, *providers.PortCtxOut)     {}
func (c *countingProvider) CtxDestroy(*providers.PortCtxIn, *providers.PortCtxOut) {}

func TestRegistryLifecycle(t *testing.T) {
	reg := providers.NewRegistry(func(typ string) providers.Env { return providers.Env{SysfsRoot: "/x/" + typ} })
	if err := reg.Unregister("dummy"); !errors.Is(err, providers.ErrUnknown) {
		t.Fatalf("Unregister of unknown: got %v, want ErrUnknown", err)
	}
	p := &countingProvider{typ: "test"}
	if err := reg.Register(p); err != nil {
		t.Fatal(err)
	}
	if p.inits != 1 || p.env.SysfsRoot != "/x/test" {
		t.Fatalf("Init not called with the env: inits=%d env=%+v", p.inits, p.env)
	}
	if err := reg.Register(p); !errors.Is(err, providers.ErrExists) {
		t.Fatalf("duplicate Register: got %v, want ErrExists", err)
	}
	if p.inits != 1 {
		t.Fatalf("duplicate Register ran Init again")
	}
	if got, err := reg.Get("test"); err != nil || got != p {
		t.Fatalf("Get: %v %v", got, err)
	}
	if err := reg.SetEnabled("test", false); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Get("test"); !errors.Is(err, providers.ErrDisabled) {
		t.Fatalf("Get of disabled: got %v, want ErrDisabled", err)
	}
	if len(reg.Enabled()) != 0 {
		t.Fatalf("Enabled lists a disabled provider")
	}
	if err := reg.SetEnabled("test", true); err != nil {
		t.Fatal(err)
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

func TestRegistryInitFailureLeavesNothing(t *testing.T) {
	reg := providers.NewRegistry(nil)
	p := &countingProvider{typ: "broken", initErr: errors.New("no hardware")}
	if err := reg.Register(p); err == nil {
		t.Fatal("Register succeeded although Init failed")
	}
	if _, err := reg.Get("broken"); !errors.Is(err, providers.ErrUnknown) {
		t.Fatalf("a provider whose Init failed is registered: %v", err)
	}
	if err := reg.InitError("broken"); err == nil || err.Error() != "no hardware" {
		t.Fatalf("InitError = %v, want the Init error", err)
	}
	p.initErr = nil
	if err := reg.Register(p); err != nil || reg.InitError("broken") != nil {
		t.Fatalf("a later successful Register must clear the failure: %v / %v", err, reg.InitError("broken"))
	}
}

func TestDestroyAll(t *testing.T) {
	reg := providers.NewRegistry(nil)
	a, b := &countingProvider{typ: "a"}, &countingProvider{typ: "b"}
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
	if !providers.IsNotReady(wrapped) {
		t.Fatal("wrapped NotReady not recognised")
	}
	if nr.Error() != "not ready: VF 3 missing" || inv.Error() != `invalid request: bad mac "zz"` {
		t.Fatalf("messages: %q %q", nr, inv)
	}
}

// uniqueType gives each run its own type name: Add is process-global, and
// go test -count=N runs a test N times in one process.
func uniqueType(t *testing.T) string {
	runs++
	return fmt.Sprintf("%s-%d", t.Name(), runs)
}

var runs int

func TestAddPanicsOnDuplicate(t *testing.T) {
	typ := uniqueType(t)
	providers.Add(&countingProvider{typ: typ})
	defer func() {
		if recover() == nil {
			t.Fatal("second Add of the same type did not panic")
		}
	}()
	providers.Add(&countingProvider{typ: typ})
}

func TestSelect(t *testing.T) {
	typ := uniqueType(t)
	providers.Add(&countingProvider{typ: typ})
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
