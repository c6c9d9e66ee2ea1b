package objects

import (
	"context"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// Clock base values (attribute 9).
const (
	ClockBaseNotDefined      uint8 = 0
	ClockBaseCrystal         uint8 = 1
	ClockBaseMains50Hz       uint8 = 2
	ClockBaseMains60Hz       uint8 = 3
	ClockBaseGPS             uint8 = 4
	ClockBaseRadioControlled uint8 = 5
)

// Clock is a Clock object (class 8). It runs at Now() plus an offset that
// clients move with SET of time and the adjust/shift methods; if SetTime
// is given, changes go to it instead (a real RTC) and the offset stays 0.
//
// TimeZone and the date-time deviation follow the Blue Book sign, UTC
// minus local time in minutes (Central European Time is -60).
type Clock struct {
	sync.Mutex
	Header
	// Now is the time source (default time.Now).
	Now func() time.Time
	// SetTime, if set, receives every new time instead of the offset.
	SetTime func(ctx context.Context, t time.Time) error

	TimeZone     int16
	Status       axdr.ClockStatus // without the daylight saving bit, which the clock sets itself
	DSTBegin     axdr.DateTime
	DSTEnd       axdr.DateTime
	DSTDeviation int8 // minutes added to local time while DST is active
	DSTEnabled   bool
	ClockBase    uint8
	// MeasuringPeriod is the period adjust_to_measuring_period rounds to;
	// zero makes that method fail.
	MeasuringPeriod time.Duration

	offset time.Duration
	preset *clockPreset
}

type clockPreset struct {
	at, from, to time.Time
}

// NewClock returns a clock on time.Now in the zone tz (UTC minus local
// time, minutes), crystal based, without daylight saving.
func NewClock(ln obis.Code, tz int16) *Clock {
	return &Clock{Header: Header{Class: cosem.ClassClock, LN: ln}, TimeZone: tz, ClockBase: ClockBaseCrystal,
		DSTBegin: unsetDateTime, DSTEnd: unsetDateTime}
}

// Time returns the clock's current time in its local zone (daylight
// saving applied) and whether daylight saving is active.
func (o *Clock) Time() (time.Time, bool) {
	o.Lock()
	defer o.Unlock()
	return o.timeLocked()
}

func (o *Clock) timeLocked() (time.Time, bool) {
	t := nowOr(o.Now).Add(o.offset)
	base := time.FixedZone("", -int(o.TimeZone)*60)
	t = t.In(base)
	if !o.DSTEnabled || !dstActive(t, o.DSTBegin, o.DSTEnd) {
		return t, false
	}
	return t.In(time.FixedZone("", (-int(o.TimeZone)+int(o.DSTDeviation))*60)), true
}

// dstActive reports whether t (in standard local time) lies between the
// begin and end rules, evaluated in t's year.
func dstActive(t time.Time, begin, end axdr.DateTime) bool {
	b, ok1 := ruleTime(t, begin)
	e, ok2 := ruleTime(t, end)
	if !ok1 || !ok2 {
		return false
	}
	if b.Before(e) {
		return !t.Before(b) && t.Before(e)
	}
	// Southern hemisphere: the period wraps the new year.
	return !t.Before(b) || t.Before(e)
}

// ruleTime resolves a daylight saving rule (year may be unspecified; day
// may be the last or second-last day; a day of week picks its first
// occurrence on or after the day, or its last on or before for the last
// day) in t's year and zone.
func ruleTime(t time.Time, r axdr.DateTime) (time.Time, bool) {
	if r.Month < 1 || r.Month > 12 || r.Hour > 23 {
		return time.Time{}, false
	}
	y := t.Year()
	if r.Year != axdr.YearUnspecified {
		y = int(r.Year)
	}
	m := time.Month(r.Month)
	last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	day, back := int(r.Day), false
	switch r.Day {
	case axdr.DayLast:
		day, back = last, true
	case axdr.DaySecondLast:
		day, back = last-1, true
	}
	if day < 1 || day > last {
		return time.Time{}, false
	}
	min := 0
	if r.Minute < 60 {
		min = int(r.Minute)
	}
	d := time.Date(y, m, day, int(r.Hour), min, 0, 0, t.Location())
	if r.DayOfWeek >= 1 && r.DayOfWeek <= 7 {
		want := time.Weekday(r.DayOfWeek % 7)
		for i := 0; i < 7 && d.Weekday() != want; i++ {
			if back {
				d = d.AddDate(0, 0, -1)
			} else {
				d = d.AddDate(0, 0, 1)
			}
		}
	}
	return d, true
}

// set moves the clock to t.
func (o *Clock) set(ctx context.Context, t time.Time) error {
	o.Lock()
	setter := o.SetTime
	o.Unlock()
	if setter != nil {
		return setter(ctx, t)
	}
	now := nowOr(o.Now)
	o.Lock()
	o.offset = t.Sub(now)
	o.Unlock()
	return nil
}

// Get implements Object.
func (o *Clock) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	if err := o.noSelective(req); err != nil {
		return axdr.Data{}, err
	}
	o.Lock()
	defer o.Unlock()
	switch req.Attribute {
	case 1:
		return cosem.LogicalNameData(o.LN), nil
	case 2:
		t, dst := o.timeLocked()
		st := o.Status &^ axdr.StatusDaylightSaving
		if dst {
			st |= axdr.StatusDaylightSaving
		}
		dt := axdr.FromTime(t, st)
		return axdr.DateTimeOctets(dt), nil
	case 3:
		return axdr.Int16(o.TimeZone), nil
	case 4:
		_, dst := o.timeLocked()
		st := o.Status &^ axdr.StatusDaylightSaving
		if dst {
			st |= axdr.StatusDaylightSaving
		}
		return axdr.Uint8(uint8(st)), nil
	case 5:
		return axdr.DateTimeOctets(o.DSTBegin), nil
	case 6:
		return axdr.DateTimeOctets(o.DSTEnd), nil
	case 7:
		return axdr.Int8(o.DSTDeviation), nil
	case 8:
		return axdr.Bool(o.DSTEnabled), nil
	case 9:
		return axdr.Enum(o.ClockBase), nil
	}
	return axdr.Data{}, o.undefinedAttr(req.Attribute)
}

