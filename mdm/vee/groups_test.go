package vee

import (
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
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
	if err != nil || rs.Default != DefaultRules() || len(rs.Groups) != 2 || rs.Groups[0].Name != "prosumer" || rs.Groups[1].Name != "ev" {
		t.Fatalf("empty configuration: %+v %v", rs, err)
	}
	if name, r := rs.For(cim.Meter{Tags: map[string]string{"archetype": "prosumer"}}); name != "prosumer" || r.ZeroRun != 0 || r.SpikeRatio == 0 {
		t.Fatalf("prosumer: %s %+v", name, r)
	}
	// A configured group of the same name replaces the built-in one.
	rs, _ = BuildRuleSets(nil, []GroupSpec{{Name: "prosumer", Match: Match{Region: "x"}}})
	if len(rs.Groups) != 2 || rs.Groups[0].Match.Region != "x" {
		t.Fatalf("override: %+v", rs.Groups)
	}
}

// TestIntervalsNotDueAreNoGap: today's day is validated while it is still
// running; the quarter hours after now are not missing yet.
func TestIntervalsNotDueAreNoGap(t *testing.T) {
	date := cim.Date{Year: 2026, Month: 11, Day: 23}
	d := store.Day{MeterID: "m1", Channel: "A+15m", Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
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
	if len(fs) != 2 || fs[0].Rule != RuleMissing || fs[0].Interval != 2 || fs[1].Interval != 4 ||
		!strings.HasPrefix(fs[1].Reason, "4 intervals missing") {
		t.Fatalf("at 02:00: %+v, want the gap at 2 and the four due quarter hours from 01:00", fs)
	}
	if fs := Validate(d, DefaultRules(), Context{}); len(fs) != 2 || !strings.HasPrefix(fs[1].Reason, "92 intervals missing") {
		t.Fatalf("the whole day due: %+v", fs)
	}
}

// TestExportZeroIsNormal: a meter without solar panels exports nothing;
// the zero-run rule is for consumption.
func TestExportZeroIsNormal(t *testing.T) {
	date := cim.Date{Year: 2026, Month: 11, Day: 22}
	for ch, want := range map[string]int{"A-15m": 0, "A+15m": 1} {
		d := store.Day{MeterID: "m1", Channel: ch, Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
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
	d := store.Day{MeterID: "m1", Channel: "A+15m", Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
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
