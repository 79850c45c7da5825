package sidecar

import (
	"testing"

	"github.com/ovn-kubernetes/libovsdb/ovsdb/serverdb"
)

func dbRow(model serverdb.DatabaseModel, connected bool, cid string, index int) *serverdb.Database {
	return &serverdb.Database{Name: "OVN_Southbound", Model: model, Connected: connected, Cid: &cid, Index: &index}
}

func TestClusterGuard(t *testing.T) {
	var g clusterGuard
	if why := g.check(dbRow(serverdb.DatabaseModelStandalone, false, "", 0)); why != "" {
		t.Fatalf("standalone refused: %s", why)
	}
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, false, "c1", 5)); why == "" {
		t.Fatal("a member not connected to its cluster was trusted")
	}
	fresh := dbRow(serverdb.DatabaseModelClustered, true, "c1", 14)
	if why := g.check(fresh); why != "" {
		t.Fatalf("first member refused: %s", why)
	}
	g.seen(fresh)
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, true, "c1", 13)); why == "" {
		t.Fatal("a member behind the index already seen was trusted")
	}
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, true, "c1", 14)); why != "" {
		t.Fatalf("a member at the index seen was refused: %s", why)
	}
	g.seen(dbRow(serverdb.DatabaseModelClustered, true, "c1", 20))
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, true, "c1", 19)); why == "" {
		t.Fatal("the minimum index did not follow the trusted member")
	}
	// A replaced cluster (new cid) starts again at low indexes.
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, true, "c2", 3)); why != "" {
		t.Fatalf("a new cluster was refused: %s", why)
	}
	// seen() from a member of the old cluster must not raise the new one's.
	g.seen(dbRow(serverdb.DatabaseModelClustered, true, "c1", 100))
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, true, "c2", 4)); why != "" {
		t.Fatalf("old cluster's index leaked into the new one: %s", why)
	}
}

func relayRow(connected bool) *serverdb.Database {
	// What a relay's _Server row holds: no cid, no index.
	return &serverdb.Database{Name: "OVN_Southbound", Model: serverdb.DatabaseModelRelay, Connected: connected}
}

func TestClusterGuardRelay(t *testing.T) {
	var g clusterGuard
	if why := g.check(relayRow(true)); why != "" {
		t.Fatalf("a connected relay was refused: %s", why)
	}
	if why := g.check(relayRow(false)); why == "" {
		t.Fatal("a relay not connected to its source was trusted")
	}
	member := dbRow(serverdb.DatabaseModelClustered, true, "c1", 40)
	if why := g.check(member); why != "" {
		t.Fatalf("member refused: %s", why)
	}
	g.seen(member)
	// Relays in between must neither reset nor lower the minimum index.
	for _, ok := range []bool{true, false} {
		r := relayRow(ok)
		_ = g.check(r)
		g.seen(r)
	}
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, true, "c1", 39)); why == "" {
		t.Fatal("a stale member was trusted after a relay session")
	}
	if why := g.check(dbRow(serverdb.DatabaseModelClustered, true, "c1", 40)); why != "" {
		t.Fatalf("an up-to-date member was refused after a relay session: %s", why)
	}
}
