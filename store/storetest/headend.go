package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

func testCounters(t *testing.T, o Opener) {
	s, where := o.Open(t)
	// Eight writers reserving windows at once get disjoint windows that
	// together cover 0..total without a hole.
	var mu sync.Mutex
	var firsts []uint64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				f, err := s.ReserveCounter(ctx, "m1", "dlms/1/ek", 32)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				firsts = append(firsts, f)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(firsts)
	for i, f := range firsts {
		if f != uint64(i*32) {
			t.Fatalf("reservation %d starts at %d, want %d", i, f, i*32)
		}
	}
	if o.Reopen != nil {
		s.Close()
		s = o.Reopen(t, where)
	}
	if f, err := s.ReserveCounter(ctx, "m1", "dlms/1/ek", 1); err != nil || f != 80*32 {
		t.Fatalf("after reopening: %d %v, want %d", f, err, 80*32)
	}
	if f, err := s.ReserveCounter(ctx, "m2", "dlms/1/ek", 5); err != nil || f != 0 {
		t.Fatalf("new counter starts at %d %v", f, err)
	}
	// Received counters: only a greater value advances; equal or lower is
	// a replay.
	for _, c := range []struct {
		v    uint64
		want bool
	}{{7, true}, {7, false}, {3, false}, {8, true}, {1 << 40, true}, {8, false}} {
		got, err := s.AdvanceCounter(ctx, "m1", "push", c.v)
		if err != nil || got != c.want {
			t.Fatalf("advance to %d: %v %v, want %v", c.v, got, err, c.want)
		}
	}
	// Several reservations in one transaction, one counter twice: each
	// gets its own window, in order.
	fs, err := s.ReserveCounters(ctx, []store.CounterReservation{
		{MeterID: "m2", Name: "dlms/1/ek", N: 10}, {MeterID: "m3", Name: "dlms/1/ek", N: 4}, {MeterID: "m2", Name: "dlms/1/ek", N: 1}})
	if err != nil || !slices.Equal(fs, []uint64{5, 0, 15}) {
		t.Fatalf("batched reservations: %v %v, want [5 0 15]", fs, err)
	}
	// A bad request fails the batch before anything is reserved.
	if _, err := s.ReserveCounters(ctx, []store.CounterReservation{{MeterID: "m2", Name: "dlms/1/ek", N: 1}, {MeterID: "m3", Name: "dlms/1/ek"}}); err == nil {
		t.Error("empty reservation in a batch accepted")
	}
	if f, err := s.ReserveCounter(ctx, "m2", "dlms/1/ek", 1); err != nil || f != 16 {
		t.Fatalf("after a refused batch: %d %v, want 16", f, err)
	}
	if _, err := s.ReserveCounter(ctx, "", "x", 1); err == nil {
		t.Error("counter without a meter accepted")
	}
	if _, err := s.ReserveCounter(ctx, "m1", "x", 0); err == nil {
		t.Error("empty reservation accepted")
	}
}

