package stack

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// cmdTimeout bounds every ctl command; ovs-vsctl without --no-wait blocks
// while ovs-vswitchd is paused.
const cmdTimeout = 60 * time.Second

// DB names one of the stack's databases.
type DB int

// The stack's databases.
const (
	OVS DB = iota
	NB
	SB
)

func (d DB) String() string { return [...]string{"ovs", "nb", "sb"}[d] }

// Ctl runs ovs-vsctl, ovn-nbctl or ovn-sbctl against db and returns its
// trimmed stdout. It fails the test on error.
func (s *Stack) Ctl(db DB, args ...string) string {
	s.tb.Helper()
	out, err := s.CtlErr(db, args...)
	if err != nil {
		s.tb.Fatalf("stack: %v", err)
	}
	return out
}

// CtlErr is Ctl returning the error instead of failing.
func (s *Stack) CtlErr(db DB, args ...string) (string, error) {
	var argv []string
	switch db {
	case OVS:
		argv = []string{"ovs-vsctl", "--db=" + s.OVSRemote()}
	case NB:
		argv = []string{"ovn-nbctl", "--db=" + s.NBRemote()}
	case SB:
		argv = []string{"ovn-sbctl", "--db=" + s.SBRemote()}
	}
	out, err := s.run(append(argv, args...)...)
	return strings.TrimSpace(out), err
}

// VSCtl runs ovs-vsctl against the stack's OVS database.
func (s *Stack) VSCtl(args ...string) string { s.tb.Helper(); return s.Ctl(OVS, args...) }

// NBCtl runs ovn-nbctl against the stack's NB database.
func (s *Stack) NBCtl(args ...string) string { s.tb.Helper(); return s.Ctl(NB, args...) }

// SBCtl runs ovn-sbctl against the stack's SB database.
func (s *Stack) SBCtl(args ...string) string { s.tb.Helper(); return s.Ctl(SB, args...) }

// VSCtlErr is VSCtl returning the error instead of failing.
func (s *Stack) VSCtlErr(args ...string) (string, error) { return s.CtlErr(OVS, args...) }

// NBCtlErr is NBCtl returning the error instead of failing.
func (s *Stack) NBCtlErr(args ...string) (string, error) { return s.CtlErr(NB, args...) }

// SBCtlErr is SBCtl returning the error instead of failing.
func (s *Stack) SBCtlErr(args ...string) (string, error) { return s.CtlErr(SB, args...) }

// Appctl runs ovs-appctl against a daemon's control socket.
func (s *Stack) Appctl(p *Proc, args ...string) string {
	s.tb.Helper()
	out, err := s.run(append([]string{"ovs-appctl", "--target=" + p.CtlPath()}, args...)...)
	if err != nil {
		s.tb.Fatalf("stack: %v", err)
	}
	return strings.TrimSpace(out)
}

// AppctlErr is Appctl returning the error instead of failing: a daemon
// that has just started registers some commands (dpif/show) only once it
// has read its database.
func (s *Stack) AppctlErr(p *Proc, args ...string) (string, error) {
	out, err := s.run(append([]string{"ovs-appctl", "--target=" + p.CtlPath()}, args...)...)
	return strings.TrimSpace(out), err
}

// InNetNS runs a command inside the stack's namespace (for example to make
// veth pairs) and returns its stdout. It fails the test on error.
func (s *Stack) InNetNS(args ...string) string {
	s.tb.Helper()
	out, err := s.run(append([]string{"ip", "netns", "exec", s.NetNS}, args...)...)
	if err != nil {
		s.tb.Fatalf("stack: %v", err)
	}
	return strings.TrimSpace(out)
}

// Run runs any command with the stack's environment (OVS_RUNDIR and
// friends, OVN_NB_DB, OVN_SB_DB) in the host namespace.
func (s *Stack) Run(args ...string) (string, error) { return s.run(args...) }

func (s *Stack) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir = s.Dir
	cmd.Env = s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v", cmdTimeout)
		}
		return stdout.String(), fmt.Errorf("%s: %v: %s", shortCmd(args), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// shortCmd keeps error messages readable for 1000-port transactions.
func shortCmd(args []string) string {
	c := strings.Join(args, " ")
	if len(c) > 300 {
		c = c[:300] + fmt.Sprintf("... (%d bytes)", len(c))
	}
	return c
}
