//go:build e2e

package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// clSync is one "OVSDB connected and synced" of the sidecar's SB
// connection, from its log.
type clSync struct {
	at       time.Time
	endpoint string
}

// clSidecarSyncs lists the sidecar's SB syncs in order. klog stamps
// lines with local month, day and time to the microsecond.
func clSidecarSyncs(s *stack.Stack) []clSync {
	var out []clSync
	year := time.Now().Year()
	for _, l := range opLogLines(s, "OVSDB connected and synced") {
		f := strings.Fields(l)
		if !strings.Contains(l, `db="sb"`) || len(f) < 2 || len(f[0]) != 5 {
			continue
		}
		at, err := time.ParseInLocation("0102 15:04:05.000000", f[0][1:]+" "+f[1], time.Local)
		if err != nil {
			continue
		}
		_, rest, _ := strings.Cut(l, `endpoint="`)
		ep, _, _ := strings.Cut(rest, `"`)
		out = append(out, clSync{at: at.AddDate(year, 0, 0), endpoint: ep})
	}
	return out
}

// clKill is one SIGKILLed SB member.
type clKill struct {
	member      string
	leader      bool
	at          time.Time
	election    time.Duration // leader kills: until the survivors agreed on a new leader
	gap         time.Duration // until an LSP created at the kill was plugged
	sidecarOnIt bool          // the sidecar's SB connection was to this member
	resync      time.Duration // sidecarOnIt: until the sidecar synced with another member
	resyncTo    string        // that member
	down        time.Duration
	rolling     bool // killed while another member was still rejoining
}

func (k clKill) String() string {
	role := "follower"
	if k.leader {
		role = fmt.Sprintf("leader (new leader agreed after %v)", k.election.Round(time.Millisecond))
	}
	s := fmt.Sprintf("%s %s; an LSP created at the kill was plugged %v later; down %v",
		k.member, role, k.gap.Round(time.Millisecond), k.down.Round(time.Millisecond))
	if k.rolling {
		s += ", killed while the member restarted just before was rejoining"
	}
	if k.sidecarOnIt {
		s += fmt.Sprintf("; the sidecar was connected to it and synced with %s %v after the kill", k.resyncTo, k.resync.Round(time.Millisecond))
	} else {
		s += "; the sidecar was connected elsewhere"
	}
	return s
}

