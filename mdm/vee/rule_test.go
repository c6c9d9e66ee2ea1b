package vee

import (
	"slices"
	"strings"
	"testing"
)

// TestRuleNamesStay: failures record rule names and exceptions store
// them; a renamed rule would orphan every exception it raised before.
func TestRuleNamesStay(t *testing.T) {
	want := []string{"missing", "negative", "register-rollover", "clock-adjusted", "data-not-valid", "duplicate-differs",
		"power-down", "demand-limit", "consumption-while-disconnected", "zero-while-energised", "spike", "high-low-vs-history",
		"consumption-drop", "sum-check"}
	var got []string
	for _, d := range builtin() {
		got = append(got, d.Name)
		r := d.New(DefaultRules())
		if r == nil || r.Name() != d.Name {
			t.Errorf("rule %s: the default set makes %v", d.Name, r)
		}
	}
	if !slices.Equal(got, want) || !slices.Equal(Registered()[:len(want)], want) {
		t.Fatalf("built-in rules %v, registered %v, want %v first", got, Registered(), want)
	}
	if p := strings.Join(RuleParameters(), ","); p != "demand_limit,drop_factor,high_factor,low_factor,spike_min,spike_ratio,sum_tolerance,zero_run" {
		t.Fatalf("parameters %s", p)
	}
}

// TestZeroParametersTurnRulesOff: a rule set states which rules run by
// its parameters; the sum check has no off, as a tolerance of 0 is the
// strictest.
func TestZeroParametersTurnRulesOff(t *testing.T) {
	var names []string
	for _, r := range (Rules{}).Set() {
		names = append(names, r.Name())
	}
	want := []string{RuleMissing, RuleNegative, RuleRollover, RuleClock, RuleDataNotValid, RuleDuplicate, RuleOutage, RuleWhileOff, RuleSumCheck}
	if !slices.Equal(names[:len(want)], want) {
		t.Fatalf("empty rule set runs %v, want %v", names, want)
	}
	if n := len(DefaultRules().Set()); n < len(builtin()) {
		t.Fatalf("default rule set runs %d rules, want every one of %d", n, len(builtin()))
	}
}

func TestRegisterRefusesWhatIsTaken(t *testing.T) {
	defs := builtin()
	for _, c := range []struct {
		d    Definition
		want string
	}{
		{Definition{Name: RuleSpike, New: defSpike.New}, "registered twice"},
		{Definition{Name: "spike-2", New: defSpike.New, Params: defSpike.Params}, `takes parameter "spike_`},
		{Definition{Name: "x"}, "without a name or a constructor"},
	} {
		if _, err := with(defs, c.d); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.d.Name, err, c.want)
		}
	}
	if ds, err := with(defs, Definition{Name: "x", New: defMissing.New}); err != nil || len(ds) != len(defs)+1 || &ds[0] == &defs[0] {
		t.Fatalf("a new rule: %v", err)
	}
}
