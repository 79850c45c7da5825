package fleet

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/bench"
)

// Results are a run's figures.
type Results struct {
	Cfg       Config
	Ports     int
	ColdStart time.Duration
	// Idle0 and IdleN are quiet windows without and with the sidecars;
	// Startup covers the fleet's cold start; Churn the churn.
	Idle0, Startup, IdleN, Churn Window
	PlugLatencyMS                []float64
	ChurnMissed                  int
	Faults                       []FaultResult
	// InitialSession is what the servers sent the probe sidecar on its
	// first session (SB and _Server connections) in their first
	// dumpWindow; ColdStartProbe on every connection of its start.
	InitialSession, ColdStartProbe traffic
	// ChurnProbeBytes is what the servers sent the probe sidecar during
	// the churn, by monitored database (OVN_Southbound, _Server).
	ChurnProbeBytes map[string]int64
	// WrongfulUnplugs counts deletions of long-lived ports' Interfaces;
	// Missing those absent at the end; Misplaced Interfaces on a chassis
	// for a port requested on another.
	WrongfulUnplugs, Missing, Misplaced int

	sidecarsAt time.Time
}

// Window is what the servers and sidecars used over one time window.
type Window struct {
	Label      string
	Seconds    float64
	LeaderIdx  int
	Servers    []ServerUsage
	SidecarCPU float64
	SidecarRSS int64
	Sidecars   int
}

// ServerUsage is one SB ovsdb-server's share of a window.
type ServerUsage struct {
	Name          string
	Relay, Leader bool
	CPU           float64
	RSS           int64
	Sessions      int
}

// FaultResult is one injected fault.
type FaultResult struct {
	Kind, Target string
	Skipped      string
	NotConverged string
	// Converged is from the fault to the last chassis plugging its new
	// port.
	Converged time.Duration
	// Bound is from the fault until ovn-northd's bindings for the new
	// ports were in the SB database (0 if never seen).
	Bound time.Duration
	// Accepts are the client connections all SB servers accepted from
	// the fault until 2 s after convergence.
	Accepts acceptStats
	// Probe is what the servers sent the probe sidecar on its new
	// connections after the fault, in their first dumpWindow;
	// ProbeBefore/After its server before and after.
	Probe                   traffic
	ProbeBefore, ProbeAfter string
}

func (w Window) leader() (ServerUsage, bool) {
	for _, s := range w.Servers {
		if s.Leader {
			return s, true
		}
	}
	return ServerUsage{}, false
}

// relays sums the relays' CPU, RSS and sessions.
func (w Window) relays() (cpu float64, rss int64, sess int) {
	for _, s := range w.Servers {
		if s.Relay {
			cpu, rss, sess = cpu+s.CPU, rss+s.RSS, sess+s.Sessions
		}
	}
	return
}

