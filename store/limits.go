package store

import (
	"context"
	"time"
)

// Bucket names a token bucket and its shape: it holds at most Burst
// tokens and gains one every Every. A bucket never used, or left alone
// until full again, is full.
type Bucket struct {
	Key   string
	Every time.Duration
	Burst int
}

// Limits keeps rate-limit buckets and trusted pairs where every node of a
// cluster sees them, so that a limit holds for the cluster as a whole and
// not once per node: the sign-in limits by source, by user at a source and
// by user, and the sources a user signed in from lately.
//
// Every method takes the time as an argument rather than reading a clock,
// so that nodes agree on a bucket only as far as their clocks do, and
// tests can drive the time.
type Limits interface {
	// TakeTokens takes one token from each bucket at now, or none when one
	// of them is empty; takes by several nodes at once never grant more
	// than a bucket holds. When refused, next is the earliest time the
	// bucket that refused has a token again.
	TakeTokens(ctx context.Context, now time.Time, buckets ...Bucket) (granted bool, next time.Time, err error)
	// ReturnTokens gives back one token to each bucket, as when what was
	// charged turns out not to count; a bucket never grows past its
	// burst.
	ReturnTokens(ctx context.Context, now time.Time, buckets ...Bucket) error
	// Trust records that key (a user at a source) signed in at at.
	Trust(ctx context.Context, key string, at time.Time) error
	// TrustedAt is when key last signed in, zero when never (or forgotten).
	TrustedAt(ctx context.Context, key string) (time.Time, error)
	// ForgetLimits forgets the buckets full again at now, and the trust
	// recorded before trustedBefore, and returns how many it forgot.
	ForgetLimits(ctx context.Context, now, trustedBefore time.Time) (int, error)
	// CountBuckets is how many buckets are remembered, full or not.
	CountBuckets(ctx context.Context) (int, error)
}
