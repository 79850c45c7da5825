package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/sb"
)

// The workloads that need 1000 plugged ports and a restart share that
// state, because on 2 cores plugging and unplugging 1000 internal ports
// keeps ovs-vswitchd busy removing tap devices for many seconds each time:
//
//   - A's restart and gated-unplug runs use a third stack like A, set up
//     first; after its last restart it sits idle while everything else
//     runs, since ovn-controller's startup gate can hold unplugging back
//     for minutes (an idle process competes for nothing).
//   - B's restart, scale and gated-unplug runs share one plug of 1000
//     ports on B, after the bulk runs.

func (r *Runner) defineRestart() {
	n := r.Cfg.BulkPorts
	r.Res.Define("restart-ready", fmt.Sprintf("restart with %d plugged: start → ready", n), "ms", true,
		"A: ovn-nbctl --wait=hv sync returns; B: /readyz 200")
	r.Res.DefineMax("restart-writes", fmt.Sprintf("restart with %d plugged: OVS writes to plug-owned columns, max over reps", n), "", "")
	r.Res.DefineMax("restart-txns", "restart: OVS transactions the sidecar sent, max over reps", "", "B: its transaction_duration_seconds_count")
	r.Res.Define("restart-rss", fmt.Sprintf("restart with %d plugged: peak RSS of the plugging process", n), "MiB", true,
		"A: ovn-controller, B: sidecar")
}

func (r *Runner) defineGate() {
	n := r.Cfg.BulkPorts
	r.Res.Define("gate-unplug", fmt.Sprintf("bulk: delete %d right after a restart, idle (A: startup gate on) → all gone", n), "ms", false,
		fmt.Sprintf("cap %v", r.Cfg.GateCap))
}

func (r *Runner) defineScale() {
	c := r.Cfg
	r.Res.Define("scale-ready", fmt.Sprintf("scale: restart → primed, %d local + %d foreign bindings", c.BulkPorts, c.ScaleForeign), "ms", false,
		"compare restart row")
	r.Res.Define("scale-rss", fmt.Sprintf("scale: sidecar peak RSS, %d local + %d foreign bindings", c.BulkPorts, c.ScaleForeign), "MiB", false,
		"compare restart row")
	r.Res.Define("scale-rss-steady", fmt.Sprintf("scale: sidecar RSS after the restart settled, %d local + %d foreign", c.BulkPorts, c.ScaleForeign), "MiB", false,
		"goal ≤ 40 MiB")
	r.Res.Define("scale-heap", "scale: sidecar Go heap in use then (go_memstats_heap_inuse_bytes)", "MiB", false, "")
	r.Res.DefineMax("scale-writes", "scale: OVS writes to plug-owned columns on those restarts, max", "", "")
}

// readyPoller polls /readyz until it answers 200 and records when.
type readyPoller struct {
	done chan time.Time
	stop chan struct{}
	once sync.Once
}

func (sd *Side) pollReady(every time.Duration) *readyPoller {
	p := &readyPoller{done: make(chan time.Time, 1), stop: make(chan struct{})}
	url := sd.S.SidecarURL() + "/readyz"
	go func() {
		for {
			resp, err := sd.http.Get(url)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					p.done <- time.Now()
					return
				}
			}
			select {
			case <-p.stop:
				return
			case <-time.After(every):
			}
		}
	}()
	return p
}

func (p *readyPoller) wait(timeout time.Duration) (time.Time, bool) {
	select {
	case t := <-p.done:
		return t, true
	case <-time.After(timeout):
		p.once.Do(func() { close(p.stop) })
		return time.Time{}, false
	}
}

// restartResult is one restart's measurements.
type restartResult struct {
	ready  time.Duration
	writes int64
	txns   float64
	mem    Memory
}

