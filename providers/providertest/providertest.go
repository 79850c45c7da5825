// Package providertest checks a VIF plug provider against the provider
// contract in one call, the way testing/fstest.TestFS checks a file
// system:
//
//	func TestConformance(t *testing.T) {
//		providertest.TestProvider(t, myprovider.Factory,
//			providertest.Ports(
//				providertest.Port{Name: "vm1-eth0", Options: map[string]string{"vif-plug:mine:id": "7"}},
//				providertest.Port{Name: "bad", Options: map[string]string{"vif-plug:mine:id": "x"}, Want: providertest.Invalid},
//			))
//	}
//
// It needs no root, OVS or hardware: it drives the provider directly,
// with inputs the test gives and hostile variants of them. Run it with
// -race, and not in parallel with other tests of the package (the
// goroutine leak check compares all goroutines before and after).
//
// Harness, in harness.go, goes further: the real engine against
// in-memory OVS and SB databases.
package providertest

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// Want is what Prepare(OpCreate) must answer for a Port.
type Want int

const (
	// Plug: an interface the engine can write.
	Plug Want = iota
	// Invalid: a refusal because the request is wrong (InvalidError).
	Invalid
	// NotReady: a refusal that may go away (NotReadyError).
	NotReady
)

func (w Want) String() string {
	switch w {
	case Plug:
		return "plug"
	case Invalid:
		return "invalid"
	case NotReady:
		return "not ready"
	}
	return fmt.Sprintf("want(%d)", int(w))
}

// Port is a logical port to ask the provider about.
type Port struct {
	// Name is the logical port name (Port_Binding logical_port).
	Name string
	// Options are the Port_Binding options; vif-plug-type is filled in.
	Options map[string]string
	// Want is the expected answer for a create.
	Want Want
}

type config struct {
	cfg        map[string]string
	sysfsRoot  string
	ports      []Port
	changeView func() error
	wait       time.Duration
	slack      time.Duration
	clients    int
}

// Option configures TestProvider.
type Option func(*config)

// Config sets provider configuration keys, as --provider.<type>.<key>
// would.
func Config(kv map[string]string) Option { return func(c *config) { c.cfg = kv } }

// SysfsRoot sets Env.SysfsRoot for Init (default "/sys").
func SysfsRoot(dir string) Option { return func(c *config) { c.sysfsRoot = dir } }

// Ports gives the logical ports to ask about. At least one must be
// Want Plug; the kit derives hostile variants from all of them.
func Ports(p ...Port) Option { return func(c *config) { c.ports = append(c.ports, p...) } }

// ChangeView gives the kit a way to change what the provider sees (add
// hardware, create a directory) after Init. The kit then expects the
// provider to say so: Env.Changed called, or Run returning true. Without
// it that check is skipped.
func ChangeView(f func() error) Option { return func(c *config) { c.changeView = f } }

// Wait sets how long the kit waits for Changed after ChangeView and for
// goroutines to end after Destroy (default 10s).
func Wait(d time.Duration) Option { return func(c *config) { c.wait = d } }

// DeadlineSlack sets how long after its context's deadline a Prepare may
// still return (default 1s: generous, so a loaded CI machine passes, and
// a call that ignores its context fails).
func DeadlineSlack(d time.Duration) Option { return func(c *config) { c.slack = d } }

// answer is one Prepare result, comparable.
type answer struct {
	class string // "plug", "invalid", "not ready", "error", "panic"
	msg   string
	out   providers.PortCtxOut
}

func (a answer) String() string {
	if a.class == "plug" {
		return fmt.Sprintf("plug %q type %q options %v", a.out.Name, a.out.Type, a.out.IfaceOptions)
	}
	if a.class == "invalid" || a.class == "not ready" {
		return a.msg // the error text starts with its class
	}
	return fmt.Sprintf("%s: %s", a.class, a.msg)
}

