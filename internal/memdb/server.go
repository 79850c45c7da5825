package memdb

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/cenkalti/rpc2"
	"github.com/cenkalti/rpc2/jsonrpc"
	"github.com/go-logr/logr"
	"github.com/google/uuid"
	"github.com/ovn-kubernetes/libovsdb/database"
	"github.com/ovn-kubernetes/libovsdb/database/inmemory"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/ovn-kubernetes/libovsdb/server"
)

// memServer serves one database. libovsdb's server answers list_dbs,
// get_schema, transact and echo; the monitors are memServer's, because
// libovsdb's send every row to every monitor whatever its conditions.
type memServer struct {
	name string
	dm   model.DatabaseModel
	db   database.Database // libovsdb's in-memory database
	lib  *server.OvsdbServer
	lis  net.Listener

	// mu orders each commit and its updates against new monitors' dumps.
	mu      sync.Mutex
	conns   map[*conn]bool
	lastTxn string
	closed  bool
}

// committer is the database libovsdb's server writes to: each commit
// also goes to the monitors.
type committer struct {
	database.Database
	s *memServer
}

func (c committer) Commit(db string, id uuid.UUID, u database.Update) error {
	return c.s.commit(db, id, u)
}

func newServer(name string, cm model.ClientDBModel, dm model.DatabaseModel) (*memServer, error) {
	logger := logr.Discard()
	s := &memServer{
		name:    name,
		dm:      dm,
		db:      inmemory.NewDatabase(map[string]model.ClientDBModel{name: cm}, &logger),
		conns:   map[*conn]bool{},
		lastTxn: "00000000-0000-0000-0000-000000000000",
	}
	lib, err := server.NewOvsdbServer(committer{s.db, s}, &logger, dm)
	s.lib = lib
	return s, err
}

