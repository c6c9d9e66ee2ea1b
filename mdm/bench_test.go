package mdm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/store"
)

// BenchmarkIngest measures interval readings per second from the bus
// through merge into the store (a day block per meter, one message each),
// and in the same run a raw PutDays of the same day rows into a second
// store of the same engine: the difference is what decoding, placing,
// reading the stored day, merging and acknowledging cost. The vee cases
// validate every day written as well; on SQLite they also ingest the same
// days published as JSON, as the bus carried blocks before the binary
// form, into a third store: the ratio binary/json is the binary payload's
// effect on ingest. The vee-history cases start from 28 days of every
// meter already stored, in every store, so that each validated day reads
// a full like-day history: the steady state of a running system.
func BenchmarkIngest(b *testing.B) {
	veeOpts := &mdm.VEEOptions{Rules: vee.DefaultRuleSets(), HistoryDays: 28}
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) { benchIngest(b, e.open, nil, e.name == "sqlite", 0) })
		b.Run(e.name+"/vee", func(b *testing.B) { benchIngest(b, e.open, veeOpts, e.name == "sqlite", 0) })
		b.Run(e.name+"/vee-history", func(b *testing.B) { benchIngest(b, e.open, veeOpts, false, 28) })
	}
}

// ingester is an ingest over a store and a bus of its own.
type ingester struct {
	st store.Store
	bs *bus.Bus
	in *mdm.Ingest
	// encode is how blocks are published.
	encode func(cim.IntervalBlock) []byte
	took   time.Duration
}

func newIngester(b *testing.B, open func(testing.TB) (store.Store, string), ids []string, batch int, validate *mdm.VEEOptions,
	encode func(cim.IntervalBlock) []byte) *ingester {
	st, _ := open(b)
	register(b, st, ids...)
	bs, err := bus.Open(context.Background(), bus.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bs.Close(context.Background()) })
	in, err := mdm.New(mdm.Options{Store: st, Bus: bs, Batch: batch, Validate: validate})
	if err != nil {
		b.Fatal(err)
	}
	return &ingester{st: st, bs: bs, in: in, encode: encode}
}

// ingest publishes blocks, then times the ingest from its start to the
// last message acknowledged. The caller stops the benchmark's timer
// around what is not ingest.
func (g *ingester) ingest(b *testing.B, blocks []cim.IntervalBlock) {
	ctx := context.Background()
	for _, blk := range blocks {
		if _, err := g.bs.PublishSealed(ctx, g.bs.SealRaw(bus.TopicIntervals, blk.MeterID, blockID(blk), g.encode(blk))); err != nil {
			b.Fatal(err)
		}
	}
	target := g.in.Stats().Messages + uint64(len(blocks))
	b.StartTimer()
	t0 := time.Now()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- g.in.Run(rctx) }()
	tick := time.NewTicker(100 * time.Microsecond)
	for g.in.Stats().Messages < target {
		<-tick.C
	}
	tick.Stop()
	g.took += time.Since(t0)
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if s := g.in.Stats(); s.DeadLetters > 0 {
		b.Fatalf("%d messages dead-lettered", s.DeadLetters)
	}
}

// benchDay is every meter's block of one day, and the same readings as
// day rows.
func benchDay(ids []string, date cim.Date, loc *time.Location) ([]cim.IntervalBlock, []interval.Day) {
	days := make([]interval.Day, 0, len(ids))
	blocks := make([]cim.IntervalBlock, 0, len(ids))
	for _, m := range ids {
		blk := block(m, date.Start(loc).Add(15*time.Minute), date.Intervals(loc, 15*time.Minute), wh)
		blocks = append(blocks, blk)
		d := interval.Day{MeterID: m, Channel: blk.ReadingType.ID, Date: date, Start: date.Start(loc), Interval: 15 * time.Minute,
			Values: make([]int64, len(blk.Readings)), Quality: make([]cim.Quality, len(blk.Readings)), Source: interval.SourceMeter}
		for j, r := range blk.Readings {
			d.Values[j] = r.Value
		}
		days = append(days, d)
	}
	return blocks, days
}

