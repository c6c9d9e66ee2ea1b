package dlmsdriver

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/obis"
	"github.com/amigo-ami/amigo/wrapper"
)

// PushCounter names the counter that guards a meter's pushes against
// replay.
const PushCounter = "dlms/push/ic"

// pushFrames reads the wrapper (IEC 62056-47) frames of a connection a
// meter opened to push.
type pushFrames struct{ wc *wrapper.Conn }

// PushFrames implements headend.PushDriver: meters push over the TCP
// wrapper, from any wPort.
func (d *Driver) PushFrames(c net.Conn, max int) headend.FrameReader {
	return pushFrames{wrapper.NewConn(c, 1, 1, wrapper.WithAnyRemote(), wrapper.WithMaxAPDU(max))}
}

func (f pushFrames) ReadFrame(ctx context.Context) ([]byte, error) {
	b, err := f.wc.Recv(ctx)
	var le *wrapper.LengthError
	if errors.Is(err, wrapper.ErrVersion) || errors.As(err, &le) {
		return nil, fmt.Errorf("%w: %w", headend.ErrFraming, err)
	}
	return b, err
}

// pushTitle returns the sender's system title of a pushed APDU. Only
// pushes that carry it (general-glo-ciphering) are accepted: a push in
// clear, or service-specific ciphered without a title, says nothing
// trustworthy about who sent it.
func pushTitle(b []byte) ([]byte, error) {
	_, _, title, _, err := security.ParseCiphered(b)
	if err != nil {
		return nil, fmt.Errorf("push is not a ciphered APDU with a sender (%v): %w", err, dlms.ErrProtocol)
	}
	if len(title) != security.SystemTitleSize {
		return nil, fmt.Errorf("push without the sender's system title: %w", dlms.ErrProtocol)
	}
	return title, nil
}

// PushSender implements headend.PushDriver: a meter's push id is its
// system title in hex.
func (d *Driver) PushSender(b []byte) (string, error) {
	title, err := pushTitle(b)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(title), nil
}

