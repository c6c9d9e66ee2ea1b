package tariff

import (
	"errors"

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
// the dates of the tariff's region, which become special days.
func (t Tariff) TOUCalendar(holidays []cim.Date) (TOUCalendar, error) {
	return TOUCalendar{}, errors.New("tariff: TOUCalendar not yet implemented")
}
