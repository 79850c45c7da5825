// Package memdb serves OVSDB databases from libovsdb's in-memory server
// for tests: the engine's unit tests, the ovsops builders' tests and
// providertest's harness. The in-memory server ignores monitor
// conditions and collects no garbage; e2e/ runs the real ovsdb-server.
package memdb

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/database/inmemory"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/ovn-kubernetes/libovsdb/server"
)

// TB is the part of testing.TB the helpers use.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Serve starts an in-memory server for database name on the unix socket
// sock, stopped at the end of the test.
func Serve(t TB, name string, full func() (model.ClientDBModel, error), schema ovsdb.DatabaseSchema, sock string) {
	t.Helper()
	cm, err := full()
	if err != nil {
		t.Fatal(err)
	}
	logger := logr.Discard()
	dm, errs := model.NewDatabaseModel(schema, cm)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	srv, err := server.NewOvsdbServer(inmemory.NewDatabase(map[string]model.ClientDBModel{name: cm}, &logger), &logger, dm)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve("unix", sock) }()
	t.Cleanup(srv.Close)
	for deadline := time.Now().Add(10 * time.Second); !srv.Ready(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("memdb: %s server on %s not ready", name, sock)
		}
	}
}

// Dial connects a client that monitors every table, so that committed
// rows can be read back from its cache; it is closed at the end of the
// test.
func Dial(t TB, full func() (model.ClientDBModel, error), sock string) client.Client {
	t.Helper()
	cm, err := full()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.NewOVSDBClient(cm, client.WithEndpoint("unix:"+sock))
	if err == nil {
		err = cl.Connect(context.Background())
	}
	if err == nil {
		_, err = cl.MonitorAll(context.Background())
	}
	if err != nil {
		t.Fatalf("memdb: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Commit runs ops as one transaction and fails the test on any error,
// including per-operation ones.
func Commit(t TB, cl client.Client, ops ...ovsdb.Operation) []ovsdb.OperationResult {
	t.Helper()
	res, err := cl.Transact(context.Background(), ops...)
	if err == nil {
		_, err = ovsdb.CheckOperationResults(res, ops)
	}
	if err != nil {
		t.Fatalf("memdb: transaction: %v", err)
	}
	return res
}
