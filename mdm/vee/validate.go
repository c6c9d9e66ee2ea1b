// Package vee owns validation, estimation and editing rules for interval
// data: pure functions on one stored day and what is known around it
// (history, register reads, relay state), so the same rules run on ingest
// and on demand, and a rule's verdict can be reproduced from the data it
// saw. It keeps no state and speaks no SQL.
package vee

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

// Rule names, as failures record them.
const (
	RuleMissing        = "missing"
	RuleSpike          = "spike"
	RuleZeroEnergised  = "zero-while-energised"
	RuleWhileOff       = "consumption-while-disconnected"
	RuleNegative       = "negative"
	RuleRollover       = "register-rollover"
	RuleHighLow        = "high-low-vs-history"
	RuleSumCheck       = "sum-check"
	RuleClock          = "clock-adjusted"
	RuleDataNotValid   = "data-not-valid"
	RuleDuplicate      = "duplicate-differs"
	RuleDemandLimit    = "demand-limit"
	RuleOutage         = "power-down"
	RuleTheftSuspected = "consumption-drop"
)

// Rules configures validation; a meter group has its own. A zero value
// field turns its rule off.
type Rules struct {
	// SpikeRatio flags the highest interval when it exceeds the third
	// highest that many times (and SpikeMin units).
	SpikeRatio float64 `json:"spikeRatio"`
	SpikeMin   int64   `json:"spikeMin"`
	// ZeroRun flags that many consecutive zero intervals while the meter
	// was energised (no power-down, relay closed).
	ZeroRun int `json:"zeroRun"`
	// HighFactor and LowFactor flag a day whose total is above
	// HighFactor × or below LowFactor × the average of the like days
	// (same weekday) in the history.
	HighFactor float64 `json:"highFactor"`
	LowFactor  float64 `json:"lowFactor"`
	// SumTolerance is how far, in units, the intervals may differ from
	// the register's move over the day.
	SumTolerance int64 `json:"sumTolerance"`
	// DemandLimit is the highest value one interval may hold (units per
	// interval): a contracted capacity turned into energy.
	DemandLimit int64 `json:"demandLimit"`
	// DropFactor flags a day whose total fell below DropFactor × the
	// history's average while the meter stayed energised and connected:
	// the signature of a bypass.
	DropFactor float64 `json:"dropFactor"`
}

// DefaultRules is a plausible rule set for household meters in Wh.
func DefaultRules() Rules {
	return Rules{SpikeRatio: 8, SpikeMin: 1000, ZeroRun: 16, HighFactor: 3, LowFactor: 0.2, SumTolerance: 1,
		DemandLimit: 17_250 / 4, DropFactor: 0.5}
}

// Span is a period, e.g. when the relay was open.
type Span struct{ From, To time.Time }

func (s Span) overlaps(a, b time.Time) bool { return s.From.Before(b) && a.Before(s.To) }

// Context is what validation may look at beyond the day itself.
type Context struct {
	// History holds earlier days of the same meter and channel, any order.
	History []interval.Day
	// RegisterStart and RegisterEnd are register reads (same quantity, same
	// unit as the intervals) at the day's start and end, when known.
	RegisterStart, RegisterEnd *cim.Reading
	// Disconnected are the periods the relay was open.
	Disconnected []Span
	// Until is when validation runs: intervals that end after it are not
	// due yet, so their absence is no gap (zero: the whole day is due).
	Until time.Time
	// First says no earlier day of the meter and channel is stored: the
	// intervals before the day's first reading predate the meter's data
	// (installed, or read back only so far) and were never due.
	First bool
	// Location is the usage point's time zone, in which reasons give
	// times (nil: the day's own).
	Location *time.Location
	// Unit is the unit of the values (empty: told by the channel, Wh for
	// active energy).
	Unit string
}

// Failure is one rule's finding on one day: the intervals it covers (none:
// the whole day) and a reason a person can act on.
type Failure struct {
	Rule string `json:"rule"`
	// Interval is the first interval the finding covers, -1 for the whole
	// day.
	Interval int `json:"interval"`
	// Intervals lists every interval the finding covers, in order.
	Intervals []int  `json:"intervals,omitempty"`
	Reason    string `json:"reason"`
	// Unit is the unit of the values the finding is about, when it is
	// about values.
	Unit string `json:"unit,omitempty"`
}

// UnitOf is the unit of a channel's interval values: Wh for active
// energy, varh for reactive, empty when the channel does not say.
func UnitOf(channel string) string {
	switch {
	case strings.HasPrefix(channel, "A+"), strings.HasPrefix(channel, "A-"):
		return "Wh"
	case strings.HasPrefix(channel, "R+"), strings.HasPrefix(channel, "R-"):
		return "varh"
	}
	return ""
}

