package dr

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

// The baseline rules, stated once so that documentation and settlement
// name the same numbers.
const (
	// TenOfTenDays is how many like days a 10-of-10 baseline averages.
	TenOfTenDays = 10
	// CloseDays is how many of the closest days a like-day or a
	// weather-matched baseline averages.
	CloseDays = 5
	// MinDays is the fewest eligible days any baseline is made from.
	MinDays = 3
	// MaxMissingShare is the share of missing intervals above which a day
	// is not eligible: a day mostly estimated would be a baseline of
	// estimates.
	MaxMissingShare = 0.10
	// AdjustWindow and AdjustGap place the same-day adjustment's window:
	// the 3 hours ending 1 hour before the event (the hour just before
	// may already hold pre-cooling or the household's response to the
	// notice).
	AdjustWindow = 3 * time.Hour
	AdjustGap    = time.Hour
)

// ErrNoBaseline is wrapped when the history holds too few eligible days.
var ErrNoBaseline = errors.New("dr: no baseline")

// BaselineInput is what a baseline is computed from: the event day as
// read (for the same-day adjustment and the like-day match), earlier days
// of the same meter and channel, and what makes a day ineligible.
type BaselineInput struct {
	Day     interval.Day   // the event day, actual (for the same-day adjustment)
	History []interval.Day // earlier days, newest first or any order
	Start   time.Time      // the event window
	End     time.Time
	Exclude []cim.Date // earlier event days, holidays
	// Temperatures are mean temperatures per day (°C), for the
	// weather-matched baseline.
	Temperatures map[cim.Date]float64
	// Holidays are non-working days: a holiday event day takes weekends
	// and holidays as its like days, and a holiday is never a working
	// day's like day. (Exclude removes a day from the history outright.)
	Holidays []cim.Date
	// Location is the usage point's zone. With it, intervals are matched
	// by local clock time, so a DST day (92 or 100 quarter hours) lines
	// up with ordinary days; without it, by position in the day.
	Location *time.Location
}

// Baseline is the load a participant would have drawn without the event:
// one value in Wh per interval of the event day.
type Baseline struct {
	Method string     `json:"method"`
	Values []int64    `json:"values"`
	Days   []cim.Date `json:"days"` // the days averaged, newest first
	// Adjustment is the same-day adjustment applied: Wh added to every
	// interval (0 when none).
	Adjustment float64 `json:"adjustment"`
}

// TenOfTen averages, interval by interval, the TenOfTenDays most recent
// eligible like days before the event day (working days for a working
// day, weekends and holidays otherwise; not excluded; at most
// MaxMissingShare missing). With adjust, the same-day adjustment is
// additive and symmetric: every interval is shifted by the mean difference
// between the event day's actual load and the baseline over the
// AdjustWindow ending AdjustGap before the start (a value shifted below
// zero is zero). A ratio capped at 1 ± 20 %, the other common rule, is
// biased for households: one kettle in the window doubles a house's
// afternoon, most households hit the cap, and the capped ratios average
// below the true level, so a group's baseline comes out several per cent
// of the load low, a large part of the reduction (dr's 10,000-household
// test measured 15–17 %). The shift sums over participants to the group's
// own difference, so it carries no such bias. Where the window holds no
// interval of the event day the shift is 0.
func TenOfTen(in BaselineInput, adjust bool) (Baseline, error) {
	days, err := eligible(in)
	if err != nil {
		return Baseline{}, err
	}
	if len(days) > TenOfTenDays {
		days = days[:TenOfTenDays]
	}
	b := average(in, days, Method10of10)
	if adjust {
		b.Adjustment = adjustment(in, b.Values)
		if b.Adjustment != 0 {
			for i, v := range b.Values {
				b.Values[i] = max(0, roundHalfUp(float64(v)+b.Adjustment))
			}
		}
	}
	return b, nil
}

