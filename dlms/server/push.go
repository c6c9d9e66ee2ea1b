package server

import (
	"context"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
)

// PushPolicy says how the unsolicited APDUs of a push are protected.
type PushPolicy struct {
	// Policy is the protection applied; security.PolicyNone sends in clear.
	Policy security.Policy
	// Suite is the security suite of Keys.
	Suite security.Suite
	// Keys holds the unicast (or broadcast) and authentication keys of the
	// push destination.
	Keys security.Keys
	// Broadcast ciphers with the broadcast key.
	Broadcast bool
	// General forces general-glo-ciphering even where a service-specific
	// glo- tag exists (event-notification). A data-notification has no
	// service-specific form and always goes as general-glo-ciphering.
	General bool
}

// DataNotification builds a data-notification with a long invoke id, an
// optional time stamp (zero: absent) and the pushed values.
func DataNotification(invokeID uint32, at time.Time, body axdr.Data) *apdu.DataNotification {
	n := &apdu.DataNotification{LongInvokeID: apdu.LongInvokeIDAndPriority(invokeID & 0x00FFFFFF), Body: body}
	if !at.IsZero() {
		n.DateTime = axdr.FromTime(at, 0).Bytes()
	}
	return n
}

// Push sends one unsolicited APDU (a *apdu.DataNotification for last gasp
// and alarm pushes, or a *apdu.EventNotificationRequest) over t, protected
// per p with the device's system title and invocation counter. It
// expects no answer.
func (d *Device) Push(ctx context.Context, t Transport, p PushPolicy, n apdu.APDU) error {
	if err := d.init(); err != nil {
		return err
	}
	switch n.(type) {
	case *apdu.DataNotification, *apdu.EventNotificationRequest:
	default:
		return fmt.Errorf("server: push of %s: only data-notification and event-notification are unsolicited", n.Kind())
	}
	plain, err := n.Append(nil)
	if err != nil {
		return fmt.Errorf("server: encoding push: %w", err)
	}
	out := plain
	if p.Policy != security.PolicyNone {
		if len(d.SystemTitle) != security.SystemTitleSize {
			return fmt.Errorf("%w: ciphered push needs the system title", ErrConfig)
		}
		ic, err := d.counter().Next()
		if err != nil {
			return fmt.Errorf("server: push: %w", err)
		}
		bits := p.Policy.Control()
		if p.Broadcast {
			bits |= security.BroadcastKey
		}
		sc := security.NewSecurityControl(p.Suite, bits)
		if _, ok := security.GloTag(plain[0]); ok && !p.General {
			out, err = security.Wrap(nil, security.Global, sc, p.Keys, d.SystemTitle, ic, plain)
		} else {
			out, err = security.WrapGeneral(nil, security.Global, sc, p.Keys, d.SystemTitle, ic, plain)
		}
		if err != nil {
			return fmt.Errorf("server: ciphering push: %w", err)
		}
	}
	if err := t.Send(ctx, out); err != nil {
		return fmt.Errorf("server: sending push: %w", err)
	}
	return nil
}
