package mdm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

var ams = func() *time.Location {
	l, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		panic(err)
	}
	return l
}()

type rig struct {
	st  store.Store
	bus *bus.Bus
}

func newRig(t *testing.T, open func(testing.TB) (store.Store, string)) *rig {
	t.Helper()
	st, _ := open(t)
	b, err := bus.Open(context.Background(), bus.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	ctx := context.Background()
	if err := st.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up1", TimeZone: "Europe/Amsterdam"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMeters(ctx, cim.Meter{MRID: "m1", UsagePointID: "up1"}); err != nil {
		t.Fatal(err)
	}
	return &rig{st, b}
}

// run starts an ingest and returns its stop function.
func (r *rig) run(t *testing.T) func() {
	in, err := mdm.New(mdm.Options{Store: r.st, Bus: r.bus, Batch: 64})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func (r *rig) publish(t *testing.T, b cim.IntervalBlock) {
	t.Helper()
	data, _ := json.Marshal(b)
	id := fmt.Sprintf("ib/%s/%s/%d/%d", b.MeterID, b.ReadingType.ID, b.Readings[0].End.Unix(), len(b.Readings))
	if _, err := r.bus.Publish(context.Background(), r.bus.IntervalsSubject(b.MeterID), id, data); err != nil {
		t.Fatal(err)
	}
}

// block returns n quarter hours of value v ending from first on.
func block(meter string, first time.Time, n int, v int64) cim.IntervalBlock {
	b := cim.IntervalBlock{MeterID: meter, ReadingType: cim.EnergyImport15m}
	for i := range n {
		b.Readings = append(b.Readings, cim.IntervalReading{End: first.Add(time.Duration(i) * 15 * time.Minute), Value: v})
	}
	return b
}

// waitDay polls the store until the day satisfies ok.
func waitDay(t *testing.T, st store.Store, date cim.Date, ok func(store.Day) bool) store.Day {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		d, err := st.Day(context.Background(), "m1", "A+15m", date)
		if err == nil && ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("day %s never got there: %+v %v", date, d, err)
		}
		<-tick.C
	}
}

func count(d store.Day, q cim.Quality) int {
	n := 0
	for _, x := range d.Quality {
		if x&q != 0 {
			n++
		}
	}
	return n
}

func TestIngestSQLite(t *testing.T)   { testIngest(t, storetest.OpenSQLite) }
func TestIngestPostgres(t *testing.T) { testIngest(t, storetest.OpenPostgres) }

func testIngest(t *testing.T, open func(testing.TB) (store.Store, string)) {
	r := newRig(t, open)
	stop := r.run(t)
	defer func() { stop() }()
	spring := cim.Date{Year: 2026, Month: 3, Day: 29} // 23 hours in Amsterdam
	start := spring.Start(ams)
	// The afternoon arrives before the morning; the morning twice.
	r.publish(t, block("m1", start.Add(12*time.Hour+15*time.Minute), 44, 7))
	r.publish(t, block("m1", start.Add(15*time.Minute), 48, 5))
	r.publish(t, block("m1", start.Add(15*time.Minute), 48, 5))
	d := waitDay(t, r.st, spring, func(d store.Day) bool { return count(d, cim.QualityMissing) == 0 })
	if len(d.Values) != 92 {
		t.Fatalf("spring day has %d intervals, want 92", len(d.Values))
	}
	var sum int64
	for _, v := range d.Values {
		sum += v
	}
	if sum != 48*5+44*7 {
		t.Errorf("day sums to %d", sum)
	}
	vs, _ := r.st.DayVersions(context.Background(), "m1", "A+15m", spring)
	if len(vs) > 2 {
		t.Errorf("%d versions: a duplicate made a new one", len(vs))
	}

	// The autumn day has 100 quarter hours; a value that changes on
	// redelivery is kept but flagged.
	autumn := cim.Date{Year: 2026, Month: 10, Day: 25}
	r.publish(t, block("m1", autumn.Start(ams).Add(15*time.Minute), 100, 3))
	waitDay(t, r.st, autumn, func(d store.Day) bool { return len(d.Values) == 100 && count(d, cim.QualityMissing) == 0 })
	changed := block("m1", autumn.Start(ams).Add(15*time.Minute), 1, 9)
	changed.Readings[0].End = changed.Readings[0].End.Add(time.Nanosecond * 0)
	data, _ := json.Marshal(changed)
	r.bus.Publish(context.Background(), r.bus.IntervalsSubject("m1"), "changed", data)
	d = waitDay(t, r.st, autumn, func(d store.Day) bool { return d.Values[0] == 9 })
	if d.Quality[0]&cim.QualitySuspect == 0 {
		t.Error("a changed actual value is not flagged suspect")
	}

	// Bad messages go to dead letters; the stream moves on.
	r.publish(t, block("ghost", start.Add(15*time.Minute), 4, 1))
	off := block("m1", start.Add(15*time.Minute), 1, 1)
	off.Readings[0].End = off.Readings[0].End.Add(7 * time.Minute)
	r.publish(t, off)
	r.bus.Publish(context.Background(), r.bus.IntervalsSubject("m1"), "garbage", []byte("{not json"))
	next := cim.Date{Year: 2026, Month: 3, Day: 30}
	r.publish(t, block("m1", next.Start(ams).Add(15*time.Minute), 96, 1))
	waitDay(t, r.st, next, func(d store.Day) bool { return count(d, cim.QualityMissing) == 0 })
	var dead []mdm.DeadLetter
	deadline := time.Now().Add(10 * time.Second)
	for len(dead) < 3 && time.Now().Before(deadline) {
		dead, _ = mdm.DeadLetters(context.Background(), r.bus, 10)
	}
	if len(dead) != 3 {
		t.Fatalf("dead letters %+v", dead)
	}

	// A restarted ingest resumes without storing anything twice.
	stop()
	stop = r.run(t)
	r.publish(t, block("m1", next.Start(ams).Add(15*time.Minute), 96, 1))
	after := cim.Date{Year: 2026, Month: 3, Day: 31}
	r.publish(t, block("m1", after.Start(ams).Add(15*time.Minute), 4, 2))
	waitDay(t, r.st, after, func(d store.Day) bool { return d.Values[3] == 2 })
	vs, _ = r.st.DayVersions(context.Background(), "m1", "A+15m", next)
	if len(vs) != 1 {
		t.Errorf("day %s has %d versions after redelivery", next, len(vs))
	}
}
