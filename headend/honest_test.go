package headend_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/store"
)

// TestCollectionOutcomesAreHonest collects through the real bus into the
// real MDM and SQLite: a meter whose profile the MDM would refuse is not
// ok, its cursor does not move and nothing of it is dead-lettered; the
// next run reads it again and stores it. A session that brings no profile
// entry although one was due is not ok either.
func TestCollectionOutcomesAreHonest(t *testing.T) {
	r := newRig(t, 3, 1, headend.CollectionConfig{Concurrency: 4, PerSegment: 4, Attempts: 3, BackfillDays: 1})
	r.drv.behaviour["m00001"] = "future-once"
	r.drv.behaviour["m00002"] = "empty"
	r.runIngest(t)

	day := cim.Date{Year: 2026, Month: 3, Day: 29}
	if err := r.h.CollectDay(context.Background(), day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	results := func() map[string]store.CollectionResult {
		t.Helper()
		rs, err := r.st.CollectionResults(context.Background(), day, "", "", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]store.CollectionResult{}
		for _, x := range rs {
			got[x.MeterID] = x
		}
		return got
	}
	got := results()
	if x := got["m00000"]; x.Outcome != store.OutcomeOK || x.Readings != 96 || !x.Complete {
		t.Errorf("m00000: %+v", x)
	}
	if x := got["m00001"]; x.Outcome != headend.OutcomeRejected || x.Readings != 0 || x.Complete ||
		!strings.Contains(x.Error, "after now") || !strings.Contains(x.Error, "m00001") {
		t.Errorf("m00001: %+v, want rejected with the MDM's reason", x)
	}
	if n := r.drv.opens["m00001"]; n != 1 {
		t.Errorf("a rejected collection was tried %d times in the run", n)
	}
	if x := got["m00002"]; x.Outcome != headend.OutcomeNoData || x.Readings != 0 || !strings.Contains(x.Error, "no load profile entry") {
		t.Errorf("m00002: %+v, want no-data", x)
	}
	for _, id := range []string{"m00001", "m00002"} {
		if cs, err := r.st.Cursors(context.Background(), id); err != nil || len(cs) != 0 {
			t.Errorf("%s: cursors moved to %+v (%v)", id, cs, err)
		}
	}
	stored := func(id string) bool {
		d, err := r.st.Day(context.Background(), id, "A+15m", day)
		if errors.Is(err, store.ErrNotFound) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		for i, q := range d.Quality {
			if q != 0 || d.Values[i] != 10 {
				return false
			}
		}
		return true
	}
	waitUntil(t, "m00000's day in the MDM", func() bool { return stored("m00000") })
	if stored("m00001") {
		t.Error("the rejected block reached the MDM")
	}
	if dls, err := mdm.DeadLetters(context.Background(), r.bus, 10); err != nil || len(dls) != 0 {
		t.Errorf("dead letters %+v %v", dls, err)
	}

	// The next run reads the rejected meter again from where it stood.
	r.now = r.now.Add(time.Minute)
	if err := r.h.CollectDay(context.Background(), day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	got = results()
	if x := got["m00001"]; x.Outcome != store.OutcomeOK || x.Readings != 96 || !x.Complete {
		t.Errorf("m00001 read again: %+v", x)
	}
	if x := got["m00000"]; x.Outcome != store.OutcomeOK || x.Readings != 96 {
		t.Errorf("m00000 on the second run: %+v", x)
	}
	if x := got["m00002"]; x.Outcome != headend.OutcomeNoData {
		t.Errorf("m00002 on the second run: %+v", x)
	}
	waitUntil(t, "m00001's day in the MDM", func() bool { return stored("m00001") })
	if cs, _ := r.st.Cursors(context.Background(), "m00001"); len(cs) != 1 || !cs[0].At.Equal(day.AddDays(1).Start(time.UTC)) {
		t.Errorf("m00001 cursors %+v", cs)
	}

	// A profile read a few minutes ago that has nothing new is no failure:
	// its next entry is not due yet.
	if err := r.st.PutCursors(context.Background(), []store.Cursor{{MeterID: "m00002", Name: "profile", At: r.now.Add(-10 * time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	if err := r.h.CollectDay(context.Background(), day.AddDays(1), store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	if rs, _ := r.st.CollectionResults(context.Background(), day.AddDays(1), "", "", "m00001", 1); len(rs) != 1 || rs[0].Outcome != store.OutcomeOK {
		t.Errorf("m00002, read 10 minutes ago: %+v", rs)
	}
}

// TestReReadAfterLostCursors is the worst a crash between the bus's
// acknowledgement and the cursor write can do: the next run reads the
// same entries again, and the MDM stores nothing twice and changes no day.
func TestReReadAfterLostCursors(t *testing.T) {
	r := newRig(t, 2, 1, headend.CollectionConfig{Concurrency: 2, PerSegment: 2, BackfillDays: 1})
	in := r.runIngest(t)
	day := cim.Date{Year: 2026, Month: 3, Day: 29}
	if err := r.h.CollectDay(context.Background(), day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "both days stored", func() bool {
		s := in.Stats()
		return s.DaysWritten >= 2
	})
	// A head-end whose store has no cursors stands for the process that
	// died before writing them.
	before := in.Stats()
	h2, err := headend.New(headend.Options{Store: forgetCursors{r.st}, Bus: r.bus, Safeguards: noSafeguards, Secrets: plainSecrets{}, Drivers: []headend.Driver{r.drv},
		Now: func() time.Time { return r.now }, Collection: headend.CollectionConfig{Concurrency: 2, PerSegment: 2, BackfillDays: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h2.CollectDay(context.Background(), day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	rs, _ := r.st.CollectionResults(context.Background(), day, "", store.OutcomeOK, "", 10)
	if len(rs) != 2 {
		t.Fatalf("re-read: %+v", rs)
	}
	for _, id := range []string{"m00000", "m00001"} {
		vs, err := r.st.DayVersions(context.Background(), id, "A+15m", day)
		if err != nil || len(vs) != 1 {
			t.Errorf("%s: %d versions after the re-read (%v)", id, len(vs), err)
		}
	}
	if s := in.Stats(); s.DaysWritten != before.DaysWritten || s.DeadLetters != 0 {
		t.Errorf("the re-read wrote days or dead letters: %+v then %+v", before, s)
	}
}

// forgetCursors is a store that has no cursors, as after a crash that
// lost their write.
type forgetCursors struct{ store.Store }

func (forgetCursors) Cursors(context.Context, string) ([]store.Cursor, error) { return nil, nil }

// runIngest runs the MDM's ingest on the rig's store and bus until the
// test ends.
func (r *rig) runIngest(t *testing.T) *mdm.Ingest {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in, err := mdm.New(mdm.Options{Store: r.st, Bus: r.bus, Now: func() time.Time { return r.now }})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return in
}
