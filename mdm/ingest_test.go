package mdm_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store/storetest"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/store"
)

func TestIngest(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Run("DSTDays", func(t *testing.T) { testDSTDays(t, newRig(t, e.open)) })
			t.Run("DuplicatesAndRedelivery", func(t *testing.T) { testDuplicates(t, newRig(t, e.open)) })
			t.Run("OutOfOrderPartialBlocks", func(t *testing.T) { testOutOfOrder(t, newRig(t, e.open)) })
			t.Run("EstimatesEditsAndConflicts", func(t *testing.T) { testEstimates(t, newRig(t, e.open)) })
			t.Run("DeadLetters", func(t *testing.T) { testDeadLetters(t, newRig(t, e.open)) })
			t.Run("RegistersAndEvents", func(t *testing.T) { testRegistersEvents(t, newRig(t, e.open)) })
			t.Run("StopAndRestart", func(t *testing.T) { testStopRestart(t, newRig(t, e.open)) })
			t.Run("StoreDownThenBack", func(t *testing.T) { testStoreDown(t, newRig(t, e.open)) })
			t.Run("ConcurrentWriter", func(t *testing.T) { testConcurrentWriter(t, newRig(t, e.open)) })
			t.Run("IngestsSharingTheStream", func(t *testing.T) { testSharedStream(t, newRig(t, e.open)) })
			t.Run("Stage", func(t *testing.T) { testStage(t, newRig(t, e.open)) })
		})
	}
}

func testDSTDays(t *testing.T, r *rig) {
	spring, autumn := springDay(), autumnDay()
	plain := autumn.AddDays(1)
	r.start(t, mdm.Options{})
	for _, d := range []cim.Date{spring, autumn, plain} {
		r.publishBlock(t, r.dayBlock("m1", d))
	}
	idle(t, r.bus)
	for d, n := range map[cim.Date]int{spring: 92, autumn: 100, plain: 96} {
		day := r.day(t, "m1", d)
		if len(day.Values) != n || !day.Start.Equal(d.Start(r.loc)) || day.Interval != 15*time.Minute || day.Source != interval.SourceMeter {
			t.Errorf("%s: %d intervals from %s every %s (%s), want %d", d, len(day.Values), day.Start, day.Interval, day.Source, n)
		}
		checkReadings(t, r.st, r.loc, r.dayBlock("m1", d))
		if v := r.versions(t, "m1", d); v != 1 {
			t.Errorf("%s: %d versions", d, v)
		}
	}
}

func testDuplicates(t *testing.T, r *rig) {
	d := autumnDay()
	b := r.dayBlock("m1", d)
	// The store commits the first write of the day but answers with an
	// error, as if the process died between commit and acknowledgement:
	// the batch comes again and must change nothing.
	fs := &flakyStore{Store: r.st}
	fs.failAfter.Store(1)
	r.st = fs
	in, _ := r.start(t, mdm.Options{})
	if r.publishBlock(t, b) {
		t.Fatal("first publish reported a duplicate")
	}
	if !r.publishBlock(t, b) {
		t.Fatal("the same message id was stored twice on the bus")
	}
	idle(t, r.bus)
	if in.Stats().Failed == 0 {
		t.Fatal("the failed write was not retried")
	}
	// The head-end read the same intervals again and published them
	// under another id.
	again := b
	again.Readings = b.Readings[10:20]
	r.publishBlock(t, again)
	idle(t, r.bus)
	checkReadings(t, r.st, r.loc, b)
	if v := r.versions(t, "m1", d); v != 1 {
		t.Errorf("%d versions after a duplicate, a redelivery and a re-read", v)
	}
	// The day was written by the attempt that "failed"; its redelivery
	// found it stored and wrote nothing. The ingest counts a batch once
	// it is acknowledged, just after the bus shows it settled.
	until(t, "both messages counted", func() bool { return in.Stats().Messages >= 2 })
	if s := in.Stats(); s.Messages != 2 || s.Failed != 1 || s.DaysWritten != 0 {
		t.Errorf("stats %+v", s)
	}
}

