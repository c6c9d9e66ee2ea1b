package reliability

import (
	"math"
	"testing"
	"time"
)

// FuzzIndices drives Expand and Indices with outages made from bytes (4
// per outage: device, start, length, open) on the ten-customer grid, and
// checks what must hold whatever the outages: one customer's
// interruptions never overlap, the indices are finite and not negative,
// no customer is out longer than the period, and the feeders add up to
// the total.
func FuzzIndices(f *testing.F) {
	f.Add([]byte{1, 10, 60, 0, 3, 12, 60, 0})
	f.Add([]byte{0, 0, 255, 1, 5, 200, 2, 0, 9, 250, 30, 0})
	f.Add([]byte{2, 5, 0, 0, 2, 5, 0, 0})
	devices := []string{"SS-1", "FD-A", "FD-B", "TR-1", "TR-2", "TR-3", "S1", "S5", "S10", "TR-404"}
	f.Fuzz(func(t *testing.T, b []byte) {
		g := testGrid(t)
		var outs []Outage
		for i := 0; i+3 < len(b) && len(outs) < 64; i += 4 {
			// Starts over two days around the period, in 15-minute steps.
			start := day.Add(-24*time.Hour + time.Duration(b[i+1])*15*time.Minute)
			o := Outage{Device: devices[int(b[i])%len(devices)], Start: start}
			if b[i+3]%2 == 0 {
				o.End = start.Add(time.Duration(b[i+2]) * time.Minute)
			}
			outs = append(outs, o)
		}
		ints := Expand(g, outs)
		for i := 1; i < len(ints); i++ {
			p, c := ints[i-1], ints[i]
			if p.Service == c.Service && (p.End.IsZero() || !c.Start.After(p.End)) {
				t.Fatalf("overlapping interruptions of %s: %+v, %+v", c.Service, p, c)
			}
		}
		from, to := day, day.Add(24*time.Hour)
		for _, med := range []MEDThreshold{{}, {TMED: 10}} {
			r := Indices(ints, ServedBy(g), 0, from, to, med.TMED > 0, med)
			for _, x := range append(append([]Index{r.Total}, r.Feeders...), r.Regions...) {
				for _, v := range []float64{x.SAIDI, x.SAIFI, x.CAIDI, x.MAIFI, x.CustomerMinutes} {
					if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
						t.Fatalf("%s %s: %+v", x.Scope, x.Name, x)
					}
				}
				if x.SAIDI > to.Sub(from).Minutes()+1e-9 {
					t.Fatalf("%s %s: SAIDI %v longer than the period", x.Scope, x.Name, x.SAIDI)
				}
			}
			sum := 0.0
			for _, x := range r.Feeders {
				sum += x.CustomerMinutes
			}
			if math.Abs(sum-r.Total.CustomerMinutes) > 1e-6 {
				t.Fatalf("feeders add up to %v customer minutes, the total is %v", sum, r.Total.CustomerMinutes)
			}
		}
		daily := DailySAIDI(ints, 10, 0, from.Add(-24*time.Hour), to, time.UTC)
		if tm := MajorEventThreshold(daily); math.IsNaN(tm) || tm < 0 {
			t.Fatalf("T_MED %v from %v", tm, daily)
		}
	})
}
