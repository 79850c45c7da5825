package sidecar

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"k8s.io/klog/v2"
)

// writer sends the engine's OVS transactions on a connection of its own
// that carries no monitor.
//
// ovsdb-server sends the monitor update of a transaction before its reply,
// and libovsdb reads one connection with a single goroutine that decodes
// and applies each update before it reads on. On the monitoring
// connection the reply to a bulk plug therefore waited behind the echo
// of its own rows (BenchmarkOwnEcho in sidecar/ovsops measures both
// connections). The echo still reaches the cache through the monitoring
// connection, where the expectations wait for it.
type writer struct {
	remote  string
	dbModel model.ClientDBModel
	logger  logr.Logger

	mu sync.Mutex
	cl client.Client
}

func newWriter(remote string, dbModel model.ClientDBModel) *writer {
	return &writer{remote: remote, dbModel: dbModel, logger: klog.Background().WithValues("db", "ovs", "conn", "writer")}
}

// transact commits ops, connecting first if needed. A transaction that
// finds the connection gone is sent once more on a new one: it was not
// sent, or if it was and committed, the repeat fails on the name indexes
// and the next pass sees the rows.
func (w *writer) transact(ctx context.Context, ops []ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	for attempt := 0; ; attempt++ {
		cl, err := w.client(ctx)
		if err != nil {
			return nil, err
		}
		res, err := cl.Transact(ctx, ops...)
		if err == nil || attempt > 0 || !w.lost(cl, err) {
			return res, err
		}
	}
}

// lost drops cl if err says its connection is gone, and reports whether
// it did.
func (w *writer) lost(cl client.Client, err error) bool {
	if !errors.Is(err, client.ErrNotConnected) && cl.Connected() {
		return false
	}
	w.mu.Lock()
	if w.cl == cl {
		w.cl = nil
	}
	w.mu.Unlock()
	cl.Close()
	return true
}

// warm connects ahead of the first transaction, replacing a connection
// that died, so that a transaction is sent at once and not after a
// connect (which stalls while the server does).
func (w *writer) warm(ctx context.Context) {
	w.mu.Lock()
	cl := w.cl
	w.mu.Unlock()
	if cl != nil && cl.Connected() {
		return
	}
	if cl != nil {
		w.lost(cl, client.ErrNotConnected)
	}
	if _, err := w.client(ctx); err != nil {
		w.logger.V(2).Info("Writer connection not ready; it connects on the next transaction", "err", err)
	}
}

func (w *writer) client(ctx context.Context) (client.Client, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cl != nil {
		return w.cl, nil
	}
	cl, err := client.NewOVSDBClient(w.dbModel, client.WithEndpoint(w.remote), client.WithLogger(&w.logger))
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cl.Connect(cctx); err != nil {
		return nil, fmt.Errorf("writer connection to %s: %w", w.remote, err)
	}
	w.cl = cl
	return cl, nil
}

// close drops the connection.
func (w *writer) close() {
	w.mu.Lock()
	cl := w.cl
	w.cl = nil
	w.mu.Unlock()
	if cl != nil {
		cl.Close()
	}
}
