package stack

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Churn creates and deletes plugged logical switch ports through NB,
// recording when each was created and when its deletion was issued, so
// that a test can tell a wrongful unplug from a requested one. Names are
// never reused.
type Churn struct {
	s      *Stack
	sw     string
	prefix string
	// options returns the ovn-nbctl arguments that make name plugged
	// (for example lsp-set-options with vif-plug-type).
	options func(name string) []string
	n       int // only the churning goroutine uses it

	mu      sync.Mutex
	live    map[string]time.Time // created, not deleted
	deleted map[string]time.Time // when lsp-del was issued
	created map[string]time.Time
	err     error
}

// NewChurn returns a churn of ports named prefix<N> on switch sw.
func NewChurn(s *Stack, sw, prefix string, options func(name string) []string) *Churn {
	return &Churn{s: s, sw: sw, prefix: prefix, options: options,
		live: map[string]time.Time{}, deleted: map[string]time.Time{}, created: map[string]time.Time{}}
}

// Run churns until stop is closed: every interval it creates one or two
// ports (alternately) in one NB transaction and, once more than keep
// exist, deletes as many random ones. It stops at the first NB error,
// which Snapshot reports.
func (c *Churn) Run(stop <-chan struct{}, interval time.Duration, keep int) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(interval):
		}
		var names []string
		args := []string{"--may-exist", "ls-add", c.sw}
		for range 1 + i%2 {
			c.n++
			name := fmt.Sprintf("%s%05d", c.prefix, c.n)
			names = append(names, name)
			args = append(args, "--", "lsp-add", c.sw, name, "--")
			args = append(args, c.options(name)...)
		}
		at := time.Now()
		if _, err := c.s.NBCtlErr(args...); err != nil {
			c.fail(err)
			return
		}
		c.mu.Lock()
		for _, n := range names {
			c.live[n], c.created[n] = at, at
		}
		var del []string
		for range names {
			if len(c.live) <= keep {
				break
			}
			all := slices.Sorted(maps.Keys(c.live))
			victim := all[rand.IntN(len(all))]
			delete(c.live, victim)
			c.deleted[victim] = time.Now()
			if len(del) > 0 {
				del = append(del, "--")
			}
			del = append(del, "lsp-del", victim)
		}
		c.mu.Unlock()
		if len(del) > 0 {
			if _, err := c.s.NBCtlErr(del...); err != nil {
				c.fail(err)
				return
			}
		}
	}
}

func (c *Churn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

// Snapshot returns copies of the live, deleted and created ports, and the
// NB error that stopped the churn, if any.
func (c *Churn) Snapshot() (live, deleted, created map[string]time.Time, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.live), maps.Clone(c.deleted), maps.Clone(c.created), c.err
}