func testSecretsCursorsRegisters(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	if _, err := s.MeterSecret(ctx, "m1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing secret: %v", err)
	}
	for _, b := range [][]byte{{1, 2, 3}, {4, 5}} {
		if err := s.PutMeterSecret(ctx, "m1", b); err != nil {
			t.Fatal(err)
		}
		got, err := s.MeterSecret(ctx, "m1")
		if err != nil || string(got) != string(b) {
			t.Fatalf("secret %x %v, want %x", got, err, b)
		}
	}
	if err := s.PutMeterSecret(ctx, "m1", nil); err == nil {
		t.Error("empty secret accepted")
	}

	t0 := time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC)
	if c, err := s.Cursor(ctx, "m1", "profile"); err != nil || !c.IsZero() {
		t.Fatalf("new cursor %v %v", c, err)
	}
	put := func(at time.Time) {
		t.Helper()
		if err := s.PutCursors(ctx, []store.Cursor{{MeterID: "m1", Name: "profile", At: at}, {MeterID: "m1", Name: "events", At: t0}}); err != nil {
			t.Fatal(err)
		}
	}
	put(t0.Add(time.Hour))
	put(t0) // never backwards
	if c, _ := s.Cursor(ctx, "m1", "profile"); !c.Equal(t0.Add(time.Hour)) {
		t.Fatalf("cursor went back to %v", c)
	}
	cs, err := s.Cursors(ctx, "m1")
	if err != nil || len(cs) != 2 || cs[0].Name != "events" || !cs[1].At.Equal(t0.Add(time.Hour)) {
		t.Fatalf("cursors %+v %v", cs, err)
	}

	rs := []store.RegisterRead{
		{MeterID: "m1", ReadingType: "A+", TimeStamp: t0, Value: 100},
		{MeterID: "m1", ReadingType: "A-", TimeStamp: t0, Value: 5},
		{MeterID: "m1", ReadingType: "A+", TimeStamp: t0.Add(24 * time.Hour), Value: 150, Quality: cim.QualityOverflow},
	}
	if n, err := s.PutRegisterReads(ctx, rs); err != nil || n != 3 {
		t.Fatalf("put registers: %d %v", n, err)
	}
	if n, err := s.PutRegisterReads(ctx, rs); err != nil || n != 0 {
		t.Fatalf("again: %d new %v", n, err)
	}
	got, err := s.RegisterReads(ctx, "m1", "A+", t0, t0.Add(48*time.Hour))
	if err != nil || len(got) != 2 || got[1].Value != 150 || got[1].Quality != cim.QualityOverflow || !got[0].TimeStamp.Equal(t0) {
		t.Fatalf("registers %+v %v", got, err)
	}
	if all, _ := s.RegisterReads(ctx, "m1", "", t0, t0.Add(time.Hour)); len(all) != 2 {
		t.Fatalf("all types: %+v", all)
	}
	if _, err := s.PutRegisterReads(ctx, []store.RegisterRead{{MeterID: "m1"}}); err == nil {
		t.Error("register read without a type accepted")
	}
}

