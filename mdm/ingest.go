// Package mdm owns meter data management: the ingest of what the
// head-end publishes (interval blocks merged into versioned local-day
// rows, register reads, events), with dead letters for what cannot be
// used. Validation, estimation and editing build on the days it writes.
package mdm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configures an Ingest.
type Options struct {
	Store  store.Store
	Bus    *bus.Bus
	Logger *slog.Logger
	// Batch is how many messages one store transaction takes.
	Batch int
	// Durable names the consumers, so a restarted ingest resumes where
	// the last one acknowledged.
	Durable string
	// Now bounds how far in the future a reading may lie (nil: time.Now).
	Now func() time.Time
}

// Ingest moves readings, registers and events from the bus into the
// store. Delivery is at least once and every write is idempotent, so a
// crash anywhere loses nothing acknowledged and stores nothing twice: a
// message is acknowledged only after the store committed what it carried.
type Ingest struct {
	o   Options
	log *slog.Logger

	mu   sync.Mutex
	locs map[string]*time.Location // meter → zone; nil entry: unknown meter
}

// New returns an ingest.
func New(o Options) (*Ingest, error) {
	if o.Store == nil || o.Bus == nil {
		return nil, errors.New("mdm: store and bus are required")
	}
	if o.Batch <= 0 {
		o.Batch = 512
	}
	if o.Durable == "" {
		o.Durable = "mdm-ingest"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Ingest{o: o, log: o.Logger, locs: map[string]*time.Location{}}, nil
}

// ackWait is how long a delivered message may go unacknowledged before
// the bus delivers it again: after a crash, that is how long the readings
// the dead process held wait. A batch is stored well within it.
const ackWait = 20 * time.Second

// Run consumes until ctx ends.
func (in *Ingest) Run(ctx context.Context) error {
	js := in.o.Bus.JetStream()
	var cons []jetstream.Consumer
	for _, kind := range []string{bus.Readings, bus.Events} {
		c, err := js.CreateOrUpdateConsumer(ctx, in.o.Bus.StreamName(kind), jetstream.ConsumerConfig{
			Durable: in.o.Durable, AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait,
			MaxAckPending: 4 * in.o.Batch, DeliverPolicy: jetstream.DeliverAllPolicy,
		})
		if err != nil {
			return fmt.Errorf("mdm: consumer on %s: %w", kind, err)
		}
		cons = append(cons, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(cons))
	for _, c := range cons {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- in.consume(ctx, c)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (in *Ingest) consume(ctx context.Context, c jetstream.Consumer) error {
	for ctx.Err() == nil {
		// Take what is there without waiting to fill a batch; when nothing
		// is, wait for one message, then take what came with it.
		msgs, err := in.fetch(c, in.o.Batch, 0)
		if err == nil && len(msgs) == 0 {
			if msgs, err = in.fetch(c, 1, time.Second); err == nil && len(msgs) == 1 {
				var more []jetstream.Msg
				more, err = in.fetch(c, in.o.Batch-1, 0)
				msgs = append(msgs, more...)
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			in.log.Warn("mdm: fetch", "err", err)
			if wait(ctx, time.Second) != nil {
				return nil
			}
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		if err := in.Handle(ctx, msgs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Not acknowledged: the bus redelivers after a pause.
			in.log.Warn("mdm: batch not stored; will be redelivered", "messages", len(msgs), "err", err)
			for _, m := range msgs {
				m.NakWithDelay(2 * time.Second)
			}
			continue
		}
		for _, m := range msgs {
			if err := m.DoubleAck(ctx); err != nil && ctx.Err() == nil {
				in.log.Warn("mdm: ack", "err", err)
			}
		}
	}
	return nil
}

// fetch pulls up to n messages, waiting up to maxWait (0: not at all).
func (in *Ingest) fetch(c jetstream.Consumer, n int, maxWait time.Duration) ([]jetstream.Msg, error) {
	if n <= 0 {
		return nil, nil
	}
	var b jetstream.MessageBatch
	var err error
	if maxWait == 0 {
		b, err = c.FetchNoWait(n)
	} else {
		b, err = c.Fetch(n, jetstream.FetchMaxWait(maxWait))
	}
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range b.Messages() {
		msgs = append(msgs, m)
	}
	if err := b.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
		return msgs, err
	}
	return msgs, nil
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dayKey names one stored day.
type dayKey struct {
	meter, channel string
	date           cim.Date
}

// pending is a batch's work before it is written.
type pending struct {
	days   map[dayKey]*store.Day
	order  []dayKey
	regs   []cim.Reading
	events []cim.EndDeviceEvent
	dead   []deadLetter
}

type deadLetter struct {
	subject, reason string
	data            []byte
}

// Handle stores what a batch of messages carries, in one pass: interval
// blocks merged into their days, register reads and events. A message it
// cannot use goes to the dead letters. It returns an error only when the
// store or the bus failed, and then nothing of the batch counts as stored.
func (in *Ingest) Handle(ctx context.Context, msgs []jetstream.Msg) error {
	p := &pending{days: map[dayKey]*store.Day{}}
	for _, m := range msgs {
		if err := in.take(ctx, p, m.Subject(), m.Data()); err != nil {
			var bad *badMessage
			if errors.As(err, &bad) {
				p.dead = append(p.dead, deadLetter{m.Subject(), bad.Error(), m.Data()})
				continue
			}
			return err
		}
	}
	return in.write(ctx, p)
}

type badMessage struct{ reason string }

func (e *badMessage) Error() string { return e.reason }

func bad(format string, args ...any) error { return &badMessage{fmt.Sprintf(format, args...)} }

// Message is one decoded bus message: exactly one field is set.
type Message struct {
	Block     *cim.IntervalBlock
	Registers []cim.Reading
	Event     *cim.EndDeviceEvent
}

// Decode reads a message by its subject's kind. It checks the shape (the
// ids a message needs), not the values: that is the ingest's job.
func Decode(subject string, data []byte) (Message, error) {
	switch {
	case strings.HasSuffix(subject, "."+bus.TypeIntervals):
		var b cim.IntervalBlock
		if err := json.Unmarshal(data, &b); err != nil {
			return Message{}, bad("interval block: %v", err)
		}
		if b.MeterID == "" || b.ReadingType.ID == "" {
			return Message{}, bad("interval block without meter or reading type")
		}
		return Message{Block: &b}, nil
	case strings.HasSuffix(subject, "."+bus.TypeRegisters):
		var rs []cim.Reading
		if err := json.Unmarshal(data, &rs); err != nil {
			return Message{}, bad("register reads: %v", err)
		}
		for _, r := range rs {
			if r.MeterID == "" || r.ReadingType == "" || r.TimeStamp.IsZero() {
				return Message{}, bad("register read without meter, reading type or time")
			}
		}
		return Message{Registers: rs}, nil
	case strings.Contains(subject, "."+bus.Events+"."):
		var e cim.EndDeviceEvent
		if err := json.Unmarshal(data, &e); err != nil {
			return Message{}, bad("event: %v", err)
		}
		if e.MRID == "" || e.MeterID == "" {
			return Message{}, bad("event without mRID or meter")
		}
		return Message{Event: &e}, nil
	}
	return Message{}, bad("no ingest for subject %s", subject)
}

// take decodes one message into p.
func (in *Ingest) take(ctx context.Context, p *pending, subject string, data []byte) error {
	m, err := Decode(subject, data)
	if err != nil {
		return err
	}
	switch {
	case m.Block != nil:
		return in.takeBlock(ctx, p, *m.Block)
	case m.Event != nil:
		p.events = append(p.events, *m.Event)
	default:
		for _, r := range m.Registers {
			if r.TimeStamp.After(in.o.Now().Add(24 * time.Hour)) {
				return bad("register read of meter %s at %s lies in the future", r.MeterID, r.TimeStamp)
			}
		}
		p.regs = append(p.regs, m.Registers...)
	}
	return nil
}

// location returns the zone of a meter's usage point; ok is false for a
// meter the registry does not know.
func (in *Ingest) location(ctx context.Context, meterID string) (*time.Location, bool, error) {
	in.mu.Lock()
	loc, seen := in.locs[meterID]
	in.mu.Unlock()
	if seen {
		return loc, loc != nil, nil
	}
	m, err := in.o.Store.Meter(ctx, meterID)
	if errors.Is(err, store.ErrNotFound) {
		// Not cached: the meter may be registered a moment later.
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	loc = time.UTC
	if m.UsagePointID != "" {
		up, err := in.o.Store.UsagePoint(ctx, m.UsagePointID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, false, err
		default:
			if loc, err = up.Location(); err != nil {
				return nil, false, bad("meter %s: %v", meterID, err)
			}
		}
	}
	in.mu.Lock()
	in.locs[meterID] = loc
	in.mu.Unlock()
	return loc, true, nil
}

// takeBlock places a block's readings in their local days, merging with
// what is stored. A block with a reading that does not fit its reading
// type (off the interval grid, far in the future) is refused whole:
// nothing is silently fixed.
func (in *Ingest) takeBlock(ctx context.Context, p *pending, b cim.IntervalBlock) error {
	rt := b.ReadingType
	if rt.Interval <= 0 || rt.Interval%time.Minute != 0 || 24*time.Hour%rt.Interval != 0 {
		return bad("meter %s: reading type %s has interval %s", b.MeterID, rt.ID, rt.Interval)
	}
	loc, known, err := in.location(ctx, b.MeterID)
	if err != nil {
		return err
	}
	if !known {
		return bad("meter %s is not registered", b.MeterID)
	}
	limit := in.o.Now().Add(24 * time.Hour)
	for _, r := range b.Readings {
		if r.End.IsZero() || r.End.After(limit) {
			return bad("meter %s: reading at %s lies in the future", b.MeterID, r.End)
		}
		start := r.End.Add(-rt.Interval)
		if start.Unix()%int64(rt.Interval/time.Second) != 0 || r.End.Nanosecond() != 0 {
			return bad("meter %s: reading ending %s is off the %s grid", b.MeterID, r.End, rt.Interval)
		}
		date := cim.DateOf(start, loc)
		k := dayKey{b.MeterID, rt.ID, date}
		d, ok := p.days[k]
		if !ok {
			if d, err = in.openDay(ctx, k, loc, rt.Interval); err != nil {
				return err
			}
			p.days[k] = d
			p.order = append(p.order, k)
		}
		i := int(start.Sub(d.Start) / rt.Interval)
		if i < 0 || i >= len(d.Values) {
			return bad("meter %s: reading ending %s outside its day %s", b.MeterID, r.End, date)
		}
		merge(d, i, r)
	}
	return nil
}

// openDay returns the latest stored version of a day, or an empty one
// with every interval missing.
func (in *Ingest) openDay(ctx context.Context, k dayKey, loc *time.Location, iv time.Duration) (*store.Day, error) {
	d, err := in.o.Store.Day(ctx, k.meter, k.channel, k.date)
	if err == nil {
		if d.Interval != iv {
			return nil, bad("meter %s channel %s %s: stored with interval %s, message has %s", k.meter, k.channel, k.date, d.Interval, iv)
		}
		d.Source, d.Reason, d.User = store.SourceMeter, "", ""
		return &d, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	n := k.date.Intervals(loc, iv)
	d = store.Day{MeterID: k.meter, Channel: k.channel, Date: k.date, Start: k.date.Start(loc), Interval: iv,
		Values: make([]int64, n), Quality: make([]cim.Quality, n), Source: store.SourceMeter}
	for i := range d.Quality {
		d.Quality[i] = cim.QualityMissing
	}
	return &d, nil
}

// merge puts one reading into slot i. A missing or estimated slot takes
// the actual value; an equal actual changes nothing; an actual that
// arrives again with a different value replaces it but is flagged suspect
// for validation to look at (the earlier value stays in the day's older
// version).
func merge(d *store.Day, i int, r cim.IntervalReading) {
	q := d.Quality[i]
	switch {
	case q&cim.QualityMissing != 0, q&cim.QualityEstimated != 0:
		d.Values[i], d.Quality[i] = r.Value, r.Quality
	case d.Values[i] == r.Value && q&^cim.QualitySuspect == r.Quality&^cim.QualitySuspect:
	default:
		d.Values[i], d.Quality[i] = r.Value, r.Quality|cim.QualitySuspect
	}
}

// write commits a batch: days, register reads and events, then the dead
// letters (acknowledged by the bus before the batch is).
func (in *Ingest) write(ctx context.Context, p *pending) error {
	if len(p.order) > 0 {
		days := make([]store.Day, len(p.order))
		for i, k := range p.order {
			days[i] = *p.days[k]
		}
		if _, err := in.o.Store.PutDays(ctx, days); err != nil {
			return fmt.Errorf("mdm: storing %d days: %w", len(days), err)
		}
	}
	if len(p.regs) > 0 {
		if _, err := in.o.Store.PutRegisterReads(ctx, p.regs); err != nil {
			return fmt.Errorf("mdm: storing %d register reads: %w", len(p.regs), err)
		}
	}
	if len(p.events) > 0 {
		if _, err := in.o.Store.AppendEvents(ctx, p.events); err != nil {
			return fmt.Errorf("mdm: storing %d events: %w", len(p.events), err)
		}
	}
	for _, d := range p.dead {
		h := nats.Header{}
		h.Set("Amigo-Subject", d.subject)
		h.Set("Amigo-Reason", d.reason)
		msg := &nats.Msg{Subject: in.o.Bus.Subject(bus.DeadLetters, "mdm"), Data: d.data, Header: h}
		if _, err := in.o.Bus.JetStream().PublishMsg(ctx, msg); err != nil {
			return fmt.Errorf("mdm: dead letter: %w", err)
		}
		in.log.Warn("mdm: message dead-lettered", "subject", d.subject, "reason", d.reason)
	}
	return nil
}

// DeadLetter is a message the ingest could not use.
type DeadLetter struct {
	Subject string    `json:"subject"`
	Reason  string    `json:"reason"`
	Data    string    `json:"data"`
	At      time.Time `json:"at"`
}

// DeadLetters lists up to limit dead letters, oldest first.
func DeadLetters(ctx context.Context, b *bus.Bus, limit int) ([]DeadLetter, error) {
	s, err := b.JetStream().Stream(ctx, b.StreamName(bus.DeadLetters))
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && len(out) < limit; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, DeadLetter{Subject: m.Header.Get("Amigo-Subject"), Reason: m.Header.Get("Amigo-Reason"), Data: string(m.Data), At: m.Time})
	}
	return out, nil
}
