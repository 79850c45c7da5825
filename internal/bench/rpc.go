// Package bench runs the same workloads against ovn-controller's built-in
// VIF plugging and against the sidecar, and reports both side by side.
// cmd/bench is its command line; docs/performance.md explains the method.
//
// It talks to the databases with a small OVSDB JSON-RPC client of its own
// (RFC 7047 transact and monitor) rather than spawning ovn-nbctl or polling
// ovs-vsctl: every NB write is one transaction whose reply time is the
// start of the clock, and every OVS or NB change is seen as a monitor
// update the moment ovsdb-server sends it.
package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is one JSON-RPC connection to an ovsdb-server.
type Conn struct {
	c      net.Conn
	wmu    sync.Mutex
	mu     sync.Mutex
	nextID int64
	calls  map[int64]chan reply
	notify map[string]func(params json.RawMessage, at time.Time)
	done   chan struct{}
	err    error
	read   atomic.Int64 // bytes received
}

type reply struct {
	result json.RawMessage
	err    error
}

type message struct {
	ID     json.RawMessage `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  json.RawMessage `json:"error,omitempty"`
}

// Dial connects to a "unix:PATH" or "tcp:HOST:PORT" remote; of a
// comma-separated list (a clustered database) it uses the first.
func Dial(remote string) (*Conn, error) {
	remote, _, _ = strings.Cut(remote, ",")
	network, addr, ok := strings.Cut(remote, ":")
	if !ok || (network != "unix" && network != "tcp") {
		return nil, fmt.Errorf("unsupported remote %q", remote)
	}
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	conn := &Conn{
		c:      c,
		calls:  map[int64]chan reply{},
		notify: map[string]func(json.RawMessage, time.Time){},
		done:   make(chan struct{}),
	}
	go conn.readLoop()
	return conn, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// BytesRead is how many bytes the server has sent so far.
func (c *Conn) BytesRead() int64 { return c.read.Load() }

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.n.Add(int64(n))
	return n, err
}

func (c *Conn) readLoop() {
	dec := json.NewDecoder(bufio.NewReaderSize(countingReader{c.c, &c.read}, 1<<16))
	var err error
	for {
		var m message
		if err = dec.Decode(&m); err != nil {
			break
		}
		at := time.Now()
		switch {
		case m.Method == "echo":
			_ = c.send(message{ID: m.ID, Result: m.Params, Error: json.RawMessage("null")})
		case m.Method != "":
			c.mu.Lock()
			f := c.notify[m.Method]
			c.mu.Unlock()
			if f != nil {
				f(m.Params, at)
			}
		default:
			var id int64
			if json.Unmarshal(m.ID, &id) != nil {
				continue
			}
			c.mu.Lock()
			ch := c.calls[id]
			delete(c.calls, id)
			c.mu.Unlock()
			if ch == nil {
				continue
			}
			r := reply{result: m.Result}
			if len(m.Error) > 0 && string(m.Error) != "null" {
				r.err = fmt.Errorf("ovsdb error: %s", m.Error)
			}
			ch <- r
		}
	}
	c.mu.Lock()
	c.err = err
	for id, ch := range c.calls {
		ch <- reply{err: fmt.Errorf("connection closed: %v", err)}
		delete(c.calls, id)
	}
	c.mu.Unlock()
	close(c.done)
}

func (c *Conn) send(m message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err = c.c.Write(b)
	return err
}

// OnNotify registers the handler for a server notification ("update").
// Handlers run on the read goroutine, in order, and must be quick.
func (c *Conn) OnNotify(method string, f func(params json.RawMessage, at time.Time)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notify[method] = f
}

// Call sends a request and waits for its reply.
func (c *Conn) Call(ctx context.Context, method string, params ...any) (json.RawMessage, error) {
	if params == nil {
		params = []any{}
	}
	p, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	ch := make(chan reply, 1)
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		return nil, fmt.Errorf("connection closed: %v", c.err)
	default:
	}
	c.nextID++
	id := c.nextID
	c.calls[id] = ch
	c.mu.Unlock()
	if err := c.send(message{ID: json.RawMessage(fmt.Sprint(id)), Method: method, Params: p}); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.result, r.err
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.calls, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Op is one OVSDB operation (RFC 7047 5.2), marshalled as is.
type Op map[string]any

// OpResult is one operation's result.
type OpResult struct {
	UUID    []any  `json:"uuid"`
	Count   int    `json:"count"`
	Error   string `json:"error"`
	Details string `json:"details"`
}

// Transact runs ops as one transaction and returns each op's result. It
// fails if any op failed.
func (c *Conn) Transact(ctx context.Context, db string, ops ...Op) ([]OpResult, error) {
	params := make([]any, 0, len(ops)+1)
	params = append(params, db)
	for _, o := range ops {
		params = append(params, o)
	}
	raw, err := c.Call(ctx, "transact", params...)
	if err != nil {
		return nil, err
	}
	var res []OpResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("transact reply: %w", err)
	}
	for i, r := range res {
		if r.Error != "" {
			what := "commit"
			if i < len(ops) {
				what = fmt.Sprint(ops[i]["op"], " ", ops[i]["table"])
			}
			return res, fmt.Errorf("transact: %s: %s: %s", what, r.Error, r.Details)
		}
	}
	if len(res) < len(ops) {
		return res, errors.New("transact: short reply")
	}
	return res, nil
}

// UUIDOf returns the uuid an insert returned.
func (r OpResult) UUIDOf() string {
	if len(r.UUID) == 2 {
		if s, ok := r.UUID[1].(string); ok {
			return s
		}
	}
	return ""
}

// RowUpdate is one row's change in a monitor update: Old is nil for an
// insert, New is nil for a delete; for a modify Old has only the changed
// columns.
type RowUpdate struct {
	Old map[string]json.RawMessage `json:"old"`
	New map[string]json.RawMessage `json:"new"`
}

// TableUpdates maps table → row uuid → change.
type TableUpdates map[string]map[string]RowUpdate

// Monitor starts a monitor (RFC 7047 "monitor") of tables → columns. Every
// update, the initial contents first, goes to f with the time it arrived.
func (c *Conn) Monitor(ctx context.Context, db, id string, tables map[string][]string, f func(TableUpdates, time.Time)) error {
	c.OnNotify("update", func(params json.RawMessage, at time.Time) {
		var p []json.RawMessage
		if json.Unmarshal(params, &p) != nil || len(p) != 2 {
			return
		}
		var mid string
		if json.Unmarshal(p[0], &mid) != nil || mid != id {
			return
		}
		var tu TableUpdates
		if json.Unmarshal(p[1], &tu) == nil {
			f(tu, at)
		}
	})
	req := map[string]any{}
	for t, cols := range tables {
		req[t] = map[string]any{"columns": cols}
	}
	raw, err := c.Call(ctx, "monitor", db, id, req)
	if err != nil {
		return err
	}
	at := time.Now()
	var tu TableUpdates
	if err := json.Unmarshal(raw, &tu); err != nil {
		return fmt.Errorf("monitor reply: %w", err)
	}
	f(tu, at)
	return nil
}

// OVSDB value helpers (RFC 7047 5.1).

// OVSMap encodes a string map.
func OVSMap(m map[string]string) []any {
	pairs := make([]any, 0, len(m))
	for k, v := range m {
		pairs = append(pairs, []any{k, v})
	}
	return []any{"map", pairs}
}

// OVSSet encodes a set of atoms.
func OVSSet(atoms ...any) []any {
	if atoms == nil {
		atoms = []any{}
	}
	return []any{"set", atoms}
}

// UUIDRef refers to an existing row.
func UUIDRef(u string) []any { return []any{"uuid", u} }

// NamedRef refers to a row inserted earlier in the same transaction.
func NamedRef(n string) []any { return []any{"named-uuid", n} }

// decodeString decodes a string column (a plain string, or a set of one).
func decodeString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var set []json.RawMessage
	if json.Unmarshal(raw, &set) == nil && len(set) == 2 {
		var elems []json.RawMessage
		if json.Unmarshal(set[1], &elems) == nil && len(elems) == 1 {
			_ = json.Unmarshal(elems[0], &s)
		}
	}
	return s
}

// decodeInt decodes an optional integer column; ok is false if empty.
func decodeInt(raw json.RawMessage) (int64, bool) {
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return n, true
	}
	var set []json.RawMessage
	if json.Unmarshal(raw, &set) == nil && len(set) == 2 {
		var elems []json.RawMessage
		if json.Unmarshal(set[1], &elems) == nil && len(elems) == 1 && json.Unmarshal(elems[0], &n) == nil {
			return n, true
		}
	}
	return 0, false
}

// decodeBool decodes an optional boolean column; false if empty.
func decodeBool(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var set []json.RawMessage
	if json.Unmarshal(raw, &set) == nil && len(set) == 2 {
		var elems []json.RawMessage
		if json.Unmarshal(set[1], &elems) == nil && len(elems) == 1 {
			_ = json.Unmarshal(elems[0], &b)
		}
	}
	return b
}

// decodeMap decodes a string map column.
func decodeMap(raw json.RawMessage) map[string]string {
	out := map[string]string{}
	var m []json.RawMessage
	if json.Unmarshal(raw, &m) != nil || len(m) != 2 {
		return out
	}
	var pairs [][2]any
	if json.Unmarshal(m[1], &pairs) != nil {
		return out
	}
	for _, p := range pairs {
		k, _ := p[0].(string)
		v, _ := p[1].(string)
		out[k] = v
	}
	return out
}
