package axdr_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
)

func TestDateTimeBytes(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		dt   axdr.DateTime
		str  string
	}{
		{"trace clock", "07EA0B170115162500000000",
			axdr.DateTime{Year: 2026, Month: 11, Day: 23, DayOfWeek: 1, Hour: 21, Minute: 22, Second: 37},
			"2026-11-23T21:22:37.00 dow=1 dev=+0 status=0x00"},
		{"range start, dow unspecified", "07EA0B17FF14160000000000",
			axdr.DateTime{Year: 2026, Month: 11, Day: 23, DayOfWeek: 0xFF, Hour: 20, Minute: 22},
			"2026-11-23T20:22:00.00 dow=* dev=+0 status=0x00"},
		{"CET with DST", "07E9061504 0A1E0032 FF88 80",
			axdr.DateTime{Year: 2025, Month: 6, Day: 21, DayOfWeek: 4, Hour: 10, Minute: 30, Second: 0, Hundredths: 50, Deviation: -120, Status: axdr.StatusDaylightSaving},
			"2025-06-21T10:30:00.50 dow=4 dev=-120 status=0x80(dst)"},
		{"all unspecified", "FFFFFFFFFFFFFFFFFF800000",
			axdr.DateTime{Year: 0xFFFF, Month: 0xFF, Day: 0xFF, DayOfWeek: 0xFF, Hour: 0xFF, Minute: 0xFF, Second: 0xFF, Hundredths: 0xFF, Deviation: axdr.DeviationUnspecified},
			"****-**-**T**:**:**.** dow=* dev=* status=0x00"},
		{"last day of DST-begin month", "FFFFFEFE07 02000000 0000 09",
			axdr.DateTime{Year: 0xFFFF, Month: axdr.MonthDSTBegin, Day: axdr.DayLast, DayOfWeek: 7, Hour: 2, Status: axdr.StatusInvalid | axdr.StatusInvalidStatus},
			"****-DB-L1T02:00:00.00 dow=7 dev=+0 status=0x09(invalid,invalid-status)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mustHex(t, tc.hex)
			got, err := axdr.ParseDateTime(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.dt {
				t.Errorf("Parse = %+v, want %+v", got, tc.dt)
			}
			if !bytes.Equal(tc.dt.Bytes(), b) {
				t.Errorf("Bytes = %X, want %X", tc.dt.Bytes(), b)
			}
			if s := got.String(); s != tc.str {
				t.Errorf("String = %q, want %q", s, tc.str)
			}
			// Carried both ways, as tag 25 and as a 12-octet octet-string.
			for _, d := range []axdr.Data{axdr.DateTimeData(tc.dt), axdr.DateTimeOctets(tc.dt)} {
				if v, ok := d.DateTime(); !ok || v != tc.dt {
					t.Errorf("%s DateTime() = %v, %v", d.Tag, v, ok)
				}
			}
			if d, _ := axdr.ParseDate(b[:5]); d != tc.dt.Date() {
				t.Errorf("date part %v, want %v", d, tc.dt.Date())
			}
			if c, _ := axdr.ParseTime(b[5:9]); c != tc.dt.Clock() {
				t.Errorf("time part %v, want %v", c, tc.dt.Clock())
			}
		})
	}
	for _, n := range []int{0, 11, 13} {
		if _, err := axdr.ParseDateTime(make([]byte, n)); !errors.Is(err, axdr.ErrDateTimeSize) {
			t.Errorf("ParseDateTime of %d bytes: %v", n, err)
		}
	}
	if _, ok := axdr.OctetString(make([]byte, 6)).DateTime(); ok {
		t.Error("6-byte octet-string accepted as date-time")
	}
	if _, ok := axdr.Uint32(1).DateTime(); ok {
		t.Error("uint32 accepted as date-time")
	}
}

