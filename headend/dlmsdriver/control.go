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
	res := fmt.Sprintf("passive calendar %q set, activates %s", cal.Name, at.Format(time.RFC3339))
	note, err := s.setSpecialDays(ctx, cal.specialDays())
	if err != nil {
		return "", fmt.Errorf("meter %s: calendar %q set, special days: %w", s.t.Meter.MRID, cal.Name, err)
	}
	return res + note, nil
}

// setSpecialDays makes the meter's special days table (class 11) hold
// exactly want: entries already there with the same date and day id stay,
// the others are deleted, and the new ones inserted under free indices.
// A meter without the table gets a note in the result rather than an
// error, since its calendar is written; with no special days to write
// there is nothing to say.
func (s *session) setSpecialDays(ctx context.Context, want []specialEntry) (string, error) {
	held, err := s.c.Get(ctx, dlms.Attr{Class: cosem.ClassSpecialDaysTable, OBIS: specialDaysLN, Attribute: 2}, nil)
	if errors.Is(err, dlms.ErrObjectUndefined) {
		if len(want) == 0 {
			return "", nil
		}
		return fmt.Sprintf("; %d special days (holidays) NOT written: the meter has no special days table, holidays count as their weekday", len(want)), nil
	}
	if err != nil {
		return "", fmt.Errorf("read special days table: %w", err)
	}
	wanted := map[specialEntry]bool{}
	for _, e := range want {
		wanted[e] = true
	}
	used := map[uint16]bool{}
	var drop []uint16
	for _, it := range held.Items {
		if len(it.Items) != 3 {
			return "", fmt.Errorf("special days table: entry is not {index, date, day_id}")
		}
		ix, _ := it.Items[0].Uint()
		day, _ := it.Items[2].Uint()
		e := specialEntry{date: string(it.Items[1].Bytes), day: uint8(day)}
		if wanted[e] && !used[uint16(ix)] {
			delete(wanted, e)
			used[uint16(ix)] = true
			continue
		}
		drop = append(drop, uint16(ix))
	}
	deleted := 0
	for _, ix := range drop {
		if used[ix] {
			continue // a duplicate index the kept entry answers for
		}
		deleted++
		if _, err := s.c.Action(ctx, dlms.Method{Class: cosem.ClassSpecialDaysTable, OBIS: specialDaysLN, Method: 2}, axdr.Uint16(ix)); err != nil {
			return "", fmt.Errorf("delete special day %d: %w", ix, err)
		}
	}
	next, added := uint16(1), 0
	for _, e := range want {
		if !wanted[e] {
			continue
		}
		for used[next] {
			next++
		}
		used[next] = true
		entry := axdr.Structure(axdr.Uint16(next), axdr.OctetString([]byte(e.date)), axdr.Uint8(e.day))
		if _, err := s.c.Action(ctx, dlms.Method{Class: cosem.ClassSpecialDaysTable, OBIS: specialDaysLN, Method: 1}, entry); err != nil {
			return "", fmt.Errorf("insert special day %x (index %d): %w", e.date, next, err)
		}
		added++
	}
	return fmt.Sprintf("; special days: %d held, %d inserted, %d deleted", len(want), added, deleted), nil
}
