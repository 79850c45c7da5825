// Package sidecar is the engine: the OVS and Southbound connections, the
// priming gate, the reconcile loop, OVS transactions, status and metrics.
//
// Data flows one way: caches → desired state → plan.Plan → transaction →
// Finish/CtxDestroy → status. Event handlers only enqueue keys (logical
// port names); a single worker recomputes from the caches.
//
// Goroutines and what they own: libovsdb's event goroutine per connection
// writes the indexes (index.go) and only enqueues; the worker (worker.go)
// reads pinned index views, calls providers (prepare.go), writes OVS
// (txn.go) and records status (status.go); the connections (dbconn) own
// their clients; HTTP only reads the status store and the gauges. This
// file owns the wiring: New connects the parts, Run starts them.
package sidecar

import (
	"context"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/logs"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/dbconn"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// Config is the engine's configuration. Empty SBRemote, Chassis and Bridge
// are read from the Open_vSwitch row's external_ids, as ovn-controller does.
type Config struct {
	OVSRemote string
	SBRemote  string
	Chassis   string
	Bridge    string
	// TLS is used for ssl: SB remotes.
	TLS *tls.Config
	// PrepareTimeout bounds each provider Prepare call.
	PrepareTimeout time.Duration
	// TxnBatch caps the number of ports in one OVS transaction.
	TxnBatch int
	Registry *providers.Registry
	// Changes carries the providers' Env.Changed calls (see
	// NewProviderChanges); nil if no provider reports changes.
	Changes *ProviderChanges
	Metrics *Metrics
	// MetricsRegistry, if set, also receives libovsdb's client metrics.
	MetricsRegistry prometheus.Registerer
}

// resyncInterval is how often everything is recomputed regardless.
const resyncInterval = 2 * time.Minute

// DefaultBridge is the integration bridge when nothing else names one.
const DefaultBridge = "br-int"

// noChassisUUID matches no row; it is the Port_Binding monitor condition
// until the chassis row is known.
const noChassisUUID = "00000000-0000-0000-0000-000000000000"

// Engine plugs and unplugs ports. Create it with New and start it with Run.
// Its fields are set by New and shared; the worker's own state is on w.
type Engine struct {
	cfg     Config
	reg     *providers.Registry
	metrics *Metrics
	q       *queue
	ovs     *dbconn.Conn
	sb      *dbconn.Conn
	// ovsBarrier and sbBarrier tell when the handlers have seen whole
	// updates (see updateBarrier).
	ovsBarrier, sbBarrier *updateBarrier
	// writer carries the OVS transactions (see writer).
	writer *writer
	// ovsIdx is kept by the OVS cache handler (see ovsIndex).
	ovsIdx *ovsIndex
	sbIdx  *sbIndex
	status *statusStore

	mu sync.Mutex
	// id is who the sidecar is and which chassis row it follows.
	id *identity
	// wantedNames maps interface names providers asked for to their
	// logical port, so a conflicting interface's removal wakes the port.
	wantedNames map[string]string
	// wantedNamesKept is wantedNames' size after its last pruning.
	wantedNamesKept int

	// identityRead is set once the Open_vSwitch row was read, so the SB
	// connection does not report a missing chassis name before that.
	identityRead atomic.Bool

	// passes counts completed reconcile passes (for tests and benchmarks).
	passes atomic.Uint64
	// echoes counts echoes of our own writes that needed no pass.
	echoes atomic.Uint64
	// pending are our writes whose echo the cache may not show yet.
	pending *pendingWrites
	// foreign are changes to plugged interfaces that were not ours.
	foreign *foreignWrites
	// dumped is set when a connection got a dump, so that the first
	// primed pass after it calls releaseDump.
	dumped atomic.Bool
	// releaseDump returns the garbage of a dump to the OS. Decoding one
	// leaves more garbage than the caches it fills, and an idle sidecar
	// allocates too little to reach the next collection, so it would stay
	// resident. One forced collection per (re)connect is cheap.
	releaseDump func()

	// unusableLogged is the SB remote list whose unusable members were
	// logged (SB connection goroutine only).
	unusableLogged string

	// w runs the passes; only its goroutine touches it.
	w *worker
}

// New builds an engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Registry == nil {
		return nil, errors.New("sidecar: no provider registry")
	}
	if cfg.PrepareTimeout <= 0 {
		cfg.PrepareTimeout = 2 * time.Second
	}
	if cfg.TxnBatch <= 0 {
		// One transaction for a whole SB update is fastest: OVSDB commits
		// it at once, and a failure still falls back to one port at a
		// time. A smaller cap splits a bulk update into transactions sent
		// one after the other; the cap only bounds a request's size.
		cfg.TxnBatch = 20000
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	cfg.Metrics.initSeries(providers.Compiled())
	e := &Engine{
		cfg:         cfg,
		reg:         cfg.Registry,
		metrics:     cfg.Metrics,
		q:           cfg.Changes.queue(),
		status:      newStatusStore(),
		id:          newIdentity(cfg.Chassis, cfg.SBRemote, cfg.Bridge),
		wantedNames: map[string]string{},
		pending:     newPendingWrites(),
		foreign:     newForeignWrites(),
		ovsIdx:      newOVSIndex(),
		sbIdx:       newSBIndex(),
		releaseDump: debug.FreeOSMemory,
	}
	e.w = &worker{
		e:        e,
		prep:     &preparer{reg: cfg.Registry, timeout: cfg.PrepareTimeout, metrics: cfg.Metrics},
		converge: newConvergenceGuard(),
		warned:   map[string]warnState{},
	}
	ovsModel, err := model.NewClientDBModel("Open_vSwitch", map[string]model.Model{
		vswitch.OpenvSwitchTable: &vswitch.OpenvSwitch{},
		vswitch.BridgeTable:      &vswitch.Bridge{},
		vswitch.PortTable:        &vswitch.Port{},
		vswitch.InterfaceTable:   &vswitch.Interface{},
		// Never monitored: it carries updateBarrier's markers.
		vswitch.SSLTable: &vswitch.SSL{},
	})
	if err != nil {
		return nil, err
	}
	sbModel, err := model.NewClientDBModel("OVN_Southbound", map[string]model.Model{
		sb.ChassisTable:     &sb.Chassis{},
		sb.PortBindingTable: &sb.PortBinding{},
		// Never monitored: it carries updateBarrier's markers.
		sb.SSLTable: &sb.SSL{},
	})
	if err != nil {
		return nil, err
	}

	e.metrics.state.read = func() (bool, bool, bool) {
		ovs, sb := e.Connected()
		return ovs, sb, e.Primed()
	}
	e.metrics.state.schemas = func() map[string]string {
		return map[string]string{"ovs": e.ovs.Schema().Version, "sb": e.sb.Schema().Version}
	}
	e.writer = newWriter(cfg.OVSRemote, ovsModel)
	e.ovs = dbconn.New("ovs", ovsModel, cfg.MetricsRegistry, Namespace)
	e.ovs.Endpoints = func() ([]string, *tls.Config, error) { return []string{cfg.OVSRemote}, nil, nil }
	e.ovs.Monitor = ovsMonitor
	ovsNeeds := vswitch.Schema()
	e.ovs.Needs, e.ovs.Floor = &ovsNeeds, FloorOVS
	e.ovsBarrier = newUpdateBarrier(vswitch.SSLTable)
	e.ovs.Handler = func() cache.EventHandler { return e.ovsBarrier.wrap(e.ovsHandler()) }
	// Set before the connection counts as synced, so that one release
	// covers both dumps when both connections come up together.
	e.ovs.BeforeUp = func(*cache.TableCache) { e.dumped.Store(true) }
	e.ovs.OnUp = func() {
		e.writer.warm(context.Background())
		e.refreshIdentity()
		e.q.AddAll()
	}
	e.ovs.OnDown = func() {
		e.q.AddAll()
	}

	e.sb = dbconn.New("sb", sbModel, cfg.MetricsRegistry, Namespace)
	e.sb.Endpoints = e.sbEndpoints
	e.sb.Clustered = "OVN_Southbound"
	e.sb.Monitor = e.sbMonitor
	sbNeeds := sb.Schema()
	e.sb.Needs, e.sb.Floor = &sbNeeds, FloorOVN
	e.sbBarrier = newUpdateBarrier(sb.SSLTable)
	e.sb.Handler = func() cache.EventHandler { return e.sbBarrier.wrap(e.sbHandler()) }
	e.sb.BeforeUp = func(tc *cache.TableCache) {
		e.dumped.Store(true)
		// After a reconnect the cache is the truth: the index may hold
		// bindings deleted meanwhile (see sbIndex.rebuild).
		if tc != nil {
			e.sbBarrier.wait(tc)
			e.sbIdx.rebuild(tc)
		}
	}
	e.sb.OnUp = func() {
		e.q.AddAll()
	}
	e.sb.OnDown = func() {
		e.q.AddAll()
	}
	return e, nil
}