func TestDateTimeConversion(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	est := time.FixedZone("EST", -5*3600)
	tests := []struct {
		t   time.Time
		dev int16
		dow uint8
	}{
		{time.Date(2026, 11, 23, 21, 22, 37, 0, time.UTC), 0, 1},
		{time.Date(2026, 1, 4, 0, 0, 0, 990_000_000, cet), -60, 7}, // a Sunday
		{time.Date(2024, 2, 29, 23, 59, 59, 10_000_000, est), 300, 4},
	}
	for _, tc := range tests {
		dt := axdr.FromTime(tc.t, axdr.StatusDoubtful)
		if dt.Deviation != tc.dev || dt.DayOfWeek != tc.dow || dt.Status != axdr.StatusDoubtful {
			t.Errorf("FromTime(%v) = %v; want deviation %d, dow %d", tc.t, dt, tc.dev, tc.dow)
		}
		back, err := dt.Time()
		if err != nil {
			t.Fatal(err)
		}
		if !back.Equal(tc.t) {
			t.Errorf("Time() = %v, want %v", back, tc.t)
		}
		if _, off := back.Zone(); off != -int(tc.dev)*60 {
			t.Errorf("offset %d, want %d", off, -int(tc.dev)*60)
		}
	}
	// Without a deviation, TimeIn's zone applies.
	dt := axdr.DateTime{Year: 2026, Month: 7, Day: 1, Hour: 12, Hundredths: 0xFF, Deviation: axdr.DeviationUnspecified}
	got, err := dt.TimeIn(cet)
	if err != nil || !got.Equal(time.Date(2026, 7, 1, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("TimeIn(CET) = %v, %v", got, err)
	}

	bad := []struct {
		dt  axdr.DateTime
		err error
	}{
		{axdr.DateTime{Year: 0xFFFF, Month: 1, Day: 1}, axdr.ErrUnspecified},
		{axdr.DateTime{Year: 2026, Month: axdr.MonthDSTEnd, Day: 1}, axdr.ErrUnspecified},
		{axdr.DateTime{Year: 2026, Month: 3, Day: axdr.DayLast}, axdr.ErrUnspecified},
		{axdr.DateTime{Year: 2026, Month: 3, Day: 1, Hour: 0xFF}, axdr.ErrUnspecified},
		{axdr.DateTime{Year: 2026, Month: 13, Day: 1}, axdr.ErrDateTimeRange},
		{axdr.DateTime{Year: 2026, Month: 0, Day: 1}, axdr.ErrDateTimeRange},
		{axdr.DateTime{Year: 2026, Month: 4, Day: 31}, axdr.ErrDateTimeRange},
		{axdr.DateTime{Year: 2026, Month: 4, Day: 1, Hour: 24}, axdr.ErrDateTimeRange},
		{axdr.DateTime{Year: 2026, Month: 4, Day: 1, Hundredths: 100}, axdr.ErrDateTimeRange},
		{axdr.DateTime{Year: 2026, Month: 4, Day: 1, Deviation: 900}, axdr.ErrDateTimeRange},
	}
	for _, tc := range bad {
		if _, err := tc.dt.Time(); !errors.Is(err, tc.err) {
			t.Errorf("%v: err %v, want %v", tc.dt, err, tc.err)
		}
	}
}

func TestDateAndTime(t *testing.T) {
	d := axdr.DateOf(time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC))
	if want := (axdr.Date{Year: 2026, Month: 11, Day: 23, DayOfWeek: 1}); d != want {
		t.Errorf("DateOf = %v", d)
	}
	if got := d.Bytes(); !bytes.Equal(got, mustHex(t, "07EA0B1701")) {
		t.Errorf("Date.Bytes = %X", got)
	}
	c := axdr.TimeOf(time.Date(2026, 1, 1, 23, 5, 9, 120_000_000, time.UTC))
	if got := c.Bytes(); !bytes.Equal(got, mustHex(t, "1705090C")) {
		t.Errorf("Time.Bytes = %X", got)
	}
	if v, ok := axdr.OctetString(mustHex(t, "07EA0B1701")).Date(); !ok || v != d {
		t.Errorf("octet-string Date() = %v %v", v, ok)
	}
	if v, ok := axdr.TimeData(c).Time(); !ok || v != c {
		t.Errorf("Time() = %v %v", v, ok)
	}
	if _, err := axdr.ParseDate(make([]byte, 4)); !errors.Is(err, axdr.ErrDateTimeSize) {
		t.Errorf("ParseDate short: %v", err)
	}
	if _, err := axdr.ParseTime(make([]byte, 5)); !errors.Is(err, axdr.ErrDateTimeSize) {
		t.Errorf("ParseTime long: %v", err)
	}
}
