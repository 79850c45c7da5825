package app

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar"
)

// providerFlags is each provider's configuration: --provider.<type>.<key>
// flags over the --provider-config file.
type providerFlags struct {
	file  string
	flags map[string]map[string]string // set on the command line
}

// providerValue is one --provider.<type>.<key> flag.
type providerValue struct {
	pf       *providerFlags
	typ, key string
	def      string
}

func (v *providerValue) String() string {
	if v == nil || v.pf == nil {
		return ""
	}
	if s, ok := v.pf.flags[v.typ][v.key]; ok {
		return s
	}
	return v.def
}

func (v *providerValue) Set(s string) error {
	if v.pf.flags[v.typ] == nil {
		v.pf.flags[v.typ] = map[string]string{}
	}
	v.pf.flags[v.typ][v.key] = s
	return nil
}

// providerFlagSet declares every compiled-in provider's options.
func providerFlagSet(pf *providerFlags) *flag.FlagSet {
	pf.flags = map[string]map[string]string{}
	fs := flag.NewFlagSet("providers", flag.ContinueOnError)
	fs.StringVar(&pf.file, "provider-config", "", "YAML file of provider options, a map per provider type (representor: {watch: false}); flags override it")
	for _, typ := range providers.Compiled() {
		f, _ := providers.CompiledFactory(typ)
		for _, o := range f.Options {
			fs.Var(&providerValue{pf: pf, typ: typ, key: o.Key, def: o.Default}, "provider."+typ+"."+o.Key, o.Help)
		}
	}
	return fs
}

// checkProviderArgs explains a --provider.<type>.<key> flag that names an
// unknown provider or key better than the flag package's "not defined":
// which providers are compiled in, or which keys the provider has.
func checkProviderArgs(args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		rest, ok := strings.CutPrefix(name, "provider.")
		if !ok || !strings.HasPrefix(a, "-") {
			continue
		}
		typ, key, _ := strings.Cut(rest, ".")
		f, ok := providers.CompiledFactory(typ)
		if !ok {
			return fmt.Errorf("--%s: %q is not a compiled-in provider (compiled in: %v)", name, typ, providers.Compiled())
		}
		if _, err := providers.NewConfig(f, map[string]string{key: ""}); err != nil {
			return fmt.Errorf("--%v", err)
		}
	}
	return nil
}

// build checks every compiled-in provider's configuration (unknown keys
// are an error even for providers not enabled) and builds the enabled
// ones. Every error is one line naming the flag or file and the key.
func (pf *providerFlags) build(enabled []string) (map[string]providers.Provider, error) {
	fromFile := map[string]map[string]string{}
	if pf.file != "" {
		data, err := readFlagFile("provider-config", pf.file)
		if err != nil {
			return nil, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&fromFile); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("--provider-config %s: want a map of provider type to a map of option to value: %v", pf.file, oneLine(err))
		}
		for _, typ := range slices.Sorted(maps.Keys(fromFile)) {
			if _, ok := providers.CompiledFactory(typ); !ok {
				return nil, fmt.Errorf("--provider-config %s: %q is not a compiled-in provider (compiled in: %v)", pf.file, typ, providers.Compiled())
			}
		}
	}
	built := map[string]providers.Provider{}
	for _, typ := range providers.Compiled() {
		f, _ := providers.CompiledFactory(typ)
		set := maps.Clone(fromFile[typ])
		if set == nil {
			set = map[string]string{}
		}
		maps.Copy(set, pf.flags[typ])
		var err error
		if slices.Contains(enabled, typ) {
			built[typ], err = f.Build(set)
		} else {
			_, err = providers.NewConfig(f, set)
		}
		if err != nil {
			return nil, pf.explain(err)
		}
	}
	return built, nil
}

// explain says where a bad key or value came from.
func (pf *providerFlags) explain(err error) error {
	var ce *providers.ConfigError
	if errors.As(err, &ce) {
		if _, ok := pf.flags[ce.Type][ce.Key]; ok {
			return fmt.Errorf("--%v", ce)
		}
		if pf.file != "" {
			return fmt.Errorf("--provider-config %s: %v", pf.file, ce)
		}
	}
	return err
}

func oneLine(err error) string {
	return string(bytes.ReplaceAll([]byte(err.Error()), []byte("\n"), []byte("; ")))
}

// providerUp is ovn_vif_sidecar_provider_up{provider}: 1 when an enabled
// provider is running and healthy, 0 when its Init failed or it reports a
// health error.
type providerUp struct {
	desc    *prometheus.Desc
	reg     *providers.Registry
	enabled []string
}

func newProviderUp(reg *providers.Registry, enabled []string) *providerUp {
	return &providerUp{
		desc:    prometheus.NewDesc(sidecar.Namespace+"_provider_up", "1 when the provider is initialised and healthy, 0 when its Init failed or it reports a health error.", []string{"provider"}, nil),
		reg:     reg,
		enabled: enabled,
	}
}

func (c *providerUp) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *providerUp) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.reg.Status(c.enabled) {
		v := 0.0
		if s.Up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, s.Type)
	}
}