// LikeDay averages the CloseDays eligible like days whose load before the
// event (from midnight to AdjustGap before the start) is closest to the
// event day's, by mean absolute difference per interval; ties go to the
// more recent day. An event too early in the day to compare takes the
// most recent days.
func LikeDay(in BaselineInput) (Baseline, error) {
	days, err := eligible(in)
	if err != nil {
		return Baseline{}, err
	}
	keys := slotKeys(in.Day, in.Location)
	cut := in.Start.Add(-AdjustGap)
	dist := make([]float64, len(days))
	for j, d := range days {
		vals := slotValues(d, in.Location)
		var sum float64
		n := 0
		for i, k := range keys {
			if in.Day.End(i).After(cut) || missing(in.Day, i) {
				continue
			}
			v, ok := vals[k]
			if !ok {
				continue
			}
			sum += math.Abs(float64(in.Day.Values[i]) - v)
			n++
		}
		if n > 0 {
			dist[j] = sum / float64(n)
		}
	}
	return closest(in, days, dist, MethodLikeDay), nil
}

// WeatherMatched averages the CloseDays eligible like days whose mean
// temperature is closest to the event day's; days without a temperature
// are not candidates, and the event day must have one.
func WeatherMatched(in BaselineInput) (Baseline, error) {
	t, ok := in.Temperatures[in.Day.Date]
	if !ok {
		return Baseline{}, fmt.Errorf("%w: meter %s: no temperature for the event day %s", ErrNoBaseline, in.Day.MeterID, in.Day.Date)
	}
	all, err := eligible(in)
	if err != nil {
		return Baseline{}, err
	}
	var days []interval.Day
	var dist []float64
	for _, d := range all {
		if dt, ok := in.Temperatures[d.Date]; ok {
			days = append(days, d)
			dist = append(dist, math.Abs(dt-t))
		}
	}
	if len(days) < MinDays {
		return Baseline{}, fmt.Errorf("%w: meter %s on %s: %d eligible days with a temperature, need %d", ErrNoBaseline, in.Day.MeterID, in.Day.Date, len(days), MinDays)
	}
	return closest(in, days, dist, MethodWeather), nil
}

// Reduction is the energy in Wh the participant did not draw in [start,
// end): baseline minus actual, summed over the event day's intervals, an
// interval cut by the window counting for the share of it inside (rounded
// half away from zero, once, at the end). A missing actual interval counts
// as no reduction. It is negative when the load rose.
func Reduction(b Baseline, actual interval.Day, start, end time.Time) int64 {
	if actual.Interval <= 0 {
		return 0
	}
	step := int64(actual.Interval / time.Second)
	var acc int64 // Wh·s
	for i := range actual.Values {
		if i >= len(b.Values) || missing(actual, i) {
			continue
		}
		s, e := actual.Start.Add(time.Duration(i)*actual.Interval), actual.End(i)
		if s.Before(start) {
			s = start
		}
		if e.After(end) {
			e = end
		}
		if !e.After(s) {
			continue
		}
		acc += (b.Values[i] - actual.Values[i]) * int64(e.Sub(s)/time.Second)
	}
	return divRound(acc, step)
}

// working reports whether a date is a working day: Monday to Friday and no
// holiday.
func working(d cim.Date, holidays map[cim.Date]bool) bool {
	wd := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
	return wd != time.Saturday && wd != time.Sunday && !holidays[d]
}

// eligible returns the history's like days of the event day, newest first,
// one per date.
func eligible(in BaselineInput) ([]interval.Day, error) {
	if len(in.Day.Values) == 0 || in.Day.Interval <= 0 {
		return nil, fmt.Errorf("%w: meter %s: the event day %s has no intervals", ErrNoBaseline, in.Day.MeterID, in.Day.Date)
	}
	if !in.End.After(in.Start) {
		return nil, fmt.Errorf("%w: meter %s: the event window ends before it starts", ErrNoBaseline, in.Day.MeterID)
	}
	hol := make(map[cim.Date]bool, len(in.Holidays))
	for _, d := range in.Holidays {
		hol[d] = true
	}
	ex := make(map[cim.Date]bool, len(in.Exclude))
	for _, d := range in.Exclude {
		ex[d] = true
	}
	want := working(in.Day.Date, hol)
	seen := map[cim.Date]bool{}
	var out []interval.Day
	for _, d := range in.History {
		if !d.Date.Before(in.Day.Date) || ex[d.Date] || seen[d.Date] || working(d.Date, hol) != want {
			continue
		}
		if d.Interval != in.Day.Interval || len(d.Values) == 0 {
			continue
		}
		n := 0
		for i := range d.Values {
			if missing(d, i) {
				n++
			}
		}
		if float64(n) > MaxMissingShare*float64(len(d.Values)) {
			continue
		}
		seen[d.Date] = true
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[j].Date.Before(out[i].Date) })
	if len(out) < MinDays {
		return nil, fmt.Errorf("%w: meter %s on %s: %d eligible days, need %d", ErrNoBaseline, in.Day.MeterID, in.Day.Date, len(out), MinDays)
	}
	return out, nil
}