func benchIngest(b *testing.B, open func(testing.TB) (store.Store, string), validate *mdm.VEEOptions, withJSON bool, history int) {
	const meters, batch = 500, 512
	ctx := context.Background()
	var ids []string
	for i := range meters {
		ids = append(ids, fmt.Sprintf("b%04d", i))
	}
	binary := newIngester(b, open, ids, batch, validate, func(blk cim.IntervalBlock) []byte { return bus.AppendBlock(nil, blk) })
	var asJSON *ingester
	if withJSON {
		asJSON = newIngester(b, open, ids, batch, validate, func(blk cim.IntervalBlock) []byte {
			data, err := json.Marshal(blk)
			if err != nil {
				b.Fatal(err)
			}
			return data
		})
	}
	raw, _ := open(b)
	loc := amsterdam(b)
	first := autumnDay().AddDays(-400)
	for k := history; k > 0; k-- {
		_, days := benchDay(ids, first.AddDays(-k), loc)
		for _, st := range []store.Store{raw, binary.st} {
			for j := 0; j < len(days); j += batch {
				if _, err := st.PutDays(ctx, days[j:min(j+batch, len(days))]); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	var rawT time.Duration
	var readings int
	b.ResetTimer()
	b.StopTimer()
	for i := range b.N {
		blocks, days := benchDay(ids, first.AddDays(i), loc)
		for _, blk := range blocks {
			readings += len(blk.Readings)
		}
		binary.ingest(b, blocks)
		if asJSON != nil {
			asJSON.ingest(b, blocks)
		}
		t0 := time.Now()
		for j := 0; j < len(days); j += batch {
			if _, err := raw.PutDays(ctx, days[j:min(j+batch, len(days))]); err != nil {
				b.Fatal(err)
			}
		}
		rawT += time.Since(t0)
	}
	viaBus := float64(readings) / binary.took.Seconds()
	direct := float64(readings) / rawT.Seconds()
	b.ReportMetric(viaBus, "readings/s")
	b.ReportMetric(direct, "raw-putdays-readings/s")
	b.ReportMetric(viaBus/direct, "ingest/raw")
	if asJSON != nil {
		viaJSON := float64(readings) / asJSON.took.Seconds()
		b.ReportMetric(viaJSON, "json-readings/s")
		b.ReportMetric(viaBus/viaJSON, "binary/json")
	}
}

// BenchmarkCheck compares the head-end's check of one meter's day before
// publishing: decoding its own payloads again (CheckMessage) against
// checking the values it still holds (CheckBlock, CheckRegisters).
func BenchmarkCheck(b *testing.B) {
	loc := time.UTC
	start := time.Date(2026, 12, 5, 0, 0, 0, 0, loc)
	now := start.Add(26 * time.Hour)
	blk := cim.IntervalBlock{MeterID: "AMG1", ReadingType: cim.EnergyImport15m}
	for i := 1; i <= 96; i++ {
		blk.Readings = append(blk.Readings, cim.IntervalReading{End: start.Add(time.Duration(i) * 15 * time.Minute), Value: int64(100 + i)})
	}
	var regs []cim.Reading
	for i := 0; i < 28; i++ {
		regs = append(regs, cim.Reading{MeterID: "AMG1", ReadingType: fmt.Sprintf("A+T%d", i), TimeStamp: now, Value: int64(i) * 1000})
	}
	blockData := bus.AppendBlock(nil, blk)
	regData, err := json.Marshal(regs)
	if err != nil {
		b.Fatal(err)
	}
	blockSubject := "amigo.readings.AMG1.intervals"
	regSubject := "amigo.readings.AMG1.registers"
	b.Run("decoded-again", func(b *testing.B) {
		for b.Loop() {
			if err := mdm.CheckMessage(blockSubject, blockData, loc, now); err != nil {
				b.Fatal(err)
			}
			if err := mdm.CheckMessage(regSubject, regData, loc, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("values", func(b *testing.B) {
		for b.Loop() {
			if err := mdm.CheckBlock(&blk, loc, now); err != nil {
				b.Fatal(err)
			}
			if err := mdm.CheckRegisters(regs, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
