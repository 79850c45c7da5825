package sidecar

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb/serverdb"
)

// clusterWatch guards against a clustered server that is not connected to
// its cluster: such a member (restarting, or cut off) serves an old copy
// of the database, and an old copy can look like "binding gone". Like
// ovn-controller's ovsdb-cs, the sidecar reads the server's _Server
// database and only trusts a member that reports itself connected.
type clusterWatch struct {
	cl client.Client
}

// watchCluster connects to _Server on endpoint and fails if dbName is a
// clustered database that the member reports as not connected. While the
// watch lives, lost calls lost() when that changes.
func watchCluster(ctx context.Context, endpoint string, tlsCfg *tls.Config, dbName string, lost func()) (*clusterWatch, error) {
	sm, err := serverdb.FullDatabaseModel()
	if err != nil {
		return nil, err
	}
	opts := []client.Option{client.WithEndpoint(endpoint)}
	if tlsCfg != nil {
		opts = append(opts, client.WithTLSConfig(tlsCfg))
	}
	cl, err := client.NewOVSDBClient(sm, opts...)
	if err != nil {
		return nil, err
	}
	if err := cl.Connect(ctx); err != nil {
		if strings.Contains(err.Error(), "not found") {
			// A server without _Server (libovsdb's test server) cannot be
			// clustered either.
			return nil, nil
		}
		return nil, fmt.Errorf("_Server on %s: %w", endpoint, err)
	}
	ok := true
	defer func() {
		if !ok {
			cl.Close()
		}
	}()
	stale := func(m model.Model) bool {
		d, isDB := m.(*serverdb.Database)
		return isDB && d.Name == dbName && d.Model == serverdb.DatabaseModelClustered && !d.Connected
	}
	cl.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		UpdateFunc: func(_ string, _, m model.Model) {
			if stale(m) {
				lost()
			}
		},
	})
	db := &serverdb.Database{}
	if _, err := cl.Monitor(ctx, cl.NewMonitor(client.WithTable(db, &db.Name, &db.Model, &db.Connected))); err != nil {
		ok = false
		return nil, fmt.Errorf("_Server on %s: %w", endpoint, err)
	}
	for _, m := range cl.Cache().Table(serverdb.DatabaseTable).RowsShallow() {
		if stale(m) {
			ok = false
			return nil, fmt.Errorf("%s on %s is a cluster member not connected to its cluster; its data may be stale", dbName, endpoint)
		}
	}
	return &clusterWatch{cl: cl}, nil
}

func (w *clusterWatch) Close() {
	if w != nil {
		w.cl.Close()
	}
}
