package tariff

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// dayTypeLabel is how errors and descriptions name a day type.
func dayTypeLabel(d DayType) string {
	switch d {
	case Working:
		return "working days"
	case Saturday:
		return "Saturdays"
	case Sunday:
		return "Sundays"
	case Holiday:
		return "holidays"
	}
	return string(d)
}

// Validate checks the tariff can price every instant unambiguously and
// that its charges are well formed. A seasonal TOU that leaves time
// uncovered or overlaps itself is refused naming the season, the day type
// and the gap or overlap.
func (t Tariff) Validate() error {
	if t.ID == "" || t.Currency == "" {
		return errors.New("tariff: id and currency are required")
	}
	if t.Version < 0 {
		return fmt.Errorf("tariff %s: version %d is negative", t.ID, t.Version)
	}
	if len(t.Seasons) == 0 {
		if err := t.validateSimple(); err != nil {
			return err
		}
	} else if err := t.validateSeasons(); err != nil {
		return err
	}
	return t.validateCharges()
}

func (t Tariff) validateSimple() error {
	if t.Base.Name == "" || t.Base.Price < 0 {
		return fmt.Errorf("tariff %s: the base period needs a name and a price of 0 or more", t.ID)
	}
	if t.Base.Register < 0 || t.Base.Register > 4 {
		return fmt.Errorf("tariff %s: the base period's register %d is not 1..4", t.ID, t.Base.Register)
	}
	for i, p := range t.Periods {
		if p.Name == "" || p.From < 0 || p.To > 1440 || p.From >= p.To || p.Price < 0 {
			return fmt.Errorf("tariff %s: period %d (%q): want a name, 0 <= from < to <= 1440 and a price of 0 or more", t.ID, i+1, p.Name)
		}
		if p.Register < 0 || p.Register > 4 {
			return fmt.Errorf("tariff %s: period %d (%q): register %d is not 1..4", t.ID, i+1, p.Name, p.Register)
		}
		for _, d := range p.Days {
			if d < 0 || d > 6 {
				return fmt.Errorf("tariff %s: period %d (%q): weekday %d is not 0..6", t.ID, i+1, p.Name, d)
			}
		}
	}
	return nil
}

func (t Tariff) validateSeasons() error {
	starts := map[MonthDay]string{}
	for _, s := range t.Seasons {
		if s.Name == "" {
			return fmt.Errorf("tariff %s: a season has no name", t.ID)
		}
		if s.Start.Month < 1 || s.Start.Month > 12 || s.Start.Day < 1 || s.Start.Day > daysIn[s.Start.Month-1] {
			return fmt.Errorf("tariff %s: season %s: start %s is no date", t.ID, s.Name, s.Start)
		}
		if o, ok := starts[s.Start]; ok {
			return fmt.Errorf("tariff %s: seasons %s and %s both start on %s", t.ID, o, s.Name, s.Start)
		}
		starts[s.Start] = s.Name
		seen := map[DayType]bool{}
		for _, dp := range s.Days {
			if len(dp.Types) == 0 {
				return fmt.Errorf("tariff %s: season %s: a day profile names no day type", t.ID, s.Name)
			}
			for _, d := range dp.Types {
				if !slices.Contains(DayTypes, d) {
					return fmt.Errorf("tariff %s: season %s: unknown day type %q (want working, saturday, sunday or holiday)", t.ID, s.Name, d)
				}
				if seen[d] {
					return fmt.Errorf("tariff %s: season %s: %s have two day profiles", t.ID, s.Name, dayTypeLabel(d))
				}
				seen[d] = true
			}
			if err := checkDay(dp.Periods); err != "" {
				return fmt.Errorf("tariff %s: season %s, %s: %s", t.ID, s.Name, dayTypeLabel(dp.Types[0]), err)
			}
		}
		for _, d := range DayTypes {
			if !seen[d] {
				return fmt.Errorf("tariff %s: season %s, %s: 00:00–24:00 uncovered (no day profile)", t.ID, s.Name, dayTypeLabel(d))
			}
		}
	}
	return nil
}

