package vee

import (
	"fmt"
	"math"
)

// RuleHighLow flags a day whose total is far from its like days'.
const RuleHighLow = "high-low-vs-history"

var defHighLow = Definition{Name: RuleHighLow,
	Params: map[string]func(*Rules, float64){
		"high_factor": func(r *Rules, v float64) { r.HighFactor = v },
		"low_factor":  func(r *Rules, v float64) { r.LowFactor = v },
	},
	New: func(r Rules) Rule {
		if r.HighFactor <= 0 && r.LowFactor <= 0 {
			return nil
		}
		return highLowRule{High: r.HighFactor, Low: r.LowFactor}
	}}

// highLowRule flags a day above High × or below Low × the average of its
// like days. A low day is flagged only while the meter stayed energised
// and connected: an outage or an open relay explains it.
type highLowRule struct{ High, Low float64 }

func (highLowRule) Name() string { return RuleHighLow }

func (r highLowRule) Check(s *Subject) []Failure {
	avg, n, ok := dayTotals(s)
	if !ok || !r.fails(s, avg) {
		return nil
	}
	return s.DayFinding("day total " + againstLikeDays(s, avg, n))
}

func (r highLowRule) fails(s *Subject, avg float64) bool {
	total := float64(s.Total)
	return r.High > 0 && total > r.High*avg || r.Low > 0 && total < r.Low*avg && quiet(s)
}

// dayTotals is the like days' average and count when the day's total may
// be compared with them: for consumption only, as a day's export follows
// the weather and a sunny day after a dull week is no fault; and for a
// complete day.
func dayTotals(s *Subject) (avg float64, n int, ok bool) {
	if !s.Complete() || !s.Consumption {
		return 0, 0, false
	}
	avg, n = s.LikeDays()
	return avg, n, n > 0
}

// quiet says the meter stayed energised and connected all day.
func quiet(s *Subject) bool { return len(s.Disconnected) == 0 && !s.PowerDown }

// againstLikeDays puts the day's total beside its like days' average.
func againstLikeDays(s *Subject, avg float64, n int) string {
	like := fmt.Sprintf("%d like days", n)
	if n == 1 {
		like = "1 like day"
	}
	if avg <= 0 {
		return fmt.Sprintf("%s, where %s averaged %s", s.DayTotal(s.Total), like, s.DayTotal(0))
	}
	x := float64(s.Total) / avg
	prec := 1
	if x < 1 {
		prec = 2
	}
	return fmt.Sprintf("%s, %.*f× the average of %s (%s)", s.DayTotal(s.Total), prec, x, like, s.DayTotal(int64(math.Round(avg))))
}
