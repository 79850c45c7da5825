package providertest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers/providertest"
)

// recorder is a testing.TB that keeps the kit's failures instead of
// failing the test, so the kit's own tests can show it catches each bug.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Logf(string, ...any)       {}
func (r *recorder) Log(...any)                {}
func (r *recorder) Error(args ...any)         { r.add(fmt.Sprint(args...)) }
func (r *recorder) Errorf(f string, a ...any) { r.add(fmt.Sprintf(f, a...)) }
func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, s)
}

// bugs selects what the fake provider gets wrong.
type bugs struct {
	refuseRemoveBadOptions bool
	refuseRemoveExpired    bool
	nondeterministic       bool
	longName               bool
	untypedError           bool
	noReason               bool
	ignoreDeadline         bool
	invalidOnDeadline      bool
	unlistedOption         bool
	nilMaintained          bool
	neverChanged           bool
	leak                   bool
	sharedScratch          bool
	mutatesInput           bool
	panicsInFinish         bool
	refusesPlugged         bool
	hangs                  bool
	unhelpful              bool
	// Per-answer reservations, as a vendor's provider keeps them.
	leakAnswers        bool // CtxDestroy forgets to release
	doubleRelease      bool // Finish and CtxDestroy both release
	panicsInCtxDestroy bool
	panicsInDestroy    bool
}

const idKey = "vif-plug:fake:id"

// fake plugs internal interface fake<id> for ids 0-49, and ids 50-99 once
// its view (the world flag) says they exist; a goroutine started by Init
// watches the flag and calls Changed. Each answer takes a reference on a
// reservation of its interface, released by CtxDestroy; the last
// reference closes the reservation's channel.
type fake struct {
	b     bugs
	world *atomic.Bool

	inited  atomic.Bool
	calls   atomic.Int64
	scratch atomic.Pointer[string]
	stop    chan struct{}
	done    chan struct{}

	mu  sync.Mutex
	res map[string]*reservation
}

type reservation struct {
	refs  int
	freed chan struct{}
}

func (f *fake) reserve(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.res[name]
	if r == nil || r.refs == 0 {
		r = &reservation{freed: make(chan struct{})}
		f.res[name] = r
	}
	r.refs++
}

func (f *fake) unreserve(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.res[name]
	if r == nil {
		return
	}
	r.refs--
	if r.refs == 0 {
		close(r.freed)
	}
}

func (f *fake) outstanding() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.res {
		n += r.refs
	}
	return n
}

func (f *fake) Type() string { return "fake" }

func (f *fake) MaintainedIfaceOptions() []string {
	if f.b.nilMaintained {
		return nil
	}
	return []string{"fake-id"}
}

func (f *fake) Init(env providers.Env) error {
	f.inited.Store(true)
	f.stop, f.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(f.done)
		seen := f.world.Load()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-f.stop:
				return
			case <-t.C:
			}
			if now := f.world.Load(); now != seen {
				seen = now
				if !f.b.neverChanged {
					env.Changed()
				}
			}
		}
	}()
	return nil
}

func (f *fake) Destroy() error {
	if !f.b.leak {
		close(f.stop)
		<-f.done
	}
	if f.b.panicsInDestroy {
		panic("destroy")
	}
	return nil
}

