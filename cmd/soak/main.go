// Command soak runs the sidecar against a 3-member clustered SB database
// and, while logical ports churn through NB, restarts SB members again and
// again (100 times by default) and kills the raft leader (20 times).
// After each fault a probe port must be plugged before the next one. An
// OVS monitor records every Interface change. At the end it checks that
// the plugged interfaces are exactly the live logical ports and reports
// wrongful unplugs (an interface deleted while its logical port still
// existed; must be 0) and transactions per port. It exits 1 on a wrongful
// unplug, a missed convergence or a sidecar that did not stay up.
//
// Not part of CI: it takes several minutes. `make soak` runs it; the
// figures of a full run are in docs/performance.md. Needs root, the Debian
// OVS/OVN packages and the sidecar binary.
//
// Usage: go run ./cmd/soak [flags]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

const sw = "sw0"

type config struct {
	restarts, leaderKills int
	long, keep            int
	churnEvery            time.Duration
	settle                time.Duration
	sidecarBin            string
	sidecarV              string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.restarts, "restarts", 100, "SB member restarts (round robin over the members, alternately SIGTERM and SIGKILL)")
	flag.IntVar(&cfg.leaderKills, "leader-kills", 20, "SIGKILLs of the SB raft leader, spread among the restarts")
	flag.IntVar(&cfg.long, "long", 200, "long-lived logical ports, plugged before the faults start and never deleted")
	flag.IntVar(&cfg.keep, "keep", 40, "churned logical ports alive at a time")
	flag.DurationVar(&cfg.churnEvery, "churn-every", 150*time.Millisecond, "interval between churn NB transactions (each adds one or two ports and deletes as many)")
	flag.DurationVar(&cfg.settle, "settle", 500*time.Millisecond, "pause after each fault once the cluster is healthy again")
	flag.StringVar(&cfg.sidecarBin, "sidecar", "", "sidecar binary (default $"+stack.EnvSidecarBin+" or bin/ovn-vif-sidecar)")
	flag.StringVar(&cfg.sidecarV, "sidecar-v", "2", "sidecar log verbosity")
	flag.Parse()

	p := stack.NewProgram(os.Stderr)
	defer p.Close()
	ok := run(p, cfg)
	p.Close()
	if !ok {
		os.Exit(1)
	}
}

