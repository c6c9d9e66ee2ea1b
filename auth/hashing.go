package auth

import (
	"context"
	"errors"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrBusy says the server is hashing as many passwords as it lets wait,
// and the sign-in was not tried: the client may try again in a second.
var ErrBusy = errors.New("too many sign-ins at once; try again in a moment")

// Hashing bounds: a sign-in waits at most maxHashWait for a hashing slot,
// behind at most MaxQueued others.
const maxHashWait = 5 * time.Second

// hashGate bounds the memory password hashing holds. Each argon2id hash
// allocates its whole memory cost afresh (x/crypto offers no way to reuse
// it), and under a high GOGC that garbage piles up for several hundred
// megabytes before the collector runs: the collector's goal counts the
// hashes live at its last mark, so a few hashes in flight raise it by
// several times their size. The gate lets few hashes run at once, refuses
// rather than queues a burst, and asks for a collection once finished
// hashes have left as much garbage as run at once since the last one.
type hashGate struct {
	slots   chan struct{} // one per hash running
	waiting chan struct{} // one per sign-in running or waiting
	// garbageHashes is how many finished hashes trigger a collection: as
	// many as run at once, so garbage never outgrows the hashes in flight.
	garbageHashes int64

	mu      sync.Mutex
	garbage int64  // bytes of hashes finished since the collector last ran
	cycles  uint64 // the collector's cycle count when garbage was last reset
	running atomic.Bool
	forced  atomic.Int64 // collections asked for, for tests and metrics
}

func newHashGate(running, queued int) *hashGate {
	return &hashGate{slots: make(chan struct{}, running), waiting: make(chan struct{}, running+queued),
		garbageHashes: int64(running)}
}

// enter takes a hashing slot for an unauthenticated caller: it fails at
// once with ErrBusy when the queue is full, and after maxHashWait when
// the hashes ahead are slow.
func (g *hashGate) enter(ctx context.Context) error {
	select {
	case g.waiting <- struct{}{}:
	default:
		return ErrBusy
	}
	t := time.NewTimer(maxHashWait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-t.C:
		<-g.waiting
		return ErrBusy
	case <-ctx.Done():
		<-g.waiting
		return ctx.Err()
	}
}

// wait takes a hashing slot for a signed-in caller (setting a password),
// who waits as long as ctx allows rather than being refused.
func (g *hashGate) wait(ctx context.Context) error {
	select {
	case g.waiting <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		<-g.waiting
		return ctx.Err()
	}
}

// leave gives the slot back; memKiB is the memory the finished hash held.
func (g *hashGate) leave(memKiB uint32) {
	// A collection asked for runs while this hash still holds its slot,
	// so that the hashes allocated meanwhile are few.
	g.collectAfter(int64(memKiB) << 10)
	<-g.slots
	<-g.waiting
}

var gcCycles = []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}

func (g *hashGate) collectAfter(bytes int64) {
	g.mu.Lock()
	metrics.Read(gcCycles)
	if c := gcCycles[0].Value.Uint64(); c != g.cycles {
		// The collector ran on its own: what was garbage is gone.
		g.cycles, g.garbage = c, 0
	}
	g.garbage += bytes
	over := g.garbage >= g.garbageHashes*bytes
	if over {
		g.garbage = 0
	}
	g.mu.Unlock()
	if over && g.running.CompareAndSwap(false, true) {
		defer g.running.Store(false)
		g.forced.Add(1)
		runtime.GC()
	}
}

// hashMemKiB is the memory cost a stored hash names, for the gate's
// bookkeeping; the current cost when it names none that can be read.
func hashMemKiB(hash string) uint32 {
	parts := strings.Split(hash, "$")
	if len(parts) == 6 {
		if m, ok := strings.CutPrefix(strings.Split(parts[3], ",")[0], "m="); ok {
			if n, err := strconv.ParseUint(m, 10, 32); err == nil && n <= maxMemoryKiB {
				return uint32(n)
			}
		}
	}
	return Argon2Params.MemoryKiB
}
