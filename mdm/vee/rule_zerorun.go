package vee

import (
	"fmt"

	"github.com/amigo-ami/amigo/cim"
)

// RuleZeroEnergised flags a long run of zero consumption while the meter
// had power and its relay was closed: a stuck register, or a bypass.
const RuleZeroEnergised = "zero-while-energised"

var defZeroRun = Definition{Name: RuleZeroEnergised,
	Params: map[string]func(*Rules, float64){"zero_run": func(r *Rules, v float64) { r.ZeroRun = int(v) }},
	New: func(r Rules) Rule {
		if r.ZeroRun <= 0 {
			return nil
		}
		return zeroRunRule{Run: r.ZeroRun}
	}}

// zeroRunRule flags every run of at least Run zero intervals; a missing
// interval, a power failure or an open relay ends a run. Export is zero
// whenever the sun does not shine, so only consumption is checked.
type zeroRunRule struct{ Run int }

func (zeroRunRule) Name() string { return RuleZeroEnergised }

func (r zeroRunRule) Check(s *Subject) []Failure {
	if !s.Consumption {
		return nil
	}
	var at []int
	start := -1 // the current run's first interval
	end := func(i int) {
		if start >= 0 && i-start >= r.Run {
			for k := start; k < i; k++ {
				at = append(at, k)
			}
		}
		start = -1
	}
	for i, v := range s.Values {
		if v == 0 && s.Quality[i]&(cim.QualityMissing|cim.QualityPowerDown) == 0 && !s.Off(i) {
			if start < 0 {
				start = i
			}
			continue
		}
		end(i)
	}
	end(len(s.Values))
	return s.Finding(at, "", func() string {
		return fmt.Sprintf("%s of zero while energised: %s", s.Count(len(at)), s.Runs(at))
	})
}
