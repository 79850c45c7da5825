// Package stack brings up a real OVS/OVN stack in a temporary directory:
// ovsdb-servers for the OVS, NB and SB databases, ovs-vswitchd with the
// netdev datapath, ovn-northd, ovn-controller and, in ModeSidecar, the
// ovn-vif-sidecar binary. It is used by the e2e tests, the sandbox and the
// benchmarks.
//
// Each stack runs all its daemons in its own network namespace, because
// the netdev datapath's internal ports are kernel tap devices named after
// the port and two stacks on one machine would otherwise collide. The
// daemons and the ctl helpers, which run in the caller's namespace, talk
// over unix sockets in the directory; those work across namespaces.
//
// The daemons are children of the calling process with Pdeathsig, so a
// killed test binary leaves none behind; Cleanup stops them and removes
// the namespace and the directory, and the next New sweeps what a killed
// run left. Set OVN_VIF_SIDECAR_KEEP=1 to keep the directory
// of a failed test.
package stack

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Environment variables read by the stack.
const (
	// EnvSidecarBin overrides the sidecar binary (default <repo>/bin/ovn-vif-sidecar).
	EnvSidecarBin = "OVN_VIF_SIDECAR_BIN"
	// EnvKeep, if non-empty, keeps the directory of a failed test.
	EnvKeep = "OVN_VIF_SIDECAR_KEEP"
)

// Mode says who plugs ports.
type Mode int

const (
	// ModeSidecar: ovn-controller without VIF plug providers, the sidecar plugs.
	ModeSidecar Mode = iota
	// ModeOVNPlug: ovn-controller --enable-dummy-vif-plug plugs by itself and
	// no sidecar runs. This is OVN's reference behaviour.
	ModeOVNPlug
)

func (m Mode) String() string {
	if m == ModeOVNPlug {
		return "ovn-plug"
	}
	return "sidecar"
}

// Options configure New. The zero value is a sidecar stack with chassis "ch1".
type Options struct {
	Mode Mode
	// Chassis is the system-id and hostname; default "ch1".
	Chassis string
	// SidecarBin overrides EnvSidecarBin and the default path.
	SidecarBin string
	// SidecarArgs are appended to the sidecar's standard flags.
	SidecarArgs []string
	// ManualSidecar leaves the sidecar stopped until StartSidecar.
	ManualSidecar bool
	// ControllerArgs are appended to ovn-controller's flags.
	ControllerArgs []string
	// SBCluster, if > 0, runs OVN_Southbound as a raft cluster of that
	// many ovsdb-servers (see Cluster and sbsetup.go); 0 runs one
	// standalone server.
	SBCluster int
	// SBSSL, if set, makes every SB ovsdb-server also listen on
	// pssl:<port>:127.0.0.1 with these files (see SBSSLRemote).
	SBSSL *SSLFiles
	// SBRelays ovsdb-server relays (relay:OVN_Southbound:<SB remotes>)
	// run in front of the SB database; see Relays and SBRelayRemote.
	// SBRemote still names the SB servers themselves.
	SBRelays int
	// SBServerArgs are extra arguments for every SB ovsdb-server, members
	// and relays alike (for example log levels).
	SBServerArgs []string
}

// Stack is a running OVS/OVN stack.
type Stack struct {
	// Dir holds the databases, sockets, pidfiles and logs.
	Dir string
	// NetNS is the network namespace the data-plane daemons run in.
	NetNS   string
	Chassis string
	Mode    Mode

	OVSDB      *Proc // ovsdb-server for Open_vSwitch
	NB         *Proc // ovsdb-server for OVN_Northbound
	SB         *Proc // ovsdb-server for OVN_Southbound; a cluster's first member
	Vswitchd   *Proc
	Northd     *Proc
	Controller *Proc
	Sidecar    *Proc // nil in ModeOVNPlug

	tb          TB
	env         []string
	sidecarBin  string
	sidecarArgs []string
	sidecarAddr string
	proxy       *proxy
	procs       []*Proc // start order
	sb          sbSetup // see sbsetup.go
}

var netnsSeq atomic.Int64

