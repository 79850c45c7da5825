package fleet

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// dumpWindow is how long after a connection opens its bytes count as
// the connection's start-up traffic: schema, list_dbs, the _Server rows
// and the monitor reply.
const dumpWindow = 2 * time.Second

// conn is one client connection through a counting proxy.
type conn struct {
	Opened   time.Time
	Upstream string
	// down counts bytes from the server to the client; startup is its
	// value dumpWindow after the connection opened.
	down    atomic.Int64
	startup atomic.Int64
}

// Startup returns the bytes the server sent in the connection's first
// dumpWindow (all of them so far if the window has not passed).
func (c *conn) Startup() int64 {
	if time.Since(c.Opened) < dumpWindow {
		return c.down.Load()
	}
	return c.startup.Load()
}

// countingProxy stands between one probe sidecar and every SB server it
// may use: one unix socket per upstream, forwarding byte for byte and
// counting what the server sends on each connection. It is how the
// harness sees whether a reconnect costs a full initial dump or a
// monitor_cond_since resume.
type countingProxy struct {
	ls []net.Listener
	wg sync.WaitGroup

	mu     sync.Mutex
	conns  []*conn
	open   map[net.Conn]struct{}
	closed bool
}

// newCountingProxy listens on <dir>/<name>-<i>.sock for each "unix:PATH"
// upstream and returns the proxy and its remotes, in upstream order.
func newCountingProxy(dir, name string, upstreams []string) (*countingProxy, []string, error) {
	p := &countingProxy{open: map[net.Conn]struct{}{}}
	var remotes []string
	for i, up := range upstreams {
		path, ok := strings.CutPrefix(up, "unix:")
		if !ok {
			p.Close()
			return nil, nil, fmt.Errorf("proxy: only unix: upstreams, not %q", up)
		}
		sock := filepath.Join(dir, fmt.Sprintf("%s-%d.sock", name, i))
		l, err := net.Listen("unix", sock)
		if err != nil {
			p.Close()
			return nil, nil, err
		}
		p.ls = append(p.ls, l)
		remotes = append(remotes, "unix:"+sock)
		p.wg.Add(1)
		go p.serve(l, up, path)
	}
	return p, remotes, nil
}

func (p *countingProxy) serve(l net.Listener, upstream, path string) {
	defer p.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.forward(c, upstream, path)
		}()
	}
}

func (p *countingProxy) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !add {
		delete(p.open, c)
		return true
	}
	if p.closed {
		return false
	}
	p.open[c] = struct{}{}
	return true
}

func (p *countingProxy) forward(c net.Conn, upstream, path string) {
	defer c.Close()
	// A server that is down looks to the client like a connection that
	// closes at once.
	up, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	if !p.track(c, true) || !p.track(up, true) {
		return
	}
	defer p.track(c, false)
	defer p.track(up, false)
	rec := &conn{Opened: time.Now(), Upstream: upstream}
	p.mu.Lock()
	p.conns = append(p.conns, rec)
	p.mu.Unlock()
	t := time.AfterFunc(dumpWindow, func() { rec.startup.Store(rec.down.Load()) })
	defer t.Stop()
	go func() {
		_, _ = io.Copy(up, c)
		// Either side closing ends the whole connection, as a server
		// restart does.
		_ = up.Close()
	}()
	_, _ = io.Copy(countingWriter{c, &rec.down}, up)
	if time.Since(rec.Opened) < dumpWindow {
		rec.startup.Store(rec.down.Load())
	}
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (w countingWriter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	w.n.Add(int64(n))
	return n, err
}

// Since returns the connections opened at or after t.
func (p *countingProxy) Since(t time.Time) []*conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*conn
	for _, c := range p.conns {
		if !c.Opened.Before(t) {
			out = append(out, c)
		}
	}
	return out
}

// Current returns the upstream of the newest connection still open, or "".
func (p *countingProxy) Current() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.open) == 0 || len(p.conns) == 0 {
		return ""
	}
	return p.conns[len(p.conns)-1].Upstream
}

// Close stops listening and ends every forwarded connection.
func (p *countingProxy) Close() {
	for _, l := range p.ls {
		_ = l.Close()
	}
	p.mu.Lock()
	p.closed = true
	for c := range p.open {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
