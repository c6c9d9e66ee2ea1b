package headend

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/store"
)

// counterBatch groups the invocation counter reservations of concurrent
// sessions into one store transaction. Every ciphered session reserves
// before its first APDU, so a collection run at full concurrency would
// otherwise queue hundreds of one-row write transactions on the store,
// each waiting for the last.
//
// The first caller to find no batch in progress writes what is pending,
// its own included; callers arriving meanwhile wait for it. What arrived
// during a write is written by a goroutine of its own, so no caller keeps
// writing for others after its own answer is in.
type counterBatch struct {
	st Store

	mu      sync.Mutex
	pending []*reservation
	busy    bool
}

type reservation struct {
	req   store.CounterReservation
	first uint64
	err   error
	done  chan struct{}
}

// reserveTimeout bounds one batched write: it runs for several callers, so
// no single caller's deadline may cut it short.
const reserveTimeout = 30 * time.Second

func (b *counterBatch) reserve(ctx context.Context, meterID, name string, n uint32) (uint64, error) {
	if meterID == "" || name == "" || n == 0 {
		// Refused here, so that a batch fails only when the store does.
		return 0, fmt.Errorf("counter reservation of meter %q, counter %q: meter, name and a count are required", meterID, name)
	}
	r := &reservation{req: store.CounterReservation{MeterID: meterID, Name: name, N: n}, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	lead := !b.busy
	b.busy = true
	b.mu.Unlock()
	if lead {
		b.flush(ctx)
	}
	select {
	case <-r.done:
		return r.first, r.err
	case <-ctx.Done():
		// The reservation may still be made: values skipped, never reused.
		return 0, ctx.Err()
	}
}

// flush writes one batch, then hands what is left to a goroutine.
func (b *counterBatch) flush(ctx context.Context) {
	b.mu.Lock()
	batch := b.pending
	b.pending = nil
	b.mu.Unlock()
	reqs := make([]store.CounterReservation, len(batch))
	for i, r := range batch {
		reqs[i] = r.req
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reserveTimeout)
	firsts, err := b.st.ReserveCounters(wctx, reqs)
	cancel()
	// A failed batch fails every caller in it: the store is unavailable
	// or busy, and writing the requests one by one would only wait out
	// its busy timeout once per request while every session waits.
	for i, r := range batch {
		if err != nil {
			r.err = err
		} else {
			r.first = firsts[i]
		}
		close(r.done)
	}
	b.mu.Lock()
	more := len(b.pending) > 0
	if !more {
		b.busy = false
	}
	b.mu.Unlock()
	if more {
		go b.flush(context.WithoutCancel(ctx))
	}
}
