package vee

import "fmt"

// RuleSumCheck flags a day whose intervals do not add up to the
// register's move.
const RuleSumCheck = "sum-check"

var defSumCheck = Definition{Name: RuleSumCheck,
	Params: map[string]func(*Rules, float64){"sum_tolerance": func(r *Rules, v float64) { r.SumTolerance = int64(v) }},
	// A tolerance of 0 is the strictest check, not none.
	New: func(r Rules) Rule { return sumCheckRule{Tolerance: r.SumTolerance} }}

// sumCheckRule compares a complete day's sum with the register reads at
// its bounds, when both are known; they may differ by Tolerance units.
type sumCheckRule struct{ Tolerance int64 }

func (sumCheckRule) Name() string { return RuleSumCheck }

func (r sumCheckRule) Check(s *Subject) []Failure {
	if s.RegisterStart == nil || s.RegisterEnd == nil || !s.Complete() {
		return nil
	}
	moved := s.RegisterEnd.Value - s.RegisterStart.Value
	diff := s.Total - moved
	if diff <= r.Tolerance && -diff <= r.Tolerance {
		return nil
	}
	return s.DayFinding(fmt.Sprintf("the intervals sum to %s, the register moved %s (%s)", s.Energy(s.Total), s.Energy(moved), s.Signed(diff)))
}