func (f *fake) Prepare(ctx context.Context, in *providers.PortCtxIn, out *providers.PortCtxOut) error {
	if f.b.hangs {
		select {}
	}
	if f.b.mutatesInput {
		in.LportOptions["seen"] = "yes"
	}
	if in.Op == providers.OpRemove {
		switch {
		case f.b.refuseRemoveExpired && ctx.Err() != nil:
			return providers.NotReady("no time")
		case f.b.refuseRemoveBadOptions:
			if _, err := strconv.Atoi(in.LportOptions[idKey]); err != nil {
				return providers.Invalid("bad id")
			}
		}
		return nil
	}
	if f.b.ignoreDeadline {
		if _, ok := ctx.Deadline(); ok {
			time.Sleep(1500 * time.Millisecond)
		}
	}
	if err := ctx.Err(); err != nil {
		if f.b.invalidOnDeadline {
			return providers.Invalid("%v", err)
		}
		return providers.NotReady("%v", err)
	}
	id, err := strconv.Atoi(in.LportOptions[idKey])
	if err != nil || id < 0 || id > 99 {
		switch {
		case f.b.untypedError:
			return errors.New("bad id")
		case f.b.noReason:
			return &providers.InvalidError{}
		}
		return providers.Invalid("%s=%q: want 0 to 99", idKey, in.LportOptions[idKey])
	}
	if id >= 50 && !f.world.Load() {
		return providers.NotReady("no device %d yet", id)
	}
	if f.b.refusesPlugged && in.IfaceName != "" {
		return providers.NotReady("already plugged")
	}
	name := "fake" + strconv.Itoa(id)
	if f.b.nondeterministic {
		name += "-" + strconv.FormatInt(f.calls.Add(1)%3, 10)
	}
	if f.b.longName {
		name = "fake-interface-" + name
	}
	if f.b.sharedScratch {
		mine := name
		f.scratch.Store(&mine)
		time.Sleep(time.Millisecond)
		name = *f.scratch.Load()
	}
	out.Name, out.Type = name, "internal"
	out.IfaceOptions = map[string]string{"fake-id": strconv.Itoa(id)}
	if f.b.unlistedOption {
		out.IfaceOptions["extra"] = "1"
	}
	f.reserve(name)
	return nil
}

func (f *fake) Finish(in *providers.PortCtxIn, out *providers.PortCtxOut) {
	if f.b.panicsInFinish {
		panic("finish")
	}
	if f.b.doubleRelease && out != nil {
		f.unreserve(out.Name)
	}
}

func (f *fake) CtxDestroy(_ *providers.PortCtxIn, out *providers.PortCtxOut) {
	if f.b.panicsInCtxDestroy {
		panic("ctx destroy")
	}
	if !f.b.leakAnswers {
		f.unreserve(out.Name)
	}
}

func factory(b bugs, world *atomic.Bool) providers.Factory {
	help := "the fake's only option"
	if b.unhelpful {
		help = ""
	}
	return providers.Factory{
		Type:    "fake",
		Options: []providers.Option{{Key: "strict", Default: "true", Help: help}},
		New: func(cfg providers.Config) (providers.Provider, error) {
			if _, err := cfg.Bool("strict"); err != nil {
				return nil, err
			}
			return &fake{b: b, world: world, res: map[string]*reservation{}}, nil
		},
	}
}

func check(b bugs, extra ...providertest.Option) []string {
	world := &atomic.Bool{}
	r := &recorder{}
	opts := append([]providertest.Option{
		providertest.Ports(
			providertest.Port{Name: "lp1", Options: map[string]string{idKey: "1"}},
			providertest.Port{Name: "lp2", Options: map[string]string{idKey: "2"}},
			providertest.Port{Name: "lp60", Options: map[string]string{idKey: "60"}, Want: providertest.NotReady},
			providertest.Port{Name: "bad", Options: map[string]string{idKey: "many"}, Want: providertest.Invalid},
		),
		providertest.ChangeView(func() error { world.Store(true); return nil }),
		providertest.Wait(time.Second),
		providertest.DeadlineSlack(500 * time.Millisecond), // generous for a loaded machine
		providertest.Outstanding(func(p providers.Provider) int { return p.(*fake).outstanding() }),
	}, extra...)
	providertest.TestProvider(r, factory(b, world), opts...)
	return r.errs
}

func TestGoodProviderPasses(t *testing.T) {
	if errs := check(bugs{}); len(errs) > 0 {
		t.Fatalf("the kit failed a correct provider:\n%s", strings.Join(errs, "\n"))
	}
}

