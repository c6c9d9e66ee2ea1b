package dlmsdriver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/obis"
)

// Demand-response objects (docs/dlms.md, "Demand response"): the limiter,
// the consumer message that carries a price to the home, and the
// load-control relay with the two single action schedules that open and
// close it.
var (
	limiterLN         = obis.Code{0, 0, 17, 0, 0, 255}
	consumerMessageLN = obis.Code{0, 0, 96, 13, 0, 255}
	loadRelayLN       = obis.Code{0, 1, 96, 3, 10, 255}
	loadRelayOpenLN   = obis.Code{0, 1, 15, 0, 1, 255}
	loadRelayCloseLN  = obis.Code{0, 1, 15, 0, 2, 255}
)

// drWindow reads a demand-response command's "start" (RFC 3339) and
// "duration" (seconds; zeroOK admits 0).
func drWindow(c cim.EndDeviceControl, zeroOK bool) (time.Time, time.Duration, error) {
	start, err := time.Parse(time.RFC3339, c.Parameters["start"])
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("%w: start %q: want an RFC 3339 time", headend.ErrBadCommand, c.Parameters["start"])
	}
	n, err := strconv.ParseInt(c.Parameters["duration"], 10, 64)
	if err != nil || n < 0 || (n == 0 && !zeroOK) || n > 7*86400 {
		return time.Time{}, 0, fmt.Errorf("%w: duration %q: want seconds, up to 7 days", headend.ErrBadCommand, c.Parameters["duration"])
	}
	return start, time.Duration(n) * time.Second, nil
}

// unsupported turns a meter without the object into ErrUnsupported.
func (s *session) unsupported(err error, what string) error {
	if errors.Is(err, dlms.ErrObjectUndefined) {
		return fmt.Errorf("meter %s has no %s: %w", s.t.Meter.MRID, what, headend.ErrUnsupported)
	}
	return err
}

// localDateTime encodes t in the meter's zone with its deviation and DST
// bit.
func (s *session) localDateTime(t time.Time) axdr.DateTime {
	t = t.In(s.loc)
	var st axdr.ClockStatus
	if t.IsDST() {
		st = axdr.StatusDaylightSaving
	}
	return axdr.FromTime(t, st)
}

// loadLimit holds the limiter (class 71) at an emergency threshold: it
// writes threshold_emergency (5) and emergency_profile (8: id, activation
// time, duration) with the id of the meter's first emergency group (9),
// so the meter itself applies the threshold from the activation time for
// the duration. A meter in no group is put in group 1.
func (s *session) loadLimit(ctx context.Context, c cim.EndDeviceControl) (string, error) {
	th, err := strconv.ParseInt(c.Parameters["threshold"], 10, 64)
	if err != nil || th <= 0 || th > 1<<31 {
		return "", fmt.Errorf("%w: threshold %q: want watts", headend.ErrBadCommand, c.Parameters["threshold"])
	}
	start, dur, err := drWindow(c, false)
	if err != nil {
		return "", err
	}
	attr := func(n int8) dlms.Attr { return dlms.Attr{Class: cosem.ClassLimiter, OBIS: limiterLN, Attribute: n} }
	groups, err := s.c.Get(ctx, attr(9), nil)
	if err != nil {
		return "", s.unsupported(err, "limiter")
	}
	var id uint64 = 1
	if groups.Tag == axdr.TagArray && len(groups.Items) > 0 {
		id, _ = groups.Items[0].Uint()
	} else if err := s.c.Set(ctx, attr(9), axdr.Array(axdr.Uint16(1))); err != nil {
		return "", fmt.Errorf("meter %s: emergency group list: %w", s.t.Meter.MRID, err)
	}
	// The threshold keeps the type the meter gave it.
	cur, err := s.c.Get(ctx, attr(5), nil)
	if err != nil {
		return "", err
	}
	v, err := sameTypeInt(cur, th)
	if err != nil {
		return "", fmt.Errorf("meter %s: threshold_emergency: %w", s.t.Meter.MRID, err)
	}
	if err := s.c.Set(ctx, attr(5), v); err != nil {
		return "", fmt.Errorf("meter %s: threshold_emergency: %w", s.t.Meter.MRID, err)
	}
	profile := axdr.Structure(axdr.Uint16(uint16(id)), axdr.DateTimeOctets(s.localDateTime(start)), axdr.Uint32(uint32(dur/time.Second)))
	if err := s.c.Set(ctx, attr(8), profile); err != nil {
		return "", fmt.Errorf("meter %s: emergency_profile: %w", s.t.Meter.MRID, err)
	}
	return fmt.Sprintf("emergency threshold %d W from %s for %s (profile %d)", th, start.In(s.loc).Format(time.RFC3339), dur, id), nil
}

// sameTypeInt encodes n in the integer type of cur (double-long-unsigned
// when cur is not an integer).
func sameTypeInt(cur axdr.Data, n int64) (axdr.Data, error) {
	fits := func(lo, hi int64) error {
		if n < lo || n > hi {
			return fmt.Errorf("%d does not fit the meter's %v", n, cur.Tag)
		}
		return nil
	}
	switch cur.Tag {
	case axdr.TagUint16:
		return axdr.Uint16(uint16(n)), fits(0, 1<<16-1)
	case axdr.TagInt16:
		return axdr.Int16(int16(n)), fits(-1<<15, 1<<15-1)
	case axdr.TagInt32:
		return axdr.Int32(int32(n)), fits(-1<<31, 1<<31-1)
	case axdr.TagInt64:
		return axdr.Int64(n), nil
	case axdr.TagUint64:
		return axdr.Uint64(uint64(n)), fits(0, 1<<62)
	}
	return axdr.Uint32(uint32(n)), fits(0, 1<<32-1)
}

