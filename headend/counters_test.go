package headend

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// countingStore counts the batched reservation transactions.
type countingStore struct {
	store.Store
	batches atomic.Int64
}

func (c *countingStore) ReserveCounters(ctx context.Context, rs []store.CounterReservation) ([]uint64, error) {
	c.batches.Add(1)
	return c.Store.ReserveCounters(ctx, rs)
}

// Concurrent sessions' reservations share transactions, and every window
// is still disjoint from every other.
func TestCounterReservationsShareTransactions(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	cs := &countingStore{Store: st}
	b := &counterBatch{st: cs}
	ctx := context.Background()
	const callers, each, window = 64, 20, 32
	var mu sync.Mutex
	firsts := map[string][]uint64{}
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			meter := []string{"m1", "m2", "m3", "m4"}[i%4]
			for range each {
				f, err := b.reserve(ctx, meter, "dlms/1/ek", window)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				firsts[meter] = append(firsts[meter], f)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for meter, fs := range firsts {
		slices.Sort(fs)
		for i, f := range fs {
			if f != uint64(i*window) {
				t.Fatalf("%s: reservation %d starts at %d, want %d", meter, i, f, i*window)
			}
		}
	}
	if n := cs.batches.Load(); n >= callers*each {
		t.Errorf("%d transactions for %d reservations: none shared", n, callers*each)
	} else {
		t.Logf("%d reservations in %d transactions", callers*each, n)
	}

	// A bad request in a batch fails alone.
	bad := make(chan error, 1)
	var good sync.WaitGroup
	b.mu.Lock() // hold the batch so both requests land in the same one
	b.busy = true
	b.mu.Unlock()
	go func() { _, err := b.reserve(ctx, "", "dlms/1/ek", 1); bad <- err }()
	var goodFirst uint64
	var goodErr error
	good.Add(1)
	go func() { defer good.Done(); goodFirst, goodErr = b.reserve(ctx, "m1", "dlms/1/ek", 1) }()
	for {
		b.mu.Lock()
		n := len(b.pending)
		b.mu.Unlock()
		if n == 1 { // the good one: the bad one is refused before it queues
			break
		}
		runtime.Gosched()
	}
	b.flush(ctx)
	if err := <-bad; err == nil {
		t.Error("a reservation without a meter was made")
	}
	good.Wait()
	if goodErr != nil || goodFirst != uint64(each*callers/4*window) {
		t.Errorf("the good reservation beside a bad one: %d %v, want %d", goodFirst, goodErr, each*callers/4*window)
	}
}
