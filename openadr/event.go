package openadr

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Event statuses of 2.0b.
const (
	StatusNone      = "none"
	StatusFar       = "far"
	StatusNear      = "near"
	StatusActive    = "active"
	StatusCompleted = "completed"
	StatusCancelled = "cancelled"
)

// Signal names and types amigo maps its demand-response signals to.
const (
	SignalSimple       = "SIMPLE"
	SignalPrice        = "ELECTRICITY_PRICE"
	SignalLoadDispatch = "LOAD_DISPATCH"
	SignalLoadControl  = "LOAD_CONTROL"

	TypeLevel       = "level"
	TypePrice       = "price"
	TypeSetpoint    = "setpoint"
	TypeLoadControl = "x-loadControlCapacity"
)

// Event is an event as both ends of this package see it, free of the XML
// layout: one window, its signals, its targets and its version.
type Event struct {
	ID            string
	Modification  int64
	MarketContext string // the program, as a URI
	Status        string
	Created       time.Time
	Start         time.Time
	Duration      time.Duration
	// StartAfter is the window over which each device draws its start at
	// random (xcal tolerance/startafter).
	StartAfter       time.Duration
	Notification     time.Duration
	Priority         *uint32
	Test             bool
	ResponseRequired bool
	Signals          []Signal
	Target           Target
}

// Signal is one signal of an event, with one value over the whole event
// unless Intervals splits it.
type Signal struct {
	Name, Type, ID string
	Item           *ItemBase
	Value          float64
	Intervals      []SignalInterval // empty: one interval of the event's length with Value
}

// SignalInterval is one interval of a signal.
type SignalInterval struct {
	Duration time.Duration
	Value    float64
}

// End is when the event ends.
func (e Event) End() time.Time { return e.Start.Add(e.Duration) }

// Ei writes the event as 2.0b's eiEvent.
func (e Event) Ei() OadrEvent {
	p := Properties{
		DTStart:  DTStart{DateTime: FormatDateTime(e.Start)},
		Duration: DurationProp{Duration: FormatDuration(e.Duration)},
	}
	if e.StartAfter > 0 {
		p.Tolerance = &Tolerance{}
		p.Tolerance.Tolerate.StartAfter = FormatDuration(e.StartAfter)
	}
	if e.Notification > 0 {
		p.Notification = &DurationProp{Duration: FormatDuration(e.Notification)}
	}
	created := e.Created
	if created.IsZero() {
		created = e.Start
	}
	ev := EiEvent{
		Descriptor: EventDescriptor{
			EventID:            e.ID,
			ModificationNumber: e.Modification,
			Priority:           e.Priority,
			MarketContext:      MarketContext{URI: e.MarketContext},
			CreatedDateTime:    FormatDateTime(created),
			EventStatus:        e.Status,
		},
		ActivePeriod: ActivePeriod{Properties: p},
		Target:       e.Target,
	}
	if e.Test {
		ev.Descriptor.TestEvent = "true"
	}
	for i, s := range e.Signals {
		es := EventSignal{SignalName: s.Name, SignalType: s.Type, SignalID: s.ID, ItemBase: s.Item}
		if es.SignalID == "" {
			es.SignalID = strconv.Itoa(i)
		}
		ivs := s.Intervals
		if len(ivs) == 0 {
			ivs = []SignalInterval{{Duration: e.Duration, Value: s.Value}}
		}
		for k, iv := range ivs {
			es.Intervals.Intervals = append(es.Intervals.Intervals, Interval{
				Duration:      &DurationProp{Duration: FormatDuration(iv.Duration)},
				UID:           &UID{Text: strconv.Itoa(k)},
				SignalPayload: &SignalPayload{Float: PayloadFloat{Value: iv.Value}},
			})
		}
		ev.Signals.Signals = append(ev.Signals.Signals, es)
	}
	rr := "never"
	if e.ResponseRequired {
		rr = "always"
	}
	return OadrEvent{Event: ev, ResponseRequired: rr}
}

// EventFromEi reads an eiEvent, checking what a VEN relies on: an id, a
// start, a duration and values that are numbers.
func EventFromEi(o OadrEvent) (Event, error) {
	d := o.Event.Descriptor
	if d.EventID == "" {
		return Event{}, errors.New("openadr: event without an eventID")
	}
	bad := func(what string, err error) (Event, error) {
		return Event{}, fmt.Errorf("openadr: event %q: %s: %w", d.EventID, what, err)
	}
	e := Event{
		ID:               d.EventID,
		Modification:     d.ModificationNumber,
		MarketContext:    d.MarketContext.URI,
		Status:           d.EventStatus,
		Priority:         d.Priority,
		Test:             d.TestEvent == "true" || d.TestEvent == "1",
		ResponseRequired: o.ResponseRequired != "never",
		Target:           o.Event.Target,
	}
	if d.ModificationNumber < 0 {
		return bad("modification number", fmt.Errorf("%d is negative", d.ModificationNumber))
	}
	var err error
	if d.CreatedDateTime != "" {
		if e.Created, err = ParseDateTime(d.CreatedDateTime); err != nil {
			return bad("createdDateTime", err)
		}
	}
	p := o.Event.ActivePeriod.Properties
	if e.Start, err = ParseDateTime(p.DTStart.DateTime); err != nil {
		return bad("dtstart", err)
	}
	if e.Duration, err = ParseDuration(p.Duration.Duration); err != nil {
		return bad("duration", err)
	}
	if e.Duration < 0 {
		return bad("duration", fmt.Errorf("%s is negative", p.Duration.Duration))
	}
	if p.Tolerance != nil && p.Tolerance.Tolerate.StartAfter != "" {
		if e.StartAfter, err = ParseDuration(p.Tolerance.Tolerate.StartAfter); err != nil {
			return bad("startafter", err)
		}
	}
	if p.Notification != nil && p.Notification.Duration != "" {
		if e.Notification, err = ParseDuration(p.Notification.Duration); err != nil {
			return bad("x-eiNotification", err)
		}
	}
	for _, es := range o.Event.Signals.Signals {
		s := Signal{Name: es.SignalName, Type: es.SignalType, ID: es.SignalID, Item: es.ItemBase}
		for _, iv := range es.Intervals.Intervals {
			var si SignalInterval
			if iv.Duration != nil && iv.Duration.Duration != "" {
				if si.Duration, err = ParseDuration(iv.Duration.Duration); err != nil {
					return bad("signal "+es.SignalName+" interval duration", err)
				}
			}
			if iv.SignalPayload != nil {
				si.Value = iv.SignalPayload.Float.Value
			}
			if math.IsNaN(si.Value) || math.IsInf(si.Value, 0) {
				return bad("signal "+es.SignalName, errors.New("value is not a number"))
			}
			s.Intervals = append(s.Intervals, si)
		}
		if len(s.Intervals) > 0 {
			s.Value = s.Intervals[0].Value
		}
		if es.CurrentValue != nil {
			s.Value = es.CurrentValue.Float.Value
		}
		e.Signals = append(e.Signals, s)
	}
	return e, nil
}

// SignalNamed returns the event's first signal of that name.
func (e Event) SignalNamed(name string) (Signal, bool) {
	for _, s := range e.Signals {
		if s.Name == name {
			return s, true
		}
	}
	return Signal{}, false
}
