package reliability

import (
	"bytes"
	"encoding/csv"
	"math"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/topology"
)

// testGrid is ten customers on two feeders of one substation:
//
//	SS-1 ─ FD-A ─ TR-1 (north): S1 S2 S3
//	            └ TR-2 (north): S4
//	     └ FD-B ─ TR-3 (south): S5 S6 S7 S8 S9 S10
func testGrid(t *testing.T) *topology.Grid {
	t.Helper()
	nodes := []topology.Node{
		{ID: "SS-1", Level: topology.Substation},
		{ID: "FD-A", Level: topology.Feeder, Parent: "SS-1"},
		{ID: "FD-B", Level: topology.Feeder, Parent: "SS-1"},
		{ID: "TR-1", Level: topology.Transformer, Parent: "FD-A", Region: "north", Lat: 52.1, Lon: 4.3},
		{ID: "TR-2", Level: topology.Transformer, Parent: "FD-A", Region: "north", Lat: 52.2, Lon: 4.4},
		{ID: "TR-3", Level: topology.Transformer, Parent: "FD-B", Region: "south", Lat: 51.9, Lon: 4.5},
	}
	for i, tr := range []string{"TR-1", "TR-1", "TR-1", "TR-2", "TR-3", "TR-3", "TR-3", "TR-3", "TR-3", "TR-3"} {
		nodes = append(nodes, topology.Node{ID: "S" + itoa(i+1), Level: topology.Service, Parent: tr})
	}
	g, err := topology.New(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func itoa(i int) string {
	if i >= 10 {
		return string(rune('0'+i/10)) + string(rune('0'+i%10))
	}
	return string(rune('0' + i))
}

var day = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func at(h, m int) time.Time {
	return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// testOutages, worked by hand over the period [day, day+24h):
//
//  1. FD-A out 10:00–11:00: S1..S4.
//  2. TR-1 out 10:30–11:30, inside and after FD-A's: S1..S3 see one
//     interruption 10:00–11:30 (90 min), S4 one of 60 min. FD-A: 3×90 +
//     60 = 330 customer minutes, 4 customers interrupted (nested once).
//  3. TR-3 momentary 14:00–14:02: 6 momentary events (2 min ≤ 5 min).
//  4. S5 out 23:00–01:00 the next day: 120 min, 60 inside the period;
//     it starts inside, so it counts once.
//  5. S10 out 23:30 the day before to 00:20: 50 min, 20 inside; it started
//     before the period, so its minutes count and the interruption not.
func testOutages() []Outage {
	return []Outage{
		{Device: "FD-A", Start: at(10, 0), End: at(11, 0)},
		{Device: "TR-1", Start: at(10, 30), End: at(11, 30)},
		{Device: "TR-3", Start: at(14, 0), End: at(14, 2)},
		{Device: "S5", Start: at(23, 0), End: at(25, 0)},
		{Device: "S10", Start: at(-1, 30), End: at(0, 20)},
		{Device: "TR-404", Start: at(9, 0), End: at(10, 0)},
	}
}

func TestExpandMergesNestedOutagesOnce(t *testing.T) {
	g := testGrid(t)
	ints := Expand(g, testOutages())
	var s1 []Interruption
	for _, in := range ints {
		if in.Service == "S1" {
			s1 = append(s1, in)
		}
	}
	if len(s1) != 1 || !s1[0].Start.Equal(at(10, 0)) || !s1[0].End.Equal(at(11, 30)) || s1[0].Feeder != "FD-A" || s1[0].Region != "north" {
		t.Fatalf("S1: %+v, want one interruption 10:00–11:30 on FD-A, north", s1)
	}
	// 3 (TR-1) + 1 (S4) + 6 (TR-3) + S5 + S10 = 12 interruptions; the
	// unknown transformer none.
	if len(ints) != 12 {
		t.Fatalf("%d interruptions: %+v", len(ints), ints)
	}
	if u := Unplaced(g, testOutages()); len(u) != 1 || u[0] != "TR-404" {
		t.Fatalf("unplaced %v", u)
	}
	// An open outage swallows a later one of the same customer.
	open := Expand(g, []Outage{{Device: "TR-2", Start: at(1, 0)}, {Device: "FD-A", Start: at(2, 0), End: at(3, 0)}})
	for _, in := range open {
		if in.Service == "S4" && (!in.End.IsZero() || !in.Start.Equal(at(1, 0))) {
			t.Fatalf("S4: %+v, want open from 01:00", in)
		}
	}
	if len(open) != 4 {
		t.Fatalf("open: %+v", open)
	}
	// An outage ending before it starts interrupts no one.
	if got := Expand(g, []Outage{{Device: "SS-1", Start: at(2, 0), End: at(1, 0)}}); len(got) != 0 {
		t.Fatalf("backwards outage: %+v", got)
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func checkIndex(t *testing.T, x Index, served int, saidi, saifi, caidi, maifi float64) {
	t.Helper()
	if x.Served != served || !near(x.SAIDI, saidi) || !near(x.SAIFI, saifi) || !near(x.CAIDI, caidi) || !near(x.MAIFI, maifi) {
		t.Errorf("%s %s: served %d SAIDI %v SAIFI %v CAIDI %v MAIFI %v; want %d %v %v %v %v", x.Scope, x.Name, x.Served, x.SAIDI, x.SAIFI, x.CAIDI, x.MAIFI,
			served, saidi, saifi, caidi, maifi)
	}
}

func TestIndicesWorkedByHand(t *testing.T) {
	g := testGrid(t)
	r := Indices(Expand(g, testOutages()), ServedBy(g), 0, day, day.Add(24*time.Hour), false, MEDThreshold{})
	// Total: 330 (FD-A) + 60 (S5, clipped) + 20 (S10, clipped) = 410
	// customer minutes over 10 served: SAIDI 41 min. Sustained customers
	// interrupted starting in the period: 4 + 1 = 5: SAIFI 0.5. CAIDI =
	// 41 / 0.5 = 82 min. MAIFI = 6 momentary events / 10 = 0.6.
	checkIndex(t, r.Total, 10, 41, 0.5, 82, 0.6)
	if r.Total.CustomerMinutes != 410 || r.Total.Sustained != 5 || r.Total.Momentary != 6 {
		t.Errorf("total counts: %+v", r.Total)
	}
	// FD-A: 330 / 4 = 82.5 min, 4 / 4 = 1, CAIDI 82.5, no momentary.
	// FD-B: 80 / 6 min, 1 / 6, CAIDI 80 (S5's 60 + S10's 20 over one
	// interruption counted), MAIFI 6 / 6 = 1.
	if len(r.Feeders) != 2 {
		t.Fatalf("feeders: %+v", r.Feeders)
	}
	checkIndex(t, r.Feeders[0], 4, 82.5, 1, 82.5, 0)
	checkIndex(t, r.Feeders[1], 6, 80.0/6, 1.0/6, 80, 1)
	// Regions follow the transformers: north is FD-A, south FD-B.
	if len(r.Regions) != 2 || r.Regions[0].Name != "north" || r.Regions[1].Name != "south" {
		t.Fatalf("regions: %+v", r.Regions)
	}
	checkIndex(t, r.Regions[0], 4, 82.5, 1, 82.5, 0)
	checkIndex(t, r.Regions[1], 6, 80.0/6, 1.0/6, 80, 1)

	// A 1-minute momentary threshold turns TR-3's 2 minutes into a
	// sustained interruption: +12 customer minutes, +6 customers.
	r1 := Indices(Expand(g, testOutages()), ServedBy(g), time.Minute, day, day.Add(24*time.Hour), false, MEDThreshold{})
	checkIndex(t, r1.Total, 10, 42.2, 1.1, 42.2/1.1, 0)

	// Nobody served: zeros, never NaN.
	r0 := Indices(nil, Served{}, 0, day, day.Add(time.Hour), false, MEDThreshold{})
	checkIndex(t, r0.Total, 0, 0, 0, 0, 0)
}

func TestIndicesOpenOutageLastsUntilTheEnd(t *testing.T) {
	g := testGrid(t)
	// TR-2 out at 20:00 and not back: S4 counts 4 h until the period's end.
	r := Indices(Expand(g, []Outage{{Device: "TR-2", Start: at(20, 0)}}), ServedBy(g), 0, day, day.Add(24*time.Hour), false, MEDThreshold{})
	checkIndex(t, r.Total, 10, 24, 0.1, 240, 0)
}

func TestMajorEventThresholdByHand(t *testing.T) {
	// Daily SAIDI 1, e, e², 0, e³ minutes: the zero day is left out; the
	// logarithms are 0, 1, 2, 3: α = 1.5; the sample variance is
	// (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3, β = √(5/3) = 1.2909944;
	// T_MED = exp(1.5 + 2.5 × 1.2909944) = exp(4.7274861) = 113.0111 min.
	e := math.E
	got := MajorEventThreshold([]float64{1, e, e * e, 0, e * e * e})
	if math.Abs(got-113.0111) > 1e-4 {
		t.Fatalf("T_MED %v, want 113.0111", got)
	}
	if MajorEventThreshold([]float64{0, 0}) != 0 || MajorEventThreshold(nil) != 0 {
		t.Fatal("a threshold from days without interruptions")
	}
	// One day: β = 0, T_MED is that day.
	if got := MajorEventThreshold([]float64{7}); !near(got, 7) {
		t.Fatalf("one day: %v", got)
	}
}

func TestExcludingMajorEventDays(t *testing.T) {
	g := testGrid(t)
	ints := Expand(g, testOutages())
	// Daily SAIDI by start day: 1 March has FD-A's 330 and S5's whole 120
	// minutes: 45 > 30, a MED; 28 February has S10's 50: 5, not one.
	daily := DailySAIDI(ints, 10, 0, day.Add(-24*time.Hour), day.Add(48*time.Hour), time.UTC)
	if len(daily) != 3 || !near(daily[0], 5) || !near(daily[1], 45) || daily[2] != 0 {
		t.Fatalf("daily SAIDI %v, want [5 45 0]", daily)
	}
	med := MEDThreshold{TMED: 30}
	r := Indices(ints, ServedBy(g), 0, day, day.Add(24*time.Hour), true, med)
	if len(r.MEDs) != 1 || r.MEDs[0] != "2026-03-01" {
		t.Fatalf("MEDs %v", r.MEDs)
	}
	// Left: S10's 20 minutes inside the period (it started on 28
	// February): SAIDI 2, no interruption starting in the period. Left
	// out: S1..S4, S5 and the six momentary events: 11.
	checkIndex(t, r.Total, 10, 2, 0, 0, 0)
	if r.Total.MEDExcluded != 11 {
		t.Fatalf("MED excluded %d, want 11", r.Total.MEDExcluded)
	}
	// Not excluding keeps the figures and still names the day.
	r = Indices(ints, ServedBy(g), 0, day, day.Add(24*time.Hour), false, med)
	checkIndex(t, r.Total, 10, 41, 0.5, 82, 0.6)
	if len(r.MEDs) != 1 {
		t.Fatalf("MEDs %v", r.MEDs)
	}
}

func TestMEDDayIsTheLocalDay(t *testing.T) {
	g := testGrid(t)
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Skip(err)
	}
	// 23:30 UTC on 1 March is 00:30 on 2 March in Amsterdam: the MED is
	// the 2nd there.
	ints := Expand(g, []Outage{{Device: "SS-1", Start: at(23, 30), End: at(25, 30)}})
	r := Indices(ints, ServedBy(g), 0, day, day.Add(48*time.Hour), true, MEDThreshold{TMED: 10, Location: ams})
	if len(r.MEDs) != 1 || r.MEDs[0] != "2026-03-02" || r.Total.MEDExcluded != 10 {
		t.Fatalf("MEDs %v, excluded %d", r.MEDs, r.Total.MEDExcluded)
	}
	m := LearnMED(ints, 10, 0, time.Date(2026, 3, 1, 0, 0, 0, 0, ams), time.Date(2026, 3, 4, 0, 0, 0, 0, ams), ams)
	// Three local days, one with 10 customers × 120 min / 10 = 120.
	if m.Days != 3 || m.PositiveDays != 1 || !near(m.TMED, 120) {
		t.Fatalf("learnt %+v", m)
	}
}

func TestReportCSV(t *testing.T) {
	g := testGrid(t)
	r := Indices(Expand(g, testOutages()), ServedBy(g), 0, day, day.Add(24*time.Hour), false, MEDThreshold{TMED: 113.0111, Note: "history"})
	var b bytes.Buffer
	if err := r.WriteCSV(&b, ""); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// Header, total, two feeders, two regions.
	if len(rows) != 6 || rows[0][0] != "scope" || rows[1][0] != "total" || rows[2][1] != "FD-A" || rows[5][1] != "south" {
		t.Fatalf("rows %v", rows)
	}
	if rows[1][5] != "41.0000" || rows[1][6] != "0.5000" || rows[1][7] != "82.0000" || rows[1][8] != "0.6000" || rows[1][4] != "10" || rows[1][10] != "5" {
		t.Fatalf("total row %v", rows[1])
	}
	b.Reset()
	if err := r.WriteCSV(&b, "region"); err != nil {
		t.Fatal(err)
	}
	if rows, _ := csv.NewReader(&b).ReadAll(); len(rows) != 4 || rows[2][0] != "region" {
		t.Fatalf("by region: %v", rows)
	}
}