// TestClusterFailover runs the SB database as a 3-member raft cluster and
// the sidecar against all three members over SSL, the way a DPU fleet
// deploys it, and SIGKILLs the leader five times, restarting it each time,
// while LSPs are created and deleted through NB. Each member stays down
// until an LSP created at its kill is plugged, so that the SB database
// moved on without it (that takes ovn-northd finding the new leader).
// Every Interface change is recorded by an OVS monitor: no ovn-plugged
// interface may disappear unless its LSP had been deleted (no wrongful
// unplug), and at the end the ovn-plugged interfaces must be exactly the
// live LSPs, all up.
//
// In each round, right after the killed leader is restarted and while its
// copy of the database may still be stale, the member the sidecar is
// connected to is killed as well, so that the sidecar must reconnect and
// may land on the stale member: a client that trusted any member there
// would see the bindings created while it was down as gone. The stale
// window is short, so this catches such a client often, not always.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	const rounds = 5
	dir := t.TempDir()
	ca := stack.NewCA(t, dir, "ovn-ca")
	server := ca.Issue(t, "sb")
	client := ca.Issue(t, "ch1")
	s := stack.New(t, stack.Options{SBCluster: 3, SBSSL: &server, ManualSidecar: true})
	c := s.SBCluster()
	sslEPs := strings.Split(s.SBSSLRemote(), ",")
	if len(c.Members) != 3 || len(sslEPs) != 3 || len(strings.Split(s.SBRemote(), ",")) != 3 {
		t.Fatalf("cluster members %d, ssl remotes %q, remotes %q: want 3 of each", len(c.Members), s.SBSSLRemote(), s.SBRemote())
	}
	if got := s.VSCtl("get", "Open_vSwitch", ".", "external_ids:ovn-remote"); strings.Trim(got, `"`) != s.SBRemote() {
		t.Fatalf("ovn-remote = %s, want %s", got, s.SBRemote())
	}
	s.StartSidecar(append([]string{"--sb-db=" + s.SBSSLRemote()}, client.Args()...)...)
	s.Eventually(time.Minute, "/readyz 200", func() error {
		if code, body := opReadyz(s); code != http.StatusOK {
			return fmt.Errorf("/readyz = %d %q", code, body)
		}
		return nil
	})
	sidecarPID := s.Sidecar.PID()
	// sidecarMember is the index of the member the sidecar last synced
	// with, or -1.
	sidecarMember := func() int {
		syncs := clSidecarSyncs(s)
		if len(syncs) == 0 {
			return -1
		}
		return slices.Index(sslEPs, syncs[len(syncs)-1].endpoint)
	}
	mon := s.MonitorInterfaces()

	churn := stack.NewChurn(s, sw, "cl", func(name string) []string { return dummyOptions(name, s.Chassis, 0) })
	stop, churned := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(churned)
		churn.Run(stop, 200*time.Millisecond, 40)
	}()
	stopChurn := sync.OnceFunc(func() { close(stop); <-churned })
	defer stopChurn()

	var kills []clKill
	var probes []string
	// down kills member i, waits for the survivors to agree on a leader
	// and for a probe LSP created at the kill to be plugged, lets the
	// churn go on a little and restarts the member, whose copy of the
	// database is then stale.
	down := func(i int, leader, rolling bool) {
		t.Helper()
		k := clKill{member: c.Members[i].Name, leader: leader, rolling: rolling, sidecarOnIt: sidecarMember() == i}
		probe := fmt.Sprintf("probe%02d", len(kills)+1)
		k.at = time.Now()
		c.Members[i].Kill()
		addDummyLSP(s, probe, 0) // NB is not clustered: this never waits
		probes = append(probes, probe)
		c.WaitLeader(time.Minute)
		k.election = time.Since(k.at)
		s.Eventually(2*time.Minute, probe+" plugged while "+k.member+" is down", func() error {
			return dummyPlugged(s.Interfaces(), probe, 0)
		})
		k.gap = time.Since(k.at)
		time.Sleep(time.Second) // chaos pacing: the member stays down a while with churn running
		c.Members[i].Start()
		k.down = time.Since(k.at)
		kills = append(kills, k)
	}
	time.Sleep(2 * time.Second) // chaos pacing: churn between the kills
	for range rounds {
		i := c.WaitLeader(time.Minute)
		down(i, true, false)
		// Member i is back but stale. Take the sidecar's member away now,
		// so that it reconnects while i may still be catching up.
		if j := sidecarMember(); j >= 0 && j != i {
			st, err := c.Status(j)
			down(j, err == nil && st.Role == "leader", true)
		}
		c.WaitHealthy(time.Minute)
		time.Sleep(time.Second) // chaos pacing: churn on a healthy cluster between rounds
		if _, _, _, err := churn.Snapshot(); err != nil {
			t.Fatalf("churn: %v", err)
		}
	}
	time.Sleep(2 * time.Second) // churn on after the last round
	stopChurn()
	live, deleted, created, err := churn.Snapshot()
	if err != nil {
		t.Fatalf("churn: %v", err)
	}
	for _, p := range probes {
		live[p] = time.Time{}
	}

	// Converged: the ovn-plugged interfaces are exactly the live LSPs.
	want := slices.Sorted(maps.Keys(live))
	start := time.Now()
	s.Eventually(2*time.Minute, fmt.Sprintf("the %d live LSPs, and only they, plugged", len(want)), func() error {
		ifaces := s.Interfaces()
		var missing, extra []string
		for _, lsp := range want {
			if err := dummyPlugged(ifaces, lsp, 0); err != nil {
				missing = append(missing, err.Error())
			}
		}
		for _, i := range ifaces {
			if lsp := i.ExternalIDs["iface-id"]; i.ExternalIDs["ovn-plugged"] != "" {
				if _, ok := live[lsp]; !ok {
					extra = append(extra, i.Name)
				}
			}
		}
		if len(missing)+len(extra) > 0 {
			return fmt.Errorf("%d not plugged (first: %v), %d plugged for deleted LSPs: %v", len(missing), clFirst(missing), len(extra), extra)
		}
		return nil
	})
	s.WaitLSPsUp(2*time.Minute, want...)
	t.Logf("converged %v after the churn stopped", time.Since(start).Round(time.Millisecond))
	if !s.Sidecar.Running() || s.Sidecar.PID() != sidecarPID {
		t.Fatalf("the sidecar restarted or exited (pid %d, now %d, running %v)", sidecarPID, s.Sidecar.PID(), s.Sidecar.Running())
	}
	if code, body := opReadyz(s); code != http.StatusOK {
		t.Errorf("/readyz at the end = %d %q", code, body)
	}
	mon.Fence()
	mon.Stop()

	// No wrongful unplug: every deleted ovn-plugged interface belonged to
	// an LSP whose deletion had been issued, and no LSP was plugged twice.
	events := mon.Events()
	inserted := map[string]time.Time{}
	plugs := map[string]int{}
	var wrongful []string
	for _, ev := range events {
		lsp := ev.ExternalIDs["iface-id"]
		stamp := ev.At.Format("15:04:05.000")
		switch ev.Action {
		case "insert":
			if ev.ExternalIDs["ovn-plugged"] != "" {
				plugs[lsp]++
				if _, ok := inserted[lsp]; !ok {
					inserted[lsp] = ev.At
				}
			}
		case "delete":
			if ev.ExternalIDs["ovn-plugged"] == "" {
				continue
			}
			delAt, ok := deleted[lsp]
			switch {
			case !ok:
				wrongful = append(wrongful, fmt.Sprintf("%s: Interface %s of LSP %s deleted; the LSP was never deleted", stamp, ev.Name, lsp))
			case ev.At.Before(delAt):
				wrongful = append(wrongful, fmt.Sprintf("%s: Interface %s of LSP %s deleted %v before the LSP was", stamp, ev.Name, lsp, delAt.Sub(ev.At)))
			}
		case "modify":
			if old := ev.OldExternalIDs; old != nil && old["ovn-plugged"] != "" && old["iface-id"] != ev.ExternalIDs["iface-id"] {
				wrongful = append(wrongful, fmt.Sprintf("%s: Interface %s's iface-id changed from %q to %q", stamp, ev.Name, old["iface-id"], ev.ExternalIDs["iface-id"]))
			}
		}
	}
	for lsp, n := range plugs {
		if n > 1 {
			wrongful = append(wrongful, fmt.Sprintf("LSP %s was plugged %d times", lsp, n))
		}
	}
	sort.Strings(wrongful)

	// Report the failovers: how long the cluster and the sidecar took,
	// and how long plugging stalled (that includes ovn-northd, which must
	// find the new leader before it writes Port_Bindings).
	syncs := clSidecarSyncs(s)
	for n := range kills {
		k := &kills[n]
		if !k.sidecarOnIt {
			continue
		}
		k.resync = -1
		for _, sy := range syncs {
			if sy.at.After(k.at) {
				k.resync = sy.at.Sub(k.at)
				if m := slices.Index(sslEPs, sy.endpoint); m >= 0 {
					k.resyncTo = c.Members[m].Name
				}
				break
			}
		}
	}
	var lat []time.Duration
	for lsp, at := range created {
		if in, ok := inserted[lsp]; ok {
			lat = append(lat, in.Sub(at))
		}
	}
	slices.Sort(lat)
	t.Logf("churn: %d LSPs created, %d deleted, %d live at the end (with %d probes); %d Interface events; "+
		"%d SB syncs by the sidecar; it refused a member not connected to its cluster %d times",
		len(created), len(deleted), len(live), len(probes), len(events), len(syncs), opLogCount(s, "not connected to its cluster"))
	if len(lat) > 0 {
		t.Logf("create-to-plug latency over %d plugged LSPs: median %v, p90 %v, max %v", len(lat),
			lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*9/10].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	}
	leaderKills, sidecarKills := 0, 0
	for n, k := range kills {
		var worst time.Duration
		for lsp, at := range created {
			if !at.Before(k.at.Add(-time.Second)) && at.Before(k.at.Add(k.down)) {
				if in, ok := inserted[lsp]; ok && in.Sub(at) > worst {
					worst = in.Sub(at)
				}
			}
		}
		t.Logf("kill %d: %v; worst create-to-plug latency of LSPs created from 1s before the kill until the restart: %v",
			n+1, k, worst.Round(time.Millisecond))
		if k.leader {
			leaderKills++
		}
		if k.sidecarOnIt {
			sidecarKills++
			if k.resync < 0 {
				t.Errorf("kill %d: the sidecar never synced with the SB again", n+1)
			}
		}
	}
	if len(wrongful) > 0 {
		t.Errorf("%d wrongful unplugs (interfaces of LSPs that still existed disappeared):\n%s", len(wrongful), strings.Join(wrongful, "\n"))
	}
	if leaderKills < rounds || sidecarKills == 0 || len(deleted) < rounds || len(created) < 4*rounds {
		t.Errorf("too little happened to mean anything: %d leader kills, %d kills of the sidecar's member, %d LSPs created, %d deleted",
			leaderKills, sidecarKills, len(created), len(deleted))
	}
}

