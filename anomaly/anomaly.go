// Package anomaly owns the threshold limits on issued commands: for each
// command type, how many one user, one network segment and the whole fleet
// may issue in an hour and in a day. A limit is learnt from history (the
// highest count seen in that window over the last weeks, with a margin),
// never below a floor and never above a ceiling. A command over any limit
// is quarantined until a security officer releases or discards it. The
// package is pure: the head-end counts in the store and asks it here.
package anomaly

import (
	"fmt"
	"math"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// Window is the span a limit counts over.
type Window string

// Windows. Each is counted in Step buckets, so "the last hour" is the
// current five minutes and the eleven before.
const (
	Hour Window = "hour"
	Day  Window = "day"
)

// Windows lists the windows, shortest first.
func Windows() []Window { return []Window{Hour, Day} }

// Duration is the window's length.
func (w Window) Duration() time.Duration {
	if w == Day {
		return 24 * time.Hour
	}
	return time.Hour
}

// Scope is whose commands a limit counts.
type Scope string

// Scopes.
const (
	// User counts one issuer's commands.
	User Scope = "user"
	// Segment counts the commands to one network segment's meters.
	Segment Scope = "segment"
	// Fleet counts every command.
	Fleet Scope = "fleet"
)

// Scopes lists the scopes, widest first: the order a command's counters
// are taken in, the same on every node.
func Scopes() []Scope { return []Scope{Fleet, Segment, User} }

// Step is the width of one counting bucket.
const Step = 5 * time.Minute

// Bucket is the counting bucket instant t falls in.
func Bucket(t time.Time) int64 { return t.Unix() / int64(Step/time.Second) }

// Since is the first bucket of window w ending with bucket b.
func Since(b int64, w Window) int64 { return b - int64(w.Duration()/Step) + 1 }

// Limits are one command type's settings: a floor and a ceiling for each
// window and scope, the margin over the highest count seen, and how far
// back that is looked for. A zero field takes the default; a negative
// ceiling lifts that limit.
type Limits struct {
	FloorHourUser      int `yaml:"floor_hour_user" json:"floor_hour_user,omitempty"`
	FloorHourSegment   int `yaml:"floor_hour_segment" json:"floor_hour_segment,omitempty"`
	FloorHourFleet     int `yaml:"floor_hour_fleet" json:"floor_hour_fleet,omitempty"`
	FloorDayUser       int `yaml:"floor_day_user" json:"floor_day_user,omitempty"`
	FloorDaySegment    int `yaml:"floor_day_segment" json:"floor_day_segment,omitempty"`
	FloorDayFleet      int `yaml:"floor_day_fleet" json:"floor_day_fleet,omitempty"`
	CeilingHourUser    int `yaml:"ceiling_hour_user" json:"ceiling_hour_user,omitempty"`
	CeilingHourSegment int `yaml:"ceiling_hour_segment" json:"ceiling_hour_segment,omitempty"`
	CeilingHourFleet   int `yaml:"ceiling_hour_fleet" json:"ceiling_hour_fleet,omitempty"`
	CeilingDayUser     int `yaml:"ceiling_day_user" json:"ceiling_day_user,omitempty"`
	CeilingDaySegment  int `yaml:"ceiling_day_segment" json:"ceiling_day_segment,omitempty"`
	CeilingDayFleet    int `yaml:"ceiling_day_fleet" json:"ceiling_day_fleet,omitempty"`
	// Margin multiplies the highest count seen (1.5 when 0).
	Margin float64 `yaml:"margin" json:"margin,omitempty"`
	// HistoryDays is how far back the highest count is looked for (28
	// when 0).
	HistoryDays int `yaml:"history_days" json:"history_days,omitempty"`
}

// Bounds returns the floor and ceiling of one window and scope; a
// ceiling below 0 means no limit.
func (l Limits) Bounds(w Window, s Scope) (floor, ceiling int) {
	switch {
	case w == Hour && s == User:
		return l.FloorHourUser, l.CeilingHourUser
	case w == Hour && s == Segment:
		return l.FloorHourSegment, l.CeilingHourSegment
	case w == Hour && s == Fleet:
		return l.FloorHourFleet, l.CeilingHourFleet
	case w == Day && s == User:
		return l.FloorDayUser, l.CeilingDayUser
	case w == Day && s == Segment:
		return l.FloorDaySegment, l.CeilingDaySegment
	case w == Day && s == Fleet:
		return l.FloorDayFleet, l.CeilingDayFleet
	}
	return 0, -1
}

// over fills l's zero fields from d.
func (l Limits) over(d Limits) Limits {
	pick := func(v, def int) int {
		if v == 0 {
			return def
		}
		return v
	}
	l.FloorHourUser = pick(l.FloorHourUser, d.FloorHourUser)
	l.FloorHourSegment = pick(l.FloorHourSegment, d.FloorHourSegment)
	l.FloorHourFleet = pick(l.FloorHourFleet, d.FloorHourFleet)
	l.FloorDayUser = pick(l.FloorDayUser, d.FloorDayUser)
	l.FloorDaySegment = pick(l.FloorDaySegment, d.FloorDaySegment)
	l.FloorDayFleet = pick(l.FloorDayFleet, d.FloorDayFleet)
	l.CeilingHourUser = pick(l.CeilingHourUser, d.CeilingHourUser)
	l.CeilingHourSegment = pick(l.CeilingHourSegment, d.CeilingHourSegment)
	l.CeilingHourFleet = pick(l.CeilingHourFleet, d.CeilingHourFleet)
	l.CeilingDayUser = pick(l.CeilingDayUser, d.CeilingDayUser)
	l.CeilingDaySegment = pick(l.CeilingDaySegment, d.CeilingDaySegment)
	l.CeilingDayFleet = pick(l.CeilingDayFleet, d.CeilingDayFleet)
	if l.Margin == 0 {
		l.Margin = d.Margin
	}
	if l.HistoryDays == 0 {
		l.HistoryDays = d.HistoryDays
	}
	if l.Margin == 0 {
		l.Margin = 1.5
	}
	if l.HistoryDays == 0 {
		l.HistoryDays = 28
	}
	return l
}

// Policy is the limits of every command type it names; a type it does not
// name is not limited.
type Policy map[cim.EndDeviceControlType]Limits

// critical is the default for commands that cut supply or change who
// controls the meter: tens per user and hundreds fleet-wide an hour.
var critical = Limits{
	FloorHourUser: 10, FloorHourSegment: 50, FloorHourFleet: 100,
	FloorDayUser: 50, FloorDaySegment: 200, FloorDayFleet: 500,
	CeilingHourUser: 50, CeilingHourSegment: 200, CeilingHourFleet: 500,
	CeilingDayUser: 200, CeilingDaySegment: 1000, CeilingDayFleet: 2000,
}

// planned is the default for commands run in planned batches (a key
// rotation, a firmware roll-out, a calendar change): thousands a day.
var planned = Limits{
	FloorHourUser: 500, FloorHourSegment: 500, FloorHourFleet: 1000,
	FloorDayUser: 5000, FloorDaySegment: 5000, FloorDayFleet: 10000,
	CeilingHourUser: 5000, CeilingHourSegment: 5000, CeilingHourFleet: 20000,
	CeilingDayUser: 50000, CeilingDaySegment: 50000, CeilingDayFleet: 200000,
}

// Default is the built-in policy: disconnects and relay mode changes are
// held tight, reconnects a little looser, key changes, firmware
// activations and calendars allow planned campaigns, and reads, pings,
// clock syncs and demand resets are not limited.
func Default() Policy {
	reconnect := critical
	reconnect.FloorHourUser, reconnect.CeilingHourUser = 20, 100
	reconnect.FloorHourFleet, reconnect.CeilingHourFleet = 200, 1000
	return Policy{
		cim.ControlDisconnect:       critical,
		cim.ControlRelayMode:        critical,
		cim.ControlReconnect:        reconnect,
		cim.ControlArmReconnect:     reconnect,
		cim.ControlKeyChange:        planned,
		cim.ControlFirmwareActivate: planned,
		cim.ControlSetCalendar:      planned,
	}.withDefaults()
}

func (p Policy) withDefaults() Policy {
	out := make(Policy, len(p))
	for t, l := range p {
		out[t] = l.over(Limits{})
	}
	return out
}

// With returns the policy with settings laid over it, field by field; a
// type the policy does not name starts from the critical default.
func (p Policy) With(settings map[string]Limits) (Policy, error) {
	out := make(Policy, len(p)+len(settings))
	for t, l := range p {
		out[t] = l
	}
	for name, l := range settings {
		t := cim.EndDeviceControlType(name)
		if err := l.check(); err != nil {
			return nil, fmt.Errorf("anomaly.%s: %w", name, err)
		}
		base, ok := out[t]
		if !ok {
			base = critical
		}
		out[t] = l.over(base)
	}
	return out, nil
}

func (l Limits) check() error {
	if l.Margin < 0 || math.IsNaN(l.Margin) || math.IsInf(l.Margin, 0) {
		return fmt.Errorf("margin %v: want a positive number", l.Margin)
	}
	if l.HistoryDays < 0 {
		return fmt.Errorf("history_days %d: want a positive number", l.HistoryDays)
	}
	for _, w := range Windows() {
		for _, s := range Scopes() {
			if f, _ := l.Bounds(w, s); f < 0 {
				return fmt.Errorf("floor_%s_%s %d: want 0 or more", w, s, f)
			}
		}
	}
	return nil
}

// Limited reports whether commands of type t are limited at all.
func (p Policy) Limited(t cim.EndDeviceControlType) bool {
	l, ok := p[t]
	if !ok {
		return false
	}
	for _, w := range Windows() {
		for _, s := range Scopes() {
			if _, c := l.Bounds(w, s); c >= 0 {
				return true
			}
		}
	}
	return false
}

// HistoryDays is the longest history any type learns from.
func (p Policy) HistoryDays() int {
	n := 0
	for _, l := range p {
		n = max(n, l.HistoryDays)
	}
	return n
}

// Counter names one count: a type's commands in one scope (the user's
// name, the segment's, or "" for the fleet).
type Counter struct {
	Type  cim.EndDeviceControlType
	Scope Scope
	Key   string
}

// Peak is the highest count of one counter seen in one window.
type Peak struct {
	Counter
	Window Window
	Count  int
}

// Peaks holds the highest counts seen, learnt from history.
type Peaks map[Window]map[Counter]int

// NewPeaks gathers peaks.
func NewPeaks(ps []Peak) Peaks {
	out := Peaks{}
	for _, p := range ps {
		if out[p.Window] == nil {
			out[p.Window] = map[Counter]int{}
		}
		out[p.Window][p.Counter] = max(out[p.Window][p.Counter], p.Count)
	}
	return out
}

// Limit is the most commands counter c may count in window w: the peak
// seen times the margin, within the floor and ceiling. ok is false when
// there is no limit.
func (p Policy) Limit(c Counter, w Window, peaks Peaks) (limit int, ok bool) {
	l, known := p[c.Type]
	if !known {
		return 0, false
	}
	floor, ceiling := l.Bounds(w, c.Scope)
	if ceiling < 0 {
		return 0, false
	}
	learnt := int(math.Ceil(float64(peaks[w][c]) * l.Margin))
	return min(max(learnt, floor), ceiling), true
}

// Counts is what a command's counters count, itself included, by window.
type Counts map[Window]map[Counter]int

// Breach is one limit a command is over.
type Breach struct {
	Counter
	Window Window
	Count  int
	Limit  int
}

// String names the limit for a person deciding on the command.
func (b Breach) String() string {
	who := "fleet-wide"
	switch b.Scope {
	case User:
		who = fmt.Sprintf("by user %q", b.Key)
	case Segment:
		who = fmt.Sprintf("in segment %q", b.Key)
	}
	return fmt.Sprintf("anomaly limit: %d %s commands in the last %s %s, over the limit of %d (%s/%s/%s)",
		b.Count, b.Type, b.Window, who, b.Limit, b.Type, b.Window, b.Scope)
}

// Check returns the limit the counts are furthest over (by the ratio of
// count to limit; on a tie, the shorter window and the wider scope), so
// that a command is named by what it most clearly breaks: one user's
// burst by the user's limit, a burst split across users by the fleet's.
func (p Policy) Check(counts Counts, peaks Peaks, counters []Counter) (Breach, bool) {
	var worst Breach
	found := false
	for _, w := range Windows() {
		for _, s := range Scopes() {
			for _, c := range counters {
				if c.Scope != s {
					continue
				}
				limit, ok := p.Limit(c, w, peaks)
				if !ok {
					continue
				}
				n := counts[w][c]
				if n <= limit {
					continue
				}
				// n/limit > worst.Count/worst.Limit, without dividing by 0.
				if !found || n*max(worst.Limit, 1) > worst.Count*max(limit, 1) {
					worst, found = Breach{Counter: c, Window: w, Count: n, Limit: limit}, true
				}
			}
		}
	}
	return worst, found
}

// CountersOf names the counters a command of type t by user to a meter in
// segment counts toward, in Scopes order.
func CountersOf(t cim.EndDeviceControlType, user, segment string) []Counter {
	return []Counter{{t, Fleet, ""}, {t, Segment, segment}, {t, User, user}}
}

// Events amigo raises about quarantine; the console lists them with the
// meters' own.
const (
	EventQuarantined cim.EndDeviceEventType = "command-quarantined"
	EventReleased    cim.EndDeviceEventType = "command-released"
	EventDiscarded   cim.EndDeviceEventType = "command-discarded"
)