// finding gathers one rule's intervals before they become one Failure.
type finding struct {
	at  []int
	top int64 // the value that tells the most, e.g. the highest
	sum int64
}

// Validate runs the rules on a day and returns one failure per rule that
// fails, with every interval it covers, in order of the first interval
// (whole-day findings first).
func Validate(d interval.Day, r Rules, c Context) []Failure {
	var out []Failure
	loc := c.Location
	if loc == nil {
		loc = d.Start.Location()
	}
	unit := c.Unit
	if unit == "" {
		unit = UnitOf(d.Channel)
	}
	f := fmtr{d: d, loc: loc, unit: unit}
	found := map[string]*finding{}
	hit := func(rule string, i int, v int64) {
		g := found[rule]
		if g == nil {
			g = &finding{top: v}
			found[rule] = g
		}
		g.at = append(g.at, i)
		g.sum += v
		if v > g.top {
			g.top = v
		}
	}

	// Intervals before the meter's first reading were never due, nor are
	// those that end after Until.
	lead := 0
	if c.First {
		for lead < len(d.Values) && d.Quality[lead]&cim.QualityMissing != 0 {
			lead++
		}
	}
	due := len(d.Values)
	if !c.Until.IsZero() {
		for due > lead && d.End(due-1).After(c.Until) {
			due--
		}
	}
	lost := 0 // captures lost to a power failure
	// Export (A-) is zero every night and whenever the sun does not shine:
	// zero runs, low days and drops mean something only for consumption.
	consumption := !strings.HasPrefix(d.Channel, "A-")
	// Import and export are captured together in one profile entry with
	// one status: a lost capture, a power failure or a clock setting is
	// the meter's, and is reported once, on the import channel.
	meterLevel := consumption
	if meterLevel {
		// A meter without power captures nothing; the entry after the cut
		// says so. The captures lost before it are that outage, not a gap
		// of their own.
		outage := make([]bool, len(d.Values))
		for i := len(d.Values) - 1; i >= 0; i-- {
			if d.Quality[i]&cim.QualityPowerDown != 0 && d.Quality[i]&cim.QualityMissing == 0 {
				for j := i - 1; j >= 0 && d.Quality[j]&cim.QualityMissing != 0; j-- {
					outage[j] = true
				}
			}
		}
		for i := lead; i < due; i++ {
			if d.Quality[i]&cim.QualityMissing == 0 {
				continue
			}
			if outage[i] {
				hit(RuleOutage, i, 0)
				lost++
			} else {
				hit(RuleMissing, i, 0)
			}
		}
	}
	var vals []int64
	var total int64
	var zeroRun []int
	powerDown := false
	endRun := func() {
		if r.ZeroRun > 0 && len(zeroRun) >= r.ZeroRun {
			for _, i := range zeroRun {
				hit(RuleZeroEnergised, i, 0)
			}
		}
		zeroRun = zeroRun[:0]
	}
	var negative []int64
	for i, v := range d.Values {
		q := d.Quality[i]
		if q&cim.QualityMissing != 0 {
			endRun()
			continue
		}
		vals = append(vals, v)
		total += v
		start, end := d.Start.Add(time.Duration(i)*d.Interval), d.Start.Add(time.Duration(i+1)*d.Interval)
		off := slices.ContainsFunc(c.Disconnected, func(s Span) bool { return s.overlaps(start, end) })
		if v < 0 {
			hit(RuleNegative, i, -v)
			negative = append(negative, v)
		}
		if q&cim.QualityOverflow != 0 {
			hit(RuleRollover, i, 0)
		}
		if q&cim.QualityClockAdjusted != 0 && meterLevel {
			hit(RuleClock, i, 0)
		}
		if q&cim.QualityDataNotValid != 0 && meterLevel {
			hit(RuleDataNotValid, i, 0)
		}
		if q&cim.QualitySuspect != 0 {
			hit(RuleDuplicate, i, v)
		}
		if q&cim.QualityPowerDown != 0 {
			powerDown = true
			if meterLevel {
				hit(RuleOutage, i, 0)
			}
		}
		if r.DemandLimit > 0 && v > r.DemandLimit {
			hit(RuleDemandLimit, i, v)
		}
		if off && v > 0 {
			hit(RuleWhileOff, i, v)
		}
		if v == 0 && !off && q&cim.QualityPowerDown == 0 && consumption {
			zeroRun = append(zeroRun, i)
		} else {
			endRun()
		}
	}
	endRun()

	for _, rule := range []string{RuleMissing, RuleNegative, RuleRollover, RuleClock, RuleDataNotValid, RuleDuplicate,
		RuleOutage, RuleDemandLimit, RuleWhileOff, RuleZeroEnergised} {
		g := found[rule]
		if g == nil {
			continue
		}
		n, when := len(g.at), f.runs(g.at)
		var reason, u string
		switch rule {
		case RuleMissing:
			reason = fmt.Sprintf("%s missing: %s", f.count(n), when)
		case RuleNegative:
			u = unit
			reason = fmt.Sprintf("%s negative, down to %s: %s", f.count(n), f.energy(slices.Min(negative)), when)
		case RuleRollover:
			reason = fmt.Sprintf("the register rolled over in %s: %s", f.count(n), when)
		case RuleClock:
			reason = fmt.Sprintf("the meter's clock was set in %s: %s", f.count(n), when)
		case RuleDataNotValid:
			reason = fmt.Sprintf("the meter marked %s not valid: %s", f.count(n), when)
		case RuleDuplicate:
			reason = fmt.Sprintf("%s read twice with different values, the later kept: %s", f.count(n), when)
		case RuleOutage:
			reason = fmt.Sprintf("power failed in %s: %s", f.count(n), when)
			if lost > 0 {
				reason += fmt.Sprintf(" (%d captures lost; the interval after holds their consumption)", lost)
				if lost == 1 {
					reason = strings.Replace(reason, "captures lost; the interval after holds their", "capture lost; the interval after holds its", 1)
				}
			}
		case RuleDemandLimit:
			u = unit
			reason = fmt.Sprintf("%s above the limit of %s: %s; the highest %s", f.count(n), f.demand(r.DemandLimit), when, f.demand(g.top))
		case RuleWhileOff:
			u = unit
			reason = fmt.Sprintf("%s registered in %s while the relay was open: %s", f.energy(g.sum), f.count(n), when)
		case RuleZeroEnergised:
			reason = fmt.Sprintf("%s of zero while energised: %s", f.count(n), when)
		}
		out = append(out, Failure{Rule: rule, Interval: g.at[0], Intervals: g.at, Reason: reason, Unit: u})
	}

	// A day that holds the meter's first reading is partial: its few
	// intervals are no basis for a spike or a day total.
	partial := lead > 0

	// Spike: the highest interval against the third highest.
	if r.SpikeRatio > 0 && len(vals) >= 3 && !partial {
		sorted := slices.Clone(vals)
		slices.Sort(sorted)
		hi, third := sorted[len(sorted)-1], sorted[len(sorted)-3]
		if hi >= r.SpikeMin && float64(hi) > r.SpikeRatio*float64(max(third, 1)) {
			i := slices.Index(d.Values, hi)
			var reason string
			if third <= 0 {
				reason = fmt.Sprintf("%s at %s where the third highest interval is %s", f.demand(hi), f.at(i), f.energy(third))
			} else {
				reason = fmt.Sprintf("%s at %s is %.0f× the third highest interval (%s)", f.demand(hi), f.at(i), float64(hi)/float64(third), f.energy(third))
			}
			out = append(out, Failure{Rule: RuleSpike, Interval: i, Intervals: []int{i}, Reason: reason, Unit: unit})
		}
	}

	// Day totals are compared for consumption only: a day's export follows
	// the weather, and a sunny day after a dull week is no fault.
	complete := len(vals) == len(d.Values)
	if avg, n := likeDayAverage(d, c.History); n > 0 && complete && consumption {
		like := fmt.Sprintf("%d like days", n)
		if n == 1 {
			like = "1 like day"
		}
		ratio := func() string {
			if avg <= 0 {
				return fmt.Sprintf("%s, where %s averaged %s", f.total(total), like, f.total(0))
			}
			x := float64(total) / avg
			prec := 1
			if x < 1 {
				prec = 2
			}
			return fmt.Sprintf("%s, %.*f× the average of %s (%s)", f.total(total), prec, x, like, f.total(int64(math.Round(avg))))
		}
		day := func(rule, format string) {
			out = append(out, Failure{Rule: rule, Interval: -1, Reason: fmt.Sprintf(format, ratio()), Unit: unit})
		}
		quiet := len(c.Disconnected) == 0 && !powerDown
		switch {
		case r.HighFactor > 0 && float64(total) > r.HighFactor*avg:
			day(RuleHighLow, "day total %s")
		case r.LowFactor > 0 && float64(total) < r.LowFactor*avg && quiet:
			day(RuleHighLow, "day total %s")
		case r.DropFactor > 0 && float64(total) < r.DropFactor*avg && quiet:
			day(RuleTheftSuspected, "day total fell to %s, with the meter energised and connected")
		}
	}

	if c.RegisterStart != nil && c.RegisterEnd != nil && complete {
		moved := c.RegisterEnd.Value - c.RegisterStart.Value
		if diff := total - moved; diff > r.SumTolerance || -diff > r.SumTolerance {
			out = append(out, Failure{Rule: RuleSumCheck, Interval: -1, Unit: unit,
				Reason: fmt.Sprintf("the intervals sum to %s, the register moved %s (%s)", f.energy(total), f.energy(moved), f.signed(diff))})
		}
	}

	slices.SortStableFunc(out, func(a, b Failure) int { return a.Interval - b.Interval })
	return out
}