// serve accepts connections on lis until close.
func (s *memServer) serve(lis net.Listener) {
	s.lis = lis
	for {
		nc, err := lis.Accept()
		if err != nil {
			return
		}
		c := s.open(nc)
		if c == nil {
			return
		}
		go func() {
			c.rpc.Run()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

func (s *memServer) close() {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[*conn]bool{}
	s.mu.Unlock()
	if s.lis != nil {
		_ = s.lis.Close()
	}
	for c := range conns {
		_ = c.rpc.Close()
	}
}

// conn is one client connection. Like ovsdb-server, it handles one
// request at a time, so the next reply written after a monitor request
// is that request's: updates are held back until it is out, as a client
// cannot place an update for a monitor it does not know yet.
type conn struct {
	rpc      *rpc2.Client
	monitors map[string]*monitor // by json-value, under memServer.mu
	replying bool                // the request being handled wants a reply

	sendMu sync.Mutex
	held   bool // a monitor reply is to be written: queue updates
	queue  []notification
}

type notification struct {
	method string
	params []any
}

// replyCodec tells the connection when a reply has been written.
type replyCodec struct {
	rpc2.Codec
	c *conn
}

func (r replyCodec) ReadHeader(req *rpc2.Request, resp *rpc2.Response) error {
	err := r.Codec.ReadHeader(req, resp)
	r.c.replying = req.Method != "" && req.Seq != 0 // 0: a notification
	return err
}

func (r replyCodec) WriteResponse(resp *rpc2.Response, body any) error {
	err := r.Codec.WriteResponse(resp, body)
	r.c.release()
	return err
}

func (s *memServer) open(nc net.Conn) *conn {
	c := &conn{monitors: map[string]*monitor{}}
	c.rpc = rpc2.NewClientWithCodec(replyCodec{jsonrpc.NewJSONCodec(nc), c})
	c.rpc.SetBlocking(true)
	c.rpc.Handle("list_dbs", s.lib.ListDatabases)
	c.rpc.Handle("get_schema", s.lib.GetSchema)
	c.rpc.Handle("transact", s.lib.Transact)
	c.rpc.Handle("echo", s.lib.Echo)
	c.rpc.Handle("monitor_cond", func(_ *rpc2.Client, args []json.RawMessage, reply *ovsdb.TableUpdates2) error {
		tu, _, err := s.monitor(c, false, args)
		*reply = tu
		return err
	})
	c.rpc.Handle("monitor_cond_since", func(_ *rpc2.Client, args []json.RawMessage, reply *ovsdb.MonitorCondSinceReply) error {
		tu, last, err := s.monitor(c, true, args)
		// No history is kept: the client always gets the whole dump.
		*reply = ovsdb.MonitorCondSinceReply{Found: false, LastTransactionID: last, Updates: tu}
		return err
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = nc.Close()
		return nil
	}
	s.conns[c] = true
	return c
}

// send sends an update notification, or queues it behind a monitor
// reply not yet written.
func (c *conn) send(n notification) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.held {
		c.queue = append(c.queue, n)
		return
	}
	_ = c.rpc.Notify(n.method, n.params)
}

func (c *conn) release() {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	for _, n := range c.queue {
		_ = c.rpc.Notify(n.method, n.params)
	}
	c.held, c.queue = false, nil
}

// monitor is one monitor_cond or monitor_cond_since request.
type monitor struct {
	id     json.RawMessage
	since  bool // update3 notifications, with the transaction's id
	tables map[string]*tableMonitor
}

// monitor registers a monitor for c and returns its initial dump and the
// last transaction it holds.
func (s *memServer) monitor(c *conn, since bool, args []json.RawMessage) (_ ovsdb.TableUpdates2, lastTxn string, err error) {
	if len(args) < 3 {
		return nil, "", errors.New("monitor: want [db, json-value, requests]")
	}
	var db string
	if err := json.Unmarshal(args[0], &db); err != nil || db != s.name {
		return nil, "", fmt.Errorf("unknown database %s", args[0])
	}
	var reqs map[string]condRequest
	if err := json.Unmarshal(args[2], &reqs); err != nil {
		return nil, "", fmt.Errorf("monitor requests: %w", err)
	}
	m := &monitor{id: args[1], since: since, tables: map[string]*tableMonitor{}}
	for table, req := range reqs {
		ts := s.dm.Schema.Table(table)
		if ts == nil {
			return nil, "", fmt.Errorf("unknown table %q", table)
		}
		tm, err := newTableMonitor(ts, req)
		if err != nil {
			return nil, "", fmt.Errorf("table %s: %w", table, err)
		}
		m.tables[table] = tm
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if c.monitors[string(m.id)] != nil {
		return nil, "", errors.New("duplicate monitor ID")
	}
	dump := ovsdb.TableUpdates2{}
	for table, tm := range m.tables {
		if !tm.sel.Initial() {
			continue
		}
		rows, err := s.db.List(s.name, table)
		if err != nil {
			return nil, "", err
		}
		tu := ovsdb.TableUpdate2{}
		for id, r := range rows {
			if !tm.matches(s.dm, r) {
				continue
			}
			row, err := tm.row(s.dm, r)
			if err != nil {
				return nil, "", err
			}
			tu[id] = &ovsdb.RowUpdate2{Initial: row}
		}
		if len(tu) > 0 {
			dump[table] = tu
		}
	}
	c.monitors[string(m.id)] = m
	c.sendMu.Lock()
	c.held = c.replying
	c.sendMu.Unlock()
	return dump, s.lastTxn, nil
}

// commit applies a transaction and sends each monitor what it sees of it.
func (s *memServer) commit(db string, id uuid.UUID, u database.Update) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Commit(db, id, u); err != nil {
		return err
	}
	s.lastTxn = id.String()
	tables := u.GetUpdatedTables()
	for c := range s.conns {
		for _, m := range c.monitors {
			tus := ovsdb.TableUpdates2{}
			for _, table := range tables {
				tm := m.tables[table]
				if tm == nil {
					continue
				}
				tu, err := tm.updates(s.dm, table, u)
				if err != nil {
					return err
				}
				if len(tu) > 0 {
					tus[table] = tu
				}
			}
			switch {
			case len(tus) == 0:
			case m.since:
				c.send(notification{"update3", []any{m.id, s.lastTxn, tus}})
			default:
				c.send(notification{"update2", []any{m.id, tus}})
			}
		}
	}
	return nil
}
