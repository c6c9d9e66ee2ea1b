package meter

import (
	"errors"
	"fmt"
	"time"
)

// Persister stores a meter's invocation counters so they survive a
// simulator restart. The meter calls it before handing out or accepting a
// counter value the stored state does not yet cover; if it fails, the
// value is not used.
type Persister interface {
	PersistCounters(meter uint64, c Counters) error
}

// Counters is the persisted invocation counter state. Send is the next
// server counter the meter may use after a restart (everything below it
// may already have been used); Clients are the last accepted counters per
// client SAP.
type Counters struct {
	Send    uint32
	Clients []ClientCounter
	// Command is the last originator counter accepted on a signed
	// command (0: none yet).
	Command uint64
}

// ClientCounter is the last invocation counter accepted from one client.
type ClientCounter struct {
	Client uint16
	Last   uint32
}

// Errors of the security state.
var (
	ErrCounterExhausted = errors.New("meter: invocation counter exhausted")
	ErrCounterReplay    = errors.New("meter: invocation counter not above the last accepted")
	ErrLocked           = errors.New("meter: authentication locked out")
)

type security struct {
	next, reserved uint32
	clients        []ClientCounter
	command        uint64
	failures       uint16
	lockedUntil    int64 // unix ns
}

func (m *Meter) sec() *security {
	s := m.s()
	if s.sec == nil {
		// A meter fresh from the field already has some counter history.
		start := uint32(m.r(1, saltInitial) >> 44)
		s.sec = &security{next: start, reserved: start}
	}
	return s.sec
}

// RestoreCounters reinstates persisted counters after a restart: the
// next send counter is c.Send, so values stay strictly increasing.
func (m *Meter) RestoreCounters(c Counters) {
	sec := m.sec()
	sec.next, sec.reserved = c.Send, c.Send
	sec.clients = append(sec.clients[:0], c.Clients...)
	sec.command = c.Command
}

// Counters returns the state a Persister would store now.
func (m *Meter) Counters() Counters {
	sec := m.sec()
	return Counters{Send: sec.reserved, Clients: append([]ClientCounter(nil), sec.clients...), Command: sec.command}
}

func (m *Meter) persist(c Counters) error {
	if m.f.Persister == nil {
		return nil
	}
	if err := m.f.Persister.PersistCounters(m.id, c); err != nil {
		return fmt.Errorf("meter %d: persist invocation counters: %w", m.id, err)
	}
	return nil
}

// NextSendCounter returns the invocation counter for the meter's next
// protected APDU. Counters are reserved in blocks of Fleet.CounterBlock:
// the Persister is called when a block is used up, before its first
// value is handed out.
func (m *Meter) NextSendCounter() (uint32, error) {
	sec := m.sec()
	if sec.next == ^uint32(0) {
		return 0, fmt.Errorf("meter %d: %w", m.id, ErrCounterExhausted)
	}
	if sec.next >= sec.reserved {
		res := uint64(sec.next) + uint64(m.f.CounterBlock)
		if res > uint64(^uint32(0)) {
			res = uint64(^uint32(0))
		}
		c := m.Counters()
		c.Send = uint32(res)
		if err := m.persist(c); err != nil {
			return 0, err
		}
		sec.reserved = uint32(res)
	}
	ic := sec.next
	sec.next++
	return ic, nil
}

// AcceptClientCounter checks a client's invocation counter against replay
// (it must exceed the last accepted one) and persists it before accepting.
func (m *Meter) AcceptClientCounter(client uint16, ic uint32) error {
	sec := m.sec()
	i := 0
	for i < len(sec.clients) && sec.clients[i].Client != client {
		i++
	}
	if i < len(sec.clients) && ic <= sec.clients[i].Last {
		return fmt.Errorf("meter %d client %d: counter %d after %d: %w", m.id, client, ic, sec.clients[i].Last, ErrCounterReplay)
	}
	c := m.Counters()
	if i < len(c.Clients) {
		c.Clients[i].Last = ic
	} else {
		c.Clients = append(c.Clients, ClientCounter{Client: client, Last: ic})
	}
	if err := m.persist(c); err != nil {
		return err
	}
	sec.clients = c.Clients
	return nil
}

// AuthAllowed returns ErrLocked (wrapped, with the end of the lockout)
// while low-level-security authentication is locked out.
func (m *Meter) AuthAllowed(now time.Time) error {
	if m.st == nil || m.st.sec == nil {
		return nil
	}
	if u := m.st.sec.lockedUntil; now.UnixNano() < u {
		return fmt.Errorf("meter %d: until %s: %w", m.id, time.Unix(0, u).UTC().Format(time.RFC3339), ErrLocked)
	}
	return nil
}

// AuthFailed records a failed LLS authentication. After LLSMaxFailures
// consecutive failures the meter locks authentication for LLSLockout and
// logs event 46 in the fraud log; it returns the lockout end (zero if not
// locked).
func (m *Meter) AuthFailed(now time.Time) time.Time {
	sec := m.sec()
	sec.failures++
	if m.f.LLSMaxFailures > 0 && int(sec.failures) >= m.f.LLSMaxFailures {
		sec.failures = 0
		sec.lockedUntil = now.Add(m.f.LLSLockout).UnixNano()
		m.logEvent(LogFraud, now, EventAuthFailure)
		return time.Unix(0, sec.lockedUntil)
	}
	return time.Time{}
}

// AuthSucceeded clears the consecutive failure count.
func (m *Meter) AuthSucceeded(time.Time) {
	if m.st != nil && m.st.sec != nil {
		m.st.sec.failures = 0
	}
}
