package sim

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
)

// Logical names of the tariff objects.
var (
	ActivityCalendarLN = obis.MustParse("0.0.13.0.0.255")
	// SpecialDaysLN is the special days table (class 11).
	SpecialDaysLN = obis.MustParse("0.0.11.0.0.255")
	// TariffScriptLN is the tariffication script table: selector n
	// switches to rate n.
	TariffScriptLN = obis.MustParse("0.0.10.0.100.255")
)

// calendarObject is the activity calendar (class 20) over the model's
// tariff: the active calendar is the one in force, the passive one the
// calendar scheduled next. Writing the activation time (attribute 10),
// or method 1, hands the passive calendar written before it to the model,
// whose TOU registers follow it from then on.
type calendarObject struct {
	*objects.ActivityCalendar
	d *Device
}

func (d *Device) activityCalendar() cosem.Object {
	o := &calendarObject{ActivityCalendar: objects.NewActivityCalendar(ActivityCalendarLN), d: d}
	now := d.cfg.Now()
	d.cfg.Lock.Lock()
	t := d.m.Tariff()
	d.cfg.Lock.Unlock()
	if c := t.At(now); c != nil {
		o.Active = calendarSet(c)
	}
	if c, at, ok := t.Passive(now); ok {
		o.Passive = calendarSet(c)
		o.ActivatePassiveTime = axdr.FromTime(d.zone(at), 0)
	}
	return o
}

// Set implements cosem.Object.
func (o *calendarObject) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	if err := o.ActivityCalendar.Set(ctx, req, v); err != nil {
		return err
	}
	if req.Attribute != 10 {
		return nil
	}
	o.Lock()
	at, err := o.ActivatePassiveTime.TimeIn(o.d.m.Fleet().Location)
	o.Unlock()
	if err != nil {
		return cosem.Errorf(cosem.ResultTypeUnmatched, "activate_passive_calendar_time must be a point in time")
	}
	return o.schedule(at)
}

// Action implements cosem.Object: method 1 activates the passive
// calendar now.
func (o *calendarObject) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	if req.Method != 1 {
		return o.ActivityCalendar.Action(ctx, req, p)
	}
	return axdr.Null(), o.schedule(o.d.cfg.Now())
}

func (o *calendarObject) schedule(at time.Time) error {
	o.Lock()
	c, err := modelCalendar(o.Passive)
	o.Unlock()
	if err != nil {
		return cosem.Errorf(cosem.ResultOtherReason, err.Error())
	}
	o.d.cfg.Lock.Lock()
	defer o.d.cfg.Lock.Unlock()
	now := o.d.cfg.Now()
	// The special days table is the meter's, not a calendar's: the
	// passive calendar takes the days in force now.
	if cur := o.d.m.Tariff().At(now); cur != nil {
		for _, sd := range cur.Special {
			if int(sd.Profile) < len(c.Days) {
				c.Special = append(c.Special, sd)
			}
		}
	}
	if err := o.d.m.SetPassiveCalendar(now, c, at); err != nil {
		return cosem.Errorf(cosem.ResultOtherReason, err.Error())
	}
	return nil
}

// calendarSet writes a model calendar as COSEM tables: day ids are the
// day profiles' positions from 1, weeks are named by their season.
func calendarSet(c *meter.Calendar) objects.CalendarSet {
	var seasons, weeks, days []axdr.Data
	for i, s := range c.Seasons {
		name := []byte(fmt.Sprintf("S%d", i+1))
		start := axdr.DateTime{Year: axdr.YearUnspecified, Month: uint8(s.Month), Day: uint8(s.Day), DayOfWeek: axdr.Unspecified,
			Hour: 0, Minute: 0, Second: 0, Hundredths: axdr.Unspecified, Deviation: axdr.DeviationUnspecified, Status: axdr.StatusUnspecified}
		seasons = append(seasons, axdr.Structure(axdr.OctetString(name), axdr.DateTimeOctets(start), axdr.OctetString(name)))
		wk := []axdr.Data{axdr.OctetString(name)}
		for _, p := range s.Week {
			wk = append(wk, axdr.Uint8(p+1))
		}
		weeks = append(weeks, axdr.Structure(wk...))
	}
	for i, p := range c.Days {
		var acts []axdr.Data
		for _, sw := range p {
			t := axdr.Time{Hour: uint8(sw.Minute / 60), Minute: uint8(sw.Minute % 60), Hundredths: axdr.Unspecified}
			acts = append(acts, axdr.Structure(axdr.OctetString(t.Bytes()), cosem.LogicalNameData(TariffScriptLN), axdr.Uint16(uint16(sw.Rate))))
		}
		days = append(days, axdr.Structure(axdr.Uint8(uint8(i+1)), axdr.Array(acts...)))
	}
	return objects.CalendarSet{Name: []byte(c.Name), Seasons: axdr.Array(seasons...), Weeks: axdr.Array(weeks...), Days: axdr.Array(days...)}
}

