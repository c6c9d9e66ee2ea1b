package axdr

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"time"
)

// COSEM date and time octet strings (Blue Book 4.1.6.1): date-time is 12
// octets (year hi, year lo, month, day of month, day of week, hour, minute,
// second, hundredths, deviation hi, deviation lo, clock status), date is
// the first five of those and time the four after them.
//
// Deviation follows the Blue Book definition, "minutes of local time to
// UTC": deviation = UTC - local time, so Central European Time (UTC+1)
// carries -60 and US Eastern Standard Time (UTC-5) +300. Some meters write
// the opposite sign; callers that know a meter does so negate Deviation
// before calling Time.

// Values that mark a field as not specified.
const (
	YearUnspecified      uint16 = 0xFFFF
	Unspecified          uint8  = 0xFF // month, day, day of week, hour, minute, second, hundredths
	DeviationUnspecified int16  = -0x8000
)

// Special month and day values.
const (
	MonthDSTEnd   uint8 = 0xFD // month in which daylight saving time ends
	MonthDSTBegin uint8 = 0xFE // month in which daylight saving time begins
	DaySecondLast uint8 = 0xFD // second-to-last day of the month
	DayLast       uint8 = 0xFE // last day of the month
)

// ClockStatus is the clock status octet of a date-time.
type ClockStatus uint8

// Clock status bits.
const (
	StatusInvalid        ClockStatus = 0x01 // time could not be recovered after an incident
	StatusDoubtful       ClockStatus = 0x02 // time recovered, but not guaranteed
	StatusDifferentBase  ClockStatus = 0x04 // clock base differs from the one configured
	StatusInvalidStatus  ClockStatus = 0x08 // this status octet is not valid
	StatusDaylightSaving ClockStatus = 0x80 // daylight saving time is active
	StatusUnspecified    ClockStatus = 0xFF
)

// String lists the set bits, e.g. "0x81(invalid,dst)".
func (s ClockStatus) String() string {
	h := "0x" + strings.ToUpper(strconv.FormatUint(uint64(s)|0x100, 16)[1:])
	if s == 0 || s == StatusUnspecified {
		return h
	}
	var names []string
	for _, b := range []struct {
		bit  ClockStatus
		name string
	}{
		{StatusInvalid, "invalid"}, {StatusDoubtful, "doubtful"}, {StatusDifferentBase, "different-base"},
		{StatusInvalidStatus, "invalid-status"}, {StatusDaylightSaving, "dst"},
	} {
		if s&b.bit != 0 {
			names = append(names, b.name)
		}
	}
	return h + "(" + strings.Join(names, ",") + ")"
}

// Errors from the date and time types.
var (
	// ErrDateTimeSize: a date, time or date-time octet string of the wrong
	// length.
	ErrDateTimeSize = errors.New("axdr: date/time octet string has the wrong length")
	// ErrUnspecified: a field needed for a point in time is not specified
	// or is one of the special (DST, last day) values.
	ErrUnspecified = errors.New("axdr: date/time field not specified or special")
	// ErrDateTimeRange: a field is out of range.
	ErrDateTimeRange = errors.New("axdr: date/time field out of range")
)

// DateTime is a COSEM date-time. Fields hold the raw octets, including
// the not-specified and special values above.
type DateTime struct {
	Year       uint16 // 0xFFFF: not specified
	Month      uint8  // 1..12, 0xFD DST end, 0xFE DST begin, 0xFF
	Day        uint8  // 1..31, 0xFD second-last, 0xFE last day of month, 0xFF
	DayOfWeek  uint8  // 1 Monday .. 7 Sunday, 0xFF
	Hour       uint8  // 0..23, 0xFF
	Minute     uint8  // 0..59, 0xFF
	Second     uint8  // 0..59, 0xFF
	Hundredths uint8  // 0..99, 0xFF
	Deviation  int16  // UTC minus local time in minutes, -0x8000 not specified
	Status     ClockStatus
}

// Date is a COSEM date (five octets).
type Date struct {
	Year      uint16
	Month     uint8
	Day       uint8
	DayOfWeek uint8
}