// fmtr writes the parts of reasons: times in the usage point's zone,
// values with their units.
type fmtr struct {
	d    interval.Day
	loc  *time.Location
	unit string
}

// clock is an interval boundary in the usage point's zone; a day's end is
// 24:00, not the next day's 00:00.
func (f fmtr) clock(i int) string {
	t := f.d.Start.Add(time.Duration(i) * f.d.Interval).In(f.loc)
	if i > 0 && i == len(f.d.Values) {
		return "24:00"
	}
	return t.Format("15:04")
}

func (f fmtr) zone() string {
	name, _ := f.d.Start.In(f.loc).Zone()
	if end := f.d.Start.Add(time.Duration(len(f.d.Values)) * f.d.Interval).Add(-time.Nanosecond).In(f.loc); end.Format("MST") != name {
		name += "/" + end.Format("MST") // a day of a clock change
	}
	return name
}

// at is the start of one interval with the zone.
func (f fmtr) at(i int) string { return f.clock(i) + " " + f.zone() }

// runs lists intervals as runs of their times: "03:00–04:00, 14:15–14:30
// CET", the first few only.
func (f fmtr) runs(at []int) string {
	const most = 4
	var parts []string
	runs := 0
	for k := 0; k < len(at); {
		j := k
		for j+1 < len(at) && at[j+1] == at[j]+1 {
			j++
		}
		runs++
		if runs <= most {
			parts = append(parts, f.clock(at[k])+"–"+f.clock(at[j]+1))
		}
		k = j + 1
	}
	s := strings.Join(parts, ", ")
	if runs > most {
		s += fmt.Sprintf(" and %d more", runs-most)
	}
	return s + " " + f.zone()
}