func testOutOfOrder(t *testing.T, r *rig) {
	d := springDay().AddDays(-1)
	full := block("m2", d.Start(r.loc).Add(15*time.Minute), 96+8, wh) // runs 2 hours into the next day
	var parts []cim.IntervalBlock
	for i := 0; i < len(full.Readings); i += 8 {
		p := full
		p.Readings = full.Readings[i:min(i+8, len(full.Readings))]
		// Within a block too, newest first.
		p.Readings = append([]cim.IntervalReading(nil), p.Readings...)
		for a, b := 0, len(p.Readings)-1; a < b; a, b = a+1, b-1 {
			p.Readings[a], p.Readings[b] = p.Readings[b], p.Readings[a]
		}
		parts = append(parts, p)
	}
	rand.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	// Part of the blocks before the ingest runs (one batch), the rest
	// while it runs (batches of their own).
	for _, p := range parts[:5] {
		r.publishBlock(t, p)
	}
	r.start(t, mdm.Options{Batch: 3})
	for _, p := range parts[5:] {
		r.publishBlock(t, p)
	}
	idle(t, r.bus)
	checkReadings(t, r.st, r.loc, full)
	day := r.day(t, "m2", d)
	for i, q := range day.Quality {
		if q != 0 {
			t.Fatalf("interval %d: %s", i, q)
		}
	}
	next := r.day(t, "m2", d.AddDays(1))
	if len(next.Values) != 92 {
		t.Fatalf("spring day has %d intervals", len(next.Values))
	}
	missing := 0
	for i, q := range next.Quality {
		if q == cim.QualityMissing {
			missing++
			if next.Values[i] != 0 {
				t.Errorf("missing interval %d valued %d", i, next.Values[i])
			}
		}
	}
	if missing != 92-8 {
		t.Errorf("spring day: %d missing, want %d", missing, 92-8)
	}
	if v := r.versions(t, "m2", d); v > len(parts) {
		t.Errorf("%d versions from %d blocks", v, len(parts))
	}
}

func testEstimates(t *testing.T, r *rig) {
	ctx := context.Background()
	d := autumnDay().AddDays(2)
	all := r.dayBlock("m1", d)
	// Estimation filled the night; a person edited interval 40.
	est := interval.Day{MeterID: "m1", Channel: "A+15m", Date: d, Start: d.Start(r.loc), Interval: 15 * time.Minute,
		Values: make([]int64, 96), Quality: make([]cim.Quality, 96), Source: interval.SourceEstimate}
	for i := range est.Quality {
		switch {
		case i < 32:
			est.Values[i], est.Quality[i] = 4242, cim.QualityEstimated
		case i == 40:
			est.Values[i], est.Quality[i] = 777, cim.QualityEdited
		default:
			est.Quality[i] = cim.QualityMissing
		}
	}
	if _, err := r.st.PutDays(ctx, []interval.Day{est}); err != nil {
		t.Fatal(err)
	}
	r.start(t, mdm.Options{})
	r.publishBlock(t, all)
	idle(t, r.bus)
	day := r.day(t, "m1", d)
	for i := range day.Values {
		want, q := all.Readings[i].Value, cim.Quality(0)
		if i == 40 {
			want, q = 777, cim.QualityEdited
		}
		if day.Values[i] != want || day.Quality[i] != q {
			t.Fatalf("interval %d: %d (%s), want %d (%s)", i, day.Values[i], day.Quality[i], want, q)
		}
	}
	if day.Version != 2 || day.Source != interval.SourceMeter || !strings.Contains(day.Reason, "edited") {
		t.Errorf("version %d source %s reason %q", day.Version, day.Source, day.Reason)
	}

	// An actual interval read again with a different value: the new
	// value, flagged suspect, and the version says why.
	changed := block("m1", all.Readings[50].End, 2, func(time.Time) int64 { return 99999 })
	r.publishBlock(t, changed)
	idle(t, r.bus)
	day = r.day(t, "m1", d)
	if day.Values[50] != 99999 || day.Quality[50] != cim.QualitySuspect || day.Values[51] != 99999 || day.Quality[52] != 0 {
		t.Errorf("changed intervals: %v %v", day.Values[49:53], day.Quality[49:53])
	}
	if day.Version != 3 || !strings.Contains(day.Reason, "2 interval(s) read again with a different value") {
		t.Errorf("version %d reason %q", day.Version, day.Reason)
	}
	vs, _ := r.st.DayVersions(ctx, "m1", "A+15m", d)
	if vs[1].Values[50] != all.Readings[50].Value {
		t.Error("the earlier value is not kept in the older version")
	}
}

