package vee

import "fmt"

// RuleDemandLimit flags intervals above the contracted capacity.
const RuleDemandLimit = "demand-limit"

var defDemandLimit = Definition{Name: RuleDemandLimit,
	Params: map[string]func(*Rules, float64){"demand_limit": func(r *Rules, v float64) { r.DemandLimit = int64(v) }},
	New: func(r Rules) Rule {
		if r.DemandLimit <= 0 {
			return nil
		}
		return demandLimitRule{Limit: r.DemandLimit}
	}}

// demandLimitRule flags intervals holding more than Limit units.
type demandLimitRule struct{ Limit int64 }

func (demandLimitRule) Name() string { return RuleDemandLimit }

func (r demandLimitRule) Check(s *Subject) []Failure {
	var at []int
	var top int64
	for i, v := range s.Values {
		if v > r.Limit && !s.Missing(i) {
			at = append(at, i)
			top = max(top, v)
		}
	}
	return s.Finding(at, s.Unit, func() string {
		return fmt.Sprintf("%s above the limit of %s: %s; the highest %s", s.Count(len(at)), s.Demand(r.Limit), s.Runs(at), s.Demand(top))
	})
}
