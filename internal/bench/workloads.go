package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/stack"
)

// --- single-port latency ---------------------------------------------

func (r *Runner) defineLatency() {
	n := r.Cfg.LatencyPorts
	r.Res.Define("lat-p50", fmt.Sprintf("single port: NB commit → Interface, p50 of %d", n), "ms", false, "")
	r.Res.Define("lat-p99", fmt.Sprintf("single port: NB commit → Interface, p99 of %d", n), "ms", false, "")
	r.Res.Define("lat-sb-p50", "single port: SB Port_Binding → Interface (the plugger's own part), p50", "ms", false, "")
	r.Res.Define("lat-sb-p99", "single port: SB Port_Binding → Interface (the plugger's own part), p99", "ms", false, "")
	r.Res.Define("lat-up-p50", fmt.Sprintf("single port: NB commit → LSP up, p50 of %d", n), "ms", false, "")
}

func (r *Runner) latency(sd *Side, rep int) {
	ns := names(fmt.Sprintf("l%d-", rep), r.Cfg.LatencyPorts)
	var plug, own, up []float64
	for _, n := range ns {
		eb, ep, eu := sd.SB.ExpectBound(n), sd.OVS.ExpectPresent(n), sd.NB.ExpectUp(n)
		t0, err := sd.NB.AddPorts(r.ctx, r.specs(sd, []string{n}))
		if err != nil {
			r.fatalf(sd, "add %s: %v", n, err)
		}
		tp, ok := ep.Wait(30 * time.Second)
		if !ok {
			r.fatalf(sd, "%s not plugged after 30s", n)
		}
		tb, _ := eb.Wait(time.Second)
		tu, ok := eu.Wait(30 * time.Second)
		if !ok {
			r.fatalf(sd, "%s not up after 30s", n)
		}
		plug = append(plug, ms(tp.Sub(t0)))
		own = append(own, ms(tp.Sub(tb)))
		up = append(up, ms(tu.Sub(t0)))
	}
	p50, p99, o50, u50 := Percentile(plug, 50), Percentile(plug, 99), Percentile(own, 50), Percentile(up, 50)
	r.Res.Add("lat-sb-p99", sd.Idx, Value{V: Percentile(own, 99)})
	r.Res.Add("lat-p50", sd.Idx, Value{V: p50})
	r.Res.Add("lat-p99", sd.Idx, Value{V: p99})
	r.Res.Add("lat-sb-p50", sd.Idx, Value{V: o50})
	r.Res.Add("lat-up-p50", sd.Idx, Value{V: u50})
	r.Logf("%s latency rep %d: plug p50 %.2f ms p99 %.2f ms (from SB p50 %.2f ms), up p50 %.1f ms", sd.Name, rep, p50, p99, o50, u50)
	if v := r.unplugAll(sd, ns, r.Cfg.Cap); v.Capped {
		r.fatalf(sd, "latency ports not unplugged after %v", r.Cfg.Cap)
	}
	r.settle(sd)
}

// --- bulk plug and unplug --------------------------------------------

func (r *Runner) defineBulk() {
	n := r.Cfg.BulkPorts
	r.Res.Define("bulk-plug", fmt.Sprintf("bulk: %d LSPs in one NB txn → all Interfaces", n), "ms", false, "")
	r.Res.Define("bulk-sb-plug", "bulk: last of them in SB → all Interfaces (the plugger's own part)", "ms", false, "")
	r.Res.Define("bulk-up", fmt.Sprintf("bulk: %d LSPs in one NB txn → all LSPs up", n), "ms", false, "")
	r.Res.Define("bulk-unplug", fmt.Sprintf("bulk: delete %d in one NB txn → all Interfaces gone (gate passed)", n), "ms", false, "")
	r.Res.Define("bulk-sb-unplug", "bulk: last of them gone from SB → all Interfaces gone (the plugger's own part)", "ms", false, "")
}

// batchSummary says in how many OVS updates a bulk plug or unplug
// arrived, and when, relative to the NB commit and to SB.
func batchSummary(bs []Batch, t0, tsb, tend time.Time, ins bool) string {
	var parts []string
	for _, b := range bs {
		if b.At.After(tend) {
			break
		}
		n := b.Delete
		if ins {
			n = b.Inserted
		}
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d at +%dms", n, b.At.Sub(t0).Milliseconds()))
		}
	}
	return fmt.Sprintf("[SB at +%dms] %s", tsb.Sub(t0).Milliseconds(), strings.Join(parts, ", "))
}

// procCPU samples every stack process's CPU seconds.
func procCPU(s *stack.Stack) map[string]float64 {
	out := map[string]float64{}
	for _, p := range s.Procs() {
		if pid := p.PID(); pid != 0 && p.Running() {
			if v, err := CPUSeconds(pid); err == nil {
				out[p.Name] = v
			}
		}
	}
	return out
}