// New starts a stack and registers its teardown with tb.Cleanup. It fails
// tb if a tool is missing, the caller is not root, or a daemon does not
// come up; it never skips.
func New(tb TB, opts Options) *Stack {
	tb.Helper()
	start := time.Now()
	if opts.Chassis == "" {
		opts.Chassis = "ch1"
	}
	s := newBase(tb, opts, opts.Mode == ModeSidecar)

	for _, db := range []struct{ file, schema string }{
		{"conf.db", "/usr/share/openvswitch/vswitch.ovsschema"},
		{"nb.db", "/usr/share/ovn/ovn-nb.ovsschema"},
	} {
		if _, err := s.run("ovsdb-tool", "create", s.path(db.file), db.schema); err != nil {
			tb.Fatalf("stack: %v", err)
		}
	}
	s.OVSDB = s.ovsdbServer("ovsdb-server", "conf.db", "db.sock")
	s.NB = s.ovsdbServer("ovsdb-server-nb", "nb.db", "nb.sock")
	for _, p := range []*Proc{s.OVSDB, s.NB} {
		p.Start()
	}
	s.startSB(opts)

	s.VSCtl("--no-wait", "init", "--", "set", "Open_vSwitch", ".",
		"external_ids:system-id="+s.Chassis,
		"external_ids:hostname="+s.Chassis,
		"external_ids:ovn-remote="+s.SBRemote(),
		"external_ids:ovn-encap-type=geneve",
		"external_ids:ovn-encap-ip=127.0.0.1",
		"external_ids:ovn-bridge-datapath-type=netdev")

	// --disable-system: there is no kernel datapath module; every bridge
	// uses the userspace (netdev) datapath.
	s.Vswitchd = s.daemon("ovs-vswitchd", true, "--disable-system", s.OVSRemote())
	s.Northd = s.daemon("ovn-northd", true,
		"--ovnnb-db="+s.NBRemote(), "--ovnsb-db="+s.SBRemote())
	cargs := []string{}
	if opts.Mode == ModeOVNPlug {
		cargs = append(cargs, "--enable-dummy-vif-plug")
	}
	cargs = append(cargs, opts.ControllerArgs...)
	cargs = append(cargs, s.OVSRemote())
	// ovn-controller 23.03 has no --unixctl: its socket is
	// $OVN_RUNDIR/ovn-controller.<pid>.ctl.
	s.Controller = s.daemon("ovn-controller", false, cargs...)
	for _, p := range []*Proc{s.Vswitchd, s.Northd, s.Controller} {
		p.Start()
	}
	s.Eventually(startTimeout, "ovn-controller to register chassis "+s.Chassis+" and create br-int", func() error {
		if s.SBCtl("--bare", "--columns=name", "find", "Chassis", "name="+s.Chassis) == "" {
			return errors.New("no SB Chassis row")
		}
		if _, err := s.VSCtlErr("br-exists", "br-int"); err != nil {
			return errors.New("no br-int")
		}
		return nil
	})

	if opts.Mode == ModeSidecar {
		addr, err := freePortNetNS(s.NetNS)
		if err != nil {
			tb.Fatalf("stack: pick sidecar port: %v", err)
		}
		s.sidecarAddr = addr
		if s.proxy, err = startProxy(s.NetNS, addr); err != nil {
			tb.Fatalf("stack: sidecar proxy: %v", err)
		}
		s.sidecarArgs = opts.SidecarArgs
		s.Sidecar = &Proc{Name: "ovn-vif-sidecar", s: s, ready: s.sidecarReady}
		s.procs = append(s.procs, s.Sidecar)
		if !opts.ManualSidecar {
			s.StartSidecar()
		}
	}
	tb.Logf("stack: %s up in %v (dir %s, netns %s, chassis %s)",
		s.Mode, time.Since(start).Round(time.Millisecond), s.Dir, s.NetNS, s.Chassis)
	return s
}

