package vee

import (
	"fmt"
	"slices"
)

// RuleSpike flags an interval far above the rest of the day.
const RuleSpike = "spike"

var defSpike = Definition{Name: RuleSpike,
	Params: map[string]func(*Rules, float64){
		"spike_ratio": func(r *Rules, v float64) { r.SpikeRatio = v },
		"spike_min":   func(r *Rules, v float64) { r.SpikeMin = int64(v) },
	},
	New: func(r Rules) Rule {
		if r.SpikeRatio <= 0 {
			return nil
		}
		return spikeRule{Ratio: r.SpikeRatio, Min: r.SpikeMin}
	}}

// spikeRule compares the highest interval with the third highest, not the
// second: one real peak (a kettle and an oven together) is often followed
// by another, a fault rarely. It flags the highest when it is at least
// Min units and more than Ratio times the third.
type spikeRule struct {
	Ratio float64
	Min   int64
}

func (spikeRule) Name() string { return RuleSpike }

func (r spikeRule) Check(s *Subject) []Failure {
	if s.Present < 3 || s.Partial() {
		return nil
	}
	vals := make([]int64, 0, s.Present)
	for i, v := range s.Values {
		if !s.Missing(i) {
			vals = append(vals, v)
		}
	}
	slices.Sort(vals)
	hi, third := vals[len(vals)-1], vals[len(vals)-3]
	if hi < r.Min || float64(hi) <= r.Ratio*float64(max(third, 1)) {
		return nil
	}
	i := slices.Index(s.Values, hi)
	var reason string
	if third <= 0 {
		reason = fmt.Sprintf("%s at %s where the third highest interval is %s", s.Demand(hi), s.At(i), s.Energy(third))
	} else {
		reason = fmt.Sprintf("%s at %s is %.0f× the third highest interval (%s)", s.Demand(hi), s.At(i), float64(hi)/float64(third), s.Energy(third))
	}
	return []Failure{{Interval: i, Intervals: []int{i}, Reason: reason, Unit: s.Unit}}
}