func testDeadLetters(t *testing.T, r *rig) {
	_, stop := r.start(t, mdm.Options{})
	d := autumnDay().AddDays(3)
	good := r.dayBlock("m3", d)
	ghost := r.dayBlock("ghost", d)
	offGrid := r.dayBlock("m1", d)
	offGrid.Readings[7].End = offGrid.Readings[7].End.Add(7 * time.Minute)
	future := block("m1", time.Now().Add(48*time.Hour).Truncate(time.Hour), 4, wh)
	misrouted := r.dayBlock("m2", d)

	r.publish(t, bus.TopicIntervals, "m1", "garbage", []byte("{not json"))
	r.publishBlock(t, ghost)
	r.publishBlock(t, offGrid)
	r.publishBlock(t, future)
	r.publish(t, bus.TopicIntervals, "m1", "misrouted", misrouted)
	r.publish(t, bus.TopicRegisters, "ghost", "rr/ghost", []cim.Reading{{MeterID: "ghost", ReadingType: "A+", TimeStamp: time.Now(), Value: 1}})
	r.publish(t, bus.TopicEvent, "m1", "ev/bad", []byte(`{"mRID":"e","meter":"m1"`))
	r.publishBlock(t, good)
	idle(t, r.bus)
	checkReadings(t, r.st, r.loc, good)
	for _, m := range []string{"ghost", "m2"} {
		if _, err := r.st.Day(context.Background(), m, "A+15m", d); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("meter %s: a dead-lettered block left a day behind: %v", m, err)
		}
	}
	// A reading off the grid is no reason to refuse the block: it lands by
	// its end in the interval after, summed with that interval's reading,
	// and is flagged.
	og := r.day(t, "m1", d)
	if og.Quality[7] != cim.QualityMissing || og.Values[8] != offGrid.Readings[7].Value+offGrid.Readings[8].Value ||
		og.Quality[8] != cim.QualityClockAdjusted || og.Values[9] != offGrid.Readings[9].Value || og.Quality[9] != 0 {
		t.Errorf("off-grid block stored as %v %v", og.Values[6:10], og.Quality[6:10])
	}
	want := map[string]string{
		"garbage":       "does not decode",
		blockID(ghost):  "meter ghost is not in the registry",
		blockID(future): "after now",
		"misrouted":     "published on the subject of meter m1",
		"rr/ghost":      "not in the registry",
		"ev/bad":        "event on",
	}
	check := func() {
		t.Helper()
		dls, err := mdm.DeadLetters(context.Background(), r.bus, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(dls) != len(want) {
			t.Fatalf("%d dead letters, want %d: %+v", len(dls), len(want), dls)
		}
		for i, dl := range dls {
			w, ok := want[dl.MsgID]
			if !ok || !strings.Contains(dl.Reason, w) || dl.By != "mdm-ingest" || dl.Stream == "" || dl.StreamSeq == 0 || len(dl.Data) == 0 {
				t.Errorf("dead letter %+v, want reason %q", dl, w)
			}
			if i > 0 && dl.Seq >= dls[i-1].Seq {
				t.Error("dead letters not newest first")
			}
		}
		for _, dl := range dls {
			if dl.MsgID == "garbage" && (!strings.HasSuffix(dl.Subject, ".readings.m1.intervals") || string(dl.Data) != "{not json") {
				t.Errorf("dead letter of the garbage %+v", dl)
			}
		}
	}
	check()
	// Dead-lettered messages were acknowledged: a restarted ingest does
	// not see, nor dead-letter, them again.
	stop()
	r.start(t, mdm.Options{})
	r.publishBlock(t, r.dayBlock("m3", d.AddDays(1)))
	idle(t, r.bus)
	check()
	if dls, _ := mdm.DeadLetters(context.Background(), r.bus, 3); len(dls) != 3 {
		t.Errorf("limit 3 gave %d", len(dls))
	}
}

