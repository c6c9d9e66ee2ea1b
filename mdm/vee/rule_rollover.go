package vee

import (
	"fmt"

	"github.com/amigo-ami/amigo/cim"
)

// RuleRollover flags intervals in which the meter's register overflowed.
const RuleRollover = "register-rollover"

var defRollover = Definition{Name: RuleRollover, New: func(Rules) Rule { return rolloverRule{} }}

type rolloverRule struct{}

func (rolloverRule) Name() string { return RuleRollover }

func (rolloverRule) Check(s *Subject) []Failure {
	at := s.flagged(cim.QualityOverflow)
	return s.Finding(at, "", func() string {
		return fmt.Sprintf("the register rolled over in %s: %s", s.Count(len(at)), s.Runs(at))
	})
}
