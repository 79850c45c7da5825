// Package memdb serves OVSDB databases from libovsdb's in-memory database
// for tests: the engine's unit tests, the ovsops builders' tests and
// providertest's harness. libovsdb's server runs the transactions;
// memdb's own monitors (monitor_cond and monitor_cond_since) honour the
// conditions as ovsdb-server does: a client sees only the rows meeting
// one of its clauses, and a row that starts or stops meeting them is
// inserted or deleted for it. Each server also serves _Server, where its
// database is the connected leader of a one-member cluster whose raft
// index counts the transactions, and keeps a bounded transaction history
// so that monitor_cond_since resumes (found=true) as a cluster member's
// does. It does not implement monitor_cond_change, monitor_cancel or
// locks, and collects no garbage; e2e/ runs the real ovsdb-server.
package memdb

import (
	"context"
	"net"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
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
	dm, errs := model.NewDatabaseModel(schema, cm)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	srv, err := newServer(name, cm, dm)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("memdb: %s server: %v", name, err)
	}
	go srv.serve(lis)
	t.Cleanup(srv.close)
}

// Dial connects a client that monitors every table of its model, so that
// committed rows can be read back from its cache; it is closed at the end
// of the test. It asks for the model's columns only: MonitorAll asks for
// every column the server has, which a slim model cannot hold.
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
		_, err = cl.Monitor(context.Background(), modelMonitor(cl, cm))
	}
	if err != nil {
		t.Fatalf("memdb: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// modelMonitor monitors each table of cm with the columns its model has.
func modelMonitor(cl client.Client, cm model.ClientDBModel) *client.Monitor {
	m := cl.NewMonitor()
	for table, typ := range cm.Types() {
		tm := client.TableMonitor{Table: table}
		for f := range typ.Elem().Fields() {
			if col := f.Tag.Get("ovsdb"); col != "" && col != "_uuid" {
				tm.Fields = append(tm.Fields, col)
			}
		}
		m.Tables = append(m.Tables, tm)
	}
	return m
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
