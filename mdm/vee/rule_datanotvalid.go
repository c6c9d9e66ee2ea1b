package vee

import (
	"fmt"

	"github.com/amigo-ami/amigo/cim"
)

// RuleDataNotValid flags intervals the meter itself marked not valid.
const RuleDataNotValid = "data-not-valid"

var defDataNotValid = Definition{Name: RuleDataNotValid, New: func(Rules) Rule { return dataNotValidRule{} }}

// dataNotValidRule reports on the import channel only: the entry's status
// is the meter's.
type dataNotValidRule struct{}

func (dataNotValidRule) Name() string { return RuleDataNotValid }

func (dataNotValidRule) Check(s *Subject) []Failure {
	if !s.Consumption {
		return nil
	}
	at := s.flagged(cim.QualityDataNotValid)
	return s.Finding(at, "", func() string {
		return fmt.Sprintf("the meter marked %s not valid: %s", s.Count(len(at)), s.Runs(at))
	})
}
