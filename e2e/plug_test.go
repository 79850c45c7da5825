//go:build e2e

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// TestHarnessOVNPlug checks the harness without the sidecar: OVN's own
// dummy provider (ovn-controller --enable-dummy-vif-plug) plugs lsp1 and
// the same assertions the sidecar tests use pass.
func TestHarnessOVNPlug(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{Mode: stack.ModeOVNPlug})
	start := time.Now()
	addDummyLSP(s, "lsp1", 420)
	waitDummyPlugged(t, s, "lsp1", 420, start)
}

func TestPlugDummy(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	start := time.Now()
	addDummyLSP(s, "lsp1", 420)
	waitDummyPlugged(t, s, "lsp1", 420, start)
}

func TestUnplugOnLSPDel(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{})
	addDummyLSP(s, "lsp1", 420)
	waitDummyPlugged(t, s, "lsp1", 420, time.Now())

	start := time.Now()
	s.NBCtl("lsp-del", "lsp1")
	s.Eventually(plugTimeout, "lsp1 unplugged", func() error {
		if i, ok := s.Interface("lsp1"); ok {
			return fmt.Errorf("Interface lsp1 still there: %+v", i)
		}
		return nil
	})
	t.Logf("sidecar unplugged lsp1 in %v", time.Since(start).Round(time.Millisecond))
}

// TestPlug1000OneTransaction creates 1000 LSPs in one NB transaction and
// waits for all to be plugged and up, in both modes so the log shows the
// sidecar's time next to OVN's.
func TestPlug1000OneTransaction(t *testing.T) {
	t.Parallel()
	const n = 1000
	for _, mode := range []stack.Mode{stack.ModeSidecar, stack.ModeOVNPlug} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			s := stack.New(t, stack.Options{Mode: mode})
			names := make([]string, n)
			args := []string{"ls-add", sw}
			for i := range names {
				names[i] = fmt.Sprintf("lsp%04d", i)
				args = append(args, "--", "lsp-add", sw, names[i], "--")
				args = append(args, dummyOptions(names[i], s.Chassis, 0)...)
			}
			start := time.Now()
			s.NBCtl(args...)
			s.Eventually(3*time.Minute, fmt.Sprintf("%d ports plugged", n), func() error {
				ifaces := s.Interfaces()
				var missing []string
				for _, lsp := range names {
					if dummyPlugged(ifaces, lsp, 0) != nil {
						missing = append(missing, lsp)
					}
				}
				if len(missing) > 0 {
					return fmt.Errorf("%d of %d not plugged yet (first: %v)", len(missing), n, dummyPlugged(ifaces, missing[0], 0))
				}
				return nil
			})
			plugged := time.Since(start)
			s.WaitLSPsUp(3*time.Minute, names...)
			t.Logf("%s: %d ports from one NB transaction: all plugged in %v, all up in %v",
				mode, n, plugged.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		})
	}
}
