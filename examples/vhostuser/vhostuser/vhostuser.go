// Package vhostuser is an example of a provider kept outside the
// ovn-vif-sidecar repository: it plugs DPDK vhost-user ports for VMs.
//
// OVS is the vhost-user client (Interface type dpdkvhostuserclient) and
// QEMU the server, so the socket can appear after the port is plugged;
// OVS reconnects by itself. The socket sits in one directory the
// hypervisor and OVS share (--provider.vhostuser.socket-dir). By default
// the interface and its socket are named as os-vif names them, "vhu" and
// the first 11 characters of the logical port (Neutron's port UUID), so a
// VM that Nova plugged finds its socket where it expects it.
package vhostuser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// Type is the vif-plug-type this provider serves.
const Type = "vhostuser"

// Port_Binding options it reads.
const (
	// OptSocket names the socket file in the socket directory; it is
	// also the interface name. Default: "vhu" + the first 11 characters
	// of the logical port name.
	OptSocket = "vif-plug:vhostuser:socket"
	// OptTxRetriesMax sets the Interface's tx-retries-max (0 to 32).
	OptTxRetriesMax = "vif-plug:vhostuser:tx-retries-max"
)

// Interface options it sets, and therefore owns.
const (
	IfaceServerPath   = "vhost-server-path"
	IfaceTxRetriesMax = "tx-retries-max"
)

// maxSocketPath is sun_path (108 bytes) less the terminating NUL.
const maxSocketPath = 107

var socketName = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$`)

// Factory makes vhostuser providers; main's blank import registers it.
var Factory = providers.Factory{
	Type: Type,
	Options: []providers.Option{
		{Key: "socket-dir", Default: "/var/run/openvswitch", Help: "directory where the hypervisor creates the vhost-user sockets"},
	},
	New: func(cfg providers.Config) (providers.Provider, error) {
		dir := cfg.String("socket-dir")
		if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir {
			return nil, cfg.Errorf("socket-dir", "want an absolute, clean path")
		}
		return &Provider{dir: dir}, nil
	},
}

func init() { providers.Add(Factory) }

// Provider plugs vhost-user client ports. Prepare answers from memory:
// whether the socket directory exists is looked up by Init and Run.
type Provider struct {
	dir string

	mu        sync.RWMutex
	dirExists bool
}

func (*Provider) Type() string { return Type }

func (*Provider) MaintainedIfaceOptions() []string {
	return []string{IfaceServerPath, IfaceTxRetriesMax}
}

// Init looks at the socket directory once.
func (p *Provider) Init(providers.Env) error {
	p.Run(context.Background())
	return nil
}

// Run reports whether the socket directory appeared or went away.
func (p *Provider) Run(context.Context) bool {
	st, err := os.Stat(p.dir)
	exists := err == nil && st.IsDir()
	p.mu.Lock()
	defer p.mu.Unlock()
	changed := exists != p.dirExists
	p.dirExists = exists
	return changed
}

// Health is down while the socket directory is missing: no VM can be
// given a port then.
func (p *Provider) Health() error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if !p.dirExists {
		return fmt.Errorf("socket directory %s does not exist", p.dir)
	}
	return nil
}

// Prepare answers a dpdkvhostuserclient interface whose server path is
// the socket in the socket directory. Removal is always allowed.
func (p *Provider) Prepare(ctx context.Context, in *providers.PortCtxIn, out *providers.PortCtxOut) error {
	if in.Op == providers.OpRemove {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return providers.NotReady("prepare abandoned: %v", err)
	}
	// Only the userspace datapath has vhost-user ports; the bridge can be
	// switched to it, so this may go away.
	if in.BridgeDatapathType != "netdev" {
		return providers.NotReady("integration bridge %s has datapath_type %q; vhost-user ports need netdev", in.BridgeName, in.BridgeDatapathType)
	}
	name, ok := in.LportOptions[OptSocket]
	if !ok {
		name = "vhu" + prefix(in.LportName, 11)
	}
	if !socketName.MatchString(name) {
		if !ok {
			return providers.Invalid("socket name %q from logical port %q is not a plain file name; set %s", name, in.LportName, OptSocket)
		}
		return providers.Invalid("%s=%q: want 1 to 64 of A-Z a-z 0-9 . _ -, not starting with a dot", OptSocket, name)
	}
	path := filepath.Join(p.dir, name)
	if len(path) > maxSocketPath {
		return providers.Invalid("socket path %s is %d bytes; a unix socket path is at most %d", path, len(path), maxSocketPath)
	}
	opts := map[string]string{IfaceServerPath: path}
	if v, ok := in.LportOptions[OptTxRetriesMax]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 32 {
			return providers.Invalid("%s=%q: want 0 to 32", OptTxRetriesMax, v)
		}
		opts[IfaceTxRetriesMax] = strconv.Itoa(n)
	}
	p.mu.RLock()
	exists := p.dirExists
	p.mu.RUnlock()
	if !exists {
		return providers.NotReady("socket directory %s does not exist", p.dir)
	}
	out.Name, out.Type, out.IfaceOptions = name, "dpdkvhostuserclient", opts
	return nil
}

// prefix returns s's first n bytes, never cutting a character.
func prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