// Time is a COSEM time (four octets).
type Time struct {
	Hour       uint8
	Minute     uint8
	Second     uint8
	Hundredths uint8
}

// ParseDateTime reads the 12-octet form.
func ParseDateTime(b []byte) (DateTime, error) {
	if len(b) != 12 {
		return DateTime{}, ErrDateTimeSize
	}
	return DateTime{
		Year: binary.BigEndian.Uint16(b), Month: b[2], Day: b[3], DayOfWeek: b[4],
		Hour: b[5], Minute: b[6], Second: b[7], Hundredths: b[8],
		Deviation: int16(binary.BigEndian.Uint16(b[9:])), Status: ClockStatus(b[11]),
	}, nil
}

// Append appends the 12-octet form.
func (dt DateTime) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, dt.Year)
	b = append(b, dt.Month, dt.Day, dt.DayOfWeek, dt.Hour, dt.Minute, dt.Second, dt.Hundredths)
	b = binary.BigEndian.AppendUint16(b, uint16(dt.Deviation))
	return append(b, byte(dt.Status))
}

// Bytes returns the 12-octet form.
func (dt DateTime) Bytes() []byte { return dt.Append(make([]byte, 0, 12)) }

// FromTime converts t to a date-time with the given clock status, keeping
// t's zone as the local time and its offset as the deviation.
func FromTime(t time.Time, status ClockStatus) DateTime {
	_, off := t.Zone()
	return DateTime{
		Year: uint16(t.Year()), Month: uint8(t.Month()), Day: uint8(t.Day()),
		DayOfWeek: weekday(t), Hour: uint8(t.Hour()), Minute: uint8(t.Minute()),
		Second: uint8(t.Second()), Hundredths: uint8(t.Nanosecond() / 1e7),
		Deviation: int16(-off / 60), Status: status,
	}
}

func weekday(t time.Time) uint8 {
	if wd := t.Weekday(); wd != time.Sunday {
		return uint8(wd)
	}
	return 7
}

// Time returns the instant dt names. An unspecified deviation is taken as
// UTC; see TimeIn. Unspecified hundredths count as zero; an unspecified or
// special year, month, day, hour, minute or second is an error, as is a
// field out of range. The day of week and clock status are not checked.
func (dt DateTime) Time() (time.Time, error) { return dt.TimeIn(time.UTC) }

// TimeIn is Time with the zone to assume when the deviation is not
// specified (a meter on local time without telling its offset).
func (dt DateTime) TimeIn(loc *time.Location) (time.Time, error) {
	switch {
	case dt.Year == YearUnspecified, dt.Month >= MonthDSTEnd, dt.Day >= DaySecondLast,
		dt.Hour == Unspecified, dt.Minute == Unspecified, dt.Second == Unspecified:
		return time.Time{}, ErrUnspecified
	case dt.Month == 0, dt.Month > 12, dt.Day == 0, dt.Day > 31, dt.Hour > 23, dt.Minute > 59, dt.Second > 59,
		dt.Hundredths > 99 && dt.Hundredths != Unspecified:
		return time.Time{}, ErrDateTimeRange
	}
	ns := 0
	if dt.Hundredths != Unspecified {
		ns = int(dt.Hundredths) * 1e7
	}
	if dt.Deviation != DeviationUnspecified {
		// Beyond the Blue Book's +-720 to admit UTC+14 zones.
		if dt.Deviation < -840 || dt.Deviation > 840 {
			return time.Time{}, ErrDateTimeRange
		}
		loc = time.FixedZone("", -int(dt.Deviation)*60)
	}
	t := time.Date(int(dt.Year), time.Month(dt.Month), int(dt.Day), int(dt.Hour), int(dt.Minute), int(dt.Second), ns, loc)
	if t.Day() != int(dt.Day) {
		return time.Time{}, ErrDateTimeRange // e.g. 31 April
	}
	return t, nil
}

// Date returns the date part.
func (dt DateTime) Date() Date {
	return Date{Year: dt.Year, Month: dt.Month, Day: dt.Day, DayOfWeek: dt.DayOfWeek}
}

// Clock returns the time part.
func (dt DateTime) Clock() Time {
	return Time{Hour: dt.Hour, Minute: dt.Minute, Second: dt.Second, Hundredths: dt.Hundredths}
}

