package dlmsdriver

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// Calendar is a TOU calendar as a command parameter: the tables of a
// COSEM activity calendar (class 20) in JSON. Each day action switches to
// a tariff rate by running the tariffication script 0.0.10.0.100.255 with
// the rate as selector.
//
//	{"name": "TOU-2027",
//	 "seasons": [{"name": "all", "start": "01-01", "week": "wk"}],
//	 "weeks":   [{"name": "wk", "days": [1, 1, 1, 1, 1, 2, 2]}],
//	 "days":    [{"id": 1, "actions": [{"start": "00:00", "rate": 2}, {"start": "07:00", "rate": 1}, {"start": "23:00", "rate": 2}]},
//	             {"id": 2, "actions": [{"start": "00:00", "rate": 2}]}],
//	 "special_days": [{"date": "12-25", "day": 2}, {"date": "2027-04-05", "day": 2}]}
//
// Special days (holidays) go to the special days table (class 11), which
// the meter consults before the week profile: a date is MM-DD for every
// year or YYYY-MM-DD for one year, and day a day id of "days".
type Calendar struct {
	Name    string `json:"name"`
	Seasons []struct {
		Name  string `json:"name"`
		Start string `json:"start"` // MM-DD, every year
		Week  string `json:"week"`
	} `json:"seasons"`
	Weeks []struct {
		Name string  `json:"name"`
		Days []uint8 `json:"days"` // day ids, Monday first
	} `json:"weeks"`
	Days []struct {
		ID      uint8 `json:"id"`
		Actions []struct {
			Start string `json:"start"` // HH:MM
			Rate  uint16 `json:"rate"`
		} `json:"actions"`
	} `json:"days"`
	SpecialDays []SpecialDay `json:"special_days,omitempty"`
}

// SpecialDay is one date that takes day profile Day instead of its
// weekday's.
type SpecialDay struct {
	Date string `json:"date"` // MM-DD (every year) or YYYY-MM-DD
	Day  uint8  `json:"day"`
}

// maxSpecialDays bounds the table a command writes (index is a
// long-unsigned; meters hold far fewer).
const maxSpecialDays = 1024

// cosemDate is the special day's date as the table holds it: year
// 0xFFFF when it recurs every year, day of week unspecified.
func (sd SpecialDay) cosemDate() (axdr.Date, error) {
	var y, mo, d int
	var n int
	var err error
	if strings.Count(sd.Date, "-") == 2 {
		n, err = fmt.Sscanf(sd.Date, "%4d-%2d-%2d", &y, &mo, &d)
		if err == nil && (n != 3 || len(sd.Date) != 10 || y < 1 || y > 9999) {
			err = errors.New("year")
		}
	} else {
		y = 0xFFFF
		n, err = fmt.Sscanf(sd.Date, "%2d-%2d", &mo, &d)
		if err == nil && (n != 2 || len(sd.Date) != 5) {
			err = errors.New("short")
		}
	}
	if err != nil || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return axdr.Date{}, fmt.Errorf("special day %q: want MM-DD or YYYY-MM-DD", sd.Date)
	}
	if y != 0xFFFF && time.Date(y, time.Month(mo), d, 12, 0, 0, 0, time.UTC).Day() != d {
		return axdr.Date{}, fmt.Errorf("special day %q: no such date", sd.Date)
	}
	return axdr.Date{Year: uint16(y), Month: uint8(mo), Day: uint8(d), DayOfWeek: axdr.Unspecified}, nil
}

var tariffScript = obis.Code{0, 0, 10, 0, 100, 255}

