// Package dbconn owns the sidecar's OVSDB connections: one monitor per
// database, reconnects with jittered backoff, a resumed monitor within a
// session where the server keeps history, and the _Server freshness guard
// that refuses a clustered member (or relay) that is behind or cut off.
package dbconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/backoff"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/logs"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim"
)

// Conn owns one OVSDB connection and its single monitor. Every session
// builds a new client, and the connection counts as synced only once
// Monitor returned (and, for a clustered database, the freshness guard
// accepted the server). Within a session, a clustered database's client
// reconnects by itself so that its monitor resumes (see session).
type Conn struct {
	name    string
	dbModel model.ClientDBModel
	logger  logr.Logger

	// Endpoints and tls give the remotes for the next attempt.
	Endpoints func() ([]string, *tls.Config, error)
	// Monitor builds the monitor request for a new client.
	Monitor func(cl client.Client) *client.Monitor
	// Handler returns the cache event handler for each new client.
	Handler func() cache.EventHandler
	// OnUp runs after the initial dump of a new client; onDown after it
	// is lost. Both run on the connection's goroutine.
	OnUp   func()
	OnDown func()
	// BeforeUp runs with the new dump in the cache, before the connection
	// counts as synced (so before any pass can read it).
	BeforeUp func(tc *cache.TableCache)
	// Needs, if set, is the schema the model needs (a slim schema), and
	// Floor names the oldest release that has it ("OVN 22.03"): a server
	// lacking part of it is refused with a SchemaError naming both.
	Needs *ovsdb.DatabaseSchema
	Floor string

	metrics   prometheus.Registerer
	namespace string
	// Clustered names the database whose cluster membership is checked
	// through _Server before the connection is trusted; "" skips it.
	Clustered    string
	guard        clusterGuard
	echoInterval time.Duration
	echoTimeout  time.Duration

	mu sync.RWMutex
	cl client.Client
	// tc is cl's cache, kept here because libovsdb drops its own reference
	// on disconnect; the object itself stays intact, if stale.
	tc       *cache.TableCache
	synced   bool
	restart  chan struct{}
	lastErr  error
	attempts int
	// syncedAt is when the current session last synced (zero if never).
	syncedAt time.Time
	// losses paces libovsdb's reconnects after lost connections.
	losses int
	// current identifies the running session, so that a client it left
	// behind cannot touch the next session's state.
	current *int
	// cause is the failure cause logged last, so that a changed cause is
	// always logged, a repeated one only now and then.
	cause causeLog
	// schema is the name and version of the last server schema seen.
	schema SchemaInfo
}

// SchemaInfo names a server's schema.
type SchemaInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

func (s SchemaInfo) String() string {
	if s.Name == "" {
		return ""
	}
	return s.Name + " " + s.Version
}

// SchemaError: the server's schema lacks what the model needs.
type SchemaError struct {
	Schema SchemaInfo
	Floor  string
	Lacks  []slim.Lack
}

func (e *SchemaError) Error() string {
	for _, l := range e.Lacks {
		if l.Indexed() {
			// Newer than this sidecar knows: an index over a column the
			// model does not hold would break the cache.
			return fmt.Sprintf("%s schema %s has %s: this ovn-vif-sidecar is too old for it", e.Schema.Name, e.Schema.Version, slim.Describe(e.Lacks))
		}
	}
	return fmt.Sprintf("%s schema %s lacks %s: %s or later is needed", e.Schema.Name, e.Schema.Version, slim.Describe(e.Lacks), e.Floor)
}

// ErrAwaitingIdentity: the SB remote or chassis comes from the
// Open_vSwitch row, which has not been read yet.
var ErrAwaitingIdentity = errors.New("waiting for the Open_vSwitch row's external_ids")

// causeLog remembers the last failure cause logged.
type causeLog struct {
	mu   sync.Mutex
	last string
}

