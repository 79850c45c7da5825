// Command bench runs the same VIF plugging workloads against two fresh
// OVS/OVN stacks on this machine, (A) ovn-controller
// --enable-dummy-vif-plug and (B) plain ovn-controller plus the sidecar,
// and prints the medians side by side with the ratio B/A. It also runs the
// engine's Go benchmarks. Needs root, the Debian OVS/OVN packages and the
// sidecar binary; `make bench` provides all three. docs/performance.md
// explains every figure.
//
// Usage: go run ./cmd/bench [flags]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/bench"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

func main() {
	var cfg bench.Config
	flag.IntVar(&cfg.Reps, "reps", 3, "repetitions of each repeated workload per side (the table shows medians)")
	flag.IntVar(&cfg.LatencyPorts, "latency-ports", 50, "sequential ports per single-port latency run")
	flag.IntVar(&cfg.BulkPorts, "bulk", 1000, "ports in each one-transaction bulk, restart and gated-unplug run")
	flag.DurationVar(&cfg.GateCap, "gate-cap", 5*time.Minute, "cap on each gated-unplug wait")
	flag.DurationVar(&cfg.Cap, "cap", 3*time.Minute, "cap on every other wait for a batch")
	flag.IntVar(&cfg.ChurnOps, "churn-ops", 10000, "NB create/update/delete operations per churn run")
	flag.DurationVar(&cfg.ChurnDuration, "churn-duration", 2*time.Minute, "duration over which the churn operations are spread")
	flag.IntVar(&cfg.ChurnLive, "churn-live", 200, "ports alive at a time during churn, roughly")
	flag.IntVar(&cfg.ChurnReps, "churn-reps", 1, "churn runs per side")
	flag.BoolVar(&cfg.ChurnParallel, "churn-parallel", true, "run A's and B's churn at the same time (false: one after the other, +2 min)")
	flag.IntVar(&cfg.ChurnOthers, "churn-others", 5000, "other plugged ports beside a second churn run on B (0 skips it)")
	flag.IntVar(&cfg.BigBulkPorts, "big-bulk", 10000, "ports in B's one-transaction big bulk run (0 skips it)")
	flag.IntVar(&cfg.ScaleForeign, "scale-foreign", 100000, "Port_Bindings of another chassis in the scale run (0 skips it)")
	flag.DurationVar(&cfg.Settle, "settle", 2*time.Second, "how long to watch for OVS writes after a restart is ready")
	flag.IntVar(&cfg.Switches, "switches", 20, "logical switches the ports are spread over")
	flag.IntVar(&cfg.PortsPerSwitch, "ports-per-switch", 50, "consecutive ports of a batch that share a switch")
	flag.BoolVar(&cfg.SaveLogs, "save-logs", false, "copy the plugging processes' logs to the temp dir at the end")
	only := flag.String("only", "", "comma-separated workloads to run: latency,bulk,limit,big,restart,churn,churn-others,gate,scale (default all)")
	sidecarBin := flag.String("sidecar", "", "sidecar binary (default $"+stack.EnvSidecarBin+" or bin/ovn-vif-sidecar)")
	sidecarV := flag.String("sidecar-v", "0", "sidecar log verbosity (production default 0; the e2e harness uses 4)")
	goBench := flag.Bool("gobench", true, "also run the Go benchmarks of ./sidecar/...")
	goBin := flag.String("go", "go", "go command for the Go benchmarks")
	goCount := flag.Int("gobench-count", 1, "-count for the Go benchmarks")
	mdPath := flag.String("md", "", "also write the report as Markdown to this file")
	quick := flag.Bool("quick", false, "small sizes for a quick run (flags given explicitly win): 1 rep, 10 latency ports, 200-port bulk, gated unplug capped at 1m, 1000 churn ops in 15s, 10000 foreign")
	flag.Parse()
	cfg.SidecarBin = *sidecarBin
	cfg.SidecarArgs = []string{"-v=" + *sidecarV}
	if *quick {
		// Only flags not given explicitly.
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quickDefault := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		quickDefault("reps", func() { cfg.Reps = 1 })
		quickDefault("latency-ports", func() { cfg.LatencyPorts = 10 })
		quickDefault("bulk", func() { cfg.BulkPorts = 200 })
		quickDefault("gate-cap", func() { cfg.GateCap = time.Minute })
		quickDefault("churn-ops", func() { cfg.ChurnOps = 1000 })
		quickDefault("churn-duration", func() { cfg.ChurnDuration = 15 * time.Second })
		quickDefault("scale-foreign", func() { cfg.ScaleForeign = 10000 })
		quickDefault("churn-others", func() { cfg.ChurnOthers = 500 })
		quickDefault("big-bulk", func() { cfg.BigBulkPorts = 2000 })
	}
	if *only != "" {
		cfg.Only = map[string]bool{}
		for _, w := range strings.Split(*only, ",") {
			cfg.Only[strings.TrimSpace(w)] = true
		}
	}

	start := time.Now()
	load := bench.StartLoadSampler(5 * time.Second)
	p := stack.NewProgram(os.Stderr)
	defer p.Close()
	var md bytes.Buffer
	loadStart := uptime()
	fmt.Fprintf(&md, "Run of %s on %s: %d CPUs, %s.\n\n", start.Format("2006-01-02 15:04 MST"), hostname(), runtime.NumCPU(), kernel())
	fmt.Fprintf(&md, "Versions: %s; sidecar built from %s.\n\n", firstLine("ovn-controller", "--version"), gitDescribe())
	fmt.Fprintf(&md, "Load at start: `%s`\n\n", loadStart)
	fmt.Fprintf(&md, "Sizes: %d reps; %d latency ports; %d-port bulk; churn %d ops over %v (~%d live), %d run(s); gated unplug cap %v; scale %d local + %d foreign; %d logical switches, %d consecutive ports per switch.\n\n",
		cfg.Reps, cfg.LatencyPorts, cfg.BulkPorts, cfg.ChurnOps, cfg.ChurnDuration, cfg.ChurnLive, cfg.ChurnReps,
		cfg.GateCap, cfg.BulkPorts, cfg.ScaleForeign, cfg.Switches, cfg.PortsPerSwitch)

	r := bench.NewRunner(p, cfg)
	r.Logf("stacks up: A %s, B %s", r.Sides[bench.A].S.Dir, r.Sides[bench.B].S.Dir)
	r.StartA()

	var goRes []bench.GoBench
	var goRaw string
	var goErr error
	if *goBench {
		root, err := stack.RepoRoot()
		if err != nil {
			p.Fatalf("%v", err)
		}
		p.Logf("Go benchmarks: go test -run '^$' -bench . -benchmem ./sidecar/...")
		goRes, goRaw, err = bench.RunGoBench(*goBin, root, *goCount, os.Stderr, "./sidecar/...")
		if err != nil {
			// The stack benchmarks are still worth having.
			goErr = err
			p.Logf("Go benchmarks failed: %v\n%s", err, lastLines(goRaw, 30))
		}
	}

	r.Run()
	r.FinishA()
	loadEnd := uptime()
	loadSummary := load.Stop()
	total := time.Since(start).Round(time.Second)

	rows := r.Res.Rows()
	fmt.Println()
	fmt.Println("A = ovn-controller --enable-dummy-vif-plug; B = ovn-controller + ovn-vif-sidecar. Medians; B/A < 1 means the sidecar is faster or smaller.")
	bench.WriteText(os.Stdout, rows)
	for _, n := range r.Notes() {
		fmt.Println("note:", n)
	}
	fmt.Printf("load at start: %s\nload at end:   %s\nduring the run: %s\ntotal %v\n", loadStart, loadEnd, loadSummary, total)

	bench.WriteMarkdown(&md, rows)
	md.WriteString("\n")
	for _, n := range r.Notes() {
		fmt.Fprintf(&md, "- %s\n", n)
	}
	fmt.Fprintf(&md, "\nLoad at end: `%s`; during the run: %s. Total time %v (the stacks' teardown follows).\n", loadEnd, loadSummary, total)
	md.WriteString("\nEvery repetition (ms, s, MiB or count as in the table):\n\n")
	bench.WriteRawMarkdown(&md, r.Res)
	if *goBench {
		fmt.Println()
		bench.WriteGoBenchMarkdown(os.Stdout, goRes)
		md.WriteString("\nGo benchmarks (`go test -run '^$' -bench . -benchmem ./sidecar/`):\n\n")
		bench.WriteGoBenchMarkdown(&md, goRes)
		if goErr != nil {
			fmt.Fprintf(&md, "\nThe Go benchmarks failed: %v\n", goErr)
			fmt.Println("Go benchmarks failed:", goErr)
		}
	}
	if *mdPath != "" {
		if err := os.WriteFile(*mdPath, md.Bytes(), 0o644); err != nil {
			p.Fatalf("%v", err)
		}
		fmt.Println("\nMarkdown report:", *mdPath)
	}
	t := time.Now()
	p.Close()
	fmt.Printf("stacks torn down in %v; %v in all\n", time.Since(t).Round(time.Second), time.Since(start).Round(time.Second))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func uptime() string {
	out, err := exec.Command("uptime").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

func kernel() string {
	return "Linux " + firstLine("uname", "-r")
}

func firstLine(cmd string, args ...string) string {
	out, err := exec.Command(cmd, args...).Output()
	if err != nil {
		return cmd + " (unknown)"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

func gitDescribe() string {
	root, err := stack.RepoRoot()
	if err != nil {
		return "unknown"
	}
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = root
	cmd.Stderr = io.Discard
	out, err := cmd.Output()
	if err != nil {
		return "unknown"
	}
	return "commit " + strings.TrimSpace(string(out))
}