// modelCalendar reads COSEM calendar tables into a model calendar. Only
// what the model can follow is accepted: day actions that run the
// tariffication script with a rate from 1 to 4.
func modelCalendar(s objects.CalendarSet) (*meter.Calendar, error) {
	c := &meter.Calendar{Name: string(s.Name)}
	dayIndex := map[uint64]uint8{}
	// Day profiles are kept in day_id order, so that a special day's
	// day_id n is the n-th profile when the ids run from 1.
	dayItems := slices.Clone(s.Days.Items)
	slices.SortStableFunc(dayItems, func(a, b axdr.Data) int {
		var x, y uint64
		if len(a.Items) > 0 {
			x, _ = a.Items[0].Uint()
		}
		if len(b.Items) > 0 {
			y, _ = b.Items[0].Uint()
		}
		return int(x) - int(y)
	})
	for _, d := range dayItems {
		if len(d.Items) != 2 {
			return nil, fmt.Errorf("day profile is not {day_id, day_schedule}")
		}
		id, _ := d.Items[0].Uint()
		var p meter.DayProfile
		for _, a := range d.Items[1].Items {
			if len(a.Items) != 3 {
				return nil, fmt.Errorf("day %d: action is not {start_time, script, selector}", id)
			}
			t, err := axdr.ParseTime(a.Items[0].Bytes)
			if err != nil || t.Hour > 23 || t.Minute > 59 {
				return nil, fmt.Errorf("day %d: start time %x", id, a.Items[0].Bytes)
			}
			if obis.Code(a.Items[1].Bytes) != TariffScriptLN {
				return nil, fmt.Errorf("day %d: script %x is not the tariffication script", id, a.Items[1].Bytes)
			}
			rate, _ := a.Items[2].Uint()
			if rate < 1 || rate > 4 {
				return nil, fmt.Errorf("day %d: rate %d: the meter has rates 1 to 4", id, rate)
			}
			p = append(p, meter.Switch{Minute: uint16(t.Hour)*60 + uint16(t.Minute), Rate: uint8(rate)})
		}
		dayIndex[id] = uint8(len(c.Days))
		c.Days = append(c.Days, p)
	}
	weeks := map[string][7]uint8{}
	for _, w := range s.Weeks.Items {
		if len(w.Items) != 8 {
			return nil, fmt.Errorf("week profile is not {name, monday..sunday}")
		}
		var wk [7]uint8
		for i := range 7 {
			id, _ := w.Items[i+1].Uint()
			ix, ok := dayIndex[id]
			if !ok {
				return nil, fmt.Errorf("week %q uses day %d, which is not defined", w.Items[0].Bytes, id)
			}
			wk[i] = ix
		}
		weeks[string(w.Items[0].Bytes)] = wk
	}
	for _, se := range s.Seasons.Items {
		if len(se.Items) != 3 {
			return nil, fmt.Errorf("season profile is not {name, start, week}")
		}
		dt, err := axdr.ParseDateTime(se.Items[1].Bytes)
		if err != nil || dt.Month < 1 || dt.Month > 12 || dt.Day < 1 || dt.Day > 31 {
			return nil, fmt.Errorf("season %q: start is not a month and day", se.Items[0].Bytes)
		}
		wk, ok := weeks[string(se.Items[2].Bytes)]
		if !ok {
			return nil, fmt.Errorf("season %q uses week %q, which is not defined", se.Items[0].Bytes, se.Items[2].Bytes)
		}
		c.Seasons = append(c.Seasons, meter.Season{Month: time.Month(dt.Month), Day: int(dt.Day), Week: wk})
	}
	slices.SortStableFunc(c.Seasons, func(a, b meter.Season) int {
		return int(a.Month)*100 + a.Day - (int(b.Month)*100 + b.Day)
	})
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// specialDaysObject is the special days table (class 11) over the model's
// special days: inserting or deleting an entry sets the special days of
// the calendar in force from now on and of a pending one. A day_id is the
// day profile's position from 1, as the activity calendar shows its days;
// a date must name a month and a day (a year, or every year).
type specialDaysObject struct {
	*objects.SpecialDaysTable
	d *Device
}

func (d *Device) specialDaysTable() cosem.Object {
	o := &specialDaysObject{SpecialDaysTable: objects.NewSpecialDaysTable(SpecialDaysLN), d: d}
	now := d.cfg.Now()
	d.cfg.Lock.Lock()
	c := d.m.Tariff().At(now)
	d.cfg.Lock.Unlock()
	if c != nil {
		var items []axdr.Data
		for i, sd := range c.Special {
			y := uint16(axdr.YearUnspecified)
			if sd.Year != 0 {
				y = uint16(sd.Year)
			}
			date := axdr.Date{Year: y, Month: uint8(sd.Month), Day: uint8(sd.Day), DayOfWeek: axdr.Unspecified}
			items = append(items, axdr.Structure(axdr.Uint16(uint16(i+1)), axdr.OctetString(date.Bytes()), axdr.Uint8(sd.Profile+1)))
		}
		o.Entries = axdr.Array(items...)
	}
	return o
}

// Set implements cosem.Object.
func (o *specialDaysObject) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	if req.Attribute == 2 {
		if _, err := modelSpecialDays(v.Items); err != nil {
			return cosem.Errorf(cosem.ResultOtherReason, err.Error())
		}
	}
	if err := o.SpecialDaysTable.Set(ctx, req, v); err != nil {
		return err
	}
	return o.apply()
}

