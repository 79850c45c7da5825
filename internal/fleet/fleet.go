// Package fleet simulates a fleet of DPUs on one machine: a 3-member raft
// Southbound, ovsdb-server relays in front of it, NB and ovn-northd, and
// N chassis, each with its own OVS ovsdb-server (br-int, no
// ovs-vswitchd) and its own sidecar with the dummy provider. There is no
// ovn-controller: the harness creates the SB Chassis rows itself, since N
// ovn-controllers do not fit on a small machine. cmd/fleet is its command
// line and docs/scale.md explains the figures.
package fleet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/bench"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// Config sizes a run; cmd/fleet has the defaults.
type Config struct {
	Chassis         int
	Relays          int
	PortsPerChassis int
	// ChassisPerSwitch chassis share one logical switch.
	ChassisPerSwitch int
	// Fallback lists the cluster members after the relays in every
	// sidecar's SB remote; without relays the members are the remote.
	Fallback bool
	// Idle is each CPU measurement window with nothing happening.
	Idle time.Duration
	// ChurnDuration, ChurnRate (port creations per second) and ChurnLive
	// (churn ports alive at a time) shape the churn that measures the plug
	// latency.
	ChurnDuration time.Duration
	ChurnRate     float64
	ChurnLive     int
	// Cap bounds every wait for the fleet to converge.
	Cap time.Duration
	// Probes chassis reach the SB servers through a counting proxy.
	Probes     int
	SidecarBin string
	// SidecarV is the sidecars' -v; the probes log at -v=4.
	SidecarV string
	// Faults to inject, in order: "leader", "relay", "relays".
	Faults []string
}

// Chassis is one simulated DPU.
type Chassis struct {
	Name    string
	Switch  string
	OVSDB   *stack.Proc
	Remote  string // its OVS database
	Watch   *bench.OVSWatch
	Sidecar *stack.Proc
	// Ports are the long-lived ports requested on it: they must never be
	// unplugged.
	Ports []string
	proxy *countingProxy
}

// Runner runs the simulation.
type Runner struct {
	Cfg Config
	TB  stack.TB
	S   *stack.Stack
	NB  *bench.NB
	Ch  []*Chassis
	Res Results

	cl    *stack.Cluster
	sb    *bindings
	ctx   context.Context
	start time.Time
	owner map[string]*Chassis // port name → chassis it is requested on
	// faults numbers the faults, for their probe ports' names.
	faults int
}

// New starts the central stack and the chassis' OVS databases; no
// sidecar runs yet.
func New(tb stack.TB, cfg Config) *Runner {
	r := &Runner{Cfg: cfg, TB: tb, ctx: context.Background(), start: time.Now(), owner: map[string]*Chassis{}}
	r.Res.Cfg = cfg
	r.S = stack.NewCentral(tb, stack.Options{
		SBCluster: 3,
		SBRelays:  cfg.Relays,
		// Every accepted client connection is then logged: that is how
		// reconnect attempts are counted at the servers.
		SBServerArgs: []string{"-vreconnect:file:dbg"},
	})
	r.cl = r.S.SBCluster()
	var err error
	if r.NB, err = bench.WatchNB(r.ctx, r.S.NBRemote()); err != nil {
		tb.Fatalf("fleet: %v", err)
	}
	tb.Cleanup(r.NB.Close)
	if r.sb, err = watchBindings(r.ctx, r.S.SBRemote()); err != nil {
		tb.Fatalf("fleet: %v", err)
	}
	tb.Cleanup(r.sb.Close)

	perSw := max(cfg.ChassisPerSwitch, 1)
	var switches []string
	for i := range cfg.Chassis {
		sw := fmt.Sprintf("ls%03d", i/perSw)
		if len(switches) == 0 || switches[len(switches)-1] != sw {
			switches = append(switches, sw)
		}
		r.Ch = append(r.Ch, &Chassis{Name: fmt.Sprintf("ch%03d", i), Switch: sw})
	}
	if err := r.NB.EnsureSwitches(r.ctx, switches...); err != nil {
		tb.Fatalf("fleet: %v", err)
	}
	t0 := time.Now()
	for _, c := range r.Ch {
		c.OVSDB, c.Remote = r.S.AddOVSDB(c.Name)
		// No ovs-vswitchd: --no-wait, and br-int is only rows.
		if _, err := r.S.Run("ovs-vsctl", "--db="+c.Remote, "--no-wait", "init",
			"--", "set", "Open_vSwitch", ".", "external_ids:system-id="+c.Name,
			"--", "add-br", "br-int", "--", "set", "Bridge", "br-int", "datapath_type=netdev"); err != nil {
			tb.Fatalf("fleet: %v", err)
		}
		if c.Watch, err = bench.WatchOVS(r.ctx, c.Remote); err != nil {
			tb.Fatalf("fleet: %s: %v", c.Name, err)
		}
		tb.Cleanup(c.Watch.Close)
	}
	r.Logf("%d OVS databases up in %v", len(r.Ch), time.Since(t0).Round(time.Millisecond))
	r.addChassisRows()
	return r
}