func testCollectionResults(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	day := cim.Date{Year: 2026, Month: 3, Day: 29}
	var rs []store.CollectionResult
	for i := range 10 {
		r := store.CollectionResult{Day: day, MeterID: fmt.Sprintf("m%02d", i), Segment: fmt.Sprintf("cell-%d", i%2),
			Outcome: store.OutcomeOK, Attempts: 1, Readings: 96, Complete: true, At: time.Now()}
		if i < 3 {
			r.Outcome, r.Readings, r.Complete, r.Error = []string{"timeout", "auth", "timeout"}[i], 0, false, "boom"
		}
		rs = append(rs, r)
	}
	if err := s.PutCollectionResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	// A second run reads m00, which the first missed.
	rs[0].Outcome, rs[0].Readings, rs[0].Complete, rs[0].Attempts, rs[0].Error = store.OutcomeOK, 96, true, 2, ""
	if err := s.PutCollectionResults(ctx, rs[:1]); err != nil {
		t.Fatal(err)
	}
	// A third run finds m03's day complete and reads nothing, and cannot
	// reach m04: neither erases what the first run collected.
	again := []store.CollectionResult{
		{Day: day, MeterID: "m03", Segment: "cell-1", Outcome: store.OutcomeOK, Attempts: 1, Readings: 0, Complete: true, At: time.Now()},
		{Day: day, MeterID: "m04", Segment: "cell-0", Outcome: "timeout", Attempts: 3, Error: "late", At: time.Now()},
	}
	if err := s.PutCollectionResults(ctx, again); err != nil {
		t.Fatal(err)
	}
	sum, err := s.CollectionSummary(ctx, day, "")
	if err != nil || len(sum) != 2 {
		t.Fatalf("summary %+v %v", sum, err)
	}
	if c := sum[0]; c.Segment != "cell-0" || c.Total != 5 || c.OK != 4 || c.Failed["timeout"] != 1 || c.Readings != 4*96 || c.Complete != 4 {
		t.Errorf("cell-0 %+v", c)
	}
	if c := sum[1]; c.Segment != "cell-1" || c.Total != 5 || c.OK != 4 || c.Failed["auth"] != 1 {
		t.Errorf("cell-1 %+v", c)
	}
	if one, _ := s.CollectionSummary(ctx, day, "cell-1"); len(one) != 1 {
		t.Errorf("segment filter: %+v", one)
	}
	page1, err := s.CollectionResults(ctx, day, "", "", "", 4)
	if err != nil || len(page1) != 4 || page1[0].MeterID != "m00" || page1[0].Attempts != 3 || page1[0].Readings != 96 ||
		page1[0].Outcome != store.OutcomeOK || page1[0].Error != "" || !page1[0].Complete {
		t.Fatalf("page 1 %+v %v", page1, err)
	}
	if m03 := page1[3]; m03.Readings != 96 || m03.Attempts != 2 || !m03.Complete || m03.Outcome != store.OutcomeOK {
		t.Errorf("a run that read nothing changed m03: %+v", m03)
	}
	page2, _ := s.CollectionResults(ctx, day, "", "", page1[3].MeterID, 100)
	if len(page2) != 6 || page2[0].MeterID != "m04" {
		t.Fatalf("page 2 %+v", page2)
	}
	if m04 := page2[0]; m04.Outcome != store.OutcomeOK || m04.Readings != 96 || m04.Attempts != 4 || m04.Error != "" || !m04.Complete {
		t.Errorf("a failed run over a complete day changed m04: %+v", m04)
	}
	failed, _ := s.CollectionResults(ctx, day, "", "auth", "", 100)
	if len(failed) != 1 || failed[0].MeterID != "m01" || failed[0].Error != "boom" {
		t.Fatalf("failed %+v", failed)
	}
	// Over a day not yet complete, the latest outcome stands.
	if err := s.PutCollectionResults(ctx, []store.CollectionResult{{Day: day, MeterID: "m01", Segment: "cell-1",
		Outcome: "timeout", Attempts: 1, Error: "later", At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if m01, _ := s.CollectionResults(ctx, day, "", "", "m00", 1); len(m01) != 1 || m01[0].Outcome != "timeout" || m01[0].Error != "later" || m01[0].Attempts != 2 {
		t.Errorf("m01 %+v", m01)
	}
	if err := s.PutCollectionResults(ctx, []store.CollectionResult{{MeterID: "x"}}); err == nil {
		t.Error("result without a day accepted")
	}

	// The objects a run could not read are kept with its result, replaced
	// by the next run's, and not erased by a failed run over a complete
	// day.
	const probs = "1 object failed: 0.0.96.5.0.255:2 read-write-denied"
	if err := s.PutCollectionResults(ctx, []store.CollectionResult{{Day: day, MeterID: "m05", Segment: "cell-1",
		Outcome: store.OutcomeOK, Attempts: 1, Complete: true, Problems: probs, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if m05, _ := s.CollectionResults(ctx, day, "", "", "m04", 1); len(m05) != 1 || m05[0].Problems != probs {
		t.Errorf("problems not kept: %+v", m05)
	}
	if err := s.PutCollectionResults(ctx, []store.CollectionResult{{Day: day, MeterID: "m05", Segment: "cell-1",
		Outcome: "timeout", Attempts: 1, Error: "late", At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if m05, _ := s.MeterResults(ctx, []string{"m05"}, day, day); len(m05) != 1 || m05[0].Problems != probs || m05[0].Outcome != store.OutcomeOK {
		t.Errorf("a failed run over a complete day changed m05's problems: %+v", m05)
	}
	if err := s.PutCollectionResults(ctx, []store.CollectionResult{{Day: day, MeterID: "m05", Segment: "cell-1",
		Outcome: store.OutcomeOK, Attempts: 1, Complete: true, At: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if m05, _ := s.MeterResults(ctx, []string{"m05"}, day, day); len(m05) != 1 || m05[0].Problems != "" {
		t.Errorf("a run without problems kept the earlier one's: %+v", m05)
	}
}

func testControls(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	now := time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC)
	mk := func(id, corr string, prio int, sched time.Time) cim.EndDeviceControl {
		return cim.EndDeviceControl{MRID: id, CorrelationID: corr, MeterID: "m1", Type: cim.ControlDisconnect, Priority: prio,
			ScheduledAt: sched, Status: cim.ControlQueued, UpdatedAt: now, Parameters: map[string]string{"why": "test"}}
	}
	c, created, err := s.IssueControl(ctx, mk("c1", "k1", 0, time.Time{}))
	if err != nil || !created || c.MRID != "c1" || c.Parameters["why"] != "test" || !c.ScheduledAt.Equal(now) {
		t.Fatalf("issue: %+v %v %v", c, created, err)
	}
	// Same correlation id, concurrently: one command.
	var wg sync.WaitGroup
	var made sync.Map
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, created, err := s.IssueControl(ctx, mk(fmt.Sprintf("dup%d", i), "k2", 0, time.Time{}))
			if err != nil {
				t.Error(err)
				return
			}
			made.Store(got.MRID, created)
		}()
	}
	wg.Wait()
	n := 0
	made.Range(func(k, v any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("%d commands for one correlation id", n)
	}
	if _, _, err := s.IssueControl(ctx, mk("c3", "k3", 5, now.Add(-time.Minute))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.IssueControl(ctx, mk("c4", "k4", 9, now.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	due, err := s.DueControls(ctx, now, 10)
	if err != nil || len(due) != 3 || due[0].MRID != "c3" {
		t.Fatalf("due %+v %v", due, err)
	}
	// queued → sent → confirmed, and every wrong move is a conflict.
	if err := s.TransitionControl(ctx, "c1", cim.ControlQueued, cim.ControlSent, "sent", now); err != nil {
		t.Fatal(err)
	}
	if err := s.TransitionControl(ctx, "c1", cim.ControlQueued, cim.ControlSent, "again", now); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second claim: %v", err)
	}
	if err := s.TransitionControl(ctx, "c1", cim.ControlSent, cim.ControlConfirmed, "relay open", now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.TransitionControl(ctx, "nope", cim.ControlQueued, cim.ControlSent, "", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown command: %v", err)
	}
	got, _ := s.Control(ctx, "c1")
	if got.Status != cim.ControlConfirmed || got.Reason != "relay open" {
		t.Fatalf("c1 %+v", got)
	}
	steps, err := s.ControlSteps(ctx, "c1")
	if err != nil || len(steps) != 3 || steps[2].Status != cim.ControlConfirmed || steps[1].Reason != "sent" {
		t.Fatalf("steps %+v %v", steps, err)
	}
	if l, _ := s.Controls(ctx, store.ControlQuery{Status: cim.ControlConfirmed}); len(l) != 1 {
		t.Fatalf("by status %+v", l)
	}
	if l, _ := s.Controls(ctx, store.ControlQuery{MeterID: "m1"}); len(l) != 4 {
		t.Fatalf("by meter: %d", len(l))
	}
	if _, err := s.Control(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if _, _, err := s.IssueControl(ctx, cim.EndDeviceControl{MRID: "x"}); err == nil {
		t.Error("command without a meter accepted")
	}
}

func testExceptions(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	day := cim.Date{Year: 2026, Month: 3, Day: 29}
	es := []store.Exception{
		{MeterID: "m1", Channel: "A+15m", Date: day, Version: 1, Rule: "spike", Interval: 40, Reason: "4000 at 10:00"},
		{MeterID: "m1", Channel: "A+15m", Date: day, Version: 1, Rule: "missing", Interval: 10, Reason: "4 missing"},
		{MeterID: "m2", Channel: "A+15m", Date: day, Version: 2, Rule: "sum-check", Interval: -1, Reason: "+50"},
	}
	if n, err := s.PutExceptions(ctx, es); err != nil || n != 3 {
		t.Fatalf("put: %d %v", n, err)
	}
	if n, err := s.PutExceptions(ctx, es); err != nil || n != 0 {
		t.Fatalf("again: %d new, %v", n, err)
	}
	all, err := s.ListExceptions(ctx, store.ExceptionQuery{OpenOnly: true})
	if err != nil || len(all) != 3 || all[0].Rule != "spike" || all[0].Date != day || !all[0].Open || all[2].Interval != -1 {
		t.Fatalf("list %+v %v", all, err)
	}
	if err := s.ResolveException(ctx, all[0].ID, "alice", "kettle and heater at once: real", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.ResolveException(ctx, all[0].ID, "bob", "again", time.Now()); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("resolved twice: %v", err)
	}
	if err := s.ResolveException(ctx, 1<<40, "bob", "x", time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	open, _ := s.ListExceptions(ctx, store.ExceptionQuery{OpenOnly: true})
	if len(open) != 2 {
		t.Fatalf("%d open after resolving one", len(open))
	}
	m1, _ := s.ListExceptions(ctx, store.ExceptionQuery{MeterID: "m1"})
	if len(m1) != 2 || m1[0].ResolvedBy != "alice" {
		t.Fatalf("m1 %+v", m1)
	}
	page, _ := s.ListExceptions(ctx, store.ExceptionQuery{After: all[1].ID})
	if len(page) != 1 || page[0].MeterID != "m2" {
		t.Fatalf("after %d: %+v", all[1].ID, page)
	}
	testExceptionsPerDay(t, s)
	if _, err := s.PutExceptions(ctx, []store.Exception{{MeterID: "m1"}}); err == nil {
		t.Error("exception without a rule accepted")
	}
}

func testRegistryBatch(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	batch := func(ids ...string) store.RegistryBatch {
		var b store.RegistryBatch
		for _, id := range ids {
			b.UsagePoints = append(b.UsagePoints, cim.UsagePoint{MRID: "up-" + id, TimeZone: "Europe/Amsterdam"})
			b.Meters = append(b.Meters, cim.Meter{MRID: id, SerialNumber: id, UsagePointID: "up-" + id, Protocol: "dlms", Status: "installed"})
			b.Secrets = append(b.Secrets, store.SealedSecret{MeterID: id, Sealed: []byte("sealed " + id)})
		}
		return b
	}
	if err := s.PutRegistry(ctx, batch("r1", "r2")); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"r1", "r2"} {
		if _, err := s.Meter(ctx, id); err != nil {
			t.Fatalf("meter %s: %v", id, err)
		}
		if b, err := s.MeterSecret(ctx, id); err != nil || string(b) != "sealed "+id {
			t.Fatalf("secret %s: %q %v", id, b, err)
		}
	}
	// A batch that fails part way writes nothing of it: no meter is left
	// without its keys, no key without its meter.
	bad := batch("r3", "r4")
	bad.Meters = append(bad.Meters, cim.Meter{})
	if err := s.PutRegistry(ctx, bad); err == nil {
		t.Fatal("a meter without mRID accepted")
	}
	bad = batch("r5")
	bad.UsagePoints[0].TimeZone = "Mars/Olympus"
	if err := s.PutRegistry(ctx, bad); err == nil {
		t.Fatal("an unknown time zone accepted")
	}
	bad = batch("r6")
	bad.Secrets[0].Sealed = nil
	if err := s.PutRegistry(ctx, bad); err == nil {
		t.Fatal("an empty secret accepted")
	}
	for _, id := range []string{"r3", "r4", "r5", "r6"} {
		if _, err := s.Meter(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("meter %s of a failed batch: %v", id, err)
		}
		if _, err := s.MeterSecret(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("secret %s of a failed batch: %v", id, err)
		}
	}
	if n, err := s.CountMeters(ctx, store.MeterQuery{}); err != nil || n != 2 {
		t.Errorf("%d meters, %v", n, err)
	}
}

// testExceptionsPerDay: an exception carries the intervals it covers; a
// new version of a day that still fails a rule replaces the open
// exception, a resolved one stays and the new version raises its own; an
// older version's verdict never overrides a newer one's; filters by day
// and the count agree with the list.
func testExceptionsPerDay(t *testing.T, s store.Store) {
	t.Helper()
	d1, d2 := cim.Date{Year: 2026, Month: 11, Day: 30}, cim.Date{Year: 2026, Month: 12, Day: 1}
	missing := store.Exception{MeterID: "p1", Channel: "A+15m", Date: d1, Version: 1, Rule: "missing", Interval: 3,
		Indexes: []int{3, 4, 5, 6, 40}, Reason: "5 intervals missing"}
	limit := store.Exception{MeterID: "p1", Channel: "A+15m", Date: d2, Version: 1, Rule: "demand-limit", Interval: 70,
		Indexes: []int{70, 71}, Reason: "2 intervals above the limit", Unit: "Wh"}
	if n, err := s.PutExceptions(ctx, []store.Exception{missing, limit}); err != nil || n != 2 {
		t.Fatalf("put: %d %v", n, err)
	}
	got, err := s.ListExceptions(ctx, store.ExceptionQuery{MeterID: "p1"})
	if err != nil || len(got) != 2 || got[0].Intervals != 5 || !slices.Equal(got[0].Indexes, missing.Indexes) ||
		got[1].Unit != "Wh" || got[1].Intervals != 2 || got[0].Unit != "" {
		t.Fatalf("with intervals: %+v %v", got, err)
	}
	// Version 2 of d1 fills some of the gap: the open exception follows.
	v2 := missing
	v2.Version, v2.Interval, v2.Indexes, v2.Reason = 2, 40, []int{40}, "1 interval missing"
	if n, err := s.PutExceptions(ctx, []store.Exception{v2}); err != nil || n != 1 {
		t.Fatalf("version 2: %d %v", n, err)
	}
	// A late verdict on version 1 changes nothing.
	if n, err := s.PutExceptions(ctx, []store.Exception{missing}); err != nil || n != 0 {
		t.Fatalf("version 1 again: %d %v", n, err)
	}
	got, _ = s.ListExceptions(ctx, store.ExceptionQuery{MeterID: "p1", Rule: "missing"})
	if len(got) != 1 || got[0].Version != 2 || got[0].Intervals != 1 || got[0].Interval != 40 || got[0].Reason != "1 interval missing" {
		t.Fatalf("after version 2: %+v", got)
	}
	// Resolved, then version 3 fails again: a new exception.
	if err := s.ResolveException(ctx, got[0].ID, "alice", "read again", time.Now()); err != nil {
		t.Fatal(err)
	}
	v3 := v2
	v3.Version = 3
	if n, err := s.PutExceptions(ctx, []store.Exception{v3}); err != nil || n != 1 {
		t.Fatalf("version 3: %d %v", n, err)
	}
	// Version 4 of d2 passes the demand limit: its open exception of
	// version 1 is closed, saying by which version; d1's stays.
	if n, err := s.SettleExceptions(ctx, []store.DayVersion{{MeterID: "p1", Channel: "A+15m", Date: d2, Version: 4},
		{MeterID: "p1", Channel: "A+15m", Date: d1, Version: 1}}, time.Now()); err != nil || n != 1 {
		t.Fatalf("settle: %d %v", n, err)
	}
	got, _ = s.ListExceptions(ctx, store.ExceptionQuery{MeterID: "p1", Rule: "demand-limit"})
	if len(got) != 1 || got[0].Open || got[0].ResolvedBy != store.SettledBy || !strings.Contains(got[0].Resolution, "version 4") {
		t.Fatalf("settled: %+v", got)
	}
	if n, err := s.SettleExceptions(ctx, []store.DayVersion{{MeterID: "p1", Channel: "A+15m", Date: d2, Version: 5}}, time.Now()); err != nil || n != 0 {
		t.Fatalf("settle again: %d %v", n, err)
	}
	for _, c := range []struct {
		q    store.ExceptionQuery
		want int
	}{
		{store.ExceptionQuery{MeterID: "p1"}, 3},
		{store.ExceptionQuery{MeterID: "p1", OpenOnly: true}, 1},
		{store.ExceptionQuery{MeterID: "p1", From: d2}, 1},
		{store.ExceptionQuery{MeterID: "p1", To: d1}, 2},
		{store.ExceptionQuery{MeterID: "p1", From: d1, To: d1, OpenOnly: true}, 1},
		{store.ExceptionQuery{MeterID: "p1", Rule: "demand-limit", From: d1, To: d2}, 1},
		{store.ExceptionQuery{MeterID: "p1", From: d2.AddDays(1)}, 0},
	} {
		n, err := s.CountExceptions(ctx, c.q)
		l, _ := s.ListExceptions(ctx, store.ExceptionQuery{MeterID: c.q.MeterID, Rule: c.q.Rule, OpenOnly: c.q.OpenOnly, From: c.q.From, To: c.q.To, Limit: 50})
		if err != nil || n != c.want || len(l) != c.want {
			t.Errorf("%+v: count %d (%v), list %d, want %d", c.q, n, err, len(l), c.want)
		}
	}
	// The count ignores paging.
	page, _ := s.ListExceptions(ctx, store.ExceptionQuery{MeterID: "p1", Limit: 1})
	if n, _ := s.CountExceptions(ctx, store.ExceptionQuery{MeterID: "p1", After: page[0].ID, Limit: 1}); len(page) != 1 || n != 3 {
		t.Errorf("count with paging: %d", n)
	}
}