// priceSignal writes the price to the consumer message (class 1,
// 0-0:96.13.0.255), which the meter's display, an in-home display and the
// P1 port show; the text is the documented key=value form the meter reads
// the signal from.
func (s *session) priceSignal(ctx context.Context, c cim.EndDeviceControl) (string, error) {
	price, err := strconv.ParseInt(c.Parameters["price"], 10, 64)
	if err != nil || price < 0 {
		return "", fmt.Errorf("%w: price %q: want millionths of the currency per kWh", headend.ErrBadCommand, c.Parameters["price"])
	}
	cur := c.Parameters["currency"]
	if len(cur) != 3 {
		return "", fmt.Errorf("%w: currency %q: want an ISO 4217 code", headend.ErrBadCommand, cur)
	}
	start, dur, err := drWindow(c, false)
	if err != nil {
		return "", err
	}
	text := PriceMessage(price, cur, start, dur)
	err = s.c.Set(ctx, dlms.Attr{Class: cosem.ClassData, OBIS: consumerMessageLN, Attribute: 2}, axdr.OctetString([]byte(text)))
	if err != nil {
		return "", s.unsupported(err, "consumer message")
	}
	return "consumer message " + text, nil
}

// PriceMessage is the consumer message text of a price signal:
// "price=750000;currency=EUR;start=2026-12-07T17:00:00Z;duration=7200".
func PriceMessage(price int64, currency string, start time.Time, dur time.Duration) string {
	return fmt.Sprintf("price=%d;currency=%s;start=%s;duration=%d", price, currency, start.UTC().Format(time.RFC3339Nano), int64(dur/time.Second))
}

// loadRelay switches the load-control relay (class 70, 0-1:96.3.10.255).
// The meter holds the times: the open schedule (class 22,
// 0-1:15.0.1.255) opens it at the start, the close schedule
// (0-1:15.0.2.255) closes it after the duration (none: open until told).
// A start already reached is done at once with remote_disconnect or
// remote_reconnect.
func (s *session) loadRelay(ctx context.Context, c cim.EndDeviceControl) (string, error) {
	state := c.Parameters["state"]
	if state != "open" && state != "closed" {
		return "", fmt.Errorf("%w: state %q: want open or closed", headend.ErrBadCommand, state)
	}
	start, dur, err := drWindow(c, true)
	if err != nil {
		return "", err
	}
	now := s.now()
	when := func(t time.Time) axdr.Data {
		dt := s.localDateTime(t)
		return axdr.Array(axdr.Structure(axdr.OctetString(dt.Clock().Bytes()), axdr.OctetString(dt.Date().Bytes())))
	}
	schedule := func(ln obis.Code, v axdr.Data) error {
		err := s.c.Set(ctx, dlms.Attr{Class: cosem.ClassSingleAction, OBIS: ln, Attribute: 4}, v)
		if err != nil {
			return fmt.Errorf("meter %s: load relay schedule %s: %w", s.t.Meter.MRID, ln, s.unsupported(err, "load relay schedule"))
		}
		return nil
	}
	act := func(m int8) error {
		_, err := s.c.Action(ctx, dlms.Method{Class: cosem.ClassDisconnectControl, OBIS: loadRelayLN, Method: m}, axdr.Int8(0))
		return s.unsupported(err, "load relay")
	}
	if state == "closed" {
		if start.After(now) {
			if err := schedule(loadRelayCloseLN, when(start)); err != nil {
				return "", err
			}
			return "load relay closes " + start.In(s.loc).Format(time.RFC3339), nil
		}
		if err := act(2); err != nil {
			return "", err
		}
		return s.loadRelayState(ctx)
	}
	if start.After(now) {
		if err := schedule(loadRelayOpenLN, when(start)); err != nil {
			return "", err
		}
	} else if err := act(1); err != nil {
		return "", err
	}
	closeAt := axdr.Array()
	if dur > 0 {
		closeAt = when(start.Add(dur))
	}
	if err := schedule(loadRelayCloseLN, closeAt); err != nil {
		return "", err
	}
	out := "load relay opens " + start.In(s.loc).Format(time.RFC3339)
	if !start.After(now) {
		st, err := s.loadRelayState(ctx)
		if err != nil {
			return "", err
		}
		out = st
	}
	if dur > 0 {
		return out + ", closes " + start.Add(dur).In(s.loc).Format(time.RFC3339), nil
	}
	return out + ", until told", nil
}

func (s *session) loadRelayState(ctx context.Context) (string, error) {
	d, err := s.c.Get(ctx, dlms.Attr{Class: cosem.ClassDisconnectControl, OBIS: loadRelayLN, Attribute: 3}, nil)
	if err != nil {
		return "", err
	}
	v, _ := d.Uint()
	name := fmt.Sprintf("state %d", v)
	if int(v) < len(relayStates) {
		name = relayStates[v]
	}
	return "load relay " + name, nil
}