func clFirst(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// TestClusterStaleMember: one SB member is cut off from its cluster
// (raft RPCs stopped) but still serves clients and, for a while, still
// reports itself connected; a binding is created without it; then the
// sidecar can reach only that member. Its copy lacks the new binding, so
// a client that trusts it unplugs a port whose LSP exists. The sidecar
// must not: like ovsdb-cs (ovn-controller), it has to notice that the
// member serves older data than it has already seen (_Server's index)
// and not act on it.
//
// The election timer is raised to 16 s, as large OVN deployments do, so
// that the cut-off member keeps believing it is connected long enough.
func TestClusterStaleMember(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := stack.NewCA(t, dir, "ovn-ca")
	server := ca.Issue(t, "sb")
	client := ca.Issue(t, "ch1")
	s := stack.New(t, stack.Options{SBCluster: 3, SBSSL: &server, ManualSidecar: true})
	c := s.SBCluster()
	sslEPs := strings.Split(s.SBSSLRemote(), ",")
	l := c.WaitHealthy(time.Minute)
	for _, ms := range []string{"2000", "4000", "8000", "16000"} {
		// Each change must commit before the next may double it again.
		s.Eventually(time.Minute, "election timer "+ms, func() error {
			_, err := s.Run("ovs-appctl", "--target="+c.Members[l].CtlPath(), "cluster/change-election-timer", "OVN_Southbound", ms)
			return err
		})
	}
	s.StartSidecar(append([]string{"--sb-db=" + s.SBSSLRemote()}, client.Args()...)...)
	s.Eventually(time.Minute, "/readyz 200", func() error {
		if code, body := opReadyz(s); code != http.StatusOK {
			return fmt.Errorf("/readyz = %d %q", code, body)
		}
		return nil
	})
	mon := s.MonitorInterfaces()
	addDummyLSP(s, "sp-old", 0)
	waitDummyPlugged(t, s, "sp-old", 0, time.Now())

	// Cut off a follower the sidecar is not connected to.
	syncs := clSidecarSyncs(s)
	sm := slices.Index(sslEPs, syncs[len(syncs)-1].endpoint)
	x := -1
	for i := range c.Members {
		if i != l && i != sm {
			x = i
			break
		}
	}
	s.Appctl(c.Members[x], "cluster/failure-test", "stop-raft-rpc")
	t.Cleanup(func() {
		_, _ = s.Run("ovs-appctl", "--target="+c.Members[x].CtlPath(), "cluster/failure-test", "clear")
	})
	// Not waiting for the LSP to be up: ovn-controller may be connected to
	// the cut-off member, where its writes now hang.
	addDummyLSP(s, "sp-new", 0)
	s.Eventually(plugTimeout, "sp-new plugged", func() error { return dummyPlugged(s.Interfaces(), "sp-new", 0) })
	lead, err := c.ServerInfo(l)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := c.ServerInfo(x)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("leader %s: %+v; cut-off %s: %+v", c.Members[l].Name, lead, c.Members[x].Name, stale)
	if !stale.Connected || stale.Index >= lead.Index {
		t.Fatalf("precondition: %s should claim to be connected with an older index than the leader's", c.Members[x].Name)
	}

	// Now the sidecar can reach only the cut-off member: the others stop
	// serving ssl clients (which also closes the sidecar's session).
	var removed []int
	for i := range c.Members {
		if i == x {
			continue
		}
		_, port, _ := strings.Cut(strings.TrimPrefix(sslEPs[i], "ssl:127.0.0.1"), ":")
		s.Appctl(c.Members[i], "ovsdb-server/remove-remote", "pssl:"+port+":127.0.0.1")
		removed = append(removed, i)
	}
	cut := time.Now()
	time.Sleep(5 * time.Second) // the window in which the sidecar must not sync with the stale member
	if info, err := c.ServerInfo(x); err != nil || !info.Connected {
		t.Errorf("%s stopped claiming to be connected during the test (%+v, %v): the window was shorter than planned", c.Members[x].Name, info, err)
	}
	var onStale []string
	for _, sy := range clSidecarSyncs(s) {
		if sy.at.After(cut) {
			onStale = append(onStale, fmt.Sprintf("%s at +%v", sy.endpoint, sy.at.Sub(cut).Round(time.Millisecond)))
		}
	}
	code, body := opReadyz(s)
	t.Logf("with only %s (%s) reachable: the sidecar synced %v; /readyz %d %q", c.Members[x].Name, sslEPs[x], onStale, code, body)

	// Heal, and everything must be as before.
	_ = s.Appctl(c.Members[x], "cluster/failure-test", "clear")
	for _, i := range removed {
		_, port, _ := strings.Cut(strings.TrimPrefix(sslEPs[i], "ssl:127.0.0.1"), ":")
		s.Appctl(c.Members[i], "ovsdb-server/add-remote", "pssl:"+port+":127.0.0.1")
	}
	s.Eventually(time.Minute, "/readyz 200 after healing", func() error {
		if code, body := opReadyz(s); code != http.StatusOK {
			return fmt.Errorf("/readyz = %d %q", code, body)
		}
		return nil
	})
	s.Eventually(time.Minute, "sp-old and sp-new plugged", func() error {
		ifaces := s.Interfaces()
		if err := dummyPlugged(ifaces, "sp-old", 0); err != nil {
			return err
		}
		return dummyPlugged(ifaces, "sp-new", 0)
	})
	mon.Fence()
	mon.Stop()
	for _, ev := range mon.Events() {
		if ev.Action == "delete" && ev.ExternalIDs["ovn-plugged"] != "" {
			t.Errorf("wrongful unplug at +%v after the sidecar could reach only the stale member: Interface %s of LSP %s, which exists",
				ev.At.Sub(cut).Round(time.Millisecond), ev.Name, ev.ExternalIDs["iface-id"])
		}
	}
}