// restartPlugger restarts the plugging process and measures how long it
// takes to be ready and what is written to OVS from the stop until
// Cfg.Settle after ready.
func (r *Runner) restartPlugger(sd *Side) restartResult {
	var res restartResult
	w0, _ := sd.OVS.Writes()
	if sd.Idx == A {
		_ = sd.S.Controller.Stop()
		t0 := time.Now()
		sd.S.Controller.Start()
		if _, err := sd.S.NBCtlErr("--wait=hv", "--timeout=120", "sync"); err != nil {
			r.fatalf(sd, "restart: %v", err)
		}
		res.ready = time.Since(t0)
	} else {
		_ = sd.S.Sidecar.Stop()
		p := sd.pollReady(2 * time.Millisecond)
		t0 := time.Now()
		sd.S.Sidecar.Start()
		tr, ok := p.wait(r.Cfg.Cap)
		if !ok {
			r.fatalf(sd, "sidecar not ready %v after restart", r.Cfg.Cap)
		}
		res.ready = tr.Sub(t0)
	}
	time.Sleep(r.Cfg.Settle)
	w1, _ := sd.OVS.Writes()
	res.writes = w1 - w0
	if res.writes > 0 {
		r.Logf("%s: %d plug-owned OVS writes around a restart; the last ones:\n  %s", sd.Name, res.writes, strings.Join(sd.OVS.Recent(), "\n  "))
		r.saveLog(sd, "restart-writes")
	}
	var err error
	if res.mem, err = MemoryOf(sd.pluggerPID()); err != nil {
		r.fatalf(sd, "restart: %v", err)
	}
	if sd.Idx == B {
		res.txns = r.sidecarMetric(sd, "ovn_vif_sidecar_transaction_duration_seconds_count")
	}
	return res
}

// saveLog copies the plugging process's log out of the stack directory,
// which is removed at exit, for a look at something unexpected.
func (r *Runner) saveLog(sd *Side, what string) {
	p := sd.S.Controller
	if sd.Idx == B {
		p = sd.S.Sidecar
	}
	f, err := os.CreateTemp("", fmt.Sprintf("bench-%s-%s-*.log", sd.Name, what))
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.WriteString(p.Log())
	r.Logf("%s: saved %s's log as %s", sd.Name, p.Name, f.Name())
	r.note(fmt.Sprintf("%s: %s's log after %s saved as %s.", sd.Name, p.Name, what, f.Name()))
}

// sidecarMetric reads one unlabelled metric from /metrics (-1 if absent).
func (r *Runner) sidecarMetric(sd *Side, name string) float64 {
	resp, err := sd.http.Get(sd.S.SidecarURL() + "/metrics")
	if err != nil {
		r.fatalf(sd, "metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return f
			}
		}
	}
	return -1
}

// restarts runs Reps restarts and records them under the restart figures
// (or, with prefix "scale", the scale figures).
func (r *Runner) restarts(sd *Side, prefix string) {
	for rep := range r.Cfg.Reps {
		res := r.restartPlugger(sd)
		r.Res.Add(prefix+"-ready", sd.Idx, Value{V: ms(res.ready)})
		r.Res.Add(prefix+"-writes", sd.Idx, Value{V: float64(res.writes)})
		r.Res.Add(prefix+"-rss", sd.Idx, Value{V: mib(res.mem.HWM)})
		if sd.Idx == B && prefix == "restart" {
			r.Res.Add("restart-txns", sd.Idx, Value{V: res.txns})
		}
		r.Logf("%s %s rep %d: ready after %v, %d plug-owned OVS writes, %.0f sidecar txns, peak RSS %.1f MiB",
			sd.Name, prefix, rep, res.ready.Round(time.Millisecond), res.writes, res.txns, mib(res.mem.HWM))
		r.settle(sd)
	}
}

// gateRun is one gated unplug: ports deleted, waiting for the Interfaces
// to go.
type gateRun struct {
	sd *Side
	t0 time.Time
	ea *Expect
	ns []string
}

// startGate restarts the plugging process with ns plugged, lets it go
// idle, and deletes the ports. ovn-controller 23.03 holds back unplugging
// until it has run 20 busy main loop iterations and 10 s have passed
// since it started; an idle ovn-controller runs no iterations.
func (r *Runner) startGate(sd *Side, ns []string) *gateRun {
	if sd.Idx == A {
		_ = sd.S.Controller.Stop()
		sd.S.Controller.Start()
	} else {
		_ = sd.S.Sidecar.Stop()
		p := sd.pollReady(10 * time.Millisecond)
		sd.S.Sidecar.Start()
		if _, ok := p.wait(r.Cfg.Cap); !ok {
			r.fatalf(sd, "sidecar not ready after restart")
		}
	}
	restarted := time.Now()
	r.waitIdle(sd.pluggerPID(), time.Second, 30*time.Second)
	g := &gateRun{sd: sd, ns: ns, ea: sd.OVS.ExpectAbsent(ns...)}
	var err error
	if g.t0, err = sd.NB.DeletePorts(r.ctx, ns); err != nil {
		r.fatalf(sd, "delete ports: %v", err)
	}
	r.Logf("%s gated unplug: %d ports deleted %v after the restart", sd.Name, len(ns), g.t0.Sub(restarted).Round(time.Millisecond))
	return g
}