// DecodePush implements headend.PushDriver: it opens the APDU under the
// keys of t, the meter whose system title it carries, and decodes the
// notification.
func (d *Driver) DecodePush(ctx context.Context, t headend.Target, b []byte) (headend.Push, error) {
	title, err := pushTitle(b)
	if err != nil {
		return headend.Push{}, err
	}
	m := t.Meter
	sec, err := ParseCredentials(t.Credentials)
	if err != nil {
		return headend.Push{}, fmt.Errorf("meter %s: credentials: %w", m.MRID, err)
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
	c := decodePushBody(body, nil)
	if !c.at.IsZero() {
		at = c.at
	}
	if at.IsZero() {
		at = time.Now()
	}
	e := cim.EndDeviceEvent{MRID: fmt.Sprintf("%s/push/%d", m.MRID, u.Header.IC), MeterID: m.MRID, CreatedAt: at.UTC(),
		Details: map[string]string{"source": "push"}}
	if c.setup != (obis.Code{}) {
		e.Details["push_setup"] = c.setup.String()
	}
	if c.hasCode {
		e.Code = int(c.code)
		e.Type, e.Reason, e.Severity = EventKind(c.code)
	} else {
		e.Type, e.Reason, e.Severity = EventPushReceived, "push received: "+c.summary(), "info"
		if len(c.objects) > 0 {
			e.Details["objects"] = clip(objectList(c.objects))
		}
		if v := c.valueList(); v != "" {
			e.Details["values"] = clip(v)
		}
	}
	if c.device != "" {
		e.Details["device"] = clip(strings.ToValidUTF8(c.device, "?"))
	}
	p.Events = append(p.Events, e)
	p.Registers = c.registers(m.MRID, at.UTC())
	return p, nil
}

// EventPushReceived is the type of a push that carries no event code:
// recorded for what it is, never as an alarm.
const EventPushReceived cim.EndDeviceEventType = "3.0.0.0"

// PushObject is one element of a push setup's push_object_list (class 40,
// attribute 2): the object and attribute whose value the push carries at
// its place.
type PushObject struct {
	Class uint16
	LN    obis.Code
	Attr  int8
}

func (o PushObject) String() string { return fmt.Sprintf("%d/%s/%d", o.Class, o.LN, o.Attr) }

// pushValue is one value a push carried, with its object where known.
type pushValue struct {
	obj   PushObject
	known bool
	v     axdr.Data
}

// pushContent is a data-notification's body, decoded by what it carries.
type pushContent struct {
	setup   obis.Code
	at      time.Time
	code    uint64
	hasCode bool
	device  string // the device identifier the push names
	// objects is a push_object_list the push carried as a value: a push
	// of object definitions.
	objects []PushObject
	values  []pushValue
}

// Logical names whose value is an event code (IDIS "event code" objects,
// 0.0.96.11.e.255) or a device identifier (0.0.96.1.e.255).
func isEventCodeLN(ln obis.Code) bool {
	return ln[0] == 0 && ln[2] == 96 && ln[3] == 11 && ln[5] == 255
}
func isDeviceIDLN(ln obis.Code) bool { return ln[0] == 0 && ln[2] == 96 && ln[3] == 1 && ln[5] == 255 }

// decodePushBody reads a data-notification's body. With the push setup's
// object list (list, or one the push carries itself as a value), each
// element is read as its object: the push setup's name, the clock, an
// event code object, a register's value and scaler. Without it, only the
// types say anything, and they never make an event code out of any
// unsigned integer: the one layout taken to carry a code is the alarm
// push amigo's meters and IDIS alarm pushes send, (push setup name,
// device id, code, time) and nothing else. A structure of (long-unsigned
// class id, octet-string(6) name, integer attribute) is an object
// definition, not an event.
func decodePushBody(d axdr.Data, list []PushObject) pushContent {
	var c pushContent
	items := []axdr.Data{d}
	if d.Tag == axdr.TagStructure {
		items = d.Items
	}
	if list == nil {
		for _, it := range items {
			if objs, ok := objectDefs(it); ok && len(objs) == len(items) {
				list = objs // the push describes itself
				break
			}
		}
	}
	if list != nil && len(list) == len(items) {
		for i, it := range items {
			c.read(list[i], it)
		}
		c.nameSetup()
		return c
	}
	alarm := len(items) == 4 && isName(items[0]) && isText(items[1]) && isUnsigned(items[2]) && isTime(items[3])
	for i, it := range items {
		switch {
		case i == 0 && isName(it):
			copy(c.setup[:], it.Bytes)
		case alarm && i == 1:
			c.device = string(it.Bytes)
		case alarm && i == 2:
			c.code, _ = it.Uint()
			c.hasCode = true
		case isTime(it) && c.at.IsZero():
			c.at = timeOf(it)
		default:
			if objs, ok := objectDefs(it); ok {
				c.objects = append(c.objects, objs...)
				continue
			}
			c.values = append(c.values, pushValue{v: it})
		}
	}
	c.nameSetup()
	return c
}

// nameSetup names the push setup, when no element carried its name, from
// the object definitions: a push_object_list lists its own push setup
// (class 40), as the Gurux push example's does.
func (c *pushContent) nameSetup() {
	if c.setup != (obis.Code{}) {
		return
	}
	for _, o := range c.objects {
		if o.Class == cosem.ClassPushSetup {
			c.setup = o.LN
			return
		}
	}
}

// read takes one element whose object is known.
func (c *pushContent) read(o PushObject, v axdr.Data) {
	switch {
	case o.Class == cosem.ClassPushSetup && o.Attr == 1 && isName(v):
		copy(c.setup[:], v.Bytes)
		return
	case o.Class == cosem.ClassPushSetup && o.Attr == 2:
		if objs, ok := objectDefs(v); ok {
			c.objects = append(c.objects, objs...)
			return
		}
	case o.Class == cosem.ClassClock && o.Attr == 2 && isTime(v) && c.at.IsZero():
		c.at = timeOf(v)
		return
	case o.Class == cosem.ClassData && o.Attr == 2 && isEventCodeLN(o.LN) && isUnsigned(v) && !c.hasCode:
		c.code, _ = v.Uint()
		c.hasCode = true
		return
	case o.Class == cosem.ClassData && o.Attr == 2 && isDeviceIDLN(o.LN) && isText(v) && c.device == "":
		c.device = string(v.Bytes)
		return
	}
	c.values = append(c.values, pushValue{obj: o, known: true, v: v})
}

func isName(d axdr.Data) bool { return d.Tag == axdr.TagOctetString && len(d.Bytes) == 6 }
func isText(d axdr.Data) bool {
	return d.Tag == axdr.TagVisibleString || d.Tag == axdr.TagUTF8String || d.Tag == axdr.TagOctetString && len(d.Bytes) != 6 && len(d.Bytes) != 12
}
func isUnsigned(d axdr.Data) bool {
	return d.Tag == axdr.TagUint8 || d.Tag == axdr.TagUint16 || d.Tag == axdr.TagUint32
}
func isTime(d axdr.Data) bool { return !timeOf(d).IsZero() }

func timeOf(d axdr.Data) time.Time {
	if dt, ok := d.DateTime(); ok {
		if t, err := dt.Time(); err == nil {
			return t
		}
	}
	return time.Time{}
}

// objectDefs reads a push_object_list, or one element of it: (class id,
// logical name, attribute index[, data index]).
func objectDefs(d axdr.Data) ([]PushObject, bool) {
	if d.Tag == axdr.TagStructure {
		o, ok := objectDef(d)
		return []PushObject{o}, ok
	}
	if d.Tag != axdr.TagArray || len(d.Items) == 0 {
		return nil, false
	}
	out := make([]PushObject, 0, len(d.Items))
	for _, it := range d.Items {
		o, ok := objectDef(it)
		if !ok {
			return nil, false
		}
		out = append(out, o)
	}
	return out, true
}

func objectDef(d axdr.Data) (PushObject, bool) {
	if d.Tag != axdr.TagStructure || len(d.Items) < 3 || len(d.Items) > 4 || d.Items[0].Tag != axdr.TagUint16 ||
		!isName(d.Items[1]) || d.Items[2].Tag != axdr.TagInt8 || len(d.Items) == 4 && d.Items[3].Tag != axdr.TagUint16 {
		return PushObject{}, false
	}
	class, _ := d.Items[0].Uint()
	attr, _ := d.Items[2].Int()
	o := PushObject{Class: uint16(class), Attr: int8(attr)}
	copy(o.LN[:], d.Items[1].Bytes)
	return o, true
}

// summary says in a few words what a push without an event code carried.
func (c *pushContent) summary() string {
	switch {
	case len(c.objects) > 0 && len(c.values) == 0:
		return fmt.Sprintf("%d object definitions, no event code", len(c.objects))
	case len(c.values) > 0:
		return fmt.Sprintf("%d values, no event code", len(c.values))
	}
	return "no event code"
}

func objectList(os []PushObject) string {
	parts := make([]string, len(os))
	for i, o := range os {
		parts[i] = o.String()
	}
	return strings.Join(parts, ", ")
}

func (c *pushContent) valueList() string {
	var parts []string
	for _, v := range c.values {
		s := v.v.String()
		if v.known {
			s = v.obj.String() + "=" + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// clip bounds a detail, which the MDM stores as text.
func clip(s string) string {
	const most = 1000
	if len(s) <= most {
		return s
	}
	return strings.ToValidUTF8(s[:most], "") + "…"
}

// registers turns pushed register values into reads, where the push
// carried the register's value (attribute 2) and its scaler and unit
// (attribute 3) and the value scales to a whole number of the unit: a
// value whose scale is not known is kept in the event's details only.
func (c *pushContent) registers(meterID string, at time.Time) []cim.Reading {
	scalers := map[obis.Code]axdr.Data{}
	for _, v := range c.values {
		if v.known && v.obj.Attr == 3 && (v.obj.Class == cosem.ClassRegister || v.obj.Class == cosem.ClassExtendedRegister) {
			scalers[v.obj.LN] = v.v
		}
	}
	var out []cim.Reading
	for _, v := range c.values {
		if !v.known || v.obj.Attr != 2 || (v.obj.Class != cosem.ClassRegister && v.obj.Class != cosem.ClassExtendedRegister) {
			continue
		}
		su, ok := scalers[v.obj.LN]
		if !ok || su.Tag != axdr.TagStructure || len(su.Items) != 2 {
			continue
		}
		scaler, ok1 := su.Items[0].Int()
		raw, ok2 := v.v.Int()
		if !ok1 || !ok2 || v.v.Tag == axdr.TagUint64 && raw < 0 {
			continue
		}
		val, ok := scaleWhole(raw, scaler)
		if !ok {
			continue
		}
		out = append(out, cim.Reading{MeterID: meterID, ReadingType: pushedRegisterID(v.obj.LN), TimeStamp: at, Value: val})
	}
	return out
}

// scaleWhole is raw × 10^scaler when that is a whole number that fits.
func scaleWhole(raw, scaler int64) (int64, bool) {
	if scaler < -9 || scaler > 9 {
		return 0, false
	}
	for ; scaler > 0; scaler-- {
		if raw > math.MaxInt64/10 || raw < math.MinInt64/10 {
			return 0, false
		}
		raw *= 10
	}
	for ; scaler < 0; scaler++ {
		if raw%10 != 0 {
			return 0, false
		}
		raw /= 10
	}
	return raw, true
}

// pushedRegisterID names a pushed register's reading type: the energy
// totals by amigo's names, others by their OBIS code.
func pushedRegisterID(ln obis.Code) string {
	switch ln {
	case obis.Code{1, 0, 1, 8, 0, 255}:
		return "A+"
	case obis.Code{1, 0, 2, 8, 0, 255}:
		return "A-"
	}
	return ln.String()
}
