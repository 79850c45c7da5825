package providers

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Errors returned by the registry. They mirror the errno values OVN's
// registry returns (EEXIST, EINVAL).
var (
	ErrExists  = errors.New("provider already registered")
	ErrUnknown = errors.New("no such provider")
)

var (
	compiledMu sync.Mutex
	compiled   = map[string]Factory{}
)

var optionKey = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Add makes a provider type available to the binary. Provider packages
// call it from init(). A duplicate type, a factory without New, or a
// malformed or duplicate option key is a programming error and panics, as
// database/sql.Register does.
func Add(f Factory) {
	compiledMu.Lock()
	defer compiledMu.Unlock()
	if f.Type == "" || f.New == nil {
		panic("providers: Add needs a Type and a New function")
	}
	if strings.ContainsAny(f.Type, ".,= \t") {
		panic(fmt.Sprintf("providers: type %q cannot appear in --provider.<type>.<key> or --providers", f.Type))
	}
	if _, dup := compiled[f.Type]; dup {
		panic("providers: Add called twice for type " + f.Type)
	}
	seen := map[string]bool{}
	for _, o := range f.Options {
		if !optionKey.MatchString(o.Key) || seen[o.Key] {
			panic(fmt.Sprintf("providers: %s: option key %q is malformed or repeated", f.Type, o.Key))
		}
		seen[o.Key] = true
	}
	compiled[f.Type] = f
}

// Compiled returns the types of all compiled-in providers, sorted.
func Compiled() []string {
	compiledMu.Lock()
	defer compiledMu.Unlock()
	types := make([]string, 0, len(compiled))
	for t := range compiled {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// CompiledFactory returns the factory of a compiled-in provider type.
func CompiledFactory(typ string) (Factory, bool) {
	compiledMu.Lock()
	defer compiledMu.Unlock()
	f, ok := compiled[typ]
	return f, ok
}

// Registry holds the providers that are live in this process.
type Registry struct {
	mu        sync.RWMutex
	env       func(typ string) Env
	instances map[string]*Instance
	failed    map[string]error
	onPanic   func(Panic)
}

// OnPanic sets a function told of every provider panic the registry's
// instances contain (after it is logged), such as a test harness that
// fails on one. Set it before Register; f must not block.
func (r *Registry) OnPanic(f func(Panic)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onPanic = f
}

// NewRegistry returns an empty registry. envFor builds the Env handed to
// each provider's Init; it may be nil.
func NewRegistry(envFor func(typ string) Env) *Registry {
	if envFor == nil {
		envFor = func(string) Env { return Env{Changed: func() {}, SysfsRoot: "/sys"} }
	}
	return &Registry{env: envFor, instances: map[string]*Instance{}, failed: map[string]error{}}
}

// Register runs p's Init (if it has one) and adds it. It fails with
// ErrExists if the type is already registered, or with Init's error, which
// InitError then reports until a later Register of the type succeeds.
func (r *Registry) Register(p Provider) error {
	if p == nil {
		return errors.New("register: nil provider")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	typ := p.Type()
	if _, dup := r.instances[typ]; dup {
		return fmt.Errorf("%w: %q", ErrExists, typ)
	}
	env := r.env(typ)
	if env.Changed == nil {
		env.Changed = func() {}
	}
	if err := initContained(p, env, r.onPanic); err != nil {
		r.failed[typ] = err
		return fmt.Errorf("provider %q: init: %w", typ, err)
	}
	delete(r.failed, typ)
	r.instances[typ] = newInstance(p, r.onPanic)
	return nil
}

// initContained runs Init; a panic in it is its error.
func initContained(p Provider, env Env, report func(Panic)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = contain(p.Type(), "Init", nil, r, report)
		}
	}()
	return Init(p, env)
}

// InitError returns the error of the last failed Register of a type that
// is not registered, or nil.
func (r *Registry) InitError(typ string) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.failed[typ]
}

// Unregister destroys the provider (see Instance.Destroy) and removes it.
// It fails with ErrUnknown if no provider of that type is registered.
func (r *Registry) Unregister(typ string) error {
	r.mu.Lock()
	in, ok := r.instances[typ]
	delete(r.instances, typ)
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknown, typ)
	}
	return in.Destroy()
}

// Get returns the live provider of a type, or ErrUnknown.
func (r *Registry) Get(typ string) (*Instance, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	in, ok := r.instances[typ]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknown, typ)
	}
	return in, nil
}

// Types returns the registered types, sorted.
func (r *Registry) Types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	types := make([]string, 0, len(r.instances))
	for t := range r.instances {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Enabled returns the live providers, sorted by type.
func (r *Registry) Enabled() []*Instance {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Instance, 0, len(r.instances))
	for _, in := range r.instances {
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b *Instance) int { return strings.Compare(a.typ, b.typ) })
	return out
}

// Status is one provider's health.
type Status struct {
	Type string
	// Up is true when the provider is registered and reports no health
	// error.
	Up bool
	// Err is the Init error, or the provider's health error, or nil.
	Err error
}

// Status reports the health of each of types (the ones the operator
// enabled), in that order: up, or why not. Nil means every type that was
// registered or failed to, sorted.
func (r *Registry) Status(types []string) []Status {
	if types == nil {
		r.mu.RLock()
		for t := range r.instances {
			types = append(types, t)
		}
		for t := range r.failed {
			if _, ok := r.instances[t]; !ok {
				types = append(types, t)
			}
		}
		r.mu.RUnlock()
		slices.Sort(types)
	}
	out := make([]Status, 0, len(types))
	for _, typ := range types {
		s := Status{Type: typ}
		r.mu.RLock()
		in, ok := r.instances[typ]
		failed := r.failed[typ]
		r.mu.RUnlock()
		switch {
		case ok:
			s.Err = in.Health()
		case failed != nil:
			s.Err = failed
		default:
			s.Err = errors.New("not started")
		}
		s.Up = s.Err == nil
		out = append(out, s)
	}
	return out
}

// DestroyAll unregisters every provider, running each Destroy, and returns
// the errors joined.
func (r *Registry) DestroyAll() error {
	var errs []error
	for _, t := range r.Types() {
		if err := r.Unregister(t); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Select parses a --providers value: a comma-separated list of compiled-in
// types, or "" / "all" for all of them. Unknown names are an error.
func Select(spec string) ([]string, error) {
	all := Compiled()
	if spec == "" || spec == "all" {
		return all, nil
	}
	var out []string
	for _, name := range splitList(spec) {
		if !slices.Contains(all, name) {
			return nil, fmt.Errorf("--providers: %q is not compiled in (compiled in: %v)", name, all)
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, w := range strings.Split(s, ",") {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}
