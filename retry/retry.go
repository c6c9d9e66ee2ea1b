// Package retry owns how amigo waits before trying again: exponential
// backoff with full jitter, and a wait that a context ends. Every loop
// that retries a meter, the bus or the store paces itself with it, so a
// fleet of failures spreads out instead of retrying in step.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff returns the wait before attempt n+1 after n failures (n ≥ 1):
// drawn uniformly from (0, c], where c is base doubled n-1 times, at most
// ceiling. Full jitter keeps many clients that failed together from retrying
// together.
func Backoff(base, ceiling time.Duration, n int) time.Duration {
	c := base << min(max(n-1, 0), 20)
	if c <= 0 || c > ceiling {
		c = ceiling
	}
	if c <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(c)) + 1)
}

// Wait blocks for d or until ctx ends, and returns ctx's error if it
// ended first. A d of zero or less returns at once.
func Wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
