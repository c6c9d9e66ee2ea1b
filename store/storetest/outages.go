package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/outage"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/topology"
)

func testOutages(t *testing.T, o Opener) {
	s, where := o.Open(t)
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	feeder := outage.Event{ID: "FD-1@1", Level: topology.Feeder, Device: "FD-1", Feeder: "FD-1", Region: "north", State: outage.Suspected,
		Start: t0, DetectedAt: t0.Add(30 * time.Second), Customers: 120, Confidence: 0.4, LastGasps: 7}
	nested := outage.Event{ID: "TR-7@2", Level: topology.Transformer, Device: "TR-7", Feeder: "FD-1", Region: "north", State: outage.Restored,
		Start: t0.Add(10 * time.Minute), End: t0.Add(3 * time.Hour), DetectedAt: t0.Add(11 * time.Minute), ConfirmedAt: t0.Add(12 * time.Minute),
		Customers: 9, Confidence: 0.95, Parent: "FD-1@1", LastGasps: 3, PingsFailed: 6, PingsOK: 2}
	blip := outage.Event{ID: "UP1@3", Level: topology.Service, Device: "UP1", Feeder: "FD-2", Region: "south", State: outage.Momentary,
		Start: t0.Add(-2 * time.Hour), End: t0.Add(-2*time.Hour + 40*time.Second), DetectedAt: t0.Add(-2 * time.Hour), Customers: 1, Confidence: 1}
	planned := outage.Event{ID: "SS-1@4", Level: topology.Substation, Device: "SS-1", Region: "south", State: outage.Verified, Planned: true,
		Start: t0.Add(-48 * time.Hour), End: t0.Add(-46 * time.Hour), DetectedAt: t0.Add(-48 * time.Hour), VerifiedAt: t0.Add(-46*time.Hour + time.Minute),
		Customers: 400, Confidence: 1}
	for _, e := range []outage.Event{feeder, nested, blip, planned} {
		if err := s.PutOutage(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []outage.Event{{Device: "X", State: outage.Suspected, Start: t0}, {ID: "a", Device: "X", State: outage.Suspected},
		{ID: "b", Device: "X", State: outage.Restored, Start: t0, End: t0.Add(-time.Second)}} {
		if err := s.PutOutage(ctx, bad); err == nil {
			t.Fatalf("took %+v", bad)
		}
	}
	// The upsert replaces every field, the end included.
	feeder.State, feeder.ConfirmedAt, feeder.Confidence, feeder.PingsFailed, feeder.PingsOK = outage.Confirmed, t0.Add(time.Minute), 0.9, 12, 1
	if err := s.PutOutage(ctx, feeder); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Outage(ctx, feeder.ID); err != nil || got != feeder {
		t.Fatalf("outage: %+v %v, want %+v", got, err, feeder)
	}
	if _, err := s.Outage(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing outage: %v", err)
	}

	ids := func(q store.OutageQuery) []string {
		t.Helper()
		es, err := s.Outages(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	for _, c := range []struct {
		name string
		q    store.OutageQuery
		want []string
	}{
		{"all, newest start first", store.OutageQuery{}, []string{"TR-7@2", "FD-1@1", "UP1@3", "SS-1@4"}},
		{"limit", store.OutageQuery{Limit: 2}, []string{"TR-7@2", "FD-1@1"}},
		// [t0-1h, t0): the feeder starts at To, the blip ended at
		// t0-2h+40s.
		{"period before the feeder's start", store.OutageQuery{From: t0.Add(-time.Hour), To: t0}, nil},
		{"period overlapping the blip", store.OutageQuery{From: t0.Add(-2*time.Hour + 39*time.Second), To: t0.Add(time.Second)}, []string{"FD-1@1", "UP1@3"}},
		{"an end at From does not overlap", store.OutageQuery{From: t0.Add(-2*time.Hour + 40*time.Second), To: t0}, nil},
		{"an open outage lasts", store.OutageQuery{From: t0.Add(24 * time.Hour), To: t0.Add(25 * time.Hour)}, []string{"FD-1@1"}},
		{"device", store.OutageQuery{Device: "TR-7"}, []string{"TR-7@2"}},
		{"feeder", store.OutageQuery{Feeder: "FD-1"}, []string{"TR-7@2", "FD-1@1"}},
		{"region", store.OutageQuery{Region: "south"}, []string{"UP1@3", "SS-1@4"}},
		{"states", store.OutageQuery{States: []outage.State{outage.Momentary, outage.Verified}}, []string{"UP1@3", "SS-1@4"}},
		{"a state that is a prefix of none", store.OutageQuery{States: []outage.State{"verif"}}, nil},
		{"open", store.OutageQuery{Open: true}, []string{"FD-1@1"}},
		{"feeder and open", store.OutageQuery{Feeder: "FD-1", Open: true, From: t0, To: t0.Add(time.Hour)}, []string{"FD-1@1"}},
	} {
		if got := ids(c.q); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}

	// Restored, it is no longer open, and it survives a reopen.
	feeder.State, feeder.End = outage.Restored, t0.Add(2*time.Hour)
	if err := s.PutOutage(ctx, feeder); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := o.Reopen(t, where)
	if es, err := s2.Outages(ctx, store.OutageQuery{Open: true}); err != nil || len(es) != 0 {
		t.Fatalf("open after restoration: %+v %v", es, err)
	}
	if got, err := s2.Outage(ctx, feeder.ID); err != nil || got != feeder {
		t.Fatalf("reopened: %+v %v, want %+v", got, err, feeder)
	}
}