// Set implements Object. Setting time takes the deviation from the value,
// or the clock's own zone when it is not specified.
func (o *Clock) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	if err := o.noSelective(req); err != nil {
		return err
	}
	switch req.Attribute {
	case 1, 4, 9:
		return o.denied(req.Attribute)
	case 2:
		dt, ok := v.DateTime()
		if !ok {
			return o.typeErr(2, "date-time octet-string(12)", v)
		}
		o.Lock()
		loc := time.FixedZone("", -int(o.TimeZone)*60)
		o.Unlock()
		t, err := dt.TimeIn(loc)
		if err != nil {
			return cosem.Wrap(cosem.ResultOtherReason, o.attrName(2), err)
		}
		return o.set(ctx, t)
	case 3:
		n, ok := cosem.IntOf(v, axdr.TagInt16)
		if !ok {
			return o.typeErr(3, "long", v)
		}
		if n < -840 || n > 840 {
			return cosem.Errorf(cosem.ResultOtherReason, o.attrName(3)+": out of range")
		}
		o.Lock()
		o.TimeZone = int16(n)
		o.Unlock()
		return nil
	case 5, 6:
		dt, ok := v.DateTime()
		if !ok {
			return o.typeErr(req.Attribute, "date-time octet-string(12)", v)
		}
		o.Lock()
		if req.Attribute == 5 {
			o.DSTBegin = dt
		} else {
			o.DSTEnd = dt
		}
		o.Unlock()
		return nil
	case 7:
		n, ok := cosem.IntOf(v, axdr.TagInt8)
		if !ok {
			return o.typeErr(7, "integer", v)
		}
		o.Lock()
		o.DSTDeviation = int8(n)
		o.Unlock()
		return nil
	case 8:
		b, ok := v.Bool()
		if !ok {
			return o.typeErr(8, "boolean", v)
		}
		o.Lock()
		o.DSTEnabled = b
		o.Unlock()
		return nil
	}
	return o.undefinedAttr(req.Attribute)
}

