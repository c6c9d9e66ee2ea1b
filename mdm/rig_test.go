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
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// engines are the store engines every ingest test runs against.
var engines = []struct {
	name string
	open func(testing.TB) (store.Store, string)
}{
	{"sqlite", storetest.OpenSQLite},
	{"postgres", storetest.OpenPostgres},
}

func amsterdam(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// lastSunday is the last Sunday of a month: the DST change in the EU.
// Tests take last year's, so that every reading lies in the past.
func lastSunday(year int, m time.Month) cim.Date {
	d := time.Date(year, m+1, 0, 12, 0, 0, 0, time.UTC)
	for d.Weekday() != time.Sunday {
		d = d.AddDate(0, 0, -1)
	}
	return cim.DateOf(d, time.UTC)
}

func springDay() cim.Date { return lastSunday(time.Now().Year()-1, time.March) }
func autumnDay() cim.Date { return lastSunday(time.Now().Year()-1, time.October) }

// rig is a store with a small registry and an embedded bus.
type rig struct {
	st  store.Store
	bus *bus.Bus
	loc *time.Location
}

func newRig(t *testing.T, open func(testing.TB) (store.Store, string)) *rig {
	t.Helper()
	st, _ := open(t)
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	register(t, st, "m1", "m2", "m3")
	return &rig{st: st, bus: b, loc: amsterdam(t)}
}

// register puts meters at one usage point in Amsterdam.
func register(t testing.TB, st store.Store, meters ...string) {
	t.Helper()
	ctx := context.Background()
	if err := st.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up-ams", TimeZone: "Europe/Amsterdam"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range meters {
		if err := st.PutMeters(ctx, cim.Meter{MRID: m, UsagePointID: "up-ams"}); err != nil {
			t.Fatal(err)
		}
	}
}

// start runs an ingest until the returned stop is called (or the test
// ends); stop waits for Run to return.
func (r *rig) start(t *testing.T, o mdm.Options) (*mdm.Ingest, func()) {
	t.Helper()
	o.Store, o.Bus = r.st, r.bus
	if o.Batch == 0 {
		o.Batch = 64
	}
	in, err := mdm.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ingest: %v", err)
		}
	}
	t.Cleanup(stop)
	return in, stop
}

// blockID is the message id the head-end gives a block.
func blockID(b cim.IntervalBlock) string {
	return fmt.Sprintf("ib/%s/%s/%d/%d/%d", b.MeterID, b.ReadingType.ID, b.Readings[0].End.Unix(),
		b.Readings[len(b.Readings)-1].End.Unix(), len(b.Readings))
}

// publish puts v on the bus as a message of topic t about meter, with the
// given id: raw bytes as they are, anything else as JSON.
func (r *rig) publish(t testing.TB, topic bus.Topic, meter, id string, v any) (duplicate bool) {
	t.Helper()
	data, ok := v.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	dup, err := r.bus.PublishSealed(context.Background(), r.bus.SealRaw(topic, meter, id, data))
	if err != nil {
		t.Fatal(err)
	}
	return dup
}

// publishBlock publishes a block as the head-end does, in binary.
func (r *rig) publishBlock(t testing.TB, b cim.IntervalBlock) bool {
	t.Helper()
	return r.publish(t, bus.TopicIntervals, b.MeterID, blockID(b), bus.AppendBlock(nil, b))
}

// block returns n quarter-hour readings of meter ending every quarter hour
// from first on, each valued by value(end).
func block(meter string, first time.Time, n int, value func(time.Time) int64) cim.IntervalBlock {
	b := cim.IntervalBlock{MeterID: meter, ReadingType: cim.EnergyImport15m}
	for i := range n {
		end := first.Add(time.Duration(i) * 15 * time.Minute)
		b.Readings = append(b.Readings, cim.IntervalReading{End: end, Value: value(end)})
	}
	return b
}

// wh is a reading's value derived from its time, so any reading can be
// checked wherever it landed.
func wh(end time.Time) int64 { return end.Unix()/900%1000 + 1 }

// dayBlock is a whole local day of meter.
func (r *rig) dayBlock(meter string, d cim.Date) cim.IntervalBlock {
	return block(meter, d.Start(r.loc).Add(15*time.Minute), d.Intervals(r.loc, 15*time.Minute), wh)
}

// idle waits until the ingest's consumers have nothing pending and
// nothing unacknowledged.
func idle(t testing.TB, b *bus.Bus) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		quiet := true
		for _, kind := range []string{bus.Readings, bus.Events} {
			if s, err := b.ConsumerStatus(ctx, kind, "mdm-ingest"); err != nil || !s.Idle() {
				quiet = false
			}
		}
		if quiet {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the ingest never caught up with the bus")
		}
		<-tick.C
	}
}

// until polls cond until it holds.
func until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func (r *rig) day(t testing.TB, meter string, d cim.Date) interval.Day {
	t.Helper()
	day, err := r.st.Day(context.Background(), meter, "A+15m", d)
	if err != nil {
		t.Fatalf("meter %s %s: %v", meter, d, err)
	}
	return day
}

func (r *rig) versions(t testing.TB, meter string, d cim.Date) int {
	t.Helper()
	vs, err := r.st.DayVersions(context.Background(), meter, "A+15m", d)
	if err != nil {
		t.Fatal(err)
	}
	return len(vs)
}

// checkReadings fails unless every reading of b is stored as sent.
func checkReadings(t testing.TB, st store.Store, loc *time.Location, b cim.IntervalBlock) {
	t.Helper()
	days := map[cim.Date]interval.Day{}
	for _, rd := range b.Readings {
		start := rd.End.Add(-b.ReadingType.Interval)
		date := cim.DateOf(start, loc)
		d, ok := days[date]
		if !ok {
			var err error
			if d, err = st.Day(context.Background(), b.MeterID, b.ReadingType.ID, date); err != nil {
				t.Fatalf("meter %s %s: %v", b.MeterID, date, err)
			}
			days[date] = d
		}
		i := int(start.Sub(d.Start) / b.ReadingType.Interval)
		if i < 0 || i >= len(d.Values) || d.Values[i] != rd.Value || d.Quality[i] != rd.Quality {
			t.Fatalf("meter %s reading ending %s: want %d (%s), stored day %s v%d has %v", b.MeterID, rd.End, rd.Value, rd.Quality, date, d.Version,
				func() any {
					if i < 0 || i >= len(d.Values) {
						return fmt.Sprintf("no slot %d", i)
					}
					return fmt.Sprintf("%d (%s)", d.Values[i], d.Quality[i])
				}())
		}
	}
}
