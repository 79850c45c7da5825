package sidecar

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/logs"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// This file owns the provider Prepare calls of a pass.

// preparer calls providers' Prepare for a pass, each call on a goroutine
// of its own with a deadline (see callPrepare). It holds no state between
// passes.
type preparer struct {
	reg     *providers.Registry
	timeout time.Duration
	metrics *Metrics
}

// prepared is one provider call's context, kept until Finish/CtxDestroy.
type prepared struct {
	prov *providers.Instance
	in   *providers.PortCtxIn
	out  *providers.PortCtxOut
	err  error
	used bool
}

func (p *preparer) providerState(typ string) plan.ProviderState {
	if _, err := p.reg.Get(typ); err == nil {
		return plan.ProviderEnabled
	}
	if p.reg.InitError(typ) != nil {
		return plan.ProviderFailed
	}
	if _, ok := providers.CompiledFactory(typ); ok {
		return plan.ProviderDisabled
	}
	return plan.ProviderUnknown
}

// portIn builds a provider's input from copies of the pass's rows, so
// that providers depend on no database model and see no cache row.
func (p *preparer) portIn(op providers.Op, snap *snapshot, lport string, opts map[string]string, iface *plan.Iface) *providers.PortCtxIn {
	in := &providers.PortCtxIn{Op: op, LportName: lport, LportOptions: maps.Clone(opts), Chassis: snap.chassis, BridgeName: snap.bridgeName}
	if snap.bridge != nil {
		in.BridgeDatapathType = snap.bridge.DatapathType
	}
	if snap.ovsRow != nil {
		in.OVSExternalIDs, in.OVSOtherConfig = maps.Clone(snap.ovsRow.ExternalIDs), maps.Clone(snap.ovsRow.OtherConfig)
	}
	if iface != nil {
		in.IfaceName, in.IfaceType, in.IfaceOptions = iface.Name, iface.Type, maps.Clone(iface.Options)
	}
	return in
}

func (p *preparer) prepareCreates(ctx context.Context, snap *snapshot, desired map[string]plan.Desired) map[string]*prepared {
	calls := map[string]*prepared{}
	for k, d := range desired {
		if d.PlugType == "" {
			continue
		}
		prov, err := p.reg.Get(d.PlugType)
		if err != nil {
			continue // the plan reports unknown or disabled providers
		}
		calls[k] = &prepared{prov: prov, in: p.portIn(providers.OpCreate, snap, k, d.Options, snap.ovs.Ours(k)), out: &providers.PortCtxOut{}}
	}
	p.callPrepare(ctx, calls)
	return calls
}

func (p *preparer) prepareRemoves(ctx context.Context, snap *snapshot, uuids []string) map[string]*prepared {
	calls := map[string]*prepared{}
	for _, uuid := range uuids {
		it, ok := snap.ovs.ByUUID(uuid)
		if !ok {
			continue
		}
		prov, err := p.reg.Get(it.PluggedBy())
		if err != nil {
			continue
		}
		var opts map[string]string
		if bd, ok := snap.binding(it.IfaceID()); ok {
			opts = bd.Options
		}
		calls[uuid] = &prepared{prov: prov, in: p.portIn(providers.OpRemove, snap, it.IfaceID(), opts, &it)}
	}
	p.callPrepare(ctx, calls)
	return calls
}

// prepareParallelism bounds concurrent Prepare calls in one batch.
const prepareParallelism = 16

// callPrepare runs Prepare for each call with a deadline, in parallel, so
// a slow provider delays a batch by at most PrepareTimeout. An answer that
// arrives after its deadline is discarded and its context destroyed.
func (p *preparer) callPrepare(ctx context.Context, calls map[string]*prepared) {
	if len(calls) == 0 {
		return
	}
	sem := make(chan struct{}, prepareParallelism)
	var wg sync.WaitGroup
	for key, c := range calls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.err = p.prepareOne(ctx, key, c)
		}()
	}
	wg.Wait()
}

func (p *preparer) prepareOne(ctx context.Context, key string, c *prepared) error {
	typ := c.prov.Type()
	op := c.in.Op.String()
	pctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	// The provider writes into its own out, which becomes c.out only if
	// it answers in time, so a late answer never races with the engine.
	// Finish and CtxDestroy then get the very pointer Prepare filled, as
	// in OVN, so a provider may key what it holds by it.
	var out *providers.PortCtxOut
	if c.out != nil {
		out = &providers.PortCtxOut{}
	}
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("provider %q panicked in Prepare: %v", typ, r)
			}
		}()
		done <- c.prov.Prepare(pctx, c.in, out)
	}()
	select {
	case err := <-done:
		p.metrics.prepareDuration.WithLabelValues(typ, op).Observe(time.Since(start).Seconds())
		if out != nil {
			c.out = out
		}
		return err
	case <-pctx.Done():
		p.metrics.prepareDuration.WithLabelValues(typ, op).Observe(time.Since(start).Seconds())
		p.metrics.prepareTimeouts.WithLabelValues(typ, op).Inc()
		logs.WarnS("Provider Prepare exceeded its deadline; will retry", "provider", typ, "op", op, "key", plan.Clip(key), "deadline", p.timeout)
		go func() {
			if err := <-done; err == nil && out != nil {
				c.prov.CtxDestroy(c.in, out)
			}
		}()
		return fmt.Errorf("%w after %v", plan.ErrPrepareTimeout, p.timeout)
	}
}
