package providers

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Errors returned by the registry. They mirror the errno values OVN's
// registry returns (EEXIST, EINVAL).
var (
	ErrExists   = errors.New("provider already registered")
	ErrUnknown  = errors.New("no such provider")
	ErrDisabled = errors.New("provider is disabled")
)

var (
	compiledMu sync.Mutex
	compiled   = map[string]Provider{}
)

// Add makes a provider available to the binary. Provider packages call it
// from init(). Adding the same type twice is a programming error and panics,
// as database/sql.Register does.
func Add(p Provider) {
	compiledMu.Lock()
	defer compiledMu.Unlock()
	if p == nil {
		panic("providers: Add of nil provider")
	}
	if _, dup := compiled[p.Type()]; dup {
		panic("providers: Add called twice for type " + p.Type())
	}
	compiled[p.Type()] = p
}

// Compiled returns the types of all compiled-in providers, sorted.
func Compiled() []string {
	compiledMu.Lock()
	defer compiledMu.Unlock()
	types := make([]string, 0, len(compiled))
	for t := range compiled {
		types = append(types, t)
	}
	sort.Strings(types)
	return types
}

// CompiledProvider returns the compiled-in provider for a type.
func CompiledProvider(typ string) (Provider, bool) {
	compiledMu.Lock()
	defer compiledMu.Unlock()
	p, ok := compiled[typ]
	return p, ok
}

// Registry holds the providers that are live in this process.
type Registry struct {
	mu        sync.RWMutex
	env       func(typ string) Env
	providers map[string]Provider
	enabled   map[string]bool
	failed    map[string]error
}

// NewRegistry returns an empty registry. envFor builds the Env handed to
// each provider's Init; it may be nil.
func NewRegistry(envFor func(typ string) Env) *Registry {
	if envFor == nil {
		envFor = func(string) Env { return Env{Changed: func() {}, SysfsRoot: "/sys"} }
	}
	return &Registry{env: envFor, providers: map[string]Provider{}, enabled: map[string]bool{}, failed: map[string]error{}}
}

// Register runs p's Init and adds it, enabled. It fails with ErrExists if
// the type is already registered, or with Init's error.
func (r *Registry) Register(p Provider) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	typ := p.Type()
	if _, dup := r.providers[typ]; dup {
		return fmt.Errorf("%w: %q", ErrExists, typ)
	}
	if err := p.Init(r.env(typ)); err != nil {
		r.failed[typ] = err
		return fmt.Errorf("provider %q: init: %w", typ, err)
	}
	delete(r.failed, typ)
	r.providers[typ] = p
	r.enabled[typ] = true
	return nil
}

// InitError returns the error of the last failed Register of a type that
// is not registered, or nil.
func (r *Registry) InitError(typ string) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.failed[typ]
}

// Unregister runs the provider's Destroy and removes it. It fails with
// ErrUnknown if no provider of that type is registered.
func (r *Registry) Unregister(typ string) error {
	r.mu.Lock()
	p, ok := r.providers[typ]
	if ok {
		delete(r.providers, typ)
		delete(r.enabled, typ)
	}
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknown, typ)
	}
	return p.Destroy()
}

// SetEnabled switches a registered provider on or off. A disabled provider
// stays initialised but Get refuses it.
func (r *Registry) SetEnabled(typ string, on bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.providers[typ]; !ok {
		return fmt.Errorf("%w: %q", ErrUnknown, typ)
	}
	r.enabled[typ] = on
	return nil
}

// Get returns the enabled provider for a type. The error is ErrUnknown when
// the type is not registered and ErrDisabled when it is switched off.
func (r *Registry) Get(typ string) (Provider, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.providers[typ]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknown, typ)
	}
	if !r.enabled[typ] {
		return nil, fmt.Errorf("%w: %q", ErrDisabled, typ)
	}
	return p, nil
}

// Types returns the registered types, sorted.
func (r *Registry) Types() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	types := make([]string, 0, len(r.providers))
	for t := range r.providers {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Enabled returns the registered and enabled providers, sorted by type.
func (r *Registry) Enabled() []Provider {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Provider
	for t, p := range r.providers {
		if r.enabled[t] {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type() < out[j].Type() })
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