func cpuDelta(a, b map[string]float64) string {
	var parts []string
	for _, k := range []string{"ovsdb-server", "ovs-vswitchd", "ovsdb-server-nb", "ovsdb-server-sb", "ovn-northd", "ovn-controller", "ovn-vif-sidecar"} {
		if v, ok := b[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.2f", k, v-a[k]))
		}
	}
	return strings.Join(parts, ", ")
}

func (r *Runner) bulk(sd *Side, rep int) {
	cpu0 := procCPU(sd.S)
	defer func() { r.Logf("%s bulk rep %d CPU s: %s", sd.Name, rep, cpuDelta(cpu0, procCPU(sd.S))) }()
	ns := names(fmt.Sprintf("b%d-", rep), r.Cfg.BulkPorts)
	eb, ep, eu := sd.SB.ExpectBound(ns...), sd.OVS.ExpectPresent(ns...), sd.NB.ExpectUp(ns...)
	t0, err := sd.NB.AddPorts(r.ctx, r.specs(sd, ns))
	if err != nil {
		r.fatalf(sd, "add ports: %v", err)
	}
	tp, ok := ep.Wait(r.Cfg.Cap)
	if !ok {
		r.fatalf(sd, "bulk plug: %d of %d plugged after %v", sd.OVS.Count(ns), len(ns), r.Cfg.Cap)
	}
	tb, _ := eb.Wait(time.Second)
	tu, ok := eu.Wait(r.Cfg.Cap)
	if !ok {
		r.fatalf(sd, "bulk plug: not all up after %v", r.Cfg.Cap)
	}
	r.Res.Add("bulk-plug", sd.Idx, Value{V: ms(tp.Sub(t0))})
	r.Res.Add("bulk-sb-plug", sd.Idx, Value{V: ms(tp.Sub(tb))})
	r.Res.Add("bulk-up", sd.Idx, Value{V: ms(tu.Sub(t0))})
	r.settle(sd)

	eg, ea := sd.SB.ExpectUnbound(ns...), sd.OVS.ExpectAbsent(ns...)
	t1, err := sd.NB.DeletePorts(r.ctx, ns)
	if err != nil {
		r.fatalf(sd, "delete ports: %v", err)
	}
	ta, ok := ea.Wait(r.Cfg.Cap)
	if !ok {
		r.fatalf(sd, "bulk unplug: %d of %d still there after %v", sd.OVS.Count(ns), len(ns), r.Cfg.Cap)
	}
	tg, _ := eg.Wait(time.Second)
	r.Res.Add("bulk-unplug", sd.Idx, Value{V: ms(ta.Sub(t1))})
	r.Res.Add("bulk-sb-unplug", sd.Idx, Value{V: ms(ta.Sub(tg))})
	r.Logf("%s bulk rep %d: Interfaces arrived %s; went %s", sd.Name, rep,
		batchSummary(sd.OVS.Batches(t0), t0, tb, tp, true), batchSummary(sd.OVS.Batches(t1), t1, tg, ta, false))
	r.Logf("%s bulk rep %d: plugged %v (%v after SB), up %v, unplugged %v (%v after SB)", sd.Name, rep,
		tp.Sub(t0).Round(time.Millisecond), tp.Sub(tb).Round(time.Millisecond), tu.Sub(t0).Round(time.Millisecond),
		ta.Sub(t1).Round(time.Millisecond), ta.Sub(tg).Round(time.Millisecond))
	r.settle(sd)
}

// --- churn -------------------------------------------------------------

func (r *Runner) defineChurn() {
	c := r.Cfg
	what := fmt.Sprintf("churn: %d NB ops in %v", c.ChurnOps, c.ChurnDuration)
	r.Res.Define("churn-conv", what+": last op → OVS matches NB", "ms", false, "")
	r.Res.Define("churn-cpu", what+": CPU of the plugging process", "s", false, "A: ovn-controller, B: sidecar")
	r.Res.Define("churn-ctl-cpu", what+": ovn-controller CPU", "s", false, "")
	r.Res.Define("churn-total-cpu", what+": CPU of ovn-controller + sidecar", "s", false, "")
	r.Res.Define("churn-rss", what+": peak RSS of the plugging process", "MiB", true, "A: ovn-controller, B: sidecar")
}

// churn runs ChurnOps operations from start on; last says nothing runs
// on this stack after it, so its ports need not be removed.
func (r *Runner) churn(sd *Side, rep int, start time.Time, last bool) {
	r.churnAs(sd, "churn", rep, start, last)
}

