package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/tariff"
)

// The tariff on the meter: a tariff version's time of use becomes the
// meter's activity calendar (the set-activity-calendar command, in the
// calendar JSON docs/dlms.md and the DLMS driver define), activating at
// the version's effective date; and a check that the meters' TOU
// registers (1.8.1–1.8.4) agree with what the MDM's intervals say each
// register should have counted.

// MeterCalendar is a tariff version's calendar in the set-activity-calendar
// command's JSON: seasons by start date naming a week, weeks of seven day
// ids (Monday first), and days of actions that switch to a rate (the
// register 1..4) from a local time.
type MeterCalendar struct {
	Name        string               `json:"name"`
	Seasons     []calendarSeason     `json:"seasons"`
	Weeks       []calendarWeek       `json:"weeks"`
	Days        []calendarDay        `json:"days"`
	SpecialDays []calendarSpecialDay `json:"special_days,omitempty"`
}

// calendarSpecialDay is a holiday: its date (YYYY-MM-DD, that year only;
// the region's holiday list names each year's dates) and the day id the
// meter uses on it instead of the weekday's.
type calendarSpecialDay struct {
	Date string `json:"date"`
	Day  uint8  `json:"day"`
}

type calendarSeason struct {
	Name  string `json:"name"`
	Start string `json:"start"` // MM-DD
	Week  string `json:"week"`
}

type calendarWeek struct {
	Name string  `json:"name"`
	Days []uint8 `json:"days"`
}

type calendarDay struct {
	ID      uint8            `json:"id"`
	Actions []calendarAction `json:"actions"`
}

type calendarAction struct {
	Start string `json:"start"` // HH:MM
	Rate  int    `json:"rate"`
}

// ErrCalendar is wrapped when a tariff's calendar cannot go to a meter.
var ErrCalendar = errors.New("billing: calendar does not fit the meter")

// NewMeterCalendar shapes a tariff's TOU calendar for the meter, its
// special days (holidays) included: the driver writes them to the meter's
// special days table, which the meter consults before the week profile.
// The count is how many special days the calendar carries.
func NewMeterCalendar(t tariff.Tariff, c tariff.TOUCalendar) (MeterCalendar, int, error) {
	name := t.ID
	if t.Version > 0 {
		name = fmt.Sprintf("%s v%d", t.ID, t.Version)
	}
	if len(name) > 32 {
		name = name[:32]
	}
	mc := MeterCalendar{Name: name}
	if len(c.Seasons) == 0 || len(c.Weeks) == 0 || len(c.DayProfiles) == 0 {
		return MeterCalendar{}, 0, fmt.Errorf("%w: tariff %s: no seasons, weeks or day profiles", ErrCalendar, t.ID)
	}
	if len(c.DayProfiles) > 255 {
		return MeterCalendar{}, 0, fmt.Errorf("%w: tariff %s: %d day profiles, a meter takes 255", ErrCalendar, t.ID, len(c.DayProfiles))
	}
	weekName := func(i int) string { return fmt.Sprintf("W%d", i+1) }
	for i, d := range c.DayProfiles {
		day := calendarDay{ID: uint8(i + 1)}
		for _, s := range d.Switches {
			if s.Register < 1 || s.Register > 4 {
				return MeterCalendar{}, 0, fmt.Errorf("%w: tariff %s: day profile %d switches to register %d, want 1 to 4", ErrCalendar, t.ID, i, s.Register)
			}
			if s.Minute < 0 || s.Minute >= 1440 {
				return MeterCalendar{}, 0, fmt.Errorf("%w: tariff %s: day profile %d: switch at minute %d", ErrCalendar, t.ID, i, s.Minute)
			}
			day.Actions = append(day.Actions, calendarAction{Start: fmt.Sprintf("%02d:%02d", s.Minute/60, s.Minute%60), Rate: s.Register})
		}
		if len(day.Actions) == 0 {
			return MeterCalendar{}, 0, fmt.Errorf("%w: tariff %s: day profile %d has no switches", ErrCalendar, t.ID, i)
		}
		mc.Days = append(mc.Days, day)
	}
	for i, w := range c.Weeks {
		cw := calendarWeek{Name: weekName(i)}
		for _, d := range w.Days {
			if d < 0 || d >= len(c.DayProfiles) {
				return MeterCalendar{}, 0, fmt.Errorf("%w: tariff %s: week %q uses day profile %d", ErrCalendar, t.ID, w.Name, d)
			}
			cw.Days = append(cw.Days, uint8(d+1))
		}
		mc.Weeks = append(mc.Weeks, cw)
	}
	for _, s := range c.Seasons {
		if s.Week < 0 || s.Week >= len(c.Weeks) {
			return MeterCalendar{}, 0, fmt.Errorf("%w: tariff %s: season %q uses week %d", ErrCalendar, t.ID, s.Name, s.Week)
		}
		mc.Seasons = append(mc.Seasons, calendarSeason{Name: s.Name, Start: s.Start.String(), Week: weekName(s.Week)})
	}
	seen := map[cim.Date]bool{}
	for _, sd := range c.SpecialDays {
		if seen[sd.Date] {
			continue // a holiday listed twice is one special day
		}
		seen[sd.Date] = true
		if sd.DayProfile < 0 || sd.DayProfile >= len(c.DayProfiles) {
			return MeterCalendar{}, 0, fmt.Errorf("%w: tariff %s: special day %s uses day profile %d", ErrCalendar, t.ID, sd.Date, sd.DayProfile)
		}
		mc.SpecialDays = append(mc.SpecialDays, calendarSpecialDay{Date: sd.Date.String(), Day: uint8(sd.DayProfile + 1)})
	}
	return mc, len(mc.SpecialDays), nil
}

