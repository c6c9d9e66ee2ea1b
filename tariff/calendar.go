package tariff

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// TOUCalendar is a tariff's time of use in the shape meters keep it
// (IEC 62056 activity calendar, without its byte layout): seasons that
// each select a week profile, week profiles that select a day profile
// per weekday, day profiles of switches to energy registers 1..4, and
// special days with their own day profile.
type TOUCalendar struct {
	Seasons     []CalendarSeason `json:"seasons"`
	Weeks       []WeekProfile    `json:"weeks"`
	DayProfiles []CalendarDay    `json:"day_profiles"`
	SpecialDays []SpecialDay     `json:"special_days,omitempty"`
}

// CalendarSeason starts on Start every year and uses week profile Week.
type CalendarSeason struct {
	Name  string   `json:"name"`
	Start MonthDay `json:"start"`
	Week  int      `json:"week"` // index into TOUCalendar.Weeks
}

// WeekProfile is the day profile index of each weekday, Monday first.
type WeekProfile struct {
	Name string `json:"name"`
	Days [7]int `json:"days"`
}

// CalendarDay is a day profile: from each switch's minute of the local
// day, energy counts in its register (1..4), until the next switch.
type CalendarDay struct {
	Switches []Switch `json:"switches"`
}

// Switch selects register Register from minute Minute of the day.
type Switch struct {
	Minute   int `json:"minute"`
	Register int `json:"register"`
}

// SpecialDay gives one date (a holiday) its own day profile.
type SpecialDay struct {
	Date       cim.Date `json:"date"`
	DayProfile int      `json:"day_profile"`
}

// TOUCalendar returns the tariff's TOU as a meter calendar; holidays are
// the dates of the tariff's region, which become special days with the
// holiday profile of the season they fall in. A tariff in the simple form
// is one season from 01-01 with a day profile per distinct weekday.
func (t Tariff) TOUCalendar(holidays []cim.Date) (TOUCalendar, error) {
	if err := t.Validate(); err != nil {
		return TOUCalendar{}, err
	}
	var c TOUCalendar
	profile := func(ps []TOUPeriod) int {
		var day CalendarDay
		for _, p := range ps {
			if n := len(day.Switches); n > 0 && day.Switches[n-1].Register == p.Register {
				continue
			}
			day.Switches = append(day.Switches, Switch{Minute: int(p.From), Register: p.Register})
		}
		for i, d := range c.DayProfiles {
			if slices.Equal(d.Switches, day.Switches) {
				return i
			}
		}
		c.DayProfiles = append(c.DayProfiles, day)
		return len(c.DayProfiles) - 1
	}
	if len(t.Seasons) == 0 {
		regs := map[int]bool{}
		for _, r := range t.simpleRegisters() {
			regs[r] = true
		}
		if len(regs) > 4 {
			return TOUCalendar{}, fmt.Errorf("tariff %s: %d prices need more than the meter's 4 registers", t.ID, len(regs))
		}
		var w WeekProfile
		w.Name = "week"
		// 2024-01-01 was a Monday: a reference week for the weekdays.
		for i := range 7 {
			w.Days[i] = profile(t.simpleDay(cim.Date{Year: 2024, Month: time.January, Day: 1 + i}))
		}
		c.Weeks = []WeekProfile{w}
		c.Seasons = []CalendarSeason{{Name: "all year", Start: MonthDay{time.January, 1}}}
		return c, nil
	}
	holidayProfile := make([]int, len(t.Seasons))
	for si, s := range t.Seasons {
		byType := map[DayType]int{}
		for _, dp := range s.Days {
			ps := slices.Clone(dp.Periods)
			slices.SortFunc(ps, func(a, b TOUPeriod) int { return int(a.From - b.From) })
			idx := profile(ps)
			for _, d := range dp.Types {
				byType[d] = idx
			}
		}
		w := WeekProfile{Name: s.Name}
		for i := range 5 {
			w.Days[i] = byType[Working]
		}
		w.Days[5], w.Days[6] = byType[Saturday], byType[Sunday]
		holidayProfile[si] = byType[Holiday]
		c.Weeks = append(c.Weeks, w)
		c.Seasons = append(c.Seasons, CalendarSeason{Name: s.Name, Start: s.Start, Week: si})
	}
	slices.SortStableFunc(c.Seasons, func(a, b CalendarSeason) int { return a.Start.ord() - b.Start.ord() })
	hs := slices.Clone(holidays)
	slices.SortFunc(hs, func(a, b cim.Date) int { return strings.Compare(a.String(), b.String()) })
	for _, h := range slices.Compact(hs) {
		c.SpecialDays = append(c.SpecialDays, SpecialDay{Date: h, DayProfile: holidayProfile[t.SeasonOf(h)]})
	}
	return c, nil
}

// RegisterAt returns the register the calendar selects at minute m of a
// local date: what a meter programmed with it counts energy in.
func (c TOUCalendar) RegisterAt(d cim.Date, m int) int {
	if len(c.Seasons) == 0 {
		return 0
	}
	prof := -1
	for _, s := range c.SpecialDays {
		if s.Date == d {
			prof = s.DayProfile
		}
	}
	if prof < 0 {
		ord := int(d.Month)*100 + d.Day
		season := c.Seasons[len(c.Seasons)-1]
		for _, s := range c.Seasons {
			if s.Start.ord() <= ord {
				season = s
			}
		}
		wd := (int(time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()) + 6) % 7
		prof = c.Weeks[season.Week].Days[wd]
	}
	reg := 0
	for _, s := range c.DayProfiles[prof].Switches {
		if s.Minute <= m {
			reg = s.Register
		}
	}
	return reg
}
