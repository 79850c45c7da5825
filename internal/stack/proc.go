package stack

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	startHeader  = "==== "
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// Proc is one daemon of a stack. It runs in the stack's namespace in the
// foreground as a child of this process, with its stdout and stderr
// appended to <dir>/<name>.out.
type Proc struct {
	Name string

	s    *Stack
	argv []string
	// ctl is the unixctl socket; empty for ovn-controller, whose socket
	// name contains its pid.
	ctl     string
	logFile string // the daemon's own --log-file, if any
	ready   func() error

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	exitErr  error
	expected bool // the current process was told to stop, or its exit was seen
	paused   bool
}

// OutPath is the file that receives the process's stdout and stderr.
func (p *Proc) OutPath() string { return p.s.path(p.Name + ".out") }

// LogPath is the daemon's --log-file, or OutPath if it has none.
func (p *Proc) LogPath() string {
	if p.logFile != "" {
		return p.logFile
	}
	return p.OutPath()
}

// Args returns the command line the process is started with.
func (p *Proc) Args() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.argv...)
}

// SetArgs replaces the command line used by the next Start.
func (p *Proc) SetArgs(argv ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.argv = append([]string(nil), argv...)
}

// Start starts the process and waits until it is ready (its socket
// answers). It fails the test if the process exits or is not ready in time.
func (p *Proc) Start() {
	p.s.tb.Helper()
	if err := p.start(); err != nil {
		p.s.tb.Fatalf("stack: start %s: %v", p.Name, err)
	}
	if err := p.waitReady(); err != nil {
		p.s.tb.Fatalf("stack: %s not ready: %v", p.Name, err) // teardown shows the logs
	}
}

// Launch starts the process without waiting until it is ready, for
// restarts whose readiness the caller measures in its own way.
func (p *Proc) Launch() {
	p.s.tb.Helper()
	if err := p.start(); err != nil {
		p.s.tb.Fatalf("stack: start %s: %v", p.Name, err)
	}
}

// WaitReady waits until a process started with Launch is ready, as
// Start does.
func (p *Proc) WaitReady() error { return p.waitReady() }

