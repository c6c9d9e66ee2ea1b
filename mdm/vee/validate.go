// Package vee owns validation, estimation and editing rules for interval
// data: pure functions on one stored day and what is known around it
// (history, register reads, relay state), so the same rules run on ingest
// and on demand, and a rule's verdict can be reproduced from the data it
// saw. It keeps no state and speaks no SQL.
//
// Each validation rule is a value behind the Rule interface, in a file of
// its own (rule_<name>.go), registered by the name its failures record.
// A rule set is the parameters of the rules (Rules); each registered rule
// takes its own and says whether they turn it on. Adding a rule is adding
// a file: its type, its Check over the Subject (the day, its context and
// what several rules need, worked out once), and a Register call in its
// init with its name, the configuration names of its parameters, and its
// constructor. Its findings then come out of Validate with the others',
// after theirs when two start at the same interval. A parameter a group
// may change is a field of Rules too: Rules is the rule set as the
// configuration states it and the API shows it.
package vee

import (
	"slices"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

// Span is a period, e.g. when the relay was open.
type Span struct{ From, To time.Time }

func (s Span) overlaps(a, b time.Time) bool { return s.From.Before(b) && a.Before(s.To) }

// Context is what validation may look at beyond the day itself.
type Context struct {
	// History holds earlier days of the same meter and channel, any order.
	History []interval.Day
	// RegisterStart and RegisterEnd are register reads (same quantity, same
	// unit as the intervals) at the day's start and end, when known.
	RegisterStart, RegisterEnd *cim.Reading
	// Disconnected are the periods the relay was open.
	Disconnected []Span
	// Until is when validation runs: intervals that end after it are not
	// due yet, so their absence is no gap (zero: the whole day is due).
	Until time.Time
	// First says no earlier day of the meter and channel is stored: the
	// intervals before the day's first reading predate the meter's data
	// (installed, or read back only so far) and were never due.
	First bool
	// Location is the usage point's time zone, in which reasons give
	// times (nil: the day's own).
	Location *time.Location
	// Unit is the unit of the values (empty: told by the channel, Wh for
	// active energy).
	Unit string
}

// Failure is one rule's finding on one day: the intervals it covers (none:
// the whole day) and a reason a person can act on.
type Failure struct {
	Rule string `json:"rule"`
	// Interval is the first interval the finding covers, -1 for the whole
	// day.
	Interval int `json:"interval"`
	// Intervals lists every interval the finding covers, in order.
	Intervals []int  `json:"intervals,omitempty"`
	Reason    string `json:"reason"`
	// Unit is the unit of the values the finding is about, when it is
	// about values.
	Unit string `json:"unit,omitempty"`
}

// UnitOf is the unit of a channel's interval values: Wh for active
// energy, varh for reactive, empty when the channel does not say.
func UnitOf(channel string) string {
	switch {
	case strings.HasPrefix(channel, "A+"), strings.HasPrefix(channel, "A-"):
		return "Wh"
	case strings.HasPrefix(channel, "R+"), strings.HasPrefix(channel, "R-"):
		return "varh"
	}
	return ""
}

// Validate runs the rules r turns on over a day and returns their
// failures in order of the first interval (whole-day findings first),
// findings at the same interval in the order of the rules.
func Validate(d interval.Day, r Rules, c Context) []Failure {
	s := newSubject(d, c)
	var out []Failure
	for _, rule := range r.Set() {
		if !appliesTo(rule, d.Channel) {
			continue
		}
		for _, f := range rule.Check(s) {
			f.Rule = rule.Name()
			out = append(out, f)
		}
	}
	slices.SortStableFunc(out, func(a, b Failure) int { return a.Interval - b.Interval })
	return out
}
