package vee

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The parts of reasons: times in the usage point's zone, values with
// their units. Every rule writes its reason with them, so reasons read
// alike whichever rule found what.

// clock is an interval boundary in the usage point's zone; a day's end is
// 24:00, not the next day's 00:00.
func (s *Subject) clock(i int) string {
	t := s.Start.Add(time.Duration(i) * s.Interval).In(s.Location)
	if i > 0 && i == len(s.Values) {
		return "24:00"
	}
	return t.Format("15:04")
}

func (s *Subject) zone() string {
	name, _ := s.Start.In(s.Location).Zone()
	if end := s.Start.Add(time.Duration(len(s.Values)) * s.Interval).Add(-time.Nanosecond).In(s.Location); end.Format("MST") != name {
		name += "/" + end.Format("MST") // a day of a clock change
	}
	return name
}

// At is the start of one interval with the zone: "02:00 UTC".
func (s *Subject) At(i int) string { return s.clock(i) + " " + s.zone() }

// Runs lists intervals as runs of their times: "03:00–04:00, 14:15–14:30
// CET", the first few only.
func (s *Subject) Runs(at []int) string {
	const most = 4
	var parts []string
	runs := 0
	for k := 0; k < len(at); {
		j := k
		for j+1 < len(at) && at[j+1] == at[j]+1 {
			j++
		}
		runs++
		if runs <= most {
			parts = append(parts, s.clock(at[k])+"–"+s.clock(at[j]+1))
		}
		k = j + 1
	}
	out := strings.Join(parts, ", ")
	if runs > most {
		out += fmt.Sprintf(" and %d more", runs-most)
	}
	return out + " " + s.zone()
}

// Count is a number of intervals: "1 interval", "1,234 intervals".
func (s *Subject) Count(n int) string {
	if n == 1 {
		return "1 interval"
	}
	return group(int64(n)) + " intervals"
}

// Energy is an interval's value with its unit.
func (s *Subject) Energy(v int64) string {
	if s.Unit == "" {
		return group(v)
	}
	return group(v) + " " + s.Unit
}

// Signed is Energy with the sign of a difference.
func (s *Subject) Signed(v int64) string {
	if v > 0 {
		return "+" + s.Energy(v)
	}
	return s.Energy(v)
}

// Demand is an interval's energy and, for active energy, the mean power
// it takes over the interval: what a contracted capacity is stated in.
func (s *Subject) Demand(v int64) string {
	if s.Unit != "Wh" || s.Interval <= 0 {
		return s.Energy(v)
	}
	w := float64(v) * float64(time.Hour) / float64(s.Interval)
	if math.Abs(w) >= 10_000 {
		return fmt.Sprintf("%s (%.1f kW)", s.Energy(v), w/1000)
	}
	return fmt.Sprintf("%s (%s W)", s.Energy(v), group(int64(math.Round(w))))
}

// DayTotal is a day's sum, in kWh for active energy.
func (s *Subject) DayTotal(v int64) string {
	if s.Unit != "Wh" {
		return s.Energy(v)
	}
	return fmt.Sprintf("%.1f kWh", float64(v)/1000)
}

// group writes an integer with thousands separated: 17250 is "17,250".
func group(v int64) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