func testRegistersEvents(t *testing.T, r *rig) {
	ctx := context.Background()
	at := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	regs := []cim.Reading{
		{MeterID: "m1", ReadingType: "A+", TimeStamp: at, Value: 123456},
		{MeterID: "m1", ReadingType: "A-", TimeStamp: at, Value: 42, Quality: cim.QualityPowerDown},
	}
	ev := cim.EndDeviceEvent{MRID: "m1/log/17", MeterID: "m1", Type: cim.EventPowerOff, CreatedAt: at, Code: 17, Details: map[string]string{"phase": "L1"}}
	in, _ := r.start(t, mdm.Options{})
	r.publish(t, bus.TopicRegisters, "m1", "rr/1", regs)
	r.publish(t, bus.TopicRegisters, "m1", "rr/1-again", regs)
	r.publish(t, bus.TopicEvent, "m1", "ev/"+ev.MRID, ev)
	r.publish(t, bus.TopicEvent, "m1", "ev/"+ev.MRID+"/again", ev)
	idle(t, r.bus)
	got, err := r.st.RegisterReads(ctx, "m1", "", at.Add(-time.Minute), at.Add(time.Minute))
	if err != nil || len(got) != 2 || got[0].Value != 123456 || got[1].Value != 42 || got[1].Quality != cim.QualityPowerDown {
		t.Errorf("register reads %+v %v", got, err)
	}
	evs, err := r.st.Events(ctx, store.EventQuery{MeterID: "m1"})
	if err != nil || len(evs) != 1 || evs[0].MRID != ev.MRID || evs[0].Details["phase"] != "L1" || !evs[0].CreatedAt.Equal(at) {
		t.Errorf("events %+v %v", evs, err)
	}
	if s := in.Stats(); s.Registers != 4 || s.Events != 2 || s.Messages != 4 {
		t.Errorf("stats %+v", s)
	}
}

// testStopRestart stops the ingest mid-stream: every message acknowledged
// by then is stored, and after a restart every reading is stored once.
func testStopRestart(t *testing.T, r *rig) {
	first := autumnDay().AddDays(-20)
	var blocks []cim.IntervalBlock
	for i := range 30 {
		d := first.AddDays(i / 3)
		// Each day of m1 in three blocks of eight hours.
		blocks = append(blocks, block("m1", d.Start(r.loc).Add(time.Duration(i%3)*8*time.Hour+15*time.Minute), 32, wh))
	}
	var published sync.WaitGroup
	published.Go(func() {
		for _, b := range blocks {
			r.publishBlock(t, b)
		}
	})
	in, stop := r.start(t, mdm.Options{Batch: 4})
	until(t, "the ingest to store some messages", func() bool { return in.Stats().Messages >= 8 })
	stop()
	acked := in.Stats().Messages
	published.Wait()
	ctx := context.Background()
	info, err := r.bus.ConsumerStatus(ctx, bus.Readings, "mdm-ingest")
	if err != nil {
		t.Fatal(err)
	}
	// The stream holds the blocks in publish order, one message each.
	floor := int(info.AckFloor)
	if floor < 8 || uint64(floor) > acked || info.AckPending != 0 {
		t.Fatalf("after the stop: ack floor %d, %d acknowledged, %d pending acknowledgement", floor, acked, info.AckPending)
	}
	for _, b := range blocks[:floor] {
		checkReadings(t, r.st, r.loc, b)
	}
	r.start(t, mdm.Options{Batch: 4})
	idle(t, r.bus)
	for _, b := range blocks {
		checkReadings(t, r.st, r.loc, b)
	}
	for i := range 10 {
		if v := r.versions(t, "m1", first.AddDays(i)); v < 1 || v > 3 {
			t.Errorf("day %d: %d versions from 3 blocks", i, v)
		}
	}
}

