// Package bench runs the same workloads against ovn-controller's built-in
// VIF plugging and against the sidecar, and reports both side by side.
// cmd/bench is its command line; docs/performance.md explains the method.
//
// It talks to the databases with libovsdb rather than spawning ovn-nbctl
// or polling ovs-vsctl: every NB write is one transaction whose reply
// time is the start of the clock, and every OVS, NB or SB change is seen
// in a cache event handler as libovsdb applies the monitor update.
package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// connect makes a libovsdb client for a "unix:PATH" or "tcp:HOST:PORT"
// remote (a comma-separated list for a clustered database) with the
// tables of dbModel, and connects it. It does not reconnect: a bench run
// fails rather than measure across a reconnect.
func connect(ctx context.Context, remote string, dbModel model.ClientDBModel) (client.Client, error) {
	logger := logr.Discard()
	opts := []client.Option{client.WithLogger(&logger), client.WithLeaderOnly(false)}
	for _, ep := range strings.Split(remote, ",") {
		opts = append(opts, client.WithEndpoint(ep))
	}
	cl, err := client.NewOVSDBClient(dbModel, opts...)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cl.Connect(cctx); err != nil {
		return nil, fmt.Errorf("connect %s: %w", remote, err)
	}
	return cl, nil
}

// transact runs ops as one transaction and fails if any op failed.
func transact(ctx context.Context, cl client.Client, ops []ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	res, err := cl.Transact(ctx, ops...)
	if err != nil {
		return res, err
	}
	_, err = ovsdb.CheckOperationResults(res, ops)
	return res, err
}
