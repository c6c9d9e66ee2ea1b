package vee_test

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm/vee"
)

// FuzzValidate feeds days of any values and quality bits, with any
// context and rule parameters, through every rule: none may panic, and
// the findings keep their shape (registered rule, a reason, intervals of
// the day, whole-day findings first and the rest by first interval).
// Each 3 bytes of data are one interval: a value and its quality.
func FuzzValidate(f *testing.F) {
	f.Add([]byte{0, 5, 0, 0, 5, 0, 0, 90, 0, 0, 5, 0}, uint8(0), uint16(0), int64(0), int64(0), false, uint8(8))
	f.Add([]byte{0, 50, 0, 0, 0, byte(cim.QualityMissing), 0, 50, byte(cim.QualityPowerDown | cim.QualityClockAdjusted)},
		uint8(2), uint16(40), int64(100), int64(250), true, uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, channel uint8, until uint16, regStart, regEnd int64, first bool, ratio uint8) {
		n := len(data) / 3
		if n == 0 || n > 200 {
			return
		}
		date := cim.Date{Year: 2026, Month: 3, Day: 29}
		d := interval.Day{MeterID: "m", Channel: []string{"A+15m", "A-15m", "R+15m", ""}[channel%4], Date: date,
			Start: date.Start(time.UTC), Interval: 15 * time.Minute, Values: make([]int64, n), Quality: make([]cim.Quality, n)}
		for i := range n {
			d.Values[i] = int64(int16(binary.BigEndian.Uint16(data[3*i:])))
			d.Quality[i] = cim.Quality(data[3*i+2])
		}
		hist := d
		hist.Date, hist.Start = date.AddDays(-7), d.Start.AddDate(0, 0, -7)
		c := vee.Context{History: []interval.Day{hist}, First: first,
			Disconnected: []vee.Span{{From: d.Start.Add(time.Duration(until%97) * 15 * time.Minute), To: d.Start.Add(time.Duration(until%13) * time.Hour)}}}
		if until%3 == 0 {
			c.Until = d.Start.Add(time.Duration(until) * time.Minute)
		}
		if regEnd != 0 {
			c.RegisterStart, c.RegisterEnd = &cim.Reading{Value: regStart}, &cim.Reading{Value: regEnd}
		}
		r := vee.DefaultRules()
		r.SpikeRatio, r.ZeroRun, r.DemandLimit = float64(ratio%16), int(ratio%5), int64(ratio)*10
		fs := vee.Validate(d, r, c)
		names := vee.Registered()
		if !slices.IsSortedFunc(fs, func(a, b vee.Failure) int { return a.Interval - b.Interval }) {
			t.Fatalf("findings out of order: %+v", fs)
		}
		for _, fl := range fs {
			if !slices.Contains(names, fl.Rule) || fl.Reason == "" || fl.Interval < -1 || fl.Interval >= n {
				t.Fatalf("finding %+v", fl)
			}
			if fl.Interval >= 0 && (len(fl.Intervals) == 0 || fl.Intervals[0] != fl.Interval) {
				t.Fatalf("finding %+v: its first interval is not the first of its intervals", fl)
			}
			for _, i := range fl.Intervals {
				if i < 0 || i >= n {
					t.Fatalf("finding %+v: interval %d of %d", fl, i, n)
				}
			}
		}
	})
}
