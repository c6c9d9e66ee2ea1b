package vee

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/amigo-ami/amigo/cim"
)

// RuleSets chooses the rules for a meter: the first group whose match
// fits it, else Default. Meter groups differ in what is plausible: a
// three-phase commercial meter's demand limit would flag every interval
// of a street light, and a gas meter's zero nights are not a fault.
type RuleSets struct {
	Default Rules
	Groups  []Group
}

// Group is a named rule set and the meters it applies to.
type Group struct {
	Name  string
	Match Match
	Rules Rules
}

// Match selects meters by registry attributes. Every field that is set
// must match; an empty Match matches every meter.
type Match struct {
	// Tags must all be present on the meter with these values.
	Tags     map[string]string `yaml:"tags" json:"tags,omitempty"`
	Segment  string            `yaml:"segment" json:"segment,omitempty"`
	Region   string            `yaml:"region" json:"region,omitempty"`
	Protocol string            `yaml:"protocol" json:"protocol,omitempty"`
}

// Matches reports whether m selects the meter.
func (m Match) Matches(mt cim.Meter) bool {
	if m.Segment != "" && m.Segment != mt.Segment || m.Region != "" && m.Region != mt.Region ||
		m.Protocol != "" && m.Protocol != mt.Protocol {
		return false
	}
	for k, v := range m.Tags {
		if got, ok := mt.Label(k); !ok || got != v {
			return false
		}
	}
	return true
}

// DefaultGroup names the rule set of meters no group matches.
const DefaultGroup = "default"

// DefaultRuleSets is BuildRuleSets with nothing configured: DefaultRules,
// and the built-in groups.
func DefaultRuleSets() RuleSets {
	s, err := BuildRuleSets(nil, nil)
	if err != nil {
		panic(err) // the built-in groups are fixed and valid
	}
	return s
}

// builtinGroups are groups every installation has unless it configures a
// group of the same name; with the default set (households: single,
// couple, family, retired) they give every kind of customer the simulator
// makes rules that fit its load.
//
// A prosumer's panels cover its own use for hours on a sunny day, so zero
// import then is normal, and its daily import swings with the weather: the
// zero-run, low-day and drop rules would fire on every clear day. An
// electric vehicle's charger draws up to 22 kW: a quarter hour of charging
// (5,500 Wh) over a quiet night is a top-up, not a spike, and a day with a
// full charge is not "high". A shop or office is three-phase with a
// capacity of its own: 3 × 80 A at 230 V is 55.2 kW, 13,800 Wh a quarter
// hour. Gas and water flow in bursts and stop for days while the
// household is away, so only their missing data, status bits and high
// days say something.
func builtinGroups() []GroupSpec {
	volume := map[string]float64{"zero_run": 0, "low_factor": 0, "drop_factor": 0, "spike_ratio": 0, "demand_limit": 0, "high_factor": 5}
	return []GroupSpec{
		{Name: "prosumer", Match: Match{Tags: map[string]string{"archetype": "prosumer"}},
			Rules: map[string]float64{"zero_run": 0, "low_factor": 0, "drop_factor": 0}},
		{Name: "ev", Match: Match{Tags: map[string]string{"archetype": "ev"}},
			Rules: map[string]float64{"spike_min": 5600, "high_factor": 8, "low_factor": 0.1, "drop_factor": 0, "demand_limit": 0}},
		{Name: "commercial", Match: Match{Tags: map[string]string{"archetype": "commercial"}},
			Rules: map[string]float64{"demand_limit": 13_800}},
		{Name: "gas", Match: Match{Tags: map[string]string{"kind": "gas"}}, Rules: volume},
		{Name: "water", Match: Match{Tags: map[string]string{"kind": "water"}}, Rules: volume},
	}
}

// For returns the name of the rule set that applies to the meter, and its
// rules.
func (s RuleSets) For(m cim.Meter) (string, Rules) {
	for _, g := range s.Groups {
		if g.Match.Matches(m) {
			return g.Name, g.Rules
		}
	}
	return DefaultGroup, s.Default
}

// RuleParameters lists the names With accepts: the parameters of every
// registered rule.
func RuleParameters() []string {
	var out []string
	for _, d := range definitions() {
		for k := range d.Params {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// parameter finds where a parameter goes in Rules.
func parameter(name string) (func(*Rules, float64), bool) {
	for _, d := range definitions() {
		if set, ok := d.Params[name]; ok {
			return set, true
		}
	}
	return nil, false
}

// With returns r with the named parameters replaced, so a group states
// only where it differs from the default set. An unknown name or a
// negative value is an error, never ignored: a misspelt limit would
// silently leave the default in force.
func (r Rules) With(over map[string]float64) (Rules, error) {
	names := make([]string, 0, len(over))
	for k := range over {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		set, ok := parameter(k)
		if !ok {
			return r, fmt.Errorf("unknown rule parameter %q (known: %s)", k, strings.Join(RuleParameters(), ", "))
		}
		v := over[k]
		if v < 0 {
			return r, fmt.Errorf("rule parameter %s is %v: want 0 (off) or more", k, v)
		}
		set(&r, v)
	}
	return r, nil
}

// GroupSpec is a group as configured: its rules as changes to the default
// set.
type GroupSpec struct {
	Name  string             `yaml:"name"`
	Match Match              `yaml:"match"`
	Rules map[string]float64 `yaml:"rules"`
}

// BuildRuleSets turns configured changes into rule sets: the default set
// is DefaultRules changed by def, and each group starts from that default.
// The built-in groups follow the configured ones, unless one of those
// takes a built-in's name.
func BuildRuleSets(def map[string]float64, groups []GroupSpec) (RuleSets, error) {
	var s RuleSets
	var err error
	if s.Default, err = DefaultRules().With(def); err != nil {
		return s, fmt.Errorf("validation default: %w", err)
	}
	var seen []string
	for i, g := range groups {
		if g.Name == "" || g.Name == DefaultGroup {
			return s, fmt.Errorf("validation group %d: a name other than %q is required", i+1, DefaultGroup)
		}
		if slices.Contains(seen, g.Name) {
			return s, fmt.Errorf("validation group %q is defined twice", g.Name)
		}
		seen = append(seen, g.Name)
		r, err := s.Default.With(g.Rules)
		if err != nil {
			return s, fmt.Errorf("validation group %q: %w", g.Name, err)
		}
		s.Groups = append(s.Groups, Group{Name: g.Name, Match: g.Match, Rules: r})
	}
	for _, g := range builtinGroups() {
		if slices.Contains(seen, g.Name) {
			continue
		}
		r, err := s.Default.With(g.Rules)
		if err != nil {
			return s, err
		}
		s.Groups = append(s.Groups, Group{Name: g.Name, Match: g.Match, Rules: r})
	}
	return s, nil
}
