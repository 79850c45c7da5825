package sidecar

import (
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/internal/logs"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// This file owns the port status: the worker records each pass's
// outcomes and schedules retries through the queue; HTTP reads.

// PortStatus is what operators see for one logical port (GET /ports).
type PortStatus struct {
	LogicalPort string     `json:"logical_port"`
	Provider    string     `json:"provider"`
	State       plan.State `json:"state"`
	Interface   string     `json:"interface"`
	Reason      string     `json:"reason"`
	Since       time.Time  `json:"since"`
	// Cause is Reason as a bounded value, for the metrics.
	Cause plan.Cause `json:"-"`
}

// statusStore holds every port's status and, so that the gauges cost
// nothing per pass, the number of ports per gauge label set, updated on
// each transition.
type statusStore struct {
	mu    sync.RWMutex
	ports map[string]*PortStatus
	// counts per label set, and the label sets changed since takeCounts.
	counts  map[gaugeKey]int
	touched map[gaugeKey]bool
}

// gaugeKey is one port's labels: provider and state, and for a pending
// port the reason class.
type gaugeKey struct {
	provider string
	state    plan.State
	pending  string
}

func keyOf(p *PortStatus) gaugeKey {
	k := gaugeKey{provider: providerLabel(p.Provider), state: p.State}
	if p.State == plan.StatePending {
		k.pending = pendingReasonClass(p.Cause)
	}
	return k
}

func newStatusStore() *statusStore {
	return &statusStore{ports: map[string]*PortStatus{}, counts: map[gaugeKey]int{}, touched: map[gaugeKey]bool{}}
}

// count moves one port into (+1) or out of (-1) its label set; s.mu is held.
func (s *statusStore) count(p *PortStatus, d int) {
	k := keyOf(p)
	s.counts[k] += d
	s.touched[k] = true
}

// takeChanges returns the label sets changed since the last call and the
// current counts (a few dozen label sets at most, whatever the number of
// ports).
func (s *statusStore) takeChanges() (touched []gaugeKey, counts map[gaugeKey]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.touched) == 0 {
		return nil, nil
	}
	for k := range s.touched {
		touched = append(touched, k)
		if s.counts[k] == 0 {
			delete(s.counts, k)
		}
	}
	clear(s.touched)
	return touched, maps.Clone(s.counts)
}

func (s *statusStore) get(k string) *PortStatus {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p := s.ports[k]; p != nil {
		c := *p
		return &c
	}
	return nil
}

// set records an outcome, keyed by the full logical port name but with
// every text clipped; Since moves only when the state changes.
func (s *statusStore) set(o plan.Outcome, now time.Time) (changed bool) {
	key := o.LogicalPort
	o = clipOutcome(o)
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.ports[key]
	if o.State == plan.StateGone {
		if cur != nil {
			s.count(cur, -1)
			delete(s.ports, key)
		}
		return cur != nil
	}
	if cur != nil && cur.State == o.State {
		changed = cur.Reason != o.Reason
		if cur.Provider != o.Provider || cur.Cause != o.Cause {
			s.count(cur, -1)
			cur.Provider, cur.Cause = o.Provider, o.Cause
			s.count(cur, +1)
		}
		cur.Interface, cur.Reason = o.Interface, o.Reason
		return changed
	}
	if cur != nil {
		s.count(cur, -1)
	}
	p := &PortStatus{LogicalPort: o.LogicalPort, Provider: o.Provider, State: o.State, Cause: o.Cause, Interface: o.Interface, Reason: o.Reason, Since: now}
	s.ports[key] = p
	s.count(p, +1)
	return true
}

// forEach calls f for every port, unsorted, under the read lock.
func (s *statusStore) forEach(f func(*PortStatus)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, p := range s.ports {
		f(p)
	}
}

func (s *statusStore) list() []PortStatus {
	s.mu.RLock()
	out := make([]PortStatus, 0, len(s.ports))
	for _, p := range s.ports {
		out = append(out, *p)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].LogicalPort < out[j].LogicalPort })
	return out
}

// warnState rate-limits the warning for one port.
type warnState struct {
	reason string
	at     time.Time
}

const warnEvery = time.Minute

