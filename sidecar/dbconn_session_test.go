package sidecar

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/memdb"
	fullsb "github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/sb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/dbconn"
)

// dropProxy forwards unix connections to a server and can cut them all,
// as a server restart does, or stop listening, as a server that is gone.
type dropProxy struct {
	path   string
	mu     sync.Mutex
	l      net.Listener
	target string
	conns  []net.Conn
}

func newDropProxy(t *testing.T, path, target string) *dropProxy {
	t.Helper()
	p := &dropProxy{path: path, target: target}
	p.start(t)
	t.Cleanup(p.stop)
	return p
}

// start listens again after stop.
func (p *dropProxy) start(t *testing.T) {
	t.Helper()
	l, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			to := p.target
			p.mu.Unlock()
			up, err := net.Dial("unix", to)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
}

// stop closes the listener, which removes the socket, and cuts every
// connection.
func (p *dropProxy) stop() {
	p.mu.Lock()
	l := p.l
	p.l = nil
	p.mu.Unlock()
	if l != nil {
		_ = l.Close()
	}
	p.dropAll()
}

func (p *dropProxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// A lost connection to a clustered database is handed to libovsdb's own
// reconnect, whose monitor can resume with monitor_cond_since, and the
// connection counts as unsynced from the loss until the new server was
// checked and re-monitored, and the monitor resumes. The loss is seen when libovsdb's reconnect
// resets its backoff: if a libovsdb upgrade changes that, it goes unseen
// and this fails.
func TestDBConnReconnectsWithinSession(t *testing.T) {
	dir := t.TempDir()
	srvSock, pxSock := filepath.Join(dir, "sb.sock"), filepath.Join(dir, "px.sock")
	memdb.Serve(t, "OVN_Southbound", fullsb.FullDatabaseModel, fullsb.Schema(), srvSock)
	px := newDropProxy(t, pxSock, srvSock)
	writer := memdb.Dial(t, sb.FullDatabaseModel, srvSock)

	dbModel, err := model.NewClientDBModel("OVN_Southbound", map[string]model.Model{sb.ChassisTable: &sb.Chassis{}})
	if err != nil {
		t.Fatal(err)
	}
	c := dbconn.New("sb", dbModel, nil, Namespace)
	c.Clustered = "OVN_Southbound"
	c.Endpoints = func() ([]string, *tls.Config, error) { return []string{"unix:" + pxSock}, nil, nil }
	c.Monitor = func(cl client.Client) *client.Monitor { return cl.NewMonitor(client.WithTable(&sb.Chassis{})) }
	var ups, downs atomic.Int32
	c.OnUp = func() { ups.Add(1) }
	c.OnDown = func() { downs.Add(1) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, "first sync", 10*time.Second, c.Synced)
	first := c.Client()
	// libovsdb keeps a last transaction id from update3 notifications
	// only (not from a dump that was not found): give it one.
	memdb.Commit(t, writer, must[[]ovsdb.Operation](t)(writer.Create(&sb.Chassis{Name: "before"}))...)
	waitFor(t, "the row written before", 10*time.Second, func() bool {
		return c.Cache().Table(sb.ChassisTable).Len() == 1
	})
	rows := c.Cache().Table(sb.ChassisTable)
	px.dropAll()
	waitFor(t, "the loss to be seen", 10*time.Second, func() bool { return downs.Load() >= 1 })
	memdb.Commit(t, writer, must[[]ovsdb.Operation](t)(writer.Create(&sb.Chassis{Name: "while-down"}))...)
	waitFor(t, "the resync", 10*time.Second, func() bool { return c.Synced() && ups.Load() == 2 })
	if c.Client() != first {
		t.Fatal("the loss ended the session and a new client synced: libovsdb's reconnect, which can resume, was not used")
	}
	waitFor(t, "the row written while down", 10*time.Second, func() bool {
		var chs []sb.Chassis
		return c.Client().List(context.Background(), &chs) == nil && len(chs) == 2 &&
			slices.ContainsFunc(chs, func(ch sb.Chassis) bool { return ch.Name == "while-down" })
	})
	// The server had the cache's last transaction: the monitor resumed
	// (found=true), and libovsdb kept the row cache instead of purging it.
	if c.Cache().Table(sb.ChassisTable) != rows {
		t.Error("the monitor did not resume: libovsdb purged the cache")
	}
}