// Logf logs with the time since the start.
func (r *Runner) Logf(format string, args ...any) {
	r.TB.Logf("[%6.1fs] %s", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// addChassisRows creates each chassis' SB Chassis and Encap rows, as
// ovn-controller would, in batches of 50 per ovn-sbctl call.
func (r *Runner) addChassisRows() {
	for i := 0; i < len(r.Ch); i += 50 {
		var args []string
		for j, c := range r.Ch[i:min(i+50, len(r.Ch))] {
			n := i + j
			if len(args) > 0 {
				args = append(args, "--")
			}
			// Encap (type, ip) is unique: one address per chassis.
			args = append(args, "chassis-add", c.Name, "geneve", fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255))
		}
		if _, err := r.S.SBCtlErr(args...); err != nil {
			r.TB.Fatalf("fleet: %v", err)
		}
	}
}

// sbRemotes is the SB remote list every sidecar gets.
func (r *Runner) sbRemotes() []string {
	var eps []string
	if r.Cfg.Relays > 0 {
		eps = strings.Split(r.S.SBRelayRemote(), ",")
	}
	if r.Cfg.Relays == 0 || r.Cfg.Fallback {
		eps = append(eps, strings.Split(r.S.SBRemote(), ",")...)
	}
	return eps
}

// sbServers are the SB ovsdb-servers: members, then relays.
func (r *Runner) sbServers() []*stack.Proc {
	return append(append([]*stack.Proc(nil), r.cl.Members...), r.S.Relays()...)
}

// CreatePorts requests PortsPerChassis long-lived ports on every chassis,
// in NB transactions of at most 1000 ports.
func (r *Runner) CreatePorts() {
	var specs []bench.PortSpec
	for ci, c := range r.Ch {
		for j := range r.Cfg.PortsPerChassis {
			name := fmt.Sprintf("c%03dp%03d", ci, j)
			c.Ports = append(c.Ports, name)
			specs = append(specs, bench.PortSpec{Name: name, Switch: c.Switch, Chassis: c.Name})
			r.owner[name] = c
		}
	}
	for i := 0; i < len(specs); i += 1000 {
		if _, err := r.NB.AddPorts(r.ctx, specs[i:min(i+1000, len(specs))]); err != nil {
			r.TB.Fatalf("fleet: add ports: %v", err)
		}
	}
	r.Res.Ports = len(specs)
	r.Logf("%d long-lived ports requested", len(specs))
}

// StartSidecars starts one sidecar per chassis, all at once, and waits
// until every long-lived port is plugged on its chassis.
func (r *Runner) StartSidecars() {
	eps := r.sbRemotes()
	t0 := time.Now()
	r.Res.sidecarsAt = t0
	for i, c := range r.Ch {
		remotes := eps
		if i < r.Cfg.Probes {
			var err error
			c.proxy, remotes, err = newCountingProxy(r.S.Dir, "probe-"+c.Name, eps)
			if err != nil {
				r.TB.Fatalf("fleet: %v", err)
			}
			r.TB.Cleanup(c.proxy.Close)
		}
		argv := []string{r.Cfg.SidecarBin,
			"--ovs-db=" + c.Remote,
			"--sb-db=" + strings.Join(remotes, ","),
			"--chassis=" + c.Name,
			"--providers=dummy",
			"--http-addr=",
			"--logtostderr",
		}
		if i < r.Cfg.Probes {
			argv = append(argv, "-v=4")
		} else {
			argv = append(argv, "-v="+r.Cfg.SidecarV)
		}
		c.Sidecar = r.S.NewProc("sidecar-"+c.Name, nil, argv...)
		c.Sidecar.Launch()
	}
	r.Logf("%d sidecars started in %v", len(r.Ch), time.Since(t0).Round(time.Millisecond))
	at, ok := r.waitPresent(t0, r.Cfg.Cap, func(c *Chassis) []string { return c.Ports })
	if !ok {
		r.TB.Fatalf("fleet: %s", r.notConverged(func(c *Chassis) []string { return c.Ports }))
	}
	r.Res.ColdStart = at.Sub(t0)
	r.Logf("fleet cold start: every long-lived port plugged after %v", r.Res.ColdStart.Round(time.Millisecond))
}

// waitPresent waits until every chassis has the Interfaces of want(c)
// and returns when the last one appeared.
func (r *Runner) waitPresent(t0 time.Time, limit time.Duration, want func(*Chassis) []string) (time.Time, bool) {
	deadline := t0.Add(limit)
	var last time.Time
	for _, c := range r.Ch {
		e := c.Watch.ExpectPresent(want(c)...)
		at, ok := e.Wait(time.Until(deadline))
		if !ok {
			e.Cancel()
			return time.Time{}, false
		}
		if at.After(last) {
			last = at
		}
	}
	return last, true
}

func (r *Runner) notConverged(want func(*Chassis) []string) string {
	var bad []string
	for _, c := range r.Ch {
		w := want(c)
		if n := c.Watch.Count(w); n != len(w) {
			bad = append(bad, fmt.Sprintf("%s %d/%d", c.Name, n, len(w)))
		}
	}
	if len(bad) > 5 {
		bad = append(bad[:5], fmt.Sprintf("... %d chassis in all", len(bad)))
	}
	return "chassis not converged after " + r.Cfg.Cap.String() + ": " + strings.Join(bad, ", ")
}

// WrongfulUnplugs counts deletions of long-lived ports' Interfaces, and
// long-lived ports missing now.
func (r *Runner) WrongfulUnplugs() (deleted, missing int) {
	for _, c := range r.Ch {
		for _, p := range c.Ports {
			deleted += c.Watch.Deleted(p)
		}
		missing += len(c.Ports) - c.Watch.Count(c.Ports)
	}
	return deleted, missing
}

// Misplaced counts Interfaces on a chassis for ports requested elsewhere.
func (r *Runner) Misplaced() int {
	n := 0
	for _, c := range r.Ch {
		var others []string
		for name, o := range r.owner {
			if o != c {
				others = append(others, name)
			}
		}
		n += c.Watch.Count(others)
	}
	return n
}

// Churn creates one port at a time on a random chassis at ChurnRate,
// deleting the oldest once ChurnLive are alive, and records each plug's
// latency: from the NB commit to the Interface on its chassis.
func (r *Runner) Churn() {
	interval := time.Duration(float64(time.Second) / r.Cfg.ChurnRate)
	var live []string
	var wg sync.WaitGroup
	var lat []float64
	missed := 0
	var mu sync.Mutex
	end := time.Now().Add(r.Cfg.ChurnDuration)
	next := time.Now()
	for i := 0; time.Now().Before(end); i++ {
		c := r.Ch[rand.IntN(len(r.Ch))]
		name := fmt.Sprintf("k%05d", i)
		r.owner[name] = c
		e := c.Watch.ExpectPresent(name)
		at, err := r.NB.AddPorts(r.ctx, []bench.PortSpec{{Name: name, Switch: c.Switch, Chassis: c.Name}})
		if err != nil {
			r.TB.Fatalf("fleet: churn: %v", err)
		}
		wg.Go(func() {
			t, ok := e.Wait(r.Cfg.Cap)
			mu.Lock()
			defer mu.Unlock()
			if !ok {
				e.Cancel()
				missed++
				return
			}
			lat = append(lat, float64(t.Sub(at))/float64(time.Millisecond))
		})
		live = append(live, name)
		if len(live) > r.Cfg.ChurnLive {
			if _, err := r.NB.DeletePorts(r.ctx, live[:1]); err != nil {
				r.TB.Fatalf("fleet: churn: %v", err)
			}
			delete(r.owner, live[0])
			live = live[1:]
		}
		next = next.Add(interval)
		time.Sleep(time.Until(next))
	}
	wg.Wait()
	r.Res.PlugLatencyMS = lat
	r.Res.ChurnMissed = missed
	r.removePorts(live)
}

// removePorts deletes ports and waits until their Interfaces are gone.
func (r *Runner) removePorts(names []string) {
	if len(names) == 0 {
		return
	}
	byCh := map[*Chassis][]string{}
	for _, n := range names {
		byCh[r.owner[n]] = append(byCh[r.owner[n]], n)
	}
	if _, err := r.NB.DeletePorts(r.ctx, names); err != nil {
		r.TB.Fatalf("fleet: %v", err)
	}
	deadline := time.Now().Add(r.Cfg.Cap)
	for c, ns := range byCh {
		if _, ok := c.Watch.ExpectAbsent(ns...).Wait(time.Until(deadline)); !ok {
			r.TB.Fatalf("fleet: %s: %d ports still plugged %v after their deletion", c.Name, c.Watch.Count(ns), r.Cfg.Cap)
		}
	}
	for _, n := range names {
		delete(r.owner, n)
	}
}

// meter measures one window: begin samples, end samples again.
type meter struct {
	r      *Runner
	label  string
	procs  []*stack.Proc
	leader int
	before map[*stack.Proc]usage
	sc     map[*Chassis]usage
	t0     time.Time
}

func (r *Runner) begin(label string) *meter {
	m := &meter{r: r, label: label, procs: r.sbServers(), before: map[*stack.Proc]usage{}, sc: map[*Chassis]usage{}}
	var err error
	if m.leader, err = r.cl.Leader(); err != nil {
		m.leader = -1
	}
	for _, p := range m.procs {
		m.before[p] = sample(p)
	}
	for _, c := range r.Ch {
		if c.Sidecar != nil {
			m.sc[c] = sample(c.Sidecar)
		}
	}
	m.t0 = time.Now()
	return m
}

func (m *meter) end() Window {
	r := m.r
	w := Window{Label: m.label, Seconds: time.Since(m.t0).Seconds(), LeaderIdx: m.leader}
	for i, p := range m.procs {
		after := sample(p)
		cpu, _ := cpuBetween(m.before[p], after)
		w.Servers = append(w.Servers, ServerUsage{
			Name: p.Name, Relay: i >= len(r.cl.Members), Leader: i == m.leader,
			CPU: cpu, RSS: after.RSS, Sessions: sessions(r.S, p),
		})
	}
	for _, c := range r.Ch {
		if c.Sidecar == nil {
			continue
		}
		after := sample(c.Sidecar)
		if cpu, ok := cpuBetween(m.sc[c], after); ok {
			w.SidecarCPU += cpu
		} else if m.sc[c].PID == 0 {
			w.SidecarCPU += after.CPU // started within the window
		}
		w.SidecarRSS += after.RSS
		w.Sidecars++
	}
	r.Logf("%s: %s", m.label, w.Short())
	return w
}

// Measure samples the SB servers and every sidecar over d.
func (r *Runner) Measure(label string, d time.Duration) Window {
	m := r.begin(label)
	time.Sleep(d)
	return m.end()
}

// Run runs the whole simulation; the results are in Res.
func (r *Runner) Run() {
	r.CreatePorts()
	time.Sleep(2 * time.Second) // northd writes the bindings
	r.Res.Idle0 = r.Measure("idle, 0 sidecars", r.Cfg.Idle)
	m := r.begin("cold start")
	r.StartSidecars()
	r.Res.Startup = m.end()
	time.Sleep(dumpWindow)
	r.Res.InitialSession, r.Res.ColdStartProbe = r.initialProbe()
	time.Sleep(3 * time.Second)
	r.Res.IdleN = r.Measure(fmt.Sprintf("idle, %d sidecars", len(r.Ch)), r.Cfg.Idle)
	m = r.begin("churn")
	var before map[string]int64
	if len(r.Ch) > 0 && r.Ch[0].proxy != nil {
		before = r.Ch[0].proxy.BytesByDB()
	}
	r.Churn()
	r.Res.Churn = m.end()
	if before != nil {
		r.Res.ChurnProbeBytes = map[string]int64{}
		for db, n := range r.Ch[0].proxy.BytesByDB() {
			r.Res.ChurnProbeBytes[db] = n - before[db]
		}
	}
	for _, f := range r.Cfg.Faults {
		r.Res.Faults = append(r.Res.Faults, r.Fault(f))
	}
	r.Res.WrongfulUnplugs, r.Res.Missing = r.WrongfulUnplugs()
	r.Res.Misplaced = r.Misplaced()
}

// Fault injects one fault, at once requests one new port per chassis
// and measures until every chassis has plugged it.
func (r *Runner) Fault(kind string) FaultResult {
	fr := FaultResult{Kind: kind}
	r.faults++
	// The probe chassis' SB connection now, to see whether it reconnects.
	probeUp := ""
	if len(r.Ch) > 0 && r.Ch[0].proxy != nil {
		probeUp = r.Ch[0].proxy.Current()
	}
	var restart func()
	t0 := time.Now()
	switch kind {
	case "leader":
		i, at := r.cl.KillLeader(r.Cfg.Cap)
		t0 = at
		fr.Target = r.cl.Members[i].Name
		restart = func() {
			r.cl.Members[i].Start()
			r.cl.WaitHealthy(r.Cfg.Cap)
		}
	case "relay":
		relays := r.S.Relays()
		if len(relays) == 0 {
			fr.Skipped = "no relays"
			return fr
		}
		// The busiest relay, or the probe's, whose sidecars must move.
		victim := relays[0]
		for _, p := range relays {
			if probeUp != "" && strings.HasSuffix(probeUp, strings.TrimPrefix(p.Name, "ovsdb-server-")+".sock") {
				victim = p
				break
			}
			if sessions(r.S, p) > sessions(r.S, victim) {
				victim = p
			}
		}
		fr.Target = victim.Name
		t0 = time.Now()
		victim.Kill()
		restart = func() { victim.Start() }
	case "relays":
		relays := r.S.Relays()
		if len(relays) == 0 {
			fr.Skipped = "no relays"
			return fr
		}
		fr.Target = fmt.Sprintf("all %d relays", len(relays))
		t0 = time.Now()
		var wg sync.WaitGroup
		for _, p := range relays {
			wg.Go(func() { _ = p.Stop() })
		}
		wg.Wait()
		for _, p := range relays {
			p.Launch()
		}
	default:
		r.TB.Fatalf("fleet: unknown fault %q", kind)
	}
	probe := map[*Chassis]string{}
	var specs []bench.PortSpec
	for i, c := range r.Ch {
		name := fmt.Sprintf("f%dc%03d", r.faults, i)
		probe[c] = name
		r.owner[name] = c
		specs = append(specs, bench.PortSpec{Name: name, Switch: c.Switch, Chassis: c.Name})
	}
	if _, err := r.NB.AddPorts(r.ctx, specs); err != nil {
		r.TB.Fatalf("fleet: fault %s: probe ports: %v", kind, err)
	}
	// When ovn-northd has written the bindings (all in one transaction),
	// to tell its part of the convergence from the sidecars'.
	bound := make(chan time.Duration, 1)
	go func() {
		at, ok := r.sb.wait(specs[0].Name, t0.Add(r.Cfg.Cap))
		if !ok {
			bound <- 0
			return
		}
		bound <- at.Sub(t0)
	}()
	want := func(c *Chassis) []string { return []string{probe[c]} }
	at, ok := r.waitPresent(t0, r.Cfg.Cap, want)
	if !ok {
		fr.NotConverged = r.notConverged(want)
		r.Logf("fault %s: %s", kind, fr.NotConverged)
		at = time.Now()
	} else {
		fr.Converged = at.Sub(t0)
	}
	fr.Bound = <-bound
	// Connections that follow the fault: the storm and its tail.
	end := at.Add(2 * time.Second)
	time.Sleep(time.Until(end))
	for _, p := range r.sbServers() {
		ts, err := accepts(p.LogPath())
		if err != nil {
			r.TB.Fatalf("fleet: %v", err)
		}
		st := countAccepts(ts, t0, end)
		fr.Accepts.Total += st.Total
		fr.Accepts.PeakPerSec += st.PeakPerSec // an upper bound across servers
	}
	fr.Accepts.PerSec = float64(fr.Accepts.Total) / end.Sub(t0).Seconds()
	if len(r.Ch) > 0 && r.Ch[0].proxy != nil {
		fr.Probe = summarize(r.Ch[0].proxy.Since(t0))
		fr.ProbeBefore = probeUp
		fr.ProbeAfter = r.Ch[0].proxy.Current()
	}
	if restart != nil {
		restart()
	}
	if kind == "relays" {
		// Launched without waiting: wait now that the storm is measured.
		for _, p := range r.S.Relays() {
			if err := p.WaitReady(); err != nil {
				r.TB.Fatalf("fleet: %s: %v", p.Name, err)
			}
		}
	}
	var names []string
	for _, n := range probe {
		names = append(names, n)
	}
	slices.Sort(names)
	r.removePorts(names)
	r.Logf("fault %s (%s): converged in %v; %d connections accepted by the SB servers (peak %d/s); probe chassis %d connections, %d bytes",
		kind, fr.Target, fr.Converged.Round(time.Millisecond), fr.Accepts.Total, fr.Accepts.PeakPerSec, fr.Probe.Conns, fr.Probe.Bytes)
	return fr
}

// initialProbe is what the probe chassis' first session (its first SB
// connection and its _Server connection) and its whole cold start got.
func (r *Runner) initialProbe() (first, all traffic) {
	if len(r.Ch) == 0 || r.Ch[0].proxy == nil {
		return
	}
	conns := r.Ch[0].proxy.Since(time.Time{})
	return summarize(conns[:min(2, len(conns))]), summarize(conns)
}

// SaveProbeLog copies the first probe chassis' sidecar log to path.
func (r *Runner) SaveProbeLog(path string) error {
	if len(r.Ch) == 0 || r.Ch[0].Sidecar == nil {
		return nil
	}
	data, err := os.ReadFile(r.Ch[0].Sidecar.OutPath())
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