func run(p *stack.Program, cfg config) bool {
	start := time.Now()
	s := stack.New(p, stack.Options{SBCluster: 3, SidecarBin: cfg.sidecarBin, SidecarArgs: []string{"-v=" + cfg.sidecarV}})
	c := s.SBCluster()
	sidecarPID := s.Sidecar.PID()

	long := make([]string, cfg.long)
	isLong := map[string]bool{}
	args := []string{"--may-exist", "ls-add", sw}
	for i := range long {
		long[i] = fmt.Sprintf("long%03d", i)
		isLong[long[i]] = true
		args = append(args, "--", "lsp-add", sw, long[i], "--")
		args = append(args, plugOptions(long[i], s.Chassis)...)
	}
	s.NBCtl(args...)
	s.Eventually(3*time.Minute, fmt.Sprintf("%d long-lived ports plugged", len(long)), func() error {
		return plugged(s.Interfaces(), long)
	})
	s.WaitLSPsUp(3*time.Minute, long...)
	mon := s.MonitorInterfaces()
	m0 := scrape(p, s)

	ch := stack.NewChurn(s, sw, "ch", func(name string) []string { return plugOptions(name, s.Chassis) })
	stop, churned := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(churned)
		ch.Run(stop, cfg.churnEvery, cfg.keep)
	}()

	// Leader kills are spread evenly among the restarts.
	rounds := cfg.restarts + cfg.leaderKills
	every := rounds + 1
	if cfg.leaderKills > 0 {
		every = rounds / cfg.leaderKills
	}
	faultsStart := time.Now()
	var restarts, leaderKills int
	var elections []time.Duration
	// After each fault a probe LSP is created and must be plugged before
	// the next fault: the faults land on a system that is moving, not on
	// one still recovering from the previous fault (ovn-northd, which
	// follows the raft leader, backs off for up to 8 s when it loses it).
	var probes []string
	recovery := map[string][]time.Duration{} // fault to probe plugged
	sidecarPart := []time.Duration{}         // probe's binding in SB to probe plugged
	probe := func(kind string, at time.Time) {
		name := fmt.Sprintf("probe%03d", len(probes))
		probes = append(probes, name)
		isLong[name] = true
		s.NBCtl(append([]string{"lsp-add", sw, name, "--"}, plugOptions(name, s.Chassis)...)...)
		var bound time.Time
		s.Eventually(2*time.Minute, name+" plugged after a "+kind, func() error {
			if bound.IsZero() {
				if out, _ := s.SBCtlErr("--bare", "--columns=_uuid", "find", "Port_Binding", "logical_port="+name); out == "" {
					return fmt.Errorf("no Port_Binding for %s yet", name)
				}
				bound = time.Now()
			}
			return plugged(s.Interfaces(), []string{name})
		})
		recovery[kind] = append(recovery[kind], time.Since(at))
		sidecarPart = append(sidecarPart, time.Since(bound))
	}
	for r := range rounds {
		if cfg.leaderKills > 0 && r%every == every-1 && leaderKills < cfg.leaderKills || restarts == cfg.restarts {
			i, at := c.KillLeader(time.Minute)
			c.WaitLeader(time.Minute)
			elections = append(elections, time.Since(at))
			probe("leader kill", at) // the database moves on without it
			c.Members[i].Start()
			leaderKills++
		} else {
			m := c.Members[restarts%len(c.Members)]
			at := time.Now()
			if restarts%2 == 0 {
				m.Kill()
			} else {
				_ = m.Stop() // ovsdb-server exits by re-raising SIGTERM
			}
			m.Start()
			restarts++
			c.WaitHealthy(2 * time.Minute)
			probe("member restart", at)
		}
		c.WaitHealthy(2 * time.Minute)
		time.Sleep(cfg.settle)
		if _, _, _, err := ch.Snapshot(); err != nil {
			p.Fatalf("churn: %v", err)
		}
		if (r+1)%20 == 0 {
			p.Logf("soak: %d of %d faults done (%d member restarts, %d leader kills) in %v",
				r+1, rounds, restarts, leaderKills, time.Since(faultsStart).Round(time.Second))
		}
	}
	faultsTook := time.Since(faultsStart)
	close(stop)
	<-churned
	live, deleted, created, _ := ch.Snapshot()

	want := append(slices.Clone(long), probes...)
	for l := range live {
		want = append(want, l)
	}
	converge := time.Now()
	s.Eventually(3*time.Minute, fmt.Sprintf("the %d live LSPs, and only they, plugged", len(want)), func() error {
		ifaces := s.Interfaces()
		if err := plugged(ifaces, want); err != nil {
			return err
		}
		for _, i := range ifaces {
			lsp := i.ExternalIDs["iface-id"]
			if _, ok := live[lsp]; i.ExternalIDs["ovn-plugged"] != "" && !ok && !isLong[lsp] {
				return fmt.Errorf("interface %s still plugged for deleted LSP %s", i.Name, lsp)
			}
		}
		return nil
	})
	convergeTook := time.Since(converge)
	s.WaitLSPsUp(3*time.Minute, want...)
	time.Sleep(time.Second) // let the monitor see the last writes
	mon.Stop()
	m1 := scrape(p, s)

	// Every Interface deletion of an ovn-plugged row must be of an LSP
	// whose deletion had been issued; each LSP is inserted at most once.
	var wrongful []string
	inserts, deletes := map[string]int{}, map[string]int{}
	for _, ev := range mon.Events() {
		if ev.ExternalIDs["ovn-plugged"] == "" {
			continue
		}
		lsp := ev.ExternalIDs["iface-id"]
		switch ev.Action {
		case "insert":
			inserts[lsp]++
		case "delete":
			deletes[lsp]++
			delAt, wasDeleted := deleted[lsp]
			switch {
			case isLong[lsp]:
				wrongful = append(wrongful, fmt.Sprintf("%s: long-lived %s unplugged", ev.At.Format("15:04:05.000"), lsp))
			case !wasDeleted:
				wrongful = append(wrongful, fmt.Sprintf("%s: %s unplugged; its LSP was never deleted", ev.At.Format("15:04:05.000"), lsp))
			case ev.At.Before(delAt):
				wrongful = append(wrongful, fmt.Sprintf("%s: %s unplugged %v before its LSP was deleted", ev.At.Format("15:04:05.000"), lsp, delAt.Sub(ev.At)))
			}
		}
	}
	maxInserts := 0
	for _, n := range inserts {
		maxInserts = max(maxInserts, n)
	}
	ports := len(long) + len(probes) + len(created)
	txns := m1.sum("ovn_vif_sidecar_transaction_duration_seconds_count") - m0.sum("ovn_vif_sidecar_transaction_duration_seconds_count")
	ops := m1.sum("ovn_vif_sidecar_plug_operations_total") - m0.sum("ovn_vif_sidecar_plug_operations_total")
	notConverging := m1.sum("ovn_vif_sidecar_not_converging_total")
	slices.Sort(elections)

	p.Logf("soak: %d SB member restarts and %d leader kills of a 3-member cluster in %v (whole run %v)",
		restarts, leaderKills, faultsTook.Round(time.Second), time.Since(start).Round(time.Second))
	if len(elections) > 0 {
		p.Logf("soak: leader kill to an agreed new leader: median %v, max %v",
			elections[len(elections)/2].Round(time.Millisecond), elections[len(elections)-1].Round(time.Millisecond))
	}
	for _, kind := range slices.Sorted(maps.Keys(recovery)) {
		d := recovery[kind]
		slices.Sort(d)
		p.Logf("soak: %s to a new LSP plugged: median %v, p90 %v, max %v (%d)", kind,
			d[len(d)/2].Round(time.Millisecond), d[len(d)*9/10].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond), len(d))
	}
	if d := sidecarPart; len(d) > 0 {
		slices.Sort(d)
		p.Logf("soak: of that, from the probe's Port_Binding seen in SB to plugged: median %v, p90 %v, max %v (%d; the rest is ovn-northd reconnecting to the leader; polled, so up to 0.2 s too long)",
			d[len(d)/2].Round(time.Millisecond), d[len(d)*9/10].Round(time.Millisecond), d[len(d)-1].Round(time.Millisecond), len(d))
	}
	p.Logf("soak: churn created %d LSPs and deleted %d; %d long-lived ports; %d live at the end, converged %v after the churn stopped",
		len(created), len(deleted), len(long), len(want), convergeTook.Round(time.Millisecond))
	p.Logf("soak: the sidecar made %.0f OVS transactions for %.0f plug/unplug operations during the faults: %.3f transactions per port (%d ports)",
		txns, ops, txns/float64(ports), ports)
	p.Logf("soak: OVS Interface inserts per LSP at most %d; not_converging_total %.0f", maxInserts, notConverging)
	p.Logf("soak: wrongful unplugs: %d (of the %d long-lived ports and %d probes: %d)", len(wrongful), len(long), len(probes), countLong(wrongful))
	ok := true
	if len(wrongful) > 0 {
		p.Logf("soak: FAIL: wrongful unplugs:\n%s", strings.Join(wrongful, "\n"))
		ok = false
	}
	if maxInserts > 1 {
		p.Logf("soak: FAIL: an LSP was plugged %d times", maxInserts)
		ok = false
	}
	if !s.Sidecar.Running() || s.Sidecar.PID() != sidecarPID {
		p.Logf("soak: FAIL: the sidecar restarted or exited (%v)", s.Sidecar.ExitErr())
		ok = false
	}
	if notConverging > 0 {
		p.Logf("soak: FAIL: the sidecar found ports not converging")
		ok = false
	}
	if ok {
		p.Logf("soak: PASS")
	}
	return ok
}