// record stores the plan's outcomes, folds in transaction failures and
// ports the convergence guard held back, schedules retries, and logs
// conflicts at most once a minute per port.
func (w *worker) record(res plan.PlanResult, failed map[string]error, held map[string]blocked) {
	now := time.Now()
	for _, o := range res.Outcomes {
		k := o.LogicalPort
		if err, ok := failed[k]; ok {
			o.State, o.Cause, o.Reason = plan.StateError, plan.CauseTxnFailed, "OVS transaction failed: "+err.Error()
		}
		fw, firstNote, foreign := w.e.foreign.recent(k, now)
		if h, ok := held[k]; ok {
			o.State, o.Cause, o.Reason = plan.StateError, plan.CauseNotConverging, h.reason
			if foreign {
				o.Reason += "; " + fw.reason()
			}
			w.e.status.set(o, now)
			if h.tripped {
				w.e.metrics.notConverging.WithLabelValues(providerLabel(o.Provider)).Inc()
				c := clipOutcome(o)
				logs.WarnS("Logical port is not converging; backing off", "lport", c.LogicalPort, "provider", c.Provider, "interface", c.Interface, "reason", c.Reason)
			}
			w.e.q.AddAfter(k, h.retryAfter)
			continue
		}
		if foreign && (o.State == plan.StatePlugged || o.State == plan.StateGone) {
			if o.State == plan.StatePlugged {
				o.Reason = fw.reason()
			}
			if firstNote {
				c := clipOutcome(o)
				logs.WarnS("Another agent writes a port this sidecar plugs", "lport", c.LogicalPort, "provider", c.Provider, "interface", fw.iface, "reason", fw.reason())
			}
			if o.State == plan.StateGone {
				w.e.foreign.forget(k)
			}
		}
		changed := w.e.status.set(o, now)
		switch o.State {
		case plan.StatePlugged, plan.StateGone:
			delete(w.warned, k)
			w.e.q.Forget(k)
			continue
		case plan.StateConflict:
			// No retry loop: the conflicting interface's own events wake it.
			w.warn(k, o, now, "Not plugging logical port: conflict")
			continue
		}
		if changed {
			// Pending is "hardware not there yet", normal; error and
			// unplug-blocked are refusals an operator must look at.
			c := clipOutcome(o)
			if o.State == plan.StatePending {
				klog.V(1).InfoS("Logical port not plugged", "lport", c.LogicalPort, "state", o.State, "provider", c.Provider, "reason", c.Reason)
			} else {
				logs.WarnS("Logical port not plugged", "lport", c.LogicalPort, "state", o.State, "provider", c.Provider, "reason", c.Reason)
			}
		}
		if o.State == plan.StateUnplugBlocked && !w.e.Primed() {
			continue // the resync after priming retries it
		}
		if o.State == plan.StatePending {
			w.e.q.AddRateLimited(k, retrySoon)
		} else {
			w.e.q.AddRateLimited(k, retrySlowly)
		}
	}
	updateGauges(w.e.status, w.e.metrics)
}

func (w *worker) warn(k string, o plan.Outcome, now time.Time, msg string) {
	last := w.warned[k]
	if last.reason == o.Reason && now.Sub(last.at) < warnEvery {
		return
	}
	w.warned[k] = warnState{reason: o.Reason, at: now}
	c := clipOutcome(o)
	logs.WarnS(msg, "lport", c.LogicalPort, "provider", c.Provider, "reason", c.Reason)
}

// updateGauges sets the gauges whose label sets changed since the last
// call, from the status store's counts: no pass lists every port.
func updateGauges(status *statusStore, metrics *Metrics) {
	touched, counts := status.takeChanges()
	if len(touched) == 0 {
		return
	}
	plugged := map[string]int{}
	byState := map[[2]string]int{}
	pending := map[[2]string]int{}
	for k, n := range counts {
		byState[[2]string{k.provider, string(k.state)}] += n
		switch k.state {
		case plan.StatePlugged:
			plugged[k.provider] += n
		case plan.StatePending:
			pending[[2]string{k.provider, k.pending}] += n
		}
	}
	// A label set with no ports left disappears, as it did when the
	// gauges were rebuilt from scratch.
	set := func(g *prometheus.GaugeVec, n int, labels ...string) {
		if n == 0 {
			g.DeleteLabelValues(labels...)
			return
		}
		g.WithLabelValues(labels...).Set(float64(n))
	}
	for _, k := range touched {
		set(metrics.ports, byState[[2]string{k.provider, string(k.state)}], k.provider, string(k.state))
		switch k.state {
		case plan.StatePlugged:
			set(metrics.plugged, plugged[k.provider], k.provider)
		case plan.StatePending:
			set(metrics.pending, pending[[2]string{k.provider, k.pending}], k.provider, k.pending)
		}
	}
}

// pendingReasonClass maps a pending port's cause to a bounded label value.
func pendingReasonClass(c plan.Cause) string {
	switch c {
	case plan.CausePrepareTimeout:
		return "prepare_timeout"
	case plan.CauseNoAnswer:
		return "no_answer"
	default:
		return "not_ready"
	}
}

// providerLabel bounds label values: vif-plug-type comes from the CMS, so
// a type that is not compiled in is reported as "unknown".
func providerLabel(typ string) string {
	if _, ok := providers.CompiledFactory(typ); ok {
		return typ
	}
	return "unknown"
}
