package cim

import (
	"fmt"
	"time"
)

// Date is a calendar day with no time zone: a usage point's local day.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the local calendar day of t in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return Date{y, m, d}
}

// ParseDate parses "2006-01-02".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return DateOf(t, time.UTC), nil
}

// String formats the date as "2006-01-02".
func (d Date) String() string {
	// Without fmt in the common case: a bill run formats a few dates per
	// account, and Sprintf was a tenth of its CPU.
	if d.Year < 0 || d.Year > 9999 || d.Month < 0 || d.Month > 99 || d.Day < 0 || d.Day > 99 {
		return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
	}
	m := int(d.Month)
	b := [10]byte{byte('0' + d.Year/1000), byte('0' + d.Year/100%10), byte('0' + d.Year/10%10), byte('0' + d.Year%10), '-',
		byte('0' + m/10), byte('0' + m%10), '-', byte('0' + d.Day/10), byte('0' + d.Day%10)}
	return string(b[:])
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// Start returns local midnight of the day in loc. Where midnight does not
// exist (a DST gap at 00:00) Go's normalisation yields the first instant of
// the day, which is what a meter's day boundary is.
func (d Date) Start(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// Intervals returns how many intervals of length step the local day has in
// loc: 96 quarter-hours on most days, 92 or 100 across a DST change.
func (d Date) Intervals(loc *time.Location, step time.Duration) int {
	if step <= 0 {
		return 0
	}
	return int(d.AddDays(1).Start(loc).Sub(d.Start(loc)) / step)
}

// AddDays returns the date n days later (earlier for negative n).
func (d Date) AddDays(n int) Date {
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC), time.UTC)
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.String() < e.String() }

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. The zero Date's
// text, "0000-00-00", reads back as the zero Date.
func (d *Date) UnmarshalText(b []byte) error {
	if string(b) == "0000-00-00" {
		*d = Date{}
		return nil
	}
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// CaptureGrace is how late a meter may stamp a capture and still close the
// interval that ends on the grid just before: a quarter-hour entry stamped
// 06:45:01 is the 06:45 capture, a second late, not a reading of the
// quarter hour to 07:00. A sixtieth of the interval, at most 30 seconds.
func CaptureGrace(interval time.Duration) time.Duration {
	return min(interval/60, 30*time.Second)
}