// testStoreDown: while the store refuses writes nothing is acknowledged;
// when it is back everything lands.
func testStoreDown(t *testing.T, r *rig) {
	fs := &flakyStore{Store: r.st}
	fs.down.Store(true)
	r.st = fs
	in, _ := r.start(t, mdm.Options{Batch: 8})
	d := autumnDay().AddDays(5)
	var blocks []cim.IntervalBlock
	for _, m := range []string{"m1", "m2", "m3"} {
		b := r.dayBlock(m, d)
		blocks = append(blocks, b)
		r.publishBlock(t, b)
	}
	until(t, "a refused batch", func() bool { return in.Stats().Failed >= 2 })
	if s := in.Stats(); s.Messages != 0 {
		t.Fatalf("acknowledged %d messages while the store was down", s.Messages)
	}
	fs.down.Store(false)
	idle(t, r.bus)
	for _, b := range blocks {
		checkReadings(t, fs.Store, r.loc, b)
	}
}

// testConcurrentWriter: another writer stores a version of the day
// between the ingest's read and its write; its change survives.
func testConcurrentWriter(t *testing.T, r *rig) {
	ctx := context.Background()
	d := autumnDay().AddDays(6)
	all := r.dayBlock("m1", d)
	base := all
	base.Readings = all.Readings[:10]
	r.publishBlock(t, base)
	_, stop := r.start(t, mdm.Options{})
	idle(t, r.bus)
	stop()

	fs := &flakyStore{Store: r.st}
	fs.beforePut = func() {
		// A person edits interval 90 meanwhile.
		day, err := fs.Store.Day(ctx, "m1", "A+15m", d)
		if err != nil {
			t.Error(err)
			return
		}
		day.Values[90], day.Quality[90], day.Source = 1234, cim.QualityEdited, interval.SourceEdit
		if _, err := fs.Store.PutDays(ctx, []interval.Day{day}); err != nil {
			t.Error(err)
		}
	}
	r.st = fs
	in, _ := r.start(t, mdm.Options{})
	rest := all
	rest.Readings = all.Readings[10:]
	r.publishBlock(t, rest)
	idle(t, r.bus)
	day := r.day(t, "m1", d)
	for i, v := range day.Values {
		want := all.Readings[i].Value
		if i == 90 {
			want = 1234
		}
		if v != want {
			t.Fatalf("interval %d: %d, want %d (version %d)", i, v, want, day.Version)
		}
	}
	if s := in.Stats(); s.Conflicts != 1 {
		t.Errorf("stats %+v", s)
	}
}

func testStage(t *testing.T, r *rig) {
	var calls atomic.Int32
	// A toy validation: anything above 500 Wh a quarter hour is suspect.
	stage := func(d interval.Day) interval.Day {
		calls.Add(1)
		for i, v := range d.Values {
			if v > 500 && d.Quality[i]&cim.QualityMissing == 0 {
				d.Quality[i] |= cim.QualitySuspect
			}
		}
		return d
	}
	in, _ := r.start(t, mdm.Options{Stages: []mdm.Stage{stage}})
	d := autumnDay().AddDays(7)
	b := r.dayBlock("m1", d)
	r.publishBlock(t, b)
	r.publish(t, bus.TopicIntervals, "m1", "again", b)
	idle(t, r.bus)
	day := r.day(t, "m1", d)
	for i, v := range day.Values {
		if (v > 500) != (day.Quality[i] == cim.QualitySuspect) {
			t.Fatalf("interval %d: %d %s", i, v, day.Quality[i])
		}
	}
	if calls.Load() != 1 || r.versions(t, "m1", d) != 1 || in.Stats().Messages != 2 {
		t.Errorf("stage ran %d times, %d versions", calls.Load(), r.versions(t, "m1", d))
	}
}

