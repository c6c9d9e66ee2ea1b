package meter

import (
	"fmt"
	"sort"
	"time"
)

// Switch starts a tariff rate at a local wall-clock minute of the day.
type Switch struct {
	Minute uint16 // 0..1439, local wall clock
	Rate   uint8  // 1..4 (registers 1.8.1..1.8.4)
}

// DayProfile is a day's switch list, sorted by minute. The rate before the
// first switch is the rate of the last switch (the day wraps).
type DayProfile []Switch

// Season starts on a local calendar day each year and selects a day profile
// per weekday.
type Season struct {
	Month time.Month
	Day   int
	Week  [7]uint8 // day-profile index, Monday first
}

// SpecialDay overrides the week profile on one date (Year 0: every year).
type SpecialDay struct {
	Year    int
	Month   time.Month
	Day     int
	Profile uint8
}

// Calendar is an activity calendar (season, week and day profiles, special
// days) in the spirit of COSEM class 20. A Calendar is shared by many
// meters: never modify one after handing it to a Tariff.
type Calendar struct {
	Name    string
	Seasons []Season // sorted by (Month, Day); the last one wraps over New Year
	Days    []DayProfile
	Special []SpecialDay
}

// Validate checks that every index and rate is in range and switch lists
// are sorted, so Rate never has to guess.
func (c *Calendar) Validate() error {
	if len(c.Seasons) == 0 || len(c.Days) == 0 {
		return fmt.Errorf("calendar %q: needs at least one season and one day profile", c.Name)
	}
	if !sort.SliceIsSorted(c.Seasons, func(i, j int) bool {
		return seasonKey(c.Seasons[i].Month, c.Seasons[i].Day) < seasonKey(c.Seasons[j].Month, c.Seasons[j].Day)
	}) {
		return fmt.Errorf("calendar %q: seasons not sorted by start date", c.Name)
	}
	for i, s := range c.Seasons {
		for d, p := range s.Week {
			if int(p) >= len(c.Days) {
				return fmt.Errorf("calendar %q: season %d weekday %d: day profile %d out of range", c.Name, i, d, p)
			}
		}
	}
	for i, dp := range c.Days {
		if len(dp) == 0 {
			return fmt.Errorf("calendar %q: day profile %d is empty", c.Name, i)
		}
		for j, sw := range dp {
			if sw.Minute >= 1440 || sw.Rate < 1 || sw.Rate > 4 {
				return fmt.Errorf("calendar %q: day profile %d switch %d: minute %d rate %d out of range", c.Name, i, j, sw.Minute, sw.Rate)
			}
			if j > 0 && sw.Minute <= dp[j-1].Minute {
				return fmt.Errorf("calendar %q: day profile %d switch %d: not after the previous", c.Name, i, j)
			}
		}
	}
	for i, s := range c.Special {
		if int(s.Profile) >= len(c.Days) {
			return fmt.Errorf("calendar %q: special day %d: day profile %d out of range", c.Name, i, s.Profile)
		}
	}
	return nil
}

func seasonKey(m time.Month, d int) int { return int(m)*32 + d }

// Rate returns the tariff rate (1..4) in force at a local time.
func (c *Calendar) Rate(local time.Time) int {
	y, mo, d := local.Date()
	h, mi, _ := local.Clock()
	prof := -1
	for _, s := range c.Special {
		if s.Month == mo && s.Day == d && (s.Year == 0 || s.Year == y) {
			prof = int(s.Profile)
			break
		}
	}
	if prof < 0 {
		key := seasonKey(mo, d)
		season := &c.Seasons[len(c.Seasons)-1]
		for i := range c.Seasons {
			if seasonKey(c.Seasons[i].Month, c.Seasons[i].Day) <= key {
				season = &c.Seasons[i]
			}
		}
		prof = int(season.Week[(int(local.Weekday())+6)%7])
	}
	dp := c.Days[prof]
	minute := uint16(h*60 + mi)
	rate := dp[len(dp)-1].Rate
	for _, sw := range dp {
		if sw.Minute > minute {
			break
		}
		rate = sw.Rate
	}
	return int(rate)
}