func (a answer) equal(b answer) bool {
	return a.class == b.class && a.msg == b.msg && a.out.Name == b.out.Name && a.out.Type == b.out.Type &&
		maps.Equal(a.out.IfaceOptions, b.out.IfaceOptions)
}

type kit struct {
	t   testing.TB
	f   providers.Factory
	c   config
	typ string

	changed       atomic.Int64
	ovsRow        *vswitch.OpenvSwitch
	bridge        *vswitch.Bridge
	unreturned    atomic.Int64 // calls still running past their limit
	inputReported atomic.Bool
}

// TestProvider checks the provider that f makes against the provider
// contract and reports every violation it finds through t.Errorf:
//
//   - the factory builds it from its defaults and the given Config, and
//     every option has help text;
//   - removal is always allowed: before Init, with bad options, with an
//     expired context, for hostile inputs;
//   - the Ports get the answers they Want; answers are deterministic;
//     interface names and options can be written to OVS (CheckAnswer);
//   - refusals are typed (invalid or not ready) and give a reason;
//   - Prepare returns soon after its context's deadline, and an expired
//     context never turns a good request into an invalid one;
//   - Prepare does not modify its input;
//   - MaintainedIfaceOptions is stable and covers every option the
//     provider sets;
//   - Finish and CtxDestroy, in OVN's order, do not panic;
//   - concurrent Prepares (with Run and Health alongside) give the same
//     answers as sequential ones, and are race-free under -race;
//   - after ChangeView, Changed is called or Run reports the change;
//   - after Destroy no goroutine of the provider is left, and Changed is
//     not called any more.
func TestProvider(t testing.TB, f providers.Factory, opts ...Option) {
	t.Helper()
	k := &kit{t: t, f: f, typ: f.Type,
		c:      config{sysfsRoot: "/sys", wait: 10 * time.Second, slack: time.Second, clients: 8},
		ovsRow: &vswitch.OpenvSwitch{UUID: "5b2f3a1c-0000-4000-8000-000000000001", ExternalIDs: map[string]string{"system-id": "chassis-1", "ovn-bridge": "br-int"}},
		bridge: &vswitch.Bridge{UUID: "5b2f3a1c-0000-4000-8000-000000000002", Name: "br-int", DatapathType: "netdev"},
	}
	for _, o := range opts {
		o(&k.c)
	}
	if !raceEnabled {
		t.Logf("providertest: not built with -race; concurrent Prepare is checked for consistent answers only")
	}
	k.run()
}

func (k *kit) errorf(check, format string, args ...any) {
	k.t.Helper()
	k.t.Errorf("providertest: %s: %s: %s", k.typ, check, fmt.Sprintf(format, args...))
}

func (k *kit) run() {
	k.t.Helper()
	if !slices.ContainsFunc(k.c.ports, func(p Port) bool { return p.Want == Plug }) {
		k.errorf("setup", "give at least one Port with Want: Plug")
		return
	}
	for _, o := range k.f.Options {
		if strings.TrimSpace(o.Help) == "" {
			k.errorf("config", "option %q has no Help for --help", o.Key)
		}
	}
	if _, err := k.f.Build(nil); err != nil && k.c.cfg == nil {
		k.errorf("config", "the default configuration does not build: %v", err)
	}
	inputs := k.inputs()

	// Removal before Init, on a provider of its own.
	if p := k.build(); p != nil {
		k.checkRemovals(p, inputs, "before Init")
	}

	before := goroutines()
	p := k.build()
	if p == nil {
		return
	}
	env := providers.Env{Changed: func() { k.changed.Add(1) }, SysfsRoot: k.c.sysfsRoot, Logger: logr.Discard()}
	if err := providers.Init(p, env); err != nil {
		k.errorf("init", "Init: %v", err)
		return
	}
	destroyed := false
	defer func() {
		if !destroyed {
			_ = providers.Destroy(p)
		}
	}()

	maintained := k.checkMaintainedStable(p)
	baseline := k.checkAnswers(p, maintained)
	k.checkHostile(p, inputs, maintained)
	k.checkRemovals(p, inputs, "after Init")
	k.checkDeadlines(p)
	k.checkConcurrent(p, baseline)
	k.checkChanged(p)

	destroyed = true
	if err := providers.Destroy(p); err != nil {
		k.errorf("destroy", "Destroy: %v", err)
	}
	k.checkAfterDestroy(before)
}

