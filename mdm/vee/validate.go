// Package vee owns validation, estimation and editing rules for interval
// data: pure functions on one stored day and what is known around it
// (history, register reads, relay state), so the same rules run on ingest
// and on demand, and a rule's verdict can be reproduced from the data it
// saw. It keeps no state and speaks no SQL.
package vee

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
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
	History []store.Day
	// RegisterStart and RegisterEnd are register reads (same quantity, same
	// unit as the intervals) at the day's start and end, when known.
	RegisterStart, RegisterEnd *cim.Reading
	// Disconnected are the periods the relay was open.
	Disconnected []Span
	// Until is when validation runs: intervals that end after it are not
	// due yet, so their absence is no gap (zero: the whole day is due).
	Until time.Time
}

// Failure is one finding: the rule, the interval (-1: the whole day) and a
// reason a person can act on.
type Failure struct {
	Rule     string `json:"rule"`
	Interval int    `json:"interval"`
	Reason   string `json:"reason"`
}

// Validate runs the rules on a day and returns every failure, in interval
// order (whole-day findings first).
func Validate(d store.Day, r Rules, c Context) []Failure {
	var out []Failure
	add := func(rule string, i int, format string, args ...any) {
		out = append(out, Failure{rule, i, fmt.Sprintf(format, args...)})
	}
	at := func(i int) string { return d.Start.Add(time.Duration(i) * d.Interval).UTC().Format("15:04") }

	// Missing intervals, reported as runs; those not due yet are not.
	due := len(d.Values)
	if !c.Until.IsZero() {
		for due > 0 && d.End(due-1).After(c.Until) {
			due--
		}
	}
	for i := 0; i < due; {
		if d.Quality[i]&cim.QualityMissing == 0 {
			i++
			continue
		}
		j := i
		for j < due && d.Quality[j]&cim.QualityMissing != 0 {
			j++
		}
		add(RuleMissing, i, "%d intervals missing from %s UTC", j-i, at(i))
		i = j
	}

	// Export (A-) is zero every night and whenever the sun does not shine:
	// zero runs, low days and drops mean something only for consumption.
	consumption := !strings.HasPrefix(d.Channel, "A-")
	var vals []int64
	var total int64
	zeros, powerDown := 0, false
	for i, v := range d.Values {
		q := d.Quality[i]
		if q&cim.QualityMissing != 0 {
			zeros = 0
			continue
		}
		vals = append(vals, v)
		total += v
		start, end := d.Start.Add(time.Duration(i)*d.Interval), d.Start.Add(time.Duration(i+1)*d.Interval)
		off := slices.ContainsFunc(c.Disconnected, func(s Span) bool { return s.overlaps(start, end) })
		if v < 0 {
			add(RuleNegative, i, "negative value %d at %s UTC", v, at(i))
		}
		if q&cim.QualityOverflow != 0 {
			add(RuleRollover, i, "the register rolled over in the interval ending %s UTC", at(i+1))
		}
		if q&cim.QualityClockAdjusted != 0 {
			add(RuleClock, i, "the meter's clock was set in the interval at %s UTC", at(i))
		}
		if q&cim.QualityDataNotValid != 0 {
			add(RuleDataNotValid, i, "the meter marked the interval at %s UTC not valid", at(i))
		}
		if q&cim.QualitySuspect != 0 {
			add(RuleDuplicate, i, "read twice with different values; %d kept", v)
		}
		if q&cim.QualityPowerDown != 0 {
			powerDown = true
			add(RuleOutage, i, "power failed during the interval at %s UTC", at(i))
		}
		if r.DemandLimit > 0 && v > r.DemandLimit {
			add(RuleDemandLimit, i, "%d in one interval is above the limit of %d", v, r.DemandLimit)
		}
		if off && v > 0 {
			add(RuleWhileOff, i, "%d registered at %s UTC while the relay was open", v, at(i))
		}
		if v == 0 && !off && q&cim.QualityPowerDown == 0 && consumption {
			zeros++
			if r.ZeroRun > 0 && zeros == r.ZeroRun {
				add(RuleZeroEnergised, i-zeros+1, "%d intervals of zero from %s UTC while energised", zeros, at(i-zeros+1))
			}
		} else {
			zeros = 0
		}
	}

	// Spike: the highest interval against the third highest.
	if r.SpikeRatio > 0 && len(vals) >= 3 {
		sorted := slices.Clone(vals)
		slices.Sort(sorted)
		hi, third := sorted[len(sorted)-1], sorted[len(sorted)-3]
		if hi >= r.SpikeMin && float64(hi) > r.SpikeRatio*float64(max(third, 1)) {
			i := slices.Index(d.Values, hi)
			add(RuleSpike, i, "%d at %s UTC is %.0f× the third highest interval (%d)", hi, at(i), float64(hi)/float64(max(third, 1)), third)
		}
	}

	complete := len(vals) == len(d.Values)
	if avg, n := likeDayAverage(d, c.History); n > 0 && complete {
		switch {
		case r.HighFactor > 0 && float64(total) > r.HighFactor*avg:
			add(RuleHighLow, -1, "day total %d is %.1f× the average of %d like days (%.0f)", total, float64(total)/avg, n, avg)
		case consumption && r.LowFactor > 0 && float64(total) < r.LowFactor*avg && len(c.Disconnected) == 0 && !powerDown:
			add(RuleHighLow, -1, "day total %d is %.2f× the average of %d like days (%.0f)", total, float64(total)/max(avg, 1), n, avg)
		case consumption && r.DropFactor > 0 && float64(total) < r.DropFactor*avg && len(c.Disconnected) == 0 && !powerDown:
			add(RuleTheftSuspected, -1, "day total %d fell to %.2f× the like days' average (%.0f) with the meter energised and connected", total, float64(total)/max(avg, 1), avg)
		}
	}

	if c.RegisterStart != nil && c.RegisterEnd != nil && complete {
		moved := c.RegisterEnd.Value - c.RegisterStart.Value
		if diff := total - moved; diff > r.SumTolerance || -diff > r.SumTolerance {
			add(RuleSumCheck, -1, "intervals sum to %d, the register moved %d (%+d)", total, moved, diff)
		}
	}

	slices.SortStableFunc(out, func(a, b Failure) int { return a.Interval - b.Interval })
	return out
}

// likeDayAverage is the mean total of the complete history days on the
// same weekday as d (all complete days when none is), leaving out days
// with a power failure.
func likeDayAverage(d store.Day, hist []store.Day) (float64, int) {
	wd := d.Start.Weekday()
	var sum float64
	var n int
	for pass := 0; pass < 2 && n == 0; pass++ {
		for _, h := range hist {
			if pass == 0 && h.Start.Weekday() != wd {
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

// dayTotal sums a day with every interval present and no power failure.
func dayTotal(d store.Day) (int64, bool) {
	var t int64
	for i, v := range d.Values {
		if d.Quality[i]&(cim.QualityMissing|cim.QualityPowerDown|cim.QualityEstimated) != 0 {
			return 0, false
		}
		t += v
	}
	return t, len(d.Values) > 0
}
