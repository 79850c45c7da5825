// Package backoff computes the sidecar's retry delays.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Jittered is exponential, doubling from base up to max, with jitter: a
// delay in [d/2, d], so that a fleet that lost the same server spreads
// its attempts.
func Jittered(attempt int, base, max time.Duration) time.Duration {
	d := Cap(attempt, base, max)
	return d/2 + rand.N(d/2+1)
}

// Cap is the longest delay Jittered returns for attempt.
func Cap(attempt int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
