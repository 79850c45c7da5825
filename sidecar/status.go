package sidecar

import (
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/klog/v2"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// PortStatus is what operators see for one logical port (GET /ports).
type PortStatus struct {
	LogicalPort string    `json:"logical_port"`
	Provider    string    `json:"provider"`
	State       State     `json:"state"`
	Interface   string    `json:"interface"`
	Reason      string    `json:"reason"`
	Since       time.Time `json:"since"`
}

type statusStore struct {
	mu    sync.RWMutex
	ports map[string]*PortStatus
}

func newStatusStore() *statusStore { return &statusStore{ports: map[string]*PortStatus{}} }

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
func (s *statusStore) set(o Outcome, now time.Time) (changed bool) {
	key := o.LogicalPort
	o = clipOutcome(o)
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.State == StateGone {
		_, had := s.ports[key]
		delete(s.ports, key)
		return had
	}
	cur := s.ports[key]
	if cur != nil && cur.State == o.State {
		changed = cur.Reason != o.Reason
		cur.Provider, cur.Interface, cur.Reason = o.Provider, o.Interface, o.Reason
		return changed
	}
	s.ports[key] = &PortStatus{LogicalPort: o.LogicalPort, Provider: o.Provider, State: o.State, Interface: o.Interface, Reason: o.Reason, Since: now}
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
func (e *Engine) record(res PlanResult, failed map[string]error, held map[string]blocked) {
	now := time.Now()
	for _, o := range res.Outcomes {
		k := o.LogicalPort
		if err, ok := failed[k]; ok {
			o.State, o.Reason = StateError, "OVS transaction failed: "+err.Error()
		}
		if h, ok := held[k]; ok {
			o.State, o.Reason = StateError, h.reason
			e.status.set(o, now)
			if h.tripped {
				e.metrics.notConverging.WithLabelValues(providerLabel(o.Provider)).Inc()
				c := clipOutcome(o)
				warnS("Logical port is not converging; backing off", "lport", c.LogicalPort, "provider", c.Provider, "interface", c.Interface, "reason", c.Reason)
			}
			e.q.AddAfter(k, h.retryAfter)
			continue
		}
		changed := e.status.set(o, now)
		switch o.State {
		case StatePlugged, StateGone:
			delete(e.attempts, k)
			delete(e.warned, k)
			e.q.Forget(k)
			continue
		case StateConflict:
			// No retry loop: the conflicting interface's own events wake it.
			e.warn(k, o, now, "Not plugging logical port: conflict")
			continue
		}
		if changed {
			// Pending is "hardware not there yet", normal; error and
			// unplug-blocked are refusals an operator must look at.
			c := clipOutcome(o)
			if o.State == StatePending {
				klog.V(1).InfoS("Logical port not plugged", "lport", c.LogicalPort, "state", o.State, "provider", c.Provider, "reason", c.Reason)
			} else {
				warnS("Logical port not plugged", "lport", c.LogicalPort, "state", o.State, "provider", c.Provider, "reason", c.Reason)
			}
		}
		if o.State == StateUnplugBlocked && !e.Primed() {
			continue // the resync after priming retries it
		}
		e.attempts[k]++
		delay := backoff(e.attempts[k], time.Second, 30*time.Second)
		if o.State != StatePending {
			delay = backoff(e.attempts[k], 5*time.Second, 5*time.Minute)
		}
		e.q.AddAfter(k, delay)
	}
	e.updateGauges()
}

func (e *Engine) warn(k string, o Outcome, now time.Time, msg string) {
	w := e.warned[k]
	if w.reason == o.Reason && now.Sub(w.at) < warnEvery {
		return
	}
	e.warned[k] = warnState{reason: o.Reason, at: now}
	c := clipOutcome(o)
	warnS(msg, "lport", c.LogicalPort, "provider", c.Provider, "reason", c.Reason)
}

// updateGauges recomputes the per-state gauges from the status store.
func (e *Engine) updateGauges() {
	plugged := map[string]float64{}
	pending := map[[2]string]float64{}
	byState := map[[2]string]float64{}
	e.status.forEach(func(p *PortStatus) {
		prov := providerLabel(p.Provider)
		byState[[2]string{prov, string(p.State)}]++
		switch p.State {
		case StatePlugged:
			plugged[prov]++
		case StatePending:
			pending[[2]string{prov, pendingReasonClass(p.Reason)}]++
		}
	})
	e.metrics.plugged.Reset()
	for prov, n := range plugged {
		e.metrics.plugged.WithLabelValues(prov).Set(n)
	}
	e.metrics.ports.Reset()
	for k, n := range byState {
		e.metrics.ports.WithLabelValues(k[0], k[1]).Set(n)
	}
	e.metrics.pending.Reset()
	for k, n := range pending {
		e.metrics.pending.WithLabelValues(k[0], k[1]).Set(n)
	}
}

// pendingReasonClass maps a free-text reason to a bounded label value.
func pendingReasonClass(reason string) string {
	switch {
	case strings.HasPrefix(reason, errPrepareTimeout.Error()):
		return "prepare_timeout"
	case reason == "provider has not answered yet":
		return "no_answer"
	default:
		return "not_ready"
	}
}

// providerLabel bounds label values: vif-plug-type comes from the CMS, so
// a type that is not compiled in is reported as "unknown".
func providerLabel(typ string) string {
	if _, ok := providers.CompiledProvider(typ); ok {
		return typ
	}
	return "unknown"
}