func (k *kit) build() providers.Provider {
	k.t.Helper()
	p, err := k.f.Build(k.c.cfg)
	if err != nil {
		k.errorf("config", "%v", err)
		return nil
	}
	return p
}

func (k *kit) portIn(op providers.Op, name string, opts map[string]string) *providers.PortCtxIn {
	o := maps.Clone(opts)
	if o == nil {
		o = map[string]string{}
	}
	if _, ok := o["vif-plug-type"]; !ok {
		o["vif-plug-type"] = k.typ
	}
	return &providers.PortCtxIn{Op: op, LportName: name, LportOptions: o, OpenVSwitch: k.ovsRow, Bridge: k.bridge}
}

// prepare calls Prepare on a goroutine of the kit, so a provider that
// hangs or panics is reported instead of hanging or crashing the test. The
// provider gets a copy of in, compared with in once it returns; the kit
// never reads the copy of a call that did not return. It returns false
// when the call did not return in time.
func (k *kit) prepare(ctx context.Context, p providers.Provider, in *providers.PortCtxIn, withOut bool) (answer, bool) {
	k.t.Helper()
	var out *providers.PortCtxOut
	if withOut {
		out = &providers.PortCtxOut{}
	}
	pin := cloneIn(in)
	done := make(chan answer, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- answer{class: "panic", msg: fmt.Sprint(r)}
			}
		}()
		err := p.Prepare(ctx, pin, out)
		a := answer{class: "plug"}
		switch {
		case err == nil:
			if out != nil {
				a.out = *out
			}
		case providers.IsInvalid(err):
			a.class, a.msg = "invalid", err.Error()
		case providers.IsNotReady(err):
			a.class, a.msg = "not ready", err.Error()
		default:
			a.class, a.msg = "error", err.Error()
		}
		if err != nil && providers.Reason(err) == "" && a.class != "error" {
			a.class = "no reason"
		}
		done <- a
	}()
	limit := k.c.wait
	if d, ok := ctx.Deadline(); ok {
		limit = max(time.Until(d), 0) + k.c.slack
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case a := <-done:
		if !reflect.DeepEqual(pin, in) && k.inputReported.CompareAndSwap(false, true) {
			k.errorf("input", "%s modified its input to %+v", k.describe(in.Op, in), *pin)
		}
		return a, true
	case <-t.C:
		k.unreturned.Add(1)
		return answer{class: "hung"}, false
	}
}

func (k *kit) describe(op providers.Op, in *providers.PortCtxIn) string {
	return fmt.Sprintf("Prepare(%s, %q, %v)", op, in.LportName, in.LportOptions)
}

// checkRefusal reports an untyped or reasonless refusal, a panic or a
// hang; it returns whether the answer was a well-formed one.
func (k *kit) wellFormed(what string, a answer, returned bool) bool {
	k.t.Helper()
	switch {
	case !returned:
		k.errorf("deadline", "%s did not return", what)
	case a.class == "panic":
		k.errorf("panic", "%s panicked: %s", what, a.msg)
	case a.class == "error":
		k.errorf("refusal", "%s returned an untyped error %q; use providers.Invalid or providers.NotReady", what, a.msg)
	case a.class == "no reason":
		k.errorf("refusal", "%s refused without a reason", what)
	default:
		return true
	}
	return false
}

