package dlmsdriver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/obis"
)

// PushCounter names the counter that guards a meter's pushes against
// replay.
const PushCounter = "dlms/push/ic"

// DecodePush implements headend.PushDecoder. Only pushes that carry the
// sender's system title (general-glo-ciphering) are accepted: a push in
// clear, or service-specific ciphered without a title, says nothing
// trustworthy about who sent it.
func (d *Driver) DecodePush(ctx context.Context, b []byte, sender headend.Sender) (headend.Push, error) {
	_, _, title, _, err := security.ParseCiphered(b)
	if err != nil {
		return headend.Push{}, fmt.Errorf("push is not a ciphered APDU with a sender (%v): %w", err, dlms.ErrProtocol)
	}
	if len(title) != security.SystemTitleSize {
		return headend.Push{}, fmt.Errorf("push without the sender's system title: %w", dlms.ErrProtocol)
	}
	m, sec, err := sender(ctx, title)
	if err != nil {
		return headend.Push{}, err
	}
	var keys security.Keys
	if keys.Unicast, err = security.NewKey(sec.EK); err != nil {
		return headend.Push{}, fmt.Errorf("meter %s: ek: %w", m.MRID, err)
	}
	if keys.Authentication, err = security.NewKey(sec.AK); err != nil {
		return headend.Push{}, fmt.Errorf("meter %s: ak: %w", m.MRID, err)
	}
	plain, u, err := security.Unwrap(nil, keys, title, b)
	if err != nil {
		if errors.Is(err, security.ErrAuthentication) {
			return headend.Push{}, fmt.Errorf("meter %s: push does not authenticate: %w", m.MRID, dlms.ErrAuthenticationFailed)
		}
		return headend.Push{}, fmt.Errorf("meter %s: push: %v: %w", m.MRID, err, dlms.ErrProtocol)
	}
	if !u.Header.SC.Authenticated() {
		return headend.Push{}, fmt.Errorf("meter %s: push without authentication refused: %w", m.MRID, dlms.ErrAuthenticationFailed)
	}
	a, err := apdu.Decode(plain)
	if err != nil {
		return headend.Push{}, fmt.Errorf("meter %s: push: %v: %w", m.MRID, err, dlms.ErrProtocol)
	}
	p := headend.Push{MeterID: m.MRID, CounterName: PushCounter, Counter: uint64(u.Header.IC)}
	loc := time.UTC
	var at time.Time
	var body axdr.Data
	switch n := a.(type) {
	case *apdu.DataNotification:
		body = n.Body
		if dt, err := axdr.ParseDateTime(n.DateTime); err == nil {
			at, _ = dt.TimeIn(loc)
		}
	case *apdu.EventNotificationRequest:
		body = n.Value
		if dt, err := axdr.ParseDateTime(n.Time); err == nil {
			at, _ = dt.TimeIn(loc)
		}
	default:
		return headend.Push{}, fmt.Errorf("meter %s: %s is not a notification: %w", m.MRID, a.Kind(), dlms.ErrProtocol)
	}
	setup, code, when, ok := pushContent(body)
	if !when.IsZero() {
		at = when
	}
	if at.IsZero() {
		at = time.Now()
	}
	e := cim.EndDeviceEvent{MRID: fmt.Sprintf("%s/push/%d", m.MRID, u.Header.IC), MeterID: m.MRID, CreatedAt: at.UTC(),
		Details: map[string]string{"source": "push", "push_setup": setup.String()}}
	if ok {
		e.Code = int(code)
		e.Type, e.Reason, e.Severity = EventKind(code)
	} else {
		e.Type, e.Reason, e.Severity = "3.0.0.0", "push without an event code", "info"
	}
	p.Events = append(p.Events, e)
	return p, nil
}

// pushContent finds, in a pushed structure, the push setup's logical name
// (an octet string of 6), the event code (the first unsigned integer) and
// the time stamp (a date-time) — the shape IDIS alarm and last-gasp pushes
// have.
func pushContent(d axdr.Data) (setup obis.Code, code uint64, at time.Time, ok bool) {
	var walk func(axdr.Data)
	walk = func(d axdr.Data) {
		switch d.Tag {
		case axdr.TagStructure, axdr.TagArray:
			for _, it := range d.Items {
				walk(it)
			}
		case axdr.TagOctetString, axdr.TagDateTime:
			if len(d.Bytes) == 6 && setup == (obis.Code{}) {
				copy(setup[:], d.Bytes)
			}
			if dt, isDT := d.DateTime(); isDT && at.IsZero() {
				if t, err := dt.Time(); err == nil {
					at = t
				}
			}
		case axdr.TagUint8, axdr.TagUint16, axdr.TagUint32, axdr.TagEnum:
			if !ok {
				code, ok = d.Uint()
			}
		}
	}
	walk(d)
	return
}
