//go:build e2e

package e2e

import (
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// TestRelay: a sidecar whose only SB remote is an ovsdb-server relay in
// front of the raft cluster. A relay's _Server row says model "relay" and
// has no raft index, so the freshness guard must trust it while it is
// connected to its source. The sidecar plugs through it, keeps its ports
// while the relay is down and across the SB leader's kill, and plugs
// again after each.
func TestRelay(t *testing.T) {
	t.Parallel()
	s := stack.New(t, stack.Options{SBCluster: 3, SBRelays: 1, ManualSidecar: true})
	relay := s.Relays()[0]
	c := s.SBCluster()
	s.StartSidecar("--sb-db=" + s.SBRelayRemote())
	mon := s.MonitorInterfaces()
	start := time.Now()
	addDummyLSP(s, "rl-first", 0)
	waitDummyPlugged(t, s, "rl-first", 0, start)
	onRelay := func(after time.Time) int {
		n := 0
		for _, sy := range clSidecarSyncs(s) {
			if sy.at.After(after) && sy.endpoint == s.SBRelayRemote() {
				n++
			}
		}
		return n
	}
	if n := onRelay(time.Time{}); n == 0 {
		t.Fatalf("the sidecar never synced with the relay %s; syncs: %+v", s.SBRelayRemote(), clSidecarSyncs(s))
	}

	// The relay goes away; a port requested meanwhile plugs once it is back.
	relay.Kill()
	down := time.Now()
	addDummyLSP(s, "rl-down", 0)
	time.Sleep(2 * time.Second) // the relay stays down a while: the sidecar retries meanwhile
	relay.Start()
	s.Eventually(plugTimeout, "rl-down plugged after the relay's restart", func() error {
		return dummyPlugged(s.Interfaces(), "rl-down", 0)
	})
	if onRelay(down) == 0 {
		t.Errorf("the sidecar did not sync with the relay again after its restart")
	}
	t.Logf("rl-down plugged %v after the relay was killed (2 s of it down)", time.Since(down).Round(time.Millisecond))

	// The leader dies: the relay moves to another member, the sidecar may stay.
	i, killed := c.KillLeader(time.Minute)
	addDummyLSP(s, "rl-failover", 0)
	s.Eventually(plugTimeout, "rl-failover plugged after the leader's kill", func() error {
		return dummyPlugged(s.Interfaces(), "rl-failover", 0)
	})
	t.Logf("rl-failover plugged %v after the leader %s was killed", time.Since(killed).Round(time.Millisecond), c.Members[i].Name)
	c.Members[i].Start()

	ifaces := s.Interfaces()
	for _, lsp := range []string{"rl-first", "rl-down", "rl-failover"} {
		if err := dummyPlugged(ifaces, lsp, 0); err != nil {
			t.Error(err)
		}
	}
	mon.Stop()
	for _, ev := range mon.Events() {
		if ev.Action == "delete" && ev.ExternalIDs["ovn-plugged"] != "" {
			t.Errorf("wrongful unplug at +%v: Interface %s of LSP %s, which exists",
				ev.At.Sub(start).Round(time.Millisecond), ev.Name, ev.ExternalIDs["iface-id"])
		}
	}
}
