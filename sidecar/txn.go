package sidecar

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/ovsdbmodel/vswitch"
)

// expectation is what the cache must show after our own transaction
// before the port is planned again; planning earlier would repeat the
// write (and a repeated insert fails on the name index).
type expectation struct {
	created  []string // Interface UUIDs that must appear
	removed  []string // Port UUIDs that must disappear
	update   *Update
	deadline time.Time
}

func (x *expectation) satisfied(s *snapshot) bool {
	have, ports := s.ifaceByUUID, s.portInUse
	for _, u := range x.created {
		if have[u] == nil {
			return false
		}
	}
	for _, p := range x.removed {
		if ports[p] {
			return false
		}
	}
	if u := x.update; u != nil {
		it := have[u.IfaceUUID]
		if it == nil {
			return true // gone: nothing more to wait for
		}
		if u.Type != nil && it.Type != *u.Type {
			return false
		}
		for k, v := range u.SetExtIDs {
			if it.ExternalIDs[k] != v {
				return false
			}
		}
		for k, v := range u.SetOptions {
			if it.Options[k] != v {
				return false
			}
		}
		for _, k := range u.DelOptions {
			if _, ok := it.Options[k]; ok {
				return false
			}
		}
		if u.SetMTU {
			cur := 0
			if it.MTURequest != nil {
				cur = *it.MTURequest
			}
			if cur != u.MTURequest {
				return false
			}
		}
	}
	return true
}

// expectationTimeout bounds how long a port waits for the cache to show
// our own write before it is planned regardless.
const expectationTimeout = 10 * time.Second

// txnTimeout bounds one OVS transaction.
const txnTimeout = 30 * time.Second

// apply runs the actions as OVS transactions, batching up to TxnBatch
// ports per transaction. When a batch fails, each of its ports is retried
// alone so that one bad port cannot block the others. It returns the
// transaction error for each port that failed.
func (e *Engine) apply(ctx context.Context, cl client.Client, snap *snapshot, actions []Action, creates, removes map[string]*prepared) map[string]error {
	failed := map[string]error{}
	for start := 0; start < len(actions); start += e.cfg.TxnBatch {
		chunk := actions[start:min(start+e.cfg.TxnBatch, len(actions))]
		if ctx.Err() != nil {
			break
		}
		err := e.transact(cl, chunk, creates, removes)
		if err == nil {
			continue
		}
		if len(chunk) == 1 || ctx.Err() != nil {
			failed[chunk[0].LogicalPort] = err
			continue
		}
		warnS("Batched transaction failed; retrying its ports one by one", "ports", len(chunk), "err", clipTo(err.Error(), maxEchoText))
		for _, a := range chunk {
			if err := e.transact(cl, []Action{a}, creates, removes); err != nil {
				failed[a.LogicalPort] = err
			}
		}
	}
	return failed
}

// transact commits one transaction and then calls the providers: Finish
// (and CtxDestroy for create) on success; on failure the unused contexts
// are destroyed by the caller.
func (e *Engine) transact(cl client.Client, actions []Action, creates, removes map[string]*prepared) error {
	var ops []ovsdb.Operation
	type span struct{ from, to int }
	spans := make([]span, len(actions))
	buildStart := time.Now()
	ports := bridgePorts{}
	for i, a := range actions {
		aops, err := actionOps(cl, a, i, ports)
		if err != nil {
			return fmt.Errorf("building operations for %s: %w", a.LogicalPort, err)
		}
		spans[i] = span{len(ops), len(ops) + len(aops)}
		ops = append(ops, aops...)
	}
	buildDur := time.Since(buildStart)
	bops, err := ports.ops(cl)
	if err != nil {
		return fmt.Errorf("building bridge operations: %w", err)
	}
	ops = append(ops, bops...)
	// Not the worker's context: a transaction already sent at shutdown
	// should finish and be followed by Finish, not be abandoned.
	tctx, cancel := context.WithTimeout(context.Background(), txnTimeout)
	defer cancel()
	start := time.Now()
	results, err := cl.Transact(tctx, ops...)
	e.metrics.txnDuration.Observe(time.Since(start).Seconds())
	klog.V(2).InfoS("Transaction", "ports", len(actions), "ops", len(ops), "build", buildDur, "commit", time.Since(start))
	if err == nil {
		_, err = ovsdb.CheckOperationResults(results, ops)
	}
	if err != nil {
		for _, a := range actions {
			e.metrics.operations.WithLabelValues(a.Provider, string(a.Op), "error").Inc()
		}
		return err
	}

	deadline := time.Now().Add(expectationTimeout)
	for i, a := range actions {
		x := &expectation{update: a.Update, deadline: deadline}
		for j := spans[i].from; j < spans[i].to; j++ {
			if ops[j].Op == ovsdb.OperationInsert && ops[j].Table == vswitch.InterfaceTable {
				x.created = append(x.created, results[j].UUID.GoUUID)
			}
		}
		for _, r := range a.Remove {
			x.removed = append(x.removed, r.PortUUID)
			if rc := removes[r.UUID]; rc != nil {
				rc.prov.Finish(rc.in, nil)
			}
			klog.InfoS("Unplugged interface", "interface", r.Name, "bridge", r.BridgeName, "lport", clip(a.LogicalPort), "provider", clip(r.PluggedBy()))
		}
		if c := creates[a.LogicalPort]; c != nil && (a.Create != nil || a.Update != nil) {
			c.used = true
			c.prov.Finish(c.in, c.out)
			c.prov.CtxDestroy(c.in, c.out)
		}
		switch {
		case a.Create != nil:
			klog.InfoS("Plugged interface", "interface", a.Create.Name, "type", a.Create.Type, "lport", clip(a.LogicalPort), "provider", a.Provider, "op", a.Op)
		case a.Update != nil:
			klog.V(2).InfoS("Updated interface", "lport", clip(a.LogicalPort), "provider", a.Provider)
		}
		e.expect[a.LogicalPort] = x
		e.metrics.operations.WithLabelValues(a.Provider, string(a.Op), "success").Inc()
	}
	return nil
}

