package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// twoNodes returns two services, each on its own handle of one database,
// as two API nodes are, on one clock.
func twoNodes(t *testing.T) (a, b *Service, clk *clock) {
	t.Helper()
	st, path := storetest.OpenSQLite(t)
	st2 := storetest.Reopen(t, path)
	clk = &clock{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	var err error
	if a, err = New(st.(store.Users), Options{Now: clk.Now, MaxQueued: 32}); err != nil {
		t.Fatal(err)
	}
	if b, err = New(st2.(store.Users), Options{Now: clk.Now, MaxQueued: 32}); err != nil {
		t.Fatal(err)
	}
	return a, b, clk
}

// Wrong passwords sent to two nodes at once from one source fail no more
// often than the user's limit at that source allows on one node.
func TestSignInLimitsHoldAcrossNodes(t *testing.T) {
	a, b, _ := twoNodes(t)
	ctx := context.Background()
	if _, err := a.CreateUser(ctx, "olga", "operator password 1", Operator, nil); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	failed, refused := 0, 0
	var wg sync.WaitGroup
	for i := range 16 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.Login(ctx, "olga", "not her password", "192.0.2.9")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrBadCredentials):
				failed++
			case errors.Is(err, ErrTooMany):
				refused++
			default:
				t.Errorf("sign-in: %v", err)
			}
		}()
	}
	wg.Wait()
	if failed != pairBurst || refused != 16-pairBurst {
		t.Fatalf("%d failed and %d refused over two nodes, want %d and %d", failed, refused, pairBurst, 16-pairBurst)
	}
}

// A source the user signed in from on one node is trusted on the other:
// guessers who spent the user's ceiling do not lock her out there.
func TestTrustedSourceKnownToEveryNode(t *testing.T) {
	a, b, _ := twoNodes(t)
	ctx := context.Background()
	if _, err := a.CreateUser(ctx, "olga", "operator password 1", Operator, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Login(ctx, "olga", "operator password 1", "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	// Guessers spend her ceiling over many sources and both nodes.
	spent := 0
	for src := 0; spent < userBurst; src++ {
		for range pairBurst {
			s := a
			if spent%2 == 1 {
				s = b
			}
			_, _, err := s.Login(ctx, "olga", "a guess at it", fmt.Sprintf("198.51.%d.%d", src/250, src%250+1))
			if !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("guess %d: %v", spent, err)
			}
			spent++
		}
	}
	if _, _, err := b.Login(ctx, "olga", "operator password 1", "203.0.113.1"); !errors.Is(err, ErrTooMany) {
		t.Fatalf("a new source past her ceiling, on B: %v", err)
	}
	if _, _, err := b.Login(ctx, "olga", "operator password 1", "192.0.2.7"); err != nil {
		t.Fatalf("her own source, trusted on A, on B: %v", err)
	}
}