// roundTo rounds t's local wall clock to the nearest multiple of d within
// the day (half way rounds up).
func roundTo(t time.Time, d time.Duration) time.Time {
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	since := t.Sub(midnight)
	r := since % d
	if r >= d-r {
		return t.Add(d - r)
	}
	return t.Add(-r)
}

// Action implements Object: methods 1 adjust_to_quarter, 2
// adjust_to_measuring_period, 3 adjust_to_minute, 4 adjust_to_preset_time,
// 5 preset_adjusting_time, 6 shift_time.
func (o *Clock) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	switch req.Method {
	case 1, 2, 3, 4:
		if p.Tag != axdr.TagNull {
			if _, ok := p.Int(); !ok {
				return axdr.Data{}, o.paramErr(req.Method, "integer", p)
			}
		}
	}
	switch req.Method {
	case 1, 2, 3:
		o.Lock()
		t, _ := o.timeLocked()
		mp := o.MeasuringPeriod
		o.Unlock()
		step := 15 * time.Minute
		switch req.Method {
		case 2:
			if mp <= 0 {
				return axdr.Data{}, cosem.Errorf(cosem.ResultOtherReason, o.methodName(2)+": no measuring period configured")
			}
			step = mp
		case 3:
			step = time.Minute
		}
		return axdr.Null(), o.set(ctx, roundTo(t, step))
	case 4:
		o.Lock()
		t, _ := o.timeLocked()
		pr := o.preset
		o.preset = nil
		o.Unlock()
		if pr == nil {
			return axdr.Data{}, cosem.Errorf(cosem.ResultOtherReason, o.methodName(4)+": no preset time")
		}
		if t.Before(pr.from) || t.After(pr.to) {
			return axdr.Data{}, cosem.Errorf(cosem.ResultOtherReason, o.methodName(4)+": outside the validity interval")
		}
		return axdr.Null(), o.set(ctx, pr.at)
	case 5:
		if !isStruct(p, 3) {
			return axdr.Data{}, o.paramErr(5, "structure of 3 date-times", p)
		}
		o.Lock()
		loc := time.FixedZone("", -int(o.TimeZone)*60)
		o.Unlock()
		var ts [3]time.Time
		for i, it := range p.Items {
			dt, ok := it.DateTime()
			if !ok {
				return axdr.Data{}, o.paramErr(5, "date-time octet-string(12)", it)
			}
			t, err := dt.TimeIn(loc)
			if err != nil {
				return axdr.Data{}, cosem.Wrap(cosem.ResultOtherReason, o.methodName(5), err)
			}
			ts[i] = t
		}
		o.Lock()
		o.preset = &clockPreset{at: ts[0], from: ts[1], to: ts[2]}
		o.Unlock()
		return axdr.Null(), nil
	case 6:
		n, ok := cosem.IntOf(p, axdr.TagInt16)
		if !ok {
			return axdr.Data{}, o.paramErr(6, "long", p)
		}
		if n < -900 || n > 900 {
			return axdr.Data{}, cosem.Errorf(cosem.ResultOtherReason, o.methodName(6)+": shift beyond +-900 s")
		}
		o.Lock()
		t, _ := o.timeLocked()
		o.Unlock()
		return axdr.Null(), o.set(ctx, t.Add(time.Duration(n)*time.Second))
	}
	return axdr.Data{}, o.undefinedMethod(req.Method)
}