// actionOps turns one action into OVSDB operations: removals first, so a
// replug may reuse the same interface name in the same transaction.
// bridgePorts collects the Bridge.ports changes of a transaction, so each
// bridge gets one mutate op: a mutate per port would make ovsdb-server copy
// the growing set once per port, quadratic in a burst.
type bridgePorts map[string]*struct{ insert, delete []string }

func (b bridgePorts) add(bridge string, insert, del string) {
	e := b[bridge]
	if e == nil {
		e = &struct{ insert, delete []string }{}
		b[bridge] = e
	}
	if insert != "" {
		e.insert = append(e.insert, insert)
	}
	if del != "" {
		e.delete = append(e.delete, del)
	}
}

func (b bridgePorts) ops(cl client.Client) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	for _, uuid := range slices.Sorted(maps.Keys(b)) {
		e := b[uuid]
		br := &vswitch.Bridge{UUID: uuid}
		var muts []model.Mutation
		if len(e.delete) > 0 {
			muts = append(muts, model.Mutation{Field: &br.Ports, Mutator: ovsdb.MutateOperationDelete, Value: e.delete})
		}
		if len(e.insert) > 0 {
			muts = append(muts, model.Mutation{Field: &br.Ports, Mutator: ovsdb.MutateOperationInsert, Value: e.insert})
		}
		o, err := cl.Where(br).Mutate(br, muts...)
		if err != nil {
			return nil, err
		}
		ops = append(ops, o...)
	}
	return ops, nil
}

func actionOps(cl client.Client, a Action, n int, ports bridgePorts) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	add := func(o []ovsdb.Operation, err error) error {
		if err != nil {
			return err
		}
		ops = append(ops, o...)
		return nil
	}
	// Like OVN's ovsport_remove: drop the port from its bridge and delete
	// the rows explicitly rather than relying on garbage collection.
	for _, r := range a.Remove {
		if r.BridgeUUID == "" || r.PortUUID == "" {
			return nil, fmt.Errorf("interface %s is in no bridge", r.Name)
		}
		ports.add(r.BridgeUUID, "", r.PortUUID)
		if err := add(cl.Where(&vswitch.Port{UUID: r.PortUUID}).Delete()); err != nil {
			return nil, err
		}
		if err := add(cl.Where(&vswitch.Interface{UUID: r.UUID}).Delete()); err != nil {
			return nil, err
		}
	}
	if c := a.Create; c != nil {
		if a.Update != nil {
			return nil, errors.New("action both creates and updates")
		}
		ifaceName, portName := fmt.Sprintf("iface_%d", n), fmt.Sprintf("port_%d", n)
		iface := &vswitch.Interface{UUID: ifaceName, Name: c.Name, Type: c.Type, Options: maps.Clone(c.Options), ExternalIDs: maps.Clone(c.ExternalIDs)}
		if c.MTURequest > 0 {
			mtu := c.MTURequest
			iface.MTURequest = &mtu
		}
		if err := add(cl.Create(iface)); err != nil {
			return nil, err
		}
		port := &vswitch.Port{UUID: portName, Name: c.Name, Interfaces: []string{ifaceName}}
		if err := add(cl.Create(port)); err != nil {
			return nil, err
		}
		ports.add(c.BridgeUUID, portName, "")
	}
	if u := a.Update; u != nil {
		iface := &vswitch.Interface{UUID: u.IfaceUUID}
		where := cl.Where(iface)
		var cols []any
		if u.Type != nil {
			iface.Type = *u.Type
			cols = append(cols, &iface.Type)
		}
		if u.SetMTU {
			if u.MTURequest > 0 {
				mtu := u.MTURequest
				iface.MTURequest = &mtu
			}
			cols = append(cols, &iface.MTURequest)
		}
		if len(cols) > 0 {
			if err := add(where.Update(iface, cols...)); err != nil {
				return nil, err
			}
		}
		var muts []model.Mutation
		// A map "insert" never overwrites an existing key, so changed keys
		// are deleted first; keys others own are left alone.
		if len(u.SetExtIDs) > 0 {
			muts = append(muts,
				model.Mutation{Field: &iface.ExternalIDs, Mutator: ovsdb.MutateOperationDelete, Value: slices.Sorted(maps.Keys(u.SetExtIDs))},
				model.Mutation{Field: &iface.ExternalIDs, Mutator: ovsdb.MutateOperationInsert, Value: u.SetExtIDs})
		}
		if del := append(slices.Sorted(maps.Keys(u.SetOptions)), u.DelOptions...); len(del) > 0 {
			muts = append(muts, model.Mutation{Field: &iface.Options, Mutator: ovsdb.MutateOperationDelete, Value: del})
		}
		if len(u.SetOptions) > 0 {
			muts = append(muts, model.Mutation{Field: &iface.Options, Mutator: ovsdb.MutateOperationInsert, Value: u.SetOptions})
		}
		if len(muts) > 0 {
			if err := add(where.Mutate(iface, muts...)); err != nil {
				return nil, err
			}
		}
	}
	return ops, nil
}