// ProviderChanges carries providers' Env.Changed calls to the engine's
// queue. It exists before the engine, so a registry's Env can be built
// first without a callback that reaches an engine not yet made.
type ProviderChanges struct{ q *queue }

// NewProviderChanges makes the carrier; pass it in Config.Changes.
func NewProviderChanges() *ProviderChanges { return &ProviderChanges{q: newQueue()} }

// For returns the Env.Changed callback for a provider type.
func (c *ProviderChanges) For(typ string) func() { return func() { c.q.AddProvider(typ) } }

func (c *ProviderChanges) queue() *queue {
	if c == nil {
		return newQueue()
	}
	return c.q
}

// Run connects and reconciles until ctx is done. It never unplugs on exit:
// it just stops.
func (e *Engine) Run(ctx context.Context) error {
	// The connections outlive the worker so that a transaction in flight
	// at shutdown completes instead of failing half-way.
	connCtx, stopConns := context.WithCancel(context.Background())
	var conns sync.WaitGroup
	conns.Add(2)
	go func() { defer conns.Done(); e.ovs.Run(connCtx) }()
	go func() { defer conns.Done(); e.sb.Run(connCtx) }()
	var workers sync.WaitGroup
	workers.Add(2)
	go func() { defer workers.Done(); e.runProviders(ctx) }()
	go func() { defer workers.Done(); e.w.run(ctx) }()
	workers.Wait()
	stopConns()
	conns.Wait()
	e.writer.close()
	e.q.stop()
	return nil
}

