// Command fleet simulates a fleet of DPUs against one clustered
// Southbound with ovsdb-server relays in front, on this machine's Debian
// OVS/OVN binaries: N chassis, each with its own OVS database and
// sidecar. It measures what the sidecars cost the SB servers, the plug
// latency across the fleet, and convergence after a leader kill, a relay
// kill and a restart of all relays. The last line is a one-line summary;
// the exit status is non-zero if a long-lived port was ever unplugged or
// a chassis never converged. docs/scale.md explains the figures.
//
// Usage: go run ./cmd/fleet [flags]; `make fleet` builds the sidecar first.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/bench"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/fleet"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

func main() {
	var cfg fleet.Config
	flag.IntVar(&cfg.Chassis, "chassis", 200, "simulated chassis (DPUs), each with its own OVS database and sidecar")
	flag.IntVar(&cfg.Relays, "relays", 2, "ovsdb-server relays in front of the 3-member SB cluster (0: sidecars use the members)")
	flag.IntVar(&cfg.PortsPerChassis, "ports", 20, "long-lived ports requested on each chassis")
	flag.IntVar(&cfg.ChassisPerSwitch, "chassis-per-switch", 10, "chassis whose ports share one logical switch")
	flag.BoolVar(&cfg.Fallback, "fallback", false, "list the cluster members after the relays in each sidecar's SB remote (the sidecar shuffles its remotes, like ovn-controller)")
	flag.DurationVar(&cfg.Idle, "idle", 30*time.Second, "each idle CPU measurement window")
	flag.DurationVar(&cfg.ChurnDuration, "churn", 60*time.Second, "churn duration")
	flag.Float64Var(&cfg.ChurnRate, "churn-rate", 20, "port creations per second during churn")
	flag.IntVar(&cfg.ChurnLive, "churn-live", 200, "churn ports alive at a time")
	flag.DurationVar(&cfg.Cap, "cap", 3*time.Minute, "cap on every wait for the fleet to converge")
	flag.IntVar(&cfg.Probes, "probes", 1, "chassis whose SB connections go through a byte-counting proxy (only the first is reported)")
	faults := flag.String("faults", "leader,relay,relays", "faults to inject, in order: leader, relay, relays")
	sidecarBin := flag.String("sidecar", "", "sidecar binary (default $"+stack.EnvSidecarBin+" or bin/ovn-vif-sidecar)")
	mdPath := flag.String("md", "", "also write the report as Markdown to this file")
	probeLog := flag.String("probe-log", "", "copy the probe chassis' sidecar log here at the end")
	flag.StringVar(&cfg.SidecarV, "sidecar-v", "0", "sidecar log verbosity (the probe chassis' sidecar logs at -v=4)")
	quick := flag.Bool("quick", false, "a run for 2 cores in under 5 minutes (flags given explicitly win): 20 chassis, 10 s idle windows, churn 10/s for 20 s with 50 live, 1 min cap")
	flag.Parse()
	if *quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, apply := range map[string]func(){
			"chassis":    func() { cfg.Chassis = 20 },
			"idle":       func() { cfg.Idle = 10 * time.Second },
			"churn":      func() { cfg.ChurnDuration = 20 * time.Second },
			"churn-rate": func() { cfg.ChurnRate = 10 },
			"churn-live": func() { cfg.ChurnLive = 50 },
			"cap":        func() { cfg.Cap = time.Minute },
		} {
			if !set[name] {
				apply()
			}
		}
	}
	for _, f := range strings.Split(*faults, ",") {
		if f = strings.TrimSpace(f); f != "" {
			cfg.Faults = append(cfg.Faults, f)
		}
	}
	bin, err := sidecarPath(*sidecarBin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
	cfg.SidecarBin = bin

	start := time.Now()
	load := bench.StartLoadSampler(5 * time.Second)
	p := stack.NewProgram(os.Stderr)
	r := fleet.New(p, cfg)
	r.Run()
	loadSummary := load.Stop()

	var md bytes.Buffer
	fmt.Fprintf(&md, "Run of %s on %d CPUs; %s; %v in all (before teardown).\n\n", start.UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), loadSummary, time.Since(start).Round(time.Second))
	r.Res.WriteMarkdown(&md)
	fails := r.Res.Failures()
	if *probeLog != "" {
		if err := r.SaveProbeLog(*probeLog); err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
		}
	}
	p.Close()
	fmt.Println()
	os.Stdout.Write(md.Bytes())
	if *mdPath != "" {
		if err := os.WriteFile(*mdPath, md.Bytes(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "fleet:", err)
		}
	}
	for _, f := range fails {
		fmt.Println("FAIL:", f)
	}
	fmt.Println(r.Res.Summary())
	if len(fails) > 0 {
		os.Exit(1)
	}
}

// sidecarPath resolves the sidecar binary as the stack does.
func sidecarPath(flagVal string) (string, error) {
	bin := flagVal
	if bin == "" {
		bin = os.Getenv(stack.EnvSidecarBin)
	}
	if bin == "" {
		root, err := stack.RepoRoot()
		if err != nil {
			return "", err
		}
		bin = root + "/bin/ovn-vif-sidecar"
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return "", fmt.Errorf("sidecar binary not found at %s: run `make build`", bin)
	}
	return bin, nil
}
