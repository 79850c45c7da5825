package sidecar

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"time"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/sidecar/plan"
)

// Any write that OVS does not end up reflecting (a provider answer stored
// differently from how it was asked, a provider whose answers flip, another
// agent undoing our change) would make the plan want the same write again
// on every pass. The convergence guard is the backstop against all such
// loops, whatever their cause: a port may be written at most
// maxUnconvergedWrites times in a row for the same inputs without a pass
// in between that finds nothing to do. After that it goes to error and is
// retried once per backoff period, doubling up to convergeMaxBackoff, until
// it converges or its binding changes.
//
// The echo of a write that OVS shows exactly as planned wakes no pass
// (Engine.dropEchoes), so a port that converged is rarely planned again
// with nothing to do. Writes more than convergeWindow apart therefore
// start a new streak, unless the port is already backing off: an
// interface deleted by hand now and then is replugged each time, while
// two agents undoing each other's writes are stopped within a second.
const (
	maxUnconvergedWrites = 3
	convergeMinBackoff   = 5 * time.Second
	convergeMaxBackoff   = 5 * time.Minute
	convergeWindow       = time.Minute
)

// streak is one port's run of writes that did not converge.
type streak struct {
	inputs  uint64 // fingerprint of the binding the writes were for
	writes  int
	backoff time.Duration
	until   time.Time // no write before this
	last    plan.Op
	lastAt  time.Time
}

type convergenceGuard struct {
	ports map[string]*streak
}

func newConvergenceGuard() *convergenceGuard {
	return &convergenceGuard{ports: map[string]*streak{}}
}

// blocked is a port the guard stopped, with when to try again.
type blocked struct {
	reason     string
	retryAfter time.Duration
	// tripped is true only on the pass that stopped it, for the counter
	// and the warning.
	tripped bool
}

// admit splits the planned actions into those that may be written and
// the ports held back. planned are every key the plan considered: a key
// planned with no action has converged and its streak ends.
func (g *convergenceGuard) admit(planned []string, actions []plan.Action, inputs func(string) uint64, now time.Time) ([]plan.Action, map[string]blocked) {
	withAction := make(map[string]bool, len(actions))
	for _, a := range actions {
		withAction[a.LogicalPort] = true
	}
	for _, k := range planned {
		if !withAction[k] {
			delete(g.ports, k)
		}
	}
	var held map[string]blocked
	admitted := actions[:0:0]
	for _, a := range actions {
		k := a.LogicalPort
		s := g.ports[k]
		fp := inputs(k)
		if s != nil && s.backoff == 0 && now.Sub(s.lastAt) > convergeWindow {
			delete(g.ports, k)
			s = nil
		}
		if s == nil || s.inputs != fp {
			admitted = append(admitted, a)
			continue
		}
		if now.Before(s.until) {
			if held == nil {
				held = map[string]blocked{}
			}
			held[k] = blocked{reason: s.reason(), retryAfter: s.until.Sub(now)}
			continue
		}
		if s.writes < maxUnconvergedWrites {
			admitted = append(admitted, a)
			continue
		}
		s.backoff = min(max(2*s.backoff, convergeMinBackoff), convergeMaxBackoff)
		s.until = now.Add(s.backoff)
		// One more write is allowed when the backoff ends; if that one
		// does not converge either, the next backoff is twice as long.
		s.writes = maxUnconvergedWrites - 1
		if held == nil {
			held = map[string]blocked{}
		}
		held[k] = blocked{reason: s.reason(), retryAfter: s.backoff, tripped: true}
	}
	return admitted, held
}

// wrote records a committed write for a port.
func (g *convergenceGuard) wrote(a plan.Action, inputs uint64, now time.Time) {
	s := g.ports[a.LogicalPort]
	if s == nil || s.inputs != inputs {
		s = &streak{inputs: inputs}
		g.ports[a.LogicalPort] = s
	}
	s.writes++
	s.last, s.lastAt = a.Op, now
}

func (s *streak) reason() string {
	return fmt.Sprintf("not converging: %d transactions in a row (the last a %s) committed, but OVS does not show the planned state: another agent (ovn-controller's own VIF plugging, a script) may keep rewriting the interface, or OVS stores the provider's answer differently; backing off %v before the next try (a change to the Port_Binding retries at once)",
		max(s.writes, maxUnconvergedWrites), s.last, s.backoff)
}

// bindingFingerprint identifies what a port's binding asks for, so that
// a changed request restarts the guard's count.
func bindingFingerprint(d plan.Desired, considered, awaiting bool) uint64 {
	h := fnv.New64a()
	w := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	switch {
	case awaiting:
		w("awaiting")
	case !considered:
		w("absent")
	default:
		w("considered")
		w(d.PlugType)
		w(fmt.Sprint(d.MTURequest))
		for _, k := range slices.Sorted(maps.Keys(d.Options)) {
			w(k)
			w(d.Options[k])
		}
	}
	return h.Sum64()
}
