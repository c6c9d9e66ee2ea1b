package vee_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm/vee"
)

// A rule added by a file of its own: this one, and its Register call.
// Nothing else in the package knows it. It checks reactive channels only,
// so the other tests of the package, all on active energy, never see it.

const ruleFlatReactive = "flat-reactive"

func init() {
	vee.Register(vee.Definition{Name: ruleFlatReactive, New: func(vee.Rules) vee.Rule { return flatReactive{Run: 8} }})
}

// flatReactive flags a reactive channel holding the same non-zero value
// for Run intervals or more: a reactive register that stopped counting
// sends its last increment again and again.
type flatReactive struct{ Run int }

func (flatReactive) Name() string { return ruleFlatReactive }

func (r flatReactive) Check(s *vee.Subject) []vee.Failure {
	if vee.UnitOf(s.Channel) != "varh" {
		return nil
	}
	var at []int
	for i := 0; i < len(s.Values); {
		j := i
		for j < len(s.Values) && !s.Missing(j) && s.Values[j] == s.Values[i] {
			j++
		}
		if s.Values[i] != 0 && j-i >= r.Run {
			for k := i; k < j; k++ {
				at = append(at, k)
			}
		}
		i = max(j, i+1)
	}
	return s.Finding(at, s.Unit, func() string {
		return fmt.Sprintf("%s at %s: %s", s.Count(len(at)), s.Energy(s.Values[at[0]]), s.Runs(at))
	})
}

// TestAddedRuleRunsWithTheOthers: a rule registered from its own file
// runs in every rule set, after the built-in rules, and its failures come
// out of Validate sorted with theirs.
func TestAddedRuleRunsWithTheOthers(t *testing.T) {
	date := cim.Date{Year: 2026, Month: 11, Day: 23}
	d := interval.Day{MeterID: "m1", Channel: "R+15m", Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
		Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
	for i := range d.Values {
		d.Values[i] = int64(i % 5)
	}
	for i := 32; i < 44; i++ {
		d.Values[i] = 40
	}
	d.Values[3] = -2
	fs := vee.Validate(d, vee.DefaultRules(), vee.Context{})
	want := []vee.Failure{
		{Rule: vee.RuleNegative, Interval: 3, Intervals: []int{3}, Reason: "1 interval negative, down to -2 varh: 00:45–01:00 UTC", Unit: "varh"},
		{Rule: ruleFlatReactive, Interval: 32, Intervals: []int{32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43},
			Reason: "12 intervals at 40 varh: 08:00–11:00 UTC", Unit: "varh"},
	}
	if fmt.Sprint(fs) != fmt.Sprint(want) {
		t.Fatalf("findings\n%+v\nwant\n%+v", fs, want)
	}
	if names := vee.Registered(); names[len(names)-1] != ruleFlatReactive {
		t.Errorf("registered %v, want %s last", names, ruleFlatReactive)
	}
	if def, ok := vee.Lookup(ruleFlatReactive); !ok || def.New(vee.Rules{}).Name() != ruleFlatReactive {
		t.Errorf("lookup %s: %+v %v", ruleFlatReactive, def, ok)
	}
	if !slices.ContainsFunc(vee.Rules{}.Set(), func(r vee.Rule) bool { return r.Name() == ruleFlatReactive }) {
		t.Error("a rule without parameters is missing from the empty rule set")
	}
}