func (k *kit) checkRemovals(p providers.Provider, inputs []Port, when string) {
	k.t.Helper()
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	for _, in := range inputs {
		for _, ctx := range []context.Context{context.Background(), expired} {
			pin := k.portIn(providers.OpRemove, in.Name, in.Options)
			pin.IfaceName, pin.IfaceType = "plugged0", "system"
			a, ok := k.prepare(ctx, p, pin, false)
			what := k.describe(providers.OpRemove, pin) + " " + when
			if ctx == expired {
				what += " with an expired context"
			}
			if !k.wellFormed(what, a, ok) {
				return
			}
			if a.class != "plug" {
				k.errorf("remove", "%s refused (%s); removal must always be allowed", what, a)
				return
			}
			if when == "after Init" {
				if !k.safely(func() { providers.Finish(p, pin, nil) }) {
					k.errorf("panic", "Finish(remove, nil) after %s panicked", what)
					return
				}
			}
		}
	}
}

func (k *kit) safely(f func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			k.t.Logf("providertest: panic: %v", r)
			ok = false
		}
	}()
	f()
	return true
}

func (k *kit) checkMaintainedStable(p providers.Provider) []string {
	k.t.Helper()
	m := p.MaintainedIfaceOptions()
	again := p.MaintainedIfaceOptions()
	if !slices.Equal(m, again) {
		k.errorf("maintained", "MaintainedIfaceOptions changed between calls: %v then %v", m, again)
	}
	seen := map[string]bool{}
	for _, key := range m {
		if key == "" || seen[key] {
			k.errorf("maintained", "MaintainedIfaceOptions %v has an empty or repeated key", m)
			break
		}
		seen[key] = true
	}
	return m
}

// checkAnswer checks one create answer against the maintained set.
func (k *kit) checkAnswer(what string, a answer, maintained []string) bool {
	k.t.Helper()
	if a.class != "plug" {
		return true
	}
	if err := providers.CheckAnswer(&a.out); err != nil {
		k.errorf("name", "%s answered %s, which OVS cannot take: %v", what, a, err)
		return false
	}
	for key := range a.out.IfaceOptions {
		if maintained == nil {
			k.errorf("maintained", "%s sets option %q but MaintainedIfaceOptions is nil: when the provider stops setting it, the engine can never remove it", what, key)
			return false
		}
		if !slices.Contains(maintained, key) {
			k.errorf("maintained", "%s sets option %q, which MaintainedIfaceOptions %v does not list", what, key, maintained)
			return false
		}
	}
	return true
}

// checkAnswers asks for each Port twice, checks the Want, determinism and
// the answer, runs Finish and CtxDestroy in OVN's order, and returns the
// answers as the baseline for the concurrent check.
func (k *kit) checkAnswers(p providers.Provider, maintained []string) map[int]answer {
	k.t.Helper()
	base := map[int]answer{}
	for i, port := range k.c.ports {
		in := k.portIn(providers.OpCreate, port.Name, port.Options)
		what := k.describe(providers.OpCreate, in)
		a, ok := k.prepare(context.Background(), p, in, true)
		if !k.wellFormed(what, a, ok) {
			continue
		}
		if a.class != port.Want.String() {
			k.errorf("answer", "%s = %s, want %s", what, a, port.Want)
			continue
		}
		k.checkAnswer(what, a, maintained)
		again, ok := k.prepare(context.Background(), p, k.portIn(providers.OpCreate, port.Name, port.Options), true)
		if ok && !a.equal(again) {
			k.errorf("deterministic", "%s answered %s, then %s", what, a, again)
		}
		base[i] = a
		if a.class == "plug" {
			// OVN's order after a commit: Finish, then CtxDestroy.
			out := a.out
			if !k.safely(func() { providers.Finish(p, in, &out); providers.CtxDestroy(p, in, &out) }) {
				k.errorf("panic", "Finish/CtxDestroy after %s panicked", what)
			}
			// The same port, already plugged: an update.
			up := k.portIn(providers.OpCreate, port.Name, port.Options)
			up.IfaceName, up.IfaceType, up.IfaceOptions = a.out.Name, a.out.Type, maps.Clone(a.out.IfaceOptions)
			ua, ok := k.prepare(context.Background(), p, up, true)
			if k.wellFormed(what+" for the plugged interface", ua, ok) && ua.class != "plug" {
				k.errorf("answer", "%s for its own plugged interface %q = %s, want plug", what, a.out.Name, ua)
			}
			if ua.class == "plug" {
				k.safely(func() { providers.CtxDestroy(p, up, &ua.out) })
			}
		}
	}
	return base
}

