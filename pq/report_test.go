package pq_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/pq"
	"github.com/amigo-ami/amigo/store"
	_ "github.com/amigo-ami/amigo/store/engines"
	"github.com/amigo-ami/amigo/topology"
)

// staticTopology is one grid version for every instant.
type staticTopology struct{ g *topology.Grid }

func (s staticTopology) TopologyAt(context.Context, time.Time) (*topology.Grid, error) {
	return s.g, nil
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "amigo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// rig is a store holding meters on two feeders with a week of voltage.
type rig struct {
	st   store.Store
	grid *topology.Grid
	week time.Time
}

// newRig builds the meters: each gets the voltage shape fn gives
// (interval index -> 0.1 V per phase) on the phases it has.
func newRig(t *testing.T, meters map[string]func(i int) int64, phases map[string]int) *rig {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	week := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	nodes := []topology.Node{
		{ID: "SUB-1", Level: topology.Substation},
		{ID: "FDR-1", Level: topology.Feeder, Parent: "SUB-1"},
		{ID: "FDR-2", Level: topology.Feeder, Parent: "SUB-1"},
		{ID: "TR-1", Level: topology.Transformer, Parent: "FDR-1", DistanceM: 1000},
		{ID: "TR-2", Level: topology.Transformer, Parent: "FDR-1", DistanceM: 3000},
		{ID: "TR-3", Level: topology.Transformer, Parent: "FDR-2", DistanceM: 500},
	}
	trOf := map[string]string{"m1": "TR-2", "m2": "TR-1", "m3": "TR-3", "m4": "TR-3", "m5": "TR-1"}
	dist := map[string]int{"m1": 50, "m2": 400, "m3": 10, "m4": 20, "m5": 100}
	for id := range meters {
		up := "UP-" + id
		nodes = append(nodes, topology.Node{ID: up, Level: topology.Service, Parent: trOf[id], DistanceM: dist[id]})
		if err := st.PutUsagePoints(ctx, cim.UsagePoint{MRID: up, ServiceCategory: cim.CommodityElectricity, TimeZone: "UTC"}); err != nil {
			t.Fatal(err)
		}
		kind := "electricity-1p"
		if phases[id] == 3 {
			kind = "electricity-3p"
		}
		if err := st.PutMeters(ctx, cim.Meter{MRID: id, UsagePointID: up, Protocol: "dlms", Kind: kind}); err != nil {
			t.Fatal(err)
		}
		var days []interval.Day
		for d := range 7 {
			start := week.AddDate(0, 0, d)
			for p := 1; p <= max(1, phases[id]); p++ {
				for _, s := range []pq.Stat{pq.Avg, pq.Min, pq.Max} {
					day := interval.Day{MeterID: id, Channel: pq.Channel(p, s), Date: cim.DateOf(start, time.UTC), Start: start,
						Interval: pq.Interval, Values: make([]int64, 144), Quality: make([]cim.Quality, 144)}
					for i := range day.Values {
						v := meters[id](d*144 + i)
						switch s {
						case pq.Min:
							v -= 20
						case pq.Max:
							v += 20
						}
						day.Values[i] = v
					}
					days = append(days, day)
				}
			}
		}
		if _, err := st.PutDays(ctx, days); err != nil {
			t.Fatal(err)
		}
	}
	g, err := topology.New(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{st: st, grid: g, week: week}
}

func TestWeekFlagsOutOfBoundsMeters(t *testing.T) {
	ctx := context.Background()
	const week = 7 * 144
	r := newRig(t, map[string]func(int) int64{
		"m1": func(i int) int64 { return 2300 + int64(i%9) },                                  // steady at nominal
		"m2": func(i int) int64 { return 2560 },                                               // +11 %: out of the band all week
		"m3": func(i int) int64 { return map[bool]int64{true: 2050, false: 2250}[i%16 == 0] }, // 6.25 % at -11 %
		"m4": func(i int) int64 { return map[bool]int64{true: 1900, false: 2310}[i == 300] },  // one mean at -17 %, in a sag
		"m5": func(i int) int64 { return map[bool]int64{true: 2050, false: 2310}[i%25 == 0] }, // 4 % low: compliant
	}, map[string]int{"m1": 1, "m2": 3, "m3": 1, "m4": 1, "m5": 1})
	// m4's low mean holds a sag: the period is flagged, not judged.
	sagAt := r.week.Add(300*pq.Interval + 3*time.Minute)
	evs := []cim.EndDeviceEvent{
		{MRID: "m4/pq/1", MeterID: "m4", Type: "3.26.38.150", Code: 76, CreatedAt: sagAt, Details: map[string]string{"duration": "2m0s", "depth": "45"}},
		{MRID: "m1/pq/1", MeterID: "m1", Type: "3.26.38.93", Code: 79, CreatedAt: r.week.Add(time.Hour), Details: map[string]string{"duration": "3s", "depth": "116"}},
		{MRID: "m1/pq/2", MeterID: "m1", Type: "3.26.38.150", Code: 76, CreatedAt: r.week.Add(2 * time.Hour), Details: map[string]string{"duration": "1s", "depth": "2"}},
		{MRID: "m1/pd", MeterID: "m1", Type: cim.EventPowerOff, Code: 1, CreatedAt: r.week.Add(30 * time.Hour)},
		{MRID: "m1/pf", MeterID: "m1", Type: cim.EventPowerOff, CreatedAt: r.week.Add(31 * time.Hour), Details: map[string]string{"duration": "1h0m0s"}},
		{MRID: "m1/old", MeterID: "m1", Type: "3.26.38.150", Code: 76, CreatedAt: r.week.Add(-time.Hour), Details: map[string]string{"duration": "1s", "depth": "50"}},
		{MRID: "m3/limiter", MeterID: "m3", Type: "3.26.38.93", Code: 65, CreatedAt: r.week.Add(time.Hour)},
	}
	if _, err := r.st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	rep, err := (&pq.Reporter{Source: r.st, Topology: staticTopology{r.grid}}).Week(ctx, r.week, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Flagged(), []string{"m2", "m3"}; !slices.Equal(got, want) {
		t.Fatalf("flagged %v, want %v", got, want)
	}
	byID := map[string]pq.MeterWeek{}
	for _, m := range rep.Meters {
		byID[m.MeterID] = m
	}
	if m := byID["m2"]; len(m.Phases) != 3 || m.Phases[2].Within != 0 || m.Phases[2].Intervals != week || m.Feeder != "FDR-1" || m.Transformer != "TR-1" {
		t.Errorf("m2: %+v", m)
	}
	if m := byID["m3"]; m.Phases[0].Within != week-week/16 || m.Coverage != 1 {
		t.Errorf("m3: %+v", m)
	}
	if m := byID["m4"]; !m.Compliant || m.Phases[0].Flagged != 1 || m.Phases[0].Intervals != week-1 || m.Sags != 1 || m.WorstSag != 45 || m.Longest != 120 || m.Phases[0].Min != 188 {
		t.Errorf("m4: %+v", m)
	}
	if m := byID["m1"]; m.Swells != 1 || m.Sags != 0 || m.Interruptions != 2 || m.WorstSwell != 116 || m.Longest != 3600 {
		t.Errorf("m1 events: %+v", m.Counts)
	}
	if len(rep.Feeders) != 2 || !rep.Feeders[0].Flagged || rep.Feeders[0].OutOfBounds != 1 || rep.Feeders[0].Meters != 3 ||
		!rep.Feeders[1].Flagged || rep.Feeders[1].Interruptions != 0 || rep.Feeders[1].Sags != 1 {
		t.Errorf("feeders: %+v", rep.Feeders)
	}

	// One feeder: its meters only.
	rep, err = (&pq.Reporter{Source: r.st, Topology: staticTopology{r.grid}}).Week(ctx, r.week, "FDR-2")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Meters) != 2 || !slices.Equal(rep.Flagged(), []string{"m3"}) {
		t.Errorf("FDR-2: %d meters, flagged %v", len(rep.Meters), rep.Flagged())
	}
	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || !slices.Equal(rows[0], pq.CSVHeader) || rows[1][1] != "m3" || rows[1][20] != "false" || rows[2][20] != "true" {
		t.Errorf("CSV: %q", rows)
	}
	if _, err := (&pq.Reporter{Source: r.st, Topology: staticTopology{r.grid}}).Week(ctx, r.week, "TR-1"); err == nil {
		t.Error("a transformer taken for a feeder")
	}
}

func TestVoltageAlongFeeder(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, map[string]func(int) int64{
		"m1": func(i int) int64 { return 2200 + int64(i) },
		"m2": func(i int) int64 { return 2350 },
		"m5": func(i int) int64 { return 2300 },
	}, map[string]int{"m2": 3})
	at := r.week.Add(24*time.Hour + 15*time.Minute) // in the period ending at 00:20 of day 2: index 145
	fv, err := (&pq.Reporter{Source: r.st, Topology: staticTopology{r.grid}}).Along(ctx, "FDR-1", at)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, p := range fv.Points {
		order = append(order, p.MeterID)
	}
	// TR-1 at 1000 m: m5 (100 m), m2 (400 m); TR-2 at 3000 m: m1.
	if !slices.Equal(order, []string{"m5", "m2", "m1"}) {
		t.Fatalf("order %v", order)
	}
	if p := fv.Points[2]; p.Voltage[0] != 234.5 || p.DistanceM != 3050 || p.Mean != 234.5 || !p.End.Equal(r.week.Add(24*time.Hour+20*time.Minute)) {
		t.Errorf("m1: %+v", p)
	}
	if p := fv.Points[1]; p.Voltage != [3]float64{235, 235, 235} || p.Transformer != "TR-1" {
		t.Errorf("m2: %+v", p)
	}
	if fv.Missing != 0 {
		t.Errorf("%d missing", fv.Missing)
	}
}
