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
	cluster   *Cluster
	remote    string // unix remotes, comma-separated
	sslRemote string // ssl remotes, comma-separated; "" without SSL
}

const (
	sbSchema = "/usr/share/ovn/ovn-sb.ovsschema"
	sbDBName = "OVN_Southbound"
)

// startSB creates and starts the SB database server(s). n > 0 makes a
// cluster of n members; ssl, if set, adds a pssl remote to each server.
func (s *Stack) startSB(n int, ssl *SSLFiles) {
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
