package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// testEventPaging pages a listing with events sharing an instant, filters
// by severity and counts what the filters match whatever the page.
func testEventPaging(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	t0 := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	var evs []cim.EndDeviceEvent
	for i := range 25 {
		sev := "info"
		if i%5 == 0 {
			sev = "major"
		}
		// Three events to an instant: the cursor must tell them apart.
		evs = append(evs, cim.EndDeviceEvent{MRID: fmt.Sprintf("m%d/std/%02d", i%2, i), MeterID: fmt.Sprintf("m%d", i%2),
			Type: cim.EventPowerOff, CreatedAt: t0.Add(time.Duration(i/3) * time.Minute), Severity: sev})
	}
	if _, err := s.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	q := store.EventQuery{Limit: 4}
	var prev time.Time
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		got, err := s.Events(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got {
			if seen[e.MRID] {
				t.Fatalf("event %s listed twice", e.MRID)
			}
			if !prev.IsZero() && e.CreatedAt.After(prev) {
				t.Fatalf("event %s at %v after an older one", e.MRID, e.CreatedAt)
			}
			seen[e.MRID], prev = true, e.CreatedAt
		}
		if len(got) < q.Limit {
			break
		}
		last := got[len(got)-1]
		q.AfterAt, q.AfterMRID = last.CreatedAt, last.MRID
	}
	if len(seen) != 25 {
		t.Fatalf("paging listed %d of 25 events", len(seen))
	}

	major := store.EventQuery{Severity: "major", MeterID: "m0", Limit: 2}
	got, err := s.Events(ctx, major)
	if err != nil || len(got) != 2 || got[0].MRID != "m0/std/20" || got[1].MRID != "m0/std/10" {
		t.Fatalf("major events of m0: %+v, %v", got, err)
	}
	major.AfterAt, major.AfterMRID = got[1].CreatedAt, got[1].MRID
	for _, c := range []struct {
		q    store.EventQuery
		want int
	}{
		{store.EventQuery{}, 25},
		{store.EventQuery{Severity: "major"}, 5},
		{major, 3}, // the count ignores the page
		{store.EventQuery{MeterID: "m1", From: t0.Add(time.Minute), To: t0.Add(4 * time.Minute)}, 5},
		{store.EventQuery{Severity: "critical"}, 0},
	} {
		n, err := s.CountEvents(ctx, c.q)
		if err != nil || n != c.want {
			t.Errorf("count of %+v: %d, %v; want %d", c.q, n, err, c.want)
		}
	}
}

// testMeterResults reads a page of meters' latest results in one call.
func testMeterResults(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	d := cim.Date{Year: 2026, Month: 11, Day: 20}
	at := time.Date(2026, 11, 21, 1, 0, 0, 0, time.UTC)
	rs := []store.CollectionResult{
		{Day: d, MeterID: "a", Outcome: store.OutcomeOK, Attempts: 1, Readings: 96, Complete: true, At: at},
		{Day: d.AddDays(1), MeterID: "a", Outcome: "timeout", Attempts: 3, Error: "late", At: at.Add(24 * time.Hour)},
		{Day: d, MeterID: "b", Outcome: store.OutcomeOK, Attempts: 1, Readings: 96, Complete: true, At: at},
		{Day: d.AddDays(-30), MeterID: "c", Outcome: store.OutcomeOK, Attempts: 1, At: at.AddDate(0, 0, -30)},
		{Day: d, MeterID: "other", Outcome: store.OutcomeOK, Attempts: 1, At: at},
	}
	if err := s.PutCollectionResults(ctx, rs); err != nil {
		t.Fatal(err)
	}
	got, err := s.MeterResults(ctx, []string{"a", "b", "c", "never"}, d.AddDays(-13), d.AddDays(1))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range got {
		keys = append(keys, r.MeterID+" "+r.Day.String()+" "+r.Outcome)
	}
	want := fmt.Sprint([]string{"a 2026-11-21 timeout", "a 2026-11-20 ok", "b 2026-11-20 ok"})
	if fmt.Sprint(keys) != want || !got[1].At.Equal(at) || !got[1].Complete || got[0].Complete {
		t.Fatalf("meter results %v, want %s (%+v)", keys, want, got)
	}
	if got, err := s.MeterResults(ctx, nil, d, d); err != nil || len(got) != 0 {
		t.Fatalf("no meters: %v, %v", got, err)
	}
	if _, err := s.MeterResults(ctx, []string{"a"}, d.AddDays(-100), d); err == nil {
		t.Fatal("a hundred days at once were accepted")
	}
}
