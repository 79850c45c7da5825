package memdb

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"

	"github.com/cenkalti/rpc2"
	"github.com/cenkalti/rpc2/jsonrpc"
	"github.com/go-logr/logr"
	"github.com/google/uuid"
	"github.com/ovn-kubernetes/libovsdb/database"
	"github.com/ovn-kubernetes/libovsdb/database/inmemory"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/ovn-kubernetes/libovsdb/ovsdb/serverdb"
	"github.com/ovn-kubernetes/libovsdb/server"
)

// memServer serves one database, and _Server, which describes it as the
// only member of a cluster, as ovsdb-server does a clustered database.
// libovsdb's server answers list_dbs, get_schema, transact and echo; the
// monitors are memServer's, because libovsdb's send every row to every
// monitor whatever its conditions.
type memServer struct {
	name string
	dms  map[string]model.DatabaseModel // name's and _Server's
	db   database.Database              // libovsdb's in-memory database
	lib  *server.OvsdbServer
	lis  net.Listener
	// cid, sid: the cluster's and this member's ids in _Server.
	cid, sid string

	// mu orders each commit and its updates against new monitors' dumps.
	mu      sync.Mutex
	conns   map[*conn]bool
	lastTxn string
	// index is the raft index _Server shows: one per transaction.
	index int
	// history holds name's last transactions, oldest first, so that a
	// monitor_cond_since can resume after any of them.
	history []txn
	closed  bool
}

// txn is a committed transaction of the served database.
type txn struct {
	id string
	u  database.Update
}

// historySize bounds the transaction history. ovsdb-server bounds its
// own by count and size; a client whose last transaction is older gets a
// full dump, as there.
const historySize = 1000

// serverDB is the name of the database that describes the others.
const serverDB = "_Server"

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
	scm, err := serverdb.FullDatabaseModel()
	if err != nil {
		return nil, err
	}
	sdm, errs := model.NewDatabaseModel(serverdb.Schema(), scm)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s := &memServer{
		name:    name,
		dms:     map[string]model.DatabaseModel{name: dm, serverDB: sdm},
		db:      inmemory.NewDatabase(map[string]model.ClientDBModel{name: cm, serverDB: scm}, &logger),
		cid:     uuid.NewString(),
		sid:     uuid.NewString(),
		conns:   map[*conn]bool{},
		lastTxn: "00000000-0000-0000-0000-000000000000",
	}
	lib, err := server.NewOvsdbServer(committer{s.db, s}, &logger, dm, sdm)
	if err != nil {
		return nil, err
	}
	s.lib = lib
	return s, s.initServerDB()
}

// initServerDB adds _Server's rows: name's, as a connected cluster
// leader with its raft ids and index, and _Server's own, standalone.
func (s *memServer) initServerDB() error {
	var ops []ovsdb.Operation
	for _, d := range []*serverdb.Database{s.serverRow(), {Name: serverDB, Model: serverdb.DatabaseModelStandalone, Connected: true, Leader: true}} {
		schema, err := json.Marshal(s.dms[d.Name].Schema)
		if err != nil {
			return err
		}
		d.Schema = ptr(string(schema))
		row, err := s.rowOf(d)
		if err != nil {
			return err
		}
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationInsert, Table: serverdb.DatabaseTable, Row: row})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transactServerDB(ops)
}

// serverRow is name's _Server row; the caller holds mu or runs first.
func (s *memServer) serverRow() *serverdb.Database {
	return &serverdb.Database{Name: s.name, Model: serverdb.DatabaseModelClustered, Connected: true, Leader: true,
		Cid: ptr(s.cid), Sid: ptr(s.sid), Index: ptr(s.index)}
}

func ptr[T any](v T) *T { return &v }

// rowOf renders a _Server row in OVSDB notation.
func (s *memServer) rowOf(d *serverdb.Database) (ovsdb.Row, error) {
	dm := s.dms[serverDB]
	info, err := dm.NewModelInfo(d)
	if err != nil {
		return nil, err
	}
	return dm.Mapper.NewRow(info)
}

// transactServerDB runs ops on _Server and sends its monitors the
// changes. The caller holds mu.
func (s *memServer) transactServerDB(ops []ovsdb.Operation) error {
	res, u := s.db.NewTransaction(serverDB).Transact(ops...)
	if _, err := ovsdb.CheckOperationResults(derefResults(res), ops); err != nil {
		return fmt.Errorf("_Server: %w", err)
	}
	return s.commitLocked(serverDB, uuid.New(), u)
}