// TwoRateCalendar is the Dutch two-rate tariff: rate 1 (low) from 23:00 to
// 07:00 on weekdays and all weekend and on New Year's Day, rate 2 (normal)
// otherwise.
func TwoRateCalendar() *Calendar {
	return &Calendar{
		Name:    "two-rate",
		Seasons: []Season{{Month: time.January, Day: 1, Week: [7]uint8{0, 0, 0, 0, 0, 1, 1}}},
		Days: []DayProfile{
			{{0, 1}, {7 * 60, 2}, {23 * 60, 1}},
			{{0, 1}},
		},
		Special: []SpecialDay{{Month: time.January, Day: 1, Profile: 1}},
	}
}

// FourRateCalendar uses all four rates: night (1), day (2), a winter
// weekday evening peak 17:00-20:00 (3) and weekends and Christmas (4).
// Winter runs from 1 October to 31 March.
func FourRateCalendar() *Calendar {
	return &Calendar{
		Name: "four-rate",
		Seasons: []Season{
			{Month: time.January, Day: 1, Week: [7]uint8{0, 0, 0, 0, 0, 2, 2}},
			{Month: time.April, Day: 1, Week: [7]uint8{1, 1, 1, 1, 1, 2, 2}},
			{Month: time.October, Day: 1, Week: [7]uint8{0, 0, 0, 0, 0, 2, 2}},
		},
		Days: []DayProfile{
			{{0, 1}, {7 * 60, 2}, {17 * 60, 3}, {20 * 60, 2}, {23 * 60, 1}},
			{{0, 1}, {7 * 60, 2}, {23 * 60, 1}},
			{{0, 4}},
		},
		Special: []SpecialDay{{Month: time.December, Day: 25, Profile: 2}, {Month: time.December, Day: 26, Profile: 2}},
	}
}

// Tariff is a chain of calendars, each in force from its activation time
// until the next one's. Writing a passive calendar with an activation time
// (COSEM activate_passive_calendar_time) adds a head to the chain; history
// keeps using the calendars that were active then, so past registers never
// change. Tariffs are immutable and shared: build new heads, never edit.
type Tariff struct {
	Calendar *Calendar
	From     time.Time // zero: since forever
	Prev     *Tariff
}

// NewTariff returns a tariff that has always used c.
func NewTariff(c *Calendar) *Tariff { return &Tariff{Calendar: c} }

// WithPassive returns a tariff that switches to c at activate. Calendars
// scheduled at or after activate in t are dropped, as a newly written
// passive calendar replaces a pending one.
func (t *Tariff) WithPassive(c *Calendar, activate time.Time) *Tariff {
	prev := t
	for prev != nil && !prev.From.IsZero() && !prev.From.Before(activate) {
		prev = prev.Prev
	}
	return &Tariff{Calendar: c, From: activate, Prev: prev}
}

// At returns the calendar in force at an instant.
func (t *Tariff) At(at time.Time) *Calendar {
	for p := t; p != nil; p = p.Prev {
		if p.From.IsZero() || !at.Before(p.From) {
			return p.Calendar
		}
	}
	return nil
}

// Rate returns the rate in force at local (1 when no calendar applies).
func (t *Tariff) Rate(local time.Time) int {
	if c := t.At(local); c != nil {
		return c.Rate(local)
	}
	return 1
}

// Passive returns the calendar scheduled after now and its activation time,
// if any.
func (t *Tariff) Passive(now time.Time) (*Calendar, time.Time, bool) {
	if t != nil && !t.From.IsZero() && t.From.After(now) {
		return t.Calendar, t.From, true
	}
	return nil, time.Time{}, false
}
