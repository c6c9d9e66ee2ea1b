package mdm

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// A profile entry captured when the meter's clock was set (07:07:30)
// lies off the quarter-hour grid: it lands by its end in 07:00–07:15,
// flagged, and the block is stored, not dead-lettered.
func TestPlaceOffGrid(t *testing.T) {
	ams := amsterdam(t)
	day := cim.Date{Year: 2026, Month: 11, Day: 2}
	at := func(h, m, s int) time.Time { return time.Date(2026, 11, 2, h, m, s, 0, ams) }
	for _, tc := range []struct {
		name string
		rt   cim.ReadingType
		rs   []cim.IntervalReading
		// want: slot 28 (07:00–07:15) and its neighbours.
		want map[int]cim.IntervalReading
	}{
		{"energy pieces add up", cim.EnergyImport15m, []cim.IntervalReading{
			{End: at(7, 0, 0), Value: 40},
			{End: at(7, 7, 30), Value: 12, Quality: cim.QualityPartial},
			{End: at(7, 15, 0), Value: 9, Quality: cim.QualityPartial},
			{End: at(7, 30, 0), Value: 20},
		}, map[int]cim.IntervalReading{
			27: {End: at(7, 0, 0), Value: 40},
			28: {End: at(7, 15, 0), Value: 21, Quality: cim.QualityPartial | cim.QualityClockAdjusted},
			29: {End: at(7, 30, 0), Value: 20},
		}},
		{"one piece alone", cim.EnergyImport15m, []cim.IntervalReading{
			{End: at(7, 7, 30), Value: 12},
		}, map[int]cim.IntervalReading{
			28: {End: at(7, 15, 0), Value: 12, Quality: cim.QualityClockAdjusted},
		}},
		{"a level keeps the later piece", cim.ReadingType{ID: "V15m", Interval: 15 * time.Minute, Unit: cim.UnitV}, []cim.IntervalReading{
			{End: at(7, 7, 30), Value: 229},
			{End: at(7, 15, 0), Value: 231},
		}, map[int]cim.IntervalReading{
			28: {End: at(7, 15, 0), Value: 231, Quality: cim.QualityClockAdjusted},
		}},
		{"a piece with no value explains nothing", cim.EnergyImport15m, []cim.IntervalReading{
			{End: at(7, 7, 30), Value: 12},
			{End: at(7, 15, 0), Quality: cim.QualityMissing | cim.QualityPowerDown},
		}, map[int]cim.IntervalReading{
			28: {End: at(7, 15, 0), Value: 12, Quality: cim.QualityClockAdjusted | cim.QualityPowerDown},
		}},
		{"a fraction of a second late", cim.EnergyImport15m, []cim.IntervalReading{
			{End: at(7, 15, 0).Add(time.Millisecond), Value: 5},
		}, map[int]cim.IntervalReading{
			28: {End: at(7, 15, 0), Value: 5, Quality: cim.QualityClockAdjusted},
		}},
		// The Gurux C server example stamps some captures a second late:
		// they close the quarter hour that ended on the grid.
		{"a second late, then on the grid", cim.ReadingType{ID: "V15m", Interval: 15 * time.Minute, Unit: cim.UnitV}, []cim.IntervalReading{
			{End: at(7, 0, 0), Value: 229},
			{End: at(7, 15, 1), Value: 230},
			{End: at(7, 30, 0), Value: 231},
		}, map[int]cim.IntervalReading{
			27: {End: at(7, 0, 0), Value: 229},
			28: {End: at(7, 15, 0), Value: 230, Quality: cim.QualityClockAdjusted},
			29: {End: at(7, 30, 0), Value: 231},
		}},
		{"beyond the grace, placed by its end", cim.EnergyImport15m, []cim.IntervalReading{
			{End: at(7, 15, 16), Value: 5},
		}, map[int]cim.IntervalReading{
			29: {End: at(7, 30, 0), Value: 5, Quality: cim.QualityClockAdjusted},
		}},

		{"the same capture twice, differently", cim.EnergyImport15m, []cim.IntervalReading{
			{End: at(7, 15, 0), Value: 5},
			{End: at(7, 15, 0), Value: 6},
		}, map[int]cim.IntervalReading{
			28: {End: at(7, 15, 0), Value: 6, Quality: cim.QualitySuspect},
		}},
		{"the same capture twice, alike", cim.EnergyImport15m, []cim.IntervalReading{
			{End: at(7, 15, 0), Value: 5, Quality: cim.QualityClockAdjusted},
			{End: at(7, 15, 0), Value: 5, Quality: cim.QualityClockAdjusted},
		}, map[int]cim.IntervalReading{
			28: {End: at(7, 15, 0), Value: 5, Quality: cim.QualityClockAdjusted},
		}},
	} {
		b := cim.IntervalBlock{MeterID: "m1", ReadingType: tc.rt, Readings: tc.rs}
		days, err := place(&b, ams, now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(days) != 1 || days[0].date != day {
			t.Fatalf("%s: %+v", tc.name, days)
		}
		got := map[int]cim.IntervalReading{}
		for _, s := range days[0].rs {
			got[s.slot] = s.r
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: slots %v, want %v", tc.name, got, tc.want)
		}
		for slot, w := range tc.want {
			g, ok := got[slot]
			if !ok || !g.End.Equal(w.End) || g.Value != w.Value || g.Quality != w.Quality {
				t.Errorf("%s: slot %d = %+v (%s), want %+v (%s)", tc.name, slot, g, g.Quality, w, w.Quality)
			}
		}
		// Stored, the interval ends where the day says it does.
		d := newDay("m1", tc.rt.ID, days[0], tc.rt.Interval)
		var n notes
		merge(&d, days[0].rs, &n)
		for slot, w := range tc.want {
			if !d.End(slot).Equal(w.End) || d.Values[slot] != w.Value {
				t.Errorf("%s: stored slot %d ends %s with %d", tc.name, slot, d.End(slot), d.Values[slot])
			}
		}
	}
}

// Read again, the same block changes nothing: the pieces add up to the
// same value every time, so a re-read after a crash is idempotent.
func TestPlaceOffGridIdempotent(t *testing.T) {
	ams := amsterdam(t)
	at := func(h, m, s int) time.Time { return time.Date(2026, 11, 2, h, m, s, 0, ams) }
	b := cim.IntervalBlock{MeterID: "m1", ReadingType: cim.EnergyImport15m, Readings: []cim.IntervalReading{
		{End: at(7, 7, 30), Value: 12}, {End: at(7, 15, 0), Value: 9}}}
	days, err := place(&b, ams, now)
	if err != nil {
		t.Fatal(err)
	}
	d := newDay("m1", "A+15m", days[0], 15*time.Minute)
	var n notes
	if !merge(&d, days[0].rs, &n) {
		t.Fatal("first merge changed nothing")
	}
	again, err := place(&b, ams, now)
	if err != nil {
		t.Fatal(err)
	}
	if merge(&d, again[0].rs, &n) || n.conflicts != 0 {
		t.Fatalf("a re-read changed the day: %+v", n)
	}
	if d.Values[28] != 21 {
		t.Fatalf("slot 28 = %d", d.Values[28])
	}
}

// A capture stamped two seconds after midnight closes the day before.
func TestLateCaptureClosesTheDayBefore(t *testing.T) {
	ams := amsterdam(t)
	b := cim.IntervalBlock{MeterID: "m1", ReadingType: cim.EnergyImport15m, Readings: []cim.IntervalReading{
		{End: time.Date(2026, 11, 2, 0, 0, 2, 0, ams), Value: 7}}}
	days, err := place(&b, ams, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 1 || days[0].date != (cim.Date{Year: 2026, Month: 11, Day: 1}) || len(days[0].rs) != 1 || days[0].rs[0].slot != days[0].n-1 {
		t.Fatalf("placed as %+v, want the last quarter hour of 1 November", days)
	}
	if r := days[0].rs[0].r; r.Value != 7 || r.Quality != cim.QualityClockAdjusted || !r.End.Equal(time.Date(2026, 11, 2, 0, 0, 0, 0, ams)) {
		t.Fatalf("reading %+v", r)
	}
}
