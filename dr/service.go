package dr

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
)

// StatusAwaitingApproval is an event of a program that needs a second
// person, before that person approved it; it becomes scheduled.
const StatusAwaitingApproval = "awaiting-approval"

// Errors of the service, besides ErrInvalid.
var (
	// ErrSelfApproval: the creator of an event tried to approve it.
	ErrSelfApproval = errors.New("dr: an event may not be approved by its creator")
	// ErrClosed: the event is over or cancelled, or the participant
	// already opted out.
	ErrClosed = errors.New("dr: closed")
	// ErrNotFound wraps store.ErrNotFound for what the service looks up.
	ErrNotFound = store.ErrNotFound
)

// Store is what the service keeps and reads: its own tables, the days
// settlement measures, and the registry and weather around them.
type Store interface {
	store.DemandResponse
	Days(ctx context.Context, meterID, channel string, from, to cim.Date) ([]interval.Day, error)
	UsagePoint(ctx context.Context, mrid string) (cim.UsagePoint, error)
	Meter(ctx context.Context, mrid string) (cim.Meter, error)
	LatestWeather(ctx context.Context, region string, since, until time.Time) (store.WeatherObservation, error)
}

// Issuer takes commands to meters: headend.HeadEnd.Issue.
type Issuer interface {
	Issue(ctx context.Context, c cim.EndDeviceControl) (cim.EndDeviceControl, bool, error)
}

// Config is what the service is built with besides its store and issuer.
type Config struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Holidays by region ("*" for every region), for the baselines.
	Holidays map[string][]cim.Date
	// Channel is the import channel settlement measures ("A+15m").
	Channel string
	Logger  *slog.Logger
}

// Service runs demand response: programs, enrolments, events moved
// through their statuses and dispatched as commands, opt-outs, and
// settlement.
type Service struct {
	st  Store
	iss Issuer
	cfg Config
	log *slog.Logger
}