// JSON is the calendar as the command's "calendar" parameter.
func (c MeterCalendar) JSON() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// Issuer takes a command through the head-end's gate (headend.HeadEnd
// does).
type Issuer interface {
	Issue(ctx context.Context, c cim.EndDeviceControl) (cim.EndDeviceControl, bool, error)
}

// MeterOnTariff is a meter whose usage point is on a tariff, with the
// usage point's zone (the calendar activates at local midnight).
type MeterOnTariff struct {
	MeterID, UsagePointID string
	Location              *time.Location
}

// CalendarIssue is what programming one meter came to.
type CalendarIssue struct {
	MeterID string
	Command cim.EndDeviceControl
	New     bool // false: the same command had been issued before
	Err     error
}

// IssueTariffCalendar issues set-activity-calendar to every meter on a
// tariff version, activating at the version's effective date (local
// midnight of each usage point). A command's correlation id is the tariff,
// version and meter, so issuing again changes nothing. A meter whose
// command fails is reported and the others still go.
func IssueTariffCalendar(ctx context.Context, iss Issuer, t tariff.Tariff, holidays []cim.Date, meters []MeterOnTariff, issuedBy string) ([]CalendarIssue, error) {
	tc, err := t.TOUCalendar(holidays)
	if err != nil {
		return nil, fmt.Errorf("tariff %s v%d: %w", t.ID, t.Version, err)
	}
	mc, _, err := NewMeterCalendar(t, tc)
	if err != nil {
		return nil, err
	}
	cal := mc.JSON()
	out := make([]CalendarIssue, 0, len(meters))
	for _, m := range meters {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		loc := m.Location
		if loc == nil {
			loc = time.UTC
		}
		at := t.EffectiveFrom.Start(loc)
		c := cim.EndDeviceControl{
			CorrelationID: fmt.Sprintf("tariff-calendar/%s/v%d/%s", t.ID, t.Version, m.MeterID),
			MeterID:       m.MeterID,
			Type:          cim.ControlSetCalendar,
			Reason:        fmt.Sprintf("tariff %s version %d from %s", t.ID, t.Version, t.EffectiveFrom),
			Parameters:    map[string]string{"calendar": cal, "activate": at.Format(time.RFC3339)},
			IssuedBy:      issuedBy,
		}
		got, isNew, err := iss.Issue(ctx, c)
		if err != nil {
			err = fmt.Errorf("meter %s (usage point %s): tariff %s v%d calendar: %w", m.MeterID, m.UsagePointID, t.ID, t.Version, err)
		}
		out = append(out, CalendarIssue{MeterID: m.MeterID, Command: got, New: isNew, Err: err})
	}
	return out, nil
}

// TOUCheckStore is what the TOU register check reads: the head-end's
// register reads and the MDM's days.
type TOUCheckStore interface {
	RegisterReads(ctx context.Context, meterID, readingType string, from, to time.Time) ([]store.RegisterRead, error)
	Days(ctx context.Context, meterID, channel string, from, to cim.Date) ([]interval.Day, error)
}

// TOUTolerance is how far a meter's register may be from the MDM's bucket
// before they disagree: the larger of Wh and Permille of the bucket.
type TOUTolerance struct {
	Wh       int64
	Permille int64
}

// TOURegisterDiff is one register of one meter over the checked span: what
// the meter counted (the difference of its reads) and what the MDM's
// intervals put in that register by the calendar.
type TOURegisterDiff struct {
	Register     int   // 1..4 (A+T1..A+T4, 1.8.1..1.8.4)
	MeterWh      int64 // last read − first read
	MDMWh        int64 // the intervals the calendar puts in the register
	DifferenceWh int64 // MeterWh − MDMWh
}

// TOUCheck is one meter's result.
type TOUCheck struct {
	MeterID   string
	From, To  time.Time // the reads compared (first and last in the period)
	Registers []TOURegisterDiff
	// Disagrees: some register is off beyond the tolerance.
	Disagrees bool
	// Missing intervals in the span, which the MDM's buckets lack.
	Missing int
	// Problem is why the meter could not be checked ("" when it was).
	Problem string
}