// changed reports whether err differs from the cause seen before it, and
// remembers it. The endpoints are tried in a shuffled order, and the
// failure of several lists theirs in that order, so errors are compared
// as bags of words, whatever their wording.
func (l *causeLog) changed(err error) bool {
	words := strings.Fields(err.Error())
	for i, w := range words {
		words[i] = strings.TrimRight(w, ".,;")
	}
	slices.Sort(words)
	key := strings.Join(words, " ")
	l.mu.Lock()
	defer l.mu.Unlock()
	if key == l.last {
		return false
	}
	l.last = key
	return true
}

func (l *causeLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = ""
}

// Reconnect delays: from retryBase, doubling up to retryMax, with jitter.
const (
	retryBase = 250 * time.Millisecond
	retryMax  = 8 * time.Second
)

// stayedUp reports whether a connection synced at syncedAt stayed up for
// at least the current delay, which then starts again from the bottom, as
// in OVS's reconnect. A server that accepts and drops clients at once
// keeps the delay growing instead of getting them back four times a
// second; one restarted every few seconds does not.
func stayedUp(syncedAt time.Time, attempt int) bool {
	return !syncedAt.IsZero() && time.Since(syncedAt) >= backoff.Cap(attempt, retryBase, retryMax)
}

// New returns a connection named name (for logs and metrics). If metrics
// is set, each client's libovsdb metrics are registered there under
// namespace.
func New(name string, dbModel model.ClientDBModel, metrics prometheus.Registerer, namespace string) *Conn {
	return &Conn{
		metrics:      metrics,
		namespace:    namespace,
		name:         name,
		dbModel:      dbModel,
		logger:       klog.Background().WithValues("db", name),
		echoInterval: 5 * time.Second,
		echoTimeout:  5 * time.Second,
		restart:      make(chan struct{}, 1),
	}
}

// Client returns the current synced client, or nil.
func (c *Conn) Client() client.Client {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.synced {
		return nil
	}
	return c.cl
}

// Cache returns the current synced connection's cache, or nil.
func (c *Conn) Cache() *cache.TableCache {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.synced {
		return nil
	}
	return c.tc
}

// Synced reports whether the current connection finished its initial dump.
func (c *Conn) Synced() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.synced
}

// Schema is the last server schema seen, connected or refused; zero
// before any.
func (c *Conn) Schema() SchemaInfo {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.schema
}

// Attempts counts the failed attempts since the connection last stayed up.
func (c *Conn) Attempts() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.attempts
}

// LastError is the most recent connection error, for status.
func (c *Conn) LastError() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.lastErr
}

// Restart drops the current connection and makes a new one, for example
// because the monitor condition must change.
func (c *Conn) Restart() {
	// Unsynced at once, not when the session notices: until the new
	// Monitor's dump is complete, the old cache must not open the gate.
	c.mu.Lock()
	c.synced = false
	c.mu.Unlock()
	select {
	case c.restart <- struct{}{}:
	default:
	}
}

func (c *Conn) Run(ctx context.Context) {
	for ctx.Err() == nil {
		err := c.session(ctx)
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		if stayedUp(c.syncedAt, c.attempts) {
			c.attempts = 0
		}
		c.syncedAt = time.Time{}
		c.lastErr = err
		c.attempts++
		n := c.attempts
		c.mu.Unlock()
		if errors.Is(err, ErrRestart) {
			continue
		}
		delay := backoff.Jittered(n, retryBase, retryMax)
		var schemaErr *SchemaError
		switch {
		case errors.Is(err, ErrAwaitingIdentity):
			// Waiting for the OVS identity is not a failure: nothing to log.
		case errors.As(err, &schemaErr):
			// One line says it; retrying since the database may be upgraded.
			if c.cause.changed(err) || n%100 == 0 {
				logs.WarnS(err.Error(), "db", c.name, "attempt", n, "retryIn", delay)
			}
		case c.cause.changed(err) || n <= 3 || n%20 == 0:
			logs.WarnS("OVSDB connection failed; retrying", "db", c.name, "err", err, "attempt", n, "retryIn", delay)
		}
		select {
		case <-ctx.Done():
			return
		case <-c.restart: // new endpoints or identity: try them now
		case <-time.After(delay):
		}
	}
}

var ErrRestart = errors.New("restart requested")

