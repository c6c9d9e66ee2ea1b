package vee

import (
	"fmt"

	"github.com/amigo-ami/amigo/cim"
)

// RuleOutage flags a power failure: the entry the meter marked, and the
// captures it lost before it.
const RuleOutage = "power-down"

var defOutage = Definition{Name: RuleOutage, New: func(Rules) Rule { return outageRule{} }}

// outageRule reports on the import channel only: the power is the
// meter's.
type outageRule struct{}

func (outageRule) Name() string { return RuleOutage }

func (outageRule) Check(s *Subject) []Failure {
	if !s.Consumption {
		return nil
	}
	// The captures lost come first, then the entries marked: one outage
	// is one finding, in the order it has always been listed.
	var at []int
	for i := s.Lead; i < s.Due; i++ {
		if s.Missing(i) && s.outage[i] {
			at = append(at, i)
		}
	}
	lost := len(at)
	at = append(at, s.flagged(cim.QualityPowerDown)...)
	return s.Finding(at, "", func() string {
		reason := fmt.Sprintf("power failed in %s: %s", s.Count(len(at)), s.Runs(at))
		switch {
		case lost == 1:
			reason += " (1 capture lost; the interval after holds its consumption)"
		case lost > 1:
			reason += fmt.Sprintf(" (%d captures lost; the interval after holds their consumption)", lost)
		}
		return reason
	})
}
