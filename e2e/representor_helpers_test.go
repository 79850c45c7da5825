//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb/hwdbtest"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/dpusim"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

const (
	// repSw is the logical switch of every test port.
	repSw = "sw0"
	// repPlugTimeout bounds waits for plugging, unplugging and states.
	repPlugTimeout = 30 * time.Second
	// repHostPFMAC is the host PF MAC of the simulated DPUs (PF 0).
	repHostPFMAC = "0c:42:a1:c6:cf:7c"
	// repPingTimeout bounds the wait for the first echo through a freshly
	// plugged pair of ports.
	repPingTimeout = 30 * time.Second
	// Option keys, spelled out as the CMS writes them.
	repOptPFMAC = "vif-plug:representor:pf-mac"
	repOptVFNum = "vif-plug:representor:vf-num"
)

// newRepStack starts a stack whose sidecar reads a simulated DPU's tree
// (--sysfs-root), with one PF (repHostPFMAC) and vfs VFs. The tree lives in
// the stack's directory, so OVN_VIF_SIDECAR_KEEP keeps it too.
func newRepStack(t *testing.T, vfs int) (*stack.Stack, *dpusim.Sim) {
	t.Helper()
	return newRepStackWith(t, hwdbtest.DPU{PFs: []hwdbtest.DPUPF{{HostMAC: repHostPFMAC, VFs: vfs}}})
}

func newRepStackWith(t *testing.T, dpu hwdbtest.DPU) (*stack.Stack, *dpusim.Sim) {
	t.Helper()
	s := stack.New(t, stack.Options{ManualSidecar: true})
	sim := dpusim.New(t, dpusim.Options{NetNS: s.NetNS, Dir: filepath.Join(s.Dir, "sysfs"), DPU: dpu})
	// Stop the sidecar before the simulator takes the hardware away, so
	// that a failed test's sidecar log ends with the test, not with the
	// teardown. How it takes SIGTERM is still checked.
	t.Cleanup(func() {
		if err := s.Sidecar.Stop(); err != nil {
			t.Errorf("sidecar on SIGTERM: %v", err)
		}
	})
	s.StartSidecar(sim.SysfsRootFlag())
	return s, sim
}

// addRepLSP adds lsp to sw0 with v's addresses and the Neutron options
// that plug v's representor on the stack's chassis, plus extra options
// ("key=value"). The extra options replace same-named defaults.
func addRepLSP(s *stack.Stack, lsp string, v dpusim.VM, extra ...string) {
	args := []string{"--may-exist", "ls-add", repSw,
		"--", "lsp-add", repSw, lsp,
		"--", "lsp-set-addresses", lsp, v.Addresses(),
		"--", "lsp-set-options", lsp}
	s.NBCtl(append(args, repMergeOptions(v.PlugOptions(s.Chassis), extra...)...)...)
}

// repSetOptions replaces lsp's options.
func repSetOptions(s *stack.Stack, lsp string, opts ...string) {
	s.NBCtl(append([]string{"lsp-set-options", lsp}, opts...)...)
}

// repMergeOptions overrides base "k=v" options with extra ones.
func repMergeOptions(base []string, extra ...string) []string {
	out := slices.Clone(base)
	for _, e := range extra {
		k, _, _ := strings.Cut(e, "=")
		out = slices.DeleteFunc(out, func(o string) bool { return strings.HasPrefix(o, k+"=") })
		out = append(out, e)
	}
	return out
}

// repPlugged checks the Interface the representor provider must produce
// for lsp: named after the representor netdev, on br-int in a Port of the
// same name, a system interface (type "") with no options, the two
// external_ids, the mtu_request asked for, opened by OVS (an ofport, no
// error), and the only Interface claiming lsp.
func repPlugged(ifaces map[string]stack.Interface, lsp, netdev string, mtu int64) error {
	i, ok := ifaces[netdev]
	switch {
	case !ok:
		return fmt.Errorf("no Interface %s", netdev)
	case i.Bridge != "br-int" || i.Port != netdev:
		return fmt.Errorf("Interface %s is in port %q of bridge %q, want port %s of br-int", netdev, i.Port, i.Bridge, netdev)
	case i.Type != "":
		return fmt.Errorf("Interface %s type %q, want \"\" (system)", netdev, i.Type)
	case len(i.Options) != 0:
		return fmt.Errorf("Interface %s options %v, want none", netdev, i.Options)
	case i.ExternalIDs["iface-id"] != lsp || i.ExternalIDs["ovn-plugged"] != "representor":
		return fmt.Errorf("Interface %s external_ids %v, want iface-id=%s ovn-plugged=representor", netdev, i.ExternalIDs, lsp)
	case i.MTURequest != mtu:
		return fmt.Errorf("Interface %s mtu_request %d, want %d", netdev, i.MTURequest, mtu)
	case i.Error != "" || i.OFPort <= 0:
		return fmt.Errorf("Interface %s not opened by OVS: ofport %d, error %q", netdev, i.OFPort, i.Error)
	}
	for name, o := range ifaces {
		if name != netdev && o.ExternalIDs["iface-id"] == lsp {
			return fmt.Errorf("Interface %s also carries iface-id %s (external_ids %v)", name, lsp, o.ExternalIDs)
		}
	}
	return nil
}

