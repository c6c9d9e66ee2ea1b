package vee

import (
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/cim"
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
	if rs, err := BuildRuleSets(nil, nil); err != nil || rs.Default != DefaultRules() || len(rs.Groups) != 0 {
		t.Fatalf("empty configuration: %+v %v", rs, err)
	}
}