// runProviders calls each provider's Run periodically, as ovn-controller
// does every main loop iteration, each provider on a goroutine of its own
// so that a Run ignoring its deadline stalls nothing else.
func (e *Engine) runProviders(ctx context.Context) {
	var runs sync.WaitGroup
	for _, p := range e.reg.Enabled() {
		runs.Add(1)
		go func() {
			defer runs.Done()
			p.RunLoop(ctx, providerRunInterval, e.cfg.PrepareTimeout, func() { e.q.AddProvider(p.Type()) })
		}()
	}
	defer runs.Wait()
	// A periodic full recompute, as a Kubernetes informer's resync, after
	// checking the indexes against the caches: libovsdb drops cache
	// events when its event channel is full. With nothing to do it writes
	// nothing.
	resync := time.NewTicker(resyncInterval)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-resync.C:
			e.q.AddResync()
		}
	}
}

const providerRunInterval = 5 * time.Second

// Primed reports the priming gate: both databases synced since their last
// (re)connect and the chassis row known.
func (e *Engine) Primed() bool {
	if !e.ovs.Synced() || !e.sb.Synced() {
		return false
	}
	tc := e.sb.Cache()
	if tc == nil {
		return false
	}
	return e.id.followed(e.id.chassisRow(tc))
}

// Connected reports whether both databases are connected and synced.
func (e *Engine) Connected() (ovs, sb bool) { return e.ovs.Synced(), e.sb.Synced() }

// Ports returns the status of every logical port the sidecar considers.
func (e *Engine) Ports() []PortStatus { return e.status.list() }

// Handler returns the HTTP handler for /healthz, /readyz, /ports and
// /metrics.
func (e *Engine) Handler() http.Handler { return e.httpHandler() }

// refreshIdentity reads chassis name, SB remote and bridge from the
// Open_vSwitch row unless flags set them, and restarts the SB connection
// when what it depends on changed.
func (e *Engine) refreshIdentity() {
	tc := e.ovs.Cache()
	if tc == nil {
		return
	}
	var ext map[string]string
	for _, m := range tc.Table(vswitch.OpenvSwitchTable).RowsShallow() {
		ext = m.(*vswitch.OpenvSwitch).ExternalIDs
	}
	changedSB, changedBridge := e.id.fromOVS(ext)
	chassis, remote, bridge := e.id.names()
	if !e.identityRead.Swap(true) {
		changedSB = true // the SB connection waits for this first read
	}
	if changedSB {
		klog.InfoS("Identity", "chassis", chassis, "sbRemote", remote, "bridge", bridge)
		e.sb.Restart()
	}
	if changedBridge {
		e.q.AddAll()
	}
}

