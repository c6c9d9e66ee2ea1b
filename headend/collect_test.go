package headend_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/prometheus/client_golang/prometheus"
)

// plainSecrets "opens" secrets stored in clear: the vault has its own tests.
type plainSecrets struct{}

func (plainSecrets) Open(sealed, aad []byte) ([]byte, error) {
	return append([]byte(nil), sealed...), nil
}

var (
	errRefused = errors.New("fake: connection refused")
	errAuth    = errors.New("fake: authentication failed")
)

// fakeDriver serves meters whose behaviour is set per meter id, and
// records the sessions in flight per segment.
type fakeDriver struct {
	mu        sync.Mutex
	behaviour map[string]string // ok (default), refused, auth, flaky, hang, empty, future-once
	opens     map[string]int
	inSeg     map[string]int
	maxSeg    map[string]int
	inAll     int
	maxAll    int
	gate      chan struct{} // when set, Collect waits for it
}

func newFakeDriver() *fakeDriver {
	return &fakeDriver{behaviour: map[string]string{}, opens: map[string]int{}, inSeg: map[string]int{}, maxSeg: map[string]int{}}
}

func (d *fakeDriver) Protocol() string { return "fake" }

func (d *fakeDriver) Columns() []manifest.Column { return nil }

func (d *fakeDriver) Register(r manifest.Row) (headend.Registration, error) {
	return headend.Registration{Credentials: []byte("fake credentials")}, nil
}

func (d *fakeDriver) Cause(err error) string {
	switch {
	case errors.Is(err, errRefused):
		return headend.OutcomeRefused
	case errors.Is(err, errAuth):
		return headend.OutcomeAuth
	}
	return ""
}

func (d *fakeDriver) Open(ctx context.Context, t headend.Target) (headend.Session, error) {
	d.mu.Lock()
	d.opens[t.Meter.MRID]++
	n := d.opens[t.Meter.MRID]
	b := d.behaviour[t.Meter.MRID]
	d.mu.Unlock()
	switch {
	case b == "refused":
		return nil, errRefused
	case b == "auth":
		return nil, errAuth
	case b == "flaky" && n == 1:
		return nil, errRefused
	case b == "hang":
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if _, err := t.Counters.Reserve(ctx, "fake/ic", 4); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.inSeg[t.Meter.Segment]++
	d.maxSeg[t.Meter.Segment] = max(d.maxSeg[t.Meter.Segment], d.inSeg[t.Meter.Segment])
	d.inAll++
	d.maxAll = max(d.maxAll, d.inAll)
	d.mu.Unlock()
	return &fakeSession{d: d, t: t}, nil
}

type fakeSession struct {
	d *fakeDriver
	t headend.Target
}

// Collect returns one reading per quarter hour after the cursor up to
// Until, each worth 10 Wh.
func (s *fakeSession) Collect(ctx context.Context, p headend.Plan) (headend.Collection, error) {
	if s.d.gate != nil {
		select {
		case <-s.d.gate:
		case <-ctx.Done():
			return headend.Collection{}, ctx.Err()
		}
	}
	s.d.mu.Lock()
	behaviour, opens := s.d.behaviour[s.t.Meter.MRID], s.d.opens[s.t.Meter.MRID]
	s.d.mu.Unlock()
	if behaviour == "empty" {
		return headend.Collection{}, nil // the session went well, the profile gave nothing
	}
	from := p.Since["profile"]
	if from.IsZero() {
		from = p.Backfill
	}
	b := cim.IntervalBlock{MeterID: s.t.Meter.MRID, ReadingType: cim.EnergyImport15m}
	last := from
	for t := from.Add(15 * time.Minute); !t.After(p.Until); t = t.Add(15 * time.Minute) {
		b.Readings = append(b.Readings, cim.IntervalReading{End: t, Value: 10})
		last = t
	}
	if behaviour == "future-once" && opens == 1 {
		// A clock gone wild for one session: an entry two days ahead.
		b.Readings = append(b.Readings, cim.IntervalReading{End: p.Until.Add(48 * time.Hour), Value: 10})
	}
	return headend.Collection{Blocks: []cim.IntervalBlock{b}, Complete: !last.Before(p.Until),
		Cursors: map[string]time.Time{"profile": last}}, nil
}

func (s *fakeSession) Clock(ctx context.Context) (time.Time, error)    { return time.Now(), nil }
func (s *fakeSession) SetClock(ctx context.Context, t time.Time) error { return nil }
func (s *fakeSession) Execute(ctx context.Context, c cim.EndDeviceControl) (string, error) {
	return "done", nil
}
func (s *fakeSession) Close(ctx context.Context) error {
	s.d.mu.Lock()
	s.d.inSeg[s.t.Meter.Segment]--
	s.d.inAll--
	s.d.mu.Unlock()
	return nil
}

type rig struct {
	st  store.Store
	bus *bus.Bus
	drv *fakeDriver
	h   *headend.HeadEnd
	now time.Time
	reg *prometheus.Registry
}

// metricValue sums a counter or gauge over its label sets.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return v
}

