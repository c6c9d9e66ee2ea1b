package vee

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

func TestRuleSetsChooseTheFirstMatchingGroup(t *testing.T) {
	rs, err := BuildRuleSets(map[string]float64{"demand_limit": 6000}, []GroupSpec{
		{Name: "street-lights", Match: Match{Tags: map[string]string{"class": "lighting"}}, Rules: map[string]float64{"zero_run": 0}},
		{Name: "north-commercial", Match: Match{Region: "north", Tags: map[string]string{"class": "commercial"}},
			Rules: map[string]float64{"demand_limit": 60000}},
		{Name: "plc-cell-7", Match: Match{Segment: "cell-7", Protocol: "dlms"}, Rules: map[string]float64{"spike_ratio": 20}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		m     cim.Meter
		group string
		check func(Rules) bool
	}{
		{cim.Meter{MRID: "a", Tags: map[string]string{"class": "lighting"}}, "street-lights",
			func(r Rules) bool { return r.ZeroRun == 0 && r.DemandLimit == 6000 && r.SpikeRatio == 8 }},
		{cim.Meter{MRID: "b", Region: "north", Tags: map[string]string{"class": "commercial"}}, "north-commercial",
			func(r Rules) bool { return r.DemandLimit == 60000 && r.ZeroRun == 16 }},
		{cim.Meter{MRID: "c", Region: "south", Tags: map[string]string{"class": "commercial"}}, DefaultGroup,
			func(r Rules) bool { return r.DemandLimit == 6000 }},
		{cim.Meter{MRID: "d", Segment: "cell-7", Protocol: "dlms"}, "plc-cell-7",
			func(r Rules) bool { return r.SpikeRatio == 20 && r.DemandLimit == 6000 }},
		{cim.Meter{MRID: "e", Segment: "cell-7", Protocol: "mbus"}, DefaultGroup, func(r Rules) bool { return true }},
	} {
		name, r := rs.For(c.m)
		if name != c.group || !c.check(r) {
			t.Errorf("meter %s: group %s rules %+v, want group %s", c.m.MRID, name, r, c.group)
		}
	}
}

func TestRuleSetsRefuseMistakes(t *testing.T) {
	for _, c := range []struct {
		def    map[string]float64
		groups []GroupSpec
		want   string
	}{
		{map[string]float64{"demand_limt": 1}, nil, `unknown rule parameter "demand_limt"`},
		{nil, []GroupSpec{{Name: "g", Rules: map[string]float64{"spike_ratio": -1}}}, "want 0 (off) or more"},
		{nil, []GroupSpec{{Name: "", Rules: nil}}, "a name other than"},
		{nil, []GroupSpec{{Name: "default"}}, "a name other than"},
		{nil, []GroupSpec{{Name: "g"}, {Name: "g"}}, "defined twice"},
	} {
		_, err := BuildRuleSets(c.def, c.groups)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: error %v, want %q", c.def, c.groups, err, c.want)
		}
	}
	rs, err := BuildRuleSets(nil, nil)
	var names []string
	for _, g := range rs.Groups {
		names = append(names, g.Name)
	}
	if err != nil || rs.Default != DefaultRules() || strings.Join(names, ",") != "prosumer,ev,commercial,gas,water" {
		t.Fatalf("empty configuration: %+v %v", rs, err)
	}
	if name, r := rs.For(cim.Meter{Tags: map[string]string{"archetype": "prosumer"}}); name != "prosumer" || r.ZeroRun != 0 || r.SpikeRatio == 0 {
		t.Fatalf("prosumer: %s %+v", name, r)
	}
	// A configured group of the same name replaces the built-in one.
	rs, _ = BuildRuleSets(nil, []GroupSpec{{Name: "prosumer", Match: Match{Region: "x"}}})
	if len(rs.Groups) != 5 || rs.Groups[0].Match.Region != "x" {
		t.Fatalf("override: %+v", rs.Groups)
	}
}

// TestIntervalsNotDueAreNoGap: today's day is validated while it is still
// running; the quarter hours after now are not missing yet.
func TestIntervalsNotDueAreNoGap(t *testing.T) {
	date := cim.Date{Year: 2026, Month: 11, Day: 23}
	d := interval.Day{MeterID: "m1", Channel: "A+15m", Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
		Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
	for i := range d.Values {
		d.Values[i] = 10
		if i >= 4 {
			d.Quality[i] = cim.QualityMissing
		}
	}
	d.Quality[2] = cim.QualityMissing // a real gap before now
	now := d.Start.Add(2 * time.Hour)
	fs := Validate(d, DefaultRules(), Context{Until: now})
	if len(fs) != 1 || fs[0].Rule != RuleMissing || fs[0].Interval != 2 || !slices.Equal(fs[0].Intervals, []int{2, 4, 5, 6, 7}) ||
		fs[0].Reason != "5 intervals missing: 00:30–00:45, 01:00–02:00 UTC" {
		t.Fatalf("at 02:00: %+v, want one exception for the gap at 2 and the four due quarter hours from 01:00", fs)
	}
	if fs := Validate(d, DefaultRules(), Context{}); len(fs) != 1 || len(fs[0].Intervals) != 93 ||
		fs[0].Reason != "93 intervals missing: 00:30–00:45, 01:00–24:00 UTC" {
		t.Fatalf("the whole day due: %+v", fs)
	}
}

// TestFirstDayBeforeFirstReading: the oldest day read back starts before
// the meter's first reading; those intervals were never due. A gap after
// the first reading is one.
func TestFirstDayBeforeFirstReading(t *testing.T) {
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	date := cim.Date{Year: 2026, Month: 11, Day: 8}
	d := interval.Day{MeterID: "m1", Channel: "A+15m", Date: date, Start: date.Start(ams).UTC(), Interval: 15 * time.Minute,
		Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
	for i := range d.Values {
		d.Values[i] = 100 + int64(i%7)
		if i < 79 {
			d.Values[i], d.Quality[i] = 0, cim.QualityMissing
		}
	}
	if fs := Validate(d, DefaultRules(), Context{First: true, Location: ams}); len(fs) != 0 {
		t.Fatalf("first day: %+v, want nothing", fs)
	}
	d.Quality[90] = cim.QualityMissing
	fs := Validate(d, DefaultRules(), Context{First: true, Location: ams})
	if len(fs) != 1 || fs[0].Interval != 90 || fs[0].Reason != "1 interval missing: 22:30–22:45 CET" {
		t.Fatalf("first day with a gap: %+v", fs)
	}
	if fs := Validate(d, DefaultRules(), Context{Location: ams}); len(fs) != 1 || len(fs[0].Intervals) != 80 {
		t.Fatalf("a later day: %+v, want the 80 intervals missing", fs)
	}
}

// TestReasonsHaveUnitsAndLocalTime: one exception for every interval
// above the limit, in the usage point's time with energy and power; a
// zero like-day average gives a reason without infinity.
func TestReasonsHaveUnitsAndLocalTime(t *testing.T) {
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	date := cim.Date{Year: 2026, Month: 7, Day: 8}
	mk := func(date cim.Date, v int64) interval.Day {
		d := interval.Day{MeterID: "m1", Channel: "A+15m", Date: date, Start: date.Start(ams).UTC(), Interval: 15 * time.Minute,
			Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
		for i := range d.Values {
			d.Values[i] = v
		}
		return d
	}
	d := mk(date, 100)
	for i := 68; i < 72; i++ {
		d.Values[i] = 5000 + int64(i)
	}
	d.Values[80] = 4400
	fs := Validate(d, Rules{DemandLimit: 4312}, Context{Location: ams})
	want := "5 intervals above the limit of 4,312 Wh (17.2 kW): 17:00–18:00, 20:00–20:15 CEST; the highest 5,071 Wh (20.3 kW)"
	if len(fs) != 1 || fs[0].Rule != RuleDemandLimit || fs[0].Reason != want || fs[0].Unit != "Wh" || len(fs[0].Intervals) != 5 {
		t.Fatalf("demand limit: %+v, want one with %q", fs, want)
	}
	hist := []interval.Day{mk(date.AddDays(-7), 0), mk(date.AddDays(-14), 0)}
	fs = Validate(mk(date, 10), Rules{HighFactor: 3}, Context{Location: ams, History: hist})
	want = "day total 1.0 kWh, where 2 like days averaged 0.0 kWh"
	if len(fs) != 1 || fs[0].Rule != RuleHighLow || fs[0].Reason != want {
		t.Fatalf("after empty like days: %+v, want %q", fs, want)
	}
}

// TestExportZeroIsNormal: a meter without solar panels exports nothing;
// the zero-run rule is for consumption.
func TestExportZeroIsNormal(t *testing.T) {
	date := cim.Date{Year: 2026, Month: 11, Day: 22}
	for ch, want := range map[string]int{"A-15m": 0, "A+15m": 1} {
		d := interval.Day{MeterID: "m1", Channel: ch, Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
			Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
		n := 0
		for _, f := range Validate(d, DefaultRules(), Context{}) {
			if f.Rule == RuleZeroEnergised {
				n++
			}
		}
		if n != want {
			t.Errorf("%s: %d zero-while-energised findings, want %d", ch, n, want)
		}
	}
}

// TestEVTopUpIsNoSpike: a quarter hour of charging over a quiet night is
// a spike for a household without a car and a top-up for one with.
func TestEVTopUpIsNoSpike(t *testing.T) {
	date := cim.Date{Year: 2026, Month: 11, Day: 22}
	d := interval.Day{MeterID: "m1", Channel: "A+15m", Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
		Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
	for i := range d.Values {
		d.Values[i] = 33
	}
	d.Values[0] = 1877
	rs := DefaultRuleSets()
	for archetype, want := range map[string]bool{"family": true, "ev": false} {
		_, r := rs.For(cim.Meter{Tags: map[string]string{"archetype": archetype}})
		spike := false
		for _, f := range Validate(d, r, Context{}) {
			spike = spike || f.Rule == RuleSpike
		}
		if spike != want {
			t.Errorf("%s: spike %v, want %v", archetype, spike, want)
		}
	}
}

// TestMeterStatusOnceForBothChannels: a lost capture, a power failure and
// a clock setting are in both channels' profile entry; only the import
// channel reports them, and the capture lost to the power failure is part
// of that outage: one outage is one exception.
func TestMeterStatusOnceForBothChannels(t *testing.T) {
	date := cim.Date{Year: 2026, Month: 11, Day: 22}
	for ch, want := range map[string]int{"A-15m": 0, "A+15m": 2} {
		d := interval.Day{MeterID: "m1", Channel: ch, Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
			Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
		for i := range d.Values {
			d.Values[i] = 50
		}
		d.Quality[10], d.Quality[11] = cim.QualityMissing, cim.QualityPowerDown|cim.QualityClockAdjusted
		fs := Validate(d, DefaultRules(), Context{})
		if len(fs) != want {
			t.Errorf("%s: %+v, want %d findings", ch, fs, want)
		}
		if want > 0 && (fs[0].Rule != RuleOutage || fs[0].Reason != "power failed in 2 intervals: 02:30–03:00 UTC (1 capture lost; the interval after holds its consumption)") {
			t.Errorf("%s: %+v, want the outage with its lost capture", ch, fs[0])
		}
	}
}

// TestNoLikeDaysOfAnotherKind: a Saturday whose history holds only
// working days has no like days: an office's weekend is no drop.
func TestNoLikeDaysOfAnotherKind(t *testing.T) {
	mk := func(date cim.Date, v int64) interval.Day {
		d := interval.Day{MeterID: "m1", Channel: "A+15m", Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
			Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
		for i := range d.Values {
			d.Values[i] = v
		}
		return d
	}
	sat := cim.Date{Year: 2026, Month: 11, Day: 14}
	var hist []interval.Day
	for k := 1; k <= 5; k++ {
		hist = append(hist, mk(sat.AddDays(-k), 1000))
	}
	if fs := Validate(mk(sat, 400), DefaultRules(), Context{History: hist}); len(fs) != 0 {
		t.Fatalf("Saturday after five working days: %+v", fs)
	}
	hist = append(hist, mk(sat.AddDays(-6), 1000)) // Sunday the 8th
	if fs := Validate(mk(sat, 400), DefaultRules(), Context{History: hist}); len(fs) != 1 || fs[0].Rule != RuleTheftSuspected {
		t.Fatalf("Saturday after a weekend day of 2.5 times as much: %+v", fs)
	}
}
