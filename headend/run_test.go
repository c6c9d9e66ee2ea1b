package headend_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
	"github.com/prometheus/client_golang/prometheus"
)

// dlmsFake is the fake driver answering for imported meters, whose
// protocol is dlms.
type dlmsFake struct{ *fakeDriver }

func (dlmsFake) Protocol() string { return "dlms" }

// newImportRig is a head-end with an empty registry and a vault, so that
// meters come in through Import as they do in production.
func newImportRig(t *testing.T, st store.Store) *rig {
	t.Helper()
	b, err := bus.Open(context.Background(), bus.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	r := &rig{st: st, bus: b, drv: newFakeDriver(), now: time.Date(2026, 3, 30, 2, 0, 0, 0, time.UTC), reg: prometheus.NewRegistry()}
	r.h, err = headend.New(headend.Options{Store: st, Bus: b, Safeguards: noSafeguards, Secrets: vault.NewKeyring(testKeys(t, "k1", 1)),
		Drivers: []headend.Driver{dlmsFake{r.drv}}, Now: func() time.Time { return r.now },
		Collection: headend.CollectionConfig{RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond, Window: time.Hour,
			CatchUpWindow: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitUntil polls cond until it holds or a deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runEnded waits for a run of kind over n meters to end.
func runEnded(t *testing.T, h *headend.HeadEnd, kind string, n int) headend.Progress {
	t.Helper()
	var p headend.Progress
	waitUntil(t, kind+" run", func() bool {
		p = h.Progress()
		return p.Kind == kind && !p.Running && !p.EndedAt.IsZero() && p.Total == n
	})
	if p.Done != n {
		t.Fatalf("%s run: %+v", kind, p)
	}
	return p
}

func daySummary(t *testing.T, st store.Store, day cim.Date) store.CollectionSummary {
	t.Helper()
	sum, err := st.CollectionSummary(context.Background(), day, "")
	if err != nil {
		t.Fatal(err)
	}
	tot := store.CollectionSummary{Failed: map[string]int{}}
	for _, s := range sum {
		tot.Total += s.Total
		tot.OK += s.OK
		tot.Complete += s.Complete
		tot.Readings += s.Readings
		for k, v := range s.Failed {
			tot.Failed[k] += v
		}
	}
	return tot
}

// TestRunsOfADay: the run of yesterday started by hand before the
// schedule is that day's run (the schedule does not start another);
// meters imported afterwards are read at once by a catch-up run, which
// adds to the day; a second run of the complete day reads nothing and
// keeps the day's figures, and so does a run that cannot reach a meter.
func TestRunsOfADay(t *testing.T) {
	for _, engine := range []struct {
		name string
		open func(testing.TB) (store.Store, string)
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(engine.name, func(t *testing.T) {
			st, _ := engine.open(t)
			testRunsOfADay(t, st)
		})
	}
}

func testRunsOfADay(t *testing.T, st store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := newImportRig(t, st)
	rows := shipment(30) // 30 electricity meters, 3 gas meters read through them
	if _, err := headend.Import(ctx, r.st, vault.NewKeyring(testKeys(t, "k1", 1)), dlmsDrivers, rows[:22]); err != nil {
		t.Fatal(err)
	}
	day := cim.Date{Year: 2026, Month: 3, Day: 29}
	// Asked for before the schedule starts, as the demo does.
	if err := r.h.StartRun(day, headend.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.h.Run(ctx, headend.ScheduleConfig{At: time.Hour}) }()
	first := runEnded(t, r.h, headend.RunManual, 20)
	if first.OK != 20 || first.Readings == 0 {
		t.Fatalf("first run %+v", first)
	}

	// Imported now, these would wait for the next night's run.
	rep, err := r.h.Import(ctx, rows[22:])
	if err != nil || rep.Created != 11 || len(rep.New) != 11 {
		t.Fatalf("import %+v %v", rep, err)
	}
	catchUp := runEnded(t, r.h, headend.RunCatchUp, 10)
	if catchUp.OK != 10 || catchUp.Day != day {
		t.Fatalf("catch-up run %+v", catchUp)
	}
	r.drv.mu.Lock()
	for _, row := range rows {
		if n := r.drv.opens[headend.MeterID(row)]; !row.SubMeter() && n != 1 {
			t.Errorf("meter %s read %d times, want once", headend.MeterID(row), n)
		}
	}
	r.drv.mu.Unlock()
	sum := daySummary(t, r.st, day)
	onBus := r.readings(t)
	if sum.Total != 30 || sum.OK != 30 || sum.Complete != 30 || sum.Readings != first.Readings+catchUp.Readings || sum.Readings != onBus {
		t.Fatalf("day after two runs: %+v; runs read %d and %d, the bus holds %d", sum, first.Readings, catchUp.Readings, onBus)
	}

	// The whole day again, by hand: nothing new, and the day keeps its
	// figures.
	if err := r.h.StartRun(day, headend.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	again := runEnded(t, r.h, headend.RunManual, 30)
	if again.Readings != 0 || again.OK != 30 {
		t.Fatalf("second run of a complete day %+v", again)
	}
	if s := daySummary(t, r.st, day); s.Readings != sum.Readings || s.OK != 30 || s.Complete != 30 {
		t.Fatalf("day after a run that read nothing: %+v, was %+v", s, sum)
	}
	// A run that cannot reach a meter does not make its complete day
	// failed.
	r.drv.mu.Lock()
	r.drv.behaviour[headend.MeterID(rows[0])] = "refused"
	r.drv.mu.Unlock()
	if err := r.h.StartRun(day, headend.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := runEnded(t, r.h, headend.RunManual, 30); p.Failed != 1 {
		t.Fatalf("third run %+v", p)
	}
	if s := daySummary(t, r.st, day); s.Readings != sum.Readings || s.OK != 30 || s.Complete != 30 || len(s.Failed) != 0 {
		t.Fatalf("day after a failed run: %+v", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestStartRunRefusesBadDays: a day after today in the schedule's zone,
// or older than MaxRunAge days, is refused; a run goes one at a time; a
// hand-started run of today is not complete while the day goes on.
func TestStartRunRefusesBadDays(t *testing.T) {
	r := newRig(t, 4, 1, headend.CollectionConfig{Window: time.Hour})
	// 20:00 UTC is already the 30th in Tokyo.
	r.now = time.Date(2026, 3, 29, 20, 0, 0, 0, time.UTC)
	today := cim.Date{Year: 2026, Month: 3, Day: 30}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.h.Run(ctx, headend.ScheduleConfig{At: -1, Zone: tokyo}) }()
	waitUntil(t, "the schedule's zone", func() bool { return r.h.Today() == today })
	for _, day := range []cim.Date{{Year: 9999, Month: 12, Day: 31}, today.AddDays(1), today.AddDays(-headend.MaxRunAge - 1), {Year: 1, Month: 1, Day: 1}} {
		if err := r.h.StartRun(day, headend.RunOptions{}); !errors.Is(err, headend.ErrBadDay) {
			t.Errorf("%s: %v, want ErrBadDay", day, err)
		}
	}
	r.drv.gate = make(chan struct{})
	if err := r.h.StartRun(cim.Date{}, headend.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := r.h.Progress(); p.Day != today.AddDays(-1) || p.Kind != headend.RunManual {
		t.Fatalf("run of yesterday in Tokyo: %+v", p)
	}
	if err := r.h.StartRun(cim.Date{Year: 2026, Month: 3, Day: 28}, headend.RunOptions{}); !errors.Is(err, headend.ErrBusy) {
		t.Fatalf("second run at once: %v", err)
	}
	close(r.drv.gate)
	// Not spread over the hour's window: every meter is read at once.
	if p := runEnded(t, r.h, headend.RunManual, 4); p.OK != 4 {
		t.Fatalf("run %+v", p)
	}
	if err := r.h.StartRun(today, headend.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	p := runEnded(t, r.h, headend.RunManual, 4)
	if p.OK != 4 || p.Day != today {
		t.Fatalf("run of today %+v", p)
	}
	if s := daySummary(t, r.st, p.Day); s.OK != 4 || s.Complete != 0 {
		t.Fatalf("today so far is no complete day: %+v", s)
	}
	cancel()
	<-done
}
