package sidecar

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"
)

// dbConn owns one OVSDB connection and its single monitor. It drives
// reconnects itself (no libovsdb WithReconnect) so that it always knows
// when a fresh initial dump has completed: every (re)connect builds a new
// client, and the connection counts as synced only once Monitor returned.
type dbConn struct {
	name    string
	dbModel model.ClientDBModel
	logger  logr.Logger

	// endpoints and tls give the remotes for the next attempt.
	endpoints func() ([]string, *tls.Config, error)
	// monitor builds the monitor request for a new client.
	monitor func(cl client.Client) *client.Monitor
	handler cache.EventHandler
	// onUp runs after the initial dump of a new client; onDown after it
	// is lost. Both run on the connection's goroutine.
	onUp   func()
	onDown func()

	metrics prometheus.Registerer
	// clustered names the database whose cluster membership is checked
	// through _Server before the connection is trusted; "" skips it.
	clustered    string
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
	// causes are the failure causes logged since the last success, so
	// that a new cause is always logged, an old one only now and then.
	causes causeSet
}

// errAwaitingIdentity: the SB remote or chassis comes from the
// Open_vSwitch row, which has not been read yet.
var errAwaitingIdentity = errors.New("waiting for the Open_vSwitch row's external_ids")

type causeSet map[string]bool

// first reports whether err's cause is new since the last reset. The
// endpoint order is shuffled on each attempt, so libovsdb's combined
// "unable to connect to any endpoints" message is compared sorted.
func (s *causeSet) first(err error) bool {
	if *s == nil || len(*s) >= 32 {
		*s = causeSet{}
	}
	msg := err.Error()
	const multi = "unable to connect to any endpoints: "
	if i := strings.Index(msg, multi); i >= 0 {
		parts := strings.Split(msg[i+len(multi):], ". ")
		slices.Sort(parts)
		msg = msg[:i+len(multi)] + strings.Join(parts, ". ")
	}
	if (*s)[msg] {
		return false
	}
	(*s)[msg] = true
	return true
}

func newDBConn(name string, dbModel model.ClientDBModel, metrics prometheus.Registerer) *dbConn {
	return &dbConn{
		metrics:      metrics,
		name:         name,
		dbModel:      dbModel,
		logger:       klog.Background().WithValues("db", name),
		echoInterval: 5 * time.Second,
		echoTimeout:  5 * time.Second,
		restart:      make(chan struct{}, 1),
	}
}

// Client returns the current synced client, or nil.
func (c *dbConn) Client() client.Client {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.synced {
		return nil
	}
	return c.cl
}

// Cache returns the current synced connection's cache, or nil.
func (c *dbConn) Cache() *cache.TableCache {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.synced {
		return nil
	}
	return c.tc
}

// Synced reports whether the current connection finished its initial dump.
func (c *dbConn) Synced() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.synced
}

// LastError is the most recent connection error, for status.
func (c *dbConn) LastError() error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.lastErr
}

// Restart drops the current connection and makes a new one, for example
// because the monitor condition must change.
func (c *dbConn) Restart() {
	// Unsynced at once, not when the session notices: until the new
	// monitor's dump is complete, the old cache must not open the gate.
	c.mu.Lock()
	c.synced = false
	c.mu.Unlock()
	select {
	case c.restart <- struct{}{}:
	default:
	}
}

func (c *dbConn) run(ctx context.Context) {
	for ctx.Err() == nil {
		err := c.session(ctx)
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		c.lastErr = err
		c.attempts++
		n := c.attempts
		c.mu.Unlock()
		if errors.Is(err, errRestart) {
			continue
		}
		delay := backoff(n, 250*time.Millisecond, 8*time.Second)
		// Waiting for the OVS identity is not a failure: nothing to log.
		if !errors.Is(err, errAwaitingIdentity) && (c.causes.first(err) || n <= 3 || n%20 == 0) {
			warnS("OVSDB connection failed; retrying", "db", c.name, "err", err, "attempt", n, "retryIn", delay)
		}
		select {
		case <-ctx.Done():
			return
		case <-c.restart: // new endpoints or identity: try them now
		case <-time.After(delay):
		}
	}
}

var errRestart = errors.New("restart requested")

func (c *dbConn) session(ctx context.Context) error {
	eps, tlsCfg, err := c.endpoints()
	if err != nil {
		return err
	}
	if len(eps) == 0 {
		return errors.New("no remote configured")
	}
	opts := []client.Option{client.WithLogger(&c.logger), client.WithLeaderOnly(false)}
	for _, ep := range eps {
		opts = append(opts, client.WithEndpoint(ep))
	}
	if c.metrics != nil {
		opts = append(opts, client.WithMetricsRegistryNamespaceSubsystem(replacingRegisterer{c.metrics}, Namespace, "libovsdb_"+c.name))
	}
	if tlsCfg != nil {
		opts = append(opts, client.WithTLSConfig(tlsCfg))
	}
	cl, err := client.NewOVSDBClient(c.dbModel, opts...)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = cl.Connect(cctx)
	cancel()
	if err != nil {
		cl.Close()
		return fmt.Errorf("connect %v: %w%s", eps, err, tlsHint(tlsCfg, err))
	}
	defer cl.Close()
	endpoint := cl.CurrentEndpoint()
	if c.clustered != "" {
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		w, err := c.guard.watch(wctx, endpoint, tlsCfg, c.clustered, func(why string) {
			warnS("Cluster member no longer trusted; reconnecting", "db", c.name, "endpoint", endpoint, "why", why)
			c.Restart()
		})
		wcancel()
		if err != nil {
			return err
		}
		defer w.Close()
	}
	if c.handler != nil {
		cl.Cache().AddEventHandler(c.handler)
	}
	mctx, mcancel := context.WithTimeout(ctx, 60*time.Second)
	_, err = cl.Monitor(mctx, c.monitor(cl))
	mcancel()
	if err != nil {
		return fmt.Errorf("monitor on %s: %w", endpoint, err)
	}
	// Drain a stale restart request from before this connection.
	select {
	case <-c.restart:
	default:
	}
	c.mu.Lock()
	c.cl, c.tc, c.synced, c.lastErr, c.attempts, c.causes = cl, cl.Cache(), true, nil, 0, nil
	c.mu.Unlock()
	c.logger.Info("OVSDB connected and synced", "endpoint", endpoint)
	if c.onUp != nil {
		c.onUp()
	}
	defer func() {
		c.mu.Lock()
		c.synced = false
		c.mu.Unlock()
		if c.onDown != nil {
			c.onDown()
		}
	}()

	// Echo tells the truth about a silently dropped connection.
	tick := time.NewTicker(c.echoInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-cl.DisconnectNotify():
			return fmt.Errorf("disconnected from %s", endpoint)
		case <-c.restart:
			return errRestart
		case <-tick.C:
			ectx, ecancel := context.WithTimeout(ctx, c.echoTimeout)
			err := cl.Echo(ectx)
			ecancel()
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("echo to %s failed: %w", endpoint, err)
			}
		}
	}
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

// backoff is exponential with full jitter between base and max.
func backoff(attempt int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}
