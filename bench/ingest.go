package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for schema set-up

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/store"
	_ "github.com/amigo-ami/amigo/store/engines" // what store.Open opens
)

// engine opens fresh, empty stores of one kind.
type engine struct {
	name string
	open func(ctx context.Context, tag string) (store.Store, func(), error)
}

func engines(o Options) []engine {
	es := []engine{{"sqlite", func(ctx context.Context, tag string) (store.Store, func(), error) {
		s, err := store.Open(ctx, "sqlite:"+filepath.Join(o.Dir, tag+".db"))
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}}}
	if o.Postgres != "" {
		es = append(es, engine{"postgres", func(ctx context.Context, tag string) (store.Store, func(), error) {
			return pgSchema(ctx, o.Postgres, tag)
		}})
	}
	return es
}

// pgSchema opens the store in a schema of its own, dropped on close, so a
// run leaves the database as it found it.
func pgSchema(ctx context.Context, base, tag string) (store.Store, func(), error) {
	url, drop, err := pgSchemaURL(ctx, base, tag)
	if err != nil {
		return nil, nil, err
	}
	s, err := store.Open(ctx, url)
	if err != nil {
		drop()
		return nil, nil, err
	}
	return s, func() { s.Close(); drop() }, nil
}

// pgSchemaURL makes a schema of its own on the server at base and returns
// a URL whose connections use it, and a function that drops it.
func pgSchemaURL(ctx context.Context, base, tag string) (string, func(), error) {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	schema := "amigo_bench_" + strings.ReplaceAll(tag, "-", "_") + "_" + hex.EncodeToString(rnd[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	drop := func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema, drop, nil
}

// loadValue is a household's quarter hour: a night base, a morning and an
// evening peak, different per meter.
func loadValue(meter int, at time.Time) int64 {
	h := float64(at.Hour()) + float64(at.Minute())/60
	v := 40 + 90*math.Exp(-(h-7.5)*(h-7.5)/2) + 160*math.Exp(-(h-19)*(h-19)/3)
	return int64(v*(0.7+0.6*float64(meter%17)/17)) + int64(at.Minute()%7)
}

// benchDays builds every meter's quarter-hour day blocks, days after first.
func benchDays(ids []string, first cim.Date, days int, loc *time.Location) []cim.IntervalBlock {
	var out []cim.IntervalBlock
	for k := range days {
		date := first.AddDays(k)
		start, n := date.Start(loc), date.Intervals(loc, 15*time.Minute)
		for i, id := range ids {
			b := cim.IntervalBlock{MeterID: id, ReadingType: cim.EnergyImport15m, Readings: make([]cim.IntervalReading, n)}
			for j := range n {
				end := start.Add(time.Duration(j+1) * 15 * time.Minute)
				b.Readings[j] = cim.IntervalReading{End: end, Value: loadValue(i, end)}
			}
			out = append(out, b)
		}
	}
	return out
}

func runIngest(ctx context.Context, o Options) ([]Result, error) {
	meters, days := 2000, 4
	if o.Tiny {
		meters, days = 40, 2
	}
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		return nil, err
	}
	ids := make([]string, meters)
	for i := range ids {
		ids[i] = fmt.Sprintf("BENCH%06d", i)
	}
	blocks := benchDays(ids, cim.Date{Year: 2026, Month: 11, Day: 2}, days, loc)
	readings := 0
	for _, b := range blocks {
		readings += len(b.Readings)
	}
	var out []Result
	for _, e := range engines(o) {
		raw, err := rawInsert(ctx, e, blocks, loc)
		if err != nil {
			return nil, fmt.Errorf("%s raw insert: %w", e.name, err)
		}
		for _, validate := range []bool{false, true} {
			el, err := ingestOnce(ctx, o, e, ids, blocks, validate)
			if err != nil {
				return nil, fmt.Errorf("%s ingest: %w", e.name, err)
			}
			what := "merge"
			if validate {
				what = "merge, VEE"
			}
			out = append(out, Result{Metric: fmt.Sprintf("%s: bus → %s → store", e.name, what), Value: float64(readings) / el.Seconds(),
				Unit: "readings/s", Baseline: "raw PutDays of the same day rows", BaselineValue: float64(readings) / raw.Seconds(),
				Note: noteIf(validate && e.name == "sqlite", fmt.Sprintf("%d meters × %d days; goal 5,000,000 readings/s and half the raw rate", meters, days))})
		}
	}
	return out, nil
}

func noteIf(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}

// rawInsert writes the blocks as day rows straight into a fresh store, in
// the batches the ingest uses.
func rawInsert(ctx context.Context, e engine, blocks []cim.IntervalBlock, loc *time.Location) (time.Duration, error) {
	st, closeFn, err := e.open(ctx, "raw")
	if err != nil {
		return 0, err
	}
	defer closeFn()
	ds := make([]interval.Day, len(blocks))
	for i, b := range blocks {
		first := b.Readings[0].End.Add(-15 * time.Minute)
		date := cim.DateOf(first, loc)
		d := interval.Day{MeterID: b.MeterID, Channel: b.ReadingType.ID, Date: date, Start: date.Start(loc), Interval: 15 * time.Minute,
			Values: make([]int64, len(b.Readings)), Quality: make([]cim.Quality, len(b.Readings)), Source: interval.SourceMeter}
		for j, r := range b.Readings {
			d.Values[j] = r.Value
		}
		ds[i] = d
	}
	t0 := time.Now()
	for i := 0; i < len(ds); i += 512 {
		if _, err := st.PutDays(ctx, ds[i:min(i+512, len(ds))]); err != nil {
			return 0, err
		}
	}
	return time.Since(t0), nil
}

// ingestOnce publishes the blocks to a fresh bus, then times an ingest
// from the first message to the last acknowledged.
func ingestOnce(ctx context.Context, o Options, e engine, ids []string, blocks []cim.IntervalBlock, validate bool) (time.Duration, error) {
	tag := "ingest"
	if validate {
		tag = "ingest-vee"
	}
	st, closeFn, err := e.open(ctx, tag)
	if err != nil {
		return 0, err
	}
	defer closeFn()
	if err := st.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up-bench", TimeZone: "Europe/Amsterdam"}); err != nil {
		return 0, err
	}
	ms := make([]cim.Meter, len(ids))
	for i, id := range ids {
		ms[i] = cim.Meter{MRID: id, UsagePointID: "up-bench", Protocol: "dlms"}
	}
	if err := st.PutMeters(ctx, ms...); err != nil {
		return 0, err
	}
	b, err := bus.Open(ctx, bus.Options{Dir: filepath.Join(o.Dir, e.name+"-"+tag+"-bus")})
	if err != nil {
		return 0, err
	}
	defer b.Close(context.Background())
	for _, blk := range blocks {
		if _, err := b.Publish(ctx, bus.Intervals(blk)); err != nil {
			return 0, err
		}
	}
	opts := mdm.Options{Store: st, Bus: b, Now: func() time.Time { return benchStart }}
	if validate {
		opts.Validate = &mdm.VEEOptions{Rules: vee.DefaultRuleSets(), HistoryDays: 28}
	}
	in, err := mdm.New(opts)
	if err != nil {
		return 0, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- in.Run(rctx) }()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for in.Stats().Messages < uint64(len(blocks)) {
		select {
		case <-tick.C:
		case err := <-done:
			cancel()
			return 0, fmt.Errorf("ingest stopped: %v", err)
		case <-ctx.Done():
			cancel()
			<-done
			return 0, ctx.Err()
		}
	}
	el := time.Since(t0)
	cancel()
	if err := <-done; err != nil {
		return 0, err
	}
	if s := in.Stats(); s.DeadLetters > 0 || s.Readings < uint64(len(blocks)) {
		return 0, fmt.Errorf("ingest dead-lettered %d of %d messages", s.DeadLetters, len(blocks))
	}
	return el, nil
}
