package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/vault"
)

// runFleetDay is the end-to-end figure: a simulated fleet in its own
// process holds a day of history; this process imports its manifest,
// collects the day with the head-end (HLS-GMAC, authenticated
// encryption), and the MDM validates and stores it in SQLite.
func runFleetDay(ctx context.Context, o Options) ([]Result, error) {
	n := o.Meters
	if n <= 0 {
		n = 100_000
	}
	if o.Tiny {
		n = 50
	}
	t0 := time.Now()
	sim, err := startSim(ctx, o, n)
	if err != nil {
		return nil, err
	}
	defer sim.stop()
	simUp := time.Since(t0)
	o.Log.Info("fleet up", "meters", n, "took", simUp.Round(time.Millisecond))

	st, err := store.Open(ctx, "sqlite:"+filepath.Join(o.Dir, "fleet-day.db"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	b, err := bus.Open(ctx, bus.Options{Dir: filepath.Join(o.Dir, "fleet-day-bus")})
	if err != nil {
		return nil, err
	}
	defer b.Close(context.Background())
	v, err := vault.New("bench", make([]byte, 32))
	if err != nil {
		return nil, err
	}
	keys := vault.NewKeyring(v)
	now := func() time.Time { return benchStart }
	h, err := headend.New(headend.Options{Store: st, Bus: b, Secrets: keys, Now: now,
		Drivers: []headend.Driver{dlmsdriver.New(dlmsdriver.Config{})},
		Collection: headend.CollectionConfig{Concurrency: 256, PerSegment: 256, Attempts: 3, JobTimeout: time.Minute,
			RetryBase: 100 * time.Millisecond, RetryMax: time.Second, BackfillDays: 1}})
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	if _, err := headend.Import(ctx, st, keys, []headend.Driver{dlmsdriver.New(dlmsdriver.Config{})}, sim.rows); err != nil {
		return nil, err
	}
	imported := time.Since(t1)
	// The parsed manifest is the harness's, not the head-end's: a million
	// rows are some 3 GB the collector would scan on every cycle of the
	// day, under the memory limit that makes it run often.
	sim.rows = nil
	in, err := mdm.New(mdm.Options{Store: st, Bus: b, Now: now, Validate: &mdm.VEEOptions{Rules: vee.DefaultRuleSets()}})
	if err != nil {
		return nil, err
	}
	ictx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.Run(ictx) }()
	defer func() { cancel(); <-done }()

	day := cim.DateOf(benchStart, time.UTC).AddDays(-1) // the last whole day
	cpu0, simCPU0 := selfCPU(), procCPU(sim.pid())
	t2 := time.Now()
	stopProgress := logProgress(o, t2, h, in, sim.pid())
	err = h.CollectDay(ctx, day, store.MeterQuery{})
	if err != nil {
		stopProgress()
		return nil, err
	}
	collected := time.Since(t2)
	if err := waitIdle(ctx, b); err != nil {
		stopProgress()
		return nil, err
	}
	wall := time.Since(t2)
	stopProgress()
	p := h.Progress()
	s := in.Stats()
	ok := float64(p.OK) / float64(max(p.Total, 1))
	cpu, simCPU := selfCPU()-cpu0, procCPU(sim.pid())-simCPU0
	ours, theirs := peakRSS(0), peakRSS(sim.pid())
	if s.Readings < uint64(p.Readings) {
		return nil, fmt.Errorf("the MDM stored %d readings of the %d collected", s.Readings, p.Readings)
	}
	byRule := map[string]int{}
	for after := int64(0); ; {
		es, err := st.ListExceptions(ctx, store.ExceptionQuery{After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			byRule[e.Rule]++
			if byRule[e.Rule] <= 2 {
				o.Log.Info("exception", "meter", e.MeterID, "channel", e.Channel, "day", e.Date.String(), "rule", e.Rule, "interval", e.Interval, "reason", e.Reason)
			}
		}
		if len(es) < 1000 {
			break
		}
		after = es[len(es)-1].ID
	}
	note := fmt.Sprintf("%d meters; simulator start %s, manifest import %s, collection %s, ingest caught up %s later",
		n, simUp.Round(time.Millisecond), imported.Round(time.Millisecond), collected.Round(time.Millisecond), (wall - collected).Round(time.Millisecond))
	return []Result{
		{Metric: "wall time, collect + validate + store", Value: wall.Seconds(), Unit: "s", Note: note},
		{Metric: "meters per second", Value: float64(p.Total) / wall.Seconds(), Unit: "meters/s"},
		{Metric: "readings per second", Value: float64(p.Readings) / wall.Seconds(), Unit: "readings/s"},
		{Metric: "read success", Value: 100 * ok, Unit: "%"},
		{Metric: "head-end + MDM CPU per meter", Value: float64(cpu.Microseconds()) / float64(max(p.Total, 1)), Unit: "µs",
			Baseline: "simulator CPU per meter", BaselineValue: float64(simCPU.Microseconds()) / float64(max(p.Total, 1))},
		{Metric: "peak memory, head-end + MDM process", Value: ours, Unit: "MiB", Note: "the bench process's high-water mark, all suites so far"},
		{Metric: "peak memory, simulator process", Value: theirs, Unit: "MiB"},
		{Metric: "validation exceptions", Value: float64(s.Exceptions), Unit: "exceptions", Note: fmt.Sprintf("by rule: %v", byRule)},
	}, nil
}

// waitIdle waits until the ingest has acknowledged everything on the bus.
func waitIdle(ctx context.Context, b *bus.Bus) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		quiet := true
		for _, kind := range []string{bus.Readings, bus.Events} {
			s, err := b.ConsumerStatus(ctx, kind, "mdm-ingest")
			if err != nil || s.Pending > 0 || s.AckPending > 0 {
				quiet = false
			}
		}
		if quiet {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// logProgress logs the run every 30 seconds until the returned stop is
// called: a million-meter day is long to watch in silence.
func logProgress(o Options, t0 time.Time, h *headend.HeadEnd, in *mdm.Ingest, simPID int) (stop func()) {
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		tick := time.NewTicker(30 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			p, s := h.Progress(), in.Stats()
			el := time.Since(t0)
			o.Log.Info("fleet-day progress", "elapsed", el.Round(time.Second), "collected", p.Done, "of", p.Total, "failed", p.Failed,
				"meters/s", int(float64(p.Done)/el.Seconds()), "readings stored", s.Readings,
				"rss MiB", int(float64(procKB("/proc/self/status", "VmRSS"))/1024),
				"simulator rss MiB", int(float64(procKB(fmt.Sprintf("/proc/%d/status", simPID), "VmRSS"))/1024))
		}
	}()
	return sync.OnceFunc(func() { close(done); <-ended })
}