// New returns the service.
func New(st Store, iss Issuer, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Channel == "" {
		cfg.Channel = "A+15m"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Service{st: st, iss: iss, cfg: cfg, log: log}
}

// PutProgram validates and stores a program.
func (s *Service) PutProgram(ctx context.Context, p Program) (Program, error) {
	if err := p.Validate(); err != nil {
		return p, err
	}
	if old, err := s.st.DRProgram(ctx, p.ID); err == nil {
		p.CreatedAt = old.CreatedAt
	} else if !errors.Is(err, store.ErrNotFound) {
		return p, err
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = s.cfg.Now().UTC().Truncate(time.Microsecond)
	}
	if err := s.st.PutDRProgram(ctx, programRow(p)); err != nil {
		return p, err
	}
	return p, nil
}

// Program returns a program.
func (s *Service) Program(ctx context.Context, id string) (Program, error) {
	r, err := s.st.DRProgram(ctx, id)
	return programOf(r), err
}

// Programs lists the programs.
func (s *Service) Programs(ctx context.Context) ([]Program, error) {
	rs, err := s.st.DRPrograms(ctx)
	out := make([]Program, len(rs))
	for i, r := range rs {
		out[i] = programOf(r)
	}
	return out, err
}

// Enrol puts a usage point in a program, from now when e.From is zero; the
// meter is the usage point's when e.MeterID is empty.
func (s *Service) Enrol(ctx context.Context, e Enrolment) (Enrolment, error) {
	if e.ProgramID == "" || e.UsagePointID == "" {
		return e, fmt.Errorf("%w: an enrolment needs a program and a usage point", ErrInvalid)
	}
	if _, err := s.st.DRProgram(ctx, e.ProgramID); err != nil {
		return e, err
	}
	if e.MeterID == "" {
		return e, fmt.Errorf("%w: enrolment of usage point %s: no meter", ErrInvalid, e.UsagePointID)
	}
	m, err := s.st.Meter(ctx, e.MeterID)
	if err != nil {
		return e, fmt.Errorf("enrolment of usage point %s: %w", e.UsagePointID, err)
	}
	if m.UsagePointID != e.UsagePointID {
		return e, fmt.Errorf("%w: meter %s serves usage point %q, not %s", ErrInvalid, e.MeterID, m.UsagePointID, e.UsagePointID)
	}
	if e.From.IsZero() {
		e.From = s.cfg.Now()
	}
	e.From = e.From.UTC().Truncate(time.Microsecond)
	if !e.Until.IsZero() {
		e.Until = e.Until.UTC().Truncate(time.Microsecond)
		if !e.Until.After(e.From) {
			return e, fmt.Errorf("%w: enrolment of usage point %s ends before it begins", ErrInvalid, e.UsagePointID)
		}
	}
	return e, s.st.PutDREnrolment(ctx, store.DREnrolment(e))
}

// Enrolments lists a program's enrolments.
func (s *Service) Enrolments(ctx context.Context, programID string) ([]Enrolment, error) {
	rs, err := s.st.DREnrolments(ctx, programID)
	out := make([]Enrolment, len(rs))
	for i, r := range rs {
		out[i] = Enrolment(r)
	}
	return out, err
}

// Offsets draws a device's start and end offsets uniformly in [0,
// randomize], to the millisecond, from the event and the meter alone: a
// retried dispatch, or another node, draws the same.
func Offsets(eventID, meterID string, randomize time.Duration) (start, end time.Duration) {
	span := uint64(randomize/time.Millisecond) + 1
	if randomize <= 0 {
		return 0, 0
	}
	h := sha256.Sum256([]byte(eventID + "\x00" + meterID))
	a, b := binary.BigEndian.Uint64(h[:8]), binary.BigEndian.Uint64(h[8:16])
	return time.Duration(a%span) * time.Millisecond, time.Duration(b%span) * time.Millisecond
}

// CreateEvent checks an event against its program and stores it with its
// participants: the usage points enrolled over the whole event, each with
// its own offsets. The event waits for a second person when the program
// says so, and is scheduled otherwise. An event id given twice yields the
// first event, created false.
func (s *Service) CreateEvent(ctx context.Context, e Event, by string) (Event, bool, error) {
	p, err := s.Program(ctx, e.ProgramID)
	if err != nil {
		return e, false, fmt.Errorf("event of program %s: %w", e.ProgramID, err)
	}
	now := s.cfg.Now()
	e.Start, e.End = e.Start.UTC().Truncate(time.Millisecond), e.End.UTC().Truncate(time.Millisecond)
	switch {
	case e.Start.IsZero() || !e.End.After(e.Start):
		return e, false, fmt.Errorf("%w: event of program %s: it must end after it starts", ErrInvalid, p.ID)
	case !e.End.After(now):
		return e, false, fmt.Errorf("%w: event of program %s: it ended at %s", ErrInvalid, p.ID, e.End.Format(time.RFC3339))
	}
	if err := checkSignal(p, &e.Signal); err != nil {
		return e, false, err
	}
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	if e.Source == "" {
		e.Source = SourceAmigo
	}
	e.CreatedBy, e.ApprovedBy, e.Reason = by, "", ""
	e.Status = StatusScheduled
	if p.Approval {
		e.Status = StatusAwaitingApproval
	}
	e.CreatedAt = now.UTC().Truncate(time.Microsecond)
	e.UpdatedAt = e.CreatedAt
	ens, err := s.st.DREnrolments(ctx, p.ID)
	if err != nil {
		return e, false, err
	}
	var parts []store.DRParticipation
	for _, en := range ens {
		if !Enrolment(en).Covers(e.Start, e.End) {
			continue
		}
		so, eo := Offsets(e.ID, en.MeterID, p.Randomize)
		parts = append(parts, store.DRParticipation{EventID: e.ID, UsagePointID: en.UsagePointID, MeterID: en.MeterID, StartOffset: so, EndOffset: eo})
	}
	got, created, err := s.st.CreateDREvent(ctx, eventRow(e), parts)
	if err != nil {
		return e, false, err
	}
	s.log.Info("dr event created", "event", got.ID, "program", p.ID, "participants", len(parts), "status", got.Status, "by", by, "created", created)
	return eventOf(got), created, nil
}

// checkSignal fills in and checks the signal an event of program p sends.
func checkSignal(p Program, sg *Signal) error {
	switch p.Kind {
	case KindLoadLimit:
		if sg.ThresholdW <= 0 {
			return fmt.Errorf("%w: load-limit event of program %s: no threshold", ErrInvalid, p.ID)
		}
		if sg.ThresholdW < p.FloorW {
			return fmt.Errorf("%w: load-limit event of program %s: threshold %d W is below the program's floor of %d W", ErrInvalid, p.ID, sg.ThresholdW, p.FloorW)
		}
	case KindPrice:
		if sg.Currency == "" {
			sg.Currency = p.Currency
		}
		if sg.Currency == "" {
			return fmt.Errorf("%w: price event of program %s: no currency", ErrInvalid, p.ID)
		}
	case KindRelay:
		if sg.Relay == "" {
			sg.Relay = "open"
		}
		if sg.Relay != "open" {
			return fmt.Errorf("%w: relay event of program %s: relay %q, only open", ErrInvalid, p.ID, sg.Relay)
		}
	}
	return nil
}

// Event returns an event.
func (s *Service) Event(ctx context.Context, id string) (Event, error) {
	r, err := s.st.DREvent(ctx, id)
	return eventOf(r), err
}

// Events lists events.
func (s *Service) Events(ctx context.Context, q store.DREventQuery) ([]Event, error) {
	rs, err := s.st.DREvents(ctx, q)
	out := make([]Event, len(rs))
	for i, r := range rs {
		out[i] = eventOf(r)
	}
	return out, err
}

// Participations lists an event's participants.
func (s *Service) Participations(ctx context.Context, eventID string) ([]Participation, error) {
	rs, err := s.st.DRParticipations(ctx, eventID)
	out := make([]Participation, len(rs))
	for i, r := range rs {
		out[i] = Participation(r)
	}
	return out, err
}

// ParticipationsOf lists a usage point's participations, newest first:
// what the household is told of, and what it may opt out of.
func (s *Service) ParticipationsOf(ctx context.Context, usagePoint string, limit int) ([]Participation, error) {
	rs, err := s.st.DRParticipationsOf(ctx, usagePoint, limit)
	out := make([]Participation, len(rs))
	for i, r := range rs {
		out[i] = Participation(r)
	}
	return out, err
}

// ApproveEvent is the second person's approval of an event that waits for
// one; by may not be its creator. The approval is the event's: its
// commands go out under it, each carrying the approver, and are not held
// again one by one.
func (s *Service) ApproveEvent(ctx context.Context, id, by string) (Event, error) {
	e, err := s.st.DREvent(ctx, id)
	if err != nil {
		return Event{}, err
	}
	if by == "" || strings.EqualFold(by, e.CreatedBy) {
		return eventOf(e), fmt.Errorf("%w: event %s created by %q", ErrSelfApproval, id, e.CreatedBy)
	}
	got, err := s.st.MoveDREvent(ctx, id, StatusAwaitingApproval, StatusScheduled, by, "", s.cfg.Now())
	if err != nil {
		return eventOf(got), err
	}
	s.log.Info("dr event approved", "event", id, "by", by)
	return eventOf(got), nil
}

// CancelEvent cancels an event not over yet; commands already dispatched
// are countermanded.
func (s *Service) CancelEvent(ctx context.Context, id, by, reason string) (Event, error) {
	for {
		e, err := s.st.DREvent(ctx, id)
		if err != nil {
			return Event{}, err
		}
		switch e.Status {
		case StatusCompleted, StatusCancelled:
			return eventOf(e), fmt.Errorf("%w: event %s is %s", ErrClosed, id, e.Status)
		}
		why := "cancelled by " + by
		if reason != "" {
			why += ": " + reason
		}
		got, err := s.st.MoveDREvent(ctx, id, e.Status, StatusCancelled, "", why, s.cfg.Now())
		if errors.Is(err, store.ErrConflict) {
			continue // moved on meanwhile: look again
		}
		if err != nil {
			return eventOf(got), err
		}
		parts, err := s.st.DRParticipations(ctx, id)
		if err != nil {
			return eventOf(got), err
		}
		p, err := s.Program(ctx, got.ProgramID)
		if err != nil {
			return eventOf(got), err
		}
		return eventOf(got), s.countermand(ctx, p, eventOf(got), parts)
	}
}

// OptOut takes a household out of an event, before or during it: commands
// not sent are never sent, and those sent are countermanded. The
// participant is settled at zero.
func (s *Service) OptOut(ctx context.Context, eventID, usagePoint, by string) (Participation, error) {
	e, err := s.st.DREvent(ctx, eventID)
	if err != nil {
		return Participation{}, err
	}
	now := s.cfg.Now()
	if e.Status == StatusCompleted || e.Status == StatusCancelled || !now.Before(e.End) {
		return Participation{}, fmt.Errorf("%w: event %s is over (%s)", ErrClosed, eventID, e.Status)
	}
	set, err := s.st.StampDRParticipations(ctx, eventID, store.DROptedOut, now, []string{usagePoint})
	if err != nil {
		return Participation{}, err
	}
	part, err := s.participation(ctx, eventID, usagePoint)
	if err != nil {
		return part, err
	}
	if len(set) == 0 {
		return part, fmt.Errorf("%w: usage point %s opted out of event %s at %s already", ErrClosed, usagePoint, eventID, part.OptedOutAt.Format(time.RFC3339))
	}
	s.log.Info("dr opt-out", "event", eventID, "usage_point", usagePoint, "by", by)
	p, err := s.Program(ctx, e.ProgramID)
	if err != nil {
		return part, err
	}
	if err := s.countermand(ctx, p, eventOf(e), []store.DRParticipation{store.DRParticipation(part)}); err != nil {
		return part, err
	}
	return s.participation(ctx, eventID, usagePoint)
}

func (s *Service) participation(ctx context.Context, eventID, usagePoint string) (Participation, error) {
	parts, err := s.st.DRParticipations(ctx, eventID)
	if err != nil {
		return Participation{}, err
	}
	for _, p := range parts {
		if p.UsagePointID == usagePoint {
			return Participation(p), nil
		}
	}
	return Participation{}, fmt.Errorf("usage point %s in event %s: %w", usagePoint, eventID, store.ErrNotFound)
}

// Step moves every open event along by the clock: an event waiting for
// approval past its end is cancelled; a scheduled one is notified and
// dispatched at Start − Notice; a notified one becomes active at its
// start; an active one completes once the last device's end has passed.
// Participants whose commands did not go out are dispatched again on
// every step while the event is notified or active.
func (s *Service) Step(ctx context.Context) error {
	// All open events are listed first, so that each moves once a step.
	var open []store.DREvent
	for _, st := range []string{StatusAwaitingApproval, StatusScheduled, StatusNotified, StatusActive} {
		evs, err := s.st.DREvents(ctx, store.DREventQuery{Status: st})
		if err != nil {
			return err
		}
		open = append(open, evs...)
	}
	var errs []error
	for _, e := range open {
		if err := s.step(ctx, eventOf(e)); err != nil {
			errs = append(errs, fmt.Errorf("dr event %s: %w", e.ID, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) step(ctx context.Context, e Event) error {
	now := s.cfg.Now()
	p, err := s.Program(ctx, e.ProgramID)
	if err != nil {
		return err
	}
	move := func(to, reason string) (Event, error) {
		got, err := s.st.MoveDREvent(ctx, e.ID, e.Status, to, "", reason, now)
		if errors.Is(err, store.ErrConflict) {
			return eventOf(got), nil // another node moved it
		}
		return eventOf(got), err
	}
	switch e.Status {
	case StatusAwaitingApproval:
		if !now.Before(e.End) {
			_, err := move(StatusCancelled, "not approved before its end")
			return err
		}
		return nil
	case StatusScheduled:
		if now.Before(e.Start.Add(-p.Notice)) {
			return nil
		}
		// Moved first, by compare-and-swap: the node that moves it
		// tells the households; commands any node may retry.
		if e, err = move(StatusNotified, ""); err != nil || e.Status != StatusNotified {
			return err
		}
		fallthrough
	case StatusNotified:
		derr := s.dispatch(ctx, p, e)
		if now.Before(e.Start) {
			return derr
		}
		if e, err = move(StatusActive, ""); err != nil || e.Status != StatusActive {
			return errors.Join(derr, err)
		}
		if derr != nil {
			return derr
		}
		fallthrough
	case StatusActive:
		if now.Before(e.End.Add(p.Randomize)) {
			return s.dispatch(ctx, p, e)
		}
		_, err := move(StatusCompleted, "")
		return err
	}
	return nil
}

// dispatch notifies the participants not told yet and issues the command
// of each participant not opted out whose command did not go out yet.
func (s *Service) dispatch(ctx context.Context, p Program, e Event) error {
	parts, err := s.st.DRParticipations(ctx, e.ID)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	var tell []string
	for _, pt := range parts {
		if pt.NotifiedAt.IsZero() {
			tell = append(tell, pt.UsagePointID)
		}
	}
	if len(tell) > 0 {
		if _, err := s.st.StampDRParticipations(ctx, e.ID, store.DRNotified, now, tell); err != nil {
			return err
		}
	}
	var sent []string
	var errs []error
	for _, pt := range parts {
		if !pt.OptedOutAt.IsZero() || !pt.DispatchedAt.IsZero() {
			continue
		}
		c := Command(p, e, Participation(pt))
		if !c.ExpiresAt.After(now) {
			continue // its window has passed
		}
		if _, _, err := s.iss.Issue(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("usage point %s, meter %s: %w", pt.UsagePointID, pt.MeterID, err))
			continue
		}
		sent = append(sent, pt.UsagePointID)
	}
	if len(sent) > 0 {
		if _, err := s.st.StampDRParticipations(ctx, e.ID, store.DRDispatched, now, sent); err != nil {
			errs = append(errs, err)
		}
	}
	if len(sent) > 0 || len(errs) > 0 {
		s.log.Info("dr event dispatched", "event", e.ID, "sent", len(sent), "failed", len(errs))
	}
	// An opt-out that raced the dispatch above: its command went out, so it
	// is countermanded now.
	if len(sent) > 0 {
		again, err := s.st.DRParticipations(ctx, e.ID)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		if err := s.countermand(ctx, p, e, again); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// countermand issues the undoing command of every participant among parts
// whose command went out and that opted out (or all of them, for an event
// cancelled), once.
func (s *Service) countermand(ctx context.Context, p Program, e Event, parts []store.DRParticipation) error {
	now := s.cfg.Now()
	var done []string
	var errs []error
	for _, pt := range parts {
		if pt.DispatchedAt.IsZero() || !pt.CountermandedAt.IsZero() {
			continue
		}
		if e.Status != StatusCancelled && pt.OptedOutAt.IsZero() {
			continue
		}
		c, ok := Countermand(p, e, Participation(pt), now)
		if !ok {
			continue
		}
		if _, _, err := s.iss.Issue(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("countermanding usage point %s, meter %s: %w", pt.UsagePointID, pt.MeterID, err))
			continue
		}
		done = append(done, pt.UsagePointID)
	}
	if len(done) > 0 {
		if _, err := s.st.StampDRParticipations(ctx, e.ID, store.DRCountermanded, now, done); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Run steps the events every interval until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.Step(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("dr step", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// CorrelationID is the correlation id of a participant's command in an
// event: issuing it again yields the same command.
func CorrelationID(eventID, usagePoint string) string { return "dr/" + eventID + "/" + usagePoint }

// Window is a participant's own event window: the event's, moved by its
// offsets.
func Window(e Event, pt Participation) (start, end time.Time) {
	return e.Start.Add(pt.StartOffset), e.End.Add(pt.EndOffset)
}

// Command is the command a participant's meter gets for an event, sent
// ahead with the start and duration for the meter to hold: load-limit
// (threshold), price-signal (price) or load-relay (open, closed again
// after the duration). It expires at the participant's end: a command not
// delivered by then has nothing left to do. It carries the event's
// creator as issuer and its approver.
func Command(p Program, e Event, pt Participation) cim.EndDeviceControl {
	start, end := Window(e, pt)
	c := cim.EndDeviceControl{
		CorrelationID: CorrelationID(e.ID, pt.UsagePointID),
		MeterID:       pt.MeterID,
		ExpiresAt:     end,
		IssuedBy:      e.CreatedBy,
		ApprovedBy:    e.ApprovedBy,
		Parameters: map[string]string{
			"start":    start.UTC().Format(time.RFC3339),
			"duration": strconv.FormatInt(int64((end.Sub(start)+time.Second/2)/time.Second), 10),
		},
	}
	switch p.Kind {
	case KindLoadLimit:
		c.Type = cim.ControlLoadLimit
		c.Parameters["threshold"] = strconv.FormatInt(e.Signal.ThresholdW, 10)
	case KindPrice:
		c.Type = cim.ControlPriceSignal
		c.Parameters["price"] = strconv.FormatInt(e.Signal.Price, 10)
		c.Parameters["currency"] = e.Signal.Currency
	case KindRelay:
		c.Type = cim.ControlLoadRelay
		c.Parameters["state"] = "open"
	}
	return c
}

// Countermand is the command undoing a participant's command from now (or
// from its start, if later): the same type with duration 0 from that
// start, which ends a load limit or a price, and for the relay, closed
// until told. There is none once the participant's window has passed.
func Countermand(p Program, e Event, pt Participation, now time.Time) (cim.EndDeviceControl, bool) {
	start, end := Window(e, pt)
	if !now.Before(end) {
		return cim.EndDeviceControl{}, false
	}
	c := Command(p, e, pt)
	c.CorrelationID += "/countermand"
	if now.After(start) {
		start = now
	}
	c.Parameters["start"] = start.UTC().Format(time.RFC3339)
	c.Parameters["duration"] = "0"
	if p.Kind == KindRelay {
		c.Parameters["state"] = "closed"
	}
	return c, true
}

func programRow(p Program) store.DRProgram {
	return store.DRProgram{ID: p.ID, Name: p.Name, Kind: p.Kind, Notice: p.Notice, Randomize: p.Randomize, Baseline: p.Baseline,
		Adjust: p.Adjust, Incentive: p.Incentive, Currency: p.Currency, FloorW: p.FloorW, Approval: p.Approval, CreatedAt: p.CreatedAt}
}

func programOf(r store.DRProgram) Program {
	return Program{ID: r.ID, Name: r.Name, Kind: r.Kind, Notice: r.Notice, Randomize: r.Randomize, Baseline: r.Baseline,
		Adjust: r.Adjust, Incentive: r.Incentive, Currency: r.Currency, FloorW: r.FloorW, Approval: r.Approval, CreatedAt: r.CreatedAt}
}

func eventRow(e Event) store.DREvent {
	return store.DREvent{ID: e.ID, ProgramID: e.ProgramID, Start: e.Start, End: e.End, ThresholdW: e.Signal.ThresholdW,
		Price: e.Signal.Price, Currency: e.Signal.Currency, Relay: e.Signal.Relay, Status: e.Status, Source: e.Source,
		CreatedBy: e.CreatedBy, ApprovedBy: e.ApprovedBy, Reason: e.Reason, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
}

func eventOf(r store.DREvent) Event {
	return Event{ID: r.ID, ProgramID: r.ProgramID, Start: r.Start, End: r.End,
		Signal: Signal{ThresholdW: r.ThresholdW, Price: r.Price, Currency: r.Currency, Relay: r.Relay},
		Status: r.Status, Source: r.Source, CreatedBy: r.CreatedBy, ApprovedBy: r.ApprovedBy, Reason: r.Reason,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}