// finishGate waits for the gated unplug, up to GateCap after the deletion.
func (r *Runner) finishGate(g *gateRun) Value {
	v := Value{V: ms(r.Cfg.GateCap), Capped: true}
	if tg, ok := g.ea.Wait(time.Until(g.t0.Add(r.Cfg.GateCap))); ok {
		v = Value{V: ms(tg.Sub(g.t0))}
	} else {
		g.ea.Cancel()
	}
	r.Res.Add("gate-unplug", g.sd.Idx, v)
	r.Logf("%s gated unplug: %s", g.sd.Name, FormatValue(v, "ms"))
	if v.Capped {
		r.note(fmt.Sprintf("%s: gated unplug hit its cap of %v with %d of %d Interfaces still present.",
			g.sd.Name, r.Cfg.GateCap, g.sd.OVS.Count(g.ns), len(g.ns)))
	}
	return v
}

// StartA runs A's restart and gated-unplug workloads on a third stack
// like A: plug BulkPorts ports, restart ovn-controller Reps times
// (measured), then restart it once more, let it go idle and delete the
// ports. FinishA waits for that unplug; in between the stack stays idle.
func (r *Runner) StartA() {
	if !r.enabled("restart") && !r.enabled("gate") {
		return
	}
	t0 := time.Now()
	sd := r.newSide(A, "A'")
	ns := names("r-", r.Cfg.BulkPorts)
	r.plugAll(sd, ns)
	if r.enabled("restart") {
		r.restarts(sd, "restart")
	}
	if r.enabled("gate") {
		g := r.startGate(sd, ns)
		r.gateA = g
		// Say when it happens: ovs-vswitchd then removes the ports'
		// tap devices, which holds the kernel's rtnl lock for many seconds.
		go func() {
			if at, ok := g.ea.Wait(r.Cfg.GateCap); ok {
				r.Logf("A' gated unplug done after %v", at.Sub(g.t0).Round(time.Millisecond))
			}
		}()
	}
	r.Logf("A' set up in %v", time.Since(t0).Round(time.Millisecond))
}

// FinishA collects the gated unplug started by StartA.
func (r *Runner) FinishA() {
	if r.gateA != nil {
		r.finishGate(r.gateA)
	}
}

// restartScaleGateB runs B's restart, scale and gated-unplug workloads on
// one plug of BulkPorts ports. It runs last.
func (r *Runner) restartScaleGateB() {
	sd := r.Sides[B]
	ns := names("r-", r.Cfg.BulkPorts)
	r.plugAll(sd, ns)
	if r.enabled("restart") {
		r.restarts(sd, "restart")
	}
	if r.enabled("scale") && r.Cfg.ScaleForeign > 0 {
		r.scale(sd)
	}
	// The last workload: the stack is torn down after, so no clean-up.
	if r.enabled("gate") {
		r.finishGate(r.startGate(sd, ns))
	}
}

