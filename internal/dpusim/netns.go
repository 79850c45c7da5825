package dpusim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	netnsDir = "/run/netns"
	// vmNetNSPrefix starts every VM namespace name: ovnvifvm-<pid>-<seq>-<vm>.
	// The pid is the owner's; a later New deletes the namespaces of owners
	// that are gone. ("ovnvif-" is internal/stack's, which sweeps its own.)
	vmNetNSPrefix = "ovnvifvm-"
	// tempPrefix names the sysfs trees New makes when Options.Dir is "".
	tempPrefix = "ovnvifdpu-"
	ownerFile  = "owner.pid"
	cmdTimeout = 30 * time.Second
)

// run runs a command and returns its trimmed stdout.
func run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v", cmdTimeout)
		}
		return stdout.String(), fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// ip runs "ip -n ns args..." ("ip args..." when ns is empty).
func ip(ns string, args ...string) (string, error) {
	argv := []string{"ip"}
	if ns != "" {
		argv = append(argv, "-n", ns)
	}
	return run(append(argv, args...)...)
}

func netnsExists(name string) bool {
	_, err := os.Stat(filepath.Join(netnsDir, name))
	return err == nil
}

// sweepStale deletes VM namespaces and temporary trees whose owner
// process is gone (a test binary or sandbox that was killed).
func sweepStale() {
	if entries, err := os.ReadDir(netnsDir); err == nil {
		for _, e := range entries {
			rest, ok := strings.CutPrefix(e.Name(), vmNetNSPrefix)
			pid, _, _ := strings.Cut(rest, "-")
			if ok && ownerDead(pid) {
				_, _ = ip("", "netns", "delete", e.Name())
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*", ownerFile))
	for _, f := range files {
		if pid, err := os.ReadFile(f); err == nil && ownerDead(string(pid)) {
			_ = os.RemoveAll(filepath.Dir(f))
		}
	}
}

// ownerDead counts a zombie as dead: its parent may never reap it.
func ownerDead(pidStr string) bool {
	pid, err := strconv.Atoi(strings.TrimSpace(pidStr))
	if err != nil || pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == syscall.ESRCH
	}
	rest := bytes.TrimSpace(stat[bytes.LastIndexByte(stat, ')')+1:])
	return len(rest) > 0 && rest[0] == 'Z'
}

// inNetNS runs f on an OS thread switched into the named namespace.
// Sockets f opens stay in that namespace afterwards.
func inNetNS(name string, f func() error) error {
	errc := make(chan error, 1)
	// A fresh goroutine: if switching back fails it exits still locked,
	// and the runtime throws the thread away.
	go func() {
		runtime.LockOSThread()
		target, err := os.Open(filepath.Join(netnsDir, name))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns back: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
