package osgp

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrLockedOut: the peer failed verification too often and is refused
// until its lockout ends.
var ErrLockedOut = errors.New("osgp: peer locked out after repeated digest failures")

// Alarm is raised when a peer's digest failures reach the guard's
// threshold.
type Alarm struct {
	Peer     string
	Failures int
	At       time.Time
	Until    time.Time // the lockout's end
}

// Guard rate-limits digest failures per peer. The published key-recovery
// attacks on the OMA digest need from a few to a few hundred verification
// queries, each a message whose digest the victim checks and whose
// acceptance the attacker observes; a guard locks a peer out once it has
// failed Threshold times within Window, raises an alarm, and refuses
// everything from it, good or bad, for Lockout, so the oracle answers no
// more. The zero value is ready with the defaults. It is safe for
// concurrent use.
type Guard struct {
	// Threshold is the number of failures within Window that locks a peer
	// out (0: 5).
	Threshold int
	Window    time.Duration // 0: 10 minutes
	Lockout   time.Duration // 0: 1 hour
	// OnAlarm, when set, is called (outside the guard's lock) with each
	// alarm.
	OnAlarm func(Alarm)
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	mu     sync.Mutex
	peers  map[string]*peerState
	alarms atomic.Uint64
	fails  atomic.Uint64
}

type peerState struct {
	failures []time.Time
	until    time.Time
}

func (g *Guard) params() (int, time.Duration, time.Duration, time.Time) {
	n, w, l := g.Threshold, g.Window, g.Lockout
	if n <= 0 {
		n = 5
	}
	if w <= 0 {
		w = 10 * time.Minute
	}
	if l <= 0 {
		l = time.Hour
	}
	now := time.Now()
	if g.Now != nil {
		now = g.Now()
	}
	return n, w, l, now
}

// Locked reports whether peer is locked out now.
func (g *Guard) Locked(peer string) bool {
	_, _, _, now := g.params()
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.peers[peer]
	return p != nil && now.Before(p.until)
}

// Fail records a digest failure of peer and reports whether the peer is
// now locked out.
func (g *Guard) Fail(peer string) bool {
	n, w, l, now := g.params()
	g.fails.Add(1)
	g.mu.Lock()
	if g.peers == nil {
		g.peers = map[string]*peerState{}
	}
	p := g.peers[peer]
	if p == nil {
		p = &peerState{}
		g.peers[peer] = p
	}
	if now.Before(p.until) {
		g.mu.Unlock()
		return true
	}
	kept := p.failures[:0]
	for _, t := range p.failures {
		if now.Sub(t) < w {
			kept = append(kept, t)
		}
	}
	p.failures = append(kept, now)
	if len(p.failures) < n {
		g.mu.Unlock()
		return false
	}
	a := Alarm{Peer: peer, Failures: len(p.failures), At: now, Until: now.Add(l)}
	p.until, p.failures = a.Until, nil
	g.alarms.Add(1)
	g.mu.Unlock()
	if g.OnAlarm != nil {
		g.OnAlarm(a)
	}
	return true
}

// Alarms is the number of alarms raised so far.
func (g *Guard) Alarms() uint64 { return g.alarms.Load() }

// Failures is the number of digest failures recorded so far.
func (g *Guard) Failures() uint64 { return g.fails.Load() }
