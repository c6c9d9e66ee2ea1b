package outage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/retry"
	"github.com/amigo-ami/amigo/topology"
)

// Store keeps outage events: every change is put (an upsert by ID), and
// the open ones are read back at start. The store's outage table
// implements it through a small adapter in the server.
type Store interface {
	PutOutage(ctx context.Context, e Event) error
	OpenOutages(ctx context.Context) ([]Event, error)
	// Overlapping lists the outages of any state overlapping [from, to),
	// so that one rebuilt from event logs is not filed twice.
	Overlapping(ctx context.Context, from, to time.Time) ([]Event, error)
}

// Topology gives the version of the tree in force at a time.
type Topology interface {
	TopologyAt(ctx context.Context, at time.Time) (*topology.Grid, error)
}

// Meters maps between meters and the usage points they measure.
type Meters interface {
	// UsagePointOf returns the usage point of a meter ("" when none).
	UsagePointOf(ctx context.Context, meterID string) (string, error)
	// MeterAt returns the meter at a usage point.
	MeterAt(ctx context.Context, usagePoint string) (string, error)
}

// Pings is the head-end's ping: nil when the meter answered.
type Pings interface {
	Ping(ctx context.Context, meterID string) error
}

// Read is one meter's collection result.
type Read struct {
	Meter string
	At    time.Time
	OK    bool
}

// Reads gives the collection results recorded since a time: the meters
// that could not be reached (timeouts, refused connections) and, where
// cheap, those read. A meter that stops answering collection with no
// last gasp is pinged.
type Reads interface {
	ReadsSince(ctx context.Context, since time.Time) ([]Read, error)
}

// Bus is what the service needs of the message bus.
type Bus interface {
	Consumer(ctx context.Context, cfg bus.ConsumerConfig) (*bus.Consumer, error)
	Publish(ctx context.Context, m bus.Message) (duplicate bool, err error)
}

// ServiceOptions configures a Service.
type ServiceOptions struct {
	Engine   Config
	Store    Store
	Topology Topology
	Meters   Meters
	Pings    Pings
	Bus      Bus
	// Reads, when set, brings collection results in every ReadsEvery.
	Reads      Reads
	ReadsEvery time.Duration
	// Durable names the bus consumer of meter events.
	Durable string
	// Tick is how often the engine's clock advances.
	Tick time.Duration
	// Recent is how old a power-down may be and still count as a last
	// gasp; an older one is history from an event log.
	Recent time.Duration
	// Settle is how long logged interruptions are gathered after the
	// last one came in before they are rebuilt into outages: a collection
	// brings a fault's logs from many meters over some minutes.
	Settle time.Duration
	// TopologyEvery is how often the topology in force is looked up.
	TopologyEvery time.Duration
	// PingTimeout bounds one ping.
	PingTimeout time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
}

// Service runs the engine on the live system: meter events from the bus
// in, pings through the head-end, outage changes stored and published.
type Service struct {
	o ServiceOptions

	mu      sync.Mutex // guards the engine, logged and history
	e       *Engine
	logged  map[string]time.Time // a meter's last logged power-down
	history []Logged             // logged interruptions not yet rebuilt
	lastLog time.Time            // when the last one came in
	upOf    sync.Map             // meter -> usage point
}

// NewService returns a service; Run starts it.
func NewService(o ServiceOptions) (*Service, error) {
	if o.Store == nil || o.Topology == nil || o.Meters == nil || o.Pings == nil || o.Bus == nil {
		return nil, errors.New("outage: service needs a store, a topology, meters, pings and a bus")
	}
	if o.Durable == "" {
		o.Durable = "outage"
	}
	if o.Tick <= 0 {
		o.Tick = 5 * time.Second
	}
	if o.ReadsEvery <= 0 {
		o.ReadsEvery = 15 * time.Minute
	}
	if o.Recent <= 0 {
		o.Recent = 10 * time.Minute
	}
	if o.Settle <= 0 {
		o.Settle = time.Minute
	}
	if o.TopologyEvery <= 0 {
		o.TopologyEvery = 5 * time.Minute
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{o: o, logged: map[string]time.Time{}}, nil
}

// Open returns the outages the service follows now.
func (s *Service) Open() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e == nil {
		return nil
	}
	return s.e.Open()
}

