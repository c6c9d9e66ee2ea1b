package vee

import (
	"slices"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

// Subject is a day under validation: the day, what validation may look at
// beyond it, and what several rules need to know of it, worked out once.
type Subject struct {
	interval.Day
	// Context is the caller's, with Location and Unit resolved: never nil
	// and empty only when the channel does not tell the unit.
	Context
	// Intervals before Lead predate the meter's first reading and those
	// from Due on end after Context.Until: neither was due, so their
	// absence is no gap.
	Lead, Due int
	// Consumption says the channel is not export (A-). Export is zero
	// every night and whenever the sun does not shine: zero runs, low days
	// and drops mean something only for consumption. Import and export
	// are captured together in one profile entry with one status: a lost
	// capture, a power failure or a clock setting is the meter's, and is
	// reported once, on the import channel.
	Consumption bool
	// Total sums the intervals present, Present counts them.
	Total   int64
	Present int
	// PowerDown says an interval present carries a power failure.
	PowerDown bool

	outage []bool // missing intervals whose capture a power failure lost
	like   struct {
		avg  float64
		n    int
		done bool
	}
}

func newSubject(d interval.Day, c Context) *Subject {
	if c.Location == nil {
		c.Location = d.Start.Location()
	}
	if c.Unit == "" {
		c.Unit = UnitOf(d.Channel)
	}
	s := &Subject{Day: d, Context: c, Consumption: !strings.HasPrefix(d.Channel, "A-")}
	if c.First {
		for s.Lead < len(d.Values) && s.Missing(s.Lead) {
			s.Lead++
		}
	}
	s.Due = len(d.Values)
	if !c.Until.IsZero() {
		for s.Due > s.Lead && d.End(s.Due-1).After(c.Until) {
			s.Due--
		}
	}
	for i, v := range d.Values {
		if s.Missing(i) {
			continue
		}
		s.Total += v
		s.Present++
		s.PowerDown = s.PowerDown || d.Quality[i]&cim.QualityPowerDown != 0
	}
	if s.Consumption {
		s.outage = lostToOutage(d)
	}
	return s
}

// lostToOutage marks the missing intervals before an entry that says the
// power failed: a meter without power captures nothing, and the entry
// after the cut says so.
func lostToOutage(d interval.Day) []bool {
	out := make([]bool, len(d.Values))
	for i := len(d.Values) - 1; i >= 0; i-- {
		if d.Quality[i]&cim.QualityPowerDown != 0 && d.Quality[i]&cim.QualityMissing == 0 {
			for j := i - 1; j >= 0 && d.Quality[j]&cim.QualityMissing != 0; j-- {
				out[j] = true
			}
		}
	}
	return out
}

// Missing says interval i holds no reading.
func (s *Subject) Missing(i int) bool { return s.Quality[i]&cim.QualityMissing != 0 }

// Complete says every interval holds a reading.
func (s *Subject) Complete() bool { return s.Present == len(s.Values) }

// Partial says the day holds the meter's first reading: its few
// intervals are no basis for a spike or a day total.
func (s *Subject) Partial() bool { return s.Lead > 0 }

// Off says the relay was open during some of interval i.
func (s *Subject) Off(i int) bool {
	if len(s.Disconnected) == 0 {
		return false
	}
	start, end := s.Start.Add(time.Duration(i)*s.Interval), s.Start.Add(time.Duration(i+1)*s.Interval)
	return slices.ContainsFunc(s.Disconnected, func(sp Span) bool { return sp.overlaps(start, end) })
}

// LikeDays is the mean total of the like days in the history and how
// many there are (see likeDayAverage).
func (s *Subject) LikeDays() (avg float64, n int) {
	if !s.like.done {
		s.like.avg, s.like.n = likeDayAverage(s.Day, s.History)
		s.like.done = true
	}
	return s.like.avg, s.like.n
}

// flagged lists the intervals present whose quality carries bit.
func (s *Subject) flagged(bit cim.Quality) []int {
	var at []int
	for i, q := range s.Quality {
		if q&cim.QualityMissing == 0 && q&bit != 0 {
			at = append(at, i)
		}
	}
	return at
}

// Finding is the one failure covering the intervals at (in order), or
// none when at is empty; reason is asked for only then.
func (s *Subject) Finding(at []int, unit string, reason func() string) []Failure {
	if len(at) == 0 {
		return nil
	}
	return []Failure{{Interval: at[0], Intervals: at, Reason: reason(), Unit: unit}}
}

// DayFinding is a failure of the day as a whole, about its values.
func (s *Subject) DayFinding(reason string) []Failure {
	return []Failure{{Interval: -1, Reason: reason, Unit: s.Unit}}
}