// closest averages the CloseDays days of least distance; days is newest
// first and the sort is stable, so ties go to the more recent.
func closest(in BaselineInput, days []interval.Day, dist []float64, method string) Baseline {
	idx := make([]int, len(days))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return dist[idx[a]] < dist[idx[b]] })
	if len(idx) > CloseDays {
		idx = idx[:CloseDays]
	}
	sort.Ints(idx)
	pick := make([]interval.Day, len(idx))
	for i, j := range idx {
		pick[i] = days[j]
	}
	return average(in, pick, method)
}

// average is the per-interval mean of days over the event day's intervals,
// each matched by its slot; a slot is averaged over the days that have a
// value there, and rounded half up to a whole Wh.
func average(in BaselineInput, days []interval.Day, method string) Baseline {
	keys := slotKeys(in.Day, in.Location)
	vals := make([]map[int]float64, len(days))
	b := Baseline{Method: method, Values: make([]int64, len(keys))}
	for j, d := range days {
		vals[j] = slotValues(d, in.Location)
		b.Days = append(b.Days, d.Date)
	}
	for i, k := range keys {
		var sum float64
		n := 0
		for _, v := range vals {
			if x, ok := v[k]; ok {
				sum += x
				n++
			}
		}
		if n > 0 {
			b.Values[i] = roundHalfUp(sum / float64(n))
		}
	}
	return b
}

// adjustment is the same-day shift described at TenOfTen: Wh per
// interval.
func adjustment(in BaselineInput, base []int64) float64 {
	from, to := in.Start.Add(-AdjustGap-AdjustWindow), in.Start.Add(-AdjustGap)
	var diff, n int64
	for i := range in.Day.Values {
		s := in.Day.Start.Add(time.Duration(i) * in.Day.Interval)
		if s.Before(from) || in.Day.End(i).After(to) || missing(in.Day, i) {
			continue
		}
		diff += in.Day.Values[i] - base[i]
		n++
	}
	if n == 0 {
		return 0
	}
	return float64(diff) / float64(n)
}

// slotKeys names each interval of a day by its local clock time in
// minutes (loc given) or by its position: the twice-lived hour of an
// autumn day has its clock times twice, and a spring day lacks an hour.
func slotKeys(d interval.Day, loc *time.Location) []int {
	keys := make([]int, len(d.Values))
	step := int(d.Interval / time.Minute)
	for i := range keys {
		if loc == nil {
			keys[i] = i * step
			continue
		}
		t := d.Start.Add(time.Duration(i) * d.Interval).In(loc)
		keys[i] = t.Hour()*60 + t.Minute()
	}
	return keys
}

// slotValues is a day's present values by slot; a clock time lived twice
// holds the mean of its two values.
func slotValues(d interval.Day, loc *time.Location) map[int]float64 {
	keys := slotKeys(d, loc)
	sum := make(map[int]float64, len(keys))
	n := make(map[int]int, len(keys))
	for i, k := range keys {
		if missing(d, i) {
			continue
		}
		sum[k] += float64(d.Values[i])
		n[k]++
	}
	for k, c := range n {
		sum[k] /= float64(c)
	}
	return sum
}

func missing(d interval.Day, i int) bool {
	return i >= len(d.Values) || (i < len(d.Quality) && d.Quality[i]&cim.QualityMissing != 0)
}

func roundHalfUp(x float64) int64 {
	if x < 0 {
		return -int64(math.Floor(-x + 0.5))
	}
	return int64(math.Floor(x + 0.5))
}

// divRound divides rounding half away from zero.
func divRound(a, b int64) int64 {
	if a < 0 {
		return -((-a + b/2) / b)
	}
	return (a + b/2) / b
}