func newRig(t *testing.T, meters, segments int, cfg headend.CollectionConfig) *rig {
	t.Helper()
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	sec := []byte("fake credentials")
	var ms []cim.Meter
	for i := range meters {
		ms = append(ms, cim.Meter{MRID: fmt.Sprintf("m%05d", i), Protocol: "fake", Segment: fmt.Sprintf("seg-%d", i%segments), Status: "installed"})
	}
	if err := st.PutMeters(ctx, ms...); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := st.PutMeterSecret(ctx, m.MRID, sec); err != nil {
			t.Fatal(err)
		}
	}
	r := &rig{st: st, bus: b, drv: newFakeDriver(), now: time.Date(2026, 3, 30, 2, 0, 0, 0, time.UTC), reg: prometheus.NewRegistry()}
	cfg.RetryBase, cfg.RetryMax = time.Millisecond, 5*time.Millisecond
	r.h, err = headend.New(headend.Options{Store: st, Bus: b, Secrets: plainSecrets{}, Drivers: []headend.Driver{r.drv},
		Now: func() time.Time { return r.now }, Collection: cfg, Metrics: r.reg, Safeguards: noSafeguards})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) readings(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	err := r.bus.Stored(ctx, bus.Readings, 0, func(_ uint64, m bus.Message, err error) bool {
		if err != nil {
			t.Fatal(err)
		}
		n += len(m.(bus.Intervals).Readings)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCollectionLimitsRetriesAndCauses(t *testing.T) {
	r := newRig(t, 60, 3, headend.CollectionConfig{Concurrency: 8, PerSegment: 2, Attempts: 3, JobTimeout: 200 * time.Millisecond, BackfillDays: 1})
	r.drv.behaviour["m00001"] = "refused"
	r.drv.behaviour["m00002"] = "auth"
	r.drv.behaviour["m00003"] = "flaky"
	r.drv.behaviour["m00004"] = "hang"
	day := cim.Date{Year: 2026, Month: 3, Day: 29}
	if err := r.h.CollectDay(context.Background(), day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	for seg, n := range r.drv.maxSeg {
		if n > 2 {
			t.Errorf("segment %s had %d sessions at once, limit 2", seg, n)
		}
	}
	if r.drv.maxAll > 6 { // 3 segments × 2
		t.Errorf("%d sessions at once", r.drv.maxAll)
	}
	if got := r.drv.opens["m00002"]; got != 1 {
		t.Errorf("auth failure tried %d times, want once", got)
	}
	if got := r.drv.opens["m00001"]; got != 3 {
		t.Errorf("refusing meter tried %d times, want 3", got)
	}
	ctx := context.Background()
	rs, err := r.st.CollectionResults(ctx, day, "", "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.CollectionResult{}
	for _, x := range rs {
		got[x.MeterID] = x
	}
	for id, want := range map[string]string{"m00000": headend.OutcomeOK, "m00001": headend.OutcomeRefused, "m00002": headend.OutcomeAuth,
		"m00003": headend.OutcomeOK, "m00004": headend.OutcomeTimeout} {
		if got[id].Outcome != want {
			t.Errorf("%s: outcome %q, want %q (%+v)", id, got[id].Outcome, want, got[id])
		}
	}
	if len(rs) != 60 {
		t.Fatalf("%d results, want 60", len(rs))
	}
	// From the backfill start (the run day's midnight) to its end.
	perMeter := 96
	if got[("m00000")].Readings != perMeter || !got["m00000"].Complete {
		t.Errorf("m00000: %+v, want %d readings, complete", got["m00000"], perMeter)
	}
	if n := r.readings(t); n != 57*perMeter {
		t.Errorf("bus holds %d readings, want %d", n, 57*perMeter)
	}
	sum, err := r.st.CollectionSummary(ctx, day, "")
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for _, s := range sum {
		ok += s.OK
	}
	if ok != 57 {
		t.Errorf("summary says %d ok, want 57", ok)
	}

	// The next run reads only what is new: the cursors moved after the
	// bus acknowledged.
	r.now = r.now.Add(time.Hour)
	r.drv.behaviour = map[string]string{}
	if err := r.h.CollectDay(ctx, day.AddDays(1), store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	rs, _ = r.st.CollectionResults(ctx, day.AddDays(1), "", headend.OutcomeOK, "", 1000)
	if len(rs) != 60 {
		t.Errorf("second run: %d meters ok, want 60", len(rs))
	}
	for _, x := range rs {
		// 00:00 to 03:00: collected meters from their cursor, the others
		// from the backfill start, which is the same instant here.
		if x.Readings != 12 {
			t.Errorf("%s: %d readings on the second run, want 12", x.MeterID, x.Readings)
		}
	}
}

// TestCollectionPausesWhileBusIsDown removes the readings stream during a
// run: jobs wait in publish instead of failing, and once the stream is back
// every meter's readings arrive.
func TestCollectionPausesWhileBusIsDown(t *testing.T) {
	r := newRig(t, 20, 2, headend.CollectionConfig{Concurrency: 4, PerSegment: 2, BackfillDays: 1})
	ctx := context.Background()
	if err := r.bus.DeleteStream(ctx, bus.Readings); err != nil {
		t.Fatal(err)
	}
	r.drv.gate = make(chan struct{})
	done := make(chan error, 1)
	day := cim.Date{Year: 2026, Month: 3, Day: 29}
	go func() { done <- r.h.CollectDay(ctx, day, store.MeterQuery{}) }()
	close(r.drv.gate)
	// Wait until jobs are stuck on the missing stream, retrying.
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(t, r.reg, "amigo_headend_bus_retries_total") < 3 {
		if time.Now().After(deadline) {
			t.Fatal("publish never retried")
		}
		select {
		case err := <-done:
			t.Fatalf("run ended while the bus was down: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if p := r.h.Progress(); p.Done != 0 {
		t.Fatalf("%d jobs finished while the bus had no stream", p.Done)
	}
	if err := r.bus.EnsureStreams(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("run did not resume")
	}
	if p := r.h.Progress(); p.OK != 20 {
		t.Fatalf("progress %+v, want 20 ok", p)
	}
	if n := r.readings(t); n != 20*96 {
		t.Fatalf("bus holds %d readings, want %d", n, 20*96)
	}
}
