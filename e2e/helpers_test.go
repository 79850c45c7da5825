//go:build e2e

package e2e

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

const (
	plugTimeout = 30 * time.Second
	sw          = "sw0"
)

// dummyOptions are the lsp-set-options arguments that ask chassis to plug
// lsp with the dummy provider; mtu 0 means no vif-plug-mtu-request.
func dummyOptions(lsp, chassis string, mtu int) []string {
	args := []string{"lsp-set-options", lsp, "requested-chassis=" + chassis, "vif-plug-type=dummy"}
	if mtu > 0 {
		args = append(args, fmt.Sprintf("vif-plug-mtu-request=%d", mtu))
	}
	return args
}

// addDummyLSP creates sw0 if needed and lsp on it, requested on the stack's chassis.
func addDummyLSP(s *stack.Stack, lsp string, mtu int) {
	args := []string{"--may-exist", "ls-add", sw, "--", "lsp-add", sw, lsp, "--"}
	s.NBCtl(append(args, dummyOptions(lsp, s.Chassis, mtu)...)...)
}

// dummyPlugged checks an Interface against what the dummy provider, in
// OVN or in the sidecar, must produce for lsp.
func dummyPlugged(ifaces map[string]stack.Interface, lsp string, mtu int64) error {
	name := lsp
	if len(name) > 15 {
		name = name[:15]
	}
	i, ok := ifaces[name]
	switch {
	case !ok:
		return fmt.Errorf("no Interface %s", name)
	case i.Bridge != "br-int" || i.Port != name:
		return fmt.Errorf("Interface %s is in port %q of bridge %q, want port %s of br-int", name, i.Port, i.Bridge, name)
	case i.Type != "internal":
		return fmt.Errorf("Interface %s type %q, want internal", name, i.Type)
	case !maps.Equal(i.Options, map[string]string{"vif-plug-dummy-option": "value"}):
		return fmt.Errorf("Interface %s options %v, want vif-plug-dummy-option=value", name, i.Options)
	case i.ExternalIDs["iface-id"] != lsp || i.ExternalIDs["ovn-plugged"] != "dummy":
		return fmt.Errorf("Interface %s external_ids %v, want iface-id=%s ovn-plugged=dummy", name, i.ExternalIDs, lsp)
	case i.MTURequest != mtu:
		return fmt.Errorf("Interface %s mtu_request %d, want %d", name, i.MTURequest, mtu)
	}
	return nil
}

// waitDummyPlugged waits for lsp's Interface to be right and then for the
// LSP to be up, and logs how long each took from start.
func waitDummyPlugged(t *testing.T, s *stack.Stack, lsp string, mtu int64, start time.Time) {
	t.Helper()
	s.Eventually(plugTimeout, lsp+" plugged", func() error {
		return dummyPlugged(s.Interfaces(), lsp, mtu)
	})
	plugged := time.Since(start)
	s.WaitLSPsUp(plugTimeout, lsp)
	t.Logf("%s: %s plugged after %v, up after %v", s.Mode, lsp,
		plugged.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}