// repWaitPlugged waits for lsp to be plugged on netdev and up.
func repWaitPlugged(t *testing.T, s *stack.Stack, lsp, netdev string, mtu int64) {
	t.Helper()
	start := time.Now()
	s.Eventually(repPlugTimeout, lsp+" plugged on "+netdev, func() error {
		return repPlugged(s.Interfaces(), lsp, netdev, mtu)
	})
	plugged := time.Since(start)
	s.WaitLSPsUp(repPlugTimeout, lsp)
	t.Logf("%s plugged on %s after %v, up after %v", lsp, netdev,
		plugged.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// repNoInterface fails unless no Interface called name exists.
func repNoInterface(ifaces map[string]stack.Interface, name string) error {
	if i, ok := ifaces[name]; ok {
		return fmt.Errorf("Interface %s still there: external_ids %v, bridge %q", name, i.ExternalIDs, i.Bridge)
	}
	return nil
}

// repPortStatus is one element of the sidecar's GET /ports.
type repPortStatus struct {
	LogicalPort string    `json:"logical_port"`
	Provider    string    `json:"provider"`
	State       string    `json:"state"`
	Interface   string    `json:"interface"`
	Reason      string    `json:"reason"`
	Since       time.Time `json:"since"`
}

// repSidecarPorts reads GET /ports, keyed by logical port.
func repSidecarPorts(s *stack.Stack) (map[string]repPortStatus, error) {
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(s.SidecarURL() + "/ports")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /ports: %s: %s", resp.Status, body)
	}
	var list []repPortStatus
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("GET /ports: %v in %s", err, body)
	}
	m := make(map[string]repPortStatus, len(list))
	for _, p := range list {
		if _, dup := m[p.LogicalPort]; dup {
			return nil, fmt.Errorf("GET /ports lists %s twice: %s", p.LogicalPort, body)
		}
		m[p.LogicalPort] = p
	}
	return m, nil
}

// repStatusIs checks one port's GET /ports entry: its provider, state, and
// a reason containing each of reason (case-insensitive).
func repStatusIs(ports map[string]repPortStatus, lsp, state string, reason ...string) error {
	p, ok := ports[lsp]
	if !ok {
		return fmt.Errorf("%s not in GET /ports", lsp)
	}
	if p.Provider != "representor" || p.State != state {
		return fmt.Errorf("%s: provider %q state %q (reason %q), want provider representor state %s", lsp, p.Provider, p.State, p.Reason, state)
	}
	for _, r := range reason {
		if !strings.Contains(strings.ToLower(p.Reason), strings.ToLower(r)) {
			return fmt.Errorf("%s: reason %q does not mention %q", lsp, p.Reason, r)
		}
	}
	return nil
}

// repWaitStatus waits until lsp's GET /ports entry is in state with a reason
// that mentions each of reason, and returns it.
func repWaitStatus(t *testing.T, s *stack.Stack, lsp, state string, reason ...string) repPortStatus {
	t.Helper()
	var got repPortStatus
	s.Eventually(repPlugTimeout, fmt.Sprintf("%s %s in GET /ports", lsp, state), func() error {
		ports, err := repSidecarPorts(s)
		if err != nil {
			return err
		}
		got = ports[lsp]
		return repStatusIs(ports, lsp, state, reason...)
	})
	return got
}

// repPingOK waits until one echo from VM from to VM to gets through OVN, then
// requires three more in a row to. It returns the three-echo transcript.
func repPingOK(t *testing.T, s *stack.Stack, sim *dpusim.Sim, from, to string) dpusim.PingResult {
	t.Helper()
	dst := sim.VM(to)
	start := time.Now()
	s.Eventually(repPingTimeout, fmt.Sprintf("first echo %s -> %s (%s)", from, to, dst.IP), func() error {
		r := sim.Ping(from, dst.IP, dpusim.PingOptions{Count: 1, Wait: 500 * time.Millisecond})
		if r.Received != 1 {
			return fmt.Errorf("%s", r)
		}
		return nil
	})
	first := time.Since(start)
	r := sim.Ping(from, dst.IP, dpusim.PingOptions{Count: 3})
	if r.Received != r.Sent || r.Sent != 3 {
		t.Fatalf("ping %s -> %s through OVN lost echoes:\n%s", from, to, r)
	}
	t.Logf("ping %s -> %s: first echo after %v; then:\n%s", from, to, first.Round(time.Millisecond), r)
	return r
}

// repPingFails requires that no echo from VM from reaches VM to.
func repPingFails(t *testing.T, sim *dpusim.Sim, from, to string) {
	t.Helper()
	r := sim.Ping(from, sim.VM(to).IP, dpusim.PingOptions{Count: 2, Wait: 300 * time.Millisecond})
	if r.Received != 0 {
		t.Fatalf("ping %s -> %s got through, want no path:\n%s", from, to, r)
	}
}

// repHWRow is one element of `ovn-vif-sidecar hw --json`.
type repHWRow struct {
	Name        string `json:"name"`
	Ifindex     int    `json:"ifindex"`
	Flavour     string `json:"flavour"`
	PF          int    `json:"pf"`
	VF          int    `json:"vf"`
	HostPFMAC   string `json:"host_pf_mac"`
	LogicalPort string `json:"logical_port"`
	PluggedBy   string `json:"ovn_plugged"`
	Bridge      string `json:"bridge"`
}

// repSidecarBin is the binary the stack runs as the sidecar.
func repSidecarBin(t *testing.T, s *stack.Stack) string {
	t.Helper()
	args := s.Sidecar.Args()
	if len(args) == 0 {
		t.Fatal("the sidecar has no command line yet")
	}
	return args[0]
}

// repNever requires cond to hold (return nil) throughout d.
func repNever(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if err := cond(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
