package openadr

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/dr"
)

// DRService is what the VTN side needs of demand response: the events of
// a program with their participants, and the household opt-out that
// cancels or countermands a participant's commands.
type DRService interface {
	Program(ctx context.Context, id string) (dr.Program, error)
	// ProgramEvents are a program's events that are not over: scheduled,
	// notified, active, and cancelled ones not yet past their end.
	ProgramEvents(ctx context.Context, programID string) ([]dr.Event, error)
	Participations(ctx context.Context, eventID string) ([]dr.Participation, error)
	OptOut(ctx context.Context, eventID, usagePointID string) error
}

// DRSource publishes the events of the programs marked for OpenADR to
// the VENs that stand for their participants, and turns a VEN's opt-out
// into the dr opt-out of those participants. It is the VTN's EventSource.
type DRSource struct {
	DR       DRService
	Programs []string // the programs published over OpenADR
	// UsagePoints are the usage points each VEN stands for, by VEN id.
	UsagePoints map[string][]string
	// MarketContext is the URI prefix of a program's market context; the
	// program id follows it. Empty means "urn:amigo:dr:program:".
	MarketContext string
	Now           func() time.Time

	mu   sync.Mutex
	opts map[string]OptRecord // opt-outs by opt id, for oadrCancelOpt
}

func (s *DRSource) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *DRSource) context() string {
	if s.MarketContext != "" {
		return s.MarketContext
	}
	return "urn:amigo:dr:program:"
}

// Events are the events of the published programs in which at least one
// of the VEN's usage points takes part.
func (s *DRSource) Events(ctx context.Context, venID string) ([]Event, error) {
	ups := s.UsagePoints[venID]
	var out []Event
	for _, pid := range s.Programs {
		p, err := s.DR.Program(ctx, pid)
		if err != nil {
			return nil, fmt.Errorf("openadr: program %q: %w", pid, err)
		}
		evs, err := s.DR.ProgramEvents(ctx, pid)
		if err != nil {
			return nil, fmt.Errorf("openadr: events of program %q: %w", pid, err)
		}
		for _, ev := range evs {
			parts, err := s.DR.Participations(ctx, ev.ID)
			if err != nil {
				return nil, fmt.Errorf("openadr: participants of event %q: %w", ev.ID, err)
			}
			if !slices.ContainsFunc(parts, func(p dr.Participation) bool { return slices.Contains(ups, p.UsagePointID) }) {
				continue
			}
			e := FromDR(ev, p, s.context(), s.now())
			e.Target = Target{VENID: []string{venID}}
			out = append(out, e)
		}
	}
	return out, nil
}