func (f fmtr) count(n int) string {
	if n == 1 {
		return "1 interval"
	}
	return group(int64(n)) + " intervals"
}

// energy is an interval's value with its unit.
func (f fmtr) energy(v int64) string {
	if f.unit == "" {
		return group(v)
	}
	return group(v) + " " + f.unit
}

func (f fmtr) signed(v int64) string {
	if v > 0 {
		return "+" + f.energy(v)
	}
	return f.energy(v)
}

// demand is an interval's energy and, for active energy, the mean power
// it takes over the interval: what a contracted capacity is stated in.
func (f fmtr) demand(v int64) string {
	if f.unit != "Wh" || f.d.Interval <= 0 {
		return f.energy(v)
	}
	w := float64(v) * float64(time.Hour) / float64(f.d.Interval)
	if math.Abs(w) >= 10_000 {
		return fmt.Sprintf("%s (%.1f kW)", f.energy(v), w/1000)
	}
	return fmt.Sprintf("%s (%s W)", f.energy(v), group(int64(math.Round(w))))
}

// total is a day's sum, in kWh for active energy.
func (f fmtr) total(v int64) string {
	if f.unit != "Wh" {
		return f.energy(v)
	}
	return fmt.Sprintf("%.1f kWh", float64(v)/1000)
}

// group writes an integer with thousands separated: 17250 is "17,250".
func group(v int64) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// likeDayAverage is the mean total of the complete history days on the
// same weekday as d; when there is none, of the days of the same kind
// (working day or weekend). Never of unlike days: an office's Saturday
// is half its Monday, and a week of Mondays is no basis for a Saturday.
// Days with a power failure are left out.
func likeDayAverage(d interval.Day, hist []interval.Day) (float64, int) {
	wd := weekday(d.Date)
	var sum float64
	var n int
	for pass := 0; pass < 2 && n == 0; pass++ {
		for _, h := range hist {
			hd := weekday(h.Date)
			if pass == 0 && hd != wd || pass == 1 && weekend(hd) != weekend(wd) {
				continue
			}
			t, ok := dayTotal(h)
			if !ok {
				continue
			}
			sum += float64(t)
			n++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return sum / float64(n), n
}

// weekday is the calendar day's weekday, whatever the zone its start
// instant is written in.
func weekday(d cim.Date) time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

func weekend(wd time.Weekday) bool { return wd == time.Saturday || wd == time.Sunday }

// dayTotal sums a day with every interval present and no power failure.
func dayTotal(d interval.Day) (int64, bool) {
	var t int64
	for i, v := range d.Values {
		if d.Quality[i]&(cim.QualityMissing|cim.QualityPowerDown|cim.QualityEstimated) != 0 {
			return 0, false
		}
		t += v
	}
	return t, len(d.Values) > 0
}
