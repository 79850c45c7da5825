package dbconn

import (
	"testing"

	"github.com/ovn-kubernetes/libovsdb/ovsdb/serverdb"
)

func dbRow(model serverdb.DatabaseModel, connected bool, cid string, index int) *serverdb.Database {
	return &serverdb.Database{Name: "OVN_Southbound", Model: model, Connected: connected, Cid: &cid, Index: &index}
}

func TestClusterGuard(t *testing.T) {
	var g clusterGuard
	if why := g.check(dbRow(serverdb.DatabaseModelStandalone, false, "", 0), true); why != "" {
		t.Fatalf("standalone refused: %s", why)
	}
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, false, "c1", 5), true); why == "" {
		t.Fatal("a member not connected to its cluster was trusted")
	}
	fresh := dbRow(serverdb.DatabaseModelClustered, true, "c1", 14)
	if why := g.check(fresh, true); why != "" {
		t.Fatalf("first member refused: %s", why)
	}
	g.seen(fresh)
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, true, "c1", 13), true); why == "" {
		t.Fatal("a member behind the index already seen was trusted")
	}
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, true, "c1", 14), true); why != "" {
		t.Fatalf("a member at the index seen was refused: %s", why)
	}
	g.seen(dbRow(serverdb.DatabaseModelClustered, true, "c1", 20))
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, true, "c1", 19), true); why == "" {
		t.Fatal("the minimum index did not follow the trusted member")
	}
	// A replaced cluster (new cid) starts again at low indexes.
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, true, "c2", 3), true); why != "" {
		t.Fatalf("a new cluster was refused: %s", why)
	}
	// seen() from a member of the old cluster must not raise the new one's.
	g.seen(dbRow(serverdb.DatabaseModelClustered, true, "c1", 100))
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, true, "c2", 4), true); why != "" {
		t.Fatalf("old cluster's index leaked into the new one: %s", why)
	}
}

func relayRow(connected bool) *serverdb.Database {
	// What a relay's _Server row holds: no cid, no index.
	return &serverdb.Database{Name: "OVN_Southbound", Model: serverdb.DatabaseModelRelay, Connected: connected}
}

func TestClusterGuardRelay(t *testing.T) {
	var g clusterGuard
	if why := g.check(relayRow(true), true); why != "" {
		t.Fatalf("a connected relay was refused: %s", why)
	}
	if why := g.check(relayRow(false), true); why == "" {
		t.Fatal("a session started on a relay not connected to its source")
	}
	if why := g.check(relayRow(false), false); why != "" {
		t.Fatalf("a session was dropped because its relay lost its source: %s", why)
	}
	// A cluster member that leaves its cluster is left at once.
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, false, "c1", 5), false); why == "" {
		t.Fatal("a session stayed on a member not connected to its cluster")
	}
	member := dbRow(serverdb.DatabaseModelClustered, true, "c1", 40)
	if why := g.check(member, true); why != "" {
		t.Fatalf("member refused: %s", why)
	}
	g.seen(member)
	// Relays in between must neither reset nor lower the minimum index.
	for _, ok := range []bool{true, false} {
		r := relayRow(ok)
		_ = g.check(r, true)
		_ = g.check(r, false)
		g.seen(r)
	}
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, true, "c1", 39), true); why == "" {
		t.Fatal("a stale member was trusted after a relay session")
	}
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, true, "c1", 40), true); why != "" {
		t.Fatalf("an up-to-date member was refused after a relay session: %s", why)
	}
}