// Opt takes a VEN's answer: an opt-out opts out every participant behind
// the VEN (or the resources named, which are usage point ids); an opt-in
// changes nothing, participation being the default.
func (s *DRSource) Opt(ctx context.Context, o OptRecord) error {
	if o.Cancelled {
		s.mu.Lock()
		prev, ok := s.opts[o.OptID]
		s.mu.Unlock()
		if ok && prev.OptType == OptOut {
			return fmt.Errorf("openadr: opt %q of VEN %q opted out of event %q, and an opt-out is not withdrawn", o.OptID, o.VENID, prev.EventID)
		}
		return nil
	}
	if o.OptType != OptOut {
		return nil
	}
	ups := s.UsagePoints[o.VENID]
	if len(o.Resources) > 0 {
		for _, r := range o.Resources {
			if !slices.Contains(ups, r) {
				return fmt.Errorf("openadr: VEN %q opted out resource %q, which it does not stand for", o.VENID, r)
			}
		}
		ups = o.Resources
	}
	parts, err := s.DR.Participations(ctx, o.EventID)
	if err != nil {
		return fmt.Errorf("openadr: opt-out of VEN %q from event %q: %w", o.VENID, o.EventID, err)
	}
	n := 0
	for _, p := range parts {
		if !slices.Contains(ups, p.UsagePointID) {
			continue
		}
		if err := s.DR.OptOut(ctx, o.EventID, p.UsagePointID); err != nil {
			return fmt.Errorf("openadr: opt-out of VEN %q from event %q, usage point %s: %w", o.VENID, o.EventID, p.UsagePointID, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("openadr: VEN %q has no participant in event %q", o.VENID, o.EventID)
	}
	if o.OptID != "" {
		s.mu.Lock()
		if s.opts == nil {
			s.opts = map[string]OptRecord{}
		}
		s.opts[o.OptID] = o
		s.mu.Unlock()
	}
	return nil
}

// FromDR writes a dr event as an OpenADR event: the program's notice and
// randomisation become x-eiNotification and startafter, its signal a
// SIMPLE level with the signal that says the same exactly
// (LOAD_DISPATCH setpoint in W, ELECTRICITY_PRICE per kWh, LOAD_CONTROL
// capacity 0 for an open relay).
func FromDR(ev dr.Event, p dr.Program, marketContext string, now time.Time) Event {
	e := Event{
		ID: ev.ID, MarketContext: marketContext + p.ID, Created: ev.CreatedAt,
		Start: ev.Start, Duration: ev.End.Sub(ev.Start), StartAfter: p.Randomize, Notification: p.Notice,
		ResponseRequired: true,
	}
	switch {
	case ev.Status == dr.StatusCancelled:
		// A cancellation is the event's one modification.
		e.Status, e.Modification = StatusCancelled, 1
	case ev.Status == dr.StatusCompleted || !now.Before(ev.End):
		e.Status = StatusCompleted
	case ev.Status == dr.StatusActive || !now.Before(ev.Start):
		e.Status = StatusActive
	case ev.Status == dr.StatusNotified || !now.Before(ev.Start.Add(-p.Notice)):
		e.Status = StatusNear
	default:
		e.Status = StatusFar
	}
	switch p.Kind {
	case dr.KindLoadLimit:
		e.Signals = []Signal{
			{Name: SignalSimple, Type: TypeLevel, ID: "simple", Value: 2},
			{Name: SignalLoadDispatch, Type: TypeSetpoint, ID: "threshold", Item: RealPower(), Value: float64(ev.Signal.ThresholdW)},
		}
	case dr.KindPrice:
		cur := ev.Signal.Currency
		if cur == "" {
			cur = p.Currency
		}
		e.Signals = []Signal{
			{Name: SignalSimple, Type: TypeLevel, ID: "simple", Value: 1},
			{Name: SignalPrice, Type: TypePrice, ID: "price", Item: CurrencyPerKWh(cur), Value: float64(ev.Signal.Price) / 1e6},
		}
	case dr.KindRelay:
		e.Signals = []Signal{
			{Name: SignalSimple, Type: TypeLevel, ID: "simple", Value: 3},
			{Name: SignalLoadControl, Type: TypeLoadControl, ID: "relay", Value: 0},
		}
	}
	return e
}

// ToDR reads a VTN's event as an event of program p, its Source the VTN.
// The signal the program's kind needs must be there: a LOAD_DISPATCH
// setpoint (W) for a load limit, an ELECTRICITY_PRICE for a price, and
// for a relay a LOAD_CONTROL or a SIMPLE level above 0.
func ToDR(e Event, p dr.Program, vtnID string) (dr.Event, error) {
	ev := dr.Event{
		ID: vtnID + ":" + e.ID, ProgramID: p.ID, Start: e.Start, End: e.End(),
		Status: dr.StatusScheduled, Source: vtnID, CreatedAt: e.Created,
	}
	switch e.Status {
	case StatusCancelled:
		ev.Status = dr.StatusCancelled
	case StatusCompleted:
		ev.Status = dr.StatusCompleted
	}
	if e.Duration <= 0 {
		return dr.Event{}, fmt.Errorf("openadr: event %q of VTN %q has no duration", e.ID, vtnID)
	}
	missing := func(what string) (dr.Event, error) {
		return dr.Event{}, fmt.Errorf("openadr: event %q of VTN %q for %s program %q has no %s signal", e.ID, vtnID, p.Kind, p.ID, what)
	}
	switch p.Kind {
	case dr.KindLoadLimit:
		s, ok := e.SignalNamed(SignalLoadDispatch)
		if !ok {
			return missing(SignalLoadDispatch)
		}
		v := s.Value
		if s.Item != nil && strings.EqualFold(s.Item.SIScaleCode, "k") {
			v *= 1000
		}
		if v < 0 || v > 1e9 {
			return dr.Event{}, fmt.Errorf("openadr: event %q of VTN %q: load dispatch of %g W", e.ID, vtnID, v)
		}
		ev.Signal.ThresholdW = int64(math.Round(v))
	case dr.KindPrice:
		s, ok := e.SignalNamed(SignalPrice)
		if !ok {
			return missing(SignalPrice)
		}
		if math.Abs(s.Value) > 1e6 {
			return dr.Event{}, fmt.Errorf("openadr: event %q of VTN %q: price of %g per kWh", e.ID, vtnID, s.Value)
		}
		ev.Signal.Price = int64(math.Round(s.Value * 1e6))
		ev.Signal.Currency = p.Currency
		if s.Item != nil && s.Item.ItemUnits != "" {
			ev.Signal.Currency = s.Item.ItemUnits
		}
	case dr.KindRelay:
		_, lc := e.SignalNamed(SignalLoadControl)
		simple, sok := e.SignalNamed(SignalSimple)
		if !lc && !(sok && maxLevel(simple) > 0) {
			return missing(SignalLoadControl + " or SIMPLE")
		}
		ev.Signal.Relay = "open"
	default:
		return dr.Event{}, fmt.Errorf("openadr: program %q has kind %q", p.ID, p.Kind)
	}
	return ev, nil
}

func maxLevel(s Signal) float64 {
	m := s.Value
	for _, iv := range s.Intervals {
		m = math.Max(m, iv.Value)
	}
	return m
}

// DREvents takes the events a VEN receives into demand response.
type DREvents interface {
	// TakeEvent creates the event, or, when it exists, brings it to the
	// status given (a cancellation).
	TakeEvent(ctx context.Context, e dr.Event) error
}

// DRPolicy is a VEN policy that takes a VTN's events into amigo as events
// of program p (Source the VTN) and opts in; an event the program cannot
// carry is opted out of, and said so through onRefused when set.
func DRPolicy(p dr.Program, vtnID func() string, events DREvents, onRefused func(error)) Policy {
	return func(ctx context.Context, e Event) (string, error) {
		ev, err := ToDR(e, p, vtnID())
		if err == nil {
			err = events.TakeEvent(ctx, ev)
			if errors.Is(err, dr.ErrInvalid) && onRefused != nil {
				onRefused(err)
				return OptOut, nil
			}
			if err != nil {
				return "", err
			}
			return OptIn, nil
		}
		if onRefused != nil {
			onRefused(err)
		}
		return OptOut, nil
	}
}
