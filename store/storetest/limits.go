package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/store"
)

func testLimits(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	l, ok := s.(store.Limits)
	if !ok {
		t.Fatal("the store keeps no rate limits")
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	src := store.Bucket{Key: "ip:192.0.2.1", Every: 12 * time.Second, Burst: 3}
	user := store.Bucket{Key: "user:alice", Every: 12 * time.Second, Burst: 5}

	for i := range 3 {
		if ok, _, err := l.TakeTokens(ctx, now, src, user); err != nil || !ok {
			t.Fatalf("take %d: %v %v", i, ok, err)
		}
	}
	ok, next, err := l.TakeTokens(ctx, now, src, user)
	if err != nil || ok {
		t.Fatalf("fourth take from a burst of 3: %v %v", ok, err)
	}
	if want := now.Add(12 * time.Second); !next.Equal(want) {
		t.Fatalf("next token at %v, want %v", next, want)
	}
	// The refusal by the source took nothing from the user's bucket: two
	// remain of its five.
	for i := range 2 {
		if ok, _, err := l.TakeTokens(ctx, now, user); err != nil || !ok {
			t.Fatalf("user take %d: %v %v", i, ok, err)
		}
	}
	if ok, _, _ := l.TakeTokens(ctx, now, user); ok {
		t.Fatal("user's bucket gave a sixth token")
	}
	// A token comes back after one period.
	if ok, _, err := l.TakeTokens(ctx, now.Add(12*time.Second), src); err != nil || !ok {
		t.Fatalf("after a period: %v %v", ok, err)
	}
	if ok, _, _ := l.TakeTokens(ctx, now.Add(12*time.Second), src); ok {
		t.Fatal("two tokens after one period")
	}
	// A token given back may be taken again, and a bucket never holds
	// more than its burst however many are given back.
	if err := l.ReturnTokens(ctx, now.Add(12*time.Second), src); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := l.TakeTokens(ctx, now.Add(12*time.Second), src); err != nil || !ok {
		t.Fatalf("after a return: %v %v", ok, err)
	}
	later := now.Add(time.Hour)
	for range 10 {
		if err := l.ReturnTokens(ctx, later, src); err != nil {
			t.Fatal(err)
		}
	}
	granted := 0
	for range 10 {
		if ok, _, _ := l.TakeTokens(ctx, later, src); ok {
			granted++
		}
	}
	if granted != 3 {
		t.Fatalf("%d tokens from a full bucket of 3 given back 10 more", granted)
	}
	if _, _, err := l.TakeTokens(ctx, now, store.Bucket{Key: "x", Every: time.Second}); err == nil {
		t.Fatal("a bucket of burst 0 was accepted")
	}

	// Trust, and forgetting.
	if at, err := l.TrustedAt(ctx, "ip:192.0.2.1 user:alice"); err != nil || !at.IsZero() {
		t.Fatalf("never trusted: %v %v", at, err)
	}
	if err := l.Trust(ctx, "ip:192.0.2.1 user:alice", now); err != nil {
		t.Fatal(err)
	}
	if err := l.Trust(ctx, "ip:192.0.2.1 user:alice", now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if at, err := l.TrustedAt(ctx, "ip:192.0.2.1 user:alice"); err != nil || !at.Equal(now) {
		t.Fatalf("trusted at %v (%v), want %v: an older sign-in does not move it back", at, err, now)
	}
	if n, err := l.CountBuckets(ctx); err != nil || n != 2 {
		t.Fatalf("%d buckets, %v", n, err)
	}
	// At now+1h the source is full again (and the user's bucket too).
	forgot, err := l.ForgetLimits(ctx, now.Add(2*time.Hour), now)
	if err != nil || forgot != 2 {
		t.Fatalf("forgot %d, %v", forgot, err)
	}
	if at, _ := l.TrustedAt(ctx, "ip:192.0.2.1 user:alice"); !at.Equal(now) {
		t.Fatal("trust forgotten before its time")
	}
	if forgot, err := l.ForgetLimits(ctx, now.Add(2*time.Hour), now.Add(time.Second)); err != nil || forgot != 1 {
		t.Fatalf("forgot %d trusted, %v", forgot, err)
	}
	if n, _ := l.CountBuckets(ctx); n != 0 {
		t.Fatalf("%d buckets left", n)
	}
}

// Two handles on one database, as two nodes, take from the same buckets
// at once: together they are never granted more than a bucket holds.
func testLimitsConcurrentNodes(t *testing.T, o Opener) {
	a, where := o.Open(t)
	b := o.Reopen(t, where)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const burst = 10
	src := store.Bucket{Key: "ip:198.51.100.9", Every: time.Minute, Burst: burst}
	var granted atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		l := a.(store.Limits)
		if w%2 == 1 {
			l = b.(store.Limits)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6 {
				// Each taker's own bucket too, so that takes lock rows
				// in more than one order of asking.
				own := store.Bucket{Key: "user:u" + string(rune('a'+w)), Every: time.Minute, Burst: 100}
				bs := []store.Bucket{src, own}
				if i%2 == 1 {
					bs = []store.Bucket{own, src}
				}
				ok, _, err := l.TakeTokens(ctx, now, bs...)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					granted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if g := granted.Load(); g != burst {
		t.Fatalf("%d of 48 takes granted from a burst of %d over two handles", g, burst)
	}
}
