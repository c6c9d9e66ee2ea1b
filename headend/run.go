package headend

import (
	"context"
	"errors"
	"fmt"
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

// Kinds of collection run, as Progress names them.
const (
	RunDaily    = "daily"    // the schedule's run of the day before
	RunIntraday = "intraday" // the schedule's run of today so far
	RunManual   = "manual"   // started through StartRun
	RunCatchUp  = "catch-up" // meters newly imported, read at once
	// RunTakeover reads the meters of shards this node gained from
	// another head-end node, for the latest run day, from their cursors.
	RunTakeover = "takeover"
)

// MaxRunAge is how many days back a run may be started by hand: meters
// keep a few months of profile, and a day older than a year is a typo.
const MaxRunAge = 366

// ErrBusy is returned by StartRun while another run is going.
var ErrBusy = errors.New("a collection run is already in progress")

// ErrBadDay is returned by StartRun for a day in the future or older
// than MaxRunAge days.
var ErrBadDay = errors.New("bad run day")

// RunOptions shape a run started by hand.
type RunOptions struct {
	// Spread spreads the jobs' start times over the configured window, as
	// the daily run does; without it every job starts at once, as many at
	// a time as the session limits allow.
	Spread bool
}

// runSpec is one run to start.
type runSpec struct {
	day    cim.Date
	kind   string
	window time.Duration
	meters []string // nil: every meter
}

// runner holds the background context Run provides.
type runner struct {
	mu      sync.Mutex
	ctx     context.Context
	zone    *time.Location
	running bool
	pending *runSpec // asked for before Run started
	// fullDay is the day of the latest run over every meter, whoever
	// started it: the schedule does not start that day's run again.
	fullDay cim.Date
	catchUp []string     // meters imported, waiting for their first run
	gained  map[int]bool // shards gained, waiting for a takeover run
	// owed are shards a run left while this node's lease on them looked
	// lapsed and nobody held them: when this node holds them again, it
	// reads what was left in a takeover run.
	owed map[int]bool
	// ownRequest is the run board request this node started itself;
	// ownCatchUps the catch-ups it asked for, already queued here.
	ownRequest  string
	ownCatchUps map[string]bool
	wg          sync.WaitGroup
}

// Run carries commands and runs the daily collection on schedule until ctx
// ends, then waits for runs it started.
func (h *HeadEnd) Run(ctx context.Context, sched ScheduleConfig) error {
	zone := sched.Zone
	if zone == nil {
		zone = time.UTC
	}
	h.run.mu.Lock()
	h.run.ctx, h.run.zone = ctx, zone
	pending := h.run.pending
	h.run.pending = nil
	h.run.mu.Unlock()
	defer h.run.wg.Wait()
	if pending != nil {
		h.startRun(*pending)
	}
	h.run.wg.Add(1)
	go func() {
		defer h.run.wg.Done()
		h.RunCommands(ctx)
	}()
	if h.board != nil {
		h.run.wg.Add(2)
		go func() {
			defer h.run.wg.Done()
			h.followBoard(ctx)
		}()
		go func() {
			defer h.run.wg.Done()
			h.reportProgress(ctx)
		}()
	}
	if h.leases != nil {
		h.run.wg.Add(1)
		go func() {
			defer h.run.wg.Done()
			h.watchLeases(ctx)
		}()
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
		switch {
		case sched.At >= 0 && now.Sub(today.Start(zone)) >= sched.At && today != last:
			// A run of the same day over every meter, started by hand
			// before the schedule came to it, is that day's run.
			if h.fullRunOf(today.AddDays(-1)) || h.startRun(runSpec{day: today.AddDays(-1), kind: RunDaily, window: h.ccfg.Window}) {
				last, intraday = today, now
			}
		case h.startCatchUp(today.AddDays(-1)):
		case h.startTakeover(ctx, today.AddDays(-1)):
		case sched.At >= 0 && sched.Intraday > 0 && today == last && now.Sub(intraday) >= sched.Intraday && !h.localProgress().Running:
			if h.startRun(runSpec{day: today, kind: RunIntraday, window: h.ccfg.Window}) {
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

// fullRunOf reports whether a run of day over every meter was started.
func (h *HeadEnd) fullRunOf(day cim.Date) bool {
	h.run.mu.Lock()
	defer h.run.mu.Unlock()
	return h.run.fullDay == day
}

// StartCollection starts the collection of run day `day` over every meter,
// spread over the window, in the background of Run (or as soon as Run
// starts); it returns false when a run is already going or Run has ended.
func (h *HeadEnd) StartCollection(day cim.Date) bool {
	return h.startRun(runSpec{day: day, kind: RunDaily, window: h.ccfg.Window})
}

// Today is the current day in the schedule's zone.
func (h *HeadEnd) Today() cim.Date {
	h.run.mu.Lock()
	zone := h.run.zone
	h.run.mu.Unlock()
	if zone == nil {
		zone = time.UTC
	}
	return cim.DateOf(h.now(), zone)
}

// StartRun starts a run over every meter by hand: for day, or yesterday
// when day is zero, as the daily run would. It refuses a day after today in the schedule's zone, or
// more than MaxRunAge days before it, with ErrBadDay, and returns ErrBusy
// while another run is going.
func (h *HeadEnd) StartRun(day cim.Date, o RunOptions) error {
	today := h.Today()
	if day.IsZero() {
		day = today.AddDays(-1)
	}
	if today.Before(day) {
		return fmt.Errorf("%w: %s is in the future (today is %s)", ErrBadDay, day, today)
	}
	if oldest := today.AddDays(-MaxRunAge); day.Before(oldest) {
		return fmt.Errorf("%w: %s is more than %d days before today (%s); meters keep no profile that old", ErrBadDay, day, MaxRunAge, today)
	}
	spec := runSpec{day: day, kind: RunManual}
	if o.Spread {
		spec.window = h.ccfg.Window
	}
	if h.board != nil {
		// Every head-end node runs its share, this one too if it runs
		// collection.
		return h.requestRun(spec)
	}
	if !h.startRun(spec) {
		return ErrBusy
	}
	return nil
}

// catchUpRun queues newly imported meters for a run of their own: the
// daily run would reach them only the next night.
func (h *HeadEnd) catchUpRun(ids []string) {
	if len(ids) == 0 {
		return
	}
	h.run.mu.Lock()
	h.run.catchUp = append(h.run.catchUp, ids...)
	h.run.mu.Unlock()
	if h.board != nil {
		// The meters' shards may be held elsewhere, and this node may not
		// collect at all: every head-end node queues them, and each reads
		// those it holds.
		h.requestCatchUp(ids)
	}
}

// startCatchUp starts a run of day for the meters waiting for their
// first, once no other run is going, spread over the short catch-up
// window; it reports whether it started one.
func (h *HeadEnd) startCatchUp(day cim.Date) bool {
	h.run.mu.Lock()
	ids := h.run.catchUp
	idle := !h.run.running
	h.run.mu.Unlock()
	if len(ids) == 0 || !idle {
		return false
	}
	if !h.startRun(runSpec{day: day, kind: RunCatchUp, window: min(h.ccfg.Window, h.ccfg.CatchUpWindow), meters: ids}) {
		return false
	}
	h.run.mu.Lock()
	// Meters queued meanwhile wait for the next catch-up.
	h.run.catchUp = append([]string(nil), h.run.catchUp[len(ids):]...)
	h.run.mu.Unlock()
	return true
}

// startRun starts spec in the background of Run (or as soon as Run
// starts); it returns false when a run is already going or Run has ended.
func (h *HeadEnd) startRun(spec runSpec) bool {
	h.run.mu.Lock()
	defer h.run.mu.Unlock()
	if h.run.ctx == nil {
		if h.run.pending != nil {
			return false
		}
		h.run.pending = &spec
		return true
	}
	if h.run.running || h.run.ctx.Err() != nil {
		return false
	}
	h.run.running = true
	if spec.meters == nil {
		h.run.fullDay = spec.day
	}
	h.progMu.Lock()
	h.progress = Progress{Day: spec.day, Kind: spec.kind, Running: true, StartedAt: h.now(), Node: h.nodeName()}
	h.progMu.Unlock()
	ctx := h.run.ctx
	h.run.wg.Add(1)
	go func() {
		defer h.run.wg.Done()
		if err := h.collect(ctx, spec, store.MeterQuery{}); err != nil && ctx.Err() == nil {
			h.log.Error("collection run failed", "day", spec.day.String(), "kind", spec.kind, "err", err)
		}
		h.run.mu.Lock()
		h.run.running = false
		h.run.mu.Unlock()
	}()
	return true
}
