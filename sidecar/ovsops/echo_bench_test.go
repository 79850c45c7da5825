package ovsops

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
)

// realOVSDB starts a real ovsdb-server with an empty Open_vSwitch database
// and one bridge. The echo of our own write that this file measures is
// ovsdb-server's behaviour (the monitor update goes out before the
// transaction reply); the in-memory server does not show it.
func realOVSDB(b *testing.B) (sock, bridge string) {
	b.Helper()
	for _, bin := range []string{"ovsdb-tool", "ovsdb-server"} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Fatalf("%s not found (make deps): %v", bin, err)
		}
	}
	dir := b.TempDir()
	db := filepath.Join(dir, "conf.db")
	schema, err := filepath.Abs("../../ovsdbmodel/vswitch.ovsschema")
	if err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("ovsdb-tool", "create", db, schema).CombinedOutput(); err != nil {
		b.Fatalf("ovsdb-tool create: %v: %s", err, out)
	}
	sock = filepath.Join(dir, "db.sock")
	cmd := exec.Command("ovsdb-server", "--no-chdir", "-vconsole:off", "--log-file="+filepath.Join(dir, "ovsdb-server.log"),
		"--unixctl="+filepath.Join(dir, "ctl"), "--remote=punix:"+sock, db)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("ovsdb-server did not start")
		}
	}
	cl := echoClient(b, sock, false)
	ops := []ovsdb.Operation{
		{Op: ovsdb.OperationInsert, Table: tableBridge, UUIDName: "br", Row: ovsdb.Row{colName: "br-int"}},
		{Op: ovsdb.OperationInsert, Table: "Open_vSwitch", Row: ovsdb.Row{"bridges": ovsdb.OvsSet{GoSet: []any{ovsdb.UUID{GoUUID: "br"}}}}},
	}
	return sock, transactOK(b, cl, ops)[0].UUID.GoUUID
}

// echoClient connects; with monitor it monitors the columns the engine
// monitors (sidecar's ovsMonitor).
func echoClient(b *testing.B, sock string, monitor bool) client.Client {
	b.Helper()
	cm, err := vswitch.FullDatabaseModel()
	if err != nil {
		b.Fatal(err)
	}
	logger := logr.Discard()
	cl, err := client.NewOVSDBClient(cm, client.WithEndpoint("unix:"+sock), client.WithLogger(&logger))
	if err != nil {
		b.Fatal(err)
	}
	if err := cl.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	if monitor {
		br, port, iface := &vswitch.Bridge{}, &vswitch.Port{}, &vswitch.Interface{}
		if _, err := cl.Monitor(context.Background(), cl.NewMonitor(
			client.WithTable(br, &br.Name, &br.Ports, &br.DatapathType),
			client.WithTable(port, &port.Name, &port.Interfaces),
			client.WithTable(iface, &iface.Name, &iface.Type, &iface.Options, &iface.ExternalIDs, &iface.MTURequest, &iface.Error),
		)); err != nil {
			b.Fatal(err)
		}
	}
	return cl
}

func transactOK(b *testing.B, cl client.Client, ops []ovsdb.Operation) []ovsdb.OperationResult {
	b.Helper()
	res, err := cl.Transact(context.Background(), ops...)
	if err == nil {
		_, err = ovsdb.CheckOperationResults(res, ops)
	}
	if err != nil {
		b.Fatal(err)
	}
	return res
}

// BenchmarkOwnEcho times the Transact of a 1000-port plug and of the
// matching unplug, as the engine sends them, on a real ovsdb-server:
//   - writer-monitors: the writing client also carries the engine's
//     monitor, so libovsdb's single rpc2 reader decodes and applies the
//     echo of our own 2000 rows before it reads the reply behind it;
//   - separate-writer: the writer has no monitor and a second connection
//     carries it, so the reply is read at once.
//
// The cache is awaited after each step in both, so the work per
// iteration is the same.
func BenchmarkOwnEcho(b *testing.B) {
	for _, separate := range []bool{false, true} {
		name := "writer-monitors"
		if separate {
			name = "separate-writer"
		}
		b.Run(name, func(b *testing.B) {
			sock, br := realOVSDB(b)
			mon := echoClient(b, sock, true)
			writer := mon
			if separate {
				writer = echoClient(b, sock, false)
			}
			ifaces := func() int { return mon.Cache().Table(vswitch.InterfaceTable).Len() }
			wait := func(n int) {
				for deadline := time.Now().Add(30 * time.Second); ifaces() != n; time.Sleep(time.Millisecond) {
					if time.Now().After(deadline) {
						b.Fatalf("cache shows %d interfaces, want %d", ifaces(), n)
					}
				}
			}
			var plug, unplug time.Duration
			for b.Loop() {
				ops := benchPlugOps(br)
				start := time.Now()
				res := transactOK(b, writer, ops)
				plug += time.Since(start)
				wait(benchPorts)

				ops = ops[:0]
				bp := BridgePorts{}
				for n := range benchPorts {
					port, iface := res[2*n+1].UUID.GoUUID, res[2*n].UUID.GoUUID
					ops = append(ops, Unplug(port, iface)...)
					bp.Delete(br, port)
				}
				ops = append(ops, bp.Ops()...)
				start = time.Now()
				transactOK(b, writer, ops)
				unplug += time.Since(start)
				wait(0)
			}
			b.ReportMetric(float64(plug.Microseconds())/1000/float64(b.N), "plug-ms")
			b.ReportMetric(float64(unplug.Microseconds())/1000/float64(b.N), "unplug-ms")
		})
	}
}

// BenchmarkCommitScale times the Transact of an n-port plug into an
// empty bridge on a real ovsdb-server, for n = 1000 and 10,000, with no
// client monitoring and with one monitoring like the engine. No
// ovs-vswitchd runs: this is how the server's commit alone grows with
// the transaction, the floor under the 10,000-port bench row.
func BenchmarkCommitScale(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		for _, monitors := range []int{0, 1} {
			b.Run(fmt.Sprintf("ports=%d/monitors=%d", n, monitors), func(b *testing.B) {
				var commit time.Duration
				for b.Loop() {
					b.StopTimer()
					sock, br := realOVSDB(b)
					if monitors > 0 {
						echoClient(b, sock, true)
					}
					writer := echoClient(b, sock, false)
					ops := plugOpsN(br, 0, n)
					b.StartTimer()
					start := time.Now()
					transactOK(b, writer, ops)
					commit += time.Since(start)
				}
				b.ReportMetric(float64(commit.Microseconds())/1000/float64(b.N), "commit-ms")
			})
		}
	}
}