// flakyStore is a store that can be down, can fail after committing, and
// can let another writer in before a write.
type flakyStore struct {
	store.Store
	down      atomic.Bool
	failAfter atomic.Int32 // this many PutDays commit and then report failure
	beforePut func()
	once      sync.Once
}

var errDown = errors.New("store unavailable (test)")

func (s *flakyStore) Day(ctx context.Context, m, c string, d cim.Date) (interval.Day, error) {
	if s.down.Load() {
		return interval.Day{}, errDown
	}
	return s.Store.Day(ctx, m, c, d)
}

func (s *flakyStore) DaysOfMeters(ctx context.Context, ranges []store.DayRange) ([][]interval.Day, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.DaysOfMeters(ctx, ranges)
}

func (s *flakyStore) PutDays(ctx context.Context, days []interval.Day) ([]int, error) {
	if s.down.Load() {
		return nil, errDown
	}
	if s.beforePut != nil {
		s.once.Do(s.beforePut)
	}
	vs, err := s.Store.PutDays(ctx, days)
	if err == nil && s.failAfter.Add(-1) >= 0 {
		return nil, errors.New("connection lost after commit (test)")
	}
	return vs, err
}

func (s *flakyStore) PutDaysIfLatest(ctx context.Context, days []interval.Day, bases []int) ([]store.DayWrite, error) {
	if s.down.Load() {
		return nil, errDown
	}
	if s.beforePut != nil {
		s.once.Do(s.beforePut)
	}
	ws, err := s.Store.PutDaysIfLatest(ctx, days, bases)
	if err == nil && s.failAfter.Add(-1) >= 0 {
		return nil, errors.New("connection lost after commit (test)")
	}
	return ws, err
}

// TestJSONBlocksStillIngest: blocks published as JSON, as the head-end did
// before the binary form, land as the binary ones do; a damaged binary
// block is a dead letter with the reason.
func TestJSONBlocksStillIngest(t *testing.T) {
	r := newRig(t, storetest.OpenSQLite)
	_, stop := r.start(t, mdm.Options{})
	defer stop()
	d := springDay().AddDays(-3)
	old, cur := r.dayBlock("m1", d), r.dayBlock("m2", d)
	r.publish(t, bus.TopicIntervals, "m1", blockID(old), old) // JSON
	r.publishBlock(t, cur)
	damaged := bus.AppendBlock(nil, r.dayBlock("m3", d))
	r.publish(t, bus.TopicIntervals, "m3", "ib/m3/damaged", damaged[:len(damaged)-2])
	idle(t, r.bus)
	a, b := r.day(t, "m1", d), r.day(t, "m2", d)
	if len(a.Values) == 0 || !slices.Equal(a.Values, b.Values) || !slices.Equal(a.Quality, b.Quality) {
		t.Fatalf("JSON day %v\nbinary day %v", a.Values, b.Values)
	}
	dls, err := mdm.DeadLetters(context.Background(), r.bus, 10)
	if err != nil || len(dls) != 1 || !strings.Contains(dls[0].Reason, "does not decode") {
		t.Fatalf("dead letters %+v, %v", dls, err)
	}
}

// Three ingests sharing the durable take small batches of the same days
// at once, so their writes of one day race: every reading must still be
// in the day's latest version.
func testSharedStream(t *testing.T, r *rig) {
	d := springDay().AddDays(-3)
	var fulls, parts []cim.IntervalBlock
	for _, m := range []string{"m1", "m2"} {
		full := block(m, d.Start(r.loc).Add(15*time.Minute), 96, wh)
		fulls = append(fulls, full)
		for i := 0; i < len(full.Readings); i += 4 {
			p := full
			p.Readings = full.Readings[i:min(i+4, len(full.Readings))]
			parts = append(parts, p)
		}
	}
	rand.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	for _, p := range parts {
		r.publishBlock(t, p)
	}
	for range 3 {
		r.start(t, mdm.Options{Batch: 2})
	}
	idle(t, r.bus)
	for _, full := range fulls {
		checkReadings(t, r.st, r.loc, full)
	}
}