// session is one client: it connects, checks the server (for a clustered
// database), monitors, and serves until the connection is lost for good,
// a restart is requested or ctx ends.
//
// For a clustered database the client is made with libovsdb's own
// reconnect, because only that resumes the monitor with
// monitor_cond_since: the server then sends the changes since the last
// transaction this cache has, not a full dump. libovsdb re-monitors
// before the sidecar could look at _Server, so the connection counts as
// unsynced from the moment libovsdb starts reconnecting (it resets its
// backoff, reconnectBackoff.lost) until the freshness guard accepted the
// new server. A resumed monitor (found=true)
// cannot be behind: the server has applied the transaction the cache
// ends with. A full dump from a server the guard refuses is never used:
// the client is dropped and a fresh one tries again.
func (c *Conn) session(ctx context.Context) error {
	eps, tlsCfg, err := c.Endpoints()
	if err != nil {
		return err
	}
	if len(eps) == 0 {
		return errors.New("no remote configured")
	}
	resumable := c.Clustered != ""
	token := new(int)
	c.mu.Lock()
	c.current = token
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.current = nil
		c.mu.Unlock()
	}()
	lost := make(chan string, 1)
	failed := make(chan struct{}, 1)
	var bo *reconnectBackoff
	var cl client.Client
	logger := c.logger
	opts := []client.Option{client.WithLeaderOnly(false)}
	if resumable {
		bo = &reconnectBackoff{base: retryBase, max: retryMax}
		bo.failed = func() {
			select {
			case failed <- struct{}{}:
			default:
			}
		}
		bo.lost = func() {
			// Runs in libovsdb's reconnecting goroutine, before its first
			// attempt: nothing from the next server is in the cache yet.
			rows := tablePointers(cl)
			c.mu.Lock()
			if c.current != token {
				c.mu.Unlock()
				return // an abandoned client
			}
			c.synced = false
			if stayedUp(c.syncedAt, c.losses) {
				c.losses = 0
			}
			c.losses++
			delay := backoff.Jittered(c.losses, retryBase, retryMax)
			c.mu.Unlock()
			select {
			case lost <- rows:
			default:
			}
			// A fleet that lost one server must not come back at the same
			// instant, a server that keeps dropping clients must not get
			// them back at once, and a snapshot the engine was taking when
			// the connection went is over before new data can arrive.
			// (backoff.Retry has no delay before its first attempt.)
			time.Sleep(delay)
		}
		opts = append(opts, client.WithReconnect(10*time.Second, bo))
	}
	opts = append(opts, client.WithLogger(&logger))
	for _, ep := range eps {
		opts = append(opts, client.WithEndpoint(ep))
	}
	if c.metrics != nil {
		opts = append(opts, client.WithMetricsRegistryNamespaceSubsystem(replacingRegisterer{c.metrics}, c.namespace, "libovsdb_"+c.name))
	}
	if tlsCfg != nil {
		opts = append(opts, client.WithTLSConfig(tlsCfg))
	}
	cl, err = client.NewOVSDBClient(c.dbModel, opts...)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = cl.Connect(cctx)
	timedOut := cctx.Err() != nil
	cancel()
	if err != nil {
		cl.Close()
		// The model may not fit the server's schema: look at the schema
		// itself rather than at libovsdb's words for it. A server that
		// did not answer in time would not answer the probe either.
		if !timedOut {
			if serr := c.probeSchema(ctx, eps, tlsCfg); serr != nil {
				return serr
			}
		}
		return fmt.Errorf("connect %v: %w%s", eps, err, tlsHint(tlsCfg, err))
	}
	// Connected, the schema may still hold an index the model lacks.
	if err := c.checkSchema(cl.Schema()); err != nil {
		cl.Close()
		return err
	}
	if resumable {
		// The connection may be lost and libovsdb reconnecting by the
		// time this session ends, whatever the session saw of it.
		defer func() { go closeAfterReconnect(cl, bo) }()
	} else {
		defer cl.Close()
	}
	reconnecting := false
	endpoint := cl.CurrentEndpoint()
	w, err := c.checkServer(ctx, endpoint, tlsCfg)
	if err != nil {
		return err
	}
	defer func() { w.Close() }()
	if c.Handler != nil {
		cl.Cache().AddEventHandler(c.Handler())
	}
	mctx, mcancel := context.WithTimeout(ctx, 60*time.Second)
	_, err = cl.Monitor(mctx, c.Monitor(cl))
	mcancel()
	if err != nil {
		return fmt.Errorf("monitor on %s: %w", endpoint, err)
	}
	// Drain a stale restart request from before this connection.
	select {
	case <-c.restart:
	default:
	}
	c.up(cl, "OVSDB connected and synced", "endpoint", endpoint)
	defer func() {
		c.mu.Lock()
		c.synced = false
		c.mu.Unlock()
		if c.OnDown != nil && !reconnecting {
			c.OnDown()
		}
	}()

	// lossCause is why this session dropped the connection itself, if it
	// did: libovsdb does not say why a connection ended.
	var lossCause error
	// onLost follows libovsdb's reconnect to the next server and checks it.
	onLost := func(rows string) error {
		reconnecting = true
		w.Close()
		w = nil
		cause := lossCause
		if cause == nil {
			cause = fmt.Errorf("connection to %s lost", endpoint)
		}
		lossCause = nil
		c.mu.Lock()
		c.lastErr = cause
		c.mu.Unlock()
		c.cause.changed(cause) // logged here
		logs.WarnS("OVSDB connection lost; reconnecting", "db", c.name, "endpoint", endpoint, "err", cause)
		if c.OnDown != nil {
			c.OnDown()
		}
		if endpoint, err = c.awaitReconnect(ctx, cl, failed, eps, tlsCfg); err != nil {
			return err
		}
		reconnecting = false
		// A full dump replaced every table's row cache; a resumed monitor
		// kept them.
		resumed := rows == tablePointers(cl)
		if w, err = c.checkServer(ctx, endpoint, tlsCfg); err != nil {
			return err
		}
		c.up(cl, "OVSDB connected and synced", "endpoint", endpoint, "resumed", resumed)
		return nil
	}

	// Echo tells the truth about a silently dropped connection.
	tick := time.NewTicker(c.echoInterval)
	defer tick.Stop()
	for {
		var watchDown chan struct{}
		if w != nil {
			watchDown = w.cl.DisconnectNotify()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-cl.DisconnectNotify():
			return fmt.Errorf("disconnected from %s", endpoint)
		case <-c.restart:
			return ErrRestart
		case <-watchDown:
			// Usually the server went away and libovsdb's loss report is
			// on its way; otherwise only the _Server connection broke.
			w.Close()
			w = nil
			select {
			case <-ctx.Done():
				return ctx.Err()
			case rows := <-lost:
				if err := onLost(rows); err != nil {
					return err
				}
			case <-time.After(c.echoTimeout):
				if cl.CurrentEndpoint() != endpoint {
					return fmt.Errorf("lost the _Server connection to %s", endpoint)
				}
				if w, err = c.checkServer(ctx, endpoint, tlsCfg); err != nil {
					return err
				}
			}
		case rows := <-lost:
			if err := onLost(rows); err != nil {
				return err
			}
		case <-tick.C:
			ectx, ecancel := context.WithTimeout(ctx, c.echoTimeout)
			err := cl.Echo(ectx)
			ecancel()
			if err != nil && ctx.Err() == nil {
				if !resumable {
					return fmt.Errorf("echo to %s failed: %w", endpoint, err)
				}
				// Hand the dead connection to libovsdb's reconnect; its loss
				// report follows (or already came).
				logs.WarnS("OVSDB echo failed; dropping the connection", "db", c.name, "endpoint", endpoint, "err", err)
				lossCause = fmt.Errorf("echo to %s failed: %w", endpoint, err)
				cl.Disconnect()
			}
		}
	}
}