func cloneIn(in *providers.PortCtxIn) *providers.PortCtxIn {
	c := *in
	c.LportOptions = maps.Clone(in.LportOptions)
	c.IfaceOptions = maps.Clone(in.IfaceOptions)
	return &c
}

// hostileValues are option values a CMS could send by mistake.
var hostileValues = []string{"", " ", "-1", "0", "18446744073709551616", "x", "../../etc/passwd", "a/b", "\x00", "é€😀", strings.Repeat("z", 300)}

// hostileNames are logical port names a CMS could use.
var hostileNames = []string{strings.Repeat("long-name-", 30), "ééééééééé", "x6abcdefghijk😀", "with/slash", "with space", "-"}

// inputs returns the Ports and hostile variants of them: each option
// key with each hostile value and removed, and hostile names.
func (k *kit) inputs() []Port {
	out := slices.Clone(k.c.ports)
	keys := map[string]bool{}
	for _, p := range k.c.ports {
		for key := range p.Options {
			if key != "vif-plug-type" {
				keys[key] = true
			}
		}
	}
	for _, p := range k.c.ports {
		if p.Want != Plug {
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(keys)) {
			for _, v := range hostileValues {
				o := maps.Clone(p.Options)
				if o == nil {
					o = map[string]string{}
				}
				o[key] = v
				out = append(out, Port{Name: p.Name, Options: o, Want: -1})
			}
			o := maps.Clone(p.Options)
			delete(o, key)
			out = append(out, Port{Name: p.Name, Options: o, Want: -1})
		}
		for _, n := range hostileNames {
			out = append(out, Port{Name: n, Options: p.Options, Want: -1})
		}
	}
	return out
}

// checkHostile: every hostile input gets a writable answer or a typed
// refusal with a reason, and the same one twice.
func (k *kit) checkHostile(p providers.Provider, inputs []Port, maintained []string) {
	k.t.Helper()
	for _, port := range inputs {
		in := k.portIn(providers.OpCreate, port.Name, port.Options)
		what := k.describe(providers.OpCreate, in)
		a, ok := k.prepare(context.Background(), p, in, true)
		if !k.wellFormed(what, a, ok) || !k.checkAnswer(what, a, maintained) {
			return // one example per provider bug is enough
		}
		if again, ok := k.prepare(context.Background(), p, k.portIn(providers.OpCreate, port.Name, port.Options), true); ok && !a.equal(again) {
			k.errorf("deterministic", "%s answered %s, then %s", what, a, again)
			return
		}
		if a.class == "plug" {
			k.safely(func() { providers.CtxDestroy(p, in, &a.out) })
		}
	}
}

// checkDeadlines: with an expired context and with a short deadline,
// Prepare returns within the slack, and a good request is not called
// invalid for it.
func (k *kit) checkDeadlines(p providers.Provider) {
	k.t.Helper()
	for _, port := range k.c.ports {
		if port.Want == Invalid {
			continue
		}
		for _, d := range []time.Duration{-time.Second, 20 * time.Millisecond} {
			ctx, cancel := context.WithTimeout(context.Background(), d)
			in := k.portIn(providers.OpCreate, port.Name, port.Options)
			a, ok := k.prepare(ctx, p, in, true)
			cancel()
			what := fmt.Sprintf("%s with a %v deadline", k.describe(providers.OpCreate, in), d)
			if !ok {
				k.errorf("deadline", "%s was still running %v after its deadline", what, k.c.slack)
				return
			}
			if !k.wellFormed(what, a, ok) {
				return
			}
			if a.class == "invalid" {
				k.errorf("deadline", "%s = %s; running out of time is not an invalid request (use providers.NotReady)", what, a)
				return
			}
			if a.class == "plug" {
				k.checkAnswer(what, a, p.MaintainedIfaceOptions())
				k.safely(func() { providers.CtxDestroy(p, in, &a.out) })
			}
		}
	}
}

