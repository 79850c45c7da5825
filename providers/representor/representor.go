// Package representor is the ovn-vif "representor" VIF plug provider for
// SmartNIC DPUs (NVIDIA BlueField): it plugs the DPU-side representor of
// a host PF, VF or SF, identified by the host PF's MAC and the function
// number, as a system interface named after the representor netdev.
//
// Answers come from an hwdb index built at Init and kept current by
// netlink link events, so Prepare is a few map lookups. See
// docs/representor.md for the option keys and supported layouts.
package representor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// Type is the vif-plug-type this provider serves.
const Type = "representor"

// Factory makes representor providers from their configuration
// (--provider.representor.<key>).
var Factory = providers.Factory{
	Type: Type,
	Options: []providers.Option{
		{Key: "watch", Default: "true", Help: "follow netlink link events; false rescans sysfs on every Run instead"},
		{Key: "devlink", Default: "true", Help: "read devlink ports when --sysfs-root is /sys; false uses sysfs only"},
		{Key: "resync-interval", Default: "5m", Help: "full sysfs rescan interval while watching, for changes without a link event; 0 disables"},
	},
	New: newFromConfig,
}

func init() { providers.Add(Factory) }

func newFromConfig(cfg providers.Config) (providers.Provider, error) {
	watch, err := cfg.Bool("watch")
	if err != nil {
		return nil, err
	}
	devlink, err := cfg.Bool("devlink")
	if err != nil {
		return nil, err
	}
	resync, err := cfg.Duration("resync-interval")
	if err != nil {
		return nil, err
	}
	o := Options{Watch: watch, HWDB: hwdb.Options{NoDevlink: !devlink, ResyncInterval: resync}}
	if resync == 0 {
		o.HWDB.ResyncInterval = -1 // hwdb's 0 means its default
	}
	return NewWithOptions(o), nil
}

// Options configures a Provider.
type Options struct {
	// Watch starts hwdb's netlink watcher at Init. Without it the index
	// is refreshed only by Run, which then rescans sysfs.
	Watch bool
	// HWDB is the base hwdb configuration. Init fills SysfsRoot and
	// Logger from the Env when they are empty. Devlink is used only when
	// the root is /sys (see hwdb.Options.DevlinkPorts).
	HWDB hwdb.Options
	// ResolveVUID finds a VUID's host PF; nil runs doca_caps through
	// sriovnet.
	ResolveVUID func(vuid string) (hwdb.PFLocation, error)
}

// Provider is the representor provider.
type Provider struct {
	opts Options

	mu      sync.Mutex // serialises Init and Destroy (tests re-Init one provider)
	unsub   func()
	cur     atomic.Pointer[live]
	lastGen atomic.Uint64
}

// live is what Init sets up, swapped in and out as one.
type live struct {
	db    *hwdb.DB
	log   klog.Logger
	vuids *vuidResolver
}

// New returns a provider with the default configuration: it watches link
// events.
func New() *Provider { return NewWithOptions(Options{Watch: true}) }

// NewWithOptions returns a provider with explicit options, for tests and
// tools.
func NewWithOptions(o Options) *Provider { return &Provider{opts: o} }

func (*Provider) Type() string { return Type }

// Init builds the hardware index from env.SysfsRoot, subscribes
// env.Changed to its changes and starts the link watcher. It fails if
// class/net cannot be read under the root, which is a configuration
// error (a wrong --sysfs-root), not missing hardware.
func (p *Provider) Init(env providers.Env) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.destroyLocked() // the registry inits once; a test may re-Init
	o := p.opts.HWDB
	if o.SysfsRoot == "" {
		o.SysfsRoot = env.SysfsRoot
	}
	if o.Logger.GetSink() == nil {
		o.Logger = env.Logger
	}
	db := hwdb.New(o)
	changed := env.Changed
	if changed == nil {
		changed = func() {}
	}
	// Every change of the index may turn a refusal into a plug, or change
	// a plugged name (udev rename), so the engine reconsiders our ports.
	unsub := db.Subscribe(changed)
	if err := db.Rescan(); err != nil {
		unsub()
		return fmt.Errorf("representor: %w", err)
	}
	p.lastGen.Store(db.Generation())
	if p.opts.Watch {
		db.Start()
	}
	p.unsub = unsub
	resolve := p.opts.ResolveVUID
	if resolve == nil {
		resolve = resolveVUIDWithDocaCaps
	}
	p.cur.Store(&live{db: db, log: o.Logger, vuids: newVUIDResolver(resolve, changed)})
	counts := db.Counts()
	o.Logger.Info("Representor index ready", "sysfsRoot", db.SysfsRoot(), "watch", p.opts.Watch,
		"uplinks", counts[hwdb.FlavourPhysical], "pfs", counts[hwdb.FlavourPCIPF],
		"vfs", counts[hwdb.FlavourPCIVF], "sfs", counts[hwdb.FlavourPCISF])
	return nil
}