// scale measures the sidecar's restart with the BulkPorts local bindings
// beside ScaleForeign bindings of another chassis. ovn-northd would
// delete bindings that have no NB port, and making them through NB would
// have northd build several logical flows per port, so northd is stopped
// and the foreign Datapath_Binding and Port_Binding rows go straight into
// SB; the sidecar reads only SB, so it sees exactly what northd would have
// written for those ports. They are deleted and northd restarted after.
func (r *Runner) scale(sd *Side) {
	c := r.Cfg
	// The bench's own SB monitor would receive every foreign row.
	sd.SB.Close()
	_ = sd.S.Northd.Stop()
	pid := sd.S.Sidecar.PID()
	cpu0, _ := CPUSeconds(pid)
	mem0, _ := MemoryOf(pid)
	t0 := time.Now()
	if err := InsertForeignBindings(r.ctx, sd.S.SBRemote(), c.ScaleForeign); err != nil {
		r.fatalf(sd, "scale: %v", err)
	}
	took := time.Since(t0)
	r.Logf("%s scale: inserted %d foreign Port_Bindings into SB in %v", sd.Name, c.ScaleForeign, took.Round(time.Millisecond))
	time.Sleep(c.Settle)
	cpu1, _ := CPUSeconds(pid)
	mem1, _ := MemoryOf(pid)
	r.note(fmt.Sprintf(
		"scale: while %d foreign Port_Bindings went into SB (%v, plus %v after) the running sidecar used %.2f s CPU and its RSS went from %.1f to %.1f MiB.",
		c.ScaleForeign, took.Round(time.Millisecond), c.Settle, cpu1-cpu0, mib(mem0.RSS), mib(mem1.RSS)))

	// What an unconditional monitor of the same columns would cost.
	bytes, dur, rows, err := MonitorAllBindings(r.ctx, sd.S.SBRemote())
	if err != nil {
		r.fatalf(sd, "scale: %v", err)
	}
	r.note(fmt.Sprintf(
		"scale: for comparison, an unconditional monitor of the same Port_Binding columns receives %d rows, %.1f MiB of JSON, in %v; the sidecar's conditional monitor receives %d.",
		rows, mib(bytes), dur.Round(time.Millisecond), c.BulkPorts))

	for rep := range c.Reps {
		res := r.restartPlugger(sd)
		r.Res.Add("scale-ready", sd.Idx, Value{V: ms(res.ready)})
		r.Res.Add("scale-rss", sd.Idx, Value{V: mib(res.mem.HWM)})
		r.Res.Add("scale-rss-steady", sd.Idx, Value{V: mib(res.mem.RSS)})
		r.Res.Add("scale-heap", sd.Idx, Value{V: r.sidecarMetric(sd, "go_memstats_heap_inuse_bytes") / (1 << 20)})
		r.Res.Add("scale-writes", sd.Idx, Value{V: float64(res.writes)})
		r.Logf("%s scale rep %d: primed after %v, peak RSS %.1f MiB, %d plug-owned writes",
			sd.Name, rep, res.ready.Round(time.Millisecond), mib(res.mem.HWM), res.writes)
		r.waitIdle(sd.pluggerPID(), 300*time.Millisecond, 10*time.Second)
	}
	if err := DeleteForeignBindings(r.ctx, sd.S.SBRemote()); err != nil {
		r.fatalf(sd, "scale: %v", err)
	}
	sd.S.Northd.Start()
	r.settle(sd)
}

const foreignChassis = "ch-foreign"

// sbClient connects to SB with the tables the scale setup writes; it
// monitors nothing.
func sbClient(ctx context.Context, remote string) (client.Client, error) {
	dbModel, err := model.NewClientDBModel("OVN_Southbound", map[string]model.Model{
		sb.EncapTable:           &sb.Encap{},
		sb.ChassisTable:         &sb.Chassis{},
		sb.DatapathBindingTable: &sb.DatapathBinding{},
		sb.PortBindingTable:     &sb.PortBinding{},
	})
	if err != nil {
		return nil, err
	}
	return connect(ctx, remote, dbModel)
}

