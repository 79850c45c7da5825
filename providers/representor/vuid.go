package representor

import (
	"context"
	"sync"
	"time"

	"github.com/k8snetworkplumbingwg/sriovnet"

	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/hwdb"
	"github.com/ovn-vif-sidecar/ovn-vif-sidecar/providers"
)

// How long a doca_caps answer is trusted. A VUID's place only changes
// with a firmware reconfiguration; a failure is asked again sooner.
const (
	vuidTTL        = 10 * time.Minute
	vuidRetryAfter = 30 * time.Second
	maxVUIDEntries = 4096
)

// resolveVUIDWithDocaCaps asks doca_caps (through sriovnet; the binary
// is SRIOVNET_DOCA_CAPS_BIN or DOCA's default path) where a VUID's host
// PF is.
func resolveVUIDWithDocaCaps(vuid string) (hwdb.PFLocation, error) {
	p, err := sriovnet.GetRepresentorPortParamsFromVUID(vuid)
	if err != nil {
		return hwdb.PFLocation{}, err
	}
	return hwdb.PFLocation{ECPF: p.ECPF, Controller: p.ControllerNumber, PF: p.PFNumber}, nil
}

// vuidResolver caches VUID lookups. doca_caps is an external process
// that can take seconds, so Prepare answers from the cache, concurrent
// Prepares of one VUID share one call, and a Prepare whose deadline
// passes first gets a not-ready refusal and a Changed() when the answer
// arrives.
type vuidResolver struct {
	resolve func(string) (hwdb.PFLocation, error)
	changed func()
	now     func() time.Time

	mu      sync.Mutex
	entries map[string]*vuidEntry
	closed  bool
	calls   sync.WaitGroup
}

type vuidEntry struct {
	loc hwdb.PFLocation
	err error
	at  time.Time // when the last call ended; zero before the first
	// inflight is closed when the running call ends; nil when none runs.
	inflight  chan struct{}
	abandoned bool // a caller stopped waiting for the running call
}

func newVUIDResolver(resolve func(string) (hwdb.PFLocation, error), changed func()) *vuidResolver {
	return &vuidResolver{resolve: resolve, changed: changed, now: time.Now, entries: map[string]*vuidEntry{}}
}

func (e *vuidEntry) fresh(now time.Time) bool {
	if e.at.IsZero() {
		return false
	}
	if e.err != nil {
		return now.Sub(e.at) < vuidRetryAfter
	}
	return now.Sub(e.at) < vuidTTL
}

// lookup returns the VUID's host PF location, waiting for doca_caps at
// most until ctx is done.
func (r *vuidResolver) lookup(ctx context.Context, vuid string) (hwdb.PFLocation, error) {
	r.mu.Lock()
	e := r.entries[vuid]
	if e == nil {
		r.pruneLocked()
		e = &vuidEntry{}
		r.entries[vuid] = e
	}
	if e.fresh(r.now()) {
		defer r.mu.Unlock()
		return e.loc, e.err
	}
	if e.inflight == nil {
		if r.closed {
			r.mu.Unlock()
			return hwdb.PFLocation{}, providers.NotReady("representor provider is shutting down")
		}
		e.inflight = make(chan struct{})
		r.calls.Add(1)
		go r.call(vuid, e)
	}
	// An expired good answer is served while it is refreshed.
	if !e.at.IsZero() && e.err == nil {
		defer r.mu.Unlock()
		return e.loc, nil
	}
	done := e.inflight
	r.mu.Unlock()
	select {
	case <-done:
		r.mu.Lock()
		defer r.mu.Unlock()
		return e.loc, e.err
	case <-ctx.Done():
		r.mu.Lock()
		e.abandoned = true
		r.mu.Unlock()
		return hwdb.PFLocation{}, providers.NotReady("%s=%s: doca_caps has not answered yet (%v)", OptVUID, vuid, ctx.Err())
	}
}

func (r *vuidResolver) call(vuid string, e *vuidEntry) {
	defer r.calls.Done()
	loc, err := r.resolve(vuid)
	if err != nil {
		err = providers.NotReady("%s=%s: %v", OptVUID, vuid, err)
	}
	r.mu.Lock()
	differs := e.at.IsZero() || loc != e.loc || (err == nil) != (e.err == nil)
	notify := (e.abandoned || differs) && !r.closed
	e.loc, e.err, e.at = loc, err, r.now()
	close(e.inflight)
	e.inflight, e.abandoned = nil, false
	r.mu.Unlock()
	if notify {
		r.changed()
	}
}

// pruneLocked bounds the cache: VUIDs come from the CMS.
func (r *vuidResolver) pruneLocked() {
	if len(r.entries) < maxVUIDEntries {
		return
	}
	now := r.now()
	for k, e := range r.entries {
		if e.inflight == nil && !e.fresh(now) {
			delete(r.entries, k)
		}
	}
}

// close stops new calls and waits for running ones; doca_caps is run
// with a deadline of its own, so this is bounded.
func (r *vuidResolver) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.calls.Wait()
}
