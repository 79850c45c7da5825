package dbconn

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb/serverdb"
)

// clusterGuard keeps the sidecar from trusting a clustered server whose
// copy of the database is older than data it has already acted on. A
// member that is cut off, or restarting and not caught up yet, keeps
// serving its old copy, and an old copy can look like "binding gone".
// Like ovn-controller's ovsdb-cs, it reads the member's _Server row and
// refuses one that is not connected to its cluster, or whose raft index is
// below the highest index seen so far (min_index), unless the cluster
// itself was replaced (a new cluster ID).
//
// A relay (ovsdb-server relay:DB:...) serves a copy of its source's data
// and has no raft index or cluster ID of its own; the relay checks its
// source's freshness itself. The sidecar refuses to start a session on a
// relay that says it is not connected to its source (its copy may be
// older than what the sidecar already saw elsewhere), but keeps a session
// whose relay loses its source: that copy only stops moving, and every
// relay behind a failing-over leader says so for a moment, which would
// otherwise send all their sidecars elsewhere at once. (ovsdb-cs trusts
// relays unconditionally.) A relay never touches the minimum index: a
// cluster member seen later must still not be behind what a member
// showed before.
type clusterGuard struct {
	mu       sync.Mutex
	cid      string
	minIndex int
}

// check returns why a _Server row must not be trusted, or "". starting
// says whether a session is about to start on the server, or runs on it.
func (g *clusterGuard) check(d *serverdb.Database, starting bool) string {
	switch d.Model {
	case serverdb.DatabaseModelRelay:
		if starting && !d.Connected {
			return "is a relay not connected to its source"
		}
		return ""
	case serverdb.DatabaseModelClustered:
	default:
		return ""
	}
	if !d.Connected {
		return "is not connected to its cluster"
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	cid := ""
	if d.Cid != nil {
		cid = *d.Cid
	}
	if cid != g.cid {
		// A new cluster: indexes start again.
		g.cid, g.minIndex = cid, 0
	}
	if d.Index != nil && *d.Index < g.minIndex {
		return fmt.Sprintf("is behind: raft index %d, but index %d was already seen", *d.Index, g.minIndex)
	}
	return ""
}

// seen raises the minimum index from a trusted member's row.
func (g *clusterGuard) seen(d *serverdb.Database) {
	if d.Model != serverdb.DatabaseModelClustered || d.Index == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if d.Cid != nil && *d.Cid == g.cid && *d.Index > g.minIndex {
		g.minIndex = *d.Index
	}
}

type clusterWatch struct {
	cl client.Client
}

// watchCluster connects to _Server on endpoint and fails if dbName there
// must not be trusted. While the watch lives, it raises the guard's
// minimum index and calls lost() if the member stops being trustworthy.
func (g *clusterGuard) watch(ctx context.Context, endpoint string, tlsCfg *tls.Config, dbName string, lost func(why string)) (*clusterWatch, error) {
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
	// Fails closed: a server whose _Server cannot be read is not trusted
	// (ovsdb-server has served _Server since OVS 2.9).
	if err := cl.Connect(ctx); err != nil {
		return nil, fmt.Errorf("_Server on %s: %w", endpoint, err)
	}
	ok := false
	defer func() {
		if !ok {
			cl.Close()
		}
	}()
	ours := func(m model.Model) *serverdb.Database {
		if d, isDB := m.(*serverdb.Database); isDB && d.Name == dbName {
			return d
		}
		return nil
	}
	cl.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		UpdateFunc: func(_ string, _, m model.Model) {
			d := ours(m)
			if d == nil {
				return
			}
			if why := g.check(d, false); why != "" {
				lost(why)
				return
			}
			g.seen(d)
		},
	})
	db := &serverdb.Database{}
	if _, err := cl.Monitor(ctx, cl.NewMonitor(client.WithTable(db, &db.Name, &db.Model, &db.Connected, &db.Index, &db.Cid))); err != nil {
		return nil, fmt.Errorf("_Server on %s: %w", endpoint, err)
	}
	found := false
	for _, m := range cl.Cache().Table(serverdb.DatabaseTable).RowsShallow() {
		if d := ours(m); d != nil {
			found = true
			if why := g.check(d, true); why != "" {
				return nil, fmt.Errorf("%s on %s %s; its data may be stale, trying another member", dbName, endpoint, why)
			}
			g.seen(d)
		}
	}
	if !found {
		return nil, fmt.Errorf("_Server on %s has no row for %s", endpoint, dbName)
	}
	ok = true
	return &clusterWatch{cl: cl}, nil
}

func (w *clusterWatch) Close() {
	if w != nil {
		w.cl.Close()
	}
}
