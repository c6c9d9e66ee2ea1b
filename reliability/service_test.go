package reliability

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/outage"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/topology"
)

// versions is a topology kept by date, as the store keeps it.
type versions []*topology.Grid

func (v versions) TopologyAt(_ context.Context, at time.Time) (*topology.Grid, error) {
	var got *topology.Grid
	for _, g := range v {
		if !g.EffectiveFrom.After(at) {
			got = g
		}
	}
	if got == nil {
		return nil, store.ErrNotFound
	}
	return got, nil
}

func event(id, device string, level topology.Level, st outage.State, start, end time.Time) outage.Event {
	return outage.Event{ID: id, Device: device, Level: level, State: st, Start: start, End: end, DetectedAt: start, Confidence: 1}
}

func TestServiceReportFromTheStore(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.OpenSQLite(t)
	g := testGrid(t)
	g.Version, g.EffectiveFrom = 1, day.AddDate(-1, 0, 0)
	svc := &Service{Outages: st, Topology: versions{g}, Now: func() time.Time { return day.Add(48 * time.Hour) }}
	evs := []outage.Event{
		event("FD-A@1", "FD-A", topology.Feeder, outage.Verified, at(10, 0), at(11, 0)),
		event("TR-1@2", "TR-1", topology.Transformer, outage.Verified, at(10, 30), at(11, 30)),
		event("TR-3@3", "TR-3", topology.Transformer, outage.Momentary, at(14, 0), at(14, 2)),
		event("S5@4", "S5", topology.Service, outage.Restored, at(23, 0), at(25, 0)),
		event("S10@5", "S10", topology.Service, outage.Verified, at(-1, 30), at(0, 20)),
		// Neither a dismissed false last gasp nor a suspicion counts.
		event("S6@6", "S6", topology.Service, outage.Dismissed, at(5, 0), at(6, 0)),
		event("S7@7", "S7", topology.Service, outage.Suspected, at(6, 0), time.Time{}),
	}
	for _, e := range evs {
		if err := st.PutOutage(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	r, err := svc.Report(ctx, Request{From: day, To: day.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// The figures worked by hand in TestIndicesWorkedByHand.
	checkIndex(t, r.Total, 10, 41, 0.5, 82, 0.6)
	checkIndex(t, r.Feeders[0], 4, 82.5, 1, 82.5, 0)
	// The only earlier outage (S10, 28 February, 50 customer minutes)
	// is the history: one day of SAIDI 5, so T_MED = 5, and 1 March
	// (SAIDI 45) is a major event day.
	if r.MED.Days != 1 || !near(r.MED.TMED, 5) || len(r.MEDs) != 1 || r.MEDs[0] != "2026-03-01" {
		t.Fatalf("MED %+v, days %v", r.MED, r.MEDs)
	}
	if r.MED.Note == "" {
		t.Fatal("no word on the history")
	}
	rx, err := svc.Report(ctx, Request{From: day, To: day.Add(24 * time.Hour), ExcludeMED: true})
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, rx.Total, 10, 2, 0, 0, 0)

	// Planned outages left out on request.
	planned := event("SS-1@8", "SS-1", topology.Substation, outage.Verified, at(3, 0), at(4, 0))
	planned.Planned = true
	if err := st.PutOutage(ctx, planned); err != nil {
		t.Fatal(err)
	}
	with, _ := svc.Report(ctx, Request{From: day, To: day.Add(24 * time.Hour)})
	without, _ := svc.Report(ctx, Request{From: day, To: day.Add(24 * time.Hour), ExcludePlanned: true})
	if !near(with.Total.SAIDI, 41+60) || !near(without.Total.SAIDI, 41) {
		t.Fatalf("planned: with %v, without %v", with.Total.SAIDI, without.Total.SAIDI)
	}

	if _, err := svc.Report(ctx, Request{From: day, To: day}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty period: %v", err)
	}
	none := &Service{Outages: st, Topology: versions{}}
	if _, err := none.Report(ctx, Request{From: day, To: day.Add(time.Hour)}); !errors.Is(err, ErrNoTopology) {
		t.Fatalf("without a topology: %v", err)
	}
	if _, err := (&Service{Outages: st}).Report(ctx, Request{From: day, To: day.Add(time.Hour)}); !errors.Is(err, ErrNoTopology) {
		t.Fatalf("with no topology kept: %v", err)
	}
}

func TestServiceOpenOutageCountsUntilNow(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.OpenSQLite(t)
	g := testGrid(t)
	now := at(12, 0)
	svc := &Service{Outages: st, Topology: versions{g}, Now: func() time.Time { return now }}
	if err := st.PutOutage(ctx, event("TR-2@1", "TR-2", topology.Transformer, outage.Confirmed, at(11, 0), time.Time{})); err != nil {
		t.Fatal(err)
	}
	// Asked for the whole day at noon: S4 out one hour so far, not 13.
	r, err := svc.Report(ctx, Request{From: day, To: day.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	checkIndex(t, r.Total, 10, 6, 0.1, 60, 0)
	if len(r.Notes) == 0 {
		t.Fatal("no note that the period is not over")
	}
}

func TestServiceTopologyOfTheOutagesDay(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.OpenSQLite(t)
	g1 := testGrid(t)
	// From noon, TR-2 hangs under FD-B.
	var nodes []topology.Node
	for _, n := range g1.Nodes() {
		if n.ID == "TR-2" {
			n.Parent = "FD-B"
		}
		nodes = append(nodes, n)
	}
	g2, err := topology.New(nodes)
	if err != nil {
		t.Fatal(err)
	}
	// Kept by the store, as the server keeps them.
	for _, v := range []struct {
		from time.Time
		g    *topology.Grid
	}{{day.AddDate(0, -1, 0), g1}, {at(12, 0), g2}} {
		if _, err := st.PutTopology(ctx, v.from, v.g); err != nil {
			t.Fatal(err)
		}
	}
	svc := &Service{Outages: st, Topology: st, Now: func() time.Time { return day.Add(72 * time.Hour) }}
	// FD-A out in the morning (S1..S4) and FD-B in the evening (S4..S10).
	for _, e := range []outage.Event{
		event("FD-A@1", "FD-A", topology.Feeder, outage.Verified, at(8, 0), at(9, 0)),
		event("FD-B@2", "FD-B", topology.Feeder, outage.Verified, at(18, 0), at(19, 0)),
	} {
		if err := st.PutOutage(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	r, err := svc.Report(ctx, Request{From: day, To: day.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// 4 + 7 customers interrupted for an hour each: SAIDI 66, SAIFI 1.1.
	checkIndex(t, r.Total, 10, 66, 1.1, 60, 0)
	d, err := svc.Detail(ctx, "FD-B@2")
	if err != nil || d.AffectedCustomers != 7 || len(d.Services) != 7 || d.TopologyVersion != 2 || len(d.Path) != 2 || d.Path[1].ID != "SS-1" {
		t.Fatalf("detail %+v %v", d, err)
	}
	if d, err := svc.Detail(ctx, "FD-A@1"); err != nil || d.AffectedCustomers != 4 || d.TopologyVersion != 1 {
		t.Fatalf("detail %+v %v", d, err)
	}
	if _, err := svc.Detail(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}

func TestGridStateColours(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.OpenSQLite(t)
	g := testGrid(t)
	now := at(20, 0)
	svc := &Service{Outages: st, Topology: versions{g}, Now: func() time.Time { return now }}
	for _, e := range []outage.Event{
		event("TR-1@1", "TR-1", topology.Transformer, outage.Confirmed, at(19, 0), time.Time{}),
		event("FD-A@2", "FD-A", topology.Feeder, outage.Restored, at(18, 0), at(18, 30)),
		event("TR-3@3", "TR-3", topology.Transformer, outage.Momentary, at(9, 0), at(9, 1)),
		// Older than a day, and a verified one: no colour.
		event("FD-B@4", "FD-B", topology.Feeder, outage.Momentary, at(-5, 0), at(-5, 1)),
		event("SS-1@5", "SS-1", topology.Substation, outage.Verified, at(2, 0), at(3, 0)),
	} {
		if err := st.PutOutage(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	gs, err := svc.GridState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"SS-1": StateNormal, "FD-A": StateRestored, "FD-B": StateNormal, "TR-1": StateOut, "TR-2": StateRestored, "TR-3": StateMomentary}
	if len(gs.Devices) != len(want) {
		t.Fatalf("devices %+v", gs.Devices)
	}
	for _, d := range gs.Devices {
		if d.State != want[d.ID] {
			t.Errorf("%s is %s, want %s", d.ID, d.State, want[d.ID])
		}
	}
	if len(gs.Outages) != 3 || gs.Outages[0].ID != "TR-1@1" || gs.Customers != 10 {
		t.Fatalf("outages %+v", gs.Outages)
	}
}

func TestServiceLearnsFromFiveYearsAtMost(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.OpenSQLite(t)
	g := testGrid(t)
	svc := &Service{Outages: st, Topology: versions{g}, Now: func() time.Time { return day.AddDate(1, 0, 0) }}
	// A transformer fault every 100 days for seven years before the period.
	for i := 0; i < 7*365/100; i++ {
		s := day.AddDate(0, 0, -100*(i+1))
		if err := st.PutOutage(ctx, event(fmt.Sprintf("TR-1@%d", i), "TR-1", topology.Transformer, outage.Verified, s, s.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
	}
	r, err := svc.Report(ctx, Request{From: day, To: day.AddDate(0, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	// Five years back from the period, every day of them; the faults in
	// them all alike (3 customers × 60 min / 10 = 18 min): β = 0, T_MED 18.
	if !r.MED.HistoryFrom.Equal(day.AddDate(-5, 0, 0)) || r.MED.Days != 1826 || r.MED.PositiveDays != 18 || !near(r.MED.TMED, 18) ||
		!strings.Contains(r.MED.Note, "5 years") {
		t.Fatalf("MED %+v", r.MED)
	}
}
