package meter

import (
	"errors"
	"fmt"
	"time"
)

// Fraud log events of signed commands, in the manufacturer-specific range
// of the event code tables (230-255), so the head-end collects them with
// the rest of the fraud log.
const (
	// EventCommandUnsigned: a critical command arrived without a valid
	// signature and was refused.
	EventCommandUnsigned EventCode = 231
	// EventCommandSignatureInvalid: a signed command did not verify
	// under any trusted key (forged, altered, or signed by a revoked
	// key) and was refused.
	EventCommandSignatureInvalid EventCode = 232
	// EventCommandReplayed: a signed command's originator counter was not
	// above the last one accepted (a replay, or out of order) and it was
	// refused.
	EventCommandReplayed EventCode = 233
)

// ErrCommandReplay is wrapped by AcceptCommandCounter for a counter at or
// below the last one accepted.
var ErrCommandReplay = errors.New("meter: originator counter not above the last accepted")

// AcceptCommandCounter checks a signed command's originator counter
// against replay (it must exceed the last accepted one) and persists it
// before accepting, as AcceptClientCounter does for invocation counters.
func (m *Meter) AcceptCommandCounter(n uint64) error {
	sec := m.sec()
	if n <= sec.command {
		return fmt.Errorf("meter %d: originator counter %d after %d: %w", m.id, n, sec.command, ErrCommandReplay)
	}
	c := m.Counters()
	c.Command = n
	if err := m.persist(c); err != nil {
		return err
	}
	sec.command = n
	return nil
}

// LastCommandCounter is the last originator counter accepted.
func (m *Meter) LastCommandCounter() uint64 { return m.sec().command }

// CommandRefused logs a refused command's event in the fraud log.
func (m *Meter) CommandRefused(now time.Time, code EventCode) {
	m.logEvent(LogFraud, now, code)
}
