package tariff

import (
	"slices"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// DayTypeOf returns the day type of a local date: a holiday when listed,
// else Saturday, Sunday or a working day.
func DayTypeOf(d cim.Date, holidays []cim.Date) DayType {
	if slices.Contains(holidays, d) {
		return Holiday
	}
	switch time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday() {
	case time.Saturday:
		return Saturday
	case time.Sunday:
		return Sunday
	}
	return Working
}

// SeasonOf returns the index of the season in force on d: the one with
// the latest start not after d, or the year's last season before the
// first start. It is -1 for a tariff without seasons.
func (t Tariff) SeasonOf(d cim.Date) int {
	if len(t.Seasons) == 0 {
		return -1
	}
	ord := int(d.Month)*100 + d.Day
	best, bestOrd, last, lastOrd := -1, -1, 0, -1
	for i, s := range t.Seasons {
		o := s.Start.ord()
		if o <= ord && o > bestOrd {
			best, bestOrd = i, o
		}
		if o > lastOrd {
			last, lastOrd = i, o
		}
	}
	if best < 0 {
		return last
	}
	return best
}

// Day returns the TOU periods of a local date, sorted by start, and the
// prefix that makes their bucket names unique across seasons ("winter."
// when the tariff has several seasons, "" otherwise).
func (t Tariff) Day(d cim.Date, holidays []cim.Date) (periods []TOUPeriod, prefix string) {
	if len(t.Seasons) == 0 {
		return t.simpleDay(d), ""
	}
	s := t.Seasons[t.SeasonOf(d)]
	dt := DayTypeOf(d, holidays)
	for _, dp := range s.Days {
		if slices.Contains(dp.Types, dt) {
			periods = slices.Clone(dp.Periods)
			break
		}
	}
	slices.SortFunc(periods, func(a, b TOUPeriod) int { return int(a.From - b.From) })
	if len(t.Seasons) > 1 {
		prefix = s.Name + "."
	}
	return periods, prefix
}

// simpleDay turns the simple form's first-match periods of a weekday into
// the periods that cover the day exactly once.
func (t Tariff) simpleDay(d cim.Date) []TOUPeriod {
	wd := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
	regs := t.simpleRegisters()
	var out []TOUPeriod
	for m := 0; m < 1440; m++ {
		p := t.Base
		for _, q := range t.Periods {
			if m >= q.From && m < q.To && (len(q.Days) == 0 || slices.Contains(q.Days, wd)) {
				p = q
				break
			}
		}
		if n := len(out); n > 0 && out[n-1].Name == p.Name && out[n-1].Price == p.Price {
			out[n-1].To = Clock(m + 1)
			continue
		}
		out = append(out, TOUPeriod{Name: p.Name, From: Clock(m), To: Clock(m + 1), Price: p.Price, Register: regs[p.Name]})
	}
	return out
}

// simpleRegisters numbers the simple form's periods by name: the given
// register, else the next free one in order, Base first.
func (t Tariff) simpleRegisters() map[string]int {
	regs := map[string]int{}
	used := map[int]bool{}
	all := append([]Period{t.Base}, t.Periods...)
	for _, p := range all {
		if p.Register > 0 {
			if _, ok := regs[p.Name]; !ok {
				regs[p.Name] = p.Register
				used[p.Register] = true
			}
		}
	}
	next := 1
	for _, p := range all {
		if _, ok := regs[p.Name]; ok {
			continue
		}
		for used[next] {
			next++
		}
		regs[p.Name] = next
		used[next] = true
	}
	return regs
}

// PeriodAt returns the period of day periods (as Day returns them) in
// force at minute m of the local day.
func PeriodAt(periods []TOUPeriod, m int) TOUPeriod {
	for _, p := range periods {
		if m >= int(p.From) && m < int(p.To) {
			return p
		}
	}
	return periods[len(periods)-1]
}