// CheckTOURegisters compares each meter's TOU registers over [from, to)
// with the MDM's buckets: the import intervals (channel A+15m) between the
// first and the last register read in the period, each put in the register
// the calendar selects at its start. A meter whose registers differ from
// the buckets beyond the tolerance disagrees; a meter without two reads or
// without days is reported with the problem. Results are in meter order.
func CheckTOURegisters(ctx context.Context, st TOUCheckStore, cal tariff.TOUCalendar, meters []MeterOnTariff, from, to time.Time, tol TOUTolerance) ([]TOUCheck, error) {
	out := make([]TOUCheck, 0, len(meters))
	for _, m := range meters {
		c, err := checkMeter(ctx, st, cal, m, from, to, tol)
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].MeterID < out[j].MeterID })
	return out, nil
}

func checkMeter(ctx context.Context, st TOUCheckStore, cal tariff.TOUCalendar, m MeterOnTariff, from, to time.Time, tol TOUTolerance) (TOUCheck, error) {
	loc := m.Location
	if loc == nil {
		loc = time.UTC
	}
	c := TOUCheck{MeterID: m.MeterID}
	var first, last [4]store.RegisterRead
	for r := range 4 {
		reads, err := st.RegisterReads(ctx, m.MeterID, fmt.Sprintf("A+T%d", r+1), from, to)
		if err != nil {
			return c, fmt.Errorf("meter %s: TOU register %d reads: %w", m.MeterID, r+1, err)
		}
		if len(reads) < 2 {
			c.Problem = fmt.Sprintf("register A+T%d: %d reads in %s – %s, need two", r+1, len(reads), from.Format(time.RFC3339), to.Format(time.RFC3339))
			return c, nil
		}
		first[r], last[r] = reads[0], reads[len(reads)-1]
	}
	// The span all four registers were read over.
	c.From, c.To = first[0].TimeStamp, last[0].TimeStamp
	for r := 1; r < 4; r++ {
		if !first[r].TimeStamp.Equal(c.From) || !last[r].TimeStamp.Equal(c.To) {
			c.Problem = fmt.Sprintf("registers read at different times (A+T1 %s – %s, A+T%d %s – %s)",
				c.From.Format(time.RFC3339), c.To.Format(time.RFC3339), r+1, first[r].TimeStamp.Format(time.RFC3339), last[r].TimeStamp.Format(time.RFC3339))
			return c, nil
		}
	}
	days, err := st.Days(ctx, m.MeterID, "A+15m", cim.DateOf(c.From, loc), cim.DateOf(c.To, loc))
	if err != nil {
		return c, fmt.Errorf("meter %s: days: %w", m.MeterID, err)
	}
	if len(days) == 0 {
		c.Problem = "no interval days in the span"
		return c, nil
	}
	var bucket [4]int64
	for _, d := range days {
		for i, v := range d.Values {
			s, e := d.End(i).Add(-d.Interval), d.End(i)
			if s.Before(c.From) || e.After(c.To) {
				continue
			}
			if d.Quality[i]&cim.QualityMissing != 0 {
				c.Missing++
				continue
			}
			ls := s.In(loc)
			reg := cal.RegisterAt(cim.DateOf(ls, loc), ls.Hour()*60+ls.Minute())
			if reg < 1 || reg > 4 {
				c.Problem = fmt.Sprintf("the calendar selects register %d at %s", reg, ls.Format(time.RFC3339))
				return c, nil
			}
			bucket[reg-1] += v
		}
	}
	for r := range 4 {
		d := TOURegisterDiff{Register: r + 1, MeterWh: last[r].Value - first[r].Value, MDMWh: bucket[r]}
		d.DifferenceWh = d.MeterWh - d.MDMWh
		allowed := max(tol.Wh, abs64(d.MDMWh)*tol.Permille/1000)
		if abs64(d.DifferenceWh) > allowed {
			c.Disagrees = true
		}
		c.Registers = append(c.Registers, d)
	}
	return c, nil
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// String states a meter's result with its numbers.
func (c TOUCheck) String() string {
	if c.Problem != "" {
		return fmt.Sprintf("meter %s: not checked: %s", c.MeterID, c.Problem)
	}
	verdict := "agrees"
	if c.Disagrees {
		verdict = "disagrees"
	}
	s := fmt.Sprintf("meter %s %s over %s – %s:", c.MeterID, verdict, c.From.Format(time.RFC3339), c.To.Format(time.RFC3339))
	for _, r := range c.Registers {
		s += fmt.Sprintf(" T%d meter %d Wh, MDM %d Wh (%+d);", r.Register, r.MeterWh, r.MDMWh, r.DifferenceWh)
	}
	if c.Missing > 0 {
		s += fmt.Sprintf(" %d intervals missing", c.Missing)
	}
	return s
}
