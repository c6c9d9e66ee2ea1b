package pq

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
)

// Stat is one statistic of a voltage profile entry.
type Stat string

// The statistics a voltage profile captures per phase and period.
const (
	Avg Stat = "avg"
	Min Stat = "min"
	Max Stat = "max"
)

// Interval is the voltage profile's period: EN 50160 judges 10-minute
// means.
const Interval = 10 * time.Minute

// Channel is the reading type id the head-end gives a voltage statistic of
// phase 1..3 of a 10-minute profile in 0.1 V (multiplier -1), as the DLMS
// driver names it: "V1avg10me-1".
func Channel(phase int, s Stat) string {
	return "V" + strconv.Itoa(phase) + string(s) + "10me-1"
}

// scaleDV is the factor from a channel's stored values to volts.
const scaleDV = 10.0

// DayReader reads stored interval days of many meter channels at once.
type DayReader interface {
	DaysOfMeters(ctx context.Context, ranges []store.DayRange) ([][]interval.Day, error)
}

// series is one meter's voltage statistic over a span: each 10-minute
// value with its end, the missing ones left out.
type series struct {
	ends []time.Time
	vals []int64
}

// readSeries reads the days of every meter × phase × stat of the span
// [from, to) in one call and returns them by meter, phase (0..2) and stat.
func readSeries(ctx context.Context, r DayReader, meters []string, stats []Stat, from, to time.Time) (map[string]*[3]map[Stat]*series, error) {
	// Days are local days of the meter's usage point: a day either side
	// covers any zone.
	df, dt := cim.DateOf(from.Add(-24*time.Hour), time.UTC), cim.DateOf(to.Add(24*time.Hour), time.UTC)
	type key struct {
		meter string
		phase int
		stat  Stat
	}
	var keys []key
	var ranges []store.DayRange
	for _, m := range meters {
		for p := 1; p <= 3; p++ {
			for _, s := range stats {
				keys = append(keys, key{m, p - 1, s})
				ranges = append(ranges, store.DayRange{MeterID: m, Channel: Channel(p, s), From: df, To: dt})
			}
		}
	}
	out := make(map[string]*[3]map[Stat]*series, len(meters))
	// A few hundred ranges a call keeps each statement small.
	const batch = 600
	for lo := 0; lo < len(ranges); lo += batch {
		hi := min(lo+batch, len(ranges))
		days, err := r.DaysOfMeters(ctx, ranges[lo:hi])
		if err != nil {
			return nil, fmt.Errorf("pq: reading voltage days %s to %s: %w", from.Format(time.DateOnly), to.Format(time.DateOnly), err)
		}
		for i, ds := range days {
			k := keys[lo+i]
			var s *series
			for _, d := range ds {
				for j, v := range d.Values {
					end := d.End(j)
					if j < len(d.Quality) && d.Quality[j]&cim.QualityMissing != 0 {
						continue
					}
					if !end.After(from) || end.After(to) {
						continue
					}
					if s == nil {
						s = &series{}
					}
					s.ends = append(s.ends, end)
					s.vals = append(s.vals, v)
				}
			}
			if s == nil {
				continue
			}
			ph := out[k.meter]
			if ph == nil {
				ph = &[3]map[Stat]*series{}
				out[k.meter] = ph
			}
			if ph[k.phase] == nil {
				ph[k.phase] = map[Stat]*series{}
			}
			ph[k.phase][k.stat] = s
		}
	}
	return out, nil
}
