package vee

import (
	"fmt"

	"github.com/amigo-ami/amigo/cim"
)

// RuleClock flags intervals in which the meter's clock was set: they may
// be short or long.
const RuleClock = "clock-adjusted"

var defClock = Definition{Name: RuleClock, New: func(Rules) Rule { return clockRule{} }}

// clockRule reports on the import channel only: the clock is the meter's.
type clockRule struct{}

func (clockRule) Name() string { return RuleClock }

func (clockRule) Check(s *Subject) []Failure {
	if !s.Consumption {
		return nil
	}
	at := s.flagged(cim.QualityClockAdjusted)
	return s.Finding(at, "", func() string {
		return fmt.Sprintf("the meter's clock was set in %s: %s", s.Count(len(at)), s.Runs(at))
	})
}