// checkDay says what is wrong with a day's periods: a bad period, a gap
// or an overlap; "" when they cover the day exactly once.
func checkDay(ps []TOUPeriod) string {
	for _, p := range ps {
		switch {
		case p.Name == "":
			return fmt.Sprintf("a period %s–%s has no name", p.From, p.To)
		case p.From < 0 || p.To > 1440 || p.From >= p.To:
			return fmt.Sprintf("period %s: %s–%s is not a span of the day", p.Name, p.From, p.To)
		case p.Register < 1 || p.Register > 4:
			return fmt.Sprintf("period %s: register %d is not 1..4", p.Name, p.Register)
		case p.Price < 0:
			return fmt.Sprintf("period %s: price %d is negative", p.Name, p.Price)
		}
	}
	s := slices.Clone(ps)
	slices.SortStableFunc(s, func(a, b TOUPeriod) int { return int(a.From - b.From) })
	at := Clock(0)
	var prev string
	var problems []string
	for _, p := range s {
		switch {
		case p.From > at:
			problems = append(problems, fmt.Sprintf("%s–%s uncovered", at, p.From))
		case p.From < at:
			problems = append(problems, fmt.Sprintf("%s and %s overlap %s–%s", prev, p.Name, p.From, min(at, p.To)))
		}
		if p.To > at {
			at, prev = p.To, p.Name
		}
	}
	if at < 1440 {
		problems = append(problems, fmt.Sprintf("%s–24:00 uncovered", at))
	}
	return strings.Join(problems, "; ")
}

func (t Tariff) validateCharges() error {
	names := t.periodNames()
	if tr := t.Tiers; tr != nil {
		if tr.Basis != "day" && tr.Basis != "period" {
			return fmt.Errorf("tariff %s: tiers: basis %q (want day or period)", t.ID, tr.Basis)
		}
		if tr.StandardDays < 0 {
			return fmt.Errorf("tariff %s: tiers: standard days %d is negative", t.ID, tr.StandardDays)
		}
		if len(tr.Blocks) == 0 {
			return fmt.Errorf("tariff %s: tiers: no blocks", t.ID)
		}
		var prev int64
		for i, b := range tr.Blocks {
			last := i == len(tr.Blocks)-1
			if last && b.UpToWh != 0 {
				return fmt.Errorf("tariff %s: tiers: the last block must have no upper limit (upto_wh 0)", t.ID)
			}
			if !last && b.UpToWh <= prev {
				return fmt.Errorf("tariff %s: tiers: block %d ends at %d Wh, not above the block before (%d Wh)", t.ID, i+1, b.UpToWh, prev)
			}
			prev = b.UpToWh
		}
	}
	codes := map[string]bool{}
	code := func(what, c string) error {
		if c == "" || strings.ContainsAny(c, " \t\n") {
			return fmt.Errorf("tariff %s: %s: code %q must be a word", t.ID, what, c)
		}
		if codes[c] {
			return fmt.Errorf("tariff %s: %s: code %q used twice", t.ID, what, c)
		}
		codes[c] = true
		return nil
	}
	for _, d := range t.Demand {
		if err := code("demand charge", d.Code); err != nil {
			return err
		}
		if d.Price < 0 || d.RatchetPercent < 0 || d.RatchetPercent > 100 || d.RatchetMonths < 0 {
			return fmt.Errorf("tariff %s: demand charge %s: want a price of 0 or more and a ratchet of 0..100 %%", t.ID, d.Code)
		}
		for _, p := range d.Periods {
			if !names[p] {
				return fmt.Errorf("tariff %s: demand charge %s: no TOU period is named %q", t.ID, d.Code, p)
			}
		}
	}
	for _, c := range slices.Concat(t.Fixed, t.Daily) {
		if err := code("charge", c.Code); err != nil {
			return err
		}
	}
	for _, x := range t.Taxes {
		if err := code("tax", x.Code); err != nil {
			return err
		}
		if x.RateBP < 0 {
			return fmt.Errorf("tariff %s: tax %s: rate %d bp is negative", t.ID, x.Code, x.RateBP)
		}
	}
	if n := t.NetMetering; n != nil {
		if n.Netting != NetInterval && n.Netting != NetPeriod && n.Netting != NetBilling {
			return fmt.Errorf("tariff %s: net metering: netting %q (want interval, period or billing)", t.ID, n.Netting)
		}
		if n.ExportPrice < 0 {
			return fmt.Errorf("tariff %s: net metering: export price %d is negative", t.ID, n.ExportPrice)
		}
		if t.Dynamic != nil && n.Netting != NetInterval {
			return fmt.Errorf("tariff %s: net metering: dynamic prices net per interval only", t.ID)
		}
	}
	if c := t.CriticalPeak; c != nil && (c.Price < 0 || (c.Price == 0 && c.Adder == 0)) {
		return fmt.Errorf("tariff %s: critical peak: want a price or an adder", t.ID)
	}
	if d := t.Dynamic; d != nil && d.Feed == "" {
		return fmt.Errorf("tariff %s: dynamic prices: no feed", t.ID)
	}
	return nil
}

func (t Tariff) periodNames() map[string]bool {
	names := map[string]bool{}
	if len(t.Seasons) == 0 {
		names[t.Base.Name] = true
		for _, p := range t.Periods {
			names[p.Name] = true
		}
	}
	for _, s := range t.Seasons {
		for _, d := range s.Days {
			for _, p := range d.Periods {
				names[p.Name] = true
			}
		}
	}
	return names
}