// String renders dt ISO-like, "*" for unspecified fields, e.g.
// "2026-11-23T21:22:37.00 dow=1 dev=+0 status=0x00".
func (dt DateTime) String() string {
	var sb strings.Builder
	dt.Date().format(&sb)
	sb.WriteByte('T')
	dt.Clock().format(&sb)
	sb.WriteString(" dow=")
	sb.WriteString(field(dt.DayOfWeek, 1))
	sb.WriteString(" dev=")
	if dt.Deviation == DeviationUnspecified {
		sb.WriteByte('*')
	} else {
		if dt.Deviation >= 0 {
			sb.WriteByte('+')
		}
		sb.WriteString(strconv.Itoa(int(dt.Deviation)))
	}
	sb.WriteString(" status=")
	sb.WriteString(dt.Status.String())
	return sb.String()
}

// ParseDate reads the 5-octet form.
func ParseDate(b []byte) (Date, error) {
	if len(b) != 5 {
		return Date{}, ErrDateTimeSize
	}
	return Date{Year: binary.BigEndian.Uint16(b), Month: b[2], Day: b[3], DayOfWeek: b[4]}, nil
}

// DateOf returns the date of t in t's zone.
func DateOf(t time.Time) Date {
	return Date{Year: uint16(t.Year()), Month: uint8(t.Month()), Day: uint8(t.Day()), DayOfWeek: weekday(t)}
}

// Append appends the 5-octet form.
func (d Date) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, d.Year)
	return append(b, d.Month, d.Day, d.DayOfWeek)
}

// Bytes returns the 5-octet form.
func (d Date) Bytes() []byte { return d.Append(make([]byte, 0, 5)) }

// String renders d as "2026-11-23 dow=1", "*" for unspecified fields and
// "DE"/"DB" (DST end/begin) or "L2"/"L1" (second-last/last day) for the
// special values.
func (d Date) String() string {
	var sb strings.Builder
	d.format(&sb)
	sb.WriteString(" dow=")
	sb.WriteString(field(d.DayOfWeek, 1))
	return sb.String()
}

func (d Date) format(sb *strings.Builder) {
	if d.Year == YearUnspecified {
		sb.WriteString("****")
	} else {
		s := strconv.Itoa(int(d.Year))
		for i := len(s); i < 4; i++ {
			sb.WriteByte('0')
		}
		sb.WriteString(s)
	}
	sb.WriteByte('-')
	switch d.Month {
	case MonthDSTEnd:
		sb.WriteString("DE")
	case MonthDSTBegin:
		sb.WriteString("DB")
	default:
		sb.WriteString(field(d.Month, 2))
	}
	sb.WriteByte('-')
	switch d.Day {
	case DaySecondLast:
		sb.WriteString("L2")
	case DayLast:
		sb.WriteString("L1")
	default:
		sb.WriteString(field(d.Day, 2))
	}
}

// ParseTime reads the 4-octet form.
func ParseTime(b []byte) (Time, error) {
	if len(b) != 4 {
		return Time{}, ErrDateTimeSize
	}
	return Time{Hour: b[0], Minute: b[1], Second: b[2], Hundredths: b[3]}, nil
}

// TimeOf returns the time of day of t in t's zone.
func TimeOf(t time.Time) Time {
	return Time{Hour: uint8(t.Hour()), Minute: uint8(t.Minute()), Second: uint8(t.Second()), Hundredths: uint8(t.Nanosecond() / 1e7)}
}

// Append appends the 4-octet form.
func (t Time) Append(b []byte) []byte { return append(b, t.Hour, t.Minute, t.Second, t.Hundredths) }

// Bytes returns the 4-octet form.
func (t Time) Bytes() []byte { return t.Append(make([]byte, 0, 4)) }

// String renders t as "21:22:37.00", "*" for unspecified fields.
func (t Time) String() string {
	var sb strings.Builder
	t.format(&sb)
	return sb.String()
}

