package mdm

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/intervalcodec"
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

// Limits on identifiers, so that a message cannot smuggle in a string the
// store would refuse (PostgreSQL rejects NUL) and then fail every retry.
const (
	maxIDLen   = 256
	maxTextLen = 4096
)

// decode reads a message by its subject, as the bus names them:
//
//	<ns>.readings.<meter>.intervals  cim.IntervalBlock
//	<ns>.readings.<meter>.registers  []cim.Reading
//	<ns>.events.<meter>              cim.EndDeviceEvent
//
// It checks shape and identifiers, and that the meter in the payload is
// the one in the subject; values and times are the ingest's to judge.
func decode(subject string, data []byte) (message, error) {
	tok := strings.Split(subject, ".")
	n := len(tok)
	switch {
	case n >= 4 && tok[n-3] == bus.Readings && tok[n-1] == bus.TypeIntervals:
		// Binary since the head-end switched; JSON from before stays
		// readable on a stream that still holds it.
		var b cim.IntervalBlock
		var err error
		if intervalcodec.IsBinary(data) {
			b, err = intervalcodec.Decode(data)
		} else {
			err = json.Unmarshal(data, &b)
		}
		if err != nil {
			return message{}, bad("interval block on %s does not decode: %v", subject, err)
		}
		if err := checkBlock(&b, tok[n-2]); err != nil {
			return message{}, err
		}
		return message{block: &b}, nil
	case n >= 4 && tok[n-3] == bus.Readings && tok[n-1] == bus.TypeRegisters:
		var rs []cim.Reading
		if err := json.Unmarshal(data, &rs); err != nil {
			return message{}, bad("register reads on %s do not decode: %v", subject, err)
		}
		if err := checkRegisterReads(rs, tok[n-2]); err != nil {
			return message{}, err
		}
		return message{registers: rs}, nil
	case n >= 3 && tok[n-2] == bus.Events:
		var e cim.EndDeviceEvent
		if err := json.Unmarshal(data, &e); err != nil {
			return message{}, bad("event on %s does not decode: %v", subject, err)
		}
		if err := checkEvent(&e, tok[n-1]); err != nil {
			return message{}, err
		}
		return message{event: &e}, nil
	}
	return message{}, bad("no ingest for subject %q", subject)
}

// checkMeter checks a payload's meter id, and that the subject it came on
// is that meter's: a mismatch is a routing bug upstream, not something to
// store under either name.
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