// checkConcurrent runs the Ports from several goroutines at once, with
// Run and Health alongside, and compares each answer with the baseline.
func (k *kit) checkConcurrent(p providers.Provider, base map[int]answer) {
	k.t.Helper()
	var wg sync.WaitGroup
	var bad atomic.Value
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			k.safely(func() { providers.RunOnce(ctx, p); _ = providers.Health(p) })
			cancel()
			time.Sleep(time.Millisecond)
		}
	}()
	for c := range k.c.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := range 4 {
				for j := range k.c.ports {
					i := (j + c + round) % len(k.c.ports)
					want, ok := base[i]
					if !ok {
						continue
					}
					port := k.c.ports[i]
					in := k.portIn(providers.OpCreate, port.Name, port.Options)
					a, returned := k.prepare(context.Background(), p, in, true)
					if !returned || !a.equal(want) {
						bad.CompareAndSwap(nil, fmt.Sprintf("%s answered %s under concurrent calls, %s alone", k.describe(providers.OpCreate, in), a, want))
						return
					}
					if a.class == "plug" {
						out := a.out
						k.safely(func() { providers.Finish(p, in, &out); providers.CtxDestroy(p, in, &out) })
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	if msg, ok := bad.Load().(string); ok {
		k.errorf("concurrent", "%s", msg)
	}
}

// checkChanged: after the view changes, the provider says so.
func (k *kit) checkChanged(p providers.Provider) {
	k.t.Helper()
	if k.c.changeView == nil {
		k.t.Logf("providertest: %s: no ChangeView option; not checking that Changed is called", k.typ)
		return
	}
	_, runs := p.(providers.Runner)
	_, inits := p.(providers.Initializer)
	if !runs && !inits {
		k.errorf("changed", "the view can change but the provider has neither Init (to keep Env.Changed) nor Run")
		return
	}
	from := k.changed.Load()
	if err := k.c.changeView(); err != nil {
		k.errorf("setup", "ChangeView: %v", err)
		return
	}
	deadline := time.Now().Add(k.c.wait)
	for time.Now().Before(deadline) {
		if k.changed.Load() > from {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		changed := providers.RunOnce(ctx, p)
		cancel()
		if changed {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	k.errorf("changed", "the view changed but in %v the provider neither called Env.Changed nor returned true from Run", k.c.wait)
}

// checkAfterDestroy: the provider's goroutines end and Changed stays
// quiet.
func (k *kit) checkAfterDestroy(before map[string]goroutine) {
	k.t.Helper()
	calls := k.changed.Load()
	deadline := time.Now().Add(k.c.wait)
	var left []goroutine
	for {
		left = leaked(before, goroutines())
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) > 0 {
		stacks := make([]string, 0, len(left))
		for _, g := range left {
			stacks = append(stacks, g.stack)
		}
		slices.Sort(stacks)
		k.errorf("leak", "%d goroutine(s) still running %v after Destroy:\n%s", len(left), k.c.wait, strings.Join(stacks, "\n\n"))
	}
	if n := k.changed.Load(); n != calls {
		k.errorf("changed", "Env.Changed was called %d time(s) after Destroy returned", n-calls)
	}
	if n := k.unreturned.Load(); n > 0 {
		k.t.Logf("providertest: %s: %d call(s) never returned", k.typ, n)
	}
}