// Action implements cosem.Object: insert (1) and delete (2) change the
// model's special days.
func (o *specialDaysObject) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	if req.Method == 1 && len(p.Items) == 3 {
		if _, err := modelSpecialDays([]axdr.Data{p}); err != nil {
			return axdr.Data{}, cosem.Errorf(cosem.ResultOtherReason, err.Error())
		}
	}
	r, err := o.SpecialDaysTable.Action(ctx, req, p)
	if err != nil {
		return r, err
	}
	return r, o.apply()
}

func (o *specialDaysObject) apply() error {
	o.Lock()
	sd, err := modelSpecialDays(o.Entries.Items)
	o.Unlock()
	if err != nil {
		return cosem.Errorf(cosem.ResultOtherReason, err.Error())
	}
	o.d.cfg.Lock.Lock()
	defer o.d.cfg.Lock.Unlock()
	if err := o.d.m.SetSpecialDays(o.d.cfg.Now(), sd); err != nil {
		return cosem.Errorf(cosem.ResultOtherReason, err.Error())
	}
	return nil
}

// modelSpecialDays reads table entries {index, date, day_id} in table
// order.
func modelSpecialDays(entries []axdr.Data) ([]meter.SpecialDay, error) {
	out := make([]meter.SpecialDay, 0, len(entries))
	for _, e := range entries {
		if len(e.Items) != 3 {
			return nil, fmt.Errorf("special day is not {index, date, day_id}")
		}
		dt, err := axdr.ParseDate(e.Items[1].Bytes)
		if err != nil || dt.Month < 1 || dt.Month > 12 || dt.Day < 1 || dt.Day > 31 {
			return nil, fmt.Errorf("special day %x: the meter takes a month and a day", e.Items[1].Bytes)
		}
		id, _ := e.Items[2].Uint()
		if id < 1 || id > 255 {
			return nil, fmt.Errorf("special day %x: day_id %d", e.Items[1].Bytes, id)
		}
		sd := meter.SpecialDay{Month: time.Month(dt.Month), Day: int(dt.Day), Profile: uint8(id - 1)}
		if dt.Year != axdr.YearUnspecified {
			sd.Year = int(dt.Year)
		}
		out = append(out, sd)
	}
	return out, nil
}