func countLong(lines []string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, "long-lived") {
			n++
		}
	}
	return n
}

func plugOptions(lsp, chassis string) []string {
	return []string{"lsp-set-options", lsp, "requested-chassis=" + chassis, "vif-plug-type=dummy"}
}

// plugged fails unless each LSP has the dummy provider's interface on br-int.
func plugged(ifaces map[string]stack.Interface, lsps []string) error {
	var missing []string
	for _, lsp := range lsps {
		i, ok := ifaces[lsp]
		if !ok || i.Bridge != "br-int" || i.ExternalIDs["iface-id"] != lsp || i.ExternalIDs["ovn-plugged"] != "dummy" {
			missing = append(missing, lsp)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%d not plugged (first: %s)", len(missing), missing[0])
	}
	return nil
}

// metrics are the sidecar's samples summed by metric name.
type metrics map[string]float64

func (m metrics) sum(name string) float64 { return m[name] }

func scrape(p *stack.Program, s *stack.Stack) metrics {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(s.SidecarURL() + "/metrics")
	if err != nil {
		p.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	m, err := parseMetrics(resp.Body)
	if err != nil {
		p.Fatalf("GET /metrics: %v", err)
	}
	return m
}

// parseMetrics sums the samples of the Prometheus text format by name,
// over all label values.
func parseMetrics(r io.Reader) (metrics, error) {
	m := metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '{'); i >= 0 {
			name = line[:i]
			_, rest, _ = strings.Cut(line[strings.LastIndexByte(line, '}'):], " ")
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("bad sample %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bad sample %q: %v", line, err)
		}
		m[name] += v
	}
	return m, sc.Err()
}
