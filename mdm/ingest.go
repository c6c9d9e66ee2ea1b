package mdm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/retry"
	"github.com/amigo-ami/amigo/store"
)

// Stage looks at a merged day before it is written: validation and
// estimation hook in here. It gets the day as merged (Source meter, Reason
// saying what the merge noticed) and returns the day to store, which must
// keep the meter, channel, date, start, interval and number of intervals.
// It runs only on days the merge changed, so a redelivered message, which
// changes nothing, never runs it twice.
type Stage func(day interval.Day) interval.Day

// Store is what the ingest needs of the store: the registry, to place
// readings in their usage point's days; the days it merges into; register
// reads and events; and, for validation, the history and the exceptions
// queue.
type Store interface {
	Meter(ctx context.Context, mrid string) (cim.Meter, error)
	UsagePoint(ctx context.Context, mrid string) (cim.UsagePoint, error)
	Day(ctx context.Context, meterID, channel string, date cim.Date) (interval.Day, error)
	DaysOfMeters(ctx context.Context, ranges []store.DayRange) ([][]interval.Day, error)
	PutDaysIfLatest(ctx context.Context, days []interval.Day, bases []int) ([]store.DayWrite, error)
	PutRegisterReads(ctx context.Context, rs []store.RegisterRead) (int, error)
	RegisterReadsOfMeters(ctx context.Context, ranges []store.ReadRange) ([][]store.RegisterRead, error)
	AppendEvents(ctx context.Context, evs []cim.EndDeviceEvent) (int, error)
	EventsOfMeters(ctx context.Context, types []cim.EndDeviceEventType, ranges []store.EventRange) ([][]cim.EndDeviceEvent, error)
	PutExceptions(ctx context.Context, es []store.Exception) (int, error)
	SettleExceptions(ctx context.Context, days []store.DayVersion, at time.Time) (int, error)
}

// Options configures an Ingest.
type Options struct {
	Store  Store
	Bus    *bus.Bus
	Logger *slog.Logger
	// Batch is the most messages one store transaction takes (512 when 0).
	Batch int
	// Durable names the consumers ("mdm-ingest" when empty), so that a
	// restarted ingest resumes where the last one acknowledged. Ingests
	// with the same name share the messages between them.
	Durable string
	// AckWait is how long a fetched message may stay unacknowledged
	// before the bus hands it out again (30 s when 0): after a crash, how
	// long the messages the dead process held wait. A batch must be stored
	// well within it.
	AckWait time.Duration
	// Now is the clock that says how far ahead a reading may lie (nil:
	// time.Now); a simulated fleet that runs faster than time sets it.
	Now func() time.Time
	// Stages run on each changed day, in order, between merge and write.
	Stages []Stage
	// Validate, when set, runs the VEE rules on every day a batch wrote
	// and records the failures in the exceptions queue before the batch
	// is acknowledged (estimation stays an on-demand or scheduled step).
	Validate *VEEOptions
}

// Ingest moves interval blocks, register reads and events from the bus
// into the store: at least once, idempotently, in batches.
type Ingest struct {
	o   Options
	log *slog.Logger

	mu    sync.Mutex
	zones map[string]zoneEntry // meter → its usage point's zone

	st counters
}

// zoneTTL bounds how long a meter's zone is trusted without asking the
// registry again, so a meter moved to another usage point is noticed.
const zoneTTL = 10 * time.Minute

type zoneEntry struct {
	loc *time.Location
	at  time.Time
	// The meter's validation rule set, chosen by its group.
	group string
	rules vee.Rules
}