func (t Time) format(sb *strings.Builder) {
	sb.WriteString(field(t.Hour, 2))
	sb.WriteByte(':')
	sb.WriteString(field(t.Minute, 2))
	sb.WriteByte(':')
	sb.WriteString(field(t.Second, 2))
	sb.WriteByte('.')
	sb.WriteString(field(t.Hundredths, 2))
}

// field formats a one-octet field zero-padded to width, or "*" repeated
// when not specified.
func field(v uint8, width int) string {
	if v == Unspecified {
		return strings.Repeat("*", width)
	}
	s := strconv.Itoa(int(v))
	for len(s) < width {
		s = "0" + s
	}
	return s
}

// DateTimeData returns a date-time (tag 25). Most meters carry date-times
// as 12-octet octet-strings instead; see DateTimeOctets.
func DateTimeData(dt DateTime) Data { return Data{Tag: TagDateTime, Bytes: dt.Bytes()} }

// DateTimeOctets returns dt as an octet-string of 12 octets, the form the
// Blue Book prescribes for attributes such as the clock time and profile
// capture times.
func DateTimeOctets(dt DateTime) Data { return OctetString(dt.Bytes()) }

// DateData returns a date (tag 26).
func DateData(d Date) Data { return Data{Tag: TagDate, Bytes: d.Bytes()} }

// TimeData returns a time (tag 27).
func TimeData(t Time) Data { return Data{Tag: TagTime, Bytes: t.Bytes()} }

// DateTime returns the date-time in d, which may be a date-time (tag 25)
// or an octet-string of 12 octets.
func (d Data) DateTime() (DateTime, bool) {
	if d.Tag != TagDateTime && d.Tag != TagOctetString {
		return DateTime{}, false
	}
	dt, err := ParseDateTime(d.Bytes)
	return dt, err == nil
}

// Date returns the date in d, which may be a date (tag 26) or an
// octet-string of 5 octets.
func (d Data) Date() (Date, bool) {
	if d.Tag != TagDate && d.Tag != TagOctetString {
		return Date{}, false
	}
	v, err := ParseDate(d.Bytes)
	return v, err == nil
}

// Time returns the time of day in d, which may be a time (tag 27) or an
// octet-string of 4 octets.
func (d Data) Time() (Time, bool) {
	if d.Tag != TagTime && d.Tag != TagOctetString {
		return Time{}, false
	}
	v, err := ParseTime(d.Bytes)
	return v, err == nil
}

// Tolerance names the departures from the Blue Book's date-time encoding
// that DateTimeTolerant accepted. Zero means the value was a plain
// date-time (tag 25) or an octet-string of 12 octets.
type Tolerance uint8

// Departures DateTimeTolerant accepts, as meters in the field send them.
const (
	// TolerateWrapped: the date-time came wrapped once more, as an
	// octet-string whose content is itself an encoded octet-string of 12
	// octets (or an encoded date-time), as some meters answer a clock
	// read inside a GET with list.
	TolerateWrapped Tolerance = 1 << iota
	// TolerateShort: an octet-string of 9 octets (no deviation, no clock
	// status) or 11 octets (no clock status). The missing fields read as
	// not specified.
	TolerateShort
	// TolerateStructure: a structure of a date and a time, optionally
	// followed by the deviation and the clock status.
	TolerateStructure
	// TolerateUnixTime: a double-long-unsigned counting seconds since
	// 1970-01-01 UTC. It reads as UTC with deviation 0 and status 0.
	TolerateUnixTime
)

