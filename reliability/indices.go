package reliability

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// DefaultMomentary is IEEE 1366's line between momentary and sustained
// interruptions: an interruption longer than 5 minutes is sustained.
const DefaultMomentary = 5 * time.Minute

// Index is the reliability of one scope (the whole system, a feeder or a
// region) over a period.
type Index struct {
	// Scope is "total", "feeder" or "region"; Name the feeder or region.
	Scope  string `json:"scope"`
	Name   string `json:"name"`
	Served int    `json:"served"`
	// SAIDI and CAIDI are in minutes; SAIFI and MAIFI per customer served.
	SAIDI float64 `json:"saidi"`
	SAIFI float64 `json:"saifi"`
	CAIDI float64 `json:"caidi"`
	MAIFI float64 `json:"maifi"`
	// CustomerMinutes is the minutes of sustained interruptions inside
	// the period, summed over customers.
	CustomerMinutes float64 `json:"customerMinutes"`
	// Sustained and Momentary count customer interruptions starting in
	// the period.
	Sustained int `json:"sustained"`
	Momentary int `json:"momentary"`
	// MEDExcluded counts the customer interruptions left out because
	// they started on a major event day.
	MEDExcluded int `json:"medExcluded"`
}

// Report is the indices of a period, in total and per feeder and region.
type Report struct {
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	MomentaryS int64     `json:"momentaryS"`
	ExcludeMED bool      `json:"excludeMED"`
	// MED is the major event day threshold the period was judged by, and
	// MEDs the major event days that interruptions of the period started
	// on (local dates), whether excluded or not.
	MED  MEDThreshold `json:"med"`
	MEDs []string     `json:"meds"`
	// Total, then each feeder and region served, by name.
	Total   Index   `json:"total"`
	Feeders []Index `json:"feeders"`
	Regions []Index `json:"regions"`
	// Unplaced names outage devices missing from the topology (their
	// outages are not counted), and Notes anything else a reader of the
	// figures must know.
	Unplaced []string `json:"unplaced"`
	Notes    []string `json:"notes"`
}

// Indices computes SAIDI, SAIFI, CAIDI and MAIFI(E) per IEEE 1366-2012
// over [from, to), in total and per feeder and region of served:
//
//	SAIDI = Σ customer minutes of sustained interruptions / customers served
//	SAIFI = Σ customers interrupted (sustained) / customers served
//	CAIDI = SAIDI / SAIFI
//	MAIFI = momentary interruption events / customers served
//
// An interruption is sustained when it lasted longer than momentary (5
// minutes when zero); one still open lasts until to. Minutes are clipped
// to the period, so an interruption across its edge counts only its
// minutes inside; it is counted as an interruption (SAIFI, MAIFI) in the
// period it started in, so that periods add up without counting one
// twice. With excludeMED, interruptions starting on a major event day of
// med (a local day whose SAIDI exceeds med.TMED) are left out.
// An index of a scope serving no one is 0, as is CAIDI without sustained
// interruptions.
func Indices(ints []Interruption, served Served, momentary time.Duration, from, to time.Time, excludeMED bool, med MEDThreshold) Report {
	if momentary <= 0 {
		momentary = DefaultMomentary
	}
	r := Report{From: from, To: to, MomentaryS: int64(momentary / time.Second), ExcludeMED: excludeMED, MED: med,
		MEDs: []string{}, Unplaced: []string{}, Notes: []string{}}
	meds := med.days(ints, served.Total, momentary, to)
	total := &Index{Scope: "total", Name: "total", Served: served.Total}
	feeders, regions := map[string]*Index{}, map[string]*Index{}
	for f, n := range served.Feeders {
		feeders[f] = &Index{Scope: "feeder", Name: f, Served: n}
	}
	for g, n := range served.Regions {
		regions[g] = &Index{Scope: "region", Name: g, Served: n}
	}
	seenMED := map[string]bool{}
	for _, in := range ints {
		end := in.End
		if end.IsZero() {
			end = to
		}
		s, e := maxTime(in.Start, from), minTime(end, to)
		if !e.After(s) {
			continue // outside the period
		}
		startsIn := !in.Start.Before(from) && in.Start.Before(to)
		scopes := []*Index{total, feeders[in.Feeder], regions[in.Region]}
		if day := med.day(in.Start); meds[day] {
			if !seenMED[day] {
				seenMED[day] = true
				r.MEDs = append(r.MEDs, day)
			}
			if excludeMED {
				for _, x := range scopes {
					if x != nil && startsIn {
						x.MEDExcluded++
					}
				}
				continue
			}
		}
		sustained := end.Sub(in.Start) > momentary
		for _, x := range scopes {
			if x == nil {
				continue
			}
			switch {
			case sustained:
				x.CustomerMinutes += e.Sub(s).Minutes()
				if startsIn {
					x.Sustained++
				}
			case startsIn:
				x.Momentary++
			}
		}
	}
	slices.Sort(r.MEDs)
	total.finish()
	r.Total = *total
	r.Feeders, r.Regions = finishAll(feeders), finishAll(regions)
	return r
}

