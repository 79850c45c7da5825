package fleet

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
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

	mu sync.Mutex
	// byMethod counts the bytes the server sent, by the method of the
	// request they answer ("get_schema", "monitor_cond_since", ...) or of
	// the notification ("update3", "echo").
	byMethod map[string]int64
	// startup is byMethod dumpWindow after the connection opened.
	startup map[string]int64
	// Since is the last_txn_id the client sent in monitor_cond_since
	// ("" if it sent none) and Found the server's answer.
	Since string
	Found bool
	// DB is the database the client monitors on this connection.
	DB  string
	ids map[string]string // request id → method, awaiting replies
}

// Startup returns the bytes the server sent in the connection's first
// dumpWindow, by method.
func (c *conn) Startup() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	src := c.startup
	if src == nil {
		src = c.byMethod
	}
	out := make(map[string]int64, len(src))
	for k, v := range src {
		out[k] = v
	}
	return out
}

func (c *conn) snapshotStartup() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.startup != nil {
		return
	}
	c.startup = map[string]int64{}
	for k, v := range c.byMethod {
		c.startup[k] = v
	}
}

// rpcMsg is the part of a JSON-RPC message the proxy reads.
type rpcMsg struct {
	ID     json.RawMessage   `json:"id"`
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
	Result json.RawMessage   `json:"result"`
}

// fromClient notes a request's method by id.
func (c *conn) fromClient(raw []byte) {
	var m rpcMsg
	if json.Unmarshal(raw, &m) != nil || m.Method == "" || len(m.ID) == 0 || string(m.ID) == "null" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids[string(m.ID)] = m.Method
	if strings.HasPrefix(m.Method, "monitor") && len(m.Params) > 0 {
		_ = json.Unmarshal(m.Params[0], &c.DB)
	}
	if m.Method == "monitor_cond_since" && len(m.Params) == 4 {
		_ = json.Unmarshal(m.Params[3], &c.Since)
	}
}

// fromServer counts a message under its method.
func (c *conn) fromServer(raw []byte) {
	var m rpcMsg
	_ = json.Unmarshal(raw, &m)
	c.mu.Lock()
	defer c.mu.Unlock()
	method := m.Method
	if method == "" {
		method = c.ids[string(m.ID)]
		delete(c.ids, string(m.ID))
		if method == "monitor_cond_since" {
			// [found, last_txn_id, updates]
			var res []json.RawMessage
			if json.Unmarshal(m.Result, &res) == nil && len(res) == 3 {
				_ = json.Unmarshal(res[0], &c.Found)
			}
		}
	}
	if method == "" {
		method = "other"
	}
	c.byMethod[method] += int64(len(raw))
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
	rec := &conn{Opened: time.Now(), Upstream: upstream, byMethod: map[string]int64{}, ids: map[string]string{}}
	p.mu.Lock()
	p.conns = append(p.conns, rec)
	p.mu.Unlock()
	t := time.AfterFunc(dumpWindow, rec.snapshotStartup)
	defer t.Stop()
	go func() {
		relay(up, c, rec.fromClient)
		// Either side closing ends the whole connection, as a server
		// restart does.
		_ = up.Close()
	}()
	relay(c, up, rec.fromServer)
	rec.snapshotStartup()
}

// relay copies JSON-RPC messages from r to w one at a time, unchanged,
// and shows each to note.
func relay(w io.Writer, r io.Reader, note func([]byte)) {
	dec := json.NewDecoder(r)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return
		}
		note(raw)
		if _, err := w.Write(raw); err != nil {
			return
		}
	}
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

// traffic sums what the servers sent a probe sidecar on some connections
// in their first dumpWindow.
type traffic struct {
	Conns int
	Bytes int64
	// Schema is get_schema replies; Dump the replies to monitor requests.
	Schema, Dump int64
	// CondSince counts monitor_cond_since requests, Resumes those sent with
	// a last_txn_id (not all zeros) and Found those the server answered
	// with found=true.
	CondSince, Resumes, Found int
}

const zeroTxnID = "00000000-0000-0000-0000-000000000000"

func summarize(conns []*conn) traffic {
	var t traffic
	for _, c := range conns {
		t.Conns++
		for m, n := range c.Startup() {
			t.Bytes += n
			switch m {
			case "get_schema":
				t.Schema += n
			case "monitor", "monitor_cond", "monitor_cond_since":
				t.Dump += n
			}
		}
		c.mu.Lock()
		if c.Since != "" {
			t.CondSince++
			if c.Since != zeroTxnID {
				t.Resumes++
			}
			if c.Found {
				t.Found++
			}
		}
		c.mu.Unlock()
	}
	return t
}

func (t traffic) String() string {
	if t.Conns == 0 {
		return "no connections"
	}
	return fmt.Sprintf("%d connections, %d bytes (schema %d, monitor replies %d); monitor_cond_since %d, with a last_txn_id %d, found %d",
		t.Conns, t.Bytes, t.Schema, t.Dump, t.CondSince, t.Resumes, t.Found)
}

// BytesByDB sums what the servers have sent so far on every connection,
// by the database monitored on it.
func (p *countingProxy) BytesByDB() map[string]int64 {
	p.mu.Lock()
	conns := append([]*conn(nil), p.conns...)
	p.mu.Unlock()
	out := map[string]int64{}
	for _, c := range conns {
		c.mu.Lock()
		for _, n := range c.byMethod {
			out[c.DB] += n
		}
		c.mu.Unlock()
	}
	return out
}