// churnAs is churn recording its figures under id ("churn",
// "churn-others") and naming its ports after it.
func (r *Runner) churnAs(sd *Side, id string, rep int, start time.Time, last bool) {
	c := r.Cfg
	rng := rand.New(rand.NewPCG(uint64(rep)+1, 0x5eed))
	mtus := []int{0, 1400, 1450, 1500, 9000}
	live := map[string]int{}
	var order []string // live names, for random picks
	var gone []string
	next := 0
	ctlPID, scPID := sd.S.Controller.PID(), 0
	if sd.Idx == B {
		scPID = sd.S.Sidecar.PID()
	}
	cpu := func(pid int) float64 {
		if pid == 0 {
			return 0
		}
		v, err := CPUSeconds(pid)
		if err != nil {
			r.fatalf(sd, "churn: %v", err)
		}
		return v
	}
	_ = ResetPeak(sd.pluggerPID())
	ctl0, sc0 := cpu(ctlPID), cpu(scPID)
	var passes0, passSecs0 float64
	if sd.Idx == B {
		passes0 = r.sidecarMetric(sd, "ovn_vif_sidecar_reconcile_duration_seconds_count")
		passSecs0 = r.sidecarMetric(sd, "ovn_vif_sidecar_reconcile_duration_seconds_sum")
	}
	interval := c.ChurnDuration / time.Duration(c.ChurnOps)
	var counts [3]int
	for i := range c.ChurnOps {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		op := rng.IntN(3)
		switch {
		case len(live) < c.ChurnLive/2:
			op = 0
		case len(live) > c.ChurnLive*3/2:
			op = 2
		}
		var err error
		switch op {
		case 0:
			name := fmt.Sprintf("%s%d-%05d", map[bool]string{true: "c", false: "co"}[id == "churn"], rep, next)
			next++
			mtu := mtus[rng.IntN(len(mtus))]
			_, err = sd.NB.AddPorts(r.ctx, []PortSpec{{Name: name, Switch: r.switchFor(next - 1), Chassis: sd.S.Chassis, MTU: mtu}})
			live[name] = mtu
			order = append(order, name)
		case 1:
			name := order[rng.IntN(len(order))]
			mtu := mtus[rng.IntN(len(mtus))]
			for mtu == live[name] {
				mtu = mtus[rng.IntN(len(mtus))]
			}
			_, err = sd.NB.SetMTU(r.ctx, name, mtu)
			live[name] = mtu
		case 2:
			k := rng.IntN(len(order))
			name := order[k]
			order[k] = order[len(order)-1]
			order = order[:len(order)-1]
			delete(live, name)
			gone = append(gone, name)
			_, err = sd.NB.DeletePorts(r.ctx, []string{name})
		}
		if err != nil {
			r.fatalf(sd, "churn op %d: %v", i, err)
		}
		counts[op]++
	}
	end := time.Now()
	want := map[string]int64{}
	for n, m := range live {
		want[n] = int64(m)
	}
	conv := Value{V: ms(c.Cap), Capped: true}
	es := sd.OVS.ExpectState(want, gone)
	if tc, ok := es.Wait(c.Cap); ok {
		conv = Value{V: ms(max(0, tc.Sub(end)))}
	} else {
		es.Cancel()
	}
	ctl1, sc1 := cpu(ctlPID), cpu(scPID)
	mem, err := MemoryOf(sd.pluggerPID())
	if err != nil {
		r.fatalf(sd, "churn: %v", err)
	}
	plugCPU := ctl1 - ctl0
	if sd.Idx == B {
		plugCPU = sc1 - sc0
	}
	r.Res.Add(id+"-conv", sd.Idx, conv)
	r.Res.Add(id+"-cpu", sd.Idx, Value{V: plugCPU})
	r.Res.Add(id+"-ctl-cpu", sd.Idx, Value{V: ctl1 - ctl0})
	r.Res.Add(id+"-total-cpu", sd.Idx, Value{V: ctl1 - ctl0 + sc1 - sc0})
	r.Res.Add(id+"-rss", sd.Idx, Value{V: mib(mem.HWM)})
	r.Logf("%s %s rep %d: %d creates, %d updates, %d deletes in %v (%.0f ops/s); converged %s after the last; plugger CPU %.2f s, ovn-controller %.2f s, peak RSS %.1f MiB",
		sd.Name, id, rep, counts[0], counts[1], counts[2], end.Sub(start).Round(time.Millisecond),
		float64(c.ChurnOps)/end.Sub(start).Seconds(), FormatValue(conv, "ms"), plugCPU, ctl1-ctl0, mib(mem.HWM))
	if sd.Idx == B {
		passes := r.sidecarMetric(sd, "ovn_vif_sidecar_reconcile_duration_seconds_count") - passes0
		passSecs := r.sidecarMetric(sd, "ovn_vif_sidecar_reconcile_duration_seconds_sum") - passSecs0
		txns := r.sidecarMetric(sd, "ovn_vif_sidecar_transaction_duration_seconds_count")
		r.note(fmt.Sprintf("%s rep %d: the sidecar ran %.0f reconcile passes (%.1f per NB operation) taking %.2f s in all (%.2f ms each, transactions included); %.0f OVS transactions since its last start.",
			id, rep, passes, passes/float64(c.ChurnOps), passSecs, 1000*passSecs/max(passes, 1), txns))
	}
	if conv.Capped {
		r.fatalf(sd, "churn: OVS did not match NB %v after the last operation", c.Cap)
	}
	if last {
		return
	}
	if v := r.unplugAll(sd, order, c.Cap); v.Capped {
		r.fatalf(sd, "churn ports not unplugged after %v", c.Cap)
	}
	r.settle(sd)
}
