// Package providertest checks a VIF plug provider against the provider
// contract in one call, the way testing/fstest.TestFS checks a file
// system:
//
//	func TestConformance(t *testing.T) {
//		providertest.TestProvider(t, myprovider.Factory,
//			providertest.Outstanding(func(p providers.Provider) int { return p.(*myprovider.Provider).Held() }),
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
	cfg          map[string]string
	sysfsRoot    string
	ports        []Port
	changeView   func() error
	wait         time.Duration
	slack        time.Duration
	clients      int
	outstanding  func(providers.Provider) int
	expectPanics bool
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

// Outstanding gives the kit (and the Harness) a way to ask a provider
// how many things it holds for answers not yet released: reservations,
// reference counts, entries keyed by out. The kit reads it after Init
// and checks that it is back to that value after every answer it
// released (Finish and CtxDestroy, or CtxDestroy alone) and at the end,
// so a leak or a double release fails with the call that caused it. f
// gets the provider the factory built; it is called between the kit's
// calls, but a call abandoned after its deadline may still be running,
// so f must be safe alongside one.
func Outstanding(f func(p providers.Provider) int) Option {
	return func(c *config) { c.outstanding = f }
}

// ExpectPanics tells NewHarness that the test expects the provider to
// panic; without it any contained panic fails the test. Harness.Panics
// returns them. TestProvider ignores it: a panic always fails the kit.
func ExpectPanics() Option { return func(c *config) { c.expectPanics = true } }

