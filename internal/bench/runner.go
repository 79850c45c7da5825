package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// Config sizes the workloads. The zero value is not useful; see cmd/bench
// for the defaults.
type Config struct {
	// Reps is how many times each repeated workload runs on each side.
	Reps int
	// LatencyPorts is the number of sequential ports per latency run.
	LatencyPorts int
	// BulkPorts is the number of ports in the one-transaction bulk runs
	// (bulk plug/unplug, restart, gated unplug).
	BulkPorts int
	// GateCap bounds the wait of the gated unplug (one run per side).
	GateCap time.Duration
	// Cap bounds every other wait for a whole batch.
	Cap time.Duration
	// ChurnOps NB operations spread evenly over ChurnDuration, with about
	// ChurnLive ports alive at any time; ChurnReps runs per side.
	ChurnOps      int
	ChurnDuration time.Duration
	ChurnLive     int
	ChurnReps     int
	// ChurnParallel runs A's and B's churn at the same time.
	ChurnParallel bool
	// ChurnOthers ports stay plugged during a second churn run (sidecar
	// only), to show churn cost does not grow with them; 0 skips it.
	ChurnOthers int
	// BigBulkPorts ports go into one NB transaction in the big bulk run
	// (sidecar only); 0 skips it.
	BigBulkPorts int
	// ScaleForeign Port_Bindings of another chassis beside BulkPorts local
	// ones for the scale runs (sidecar only); 0 skips them.
	ScaleForeign int
	// Settle is how long to watch for writes after a restart is ready.
	Settle time.Duration
	// SidecarBin and SidecarArgs start the sidecar (B).
	SidecarBin  string
	SidecarArgs []string
	// Switches logical switches, PortsPerSwitch consecutive ports of a
	// batch on each (round robin).
	Switches       int
	PortsPerSwitch int
	// SaveLogs copies the plugging processes' logs out at the end.
	SaveLogs bool
	// Only, if non-empty, limits the workloads run (latency, bulk,
	// restart, churn, gate, scale).
	Only map[string]bool
}

// Side is one stack under test.
type Side struct {
	Idx  int
	Name string
	S    *stack.Stack
	OVS  *OVSWatch
	NB   *NB
	// SB is closed before the scale run adds 100k bindings.
	SB   *SBWatch
	http *http.Client
}

// Runner runs the workloads on both sides and collects the results.
type Runner struct {
	Cfg     Config
	TB      stack.TB
	Res     *Results
	Sides   [2]*Side
	notesMu sync.Mutex
	notes   []string
	start   time.Time
	ctx     context.Context

	// gateA is A's gated unplug, waiting on its own stack (see StartA).
	gateA *gateRun
}

// NewRunner starts both stacks and their monitors.
func NewRunner(tb stack.TB, cfg Config) *Runner {
	r := &Runner{Cfg: cfg, TB: tb, Res: NewResults(), start: time.Now(), ctx: context.Background()}
	r.Sides[A] = r.newSide(A, "A")
	r.Sides[B] = r.newSide(B, "B")
	// The table follows this order, whatever order the workloads run in.
	for _, w := range []struct {
		name   string
		define func()
	}{
		{"latency", r.defineLatency}, {"bulk", r.defineBulk}, {"limit", r.defineLimit}, {"big", r.defineBig},
		{"gate", r.defineGate}, {"restart", r.defineRestart}, {"scale", r.defineScale}, {"churn", r.defineChurn},
		{"churn-others", r.defineChurnOthers},
	} {
		skip := (w.name == "scale" && cfg.ScaleForeign == 0) || (w.name == "churn-others" && cfg.ChurnOthers == 0) ||
			(w.name == "big" && cfg.BigBulkPorts == 0)
		if r.enabled(w.name) && !skip {
			w.define()
		}
	}
	return r
}

func (r *Runner) newSide(idx int, name string) *Side {
	opts := stack.Options{Mode: stack.ModeOVNPlug}
	if idx == B {
		opts = stack.Options{Mode: stack.ModeSidecar, SidecarBin: r.Cfg.SidecarBin, SidecarArgs: r.Cfg.SidecarArgs}
	}
	s := stack.New(r.TB, opts)
	sd := &Side{Idx: idx, Name: name, S: s, http: &http.Client{Timeout: 2 * time.Second}}
	var err error
	if sd.OVS, err = WatchOVS(r.ctx, s.OVSRemote()); err != nil {
		r.TB.Fatalf("%s: %v", sd.Name, err)
	}
	r.TB.Cleanup(sd.OVS.Close)
	if sd.NB, err = WatchNB(r.ctx, s.NBRemote()); err != nil {
		r.TB.Fatalf("%s: %v", sd.Name, err)
	}
	r.TB.Cleanup(sd.NB.Close)
	if sd.SB, err = WatchSB(r.ctx, s.SBRemote()); err != nil {
		r.TB.Fatalf("%s: %v", sd.Name, err)
	}
	r.TB.Cleanup(sd.SB.Close)
	if err := sd.NB.EnsureSwitches(r.ctx, r.switches()...); err != nil {
		r.TB.Fatalf("%s: %v", sd.Name, err)
	}
	return sd
}