// TestCatchesEachBug: every deliberately broken provider fails the kit,
// on the check named for its bug.
func TestCatchesEachBug(t *testing.T) {
	for _, tc := range []struct {
		name  string
		b     bugs
		check string
		opts  []providertest.Option
	}{
		{"refuses removal with bad options", bugs{refuseRemoveBadOptions: true}, "remove: ", nil},
		{"refuses removal with an expired context", bugs{refuseRemoveExpired: true}, "with an expired context refused", nil},
		{"answers differently each time", bugs{nondeterministic: true}, "deterministic: ", nil},
		{"names an internal interface beyond 15 bytes", bugs{longName: true}, "name: ", nil},
		{"refuses with an untyped error", bugs{untypedError: true}, "refusal: ", nil},
		{"refuses without a reason", bugs{noReason: true}, "refused without a reason", nil},
		{"ignores its deadline", bugs{ignoreDeadline: true}, "deadline: ", nil},
		{"calls running out of time invalid", bugs{invalidOnDeadline: true}, "is not an invalid request", nil},
		{"sets an option it does not maintain", bugs{unlistedOption: true}, `sets option "extra", which MaintainedIfaceOptions`, nil},
		{"sets options with a nil maintained set", bugs{nilMaintained: true}, "MaintainedIfaceOptions is nil", nil},
		{"never calls Changed", bugs{neverChanged: true}, "changed: ", nil},
		{"leaks its goroutine", bugs{leak: true}, "leak: 1 goroutine(s)", nil},
		{"shares state across concurrent Prepares", bugs{sharedScratch: true}, "concurrent: ", nil},
		{"modifies its input", bugs{mutatesInput: true}, "input: ", nil},
		{"panics in Finish", bugs{panicsInFinish: true}, "panic: ", nil},
		{"leaks an answer's reservation", bugs{leakAnswers: true}, "leak", nil},
		{"releases an answer twice", bugs{doubleRelease: true}, "double release", nil},
		{"refuses a port it plugged", bugs{refusesPlugged: true}, "for its own plugged interface", nil},
		{"hangs in Prepare", bugs{hangs: true}, "did not return", []providertest.Option{providertest.Wait(100 * time.Millisecond)}},
		{"has an option without help", bugs{unhelpful: true}, `config: option "strict" has no Help`, nil},
		{"is given a bad config", bugs{}, `provider.fake.strict="perhaps"`, []providertest.Option{providertest.Config(map[string]string{"strict": "perhaps"})}},
		{"is given no port to plug", bugs{}, "setup: give at least one Port", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errs []string
			if strings.HasPrefix(tc.check, "setup:") {
				r := &recorder{}
				providertest.TestProvider(r, factory(tc.b, &atomic.Bool{}), providertest.Ports(providertest.Port{Name: "x", Want: providertest.Invalid}))
				errs = r.errs
			} else {
				errs = check(tc.b, tc.opts...)
			}
			for _, e := range errs {
				if strings.Contains(e, tc.check) {
					return
				}
			}
			t.Errorf("the kit did not catch a provider that %s (want a failure containing %q); it reported:\n%s", tc.name, tc.check, strings.Join(errs, "\n"))
		})
	}
}

// TestOneLinePerBug: a leak, a double release and a panic in Finish,
// CtxDestroy or Destroy each fail the kit with exactly one line that
// names what went wrong: the call, the port and the op.
func TestOneLinePerBug(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    bugs
		want string
	}{
		{"leak", bugs{leakAnswers: true},
			`providertest: fake: outstanding: Prepare(create, "lp1", map[vif-plug-type:fake vif-plug:fake:id:1]) twice, then Finish and CtxDestroy: Outstanding is 2, 0 after Init: an answer was not released (leak)`},
		{"double release", bugs{doubleRelease: true},
			`providertest: fake: outstanding: Prepare(create, "lp1", map[vif-plug-type:fake vif-plug:fake:id:1]) twice, then Finish and CtxDestroy: Outstanding is -1, 0 after Init: something was released twice (double release)`},
		{"panic in Finish", bugs{panicsInFinish: true}, `providertest: fake: panic: Finish(create, "lp1") panicked: finish`},
		{"panic in CtxDestroy", bugs{panicsInCtxDestroy: true}, `providertest: fake: panic: CtxDestroy(create, "lp1") panicked: ctx destroy`},
		{"panic in Destroy", bugs{panicsInDestroy: true}, `providertest: fake: panic: Destroy panicked: destroy`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := check(tc.b)
			if len(errs) != 1 || errs[0] != tc.want {
				t.Errorf("the kit reported %d line(s), want exactly\n%s\ngot:\n%s", len(errs), tc.want, strings.Join(errs, "\n"))
			}
		})
	}
}

