package stack

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// TB is the part of testing.TB the stack needs. *testing.T and *testing.B
// satisfy it; programs (the sandbox, the bench tool) use Program.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// Program is a TB for programs: Fatalf runs the cleanups and exits 1, and
// Close runs the cleanups, newest first, like the testing package does.
type Program struct {
	out      io.Writer
	mu       sync.Mutex
	cleanups []func()
	failed   bool
	closing  atomic.Bool
}

// NewProgram returns a Program that logs to out (os.Stderr if nil).
func NewProgram(out io.Writer) *Program {
	if out == nil {
		out = os.Stderr
	}
	return &Program{out: out}
}

// Helper does nothing; it exists to satisfy TB.
func (p *Program) Helper() {}

// Logf writes one line to the program's output.
func (p *Program) Logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if len(msg) == 0 || msg[len(msg)-1] != '\n' {
		msg += "\n"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = io.WriteString(p.out, msg)
}

// Fatalf logs, marks the program failed, runs the cleanups and exits 1.
func (p *Program) Fatalf(format string, args ...any) {
	p.Logf("FATAL: "+format, args...)
	p.mu.Lock()
	p.failed = true
	p.mu.Unlock()
	p.Close()
	os.Exit(1)
}

// Cleanup registers f to run at Close.
func (p *Program) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}

// Failed reports whether Fatalf was called.
func (p *Program) Failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

// Close runs the registered cleanups once, newest first. A second call,
// including one from Fatalf inside a cleanup, returns at once.
func (p *Program) Close() {
	if p.closing.Swap(true) {
		return
	}
	for {
		p.mu.Lock()
		n := len(p.cleanups)
		if n == 0 {
			p.mu.Unlock()
			return
		}
		f := p.cleanups[n-1]
		p.cleanups = p.cleanups[:n-1]
		p.mu.Unlock()
		f()
	}
}
