package vee

import "fmt"

// RuleNegative flags intervals below zero: energy in one direction never
// runs backwards.
const RuleNegative = "negative"

var defNegative = Definition{Name: RuleNegative, New: func(Rules) Rule { return negativeRule{} }}

type negativeRule struct{}

func (negativeRule) Name() string { return RuleNegative }

func (negativeRule) Check(s *Subject) []Failure {
	var at []int
	var low int64
	for i, v := range s.Values {
		if v < 0 && !s.Missing(i) {
			at = append(at, i)
			low = min(low, v)
		}
	}
	return s.Finding(at, s.Unit, func() string {
		return fmt.Sprintf("%s negative, down to %s: %s", s.Count(len(at)), s.Energy(low), s.Runs(at))
	})
}