// New returns an ingest; Run starts it.
func New(o Options) (*Ingest, error) {
	if o.Store == nil || o.Bus == nil {
		return nil, errors.New("mdm: ingest needs a store and a bus")
	}
	if o.Batch <= 0 {
		o.Batch = 512
	}
	if o.Durable == "" {
		o.Durable = "mdm-ingest"
	}
	if o.AckWait <= 0 {
		o.AckWait = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Ingest{o: o, log: o.Logger.With("component", "mdm-ingest"), zones: map[string]zoneEntry{}}, nil
}

// Stats counts what an ingest has done since it was made.
type Stats struct {
	// Messages acknowledged, stored or dead-lettered.
	Messages uint64
	// Readings is interval readings merged (again, when redelivered).
	Readings  uint64
	Registers uint64
	Events    uint64
	// DaysWritten is day versions handed to the store.
	DaysWritten uint64
	DeadLetters uint64
	// Batches committed, and batches that failed and were left for
	// redelivery.
	Batches, Failed uint64
	// Conflicts counts days another writer changed between this ingest's
	// read and write, merged again over that writer's version.
	Conflicts uint64
	// Exceptions is validation failures newly recorded on ingest.
	Exceptions uint64
}

type counters struct {
	messages, readings, registers, events, days, dead, batches, failed, conflicts, exceptions atomic.Uint64
}

// Stats returns the counters so far.
func (in *Ingest) Stats() Stats {
	c := &in.st
	return Stats{Messages: c.messages.Load(), Readings: c.readings.Load(), Registers: c.registers.Load(),
		Events: c.events.Load(), DaysWritten: c.days.Load(), DeadLetters: c.dead.Load(),
		Batches: c.batches.Load(), Failed: c.failed.Load(), Conflicts: c.conflicts.Load(), Exceptions: c.exceptions.Load()}
}

// Run consumes the readings and events streams until ctx ends, then
// finishes the batch in hand and returns nil. It returns an error only
// when the consumers cannot be set up. Run may be called again after it
// returned; the durable consumers carry on where they stood.
func (in *Ingest) Run(ctx context.Context) error {
	kinds := []string{bus.Readings, bus.Events}
	cons := make([]*bus.Consumer, len(kinds))
	for i, kind := range kinds {
		c, err := in.o.Bus.Consumer(ctx, bus.ConsumerConfig{
			Durable:     in.o.Durable,
			Description: "meter data management ingest",
			Stream:      kind,
			AckWait:     in.o.AckWait,
			// Unlimited redelivery (the bus's rule): a batch the store
			// refused is retried until it is stored.
			MaxAckPending: max(1000, 4*in.o.Batch),
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped while starting: nothing was taken
			}
			return fmt.Errorf("mdm: %w", err)
		}
		cons[i] = c
	}
	var wg sync.WaitGroup
	for i, kind := range kinds {
		wg.Go(func() { in.consume(ctx, kind, cons[i]) })
	}
	wg.Wait()
	return nil
}

// idleFetch is how long one fetch waits for a message to arrive. A fetch
// is not cancelled by ctx (see bus.Consumer.Fetch), so shutdown waits for
// at most one idleFetch.
const idleFetch = 500 * time.Millisecond

func (in *Ingest) consume(ctx context.Context, kind string, c *bus.Consumer) {
	limit := in.o.Batch
	failures := 0
	for ctx.Err() == nil {
		msgs, err := c.Fetch(ctx, limit, idleFetch)
		if len(msgs) == 0 {
			if err != nil && ctx.Err() == nil {
				failures++
				in.log.Warn("fetch from the bus failed", "stream", kind, "attempt", failures, "err", err)
				if retry.Wait(ctx, ingestBackoff(failures)) != nil {
					return
				}
			}
			continue
		}
		// The batch in hand is finished even when ctx ends meanwhile, so
		// a graceful stop leaves nothing for redelivery.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.o.AckWait)
		err = in.handle(wctx, msgs)
		if err == nil {
			in.ack(wctx, msgs)
		}
		cancel()
		if err != nil {
			failures++
			in.st.failed.Add(1)
			in.nak(kind, msgs, failures, err)
			// Smaller batches until one goes through: if a single message
			// is what the store refuses, the others get past it.
			limit = max(1, limit/2)
			if retry.Wait(ctx, ingestBackoff(failures)) != nil {
				return
			}
			continue
		}
		failures = 0
		limit = min(in.o.Batch, limit*2)
	}
}

// ack acknowledges a stored batch. The acknowledgements travel in order on
// one connection, so waiting for the server to confirm the last one
// confirms them all, at one round trip per batch. An acknowledgement lost
// to a crash only means a harmless redelivery.
func (in *Ingest) ack(ctx context.Context, msgs []*bus.Delivery) {
	var err error
	for i, m := range msgs {
		if i == len(msgs)-1 {
			err = errors.Join(err, m.AckSync(ctx))
		} else {
			err = errors.Join(err, m.Ack())
		}
	}
	in.st.messages.Add(uint64(len(msgs)))
	in.st.batches.Add(1)
	if err != nil {
		in.log.Warn("acknowledging a stored batch failed; it will be delivered again and change nothing", "messages", len(msgs), "err", err)
	}
}

// nak hands a batch that was not stored back to the bus, to come again
// after a delay.
func (in *Ingest) nak(kind string, msgs []*bus.Delivery, attempt int, cause error) {
	delay := ingestBackoff(attempt)
	var most uint64
	for _, m := range msgs {
		most = max(most, m.Deliveries())
		m.NakAfter(delay)
	}
	lvl := slog.LevelWarn
	if most >= 10 {
		lvl = slog.LevelError
	}
	in.log.Log(context.Background(), lvl, "batch not stored; left on the bus for redelivery", "stream", kind,
		"messages", len(msgs), "first", msgs[0].Subject(), "deliveries", most, "retry_in", delay.Round(time.Millisecond), "err", cause)
}

// ingestBackoff is the pause before attempt n+1 after n failures: its cap
// doubles from 100 ms to 30 s.
func ingestBackoff(n int) time.Duration {
	return retry.Backoff(100*time.Millisecond, 30*time.Second, n)
}
