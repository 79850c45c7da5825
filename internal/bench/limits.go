package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/ovsops"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// --- the limit: the bulk's own operations, sent raw ------------------

func (r *Runner) defineLimit() {
	n := r.Cfg.BulkPorts
	r.Res.Define("limit-plug", fmt.Sprintf("limit: a %d-port plug's operations sent by a client with no monitor → all Interfaces", n), "ms", false,
		"same observer as the own part; compare bulk-sb-plug")
	r.Res.Define("limit-unplug", fmt.Sprintf("limit: the matching %d-port unplug sent the same way → all gone", n), "ms", false,
		"compare bulk-sb-unplug")
}

// limit sends, on the side's OVS database, the operations the sidecar
// sends for a bulk plug (built by sidecar/ovsops, one Bridge.ports
// mutate) and then the unplug, from a libovsdb client that carries no
// monitor, and times each until the same observer sees the Interfaces
// arrive or go. No plugger does less for the same rows. The interfaces
// carry no ovn-plugged, so neither plugger touches them.
func (r *Runner) limit(sd *Side, rep int) {
	cl, err := ovsWriter(r.ctx, sd.S.OVSRemote())
	if err != nil {
		r.fatalf(sd, "limit: %v", err)
	}
	defer cl.Close()
	br, err := bridgeUUID(r.ctx, cl, "br-int")
	if err != nil {
		r.fatalf(sd, "limit: %v", err)
	}
	ns := names(fmt.Sprintf("lim%d-", rep), r.Cfg.BulkPorts)
	ops := make([]ovsdb.Operation, 0, 2*len(ns)+1)
	bp := ovsops.BridgePorts{}
	for i, n := range ns {
		o, port := ovsops.Plug(i, plan.Create{Name: ifaceName(n), Type: "internal",
			Options: map[string]string{"vif-plug-dummy-option": "value"}, ExternalIDs: map[string]string{"iface-id": n}})
		ops = append(ops, o...)
		bp.Insert(br, port)
	}
	ops = append(ops, bp.Ops()...)
	ep := sd.OVS.ExpectPresent(ns...)
	t0 := time.Now()
	res, err := transact(r.ctx, cl, ops)
	if err != nil {
		r.fatalf(sd, "limit plug: %v", err)
	}
	tp, ok := ep.Wait(r.Cfg.Cap)
	if !ok {
		r.fatalf(sd, "limit plug: not seen after %v", r.Cfg.Cap)
	}
	r.settle(sd)

	ops = ops[:0]
	bp = ovsops.BridgePorts{}
	for i := range ns {
		port := res[2*i+1].UUID.GoUUID
		ops = append(ops, ovsops.Unplug(port, res[2*i].UUID.GoUUID)...)
		bp.Delete(br, port)
	}
	ops = append(ops, bp.Ops()...)
	ea := sd.OVS.ExpectAbsent(ns...)
	t1 := time.Now()
	if _, err := transact(r.ctx, cl, ops); err != nil {
		r.fatalf(sd, "limit unplug: %v", err)
	}
	ta, ok := ea.Wait(r.Cfg.Cap)
	if !ok {
		r.fatalf(sd, "limit unplug: not seen after %v", r.Cfg.Cap)
	}
	r.Res.Add("limit-plug", sd.Idx, Value{V: ms(tp.Sub(t0))})
	r.Res.Add("limit-unplug", sd.Idx, Value{V: ms(ta.Sub(t1))})
	r.Logf("%s limit rep %d: raw plug seen after %v, unplug after %v", sd.Name, rep,
		tp.Sub(t0).Round(time.Millisecond), ta.Sub(t1).Round(time.Millisecond))
	r.settle(sd)
}

func ovsWriter(ctx context.Context, remote string) (client.Client, error) {
	dbModel, err := model.NewClientDBModel("Open_vSwitch", map[string]model.Model{
		vswitch.BridgeTable:    &vswitch.Bridge{},
		vswitch.PortTable:      &vswitch.Port{},
		vswitch.InterfaceTable: &vswitch.Interface{},
	})
	if err != nil {
		return nil, err
	}
	return connect(ctx, remote, dbModel)
}

func bridgeUUID(ctx context.Context, cl client.Client, name string) (string, error) {
	ops := []ovsdb.Operation{{Op: ovsdb.OperationSelect, Table: vswitch.BridgeTable, Columns: []string{"_uuid"},
		Where: []ovsdb.Condition{{Column: "name", Function: ovsdb.ConditionEqual, Value: name}}}}
	res, err := transact(ctx, cl, ops)
	if err != nil {
		return "", err
	}
	if len(res) != 1 || len(res[0].Rows) != 1 {
		return "", fmt.Errorf("bridge %s not found", name)
	}
	u, ok := res[0].Rows[0]["_uuid"].(ovsdb.UUID)
	if !ok {
		return "", fmt.Errorf("bridge %s: unexpected _uuid %v", name, res[0].Rows[0]["_uuid"])
	}
	return u.GoUUID, nil
}

// --- churn beside many other plugged ports ---------------------------

func (r *Runner) defineChurnOthers() {
	c := r.Cfg
	what := fmt.Sprintf("churn as above beside %d other plugged ports", c.ChurnOthers)
	r.Res.Define("churn-others-conv", what+": last op → OVS matches NB", "ms", false, "")
	r.Res.Define("churn-others-cpu", what+": CPU of the plugging process", "s", false, "compare churn-cpu: O(changed) means about equal")
	r.Res.Define("churn-others-ctl-cpu", what+": ovn-controller CPU", "s", false, "")
	r.Res.Define("churn-others-total-cpu", what+": CPU of ovn-controller + sidecar", "s", false, "")
	r.Res.Define("churn-others-rss", what+": peak RSS of the plugging process", "MiB", true, "")
}

