package dr

import (
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

var ams = mustZone("Europe/Amsterdam")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func date(s string) cim.Date {
	d, err := cim.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// mkDay builds a quarter-hour day whose value at each interval is f of the
// interval's local start.
func mkDay(d cim.Date, loc *time.Location, f func(t time.Time) int64) interval.Day {
	n := d.Intervals(loc, 15*time.Minute)
	day := interval.Day{MeterID: "m1", Channel: "A+15m", Date: d, Start: d.Start(loc), Interval: 15 * time.Minute,
		Values: make([]int64, n), Quality: make([]cim.Quality, n)}
	for i := range day.Values {
		day.Values[i] = f(day.Start.Add(time.Duration(i) * day.Interval).In(loc))
	}
	return day
}

func constant(v int64) func(time.Time) int64 { return func(time.Time) int64 { return v } }

func at(d cim.Date, hour, min int) time.Time {
	return time.Date(d.Year, d.Month, d.Day, hour, min, 0, 0, ams)
}

// history of working days before Wednesday 2026-03-18: the ten most recent
// eligible working days carry 100..109, everything that must be passed
// over carries 1000.
func tenOfTenInput() BaselineInput {
	event := date("2026-03-18")
	in := BaselineInput{Day: mkDay(event, ams, constant(100)), Location: ams,
		Start: at(event, 17, 0), End: at(event, 19, 0)}
	v := int64(109)
	for d := event.AddDays(-1); v >= 100; d = d.AddDays(-1) {
		switch {
		case !working(d, nil):
			in.History = append(in.History, mkDay(d, ams, constant(1000)))
		case d == date("2026-03-12"): // an earlier event day
			in.History = append(in.History, mkDay(d, ams, constant(1000)))
			in.Exclude = append(in.Exclude, d)
		case d == date("2026-03-10"): // a holiday
			in.History = append(in.History, mkDay(d, ams, constant(1000)))
			in.Holidays = append(in.Holidays, d)
		case d == date("2026-03-09"): // too many missing intervals
			day := mkDay(d, ams, constant(1000))
			for i := 0; i < 10; i++ {
				day.Quality[i] = cim.QualityMissing
			}
			in.History = append(in.History, day)
		default:
			in.History = append(in.History, mkDay(d, ams, constant(v)))
			v--
		}
	}
	// Older like days, and the event day itself, are never averaged.
	in.History = append(in.History, mkDay(date("2026-02-02"), ams, constant(1000)), mkDay(event, ams, constant(1000)))
	return in
}

func TestTenOfTen(t *testing.T) {
	in := tenOfTenInput()
	b, err := TenOfTen(in, false)
	if err != nil {
		t.Fatal(err)
	}
	// (100+…+109)/10 = 104.5, half up.
	if len(b.Values) != 96 || b.Values[0] != 105 || b.Values[95] != 105 || b.Adjustment != 0 || b.Method != Method10of10 {
		t.Fatalf("baseline %v… (%d values) adjustment %v", b.Values[:4], len(b.Values), b.Adjustment)
	}
	if len(b.Days) != 10 || b.Days[0] != date("2026-03-17") || b.Days[9] != date("2026-02-27") {
		t.Fatalf("days %v", b.Days)
	}
	for _, d := range b.Days {
		if d == date("2026-03-12") || d == date("2026-03-10") || d == date("2026-03-09") {
			t.Fatalf("day %s should not be eligible: %v", d, b.Days)
		}
	}
}

func TestTenOfTenSameDayAdjustment(t *testing.T) {
	for _, c := range []struct {
		actual int64
		want   float64
		value  int64
	}{
		{actual: 110, want: 5, value: 110},  // 110 − 105 over the window: 105 + 5
		{actual: 200, want: 95, value: 200}, // no cap: 105 + 95
		{actual: 50, want: -55, value: 50},  // 105 − 55
		{actual: 0, want: -105, value: 0},   // down to nothing
		{actual: 105, want: 0, value: 105},  // the baseline was right
	} {
		in := tenOfTenInput()
		ev := in.Day.Date
		// The window is 13:00–16:00 for a 17:00 start; the hour before
		// (16:00–17:00) is ignored, here set far off.
		in.Day = mkDay(ev, ams, func(tm time.Time) int64 {
			switch {
			case tm.Hour() >= 13 && tm.Hour() < 16:
				return c.actual
			case tm.Hour() == 16:
				return 5000
			}
			return 105
		})
		b, err := TenOfTen(in, true)
		if err != nil {
			t.Fatal(err)
		}
		if diff := b.Adjustment - c.want; diff > 0.001 || diff < -0.001 {
			t.Errorf("actual %d: adjustment %v, want %v", c.actual, b.Adjustment, c.want)
		}
		if b.Values[68] != c.value {
			t.Errorf("actual %d: value at 17:00 %d, want %d", c.actual, b.Values[68], c.value)
		}
	}
}

func TestTenOfTenTooFewDays(t *testing.T) {
	ev := date("2026-03-18")
	in := BaselineInput{Day: mkDay(ev, ams, constant(1)), Start: at(ev, 17, 0), End: at(ev, 18, 0),
		History: []interval.Day{mkDay(ev.AddDays(-1), ams, constant(1)), mkDay(ev.AddDays(-2), ams, constant(1))}}
	if _, err := TenOfTen(in, false); !errors.Is(err, ErrNoBaseline) {
		t.Fatalf("two days: %v", err)
	}
}

// The autumn change (Sunday 2026-10-25 in Amsterdam, 100 quarter hours):
// an event on it takes its like days' 02:xx values for both 02:xx hours,
// and a like day that lived 02:xx twice gives the mean of the two.
func TestBaselineAcrossDST(t *testing.T) {
	clock := func(tm time.Time) int64 { return int64(tm.Hour() * 10) }
	fall := date("2026-10-25")
	in := BaselineInput{Day: mkDay(fall, ams, clock), Location: ams, Start: at(fall, 1, 0), End: at(fall, 4, 0)}
	for _, d := range []string{"2026-10-24", "2026-10-18", "2026-10-17"} {
		in.History = append(in.History, mkDay(date(d), ams, clock))
	}
	b, err := TenOfTen(in, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Values) != 100 {
		t.Fatalf("%d values on the autumn day", len(b.Values))
	}
	// Intervals 8..11 are the first 02:xx, 12..15 the second, 16 is 03:00.
	if b.Values[8] != 20 || b.Values[12] != 20 || b.Values[16] != 30 || b.Values[99] != 230 {
		t.Fatalf("autumn baseline %v", b.Values[:20])
	}

	// The Saturday after: its history holds the autumn day, whose 02:xx
	// hour was 20 then 40 (mean 30), and two ordinary weekend days (20):
	// (30+20+20)/3 = 23.33 → 23.
	sat := date("2026-10-31")
	autumn := mkDay(fall, ams, clock)
	for i := 12; i < 16; i++ {
		autumn.Values[i] = 40
	}
	in = BaselineInput{Day: mkDay(sat, ams, clock), Location: ams, Start: at(sat, 1, 0), End: at(sat, 4, 0),
		History: []interval.Day{autumn, mkDay(date("2026-10-24"), ams, clock), mkDay(date("2026-10-18"), ams, clock)}}
	b, err = TenOfTen(in, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Values) != 96 || b.Values[8] != 23 || b.Values[12] != 30 {
		t.Fatalf("saturday baseline %v", b.Values[:16])
	}

	// Spring (Sunday 2026-03-29, 92 quarter hours): 02:xx does not exist
	// on the event day, and a like day lacking it leaves 02:xx averaged
	// over the others.
	spring := date("2026-03-29")
	in = BaselineInput{Day: mkDay(spring, ams, clock), Location: ams, Start: at(spring, 9, 0), End: at(spring, 10, 0),
		History: []interval.Day{mkDay(date("2026-03-28"), ams, clock), mkDay(date("2026-03-22"), ams, clock), mkDay(date("2026-03-21"), ams, clock)}}
	b, err = TenOfTen(in, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Values) != 92 || b.Values[8] != 30 || b.Values[91] != 230 {
		t.Fatalf("spring baseline %v", b.Values[:12])
	}
	next := date("2026-04-04")
	in = BaselineInput{Day: mkDay(next, ams, clock), Location: ams, Start: at(next, 9, 0), End: at(next, 10, 0),
		History: []interval.Day{mkDay(spring, ams, constant(60)), mkDay(date("2026-03-28"), ams, clock), mkDay(date("2026-03-22"), ams, clock)}}
	b, err = TenOfTen(in, false)
	if err != nil {
		t.Fatal(err)
	}
	// 02:00: only the two ordinary days (20); 03:00: (60+30+30)/3 = 40.
	if b.Values[8] != 20 || b.Values[12] != 40 {
		t.Fatalf("after spring %v", b.Values[:16])
	}
}

func TestLikeDay(t *testing.T) {
	ev := date("2026-03-18")
	// Event day: 50 before the event.
	in := BaselineInput{Day: mkDay(ev, ams, constant(50)), Location: ams, Start: at(ev, 17, 0), End: at(ev, 18, 0)}
	// Working days back from the 17th, loads 90, 52, 48, 70, 45, 30, 50, 10.
	loads := []int64{90, 52, 48, 70, 45, 30, 50, 10}
	d := ev.AddDays(-1)
	for _, v := range loads {
		for !working(d, nil) {
			d = d.AddDays(-1)
		}
		in.History = append(in.History, mkDay(d, ams, constant(v)))
		d = d.AddDays(-1)
	}
	b, err := LikeDay(in)
	if err != nil {
		t.Fatal(err)
	}
	// Closest five: 50, 52, 48, 45, 70 (distance 20, before 30 at 20? no:
	// 30 is also 20 away and older, so 70 wins the tie).
	// (52+48+70+45+50)/5 = 53.
	if b.Values[0] != 53 || len(b.Days) != 5 {
		t.Fatalf("like-day %v days %v", b.Values[:2], b.Days)
	}
}

func TestWeatherMatched(t *testing.T) {
	ev := date("2026-07-15")
	in := BaselineInput{Day: mkDay(ev, ams, constant(0)), Location: ams, Start: at(ev, 15, 0), End: at(ev, 17, 0),
		Temperatures: map[cim.Date]float64{ev: 30}}
	temps := []float64{20, 29, 31, 25, 33, 28, 15}
	d := ev.AddDays(-1)
	for i, tc := range temps {
		for !working(d, nil) {
			d = d.AddDays(-1)
		}
		in.History = append(in.History, mkDay(d, ams, constant(int64(100*(i+1)))))
		in.Temperatures[d] = tc
		d = d.AddDays(-1)
	}
	// A day without a temperature is not a candidate.
	in.History = append(in.History, mkDay(d.AddDays(-1), ams, constant(5)))
	b, err := WeatherMatched(in)
	if err != nil {
		t.Fatal(err)
	}
	// Closest: 29 (200), 31 (300), 28 (600), 33 (500), 25 (400): mean 400.
	if b.Values[0] != 400 || len(b.Days) != 5 {
		t.Fatalf("weather %v days %v", b.Values[:2], b.Days)
	}
	delete(in.Temperatures, ev)
	if _, err := WeatherMatched(in); !errors.Is(err, ErrNoBaseline) {
		t.Fatalf("without the event day's temperature: %v", err)
	}
}

func TestReduction(t *testing.T) {
	ev := date("2026-03-18")
	actual := mkDay(ev, ams, func(tm time.Time) int64 {
		if tm.Hour() == 17 {
			return 60
		}
		return 100
	})
	b := Baseline{Values: make([]int64, 96)}
	for i := range b.Values {
		b.Values[i] = 100
	}
	if got := Reduction(b, actual, at(ev, 17, 0), at(ev, 18, 0)); got != 160 {
		t.Fatalf("whole hour: %d, want 160", got)
	}
	// From 17:05: 40 × 10/15 = 26.67, + 120 = 146.67 → 147.
	if got := Reduction(b, actual, at(ev, 17, 5), at(ev, 18, 0)); got != 147 {
		t.Fatalf("from 17:05: %d, want 147", got)
	}
	// A missing interval counts as no reduction; a rise is negative.
	actual.Quality[68] = cim.QualityMissing
	actual.Values[72] = 130
	if got := Reduction(b, actual, at(ev, 17, 0), at(ev, 18, 15)); got != 120-30 {
		t.Fatalf("missing and a rise: %d, want 90", got)
	}
}