// answer is one Prepare result, comparable.
type answer struct {
	class string // "plug", "invalid", "not ready", "error", "panic"
	msg   string
	out   providers.PortCtxOut
	// in and ptr are what the provider was given: Finish and CtxDestroy
	// get the same pointers, as in the engine.
	in  *providers.PortCtxIn
	ptr *providers.PortCtxOut
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
	unreturned    atomic.Int64 // calls still running past their limit
	late          atomic.Int64 // of those, calls not yet returned and released
	inputReported atomic.Bool
	reported      sync.Map // checks reported once, by key
	panicked      atomic.Bool

	// life guards the provider's lifecycle against late answers: a call
	// abandoned after its deadline releases its answer only before
	// Destroy, as Instance does.
	life      sync.RWMutex
	destroyed bool
	held0     int // Outstanding after Init
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
//   - every Prepare(OpCreate) that returned nil gets exactly one
//     CtxDestroy (after Finish when the kit plays a commit), with the
//     same in and out pointers Prepare got, including the kit's repeated,
//     concurrent and abandoned calls; removals get Finish(in, nil);
//   - Finish, CtxDestroy, Run, Health and Destroy do not panic; each
//     panic is one line naming the method, the port and the op;
//   - with Outstanding, what the provider holds is back to its value
//     after Init after every released answer and at the end;
//   - concurrent Prepares (with Run and Health alongside) give the same
//     answers as sequential ones, and are race-free under -race;
//   - after ChangeView, Changed is called or Run reports the change;
//   - after Destroy no goroutine of the provider is left, and Changed is
//     not called any more.
//
// Like the engine, the kit calls nothing before Init and nothing after
// Destroy.
func TestProvider(t testing.TB, f providers.Factory, opts ...Option) {
	t.Helper()
	k := &kit{t: t, f: f, typ: f.Type,
		c: config{sysfsRoot: "/sys", wait: 10 * time.Second, slack: time.Second, clients: 8},
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

// errorOnce reports a failure only the first time key is seen: one line
// per bug, not one per call that hits it.
func (k *kit) errorOnce(key, check, format string, args ...any) {
	k.t.Helper()
	if _, seen := k.reported.LoadOrStore(key, true); !seen {
		k.errorf(check, format, args...)
	}
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

	before := goroutines()
	p := k.build()
	if p == nil {
		return
	}
	env := providers.Env{Changed: func() { k.changed.Add(1) }, SysfsRoot: k.c.sysfsRoot, Logger: logr.Discard()}
	var err error
	if !k.call("Init", nil, func() { err = providers.Init(p, env) }) {
		return
	}
	if err != nil {
		k.errorf("init", "Init: %v", err)
		return
	}
	defer k.destroy(p) // after a failed check too; only the first runs
	k.held0 = k.held(p)

	maintained := k.checkMaintainedStable(p)
	baseline := k.checkAnswers(p, maintained)
	k.checkHostile(p, inputs, maintained)
	k.checkRemovals(p, inputs)
	k.checkDeadlines(p)
	k.checkConcurrent(p, baseline)
	k.checkChanged(p)
	k.checkHeldAtEnd(p)

	if err := k.destroy(p); err != nil {
		k.errorf("destroy", "Destroy: %v", err)
	}
	k.checkAfterDestroy(before)
}

// destroy runs Destroy once, after which late answers are not released.
func (k *kit) destroy(p providers.Provider) (err error) {
	k.life.Lock()
	if k.destroyed {
		k.life.Unlock()
		return nil
	}
	k.destroyed = true
	k.life.Unlock()
	k.call("Destroy", nil, func() { err = providers.Destroy(p) })
	return err
}

// call runs one of the provider's methods other than Prepare, and
// reports a panic in one line naming the method and, for a port, the
// port and the op. It returns false when f panicked.
func (k *kit) call(method string, in *providers.PortCtxIn, f func()) bool {
	k.t.Helper()
	r, panicked := recovered(f)
	if !panicked {
		return true
	}
	// Reported here, not in the deferred recover, so that the line is
	// the test's rather than the panicking runtime function's.
	k.panicked.Store(true)
	if in == nil {
		k.errorOnce("panic "+method, "panic", "%s panicked: %v", method, r)
	} else {
		k.errorOnce("panic "+method, "panic", "%s(%s, %q) panicked: %v", method, in.Op, in.LportName, r)
	}
	return false
}

// recovered runs f and returns what it panicked with, if it did.
func recovered(f func()) (r any, panicked bool) {
	panicked = true
	defer func() {
		if panicked {
			r = recover()
		}
	}()
	f()
	return nil, false
}

// release ends an answer as the engine does, on the pointers Prepare got:
// Finish then CtxDestroy when the kit plays a commit, CtxDestroy alone
// when the answer is not applied. Nothing is released after Destroy.
func (k *kit) release(p providers.Provider, a answer, applied bool) {
	k.t.Helper()
	if a.class != "plug" || a.ptr == nil {
		return
	}
	k.life.RLock()
	defer k.life.RUnlock()
	if k.destroyed {
		return
	}
	if applied {
		k.call("Finish", a.in, func() { providers.Finish(p, a.in, a.ptr) })
	}
	k.call("CtxDestroy", a.in, func() { providers.CtxDestroy(p, a.in, a.ptr) })
}

// held is what the provider reports through Outstanding, 0 without it.
func (k *kit) held(p providers.Provider) (n int) {
	if k.c.outstanding == nil {
		return 0
	}
	k.call("Outstanding", nil, func() { n = k.c.outstanding(p) })
	return n
}

// checkHeld compares Outstanding with its value after Init, after what
// released its answers.
func (k *kit) checkHeld(p providers.Provider, what string) {
	k.t.Helper()
	if k.c.outstanding == nil || k.panicked.Load() || k.late.Load() > 0 {
		// A release that panicked is reported as such; an abandoned call,
		// reported too, holds its answer until it returns.
		return
	}
	switch n := k.held(p); {
	case n > k.held0:
		k.errorOnce("outstanding", "outstanding", "%s: Outstanding is %d, %d after Init: an answer was not released (leak)", what, n, k.held0)
	case n < k.held0:
		k.errorOnce("outstanding", "outstanding", "%s: Outstanding is %d, %d after Init: something was released twice (double release)", what, n, k.held0)
	}
}

// checkHeldAtEnd waits for abandoned calls to be released, then checks
// Outstanding once more.
func (k *kit) checkHeldAtEnd(p providers.Provider) {
	k.t.Helper()
	if k.c.outstanding == nil {
		return
	}
	deadline := time.Now().Add(k.c.wait)
	for k.late.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	k.checkHeld(p, "at the end, before Destroy")
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
	return &providers.PortCtxIn{Op: op, LportName: name, LportOptions: o,
		Chassis: HarnessChassis, BridgeName: HarnessBridge, BridgeDatapathType: "netdev",
		OVSExternalIDs: map[string]string{"system-id": HarnessChassis, "ovn-bridge": HarnessBridge, "ovn-remote": "unix:/run/ovn/ovnsb_db.sock"},
		OVSOtherConfig: map[string]string{"hw-offload": "true"},
	}
}

// prepare calls Prepare on a goroutine of the kit, so a provider that
// hangs or panics is reported instead of hanging or crashing the test. The
// provider gets a copy of in, compared with in once it returns; the kit
// never reads the copy of a call that did not return, and releases its
// answer, if any, when it comes (as the engine does). It returns false
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
		a := answer{class: "plug", in: pin}
		if err == nil {
			a.ptr = out
		}
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
		k.late.Add(1)
		go func() {
			defer k.late.Add(-1)
			if a := <-done; a.class == "plug" {
				k.release(p, a, false)
			}
		}()
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

// checkRemovals: removal is allowed for every input, with an expired
// context too, and is followed by Finish(in, nil) as after a commit.
func (k *kit) checkRemovals(p providers.Provider, inputs []Port) {
	k.t.Helper()
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	for _, in := range inputs {
		for _, ctx := range []context.Context{context.Background(), expired} {
			pin := k.portIn(providers.OpRemove, in.Name, in.Options)
			pin.IfaceName, pin.IfaceType = "plugged0", "system"
			a, ok := k.prepare(ctx, p, pin, false)
			what := k.describe(providers.OpRemove, pin)
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
			if !k.call("Finish", a.in, func() { providers.Finish(p, a.in, nil) }) {
				return
			}
			k.checkHeld(p, what+" and Finish")
		}
	}
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
			k.release(p, a, false)
			continue
		}
		k.checkAnswer(what, a, maintained)
		// The repeated call's answer is the one not applied: CtxDestroy
		// alone. The first is committed: Finish, then CtxDestroy.
		again, ok := k.prepare(context.Background(), p, k.portIn(providers.OpCreate, port.Name, port.Options), true)
		if ok && !a.equal(again) {
			k.errorf("deterministic", "%s answered %s, then %s", what, a, again)
		}
		k.release(p, again, false)
		base[i] = a
		if a.class != "plug" {
			k.checkHeld(p, what+" twice")
			continue
		}
		k.release(p, a, true)
		k.checkHeld(p, what+" twice, then Finish and CtxDestroy")
		// The same port, already plugged: an update.
		up := k.portIn(providers.OpCreate, port.Name, port.Options)
		up.IfaceName, up.IfaceType, up.IfaceOptions = a.out.Name, a.out.Type, maps.Clone(a.out.IfaceOptions)
		ua, ok := k.prepare(context.Background(), p, up, true)
		if k.wellFormed(what+" for the plugged interface", ua, ok) && ua.class != "plug" {
			k.errorf("answer", "%s for its own plugged interface %q = %s, want plug", what, a.out.Name, ua)
		}
		k.release(p, ua, true)
		k.checkHeld(p, what+" for the plugged interface, then Finish and CtxDestroy")
	}
	return base
}

func cloneIn(in *providers.PortCtxIn) *providers.PortCtxIn {
	c := *in
	c.LportOptions = maps.Clone(in.LportOptions)
	c.IfaceOptions = maps.Clone(in.IfaceOptions)
	c.OVSExternalIDs = maps.Clone(in.OVSExternalIDs)
	c.OVSOtherConfig = maps.Clone(in.OVSOtherConfig)
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
			k.release(p, a, false)
			return // one example per provider bug is enough
		}
		again, ok := k.prepare(context.Background(), p, k.portIn(providers.OpCreate, port.Name, port.Options), true)
		k.release(p, a, false)
		k.release(p, again, false)
		if ok && !a.equal(again) {
			k.errorf("deterministic", "%s answered %s, then %s", what, a, again)
			return
		}
		k.checkHeld(p, what+" twice, then CtxDestroy for each")
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
				k.release(p, a, false)
				return
			}
			if a.class == "invalid" {
				k.errorf("deadline", "%s = %s; running out of time is not an invalid request (use providers.NotReady)", what, a)
				return
			}
			if a.class == "plug" {
				k.checkAnswer(what, a, p.MaintainedIfaceOptions())
				k.release(p, a, false)
				k.checkHeld(p, what+", then CtxDestroy")
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
			k.call("Run", nil, func() { providers.RunOnce(ctx, p) })
			k.call("Health", nil, func() { _ = providers.Health(p) })
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
					k.release(p, a, round%2 == 0)
					if !returned || !a.equal(want) {
						bad.CompareAndSwap(nil, fmt.Sprintf("%s answered %s under concurrent calls, %s alone", k.describe(providers.OpCreate, in), a, want))
						return
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
	k.checkHeld(p, fmt.Sprintf("%d concurrent callers, each answer released", k.c.clients))
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
		var changed bool
		k.call("Run", nil, func() { changed = providers.RunOnce(ctx, p) })
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