// InsertForeignBindings inserts a Chassis "ch-foreign" (with an Encap, which
// the schema requires) and n Port_Bindings requested on it
// (vif-plug-type=dummy, so they would be plugged if they were local),
// spread over as many Datapath_Bindings as tunnel keys need, in
// transactions of at most 10000 bindings.
func InsertForeignBindings(ctx context.Context, remote string, n int) error {
	c, err := sbClient(ctx, remote)
	if err != nil {
		return err
	}
	defer c.Close()
	// A transport zone the local chassis is not in keeps ovn-controller
	// from building a tunnel to this chassis.
	ops, err := c.Create(&sb.Encap{UUID: "encap", Type: "geneve", IP: "192.0.2.1", ChassisName: foreignChassis,
		Options: map[string]string{"csum": "true"}})
	if err != nil {
		return err
	}
	chOps, err := c.Create(&sb.Chassis{UUID: "ch", Name: foreignChassis, Hostname: foreignChassis,
		Encaps: []string{"encap"}, TransportZones: []string{"tz-foreign"}})
	if err != nil {
		return err
	}
	res, err := transact(ctx, c, append(ops, chOps...))
	if err != nil {
		return err
	}
	chassis := res[1].UUID.GoUUID
	// Port tunnel keys are at most 32767 per datapath.
	const perDP, perTxn = 30000, 10000
	var dp string
	for i := 0; i < n; {
		var ops []ovsdb.Operation
		newDP := i%perDP == 0
		if newDP {
			dpOps, err := c.Create(&sb.DatapathBinding{UUID: "dp", TunnelKey: 100000 + i/perDP,
				ExternalIDs: map[string]string{"name": fmt.Sprintf("foreign%d", i/perDP), "bench": "foreign"}})
			if err != nil {
				return err
			}
			ops = append(ops, dpOps...)
		}
		end := min(n, i+perTxn, (i/perDP+1)*perDP)
		ref := dp
		if newDP {
			ref = "dp"
		}
		pbs := make([]model.Model, 0, end-i)
		for j := i; j < end; j++ {
			pbs = append(pbs, &sb.PortBinding{
				LogicalPort:      fmt.Sprintf("foreign-%06d", j),
				Datapath:         ref,
				TunnelKey:        j%perDP + 1,
				RequestedChassis: &chassis,
				Options: map[string]string{
					"requested-chassis": foreignChassis, "vif-plug-type": "dummy", "vif-plug-mtu-request": "1500"},
				MAC: []string{fmt.Sprintf("0a:00:%02x:%02x:%02x:%02x 10.%d.%d.%d",
					byte(j>>24), byte(j>>16), byte(j>>8), byte(j), byte(j>>16), byte(j>>8), byte(j))},
			})
		}
		pbOps, err := c.Create(pbs...)
		if err != nil {
			return err
		}
		ops = append(ops, pbOps...)
		tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		res, err := transact(tctx, c, ops)
		cancel()
		if err != nil {
			return fmt.Errorf("insert foreign bindings %d-%d: %w", i, end, err)
		}
		if newDP {
			dp = res[0].UUID.GoUUID
		}
		i = end
	}
	return nil
}

// DeleteForeignBindings removes what InsertForeignBindings made.
func DeleteForeignBindings(ctx context.Context, remote string) error {
	c, err := sbClient(ctx, remote)
	if err != nil {
		return err
	}
	defer c.Close()
	pb, dp, ch, enc := &sb.PortBinding{}, &sb.DatapathBinding{}, &sb.Chassis{}, &sb.Encap{}
	var ops []ovsdb.Operation
	for _, q := range []struct {
		m    model.Model
		cond model.Condition
	}{
		{pb, model.Condition{Field: &pb.Options, Function: ovsdb.ConditionIncludes, Value: map[string]string{"requested-chassis": foreignChassis}}},
		{dp, model.Condition{Field: &dp.ExternalIDs, Function: ovsdb.ConditionIncludes, Value: map[string]string{"bench": "foreign"}}},
		{ch, model.Condition{Field: &ch.Name, Function: ovsdb.ConditionEqual, Value: foreignChassis}},
		{enc, model.Condition{Field: &enc.ChassisName, Function: ovsdb.ConditionEqual, Value: foreignChassis}},
	} {
		dops, err := c.WhereAll(q.m, q.cond).Delete()
		if err != nil {
			return err
		}
		ops = append(ops, dops...)
	}
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	_, err = transact(tctx, c, ops)
	return err
}

// MonitorAllBindings monitors every Port_Binding with the columns the
// sidecar reads and reports the initial dump's size and time. libovsdb
// does not count bytes, so the size is what this process read (rchar in
// /proc/self/io) meanwhile; the bench's other connections are idle then.
func MonitorAllBindings(ctx context.Context, remote string) (bytes int64, d time.Duration, rows int, err error) {
	dbModel, err := model.NewClientDBModel("OVN_Southbound", map[string]model.Model{sb.PortBindingTable: &sb.PortBinding{}})
	if err != nil {
		return 0, 0, 0, err
	}
	c, err := connect(ctx, remote, dbModel)
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.Close()
	pb := &sb.PortBinding{}
	r0, _ := readChars()
	t0 := time.Now()
	_, err = c.Monitor(ctx, c.NewMonitor(client.WithTable(pb, &pb.LogicalPort, &pb.Type, &pb.ParentPort, &pb.RequestedChassis, &pb.Options)))
	d = time.Since(t0)
	r1, _ := readChars()
	if err != nil {
		return 0, d, 0, err
	}
	return r1 - r0, d, c.Cache().Table(sb.PortBindingTable).Len(), nil
}

// readChars is this process's rchar from /proc/self/io: bytes read by
// read-like system calls, sockets included.
func readChars() (int64, error) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "rchar: "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no rchar in /proc/self/io")
}
