package vee

import (
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

// Estimation settings.
type Estimation struct {
	// MaxLinear is the longest gap (in intervals) filled by linear
	// interpolation between its neighbours; longer gaps take the like-day
	// profile.
	MaxLinear int
}

// DefaultEstimation interpolates gaps up to an hour of quarter hours.
func DefaultEstimation() Estimation { return Estimation{MaxLinear: 4} }

// Estimate fills the missing intervals of a day and flags them estimated:
// short gaps by linear interpolation between the neighbouring actual
// values, long ones with the shape of the like days in the history
// (leaving out days with a power failure), and, when the register reads
// at the day's bounds are known, scales the estimates so the day adds up
// to the register's move exactly (the estimates absorb the rounding). It
// returns the new day and a reason for the version, or ok false when
// there was nothing to estimate or nothing to estimate from.
func Estimate(d interval.Day, e Estimation, c Context) (out interval.Day, reason string, ok bool) {
	if Level(d.Channel) {
		return d, "", false
	}
	out = d
	out.Values = append([]int64(nil), d.Values...)
	out.Quality = append([]cim.Quality(nil), d.Quality...)
	n := len(out.Values)
	missing := 0
	for _, q := range out.Quality {
		if q&cim.QualityMissing != 0 {
			missing++
		}
	}
	if missing == 0 {
		return d, "", false
	}
	shape := likeDayShape(d, c.History)
	linear, like := 0, 0
	for i := 0; i < n; {
		if out.Quality[i]&cim.QualityMissing == 0 {
			i++
			continue
		}
		j := i
		for j < n && out.Quality[j]&cim.QualityMissing != 0 {
			j++
		}
		fromLike, ok := fillGap(&out, i, j, e.MaxLinear, shape)
		if !ok {
			return d, "", false // a whole day missing and no history
		}
		if fromLike {
			like += j - i
		} else {
			linear += j - i
		}
		i = j
	}
	reason = fmt.Sprintf("estimated %d intervals: %d interpolated, %d from like days", missing, linear, like)
	if c.RegisterStart != nil && c.RegisterEnd != nil {
		if scaled, ok := reconcile(&out, c.RegisterEnd.Value-c.RegisterStart.Value); ok {
			reason += fmt.Sprintf("; scaled by %.3f to the register's move", scaled)
		}
	}
	out.Source, out.Reason, out.User = interval.SourceEstimate, reason, ""
	return out, reason, true
}

// fillGap estimates the missing intervals [i, j) of out: by linear
// interpolation when the gap is at most maxLinear and has a neighbour on
// both sides, else with the like days' shape, else by carrying the
// nearest actual value. It says which, or false when a whole day is
// missing and there is no history.
func fillGap(out *interval.Day, i, j, maxLinear int, shape []int64) (fromLike, ok bool) {
	n, gap := len(out.Values), j-i
	switch {
	case gap <= maxLinear && i > 0 && j < n:
		a, b := out.Values[i-1], out.Values[j]
		for k := i; k < j; k++ {
			out.Values[k] = a + (b-a)*int64(k-i+1)/int64(gap+1)
			out.Quality[k] = cim.QualityEstimated
		}
		return false, true
	case shape != nil:
		for k := i; k < j; k++ {
			out.Values[k] = shape[k]
			out.Quality[k] = cim.QualityEstimated
		}
		return true, true
	case i > 0 || j < n:
		// No history: carry the nearest actual value.
		v := int64(0)
		if i > 0 {
			v = out.Values[i-1]
		} else {
			v = out.Values[j]
		}
		for k := i; k < j; k++ {
			out.Values[k] = v
			out.Quality[k] = cim.QualityEstimated
		}
		return false, true
	}
	return false, false
}

// reconcile scales the estimated intervals so the day sums to moved: the
// actual intervals are the meter's and stay; the estimates share what the
// register says is left, in proportion, the last one taking the rounding.
func reconcile(d *interval.Day, moved int64) (float64, bool) {
	var actual, est int64
	last := -1
	for i, v := range d.Values {
		if d.Quality[i]&cim.QualityEstimated != 0 {
			est += v
			last = i
		} else {
			actual += v
		}
	}
	left := moved - actual
	if last < 0 || left < 0 {
		return 0, false
	}
	var assigned int64
	f := 0.0
	for i, v := range d.Values {
		if d.Quality[i]&cim.QualityEstimated == 0 {
			continue
		}
		var nv int64
		if est > 0 {
			nv = v * left / est
		} else {
			nv = left / int64(countEstimated(d))
		}
		d.Values[i] = nv
		assigned += nv
	}
	d.Values[last] += left - assigned
	if est > 0 {
		f = float64(left) / float64(est)
	}
	return f, true
}

func countEstimated(d *interval.Day) int {
	n := 0
	for _, q := range d.Quality {
		if q&cim.QualityEstimated != 0 {
			n++
		}
	}
	return max(n, 1)
}

// likeDayShape averages the like days of the history interval by
// interval, aligned by local wall clock from the day's start (a DST day
// takes what fits).
func likeDayShape(d interval.Day, hist []interval.Day) []int64 {
	wd := d.Start.Weekday()
	var sum []int64
	n := int64(0)
	for pass := 0; pass < 2 && n == 0; pass++ {
		for _, h := range hist {
			if (pass == 0 && h.Start.Weekday() != wd) || h.Interval != d.Interval {
				continue
			}
			if _, ok := dayTotal(h); !ok {
				continue
			}
			if sum == nil {
				sum = make([]int64, len(d.Values))
			}
			for i := range sum {
				if i < len(h.Values) {
					sum[i] += h.Values[i]
				} else {
					sum[i] += h.Values[len(h.Values)-1]
				}
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	for i := range sum {
		sum[i] /= n
	}
	return sum
}

// Edit returns a day with intervals set by a person: every change is a new
// version with the user and the reason, and the edited intervals say so.
func Edit(d interval.Day, values map[int]int64, user, reason string) (interval.Day, error) {
	if user == "" || reason == "" {
		return d, fmt.Errorf("edit of %s %s %s: a user and a reason are required", d.MeterID, d.Channel, d.Date)
	}
	out := d
	out.Values = append([]int64(nil), d.Values...)
	out.Quality = append([]cim.Quality(nil), d.Quality...)
	for i, v := range values {
		if i < 0 || i >= len(out.Values) {
			return d, fmt.Errorf("edit of %s %s %s: no interval %d (the day has %d)", d.MeterID, d.Channel, d.Date, i, len(out.Values))
		}
		out.Values[i] = v
		out.Quality[i] = cim.QualityEdited
	}
	out.Source, out.User, out.Reason = interval.SourceEdit, user, reason
	out.CreatedAt = time.Time{}
	return out, nil
}
