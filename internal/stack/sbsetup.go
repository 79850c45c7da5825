package stack

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// sbSetup is how New laid out the OVN_Southbound database: one standalone
// ovsdb-server (sb.db, sb.sock) or a raft cluster (sbN.db, sbN.sock), in
// either case optionally also listening on pssl ports.
type sbSetup struct {
	cluster     *Cluster
	remote      string // unix remotes, comma-separated
	sslRemote   string // ssl remotes, comma-separated; "" without SSL
	relays      []*Proc
	relayRemote string // the relays' unix remotes, comma-separated
}

const (
	sbSchema = "/usr/share/ovn/ovn-sb.ovsschema"
	sbDBName = "OVN_Southbound"
)

// startSB creates and starts the SB database server(s): a cluster of
// opts.SBCluster members or one standalone server, each with a pssl
// remote if opts.SBSSL is set, then opts.SBRelays relays in front.
func (s *Stack) startSB(opts Options) {
	s.tb.Helper()
	s.startSBServers(opts.SBCluster, opts.SBSSL, opts.SBServerArgs)
	s.startRelays(opts.SBRelays, opts.SBServerArgs)
}

func (s *Stack) startSBServers(n int, ssl *SSLFiles, extra []string) {
	s.tb.Helper()
	members := max(n, 1)
	var sslAddrs []string
	if ssl != nil {
		var err error
		if sslAddrs, err = freePortsNetNS(s.NetNS, members); err != nil {
			s.tb.Fatalf("stack: pick SB ssl ports: %v", err)
		}
		var remotes []string
		for _, a := range sslAddrs {
			remotes = append(remotes, "ssl:"+a)
		}
		s.sb.sslRemote = strings.Join(remotes, ",")
	}
	sslArgs := func(i int) []string {
		if ssl == nil {
			return nil
		}
		_, port, _ := net.SplitHostPort(sslAddrs[i])
		return append(ssl.Args(), "--remote=pssl:"+port+":127.0.0.1")
	}
	sslReady := func(i int, sock string) func() error {
		return func() error {
			if err := dialUnix(sock); err != nil || ssl == nil {
				return err
			}
			c, err := dialNetNS(s.NetNS, sslAddrs[i], time.Second)
			if err != nil {
				return err
			}
			return c.Close()
		}
	}

	if n <= 0 {
		if _, err := s.run("ovsdb-tool", "create", s.path("sb.db"), sbSchema); err != nil {
			s.tb.Fatalf("stack: %v", err)
		}
		args := append([]string{"--remote=punix:" + s.path("sb.sock")}, sslArgs(0)...)
		args = append(args, extra...)
		s.SB = s.daemon("ovsdb-server-sb", true, append(args, s.path("sb.db"))...)
		s.SB.ready = sslReady(0, s.path("sb.sock"))
		s.SB.Start()
		s.sb.remote = "unix:" + s.path("sb.sock")
		return
	}

	raftAddrs, err := freePortsNetNS(s.NetNS, n)
	if err != nil {
		s.tb.Fatalf("stack: pick raft ports: %v", err)
	}
	c := &Cluster{s: s}
	var remotes, raft []string
	for i := range n {
		db, sock := s.path(fmt.Sprintf("sb%d.db", i+1)), s.path(fmt.Sprintf("sb%d.sock", i+1))
		raft = append(raft, "tcp:"+raftAddrs[i])
		var err error
		if i == 0 {
			_, err = s.run("ovsdb-tool", "create-cluster", db, sbSchema, raft[0])
		} else {
			// Join through every member created so far.
			_, err = s.run(append([]string{"ovsdb-tool", "join-cluster", db, sbDBName, raft[i]}, raft[:i]...)...)
		}
		if err != nil {
			s.tb.Fatalf("stack: %v", err)
		}
		args := append([]string{"--remote=punix:" + sock}, sslArgs(i)...)
		args = append(args, extra...)
		p := s.daemon(fmt.Sprintf("ovsdb-server-sb%d", i+1), true, append(args, db)...)
		p.ready = sslReady(i, sock)
		c.Members = append(c.Members, p)
		remotes = append(remotes, "unix:"+sock)
	}
	c.RaftAddrs = raft
	s.sb.cluster = c
	s.sb.remote = strings.Join(remotes, ",")
	s.env = append(s.env, "OVN_SB_DB="+s.sb.remote) // the last value wins
	s.SB = c.Members[0]
	for _, p := range c.Members {
		p.Start()
	}
	c.WaitHealthy(startTimeout)
}

// startRelays starts n ovsdb-server relays of OVN_Southbound, relayN.sock,
// each with every SB server as its source. A relay counts as started
// once it serves the database: before its first sync with a source it
// refuses get_schema.
func (s *Stack) startRelays(n int, extra []string) {
	s.tb.Helper()
	var remotes []string
	for i := range n {
		sock := s.path(fmt.Sprintf("relay%d.sock", i+1))
		args := append([]string{"--remote=punix:" + sock}, extra...)
		p := s.daemon(fmt.Sprintf("ovsdb-server-relay%d", i+1), true,
			append(args, "relay:"+sbDBName+":"+s.sb.remote)...)
		p.ready = func() error {
			if err := dialUnix(sock); err != nil {
				return err
			}
			_, err := s.run("ovsdb-client", "--timeout=5", "get-schema-version", "unix:"+sock, sbDBName)
			return err
		}
		s.sb.relays = append(s.sb.relays, p)
		remotes = append(remotes, "unix:"+sock)
	}
	s.sb.relayRemote = strings.Join(remotes, ",")
	for _, p := range s.sb.relays {
		p.Start()
	}
}

// Relays returns the SB relays (Options.SBRelays), in the order of
// SBRelayRemote.
func (s *Stack) Relays() []*Proc { return append([]*Proc(nil), s.sb.relays...) }

// SBRelayRemote lists the relays' unix: remotes, comma-separated; ""
// without relays.
func (s *Stack) SBRelayRemote() string { return s.sb.relayRemote }

// SBCluster returns the clustered SB database, or nil if the stack runs a
// standalone one (Options.SBCluster == 0).
func (s *Stack) SBCluster() *Cluster { return s.sb.cluster }

// SBSSLRemote lists the SB servers' ssl: remotes, comma-separated, in
// member order; "" without Options.SBSSL. Those ports listen inside the
// stack's namespace, where the sidecar runs.
func (s *Stack) SBSSLRemote() string { return s.sb.sslRemote }

// freePortsNetNS returns n distinct loopback addresses with ports free in
// the namespace, holding each port until all are picked.
func freePortsNetNS(ns string, n int) ([]string, error) {
	var addrs []string
	err := RunInNetNS(ns, func() error {
		var ls []net.Listener
		defer func() {
			for _, l := range ls {
				_ = l.Close()
			}
		}()
		for range n {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			ls = append(ls, l)
			addrs = append(addrs, l.Addr().String())
		}
		return nil
	})
	return addrs, err
}
