package mdm

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

func amsterdam(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// quarterHours returns n readings of the reading type A+15m ending every
// quarter hour from first on, valued base+i.
func quarterHours(first time.Time, n int, base int64) cim.IntervalBlock {
	b := cim.IntervalBlock{MeterID: "m1", ReadingType: cim.EnergyImport15m}
	for i := range n {
		b.Readings = append(b.Readings, cim.IntervalReading{End: first.Add(time.Duration(i) * 15 * time.Minute), Value: base + int64(i)})
	}
	return b
}

var now = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func TestPlaceDSTDays(t *testing.T) {
	ams := amsterdam(t)
	for _, tc := range []struct {
		date cim.Date
		n    int
	}{
		{cim.Date{Year: 2026, Month: 3, Day: 29}, 92},
		{cim.Date{Year: 2026, Month: 10, Day: 25}, 100},
		{cim.Date{Year: 2026, Month: 10, Day: 26}, 96},
	} {
		b := quarterHours(tc.date.Start(ams).Add(15*time.Minute), tc.n, 0)
		days, err := place(&b, ams, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 1 || days[0].date != tc.date || days[0].n != tc.n || len(days[0].rs) != tc.n {
			t.Fatalf("%s: %d days, first %+v", tc.date, len(days), days[0].date)
		}
		for i, s := range days[0].rs {
			if s.slot != i || s.r.Value != int64(i) {
				t.Fatalf("%s: reading %d in slot %d", tc.date, i, s.slot)
			}
		}
	}
	// The autumn day's repeated hour: 02:00–03:00 summer time and winter
	// time are slots 8–11 and 12–15.
	autumn := cim.Date{Year: 2026, Month: 10, Day: 25}
	second := time.Date(2026, 10, 25, 1, 15, 0, 0, time.UTC) // 02:15 CET, the second pass
	b := cim.IntervalBlock{MeterID: "m1", ReadingType: cim.EnergyImport15m, Readings: []cim.IntervalReading{{End: second, Value: 7}}}
	days, err := place(&b, ams, now)
	if err != nil || days[0].date != autumn || days[0].rs[0].slot != 12 {
		t.Fatalf("second 02:00–02:15: %+v %v", days, err)
	}
}

func TestPlaceSplitsDays(t *testing.T) {
	ams := amsterdam(t)
	d := cim.Date{Year: 2026, Month: 3, Day: 28}
	// The last hour of the 28th and the first hours of the 29th (a DST
	// day), newest first: each reading lands by its interval's start.
	b := quarterHours(d.AddDays(1).Start(ams).Add(-45*time.Minute), 16, 100)
	for i, j := 0, len(b.Readings)-1; i < j; i, j = i+1, j-1 {
		b.Readings[i], b.Readings[j] = b.Readings[j], b.Readings[i]
	}
	days, err := place(&b, ams, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 2 {
		t.Fatalf("%d days", len(days))
	}
	got := map[cim.Date][]int{}
	for _, dr := range days {
		for _, s := range dr.rs {
			got[dr.date] = append(got[dr.date], s.slot)
		}
	}
	if s := got[d]; len(s) != 4 || s[0] != 92 || s[3] != 95 {
		t.Errorf("28th slots %v", s)
	}
	// 00:00–00:15 local is slot 0 of the 29th; the clock jumps from 02:00
	// to 03:00 that night, so the twelve readings run to 04:00 in slot 11.
	if s := got[d.AddDays(1)]; len(s) != 12 || s[0] != 0 || s[11] != 11 {
		t.Errorf("29th slots %v", s)
	}
}

func TestPlaceRefuses(t *testing.T) {
	ams := amsterdam(t)
	start := cim.Date{Year: 2026, Month: 11, Day: 2}.Start(ams)
	mod := func(f func(*cim.IntervalBlock)) cim.IntervalBlock {
		b := quarterHours(start.Add(15*time.Minute), 8, 1)
		f(&b)
		return b
	}
	for _, tc := range []struct {
		name, want string
		b          cim.IntervalBlock
	}{
		{"future", "after now", mod(func(b *cim.IntervalBlock) { b.Readings[7].End = now.Add(25 * time.Hour).Truncate(time.Hour) })},
		{"unset clock", "1970", mod(func(b *cim.IntervalBlock) { b.Readings[0].End = time.Date(1960, 1, 1, 0, 15, 0, 0, time.UTC) })},
		{"no end", "no end", mod(func(b *cim.IntervalBlock) { b.Readings[2].End = time.Time{} })},
		{"interval not its id", "carries interval", mod(func(b *cim.IntervalBlock) { b.ReadingType.Interval = 30 * time.Minute })},
		{"no interval", "no interval", mod(func(b *cim.IntervalBlock) { b.ReadingType.Interval = 0 })},
		{"odd interval", "dividing an hour", mod(func(b *cim.IntervalBlock) { b.ReadingType.ID, b.ReadingType.Interval = "X", 7*time.Minute })},
		{"daily interval", "dividing an hour", mod(func(b *cim.IntervalBlock) { b.ReadingType.ID, b.ReadingType.Interval = "X", 24*time.Hour })},
	} {
		_, err := place(&tc.b, ams, now)
		var bm *badMessage
		if !errors.As(err, &bm) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "m1") {
			t.Errorf("%s: %v, want a bad message saying %q and naming the meter", tc.name, err, tc.want)
		}
	}
	// Spaced on the grid of a 30-minute type: fine. Read twice the same: fine.
	b := mod(func(b *cim.IntervalBlock) {
		b.ReadingType = cim.ReadingType{ID: "A+30m", Interval: 30 * time.Minute}
		for i := range b.Readings {
			b.Readings[i].End = start.Add(time.Duration(i+1) * 30 * time.Minute)
		}
		b.Readings = append(b.Readings, b.Readings[2])
	})
	days, err := place(&b, ams, now)
	if err != nil || len(days) != 1 || days[0].n != 48 || len(days[0].rs) != 8 {
		t.Fatalf("30-minute block: %+v %v", days, err)
	}
}

func TestIDInterval(t *testing.T) {
	for id, want := range map[string]time.Duration{
		"A+15m": 15 * time.Minute, "A-60m": time.Hour, "A+1h": time.Hour, "5m": 5 * time.Minute,
		"A+": 0, "A+T2m": 0, "Wh": 0, "A+0m": 0, "m": 0, "": 0, "A+123456m": 0,
	} {
		got, ok := idInterval(id)
		if got != want || ok != (want != 0) {
			t.Errorf("%q: %s %v, want %s", id, got, ok, want)
		}
	}
}

func TestMerge(t *testing.T) {
	const (
		ok   = cim.Quality(0)
		miss = cim.QualityMissing
		est  = cim.QualityEstimated
		edit = cim.QualityEdited
		sus  = cim.QualitySuspect
		pd   = cim.QualityPowerDown
	)
	for _, tc := range []struct {
		name            string
		v               int64
		q               cim.Quality
		in              cim.IntervalReading
		wantV           int64
		wantQ           cim.Quality
		changed         bool
		conflicts, kept int
	}{
		{"missing filled", 0, miss, cim.IntervalReading{Value: 5}, 5, ok, true, 0, 0},
		{"missing filled with status", 0, miss, cim.IntervalReading{Value: 5, Quality: pd}, 5, pd, true, 0, 0},
		{"estimate replaced", 9, est, cim.IntervalReading{Value: 5}, 5, ok, true, 0, 0},
		{"estimate replaced by equal", 5, est, cim.IntervalReading{Value: 5}, 5, ok, true, 0, 0},
		{"same actual again", 5, ok, cim.IntervalReading{Value: 5}, 5, ok, false, 0, 0},
		{"same actual, other status", 5, pd, cim.IntervalReading{Value: 5}, 5, pd, false, 0, 0},
		{"suspect actual again", 6, sus, cim.IntervalReading{Value: 6}, 6, sus, false, 0, 0},
		{"different actual", 5, ok, cim.IntervalReading{Value: 6}, 6, sus, true, 1, 0},
		{"different actual with status", 5, ok, cim.IntervalReading{Value: 6, Quality: pd}, 6, pd | sus, true, 1, 0},
		{"edit kept", 7, edit, cim.IntervalReading{Value: 5}, 7, edit, false, 0, 1},
		{"edited estimate kept", 7, edit | est, cim.IntervalReading{Value: 5}, 7, edit | est, false, 0, 1},
		{"edit agreed", 5, edit, cim.IntervalReading{Value: 5}, 5, edit, false, 0, 0},
		{"no value never erases", 5, ok, cim.IntervalReading{Quality: miss | pd}, 5, ok, false, 0, 0},
		{"no value explains a gap", 0, miss, cim.IntervalReading{Quality: miss | pd}, 0, miss | pd, true, 0, 0},
	} {
		d := interval.Day{Values: []int64{1, tc.v, 3}, Quality: []cim.Quality{ok, tc.q, est}}
		var n notes
		tc.in.End = now
		changed := merge(&d, []slotReading{{slot: 1, r: tc.in}}, &n)
		if d.Values[1] != tc.wantV || d.Quality[1] != tc.wantQ || changed != tc.changed || n.conflicts != tc.conflicts || n.keptEdits != tc.kept {
			t.Errorf("%s: %d %s changed=%v notes=%+v; want %d %s %v", tc.name, d.Values[1], d.Quality[1], changed, n, tc.wantV, tc.wantQ, tc.changed)
		}
		if d.Values[0] != 1 || d.Quality[0] != ok || d.Values[2] != 3 || d.Quality[2] != est {
			t.Errorf("%s: other intervals touched: %v %v", tc.name, d.Values, d.Quality)
		}
		if (tc.conflicts > 0 || tc.kept > 0) != (n.reason() != "") {
			t.Errorf("%s: reason %q", tc.name, n.reason())
		}
	}
}
