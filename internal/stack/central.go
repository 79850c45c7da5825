package stack

import (
	"fmt"
	"time"
)

// NewCentral starts only the central part of a stack: the NB
// ovsdb-server, the SB database as Options describe it (cluster, SSL,
// relays) and ovn-northd; no OVS database, ovs-vswitchd, ovn-controller
// or sidecar. Chassis-side processes are added with AddOVSDB and NewProc
// (the fleet simulation runs hundreds of them on one machine).
func NewCentral(tb TB, opts Options) *Stack {
	tb.Helper()
	start := time.Now()
	s := newBase(tb, opts, false)
	if _, err := s.run("ovsdb-tool", "create", s.path("nb.db"), "/usr/share/ovn/ovn-nb.ovsschema"); err != nil {
		tb.Fatalf("stack: %v", err)
	}
	s.NB = s.ovsdbServer("ovsdb-server-nb", "nb.db", "nb.sock")
	s.NB.Start()
	s.startSB(opts)
	s.Northd = s.daemon("ovn-northd", true,
		"--ovnnb-db="+s.NBRemote(), "--ovnsb-db="+s.SBRemote())
	s.Northd.Start()
	tb.Logf("stack: central part up in %v (dir %s, netns %s)",
		time.Since(start).Round(time.Millisecond), s.Dir, s.NetNS)
	return s
}

// AddOVSDB creates an Open_vSwitch database <name>.db, starts an
// ovsdb-server for it on <name>.sock and returns the process and its
// unix: remote. Nothing else is in it yet.
func (s *Stack) AddOVSDB(name string) (*Proc, string) {
	s.tb.Helper()
	db, sock := name+".db", name+".sock"
	if _, err := s.run("ovsdb-tool", "create", s.path(db), "/usr/share/openvswitch/vswitch.ovsschema"); err != nil {
		s.tb.Fatalf("stack: %v", err)
	}
	p := s.ovsdbServer(fmt.Sprintf("ovsdb-server-%s", name), db, sock)
	p.Start()
	return p, "unix:" + s.path(sock)
}

// Path returns the path of a file in the stack's directory.
func (s *Stack) Path(name string) string { return s.path(name) }
