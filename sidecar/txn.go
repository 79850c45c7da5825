package sidecar

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/logs"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/slim/vswitch"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/ovsops"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// This file owns the OVS transactions of a pass (worker goroutine): build
// the operations, register the expected echo, commit, then Finish.

// txnTimeout bounds one OVS transaction.
const txnTimeout = 30 * time.Second

// apply runs the actions as OVS transactions, batching up to TxnBatch
// ports per transaction. When a batch fails, each of its ports is retried
// alone so that one bad port cannot block the others. It returns the
// transaction error for each port that failed.
func (w *worker) apply(ctx context.Context, snap *snapshot, actions []plan.Action, creates, removes map[string]*prepared) map[string]error {
	failed := map[string]error{}
	for start := 0; start < len(actions); start += w.e.cfg.TxnBatch {
		chunk := actions[start:min(start+w.e.cfg.TxnBatch, len(actions))]
		if ctx.Err() != nil {
			break
		}
		err := w.transact(snap.ovs, chunk, creates, removes)
		if err == nil {
			continue
		}
		if len(chunk) == 1 || ctx.Err() != nil {
			failed[chunk[0].LogicalPort] = err
			continue
		}
		logs.WarnS("Batched transaction failed; retrying its ports one by one", "ports", len(chunk), "err", plan.ClipTo(err.Error(), plan.MaxReasonLen))
		for _, a := range chunk {
			if err := w.transact(snap.ovs, []plan.Action{a}, creates, removes); err != nil {
				failed[a.LogicalPort] = err
			}
		}
	}
	return failed
}

// transact commits one transaction and then calls the providers: Finish
// (and CtxDestroy for create) on success; on failure the unused contexts
// are destroyed by the caller.
func (w *worker) transact(v ovsView, actions []plan.Action, creates, removes map[string]*prepared) error {
	var ops []ovsdb.Operation
	type span struct{ from, to int }
	spans := make([]span, len(actions))
	buildStart := time.Now()
	ports := ovsops.BridgePorts{}
	for i, a := range actions {
		aops, err := actionOps(a, i, ports)
		if err != nil {
			return fmt.Errorf("building operations for %s: %w", a.LogicalPort, err)
		}
		spans[i] = span{len(ops), len(ops) + len(aops)}
		ops = append(ops, aops...)
	}
	ops = append(ops, ports.Ops()...)
	// Registered before sending: the echo may reach the handlers before
	// the reply reaches us.
	deadline := time.Now().Add(expectationTimeout)
	for _, a := range actions {
		w.e.pending.expect(a, v, deadline)
	}
	buildDur := time.Since(buildStart)
	// Not the worker's context: a transaction already sent at shutdown
	// should finish and be followed by Finish, not be abandoned.
	tctx, cancel := context.WithTimeout(context.Background(), txnTimeout)
	defer cancel()
	start := time.Now()
	results, err := w.e.writer.transact(tctx, ops)
	w.e.metrics.txnDuration.Observe(time.Since(start).Seconds())
	klog.V(2).InfoS("Transaction", "ports", len(actions), "ops", len(ops), "build", buildDur, "commit", time.Since(start))
	if err == nil {
		_, err = ovsdb.CheckOperationResults(results, ops)
	}
	if err != nil {
		for _, a := range actions {
			w.e.pending.abandon(a.LogicalPort)
			w.e.metrics.operations.WithLabelValues(a.Provider, string(a.Op), "error").Inc()
		}
		return err
	}

	for i, a := range actions {
		created := ""
		for j := spans[i].from; j < spans[i].to; j++ {
			if ops[j].Op == ovsdb.OperationInsert && ops[j].Table == vswitch.InterfaceTable {
				created = results[j].UUID.GoUUID
			}
		}
		w.e.pending.committed(a.LogicalPort, created)
		for _, r := range a.Remove {
			if rc := removes[r.UUID]; rc != nil {
				rc.prov.Finish(rc.in, nil)
			}
			klog.InfoS("Unplugged interface", "interface", r.Name, "bridge", r.BridgeName, "lport", plan.Clip(a.LogicalPort), "provider", plan.Clip(r.PluggedBy()))
		}
		if c := creates[a.LogicalPort]; c != nil && (a.Create != nil || a.Update != nil) {
			c.used = true
			c.prov.Finish(c.in, c.out)
			c.prov.CtxDestroy(c.in, c.out)
		}
		switch {
		case a.Create != nil:
			klog.InfoS("Plugged interface", "interface", a.Create.Name, "type", a.Create.Type, "lport", plan.Clip(a.LogicalPort), "provider", a.Provider, "op", a.Op)
		case a.Update != nil:
			klog.V(2).InfoS("Updated interface", "lport", plan.Clip(a.LogicalPort), "provider", a.Provider)
		}
		w.e.metrics.operations.WithLabelValues(a.Provider, string(a.Op), "success").Inc()
	}
	return nil
}

// actionOps turns one action into OVSDB operations, and its Bridge.ports
// changes into ports: removals first, so a replug may reuse the same
// interface name in the same transaction.
func actionOps(a plan.Action, n int, ports ovsops.BridgePorts) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	// Like OVN's ovsport_remove: drop the port from its bridge and delete
	// the rows explicitly rather than relying on garbage collection.
	for _, r := range a.Remove {
		if r.BridgeUUID == "" || r.PortUUID == "" {
			return nil, fmt.Errorf("interface %s is in no bridge", r.Name)
		}
		ports.Delete(r.BridgeUUID, r.PortUUID)
		ops = append(ops, ovsops.Unplug(r.PortUUID, r.UUID)...)
	}
	if c := a.Create; c != nil {
		if a.Update != nil {
			return nil, errors.New("action both creates and updates")
		}
		o, port := ovsops.Plug(n, *c)
		ops = append(ops, o...)
		ports.Insert(c.BridgeUUID, port)
	}
	if u := a.Update; u != nil {
		ops = append(ops, ovsops.UpdateInterface(*u)...)
	}
	return ops, nil
}
