package headend

import (
	"context"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// ScheduleConfig says when the daily collection runs.
type ScheduleConfig struct {
	// Zone is the time zone of the schedule (nil: UTC).
	Zone *time.Location
	// At is the time after local midnight the run for the day before
	// starts; a negative value disables the schedule.
	At time.Duration
	// Intraday, when positive, collects today's readings so far that
	// often once the day's run for yesterday has started, so that the
	// portal and the console see the day as it goes.
	Intraday time.Duration
}

// runner holds the background context Run provides.
type runner struct {
	mu      sync.Mutex
	ctx     context.Context
	running bool
	pending *cim.Date // asked for before Run started
	wg      sync.WaitGroup
}

// Run carries commands and runs the daily collection on schedule until ctx
// ends, then waits for runs it started.
func (h *HeadEnd) Run(ctx context.Context, sched ScheduleConfig) error {
	h.run.mu.Lock()
	h.run.ctx = ctx
	pending := h.run.pending
	h.run.pending = nil
	h.run.mu.Unlock()
	defer h.run.wg.Wait()
	if pending != nil {
		h.StartCollection(*pending)
	}
	h.run.wg.Add(1)
	go func() {
		defer h.run.wg.Done()
		h.RunCommands(ctx)
	}()
	if sched.At < 0 {
		<-ctx.Done()
		return nil
	}
	zone := sched.Zone
	if zone == nil {
		zone = time.UTC
	}
	// The clock may be simulated and fast, so poll it rather than sleep
	// until the next run.
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	var last cim.Date
	var intraday time.Time
	for {
		now := h.now().In(zone)
		today := cim.DateOf(now, zone)
		if now.Sub(today.Start(zone)) >= sched.At && today != last {
			if h.StartCollection(today.AddDays(-1)) {
				last, intraday = today, now
			}
		} else if sched.Intraday > 0 && today == last && now.Sub(intraday) >= sched.Intraday && !h.Progress().Running {
			if h.StartCollection(today) {
				intraday = now
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// StartCollection starts the collection of run day `day` in the
// background of Run (or as soon as Run starts); it returns false when a
// run is already going or Run has ended.
func (h *HeadEnd) StartCollection(day cim.Date) bool {
	h.run.mu.Lock()
	defer h.run.mu.Unlock()
	if h.run.ctx == nil {
		if h.run.pending != nil {
			return false
		}
		h.run.pending = &day
		return true
	}
	if h.run.running || h.run.ctx.Err() != nil {
		return false
	}
	h.run.running = true
	h.progMu.Lock()
	h.progress = Progress{Day: day, Running: true, StartedAt: h.now()}
	h.progMu.Unlock()
	ctx := h.run.ctx
	h.run.wg.Add(1)
	go func() {
		defer h.run.wg.Done()
		if err := h.CollectDay(ctx, day, store.MeterQuery{}); err != nil && ctx.Err() == nil {
			h.log.Error("collection run failed", "day", day.String(), "err", err)
		}
		h.run.mu.Lock()
		h.run.running = false
		h.run.mu.Unlock()
	}()
	return true
}