func (p *Proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.done) {
		return errors.New("already running")
	}
	out, err := os.OpenFile(p.OutPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer out.Close() // the child has its own copy
	// ip execs the daemon, so the pid, signals and Pdeathsig are its own.
	argv := append([]string{"ip", "netns", "exec", p.s.NetNS}, p.argv...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = p.s.Dir
	cmd.Env = p.s.env
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// A crashed test binary must not leave daemons behind.
		Pdeathsig: syscall.SIGKILL,
		// Keep a terminal's Ctrl-C away from the daemons, so the sandbox
		// can stop them in order.
		Setpgid: true,
	}
	fmt.Fprintf(out, "%s%s starting: %s\n", startHeader, time.Now().Format(time.RFC3339Nano), strings.Join(argv, " "))
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	p.cmd, p.done, p.exitErr, p.expected, p.paused = cmd, done, nil, false, false
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

func (p *Proc) waitReady() error {
	if p.ready == nil {
		return nil
	}
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	deadline := time.Now().Add(startTimeout)
	for {
		err := p.ready()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("exited during start-up: %v", p.ExitErr())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %v", startTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Running reports whether the process has been started and not exited.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !isClosed(p.done)
}

// PID returns the pid of the current process, or 0 if never started.
func (p *Proc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// ExitErr returns the last process's exit status (nil while it runs or if
// it exited 0).
func (p *Proc) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exitErr
}

// Signal sends sig to the process if it is running.
func (p *Proc) Signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signalLocked(sig)
}

func (p *Proc) signalLocked(sig syscall.Signal) {
	if p.cmd == nil || isClosed(p.done) {
		return
	}
	switch sig {
	case syscall.SIGSTOP:
		p.paused = true
	case syscall.SIGCONT:
		p.paused = false
	case syscall.SIGTERM, syscall.SIGKILL, syscall.SIGINT:
		p.expected = true
	}
	_ = p.cmd.Process.Signal(sig)
}

// Pause freezes the process with SIGSTOP and waits until it is stopped,
// since signal delivery is asynchronous.
func (p *Proc) Pause() {
	p.s.tb.Helper()
	p.Signal(syscall.SIGSTOP)
	p.waitState(true)
}

// Resume continues a paused process with SIGCONT and waits until it runs.
func (p *Proc) Resume() {
	p.s.tb.Helper()
	p.Signal(syscall.SIGCONT)
	p.waitState(false)
}

func (p *Proc) waitState(stopped bool) {
	p.s.tb.Helper()
	pid := p.PID()
	deadline := time.Now().Add(5 * time.Second)
	for p.Running() {
		st, err := procState(pid)
		if err != nil || (st == 'T') == stopped {
			return
		}
		if time.Now().After(deadline) {
			p.s.tb.Fatalf("stack: %s (pid %d) still in state %c after 5s", p.Name, pid, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// procState returns the state letter of /proc/<pid>/stat (R, S, T, Z...).
func procState(pid int) (byte, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// "pid (comm) state ..."; comm may contain spaces and parentheses.
	rest := bytes.TrimSpace(stat[bytes.LastIndexByte(stat, ')')+1:])
	if len(rest) == 0 {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return rest[0], nil
}

// Stop sends SIGTERM, waits up to 10 s, then SIGKILLs. It returns the exit
// status; a process that needed SIGKILL gives an error saying so.
func (p *Proc) Stop() error {
	p.mu.Lock()
	if p.cmd == nil {
		p.mu.Unlock()
		return nil
	}
	done := p.done
	p.signalLocked(syscall.SIGTERM)
	if p.paused {
		p.signalLocked(syscall.SIGCONT) // a stopped process never sees SIGTERM
	}
	p.mu.Unlock()
	select {
	case <-done:
		return p.ExitErr()
	case <-time.After(stopTimeout):
	}
	p.Kill()
	return fmt.Errorf("%s ignored SIGTERM for %v and was killed", p.Name, stopTimeout)
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	p.mu.Lock()
	if p.cmd == nil {
		p.mu.Unlock()
		return
	}
	done := p.done
	p.signalLocked(syscall.SIGKILL)
	p.mu.Unlock()
	<-done
}

// Restart stops the process (SIGTERM) and starts it again with the same
// arguments and files.
func (p *Proc) Restart() {
	p.s.tb.Helper()
	_ = p.Stop()
	p.Start()
}

// Wait waits up to timeout for the process to exit by itself and returns
// its exit status. ok is false on timeout. Once seen, the exit no longer
// counts as unexpected.
func (p *Proc) Wait(timeout time.Duration) (exitErr error, ok bool) {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return nil, true
	}
	select {
	case <-done:
		p.mu.Lock()
		defer p.mu.Unlock()
		p.expected = true
		return p.exitErr, true
	case <-time.After(timeout):
		return nil, false
	}
}

// died reports an exit nobody asked for.
func (p *Proc) died() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || !isClosed(p.done) || p.expected {
		return false, nil
	}
	return true, p.exitErr
}

// CtlPath returns the unixctl socket of the running process.
func (p *Proc) CtlPath() string {
	if p.ctl != "" {
		return p.ctl
	}
	return p.s.path(fmt.Sprintf("%s.%d.ctl", p.Name, p.PID()))
}

// Log returns the daemon's log file and, if separate, its console output.
func (p *Proc) Log() string {
	var b strings.Builder
	for _, f := range p.logFiles() {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "---- %s\n", f)
		b.Write(data)
	}
	return b.String()
}

// Tail returns the last n lines of each of the process's log files.
func (p *Proc) Tail(n int) string {
	var b strings.Builder
	for _, f := range p.logFiles() {
		data, err := os.ReadFile(f)
		if err != nil || len(data) == 0 {
			continue
		}
		lines := strings.SplitAfter(string(data), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		if f == p.OutPath() && p.logFile != "" && onlyStarts(lines) {
			continue
		}
		skipped := 0
		if len(lines) > n {
			skipped = len(lines) - n
			lines = lines[skipped:]
		}
		fmt.Fprintf(&b, "---- %s (last %d of %d lines)\n", f, len(lines), len(lines)+skipped)
		b.WriteString(strings.Join(lines, ""))
		if !strings.HasSuffix(lines[len(lines)-1], "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

func (p *Proc) logFiles() []string {
	if p.logFile == "" {
		return []string{p.OutPath()}
	}
	return []string{p.logFile, p.OutPath()}
}

// onlyStarts reports whether a daemon's console output holds nothing but
// our start headers and the "opened log file" line each start prints.
func onlyStarts(lines []string) bool {
	for _, l := range lines {
		if !strings.HasPrefix(l, startHeader) && !strings.Contains(l, "|vlog|INFO|opened log file ") {
			return false
		}
	}
	return true
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
