package stack

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// SidecarBin is the sidecar binary the stack runs, for running its
// subcommands (status, hw); "" in ModeOVNPlug.
func (s *Stack) SidecarBin() string { return s.sidecarBin }

// SidecarHostAddr is the host:port of SidecarURL: the host-side forward
// to the sidecar's HTTP server, for `ovn-vif-sidecar status --http-addr`
// run in this namespace. Inside the stack's namespace use SidecarAddr.
func (s *Stack) SidecarHostAddr() string {
	if s.proxy == nil {
		return ""
	}
	return s.proxy.l.Addr().String()
}

// NewProc describes an extra process of the stack, run in its namespace
// like the daemons and stopped at teardown; its output goes to
// <dir>/<name>.out. ready, if not nil, is polled by Start. Start it with
// Start.
func (s *Stack) NewProc(name string, ready func() error, argv ...string) *Proc {
	p := &Proc{Name: name, s: s, argv: append([]string(nil), argv...), ready: ready}
	s.procs = append(s.procs, p)
	return p
}

// ListeningTCP returns the local addresses of the TCP sockets that process
// pid listens on, read from /proc (so from the process's own namespace),
// for example ["127.0.0.1:9476"].
func ListeningTCP(pid int) ([]string, error) {
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil, err
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name()))
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	var addrs []string
	for _, table := range []string{"tcp", "tcp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] {
				continue
			}
			addr, err := parseProcAddr(fields[1])
			if err != nil {
				_ = f.Close()
				return nil, err
			}
			addrs = append(addrs, addr)
		}
		_ = f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return addrs, nil
}

// parseProcAddr decodes /proc/net/tcp's "0100007F:2504": the address is
// in host byte order, 32 bits at a time; this decodes little-endian
// hosts (amd64, arm64).
func parseProcAddr(s string) (string, error) {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(hexIP)
	if !ok || err != nil || (len(raw) != 4 && len(raw) != 16) {
		return "", fmt.Errorf("bad /proc/net/tcp address %q", s)
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return "", fmt.Errorf("bad /proc/net/tcp port %q", s)
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	return net.JoinHostPort(ip.String(), strconv.FormatUint(port, 10)), nil
}

// InNetNSErr is InNetNS returning the error, with the command's stderr,
// instead of failing the test.
func (s *Stack) InNetNSErr(args ...string) (string, error) {
	out, err := s.run(append([]string{"ip", "netns", "exec", s.NetNS}, args...)...)
	return strings.TrimSpace(out), err
}