func (r *Runner) note(s string) {
	r.notesMu.Lock()
	defer r.notesMu.Unlock()
	r.notes = append(r.notes, s)
}

// Notes are remarks for the report, in the order they were made.
func (r *Runner) Notes() []string {
	r.notesMu.Lock()
	defer r.notesMu.Unlock()
	return append([]string(nil), r.notes...)
}

// Logf logs with the time since the start.
func (r *Runner) Logf(format string, args ...any) {
	r.TB.Logf("[%6.1fs] %s", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

func (r *Runner) fatalf(sd *Side, format string, args ...any) {
	r.TB.Fatalf("%s: %s", sd.Name, fmt.Sprintf(format, args...))
}

func (r *Runner) enabled(w string) bool { return len(r.Cfg.Only) == 0 || r.Cfg.Only[w] }

// Run runs the workloads on A and B. Repeated workloads alternate A and
// B so that a change in background load hits both sides alike. Call
// StartA before and FinishA after.
func (r *Runner) Run() {
	for _, sd := range r.Sides {
		r.warmUp(sd)
	}
	if r.enabled("latency") {
		for rep := range r.Cfg.Reps {
			for _, sd := range r.Sides {
				r.latency(sd, rep)
			}
		}
	}
	if r.enabled("bulk") || r.enabled("limit") {
		for rep := range r.Cfg.Reps {
			for _, sd := range r.Sides {
				if r.enabled("bulk") {
					r.bulk(sd, rep)
				}
				if r.enabled("limit") {
					r.limit(sd, rep)
				}
			}
		}
	}
	if r.enabled("churn") {
		for rep := range r.Cfg.ChurnReps {
			// Nothing runs on A after its last churn; on B the restart,
			// scale and gate runs may follow.
			last := func(sd *Side) bool {
				return rep == r.Cfg.ChurnReps-1 && (sd.Idx == A || !r.needB() && !r.moreOnB())
			}
			if r.Cfg.ChurnParallel {
				// Both sides get the same operations at the same moments.
				start := time.Now().Add(100 * time.Millisecond)
				var wg sync.WaitGroup
				for _, sd := range r.Sides {
					wg.Go(func() { r.churn(sd, rep, start, last(sd)) })
				}
				wg.Wait()
			} else {
				for _, sd := range r.Sides {
					r.churn(sd, rep, time.Now(), last(sd))
				}
			}
		}
	}
	if r.enabled("churn-others") && r.Cfg.ChurnOthers > 0 {
		r.churnOthers(r.Sides[B])
	}
	if r.needB() {
		r.restartScaleGateB()
	}
	// Last: its unplug leaves ovs-vswitchd removing 10,000 tap devices for
	// minutes, which would stall whatever came after. It starts once
	// ovs-vswitchd has finished with the gate run's 1000.
	if r.enabled("big") && r.Cfg.BigBulkPorts > 0 {
		sd := r.Sides[B]
		r.waitIdle(sd.S.Vswitchd.PID(), time.Second, 2*time.Minute)
		r.big(sd)
	}
	r.ratioNotes()
	if r.Cfg.SaveLogs {
		for _, sd := range r.Sides {
			r.saveLog(sd, "end")
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}

// switches are the logical switches ports are spread over.
func (r *Runner) switches() []string {
	out := make([]string, r.Cfg.Switches)
	for i := range out {
		out[i] = fmt.Sprintf("sw%02d", i)
	}
	return out
}

// switchFor puts the i-th port of a batch on a switch: PortsPerSwitch
// consecutive ports share one, round robin over the switches.
func (r *Runner) switchFor(i int) string {
	return fmt.Sprintf("sw%02d", (i/r.Cfg.PortsPerSwitch)%r.Cfg.Switches)
}

func (r *Runner) specs(sd *Side, ns []string) []PortSpec {
	out := make([]PortSpec, len(ns))
	for i, n := range ns {
		out[i] = PortSpec{Name: n, Switch: r.switchFor(i), Chassis: sd.S.Chassis}
	}
	return out
}

// pluggerPID is the process that plugs on this side.
func (sd *Side) pluggerPID() int {
	if sd.Idx == A {
		return sd.S.Controller.PID()
	}
	return sd.S.Sidecar.PID()
}

// settle waits until ovn-controller has processed everything NB holds
// (ovn-nbctl --wait=hv sync) and the plugging process has gone quiet.
func (r *Runner) settle(sd *Side) {
	t0 := time.Now()
	r.hvSync(sd)
	t1 := time.Now()
	r.waitIdle(sd.pluggerPID(), 300*time.Millisecond, 10*time.Second)
	r.Logf("%s settle: hv sync %v, idle %v", sd.Name, t1.Sub(t0).Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
}

// moreOnB says whether the churn-others or big runs follow the churn on B.
func (r *Runner) moreOnB() bool {
	return (r.enabled("churn-others") && r.Cfg.ChurnOthers > 0) || (r.enabled("big") && r.Cfg.BigBulkPorts > 0)
}

// needB says whether restartScaleGateB has anything to do.
func (r *Runner) needB() bool {
	return r.enabled("restart") || r.enabled("gate") || (r.enabled("scale") && r.Cfg.ScaleForeign > 0)
}

// hvSync runs ovn-nbctl --wait=hv sync, which returns once
// ovn-controller has caught up with NB (it acknowledges nb_cfg only after
// its flows are installed, so after ovs-vswitchd has caught up too). One
// call is limited to 50 s (the harness kills ctl commands after 60 s);
// on a loaded machine it is repeated, up to Cfg.Cap in all.
func (r *Runner) hvSync(sd *Side) {
	deadline := time.Now().Add(r.Cfg.Cap)
	for {
		_, err := sd.S.NBCtlErr("--wait=hv", "--timeout=50", "sync")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.fatalf(sd, "ovn-nbctl --wait=hv sync: %v", err)
		}
		r.Logf("%s: ovn-nbctl --wait=hv sync: %v; again", sd.Name, err)
	}
}

// waitIdle waits until pid used less than 2% of a CPU over window, or
// until max.
func (r *Runner) waitIdle(pid int, window, max time.Duration) {
	deadline := time.Now().Add(max)
	prev, err := CPUSeconds(pid)
	if err != nil {
		return
	}
	for time.Now().Before(deadline) {
		time.Sleep(window)
		cur, err := CPUSeconds(pid)
		if err != nil {
			return
		}
		if cur-prev < 0.02*window.Seconds()+0.0001 {
			return
		}
		prev = cur
	}
}

// plugAll creates ports in one transaction and waits until all are
// plugged and up, then settles.
func (r *Runner) plugAll(sd *Side, ns []string) {
	ep, eu := sd.OVS.ExpectPresent(ns...), sd.NB.ExpectUp(ns...)
	if _, err := sd.NB.AddPorts(r.ctx, r.specs(sd, ns)); err != nil {
		r.fatalf(sd, "add ports: %v", err)
	}
	if _, ok := ep.Wait(r.Cfg.Cap); !ok {
		r.fatalf(sd, "only %d of %d ports plugged after %v", sd.OVS.Count(ns), len(ns), r.Cfg.Cap)
	}
	if _, ok := eu.Wait(r.Cfg.Cap); !ok {
		r.fatalf(sd, "ports not up after %v", r.Cfg.Cap)
	}
	r.settle(sd)
}

// unplugAll deletes ports in one transaction and waits until their
// Interfaces are gone, returning how long that took (capped at cap).
func (r *Runner) unplugAll(sd *Side, ns []string, limit time.Duration) Value {
	ea := sd.OVS.ExpectAbsent(ns...)
	t0, err := sd.NB.DeletePorts(r.ctx, ns)
	if err != nil {
		r.fatalf(sd, "delete ports: %v", err)
	}
	tg, ok := ea.Wait(limit)
	if !ok {
		ea.Cancel()
		return Value{V: ms(limit), Capped: true}
	}
	return Value{V: ms(tg.Sub(t0))}
}

// warmUp plugs and unplugs one port, so that ovn-controller's startup
// gate (20 busy iterations and 10 s) has passed before anything is
// measured, except where the gate itself is measured.
func (r *Runner) warmUp(sd *Side) {
	t0 := time.Now()
	ns := []string{"warmup"}
	r.plugAll(sd, ns)
	r.unplugNudged(sd, ns)
	r.Logf("%s warmed up in %v", sd.Name, time.Since(t0).Round(time.Millisecond))
}

// unplugNudged deletes ports and, until they are gone, makes
// ovn-controller run main loop iterations (ovn-nbctl --wait=hv sync), so
// that a startup gate still closed after a restart opens. Not measured.
func (r *Runner) unplugNudged(sd *Side, ns []string) {
	ea := sd.OVS.ExpectAbsent(ns...)
	if _, err := sd.NB.DeletePorts(r.ctx, ns); err != nil {
		r.fatalf(sd, "delete ports: %v", err)
	}
	deadline := time.Now().Add(r.Cfg.Cap)
	for {
		if _, ok := ea.Wait(50 * time.Millisecond); ok {
			break
		}
		if time.Now().After(deadline) {
			r.fatalf(sd, "%d of %d ports still plugged %v after their deletion", sd.OVS.Count(ns), len(ns), r.Cfg.Cap)
		}
		r.hvSync(sd)
	}
	r.settle(sd)
}
