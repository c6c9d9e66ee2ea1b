package vee

import "fmt"

// RuleWhileOff flags consumption while the relay was open: a bypass, or a
// relay that did not open.
const RuleWhileOff = "consumption-while-disconnected"

var defWhileOff = Definition{Name: RuleWhileOff, New: func(Rules) Rule { return whileOffRule{} }}

type whileOffRule struct{}

func (whileOffRule) Name() string { return RuleWhileOff }

func (whileOffRule) Check(s *Subject) []Failure {
	if len(s.Disconnected) == 0 {
		return nil
	}
	var at []int
	var sum int64
	for i, v := range s.Values {
		if v > 0 && !s.Missing(i) && s.Off(i) {
			at = append(at, i)
			sum += v
		}
	}
	return s.Finding(at, s.Unit, func() string {
		return fmt.Sprintf("%s registered in %s while the relay was open: %s", s.Energy(sum), s.Count(len(at)), s.Runs(at))
	})
}