// A panic in CtxDestroy or Outstanding counting is reported even when
// the answers are only released concurrently: the kit also checks at the
// end.
func TestOutstandingAtTheEnd(t *testing.T) {
	var calls atomic.Int64
	errs := check(bugs{}, providertest.Outstanding(func(p providers.Provider) int {
		// Reports one more held after the concurrent check, as a leak
		// there would.
		if calls.Add(1) > 40 {
			return p.(*fake).outstanding() + 1
		}
		return p.(*fake).outstanding()
	}))
	for _, e := range errs {
		if strings.Contains(e, "outstanding: ") && strings.Contains(e, "(leak)") {
			return
		}
	}
	t.Fatalf("a provider holding one more at the end passed; the kit reported:\n%s", strings.Join(errs, "\n"))
}

// auditor checks the kit's calls against the contract the kit checks:
// nothing before Init or after Destroy, and every nil Prepare(OpCreate)
// answer ended by exactly one CtxDestroy, Finish only before it, both on
// the in and out pointers Prepare got.
type auditor struct {
	mu        sync.Mutex
	inited    bool
	destroyed bool
	answers   map[*providers.PortCtxOut]*providers.PortCtxIn
	ended     map[*providers.PortCtxOut]bool
	creates   int
	errs      []string
}

func (a *auditor) bad(format string, args ...any) {
	if msg := fmt.Sprintf(format, args...); !slices.Contains(a.errs, msg) {
		a.errs = append(a.errs, msg)
	}
}

func (a *auditor) live(method string) {
	if !a.inited || a.destroyed {
		a.bad("%s called outside Init..Destroy", method)
	}
}

func (*auditor) Type() string                     { return "auditor" }
func (*auditor) MaintainedIfaceOptions() []string { return []string{} }
func (a *auditor) Init(providers.Env) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.inited = true
	return nil
}

func (a *auditor) Destroy() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.destroyed = true
	return nil
}

func (a *auditor) Prepare(_ context.Context, in *providers.PortCtxIn, out *providers.PortCtxOut) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.live("Prepare")
	if in.Op == providers.OpRemove {
		return nil
	}
	if _, err := strconv.Atoi(in.LportOptions[idKey]); err != nil {
		return providers.Invalid("bad id")
	}
	a.creates++
	a.answers[out] = in
	out.Name = "a" + in.LportOptions[idKey]
	return nil
}

func (a *auditor) end(method string, in *providers.PortCtxIn, out *providers.PortCtxOut) {
	a.live(method)
	switch prepared, ok := a.answers[out]; {
	case !ok:
		a.bad("%s got an out Prepare did not fill", method)
	case prepared != in:
		a.bad("%s got another in than Prepare", method)
	case a.ended[out]:
		a.bad("%s after CtxDestroy", method)
	}
}

func (a *auditor) Finish(in *providers.PortCtxIn, out *providers.PortCtxOut) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if out != nil {
		a.end("Finish", in, out)
	}
}

func (a *auditor) CtxDestroy(in *providers.PortCtxIn, out *providers.PortCtxOut) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.end("CtxDestroy", in, out)
	a.ended[out] = true
}

func TestKitKeepsTheContract(t *testing.T) {
	var built []*auditor
	f := providers.Factory{Type: "auditor", New: func(providers.Config) (providers.Provider, error) {
		a := &auditor{answers: map[*providers.PortCtxOut]*providers.PortCtxIn{}, ended: map[*providers.PortCtxOut]bool{}}
		built = append(built, a)
		return a, nil
	}}
	providertest.TestProvider(t, f, providertest.Ports(
		providertest.Port{Name: "lp1", Options: map[string]string{idKey: "1"}},
		providertest.Port{Name: "lp2", Options: map[string]string{idKey: "2"}},
		providertest.Port{Name: "bad", Options: map[string]string{idKey: "x"}, Want: providertest.Invalid},
	))
	var errs []string
	creates, ended := 0, 0
	for _, a := range built {
		a.mu.Lock()
		creates += a.creates
		for out := range a.answers {
			if a.ended[out] {
				ended++
			}
		}
		errs = append(errs, a.errs...)
		a.mu.Unlock()
	}
	if creates == 0 || ended != creates || len(errs) > 0 {
		t.Fatalf("the kit broke the contract: %d answers, %d ended by CtxDestroy\n%s", creates, ended, strings.Join(errs, "\n"))
	}
}