func derefResults(res []*ovsdb.OperationResult) []ovsdb.OperationResult {
	out := make([]ovsdb.OperationResult, len(res))
	for i, r := range res {
		if r != nil {
			out[i] = *r
		}
	}
	return out
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
		tu, _, _, err := s.monitor(c, false, args)
		*reply = tu
		return err
	})
	c.rpc.Handle("monitor_cond_since", func(_ *rpc2.Client, args []json.RawMessage, reply *ovsdb.MonitorCondSinceReply) error {
		tu, last, found, err := s.monitor(c, true, args)
		*reply = ovsdb.MonitorCondSinceReply{Found: found, LastTransactionID: last, Updates: tu}
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
	db     string
	id     json.RawMessage
	since  bool // update3 notifications, with the transaction's id
	tables map[string]*tableMonitor
}

// monitor registers a monitor for c and returns its initial dump and the
// last transaction it holds. A monitor_cond_since whose last transaction
// is in the history resumes (found): no dump, and that transaction's id;
// the transactions since then are queued for c, to follow the reply.
// (ovsdb-server sends them merged in the reply; the cache a client ends
// up with is the same.)
func (s *memServer) monitor(c *conn, since bool, args []json.RawMessage) (_ ovsdb.TableUpdates2, lastTxn string, found bool, err error) {
	if len(args) < 3 {
		return nil, "", false, errors.New("monitor: want [db, json-value, requests]")
	}
	var db string
	if err := json.Unmarshal(args[0], &db); err != nil || s.dms[db].Schema.Name == "" {
		return nil, "", false, fmt.Errorf("unknown database %s", args[0])
	}
	dm := s.dms[db]
	var reqs map[string]condRequest
	if err := json.Unmarshal(args[2], &reqs); err != nil {
		return nil, "", false, fmt.Errorf("monitor requests: %w", err)
	}
	var after string
	if since && len(args) > 3 {
		if err := json.Unmarshal(args[3], &after); err != nil {
			return nil, "", false, fmt.Errorf("last-txn-id: %w", err)
		}
	}
	m := &monitor{db: db, id: args[1], since: since, tables: map[string]*tableMonitor{}}
	for table, req := range reqs {
		ts := dm.Schema.Table(table)
		if ts == nil {
			return nil, "", false, fmt.Errorf("unknown table %q", table)
		}
		tm, err := newTableMonitor(ts, req)
		if err != nil {
			return nil, "", false, fmt.Errorf("table %s: %w", table, err)
		}
		m.tables[table] = tm
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if c.monitors[string(m.id)] != nil {
		return nil, "", false, errors.New("duplicate monitor ID")
	}
	if db == s.name {
		if i := s.since(after); i >= 0 {
			c.monitors[string(m.id)] = m
			c.sendMu.Lock()
			c.held = c.replying
			c.sendMu.Unlock()
			for _, t := range s.history[i+1:] {
				if err := s.notify(c, m, t.id, t.u); err != nil {
					return nil, "", false, err
				}
			}
			return ovsdb.TableUpdates2{}, after, true, nil
		}
	}
	dump := ovsdb.TableUpdates2{}
	for table, tm := range m.tables {
		if !tm.sel.Initial() {
			continue
		}
		rows, err := s.db.List(db, table)
		if err != nil {
			return nil, "", false, err
		}
		tu := ovsdb.TableUpdate2{}
		for id, r := range rows {
			if !tm.matches(dm, r) {
				continue
			}
			row, err := tm.row(dm, r)
			if err != nil {
				return nil, "", false, err
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
	if db != s.name {
		// _Server keeps no history: nothing to resume from.
		return dump, "00000000-0000-0000-0000-000000000000", false, nil
	}
	return dump, s.lastTxn, false, nil
}

// since returns where the transaction after is in the history, or -1 if
// a monitor cannot resume after it. The caller holds mu.
func (s *memServer) since(after string) int {
	if after == "" || after == "00000000-0000-0000-0000-000000000000" {
		return -1
	}
	for i := len(s.history) - 1; i >= 0; i-- {
		if s.history[i].id == after {
			return i
		}
	}
	return -1
}

// commit applies a transaction and sends each monitor what it sees of
// it. A transaction of the served database raises its raft index in
// _Server, as a cluster's does.
func (s *memServer) commit(db string, id uuid.UUID, u database.Update) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if db == serverDB {
		return errors.New("_Server is read-only")
	}
	if err := s.commitLocked(db, id, u); err != nil {
		return err
	}
	s.index++
	row, err := s.rowOf(&serverdb.Database{Index: ptr(s.index)})
	if err != nil {
		return err
	}
	return s.transactServerDB([]ovsdb.Operation{{
		Op: ovsdb.OperationUpdate, Table: serverdb.DatabaseTable, Row: ovsdb.Row{"index": row["index"]},
		Where: []ovsdb.Condition{ovsdb.NewCondition("name", ovsdb.ConditionEqual, s.name)},
	}})
}

// commitLocked applies a transaction to db and sends it to the monitors;
// the caller holds mu.
func (s *memServer) commitLocked(db string, id uuid.UUID, u database.Update) error {
	if err := s.db.Commit(db, id, u); err != nil {
		return err
	}
	if db == s.name {
		s.lastTxn = id.String()
		s.history = append(s.history, txn{id: s.lastTxn, u: u})
		if len(s.history) > historySize {
			s.history = slices.Delete(s.history, 0, len(s.history)-historySize)
		}
	}
	for c := range s.conns {
		for _, m := range c.monitors {
			if m.db != db {
				continue
			}
			if err := s.notify(c, m, id.String(), u); err != nil {
				return err
			}
		}
	}
	return nil
}

// notify sends m what it sees of the transaction u.
func (s *memServer) notify(c *conn, m *monitor, id string, u database.Update) error {
	dm := s.dms[m.db]
	tus := ovsdb.TableUpdates2{}
	for _, table := range u.GetUpdatedTables() {
		tm := m.tables[table]
		if tm == nil {
			continue
		}
		tu, err := tm.updates(dm, table, u)
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
		c.send(notification{"update3", []any{m.id, id, tus}})
	default:
		c.send(notification{"update2", []any{m.id, tus}})
	}
	return nil
}