// ParseCalendar reads and checks a calendar parameter.
func ParseCalendar(s string) (*Calendar, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("calendar: parameter missing")
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var c Calendar
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("calendar: %w", err)
	}
	if c.Name == "" || len(c.Seasons) == 0 || len(c.Weeks) == 0 || len(c.Days) == 0 {
		return nil, errors.New("calendar: name, seasons, weeks and days are required")
	}
	weeks, days := map[string]bool{}, map[uint8]bool{}
	for _, d := range c.Days {
		if len(d.Actions) == 0 {
			return nil, fmt.Errorf("calendar: day %d has no actions", d.ID)
		}
		for _, a := range d.Actions {
			var h, m int
			if _, err := fmt.Sscanf(a.Start, "%d:%d", &h, &m); err != nil || h < 0 || h > 23 || m < 0 || m > 59 {
				return nil, fmt.Errorf("calendar: day %d: start %q: want HH:MM", d.ID, a.Start)
			}
			if a.Rate < 1 || a.Rate > 4 {
				return nil, fmt.Errorf("calendar: day %d: rate %d: want 1 to 4", d.ID, a.Rate)
			}
		}
		days[d.ID] = true
	}
	for _, w := range c.Weeks {
		if len(w.Days) != 7 {
			return nil, fmt.Errorf("calendar: week %q: want 7 day ids, Monday first", w.Name)
		}
		for _, id := range w.Days {
			if !days[id] {
				return nil, fmt.Errorf("calendar: week %q uses day %d, which is not defined", w.Name, id)
			}
		}
		weeks[w.Name] = true
	}
	for _, se := range c.Seasons {
		var mo, d int
		if _, err := fmt.Sscanf(se.Start, "%d-%d", &mo, &d); err != nil || mo < 1 || mo > 12 || d < 1 || d > 31 {
			return nil, fmt.Errorf("calendar: season %q: start %q: want MM-DD", se.Name, se.Start)
		}
		if !weeks[se.Week] {
			return nil, fmt.Errorf("calendar: season %q uses week %q, which is not defined", se.Name, se.Week)
		}
	}
	if len(c.SpecialDays) > maxSpecialDays {
		return nil, fmt.Errorf("calendar: %d special days, at most %d", len(c.SpecialDays), maxSpecialDays)
	}
	dates := map[axdr.Date]bool{}
	for _, sd := range c.SpecialDays {
		dt, err := sd.cosemDate()
		if err != nil {
			return nil, fmt.Errorf("calendar: %w", err)
		}
		if !days[sd.Day] {
			return nil, fmt.Errorf("calendar: special day %s uses day %d, which is not defined", sd.Date, sd.Day)
		}
		if dates[dt] {
			return nil, fmt.Errorf("calendar: special day %s given twice", sd.Date)
		}
		dates[dt] = true
	}
	return &c, nil
}

// specialDays returns the calendar's special days as table entries
// {date, day_id}, in the order given; the caller numbers them.
func (c *Calendar) specialDays() []specialEntry {
	out := make([]specialEntry, 0, len(c.SpecialDays))
	for _, sd := range c.SpecialDays {
		dt, _ := sd.cosemDate()
		out = append(out, specialEntry{date: string(dt.Bytes()), day: sd.Day})
	}
	return out
}

// specialEntry is one entry of a special days table without its index.
type specialEntry struct {
	date string // octet-string(5)
	day  uint8
}

// passive returns attributes 6 to 9 of the activity calendar: name,
// seasons, weeks and days.
func (c *Calendar) passive() []axdr.Data {
	var seasons, weeks, days []axdr.Data
	for _, se := range c.Seasons {
		var mo, d int
		fmt.Sscanf(se.Start, "%d-%d", &mo, &d)
		start := axdr.DateTime{Year: axdr.YearUnspecified, Month: uint8(mo), Day: uint8(d), DayOfWeek: axdr.Unspecified,
			Hundredths: axdr.Unspecified, Deviation: axdr.DeviationUnspecified, Status: axdr.StatusUnspecified}
		seasons = append(seasons, axdr.Structure(axdr.OctetString([]byte(se.Name)), axdr.DateTimeOctets(start), axdr.OctetString([]byte(se.Week))))
	}
	for _, w := range c.Weeks {
		items := []axdr.Data{axdr.OctetString([]byte(w.Name))}
		for _, id := range w.Days {
			items = append(items, axdr.Uint8(id))
		}
		weeks = append(weeks, axdr.Structure(items...))
	}
	for _, d := range c.Days {
		var acts []axdr.Data
		for _, a := range d.Actions {
			var h, m int
			fmt.Sscanf(a.Start, "%d:%d", &h, &m)
			t := axdr.Time{Hour: uint8(h), Minute: uint8(m), Second: 0, Hundredths: axdr.Unspecified}
			acts = append(acts, axdr.Structure(axdr.OctetString(t.Bytes()), cosem.LogicalNameData(tariffScript), axdr.Uint16(a.Rate)))
		}
		days = append(days, axdr.Structure(axdr.Uint8(d.ID), axdr.Array(acts...)))
	}
	return []axdr.Data{axdr.OctetString([]byte(c.Name)), axdr.Array(seasons...), axdr.Array(weeks...), axdr.Array(days...)}
}
