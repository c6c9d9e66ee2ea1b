package vee

import "fmt"

// RuleMissing flags intervals that were due and hold no reading.
const RuleMissing = "missing"

var defMissing = Definition{Name: RuleMissing, New: func(Rules) Rule { return missingRule{} }}

// missingRule reports gaps once, on the import channel: import and export
// are captured in one profile entry, so a lost capture is the meter's.
// Captures lost to a power failure are that outage, not a gap.
type missingRule struct{}

func (missingRule) Name() string { return RuleMissing }

func (missingRule) Check(s *Subject) []Failure {
	if !s.Consumption {
		return nil
	}
	var at []int
	for i := s.Lead; i < s.Due; i++ {
		if s.Missing(i) && !s.outage[i] {
			at = append(at, i)
		}
	}
	return s.Finding(at, "", func() string { return fmt.Sprintf("%s missing: %s", s.Count(len(at)), s.Runs(at)) })
}