// churnOthers plugs ChurnOthers ports, runs the churn beside them, and
// unplugs them: the plugger's churn CPU should not grow with ports the
// churn does not touch.
func (r *Runner) churnOthers(sd *Side) {
	ns := names("o-", r.Cfg.ChurnOthers)
	t0 := time.Now()
	r.plugAll(sd, ns)
	r.Logf("%s churn-others: %d other ports plugged and up in %v", sd.Name, len(ns), time.Since(t0).Round(time.Millisecond))
	r.churnAs(sd, "churn-others", 0, time.Now(), false)
	if v := r.unplugAll(sd, ns, r.Cfg.Cap); v.Capped {
		r.fatalf(sd, "churn-others: other ports not unplugged after %v", r.Cfg.Cap)
	}
	r.settle(sd)
}

// --- one NB transaction of many ports ---------------------------------

func (r *Runner) defineBig() {
	n := r.Cfg.BigBulkPorts
	r.Res.Define("big-plug", fmt.Sprintf("big bulk: %d LSPs in one NB txn → all Interfaces", n), "ms", false, "compare 10 × bulk-plug")
	r.Res.Define("big-sb-plug", "big bulk: last of them in SB → all Interfaces (the plugger's own part)", "ms", false, "")
	r.Res.Define("big-unplug", fmt.Sprintf("big bulk: delete %d in one NB txn → all Interfaces gone", n), "ms", false, "")
}

func (r *Runner) big(sd *Side) {
	ns := names("big-", r.Cfg.BigBulkPorts)
	eb, ep := sd.SB.ExpectBound(ns...), sd.OVS.ExpectPresent(ns...)
	t0, err := sd.NB.AddPorts(r.ctx, r.specs(sd, ns))
	if err != nil {
		r.fatalf(sd, "big: add ports: %v", err)
	}
	tp, ok := ep.Wait(r.Cfg.Cap)
	if !ok {
		r.fatalf(sd, "big: %d of %d plugged after %v", sd.OVS.Count(ns), len(ns), r.Cfg.Cap)
	}
	// The scale run closes the SB watch; then there is no own-part figure.
	tb, bound := eb.Wait(time.Second)
	// Plugged correctly, not just present: the dummy provider's answer
	// for each, carrying its iface-id.
	want := map[string]int64{}
	for _, n := range ns {
		want[n] = 0
	}
	if _, ok := sd.OVS.ExpectState(want, nil).Wait(10 * time.Second); !ok {
		r.fatalf(sd, "big: the Interfaces are there but not as planned")
	}
	r.Res.Add("big-plug", sd.Idx, Value{V: ms(tp.Sub(t0))})
	own := "n/a"
	if bound {
		r.Res.Add("big-sb-plug", sd.Idx, Value{V: ms(tp.Sub(tb))})
		own = tp.Sub(tb).Round(time.Millisecond).String()
	}
	// Not r.settle: LSP up waits for ovs-vswitchd's 10,000 taps.
	v := r.unplugAll(sd, ns, r.Cfg.Cap)
	r.Res.Add("big-unplug", sd.Idx, v)
	r.Logf("%s big bulk of %d: plugged %v (%s after SB), unplugged %s", sd.Name, len(ns),
		tp.Sub(t0).Round(time.Millisecond), own, FormatValue(v, "ms"))
	if v.Capped {
		r.fatalf(sd, "big: not unplugged after %v", r.Cfg.Cap)
	}
	// No settling: nothing runs after it (ovs-vswitchd would take minutes
	// to remove the tap devices).
}

// ratioNotes states the goals that compare figures of one side.
func (r *Runner) ratioNotes() {
	med := func(id string, side int) (float64, bool) {
		r.Res.mu.Lock()
		defer r.Res.mu.Unlock()
		f := r.Res.byID[id]
		if f == nil {
			return 0, false
		}
		v, ok := Median(f.Vals[side])
		return v.V, ok && !v.Capped
	}
	for _, c := range []struct{ what, num, den, goal string }{
		{"bulk plug, own part / limit", "bulk-sb-plug", "limit-plug", "goal ≤ 1.2"},
		{"bulk unplug, own part / limit", "bulk-sb-unplug", "limit-unplug", ""},
		{"churn CPU beside others / alone", "churn-others-cpu", "churn-cpu", "goal ≤ 1.2"},
		{"big bulk / bulk plug", "big-plug", "bulk-plug", fmt.Sprintf("goal ≤ %.0f", 1.1*float64(r.Cfg.BigBulkPorts)/float64(max(r.Cfg.BulkPorts, 1)))},
	} {
		var parts []string
		for _, sd := range r.Sides {
			a, ok1 := med(c.num, sd.Idx)
			b, ok2 := med(c.den, sd.Idx)
			if ok1 && ok2 && b > 0 {
				parts = append(parts, fmt.Sprintf("%s %.2f", sd.Name, a/b))
			}
		}
		if len(parts) > 0 {
			r.note(fmt.Sprintf("%s (medians): %v%s", c.what, parts, map[bool]string{true: "; " + c.goal, false: ""}[c.goal != ""]))
		}
	}
}