// Destroy stops the watcher and drops the index. Plugged ports stay.
func (p *Provider) Destroy() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.destroyLocked()
	return nil
}

func (p *Provider) destroyLocked() {
	cur := p.cur.Swap(nil)
	if cur == nil {
		return
	}
	cur.db.Stop()
	cur.vuids.close()
	p.unsub()
	p.unsub = nil
}

// DB returns the live hardware index, or nil before Init and after
// Destroy. For the hw command and metrics; do not mutate it.
func (p *Provider) DB() *hwdb.DB {
	if cur := p.cur.Load(); cur != nil {
		return cur.db
	}
	return nil
}

// Run reports whether the index changed since the last Run. While the
// link watcher is live that is all it does; without one (not enabled, or
// netlink failing) it rescans sysfs first, so hardware is still found.
func (p *Provider) Run(ctx context.Context) bool {
	cur := p.cur.Load()
	if cur == nil {
		return false
	}
	if !cur.db.Watching() && ctx.Err() == nil {
		if err := cur.db.Rescan(); err != nil {
			cur.log.V(2).Info("Rescan failed", "err", err)
		}
	}
	gen := cur.db.Generation()
	return p.lastGen.Swap(gen) != gen
}

// MaintainedIfaceOptions returns an empty, non-nil set: the provider sets
// no Interface options, so it owns none, and options others put on the
// representor's Interface are never removed. (Nil would mean the same in
// practice; empty says it explicitly.)
func (*Provider) MaintainedIfaceOptions() []string { return []string{} }

// Prepare finds the representor for a port. Removal is always allowed.
// For OpCreate it refuses with an InvalidError when the options are
// malformed or ambiguous, and with a NotReadyError when the hardware is
// not (yet) there: unknown PF MAC, missing VF/SF, or a representor that
// still has its kernel-assigned name.
func (p *Provider) Prepare(ctx context.Context, in *providers.PortCtxIn, out *providers.PortCtxOut) error {
	if in.Op == providers.OpRemove {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return providers.NotReady("prepare abandoned: %v", err)
	}
	req, err := ParseOptions(in.LportOptions)
	if err != nil {
		return err
	}
	cur := p.cur.Load()
	if cur == nil {
		return providers.NotReady("representor provider is not initialised")
	}
	port, err := cur.lookup(ctx, req)
	if err != nil {
		return refusal(req, err)
	}
	if port.KernelName {
		return providers.NotReady("%s: representor %s (ifindex %d, %s) still has its kernel-assigned name; waiting for udev to rename it",
			req, port.Name, port.Ifindex, port.PhysPortName)
	}
	if out != nil {
		out.Name = port.Name
		out.Type = "" // a system interface
		out.IfaceOptions = nil
	}
	return nil
}

func (cur *live) lookup(ctx context.Context, r Request) (hwdb.Port, error) {
	if r.VUID != "" {
		loc, err := cur.vuids.lookup(ctx, r.VUID)
		if err != nil {
			return hwdb.Port{}, err
		}
		switch r.Kind {
		case KindVF:
			return cur.db.LookupVFAt(loc, uint16(r.Num))
		case KindSF:
			return cur.db.LookupSFAt(loc, r.Num)
		}
		return cur.db.LookupPFAt(loc)
	}
	db := cur.db
	switch r.Kind {
	case KindVF:
		return db.LookupVF(r.PFMAC, uint16(r.Num), r.Controller)
	case KindSF:
		return db.LookupSF(r.PFMAC, r.Num, r.Controller)
	}
	return db.LookupPF(r.PFMAC, r.Controller)
}

// refusal types a lookup failure: missing hardware may appear later; an
// ambiguous MAC needs the CMS to say which controller.
func refusal(r Request, err error) error {
	if providers.IsNotReady(err) || providers.IsInvalid(err) {
		return err // already typed, by the VUID resolver
	}
	if errors.Is(err, hwdb.ErrAmbiguousPF) {
		return providers.Invalid("%s: %v; set %s", r, err, OptController)
	}
	// ErrUnknownPF, ErrNoFunction.
	return providers.NotReady("%s: %v", r, err)
}