// Short is a one-line summary of the window.
func (w Window) Short() string {
	var parts []string
	for _, s := range w.Servers {
		role := ""
		if s.Leader {
			role = " (leader)"
		}
		parts = append(parts, fmt.Sprintf("%s%s %.2fs CPU %.1f MiB %d sessions",
			strings.TrimPrefix(s.Name, "ovsdb-server-"), role, s.CPU, mib(s.RSS), s.Sessions))
	}
	if w.Sidecars > 0 {
		parts = append(parts, fmt.Sprintf("%d sidecars %.2fs CPU %.0f MiB", w.Sidecars, w.SidecarCPU, mib(w.SidecarRSS)))
	}
	return fmt.Sprintf("%.0fs: %s", w.Seconds, strings.Join(parts, "; "))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// perSidecar is the cost of one sidecar session: the difference between
// the windows with N and 0 sidecars, per second and per sidecar (CPU in
// ms per second, RSS in KiB).
type perSidecar struct {
	LeaderCPUms, RelayCPUms float64
	LeaderRSSKiB, RelayKiB  float64
}

func (res *Results) perSidecar() perSidecar {
	n := float64(res.Cfg.Chassis)
	var p perSidecar
	if n == 0 || res.Idle0.Seconds == 0 || res.IdleN.Seconds == 0 {
		return p
	}
	l0, ok0 := res.Idle0.leader()
	lN, okN := res.IdleN.leader()
	if ok0 && okN {
		p.LeaderCPUms = 1000 * (lN.CPU/res.IdleN.Seconds - l0.CPU/res.Idle0.Seconds) / n
		p.LeaderRSSKiB = float64(lN.RSS-l0.RSS) / 1024 / n
	}
	r0c, r0m, _ := res.Idle0.relays()
	rNc, rNm, _ := res.IdleN.relays()
	p.RelayCPUms = 1000 * (rNc/res.IdleN.Seconds - r0c/res.Idle0.Seconds) / n
	p.RelayKiB = float64(rNm-r0m) / 1024 / n
	return p
}

// leaderCPU is the SB leader's CPU seconds from the sidecars' start to
// the end of the churn; relayCPU the relays' together.
func (res *Results) leaderCPU() (leader, relays float64) {
	for _, w := range []Window{res.Startup, res.IdleN, res.Churn} {
		if l, ok := w.leader(); ok {
			leader += l.CPU
		}
		c, _, _ := w.relays()
		relays += c
	}
	return
}

func (res *Results) failoverConverged() (float64, bool) {
	worst, all := 0.0, true
	for _, f := range res.Faults {
		if f.Skipped != "" {
			continue
		}
		if f.NotConverged != "" {
			all = false
		}
		worst = math.Max(worst, f.Converged.Seconds())
	}
	return worst, all
}

// Failures lists why the run failed; empty if it passed.
func (res *Results) Failures() []string {
	var out []string
	if res.WrongfulUnplugs > 0 {
		out = append(out, fmt.Sprintf("%d wrongful unplugs of long-lived ports", res.WrongfulUnplugs))
	}
	if res.Missing > 0 {
		out = append(out, fmt.Sprintf("%d long-lived ports not plugged at the end", res.Missing))
	}
	if res.Misplaced > 0 {
		out = append(out, fmt.Sprintf("%d Interfaces on the wrong chassis", res.Misplaced))
	}
	if res.ChurnMissed > 0 {
		out = append(out, fmt.Sprintf("%d churn ports never plugged", res.ChurnMissed))
	}
	for _, f := range res.Faults {
		if f.NotConverged != "" {
			out = append(out, "fault "+f.Kind+": "+f.NotConverged)
		}
	}
	return out
}

// Summary is the last line of the output.
func (res *Results) Summary() string {
	conv, _ := res.failoverConverged()
	leader, relays := res.leaderCPU()
	return fmt.Sprintf("fleet: chassis=%d relays=%d ports=%d plug_p50_ms=%.0f plug_p99_ms=%.0f failover_converged_s=%.1f wrongful_unplugs=%d sb_leader_cpu_s=%.2f relay_cpu_s=%.2f",
		res.Cfg.Chassis, res.Cfg.Relays, res.Ports,
		bench.Percentile(res.PlugLatencyMS, 50), bench.Percentile(res.PlugLatencyMS, 99),
		conv, res.WrongfulUnplugs, leader, relays)
}

// WriteMarkdown writes the figures as Markdown tables.
func (res *Results) WriteMarkdown(w io.Writer) {
	c := res.Cfg
	fmt.Fprintf(w, "Topology: 3-member raft SB, %d relay(s), NB + ovn-northd, %d chassis (own OVS ovsdb-server, no ovs-vswitchd, sidecar with the dummy provider); %d long-lived ports (%d per chassis); sidecar SB remote: %s.\n\n",
		c.Relays, c.Chassis, res.Ports, c.PortsPerChassis, res.remoteDesc())
	fmt.Fprintf(w, "Fleet cold start (all sidecars started at once): every long-lived port plugged after %.1f s.\n\n", res.ColdStart.Seconds())

	fmt.Fprintf(w, "| window | seconds | SB leader CPU s | SB leader RSS MiB | followers CPU s | relays CPU s | relays RSS MiB | sessions leader/followers/relays | sidecars CPU s | sidecars RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, win := range []Window{res.Idle0, res.Startup, res.IdleN, res.Churn} {
		if win.Label == "" {
			continue
		}
		var l ServerUsage
		var fCPU float64
		var fSess int
		for _, s := range win.Servers {
			switch {
			case s.Leader:
				l = s
			case !s.Relay:
				fCPU += s.CPU
				fSess += s.Sessions
			}
		}
		rc, rm, rs := win.relays()
		fmt.Fprintf(w, "| %s | %.0f | %.2f | %.1f | %.2f | %.2f | %.1f | %d/%d/%d | %.2f | %.0f |\n",
			win.Label, win.Seconds, l.CPU, mib(l.RSS), fCPU, rc, mib(rm), l.Sessions, fSess, rs, win.SidecarCPU, mib(win.SidecarRSS))
	}
	p := res.perSidecar()
	fmt.Fprintf(w, "\nPer sidecar session (idle with %d sidecars minus idle with none, divided by %d): SB leader %.3f ms CPU/s and %.0f KiB RSS; relays together %.3f ms CPU/s and %.0f KiB RSS; the sidecar itself %.3f ms CPU/s and %.1f MiB RSS.\n\n",
		c.Chassis, c.Chassis, p.LeaderCPUms, p.LeaderRSSKiB, p.RelayCPUms, p.RelayKiB,
		1000*res.IdleN.SidecarCPU/math.Max(res.IdleN.Seconds, 1)/math.Max(float64(res.IdleN.Sidecars), 1),
		mib(res.IdleN.SidecarRSS)/math.Max(float64(res.IdleN.Sidecars), 1))

	l := res.PlugLatencyMS
	fmt.Fprintf(w, "Plug latency (NB commit → Interface on the right chassis) during churn at %.0f creations/s over %v, %d samples: p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms; %d never plugged.\n\n",
		c.ChurnRate, c.ChurnDuration, len(l), bench.Percentile(l, 50), bench.Percentile(l, 90), bench.Percentile(l, 99), bench.Percentile(l, 100), res.ChurnMissed)

	if res.ChurnProbeBytes != nil {
		fmt.Fprintf(w, "Probe sidecar during the churn: the servers sent %d bytes on its OVN_Southbound monitor and %d on its _Server monitor.\n\n",
			res.ChurnProbeBytes["OVN_Southbound"], res.ChurnProbeBytes["_Server"])
	}
	if res.InitialSession.Conns > 0 {
		fmt.Fprintf(w, "Probe sidecar (chassis %s, through a counting proxy), bytes the servers sent in each connection's first %v: first session: %s; whole cold start: %s.\n\n",
			"ch000", dumpWindow, res.InitialSession, res.ColdStartProbe)
	}
	fmt.Fprintf(w, "| fault | target | bindings in SB (s) | every chassis converged (s) | of which after the bindings (s) | connections accepted by SB servers | per s (peak) | probe connections | probe bytes (vs first session) |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, f := range res.Faults {
		if f.Skipped != "" {
			fmt.Fprintf(w, "| %s | skipped: %s | | | | | | | |\n", f.Kind, f.Skipped)
			continue
		}
		conv := fmt.Sprintf("%.1f", f.Converged.Seconds())
		if f.NotConverged != "" {
			conv = "NOT CONVERGED: " + f.NotConverged
		}
		ratio := ""
		if res.InitialSession.Bytes > 0 && f.Probe.Conns > 0 {
			ratio = fmt.Sprintf(" (%.2f×)", float64(f.Probe.Bytes)/float64(res.InitialSession.Bytes))
		}
		after := ""
		if f.NotConverged == "" && f.Bound > 0 {
			after = fmt.Sprintf("%.1f", (f.Converged - f.Bound).Seconds())
		}
		fmt.Fprintf(w, "| %s | %s | %.1f | %s | %s | %d | %.1f (%d) | %d | %d%s |\n",
			f.Kind, strings.TrimPrefix(f.Target, "ovsdb-server-"), f.Bound.Seconds(), conv, after, f.Accepts.Total, f.Accepts.PerSec, f.Accepts.PeakPerSec, f.Probe.Conns, f.Probe.Bytes, ratio)
	}
	for _, f := range res.Faults {
		if f.Probe.Conns > 0 {
			fmt.Fprintf(w, "\nProbe sidecar after fault %s (%s → %s): %s.\n", f.Kind, short(f.ProbeBefore), short(f.ProbeAfter), f.Probe)
		}
	}
	fmt.Fprintf(w, "\nWrongful unplugs (Interface deletions of long-lived ports): %d; long-lived ports missing at the end: %d; Interfaces on the wrong chassis: %d.\n",
		res.WrongfulUnplugs, res.Missing, res.Misplaced)
}

func (res *Results) remoteDesc() string {
	switch {
	case res.Cfg.Relays == 0:
		return "the 3 cluster members"
	case res.Cfg.Fallback:
		return "the relays, then the cluster members"
	default:
		return "the relays only"
	}
}

// short is a remote's socket file name.
func short(remote string) string {
	if i := strings.LastIndexByte(remote, '/'); i >= 0 {
		return remote[i+1:]
	}
	return remote
}