// String lists the departures, e.g. "wrapped+short"; "none" for zero.
func (t Tolerance) String() string {
	if t == 0 {
		return "none"
	}
	var names []string
	for _, f := range []struct {
		bit  Tolerance
		name string
	}{{TolerateWrapped, "wrapped"}, {TolerateShort, "short"}, {TolerateStructure, "structure"}, {TolerateUnixTime, "unix-time"}} {
		if t&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	if rest := t &^ (TolerateWrapped | TolerateShort | TolerateStructure | TolerateUnixTime); rest != 0 {
		names = append(names, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return strings.Join(names, "+")
}

// maxDateTimeWraps bounds how many octet-string layers DateTimeTolerant
// peels: one, which is what meters are known to do.
const maxDateTimeWraps = 1

// DateTimeTolerant returns the date-time in d in any encoding meters are
// known to use, and which departures from the Blue Book it had to accept
// (zero when none), so a caller can log the meter's deviation once and go
// on. Besides what DateTime accepts it takes a date-time wrapped in one
// more octet-string, an octet-string of 9 or 11 octets, a structure of a
// date and a time, and an unsigned 32-bit Unix time; see the Tolerate
// constants. Not-specified fields (0xFF, deviation 0x8000) are kept as
// they came: DateTime.Time and TimeIn deal with them. It reports false for
// anything else, and never panics.
func (d Data) DateTimeTolerant() (DateTime, Tolerance, bool) {
	var tol Tolerance
	for wraps := 0; ; wraps++ {
		switch d.Tag {
		case TagDateTime:
			dt, err := ParseDateTime(d.Bytes)
			return dt, tol, err == nil
		case TagOctetString:
			if dt, short, ok := parseDateTimeOctets(d.Bytes); ok && !(short && wrapsShort(d.Bytes)) {
				if short {
					tol |= TolerateShort
				}
				return dt, tol, true
			}
			inner, n, err := Decode(d.Bytes)
			if wraps >= maxDateTimeWraps || err != nil || n != len(d.Bytes) ||
				(inner.Tag != TagOctetString && inner.Tag != TagDateTime) {
				return DateTime{}, 0, false
			}
			d, tol = inner, tol|TolerateWrapped
		case TagStructure:
			dt, ok := dateTimeOfStructure(d.Items)
			return dt, tol | TolerateStructure, ok
		case TagUint32:
			dt := FromTime(time.Unix(int64(d.bits), 0).UTC(), 0)
			return dt, tol | TolerateUnixTime, true
		default:
			return DateTime{}, 0, false
		}
	}
}

// wrapsShort reports whether b, which could be read as a short date-time,
// is rather an encoded octet-string of a short date-time: the year would
// be 0x09xx (2304 and later), which no meter reports.
func wrapsShort(b []byte) bool {
	return len(b) >= 2 && b[0] == byte(TagOctetString) && int(b[1]) == len(b)-2 && (b[1] == 9 || b[1] == 11)
}

// parseDateTimeOctets reads 12 octets, or the 9 and 11 octet forms
// without the trailing fields (short reports those).
func parseDateTimeOctets(b []byte) (dt DateTime, short, ok bool) {
	switch len(b) {
	case 12:
		dt, err := ParseDateTime(b)
		return dt, false, err == nil
	case 9, 11:
		full := make([]byte, 12)
		copy(full, b)
		if len(b) == 9 {
			binary.BigEndian.PutUint16(full[9:], 0x8000) // deviation not specified
		}
		full[11] = byte(StatusUnspecified)
		dt, err := ParseDateTime(full)
		return dt, true, err == nil
	}
	return DateTime{}, false, false
}

// dateTimeOfStructure reads structure{date, time[, deviation[, status]]}.
func dateTimeOfStructure(items []Data) (DateTime, bool) {
	if len(items) < 2 || len(items) > 4 {
		return DateTime{}, false
	}
	date, ok := items[0].Date()
	if !ok {
		return DateTime{}, false
	}
	clock, ok := items[1].Time()
	if !ok {
		return DateTime{}, false
	}
	dt := DateTime{Year: date.Year, Month: date.Month, Day: date.Day, DayOfWeek: date.DayOfWeek,
		Hour: clock.Hour, Minute: clock.Minute, Second: clock.Second, Hundredths: clock.Hundredths,
		Deviation: DeviationUnspecified, Status: StatusUnspecified}
	if len(items) > 2 {
		v, ok := items[2].Int()
		if ok && items[2].Tag == TagUint16 {
			v = int64(int16(uint16(v))) // 0x8000 sent unsigned: not specified
		}
		if !ok || v < -0x8000 || v > 0x7FFF {
			return DateTime{}, false
		}
		dt.Deviation = int16(v)
	}
	if len(items) > 3 {
		v, ok := items[3].Uint()
		if !ok || v > 0xFF {
			return DateTime{}, false
		}
		dt.Status = ClockStatus(v)
	}
	return dt, true
}