func (x *Index) finish() {
	if x.Served > 0 {
		n := float64(x.Served)
		x.SAIDI, x.SAIFI, x.MAIFI = x.CustomerMinutes/n, float64(x.Sustained)/n, float64(x.Momentary)/n
	}
	if x.SAIFI > 0 {
		x.CAIDI = x.SAIDI / x.SAIFI
	}
}

func finishAll(m map[string]*Index) []Index {
	out := make([]Index, 0, len(m))
	for _, x := range m {
		x.finish()
		out = append(out, *x)
	}
	slices.SortFunc(out, func(a, b Index) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// MEDThreshold is the major event day threshold of IEEE 1366's 2.5β
// method and the history it was learnt from.
type MEDThreshold struct {
	// TMED is in minutes of daily SAIDI; a day above it is a major event
	// day. Zero: no threshold (no history with interruptions), no MEDs.
	TMED  float64 `json:"tMED"`
	Alpha float64 `json:"alpha"`
	Beta  float64 `json:"beta"`
	// HistoryFrom and HistoryTo bound the days learnt from; Days counts
	// them and PositiveDays those with a SAIDI above 0 (the only ones the
	// logarithms take).
	HistoryFrom  time.Time `json:"historyFrom"`
	HistoryTo    time.Time `json:"historyTo"`
	Days         int       `json:"days"`
	PositiveDays int       `json:"positiveDays"`
	// Note says how the history measures up to the 5 years IEEE 1366
	// asks for.
	Note string `json:"note"`
	// Location is the utility's local time: IEEE 1366's day is the local
	// day. UTC when nil.
	Location *time.Location `json:"-"`
}

// MajorEventThreshold is T_MED = exp(α + 2.5β) of daily SAIDI values
// (minutes), α and β the mean and the sample standard deviation of the
// natural logarithms of the days with SAIDI above 0. It is 0 when no day
// had any.
func MajorEventThreshold(dailySAIDI []float64) float64 {
	t, _, _, _ := threshold(dailySAIDI)
	return t
}

func threshold(daily []float64) (tMED, alpha, beta float64, n int) {
	var logs []float64
	for _, v := range daily {
		if v > 0 {
			logs = append(logs, math.Log(v))
		}
	}
	n = len(logs)
	if n == 0 {
		return 0, 0, 0, 0
	}
	for _, l := range logs {
		alpha += l
	}
	alpha /= float64(n)
	if n > 1 {
		for _, l := range logs {
			beta += (l - alpha) * (l - alpha)
		}
		beta = math.Sqrt(beta / float64(n-1))
	}
	return math.Exp(alpha + 2.5*beta), alpha, beta, n
}

// LearnMED learns the threshold from the interruptions of the history
// [from, to) (local days in loc; total customers served): each day's
// SAIDI is the customer minutes of the sustained interruptions that
// started on it, whole, over total.
func LearnMED(ints []Interruption, total int, momentary time.Duration, from, to time.Time, loc *time.Location) MEDThreshold {
	if loc == nil {
		loc = time.UTC
	}
	if momentary <= 0 {
		momentary = DefaultMomentary
	}
	m := MEDThreshold{HistoryFrom: from, HistoryTo: to, Location: loc}
	daily := DailySAIDI(ints, total, momentary, from, to, loc)
	m.Days = len(daily)
	m.TMED, m.Alpha, m.Beta, m.PositiveDays = threshold(daily)
	switch years := float64(m.Days) / 365.25; {
	case m.Days == 0:
		m.Note = "no history: no major event days"
	case years >= 4.99:
		m.Note = fmt.Sprintf("%d days of history (5 years)", m.Days)
	default:
		m.Note = fmt.Sprintf("only %d days of history, %d with interruptions: IEEE 1366 asks for 5 years", m.Days, m.PositiveDays)
	}
	return m
}

// DailySAIDI is the SAIDI (minutes) of each local day in [from, to), the
// day of from first: the customer minutes of the sustained interruptions
// that started on it, whole (one still open lasting until to), over
// total.
func DailySAIDI(ints []Interruption, total int, momentary time.Duration, from, to time.Time, loc *time.Location) []float64 {
	if loc == nil {
		loc = time.UTC
	}
	if momentary <= 0 {
		momentary = DefaultMomentary
	}
	var days []time.Time
	for d := dayStart(from, loc); d.Before(to); d = nextDay(d, loc) {
		days = append(days, d)
	}
	out := make([]float64, len(days))
	if total <= 0 || len(days) == 0 {
		return out
	}
	for _, in := range ints {
		if in.Start.Before(days[0]) || !in.Start.Before(to) {
			continue
		}
		end := in.End
		if end.IsZero() {
			end = to
		}
		if end.Sub(in.Start) <= momentary {
			continue
		}
		i, _ := slices.BinarySearchFunc(days, in.Start, func(d, t time.Time) int {
			if d.After(t) {
				return 1
			}
			if nextDay(d, loc).After(t) {
				return 0
			}
			return -1
		})
		if i < len(days) {
			out[i] += end.Sub(in.Start).Minutes() / float64(total)
		}
	}
	return out
}

func dayStart(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func nextDay(d time.Time, loc *time.Location) time.Time {
	y, m, dd := d.Date()
	return time.Date(y, m, dd+1, 0, 0, 0, 0, loc)
}

// day is the local date t falls on.
func (m MEDThreshold) day(t time.Time) string {
	loc := m.Location
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format(time.DateOnly)
}

// days returns the major event days of the interruptions' start days: the
// days whose SAIDI (sustained interruptions starting on them, whole, open
// ones until to) exceeds TMED.
func (m MEDThreshold) days(ints []Interruption, total int, momentary time.Duration, to time.Time) map[string]bool {
	out := map[string]bool{}
	if m.TMED <= 0 || total <= 0 {
		return out
	}
	cmi := map[string]float64{}
	for _, in := range ints {
		end := in.End
		if end.IsZero() {
			end = to
		}
		if d := end.Sub(in.Start); d > momentary {
			cmi[m.day(in.Start)] += d.Minutes()
		}
	}
	for day, v := range cmi {
		if v/float64(total) > m.TMED {
			out[day] = true
		}
	}
	return out
}

// By keeps the breakdown asked for: "feeder", "region", or "" for both.
func (r Report) By(by string) (Report, error) {
	switch by {
	case "":
	case "feeder":
		r.Regions = []Index{}
	case "region":
		r.Feeders = []Index{}
	default:
		return r, fmt.Errorf("%w: by must be feeder or region, not %q", ErrInvalid, by)
	}
	return r, nil
}
