package stack

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
)

const (
	netnsDir = "/run/netns"
	// Namespaces are named ovnvif-<pid>-<n> and directories ovnvif-* hold
	// an owner file with the pid: a later run removes what a test binary
	// that was killed left behind.
	netnsPrefix = "ovnvif-"
	ownerFile   = "owner.pid"
)

func ipNetNS(args ...string) error {
	out, err := exec.Command("ip", append([]string{"netns"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip netns %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// sweepStale deletes namespaces and directories of dead stack owners.
func sweepStale() {
	SweepOwned(netnsPrefix, filepath.Join(tempRoot(), netnsPrefix+"*", ownerFile))
}

// SweepOwned deletes the network namespaces named <prefix><pid>-… and the
// directories holding an owner file matching ownerGlob whose owner process
// is gone: what a killed test binary or sandbox left behind.
func SweepOwned(prefix, ownerGlob string) {
	if entries, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range entries {
			rest, ok := strings.CutPrefix(e.Name(), prefix)
			pidStr, _, _ := strings.Cut(rest, "-")
			if ok && OwnerDead(pidStr) {
				_ = ipNetNS("delete", e.Name())
			}
		}
	}
	files, _ := filepath.Glob(ownerGlob)
	for _, f := range files {
		if pid, err := os.ReadFile(f); err == nil && OwnerDead(string(pid)) {
			_ = os.RemoveAll(filepath.Dir(f))
		}
	}
}

// OwnerDead reports whether the process with that pid is gone. A zombie
// counts as dead: its parent may never reap it.
func OwnerDead(pidStr string) bool {
	pid, err := strconv.Atoi(strings.TrimSpace(pidStr))
	if err != nil || pid <= 0 {
		return false
	}
	st, err := procState(pid)
	if err != nil {
		return syscall.Kill(pid, 0) == syscall.ESRCH
	}
	return st == 'Z'
}

// RunInNetNS runs f on an OS thread switched into the named namespace.
// Sockets f creates stay in that namespace after the thread switches back.
func RunInNetNS(name string, f func() error) error {
	errc := make(chan error, 1)
	// A fresh goroutine: if switching back fails it exits still locked,
	// and the runtime throws the thread away instead of reusing it.
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(name)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns %s: %w", name, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("setns back: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// dialNetNS opens a TCP connection from inside the namespace. addr must be
// an IP literal so that the dial stays on this goroutine's thread.
func dialNetNS(ns, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := RunInNetNS(ns, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	})
	return c, err
}

// freePortNetNS returns a loopback address with a port free in the namespace.
func freePortNetNS(ns string) (string, error) {
	var addr string
	err := RunInNetNS(ns, func() error {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addr = l.Addr().String()
		return l.Close()
	})
	return addr, err
}

// proxy forwards TCP connections from a host loopback port to an address
// inside the namespace, so the sidecar's HTTP server is reachable from the
// test and from a user's browser or curl.
type proxy struct {
	l      net.Listener
	ns     string
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func startProxy(ns, target string) (*proxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{l: l, ns: ns, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.forward(c)
		}()
	}
}

func (p *proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add && p.closed {
		_ = c.Close()
	} else if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *proxy) forward(c net.Conn) {
	defer c.Close()
	up, err := dialNetNS(p.ns, p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	p.track(c, true)
	p.track(up, true)
	defer p.track(c, false)
	defer p.track(up, false)
	go func() {
		_, _ = io.Copy(up, c)
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	_, _ = io.Copy(c, up)
}

func (p *proxy) close() {
	_ = p.l.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