// checkServer runs the freshness guard on endpoint and keeps watching it,
// for a clustered database; otherwise it returns nil.
func (c *Conn) checkServer(ctx context.Context, endpoint string, tlsCfg *tls.Config) (*clusterWatch, error) {
	if c.Clustered == "" {
		return nil, nil
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	return c.guard.watch(wctx, endpoint, tlsCfg, c.Clustered, func(why string) {
		logs.WarnS("Cluster member no longer trusted; reconnecting", "db", c.name, "endpoint", endpoint, "why", why)
		c.Restart()
	})
}

// up runs beforeUp, marks cl synced and runs onUp.
func (c *Conn) up(cl client.Client, msg string, kv ...any) {
	if c.BeforeUp != nil {
		c.BeforeUp(cl.Cache())
	}
	c.mu.Lock()
	c.cl, c.tc, c.synced, c.lastErr, c.syncedAt = cl, cl.Cache(), true, nil, time.Now()
	schema := c.schema
	c.mu.Unlock()
	c.cause.reset()
	c.logger.Info(msg, append(kv, "schema", schema.String())...)
	if c.OnUp != nil {
		c.OnUp()
	}
}

// checkSchema records server's name and version and compares it with
// Needs.
func (c *Conn) checkSchema(server ovsdb.DatabaseSchema) error {
	info := SchemaInfo{Name: server.Name, Version: server.Version}
	c.mu.Lock()
	c.schema = info
	c.mu.Unlock()
	if c.Needs == nil {
		return nil
	}
	if lacks := slim.Lacks(*c.Needs, server); len(lacks) > 0 {
		return &SchemaError{Schema: info, Floor: c.Floor, Lacks: lacks}
	}
	return nil
}

// probeSchema fetches the server's schema with a client whose model has
// no table, which any schema validates, and compares it with Needs. It
// returns nil if the schema fits or cannot be read.
func (c *Conn) probeSchema(ctx context.Context, eps []string, tlsCfg *tls.Config) error {
	if c.Needs == nil {
		return nil
	}
	empty, err := model.NewClientDBModel(c.dbModel.Name(), map[string]model.Model{})
	if err != nil {
		return nil
	}
	cl, err := dialOnce(ctx, empty, c.logger.V(4), eps, tlsCfg)
	if err != nil {
		return nil
	}
	defer cl.Close()
	return c.checkSchema(cl.Schema())
}

// dialOnce connects a throwaway client without reconnect, as the
// session's own client would connect, within the usual 10 s.
func dialOnce(ctx context.Context, m model.ClientDBModel, logger logr.Logger, eps []string, tlsCfg *tls.Config) (client.Client, error) {
	opts := []client.Option{client.WithLeaderOnly(false), client.WithLogger(&logger)}
	for _, ep := range eps {
		opts = append(opts, client.WithEndpoint(ep))
	}
	if tlsCfg != nil {
		opts = append(opts, client.WithTLSConfig(tlsCfg))
	}
	cl, err := client.NewOVSDBClient(m, opts...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cl.Connect(cctx); err != nil {
		return nil, err
	}
	return cl, nil
}

// tablePointers identifies the row caches of cl's tables: libovsdb
// replaces them when a reconnect brings a full dump.
func tablePointers(cl client.Client) string {
	tc := cl.Cache()
	if tc == nil {
		return ""
	}
	var b strings.Builder
	for _, t := range tc.Tables() {
		fmt.Fprintf(&b, "%s=%p ", t, tc.Table(t))
	}
	return b.String()
}

// awaitReconnect waits until libovsdb has reconnected and re-monitored,
// and returns the new endpoint. A restart request or ctx ends the wait.
// Each attempt of libovsdb's that fails (failed) is followed by one of
// the sidecar's own on eps, for its cause: libovsdb keeps it to itself.
func (c *Conn) awaitReconnect(ctx context.Context, cl client.Client, failed <-chan struct{}, eps []string, tlsCfg *tls.Config) (string, error) {
	for {
		// CurrentEndpoint waits while a reconnect attempt holds the
		// client's lock, and is "" between attempts.
		if ep := cl.CurrentEndpoint(); ep != "" {
			return ep, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-c.restart:
			return "", ErrRestart
		case <-failed:
			if err := c.probe(ctx, eps, tlsCfg); err != nil {
				c.setCause(err)
			}
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// probe connects a throwaway client to eps, as libovsdb's reconnect does,
// and returns why that fails, or nil.
func (c *Conn) probe(ctx context.Context, eps []string, tlsCfg *tls.Config) error {
	cl, err := dialOnce(ctx, c.dbModel, c.logger, eps, tlsCfg)
	if err != nil {
		return fmt.Errorf("reconnect %v: %w%s", eps, err, tlsHint(tlsCfg, err))
	}
	cl.Close()
	return nil
}

// setCause records err as why the connection is down, for status, and
// logs it if it changed.
func (c *Conn) setCause(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
	if c.cause.changed(err) {
		logs.WarnS("OVSDB reconnect failed; retrying", "db", c.name, "err", err)
	}
}

// closeAfterReconnect disposes of a client with libovsdb's reconnect,
// which a plain Close does not stop between reconnect attempts: it stops
// further attempts and closes the client once connected.
func closeAfterReconnect(cl client.Client, bo *reconnectBackoff) {
	bo.park()
	for {
		if cl.CurrentEndpoint() != "" {
			cl.Close()
			return
		}
		if bo.parked() {
			return // no attempt is running, and none will
		}
		time.Sleep(time.Second)
	}
}

// reconnectBackoff is libovsdb's reconnect backoff (cenkalti/backoff's
// BackOff): exponential with jitter, bounded, never giving up (libovsdb
// panics when a backoff stops). Once parked, the next NextBackOff blocks
// for good: the only way to end an abandoned client's attempts.
//
// backoff.Retry, which libovsdb's reconnect runs, resets its backoff
// before the first attempt and asks it for the next delay after each
// failed one: lost and failed, if set, run then, in libovsdb's
// reconnecting goroutine. TestDBConnReconnectsWithinSession and
// TestSBLossShowsCause (package sidecar) fail if an upgrade changes that.
type reconnectBackoff struct {
	base, max time.Duration
	lost      func()
	failed    func()

	mu       sync.Mutex
	attempt  int
	stop     bool
	isParked bool
}

func (b *reconnectBackoff) NextBackOff() time.Duration {
	b.mu.Lock()
	if b.stop {
		b.isParked = true
		b.mu.Unlock()
		select {}
	}
	b.attempt++
	n := b.attempt
	b.mu.Unlock()
	if b.failed != nil {
		b.failed()
	}
	return backoff.Jittered(n, b.base, b.max)
}

func (b *reconnectBackoff) Reset() {
	b.mu.Lock()
	b.attempt = 0
	b.mu.Unlock()
	if b.lost != nil {
		b.lost()
	}
}

func (b *reconnectBackoff) park() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stop = true
}

func (b *reconnectBackoff) parked() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.isParked
}

// tlsHint explains a handshake the server refused: Go then reports only
// "certificate required", "unknown certificate authority" or a broken pipe.
func tlsHint(cfg *tls.Config, err error) string {
	if cfg == nil || err == nil {
		return ""
	}
	msg := err.Error()
	for _, s := range []string{"remote error: tls", "broken pipe", "connection reset by peer"} {
		if strings.Contains(msg, s) {
			return " (the SB server refused the TLS handshake: is --certificate signed by a CA the server trusts?)"
		}
	}
	return ""
}

// replacingRegisterer lets each new libovsdb client register its metrics
// again: the sidecar builds a new client on every reconnect, and libovsdb
// registers per client, which would otherwise panic on the second one.
type replacingRegisterer struct{ r prometheus.Registerer }

func (p replacingRegisterer) Register(c prometheus.Collector) error {
	err := p.r.Register(c)
	var dup prometheus.AlreadyRegisteredError
	if errors.As(err, &dup) {
		p.r.Unregister(c)
		err = p.r.Register(c)
	}
	return err
}

func (p replacingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := p.Register(c); err != nil {
			panic(err)
		}
	}
}

func (p replacingRegisterer) Unregister(c prometheus.Collector) bool { return p.r.Unregister(c) }
