package providers

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Option documents one configuration key a provider accepts. The binary
// turns each into a flag --provider.<type>.<Key> and a key of the
// provider's section in the config file.
type Option struct {
	// Key is lower-case words joined by '-', like "resync-interval".
	Key string
	// Default is used when the key is not set; it must be a valid value.
	Default string
	// Help is one line for --help.
	Help string
}

// Factory makes providers of one type. Providers register a Factory from
// init() with Add.
type Factory struct {
	// Type is the vif-plug-type the providers serve.
	Type string
	// Options are the configuration keys New accepts; any other key is a
	// configuration error before New is called.
	Options []Option
	// New builds a provider from its configuration. It only parses and
	// checks cfg and must not touch the system (Init does that): an error
	// here is a configuration error, so the binary exits 2 with it.
	New func(cfg Config) (Provider, error)
}

// Config is one provider's configuration: every declared key, with its
// default when not set. Its typed getters return errors that name the
// key and the value, ready to show to the operator.
type Config struct {
	typ    string
	values map[string]string
	set    map[string]bool
}

// ConfigError is a bad key or value in a provider's configuration.
type ConfigError struct {
	Type, Key, Value, Reason string
}

func (e *ConfigError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("provider.%s.%s: %s", e.Type, e.Key, e.Reason)
	}
	return fmt.Sprintf("provider.%s.%s=%q: %s", e.Type, e.Key, e.Value, e.Reason)
}

// NewConfig checks set against f's declared options and fills in the
// defaults. An undeclared key is an error that lists the declared ones.
func NewConfig(f Factory, set map[string]string) (Config, error) {
	c := Config{typ: f.Type, values: map[string]string{}, set: map[string]bool{}}
	for _, o := range f.Options {
		c.values[o.Key] = o.Default
	}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if _, ok := c.values[k]; !ok {
			return Config{}, &ConfigError{Type: f.Type, Key: k, Reason: "unknown key; " + f.keysText()}
		}
		c.values[k] = set[k]
		c.set[k] = true
	}
	return c, nil
}

// Build makes a provider from f with the given keys set: NewConfig, then
// New. Every error is a configuration error.
func (f Factory) Build(set map[string]string) (Provider, error) {
	cfg, err := NewConfig(f, set)
	if err != nil {
		return nil, err
	}
	p, err := f.New(cfg)
	var ce *ConfigError
	if errors.As(err, &ce) {
		return nil, err // it names the provider already
	}
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", f.Type, err)
	}
	if p == nil {
		return nil, fmt.Errorf("provider %s: New returned no provider", f.Type)
	}
	if p.Type() != f.Type {
		return nil, fmt.Errorf("provider %s: New returned a provider of type %q", f.Type, p.Type())
	}
	return p, nil
}

func (f Factory) keysText() string {
	if len(f.Options) == 0 {
		return "the provider takes no options"
	}
	keys := make([]string, len(f.Options))
	for i, o := range f.Options {
		keys[i] = o.Key
	}
	return "known keys: " + strings.Join(keys, ", ")
}

// Type is the provider type this configuration is for.
func (c Config) Type() string { return c.typ }

// IsSet reports whether key was set explicitly rather than defaulted.
func (c Config) IsSet(key string) bool { return c.set[key] }

// String returns key's value. Asking for an undeclared key panics: it is
// a bug in the provider, not in the operator's configuration.
func (c Config) String(key string) string {
	v, ok := c.values[key]
	if !ok {
		panic(fmt.Sprintf("providers: %s asked for undeclared config key %q", c.typ, key))
	}
	return v
}

// Errorf returns a *ConfigError for key's value, for a provider's own
// checks in New: the operator then sees which key is wrong and why.
func (c Config) Errorf(key, format string, args ...any) error {
	return &ConfigError{Type: c.typ, Key: key, Value: c.values[key], Reason: fmt.Sprintf(format, args...)}
}

// Bool parses key as true or false (also 1/0, t/f, as strconv does).
func (c Config) Bool(key string) (bool, error) {
	b, err := strconv.ParseBool(c.String(key))
	if err != nil {
		return false, c.Errorf(key, "want true or false")
	}
	return b, nil
}

// Int parses key as a decimal integer in [min, max].
func (c Config) Int(key string, min, max int) (int, error) {
	n, err := strconv.Atoi(c.String(key))
	if err != nil || n < min || n > max {
		return 0, c.Errorf(key, "want an integer from %d to %d", min, max)
	}
	return n, nil
}

// Duration parses key as a Go duration ("30s", "5m"); negative values are
// refused.
func (c Config) Duration(key string) (time.Duration, error) {
	d, err := time.ParseDuration(c.String(key))
	if err != nil || d < 0 {
		return 0, c.Errorf(key, "want a duration such as 30s or 5m")
	}
	return d, nil
}