func (e *Engine) sbEndpoints() ([]string, *tls.Config, error) {
	chassis, remote, _ := e.id.names()
	if (e.cfg.Chassis == "" || e.cfg.SBRemote == "") && !e.identityRead.Load() {
		return nil, nil, dbconn.ErrAwaitingIdentity
	}
	if chassis == "" {
		return nil, nil, errors.New("no chassis name: set --chassis or Open_vSwitch external_ids:system-id")
	}
	if remote == "" {
		return nil, nil, errors.New("no SB remote: set --sb-db or Open_vSwitch external_ids:ovn-remote")
	}
	// --sb-db is checked at start; ovn-remote can change at run time, so a
	// member that cannot be used is logged once and the others are used.
	eps, unusable, why := usableRemotes(splitRemotes(remote), e.cfg.TLS != nil)
	if len(unusable) > 0 && e.unusableLogged != remote {
		e.unusableLogged = remote
		logs.WarnS("Not using SB remotes that cannot be used", "unusable", unusable, "reason", why, "using", eps)
	}
	if len(eps) == 0 {
		return nil, nil, why
	}
	// Like ovn-controller, start at a random member so that a fleet of
	// DPUs spreads over a clustered SB.
	rand.Shuffle(len(eps), func(i, j int) { eps[i], eps[j] = eps[j], eps[i] })
	return eps, e.cfg.TLS, nil
}

func ovsMonitor(cl client.Client) *client.Monitor {
	ovsRow := &vswitch.OpenvSwitch{}
	br := &vswitch.Bridge{}
	port := &vswitch.Port{}
	iface := &vswitch.Interface{}
	return cl.NewMonitor(
		// other_config is copied into providers' input (PortCtxIn).
		client.WithTable(ovsRow, &ovsRow.ExternalIDs, &ovsRow.OtherConfig, &ovsRow.Bridges),
		client.WithTable(br, &br.Name, &br.Ports, &br.DatapathType),
		client.WithTable(port, &port.Name, &port.Interfaces),
		// Only the columns the sidecar reads: statistics and status change
		// every few seconds and would wake the engine for nothing.
		client.WithTable(iface, &iface.Name, &iface.Type, &iface.Options, &iface.ExternalIDs, &iface.MTURequest, &iface.Error),
	)
}

func (e *Engine) sbMonitor(cl client.Client) *client.Monitor {
	e.lookupChassis(cl)
	name, cond, hostname := e.id.monitorFor()
	ch := &sb.Chassis{}
	pb := &sb.PortBinding{}
	// The server ORs the conditions: bindings resolved to this chassis, and
	// bindings whose option names it, so that a binding whose
	// requested_chassis is cleared or not yet set is seen and held rather
	// than taken for gone (see AwaitingResolution).
	pbConds := []model.Condition{
		{Field: &pb.RequestedChassis, Function: ovsdb.ConditionEqual, Value: &cond},
		{Field: &pb.Options, Function: ovsdb.ConditionIncludes, Value: map[string]string{plan.OptRequestedChassis: name}},
	}
	if hostname != "" && hostname != name {
		pbConds = append(pbConds, model.Condition{Field: &pb.Options, Function: ovsdb.ConditionIncludes, Value: map[string]string{plan.OptRequestedChassis: hostname}})
	}
	return cl.NewMonitor(
		client.WithConditionalTable(ch, []model.Condition{{Field: &ch.Name, Function: ovsdb.ConditionEqual, Value: name}}, &ch.Name, &ch.Hostname),
		client.WithConditionalTable(pb, pbConds, &pb.LogicalPort, &pb.Type, &pb.ParentPort, &pb.RequestedChassis, &pb.Options),
	)
}

// lookupChassis reads this chassis's row with a select before the first
// monitor, so that the monitor follows it from the start: without it the
// first dump (every binding naming the chassis) was followed by a restart
// and a second dump of the same bindings. If the read fails or finds nothing, the monitor starts
// on no chassis and checkChassis moves it once the row is seen.
func (e *Engine) lookupChassis(cl client.Client) {
	name, unknown := e.id.unresolved()
	if !unknown {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cl.Transact(ctx, ovsdb.Operation{
		Op:      ovsdb.OperationSelect,
		Table:   sb.ChassisTable,
		Where:   []ovsdb.Condition{{Column: "name", Function: ovsdb.ConditionEqual, Value: name}},
		Columns: []string{"_uuid", "hostname"},
	})
	if err != nil || len(res) != 1 || res[0].Error != "" || len(res[0].Rows) != 1 {
		return
	}
	row := res[0].Rows[0]
	uuid, _ := row["_uuid"].(ovsdb.UUID)
	host, _ := row["hostname"].(string)
	if uuid.GoUUID != "" {
		e.id.resolve(name, uuid.GoUUID, host)
	}
}

// splitRemotes splits an ovn-remote value, which like ovn-controller's
// may separate remotes with commas or spaces.
func splitRemotes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}