// newBase checks the prerequisites and makes the stack's directory,
// namespace and environment; no daemon runs yet.
func newBase(tb TB, opts Options, needSidecar bool) *Stack {
	tb.Helper()
	if err := checkPrereqs(); err != nil {
		tb.Fatalf("stack: %v", err)
	}
	s := &Stack{tb: tb, Chassis: opts.Chassis, Mode: opts.Mode}
	if needSidecar {
		bin, err := sidecarBinary(opts.SidecarBin)
		if err != nil {
			tb.Fatalf("stack: %v", err)
		}
		s.sidecarBin = bin
	}

	sweepStale()
	dir, err := os.MkdirTemp(tempRoot(), netnsPrefix)
	if err != nil {
		tb.Fatalf("stack: %v", err)
	}
	s.Dir = dir
	tb.Cleanup(s.teardown)
	if err := os.WriteFile(s.path(ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		tb.Fatalf("stack: %v", err)
	}

	s.NetNS = fmt.Sprintf("%s%d-%d", netnsPrefix, os.Getpid(), netnsSeq.Add(1))
	if err := ipNetNS("add", s.NetNS); err != nil {
		s.NetNS = ""
		tb.Fatalf("stack: %v", err)
	}
	if _, err := s.run("ip", "netns", "exec", s.NetNS, "ip", "link", "set", "lo", "up"); err != nil {
		tb.Fatalf("stack: %v", err)
	}
	s.env = stackEnv(dir)
	return s
}

// StartSidecar (re)starts the sidecar with the standard flags,
// Options.SidecarArgs and extra. It is ready once its HTTP port accepts
// connections.
func (s *Stack) StartSidecar(extra ...string) {
	s.tb.Helper()
	if s.Sidecar == nil {
		s.tb.Fatalf("stack: StartSidecar in %s mode", s.Mode)
	}
	argv := append([]string{s.sidecarBin,
		"--ovs-db=" + s.OVSRemote(),
		"--sb-db=" + s.SBRemote(),
		"--chassis=" + s.Chassis,
		"--http-addr=" + s.sidecarAddr,
		"-v=4", "--logtostderr",
	}, s.sidecarArgs...)
	argv = append(argv, extra...)
	s.Sidecar.SetArgs(argv...)
	s.Sidecar.Start()
}

func (s *Stack) sidecarReady() error {
	c, err := dialNetNS(s.NetNS, s.sidecarAddr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// SidecarAddr is the sidecar's HTTP address inside the namespace.
func (s *Stack) SidecarAddr() string { return s.sidecarAddr }

// SidecarURL is a host-side http:// URL forwarded to the sidecar's HTTP
// server, usable from this process and from curl. Empty in ModeOVNPlug.
func (s *Stack) SidecarURL() string {
	if s.proxy == nil {
		return ""
	}
	return "http://" + s.proxy.l.Addr().String()
}

// OVSRemote, NBRemote and SBRemote are the databases' unix: remotes.
func (s *Stack) OVSRemote() string { return "unix:" + s.path("db.sock") }

// NBRemote is the OVN_Northbound database remote.
func (s *Stack) NBRemote() string { return "unix:" + s.path("nb.sock") }

// SBRemote is the OVN_Southbound database remote.
// In a cluster it lists every member, comma-separated.
func (s *Stack) SBRemote() string {
	if s.sb.remote != "" {
		return s.sb.remote
	}
	return "unix:" + s.path("sb.sock")
}

// Procs returns the stack's processes in start order.
func (s *Stack) Procs() []*Proc { return append([]*Proc(nil), s.procs...) }

func (s *Stack) path(name string) string { return filepath.Join(s.Dir, name) }

func (s *Stack) ovsdbServer(name, db, sock string) *Proc {
	p := s.daemon(name, true,
		"--remote=punix:"+s.path(sock),
		s.path(db))
	p.ready = func() error { return dialUnix(s.path(sock)) }
	return p
}

// daemon describes an OVS-style daemon with its pidfile, log file and,
// if ownCtl, a --unixctl socket in the directory.
func (s *Stack) daemon(name string, ownCtl bool, args ...string) *Proc {
	p := &Proc{Name: name, s: s, logFile: s.path(name + ".log")}
	bin := name
	if strings.HasPrefix(name, "ovsdb-server") {
		bin = "ovsdb-server"
	}
	argv := []string{bin,
		"--no-chdir",
		"--pidfile=" + s.path(name+".pid"),
		"--log-file=" + p.logFile,
		"-vconsole:off", // the log file has it all; .out keeps fatal errors
	}
	if ownCtl {
		p.ctl = s.path(name + ".ctl")
		argv = append(argv, "--unixctl="+p.ctl)
	}
	p.argv = append(argv, args...)
	p.ready = func() error { return dialUnix(p.CtlPath()) }
	s.procs = append(s.procs, p)
	return p
}

func dialUnix(path string) error {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// teardown stops everything, newest first, and removes the namespace and,
// unless kept, the directory. It only logs: it runs after the test.
func (s *Stack) teardown() {
	failed := s.tb.Failed()
	if failed {
		s.tb.Logf("stack: test failed; logs of %s follow\n%s", s.Dir, s.report(50, 300))
	}
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		if !p.Running() {
			continue
		}
		// How the sidecar takes SIGTERM is part of what is tested.
		if err := p.Stop(); err != nil && p == s.Sidecar {
			s.tb.Logf("stack: %s on SIGTERM: %v", p.Name, err)
		}
	}
	if s.proxy != nil {
		s.proxy.close()
	}
	if s.NetNS != "" {
		if err := ipNetNS("delete", s.NetNS); err != nil {
			s.tb.Logf("stack: %v", err)
		}
	}
	if failed && os.Getenv(EnvKeep) != "" {
		_ = os.Remove(s.path(ownerFile)) // so that no later run sweeps it
		s.tb.Logf("stack: kept %s", s.Dir)
		return
	}
	if failed {
		s.tb.Logf("stack: removing %s (set %s=1 to keep it)", s.Dir, EnvKeep)
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		s.tb.Logf("stack: %v", err)
	}
}

// report is any unexpected exits plus the tail of every log; the
// sidecar's, the one under test, gets sidecarLines.
func (s *Stack) report(lines, sidecarLines int) string {
	var b strings.Builder
	b.WriteString(s.deaths())
	for _, p := range s.procs {
		switch {
		case p.PID() == 0:
		case p == s.Sidecar:
			b.WriteString(p.Tail(sidecarLines))
		default:
			b.WriteString(p.Tail(lines))
		}
	}
	return b.String()
}

// DumpLogs logs the last lines of every process's logs.
func (s *Stack) DumpLogs(lines int) {
	s.tb.Logf("stack %s:\n%s", s.Dir, s.report(lines, lines))
}

func (s *Stack) deaths() string {
	var b strings.Builder
	for _, p := range s.procs {
		if dead, err := p.died(); dead {
			fmt.Fprintf(&b, "stack: %s (pid %d) exited unexpectedly: %v\n", p.Name, p.PID(), err)
		}
	}
	return b.String()
}

// stackEnv points every OVS/OVN tool at the directory, and drops settings
// that would send ctl commands elsewhere.
func stackEnv(dir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if (strings.HasPrefix(k, "OVS_") || strings.HasPrefix(k, "OVN_")) && k != EnvSidecarBin && k != EnvKeep {
			continue
		}
		env = append(env, kv)
	}
	for _, k := range []string{"OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR",
		"OVN_RUNDIR", "OVN_LOGDIR", "OVN_DBDIR", "OVN_SYSCONFDIR"} {
		env = append(env, k+"="+dir)
	}
	return append(env,
		"OVN_NB_DB=unix:"+filepath.Join(dir, "nb.sock"),
		"OVN_SB_DB=unix:"+filepath.Join(dir, "sb.sock"))
}

// tempRoot keeps socket paths under the 108-byte sun_path limit.
func tempRoot() string {
	if d := os.TempDir(); len(d) <= 40 {
		return d
	}
	return "/tmp"
}

var tools = []string{"ip", "ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl",
	"ovs-appctl", "ovn-northd", "ovn-controller", "ovn-nbctl", "ovn-sbctl"}

func checkPrereqs() error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root (network namespaces, tap devices); see README")
	}
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s on PATH: run `make deps` (Debian packages openvswitch-switch ovn-central ovn-host iproute2)",
			strings.Join(missing, ", "))
	}
	return nil
}

func sidecarBinary(override string) (string, error) {
	bin := override
	if bin == "" {
		bin = os.Getenv(EnvSidecarBin)
	}
	if bin == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		bin = filepath.Join(root, "bin", "ovn-vif-sidecar")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(abs)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("sidecar binary not found at %s: run `make build` or set %s", abs, EnvSidecarBin)
	}
	return abs, nil
}

// RepoRoot finds the module root: the nearest go.mod above the working
// directory, else above this source file.
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, d := range starts {
		for {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				return d, nil
			}
			parent := filepath.Dir(d)
			if parent == d {
				break
			}
			d = parent
		}
	}
	return "", errors.New("cannot find the repository root (go.mod)")
}
