package vee

// RuleTheftSuspected flags a day whose consumption fell while nothing
// explains it.
const RuleTheftSuspected = "consumption-drop"

var defDrop = Definition{Name: RuleTheftSuspected,
	Params: map[string]func(*Rules, float64){"drop_factor": func(r *Rules, v float64) { r.DropFactor = v }},
	New: func(r Rules) Rule {
		if r.DropFactor <= 0 {
			return nil
		}
		return dropRule{Factor: r.DropFactor, HighLow: highLowRule{High: r.HighFactor, Low: r.LowFactor}}
	}}

// dropRule flags a day below Factor × its like days' average while the
// meter stayed energised and connected: the signature of a bypass. A day
// HighLow flags is not also a drop: one day, one verdict.
type dropRule struct {
	Factor  float64
	HighLow highLowRule
}

func (dropRule) Name() string { return RuleTheftSuspected }

func (r dropRule) Check(s *Subject) []Failure {
	avg, n, ok := dayTotals(s)
	if !ok || r.HighLow.fails(s, avg) || float64(s.Total) >= r.Factor*avg || !quiet(s) {
		return nil
	}
	return s.DayFinding("day total fell to " + againstLikeDays(s, avg, n) + ", with the meter energised and connected")
}