// pinger adapts the head-end's ping to the engine's: a meter whose ping
// fails is dark; a usage point without a meter is no evidence.
type pinger struct{ s *Service }

func (p pinger) Ping(ctx context.Context, t Target) (bool, error) {
	id := t.Meter
	if id == "" {
		var err error
		if id, err = p.s.o.Meters.MeterAt(ctx, t.UsagePoint); err != nil {
			return false, fmt.Errorf("outage: ping usage point %s: %w", t.UsagePoint, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.s.o.PingTimeout)
	defer cancel()
	return p.s.o.Pings.Ping(ctx, id) == nil, nil
}

// Run loads the topology and the open outages, then consumes meter events
// and advances the engine until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	now := s.o.Now()
	g, err := s.o.Topology.TopologyAt(ctx, now)
	if err != nil {
		return fmt.Errorf("outage: topology at %s: %w", now.Format(time.RFC3339), err)
	}
	open, err := s.o.Store.OpenOutages(ctx)
	if err != nil {
		return fmt.Errorf("outage: open outages: %w", err)
	}
	s.mu.Lock()
	s.e = NewEngine(s.o.Engine, g, pinger{s})
	s.e.Load(open)
	s.mu.Unlock()
	// A new consumer starts at the events published from now on: a week
	// of history replayed at once would be correlated as one window. Once
	// made, it resumes where it stopped.
	c, err := s.o.Bus.Consumer(ctx, bus.ConsumerConfig{Durable: s.o.Durable, Description: "outage management",
		Stream: bus.Events, Topic: bus.TopicEvent, DeliverNew: true})
	if err != nil {
		return fmt.Errorf("outage: consumer: %w", err)
	}
	next := s.o.Now().Add(s.o.Tick)
	version, refresh := g.Version, s.o.Now().Add(s.o.TopologyEvery)
	readsFrom, readsAt := s.o.Now(), s.o.Now().Add(s.o.ReadsEvery)
	for ctx.Err() == nil {
		ds, err := c.Fetch(ctx, 256, s.o.Tick)
		if err != nil && ctx.Err() == nil {
			s.o.Logger.Warn("outage: fetch", "err", err)
			retry.Wait(ctx, s.o.Tick) // not a busy loop on a bus that is down
		}
		for _, d := range ds {
			s.take(ctx, d)
		}
		now := s.o.Now()
		if !now.Before(refresh) {
			// A version switching services to another transformer takes
			// effect on its date.
			refresh = now.Add(s.o.TopologyEvery)
			if g, err := s.o.Topology.TopologyAt(ctx, now); err == nil && g.Version != version {
				version = g.Version
				s.mu.Lock()
				s.e.SetTopology(g)
				s.mu.Unlock()
			} else if err != nil && ctx.Err() == nil {
				s.o.Logger.Warn("outage: topology", "err", err)
			}
		}
		if s.o.Reads != nil && !now.Before(readsAt) {
			readsAt = now.Add(s.o.ReadsEvery)
			readsFrom = s.takeReads(ctx, readsFrom)
		}
		if !now.Before(next) {
			next = now.Add(s.o.Tick)
			s.advance(ctx, now)
		}
	}
	return nil
}

// take turns one meter event into a signal. An event that is no outage's
// business, or whose meter has no usage point in the topology, is
// acknowledged and left.
func (s *Service) take(ctx context.Context, d *bus.Delivery) {
	defer d.Ack()
	m, err := d.Decode()
	if err != nil {
		return
	}
	ev, ok := m.(bus.Event)
	if !ok || (ev.Type != cim.EventPowerOff && ev.Type != cim.EventPowerRestored) {
		return
	}
	sig, ok := s.signal(ctx, cim.EndDeviceEvent(ev))
	if !ok {
		return
	}
	s.mu.Lock()
	err = s.e.Observe(sig)
	s.mu.Unlock()
	if err != nil && !errors.Is(err, ErrUnknownService) {
		s.o.Logger.Warn("outage: signal refused", "meter", ev.MeterID, "err", err)
	}
}

// signal reads a power event. A recent power-down is a last gasp: DLMS
// meters push it alone, C12.22 meters push the entries of their event log,
// the same events a collection reads, so how fresh it is tells a gasp from
// history, not where it came from. A power-up is a restoration, with the
// power-down logged before it when the log told one: the pushes carry no
// outage duration, the event log does.
func (s *Service) signal(ctx context.Context, ev cim.EndDeviceEvent) (Signal, bool) {
	up, err := s.usagePoint(ctx, ev.MeterID)
	if err != nil || up == "" {
		return Signal{}, false
	}
	sig := Signal{Meter: ev.MeterID, UsagePoint: up, At: ev.CreatedAt}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ev.Type == cim.EventPowerOff {
		if _, isDuration := ev.Details["duration"]; isDuration {
			return Signal{}, false // a power failure log's duration, no time of its own
		}
		s.logged[ev.MeterID] = ev.CreatedAt
		if s.o.Now().Sub(ev.CreatedAt) > s.o.Recent {
			return Signal{}, false
		}
		sig.Kind = LastGasp
		return sig, true
	}
	sig.Kind = PowerRestored
	down, logged := s.logged[ev.MeterID]
	logged = logged && down.Before(ev.CreatedAt)
	if logged {
		sig.DownSince = down
		delete(s.logged, ev.MeterID)
	}
	if s.o.Now().Sub(ev.CreatedAt) > s.o.Recent {
		// History from an event log: rebuilt with the rest of the
		// collection's logs, never correlated as live evidence.
		if logged {
			s.history = append(s.history, Logged{UsagePoint: up, Meter: ev.MeterID, Down: down, Up: ev.CreatedAt})
			s.lastLog = s.o.Now()
		}
		return Signal{}, false
	}
	return sig, true
}

// rebuild turns the logged interruptions gathered so far into outages, once
// none has come in for the settle time, and files those not already known:
// an outage found live, or rebuilt from an earlier collection, of the same
// part of the tree and starting within the log tolerance.
func (s *Service) rebuild(ctx context.Context, now time.Time) {
	s.mu.Lock()
	if len(s.history) == 0 || now.Sub(s.lastLog) < s.o.Settle {
		s.mu.Unlock()
		return
	}
	logs := s.history
	s.history = nil
	cfg := s.e.Config()
	s.mu.Unlock()
	from, to := logs[0].Down, logs[0].Up
	for _, l := range logs {
		if l.Down.Before(from) {
			from = l.Down
		}
		if l.Up.After(to) {
			to = l.Up
		}
	}
	g, err := s.o.Topology.TopologyAt(ctx, from)
	if err != nil {
		s.mu.Lock()
		g = s.e.grid // logs older than the first version: the tree of today
		s.mu.Unlock()
	}
	known, err := s.o.Store.Overlapping(ctx, from.Add(-cfg.LogTolerance), to.Add(cfg.LogTolerance))
	if err != nil {
		s.o.Logger.Warn("outage: outages to rebuild against", "err", err)
		s.mu.Lock()
		s.history = append(logs, s.history...) // try again at the next tick
		s.mu.Unlock()
		return
	}
	var filed []Event
	for _, ev := range Reconstruct(g, logs, cfg, now) {
		i := knownOutage(g, known, ev, cfg.LogTolerance)
		if i < 0 {
			known = append(known, ev)
			filed = append(filed, ev)
			continue
		}
		// An outage found live by a missed read, its gasp lost, began
		// when the log says, not when the read failed.
		if k := known[i]; k.Device == ev.Device && k.LastGasps == 0 && ev.Start.Before(k.Start) && !k.End.IsZero() {
			k.Start = ev.Start
			if k.State == Momentary || k.State == Verified || k.State == Restored {
				k.State = Verified
				if k.End.Sub(k.Start) < cfg.Momentary {
					k.State = Momentary
				}
			}
			known[i] = k
			filed = append(filed, k)
		}
	}
	s.file(ctx, filed)
}

// knownOutage returns the index of the filed outage a rebuilt one repeats:
// one of the same device overlapping it, or one of the same subtree
// starting and ending at about the same time; -1 when none.
func knownOutage(g *topology.Grid, known []Event, ev Event, tol time.Duration) int {
	for i, k := range known {
		if k.State == Dismissed {
			continue
		}
		overlap := k.Start.Before(ev.End.Add(tol)) && (k.End.IsZero() || k.End.Add(tol).After(ev.Start))
		if k.Device == ev.Device && overlap {
			return i
		}
		// A nested outage shares its enclosing one's start, not its end.
		sameEnd := k.End.IsZero() || k.End.Sub(ev.End).Abs() <= tol
		if k.Start.Sub(ev.Start).Abs() <= tol && sameEnd && (related(g, k.Device, ev.Device) || related(g, ev.Device, k.Device)) {
			return i
		}
	}
	return -1
}

// related reports whether a is an ancestor of b.
func related(g *topology.Grid, a, b string) bool {
	for _, n := range g.Path(b) {
		if n.ID == a {
			return true
		}
	}
	return false
}

// takeReads turns the collection results since from into signals and
// returns where the next look starts.
func (s *Service) takeReads(ctx context.Context, from time.Time) time.Time {
	rs, err := s.o.Reads.ReadsSince(ctx, from)
	if err != nil {
		s.o.Logger.Warn("outage: collection results", "err", err)
		return from
	}
	next := from
	for _, r := range rs {
		if r.At.After(next) {
			next = r.At
		}
		up, err := s.usagePoint(ctx, r.Meter)
		if err != nil || up == "" {
			continue
		}
		k := ReadMissed
		if r.OK {
			k = ReadOK
		}
		s.mu.Lock()
		err = s.e.Observe(Signal{Meter: r.Meter, UsagePoint: up, Kind: k, At: r.At})
		s.mu.Unlock()
		if err != nil && !errors.Is(err, ErrUnknownService) {
			s.o.Logger.Warn("outage: read result refused", "meter", r.Meter, "err", err)
		}
	}
	return next.Add(time.Nanosecond)
}

func (s *Service) usagePoint(ctx context.Context, meterID string) (string, error) {
	if v, ok := s.upOf.Load(meterID); ok {
		return v.(string), nil
	}
	up, err := s.o.Meters.UsagePointOf(ctx, meterID)
	if err != nil {
		return "", err
	}
	s.upOf.Store(meterID, up)
	return up, nil
}

// advance moves the engine's clock and stores and publishes what changed.
// A change that fails to store is logged and published anyway: the bus is
// how operators see it now, and the next change of the outage stores it
// whole.
func (s *Service) advance(ctx context.Context, now time.Time) {
	s.mu.Lock()
	changes := s.e.Advance(ctx, now)
	s.mu.Unlock()
	s.file(ctx, changes)
	s.rebuild(ctx, now)
}

// file stores and publishes outage changes.
func (s *Service) file(ctx context.Context, changes []Event) {
	for _, ev := range changes {
		if err := s.o.Store.PutOutage(ctx, ev); err != nil {
			s.o.Logger.Error("outage: store", "outage", ev.ID, "err", err)
		}
		raw, err := json.Marshal(ev)
		if err != nil {
			continue
		}
		msg := bus.Outage{OutageID: ev.ID, Device: ev.Device, State: string(ev.State), JSON: raw}
		if !ev.End.IsZero() {
			// An ended outage may be corrected (its end by a later push,
			// its start by the event log): each version is a message.
			msg.Revision = strconv.FormatInt(ev.Start.Unix(), 10) + "-" + strconv.FormatInt(ev.End.Unix(), 10)
		}
		if _, err := s.o.Bus.Publish(ctx, msg); err != nil {
			s.o.Logger.Error("outage: publish", "outage", ev.ID, "err", err)
		}
		s.o.Logger.Info("outage", "id", ev.ID, "level", ev.Level, "state", ev.State, "customers", ev.Customers)
	}
}
