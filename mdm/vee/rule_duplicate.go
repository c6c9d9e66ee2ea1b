package vee

import (
	"fmt"

	"github.com/amigo-ami/amigo/cim"
)

// RuleDuplicate flags intervals read twice with different values: the
// store kept the later one and marked it suspect.
const RuleDuplicate = "duplicate-differs"

var defDuplicate = Definition{Name: RuleDuplicate, New: func(Rules) Rule { return duplicateRule{} }}

type duplicateRule struct{}

func (duplicateRule) Name() string { return RuleDuplicate }

func (duplicateRule) Check(s *Subject) []Failure {
	at := s.flagged(cim.QualitySuspect)
	return s.Finding(at, "", func() string {
		return fmt.Sprintf("%s read twice with different values, the later kept: %s", s.Count(len(at)), s.Runs(at))
	})
}
