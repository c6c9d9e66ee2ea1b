package dlmsdriver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/headend"
)

var relayStates = []string{"disconnected", "connected", "ready for reconnection"}

// relayState reads the disconnect control's state.
func (s *session) relayState(ctx context.Context) (string, uint64, error) {
	d, err := s.c.Get(ctx, dlms.Attr{Class: cosem.ClassDisconnectControl, OBIS: disconnectLN, Attribute: 3}, nil)
	if err != nil {
		return "", 0, err
	}
	v, _ := d.Uint()
	name := fmt.Sprintf("state %d", v)
	if int(v) < len(relayStates) {
		name = relayStates[v]
	}
	return name, v, nil
}

// Execute implements headend.Session.
func (s *session) Execute(ctx context.Context, c cim.EndDeviceControl) (string, error) {
	switch c.Type {
	case cim.ControlDisconnect, cim.ControlReconnect, cim.ControlArmReconnect:
		m := int8(2)
		if c.Type == cim.ControlDisconnect {
			m = 1
		}
		if _, err := s.command(ctx, dlms.Method{Class: cosem.ClassDisconnectControl, OBIS: disconnectLN, Method: m}, axdr.Int8(0)); err != nil {
			return "", err
		}
		name, v, err := s.relayState(ctx)
		if err != nil {
			return "", err
		}
		switch {
		case c.Type == cim.ControlDisconnect && v != 0:
			return "", fmt.Errorf("meter %s: relay is %s after remote disconnect", s.t.Meter.MRID, name)
		case c.Type == cim.ControlReconnect && v == 0:
			return "", fmt.Errorf("meter %s: relay still disconnected after remote reconnect (control mode forbids it?)", s.t.Meter.MRID)
		case c.Type == cim.ControlArmReconnect && v == 0:
			return "", fmt.Errorf("meter %s: relay still disconnected after arming", s.t.Meter.MRID)
		}
		return fmt.Sprintf("relay %s (control state %d)", name, v), nil
	case cim.ControlClockSync:
		t := s.now()
		if p := c.Parameters["time"]; p != "" {
			var err error
			if t, err = time.Parse(time.RFC3339, p); err != nil {
				return "", fmt.Errorf("%w: time %q: %v", headend.ErrBadCommand, p, err)
			}
		}
		before, err := s.Clock(ctx)
		if err != nil {
			return "", err
		}
		if err := s.SetClock(ctx, t); err != nil {
			return "", err
		}
		return fmt.Sprintf("clock set to %s (was off by %s)", t.In(s.loc).Format(time.RFC3339), before.Sub(s.now()).Round(time.Second)), nil
	case cim.ControlDemandReset:
		if _, err := s.c.Action(ctx, dlms.Method{Class: cosem.ClassExtendedRegister, OBIS: maxDemandLN, Method: 1}, axdr.Int8(0)); err != nil {
			return "", err
		}
		return "maximum demand reset", nil
	case cim.ControlSetCalendar:
		return s.setCalendar(ctx, c)
	case cim.ControlRelayMode:
		return s.setRelayMode(ctx, c)
	case cim.ControlFirmwareActivate:
		return s.activateImage(ctx, c)
	case cim.ControlLoadLimit:
		return s.loadLimit(ctx, c)
	case cim.ControlPriceSignal:
		return s.priceSignal(ctx, c)
	case cim.ControlLoadRelay:
		return s.loadRelay(ctx, c)
	case cim.ControlReadNow:
		var col headend.Collection
		if err := s.resolve(ctx, false); err != nil {
			return "", err
		}
		mt, err := s.first(ctx, &col, true)
		if err != nil {
			return "", err
		}
		out := ""
		for _, r := range col.Registers {
			if r.ReadingType == "A+" || r.ReadingType == "A-" {
				out += fmt.Sprintf("%s %d Wh; ", r.ReadingType, r.Value)
			}
		}
		return out + "at " + mt.Format(time.RFC3339), nil
	case cim.ControlPing:
		mt, err := s.Clock(ctx)
		if err != nil {
			return "", err
		}
		serial := ""
		if d, err := s.c.Get(ctx, dlms.Attr{Class: cosem.ClassData, OBIS: serialLN, Attribute: 2}, nil); err == nil {
			serial = string(d.Bytes)
		}
		return fmt.Sprintf("meter %s answers; clock %s", serial, mt.Format(time.RFC3339)), nil
	}
	return "", fmt.Errorf("meter %s: %s: %w", s.t.Meter.MRID, c.Type, headend.ErrUnsupported)
}

// setCalendar writes a passive TOU calendar and its activation time to the
// activity calendar (class 20). Parameters: "calendar" is the COSEM
// calendar in JSON (see Calendar), "activate" an RFC 3339 time.
func (s *session) setCalendar(ctx context.Context, c cim.EndDeviceControl) (string, error) {
	cal, err := ParseCalendar(c.Parameters["calendar"])
	if err != nil {
		return "", fmt.Errorf("%w: %v", headend.ErrBadCommand, err)
	}
	at, err := time.Parse(time.RFC3339, c.Parameters["activate"])
	if err != nil {
		return "", fmt.Errorf("%w: activate %q: want an RFC 3339 time", headend.ErrBadCommand, c.Parameters["activate"])
	}
	attrs := cal.passive()
	for i, v := range attrs {
		err := s.c.Set(ctx, dlms.Attr{Class: cosem.ClassActivityCalendar, OBIS: calendarLN, Attribute: int8(6 + i)}, v)
		if errors.Is(err, dlms.ErrObjectUndefined) {
			return "", fmt.Errorf("meter %s has no activity calendar: %w", s.t.Meter.MRID, headend.ErrUnsupported)
		}
		if err != nil {
			return "", err
		}
	}
	at = at.In(s.loc)
	var st axdr.ClockStatus
	if at.IsDST() {
		st = axdr.StatusDaylightSaving
	}
	if err := s.c.Set(ctx, dlms.Attr{Class: cosem.ClassActivityCalendar, OBIS: calendarLN, Attribute: 10}, cosem.DateTimeData(at, st)); err != nil {
		return "", err
	}
	return fmt.Sprintf("passive calendar %q set, activates %s", cal.Name, at.Format(time.RFC3339)), nil
}
