package mdm

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
)

// badMessage is a message that can never be stored as it is: it goes to
// the dead letters instead of being retried.
type badMessage struct{ reason string }

func (e *badMessage) Error() string { return e.reason }

func bad(format string, args ...any) error { return &badMessage{fmt.Sprintf(format, args...)} }

// message is one decoded bus message: exactly one field is set.
type message struct {
	block     *cim.IntervalBlock
	registers []cim.Reading
	event     *cim.EndDeviceEvent
}

// meter is the meter the message is about.
func (m message) meter() string {
	switch {
	case m.block != nil:
		return m.block.MeterID
	case m.event != nil:
		return m.event.MeterID
	case len(m.registers) > 0:
		return m.registers[0].MeterID
	}
	return ""
}

// Limits on identifiers, so that a message cannot smuggle in a string the
// store would refuse (PostgreSQL rejects NUL) and then fail every retry.
const (
	maxIDLen   = 256
	maxTextLen = 4096
)

// decode reads a message as the bus contract names it (bus.Decode:
// shape, and that the payload's meter is the subject's) and checks its
// identifiers; values and times are the ingest's to judge. Only the
// messages the ingest takes are accepted.
func decode(subject string, data []byte) (message, error) {
	m, err := bus.Decode(subject, data)
	if err != nil {
		if errors.Is(err, bus.ErrUnknownSubject) {
			return message{}, bad("no ingest for subject %q", subject)
		}
		return message{}, bad("%v", err)
	}
	switch m := m.(type) {
	case bus.Intervals:
		b := cim.IntervalBlock(m)
		if err := checkBlock(&b, bus.SafeToken(b.MeterID)); err != nil {
			return message{}, err
		}
		return message{block: &b}, nil
	case bus.Registers:
		rs := []cim.Reading(m)
		if len(rs) > 0 {
			if err := checkRegisterReads(rs, bus.SafeToken(rs[0].MeterID)); err != nil {
				return message{}, err
			}
		}
		return message{registers: rs}, nil
	case bus.Event:
		e := cim.EndDeviceEvent(m)
		if err := checkEvent(&e, bus.SafeToken(e.MeterID)); err != nil {
			return message{}, err
		}
		return message{event: &e}, nil
	}
	return message{}, bad("no ingest for %s on %q", m.Topic(), subject)
}

// checkBlock checks a decoded interval block published on the subject of
// the meter whose subject token is token.
func checkBlock(b *cim.IntervalBlock, token string) error {
	if err := checkMeter(b.MeterID, token); err != nil {
		return err
	}
	if err := checkID("reading type", b.ReadingType.ID); err != nil {
		return bad("meter %s: %v", b.MeterID, err)
	}
	return nil
}

// checkRegisterReads checks decoded register reads published on the
// subject of the meter whose subject token is token.
func checkRegisterReads(rs []cim.Reading, token string) error {
	for i, r := range rs {
		if err := checkMeter(r.MeterID, token); err != nil {
			return bad("register read %d: %v", i, err)
		}
		if err := checkID("reading type", r.ReadingType); err != nil {
			return bad("meter %s: register read %d: %v", r.MeterID, i, err)
		}
		if r.TimeStamp.IsZero() {
			return bad("meter %s: register read %d (%s) has no time", r.MeterID, i, r.ReadingType)
		}
	}
	return nil
}

// checkEvent checks a decoded event published on the subject of the meter
// whose subject token is token.
func checkEvent(e *cim.EndDeviceEvent, token string) error {
	if err := checkMeter(e.MeterID, token); err != nil {
		return err
	}
	if err := checkID("event mRID", e.MRID); err != nil {
		return bad("meter %s: %v", e.MeterID, err)
	}
	if e.CreatedAt.IsZero() {
		return bad("meter %s: event %s has no time", e.MeterID, e.MRID)
	}
	for _, s := range []string{string(e.Type), e.Reason, e.Severity} {
		if err := checkText("event "+e.MRID, s); err != nil {
			return bad("meter %s: %v", e.MeterID, err)
		}
	}
	for k, v := range e.Details {
		if err := checkText("event "+e.MRID+" detail", k+v); err != nil {
			return bad("meter %s: %v", e.MeterID, err)
		}
	}
	return nil
}

// checkMeter checks a payload's meter id, and that the subject it came on
// is that meter's: a mismatch is a routing bug upstream, not something to
// store under either name.
func checkMeter(id, token string) error {
	if err := checkID("meter", id); err != nil {
		return bad("%v", err)
	}
	if bus.SafeToken(id) != token {
		return bad("meter %s published on the subject of meter %s", id, token)
	}
	return nil
}

func checkID(what, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("no %s", what)
	case len(s) > maxIDLen:
		return fmt.Errorf("%s of %d bytes (at most %d)", what, len(s), maxIDLen)
	}
	return checkText(what, s)
}

func checkText(what, s string) error {
	switch {
	case len(s) > maxTextLen:
		return fmt.Errorf("%s: text of %d bytes (at most %d)", what, len(s), maxTextLen)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%s %q contains NUL", what, s)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s %q is not UTF-8", what, s)
	}
	return nil
}
