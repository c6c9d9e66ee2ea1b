package security

import (
	"encoding/binary"
	"fmt"
	"sync"
)

// Counter issues the sending invocation counter of one key. Values are
// strictly increasing; 0xFFFFFFFF is never issued, it marks exhaustion, after
// which the key must be renewed (AES-GCM must never reuse an IV).
//
// Persist, when set, is called with the value the counter must resume from
// after a restart, before any value below it is handed out. With Window 0 or
// 1 that is every call (Persist(v+1) before v is returned); with a larger
// Window the counter reserves Window values per Persist call, trading a
// possible gap of up to Window-1 values after a crash for fewer writes. If
// Persist fails, no value is issued and the counter does not move.
//
// A Counter is safe for concurrent use.
type Counter struct {
	// Persist stores the resume point durably. Optional.
	Persist func(next uint32) error
	// Window is how many values one Persist call reserves (0 means 1).
	Window uint32

	mu       sync.Mutex
	next     uint32 // next value to issue
	reserved uint32 // values below this are covered by a Persist call
}

// NewCounter returns a counter whose first issued value is next (typically
// the persisted resume point).
func NewCounter(next uint32, persist func(next uint32) error) *Counter {
	return &Counter{Persist: persist, next: next, reserved: next}
}

// Next issues the next invocation counter value.
func (c *Counter) Next() (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.next
	if v == 0xFFFFFFFF {
		return 0, errOp("counter", ErrCounterExhausted)
	}
	if c.Persist == nil {
		c.next++
		c.reserved = c.next
		return v, nil
	}
	if v >= c.reserved {
		w := uint64(c.Window)
		if w == 0 {
			w = 1
		}
		mark := uint64(v) + w
		if mark > 0xFFFFFFFF {
			mark = 0xFFFFFFFF
		}
		if err := c.Persist(uint32(mark)); err != nil {
			return 0, errOp("counter", fmt.Errorf("persisting invocation counter: %w", err))
		}
		c.reserved = uint32(mark)
	}
	c.next++
	return v, nil
}

// AdvanceTo moves the counter forward so that the next value issued is
// at least v, as when a peer says it expects v (invocation counter
// resynchronisation). It never moves back: a v at or below the next value
// changes nothing. The values skipped are never issued. With Persist set,
// the next call of Next persists v plus Window in one call, so a jump
// costs one write however far it goes. v = 0xFFFFFFFF exhausts the
// counter and is refused with ErrCounterExhausted.
func (c *Counter) AdvanceTo(v uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v == 0xFFFFFFFF {
		return errOp("counter", ErrCounterExhausted)
	}
	if v > c.next {
		c.next = v
	}
	return nil
}

// Peek returns the value Next would issue, without issuing it.
func (c *Counter) Peek() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.next
}

// ReplayGuard tracks the invocation counter received from one peer under
// one key and rejects any value not above the last accepted one. The zero
// value accepts any first counter.
//
// The guard only advances on frames whose authentication tag verified, so
// a forged frame with a huge counter cannot lock out the genuine sender.
// Frames without authentication (encryption-only or no protection) are
// refused with ErrNotAuthenticated unless AllowUnauthenticated is set, in
// which case they are checked and accepted on the sender's word.
//
// A ReplayGuard is safe for concurrent use.
type ReplayGuard struct {
	// AllowUnauthenticated admits frames without a GMAC tag.
	AllowUnauthenticated bool

	mu   sync.Mutex
	last uint32
	seen bool
}

// NewReplayGuard returns a guard that rejects counters <= last.
func NewReplayGuard(last uint32) *ReplayGuard {
	return &ReplayGuard{last: last, seen: true}
}

// Check reports ErrReplay if ic is not above the last accepted value. It
// does not record ic.
func (g *ReplayGuard) Check(ic uint32) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.check(ic)
}

func (g *ReplayGuard) check(ic uint32) error {
	if g.seen && ic <= g.last {
		return errOp("replay guard", fmt.Errorf("%w: %d <= last accepted %d", ErrReplay, ic, g.last))
	}
	return nil
}

// Accept records ic as the last accepted value, failing with ErrReplay if
// another frame raced it past ic. Call it only after the frame's
// authentication tag has verified.
func (g *ReplayGuard) Accept(ic uint32) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.check(ic); err != nil {
		return err
	}
	g.last, g.seen = ic, true
	return nil
}

// Last returns the last accepted counter and whether any was accepted.
func (g *ReplayGuard) Last() (uint32, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last, g.seen
}

// Decrypt is [AppendDecrypt] with replay protection: the counter is
// checked before deciphering and recorded only after the tag verified.
func (g *ReplayGuard) Decrypt(dst []byte, keys Keys, systemTitle, ciphered []byte) ([]byte, Header, error) {
	if h, ok := peekHeader(ciphered); ok {
		if err := g.admit(h); err != nil {
			return dst, Header{}, err
		}
	}
	n := len(dst)
	out, h, err := AppendDecrypt(dst, keys, systemTitle, ciphered)
	if err != nil {
		return out, h, err
	}
	if err := g.Accept(h.IC); err != nil {
		clear(out[n:])
		return out[:n], h, err
	}
	return out, h, nil
}

// Unwrap is [Unwrap] with replay protection (see Decrypt).
func (g *ReplayGuard) Unwrap(dst []byte, keys Keys, systemTitle, apdu []byte) ([]byte, Unwrapped, error) {
	_, _, _, content, err := ParseCiphered(apdu)
	if h, ok := peekHeader(content); ok && err == nil {
		if err := g.admit(h); err != nil {
			return dst, Unwrapped{}, err
		}
	}
	n := len(dst)
	out, u, err := Unwrap(dst, keys, systemTitle, apdu)
	if err != nil {
		return out, u, err
	}
	if err := g.Accept(u.Header.IC); err != nil {
		clear(out[n:])
		return out[:n], u, err
	}
	return out, u, nil
}

func (g *ReplayGuard) admit(h Header) error {
	if !h.SC.Authenticated() && !g.AllowUnauthenticated {
		return errOp("replay guard", fmt.Errorf("%w: %v", ErrNotAuthenticated, h.SC))
	}
	return g.Check(h.IC)
}

// peekHeader reads SC and IC so the counter can be checked before any
// deciphering work.
func peekHeader(content []byte) (Header, bool) {
	if len(content) < HeaderSize {
		return Header{}, false
	}
	return Header{SC: SecurityControl(content[0]), IC: binary.BigEndian.Uint32(content[1:HeaderSize])}, true
}
