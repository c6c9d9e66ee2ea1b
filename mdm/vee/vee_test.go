package vee_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/meter"
)

var ams = func() *time.Location {
	l, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		panic(err)
	}
	return l
}()

// golden builds days of one simulated household from the meter model:
// what the head-end would have stored, before any defect.
func golden(t testing.TB, days int) ([]interval.Day, *meter.Meter) {
	t.Helper()
	first := cim.Date{Year: 2026, Month: 2, Day: 1}
	now := first.AddDays(days + 1).Start(ams)
	f := meter.NewFleet(5, ams, now)
	f.HistoryDays = days + 2
	f.Install = first.AddDays(-1).Start(ams)
	f.Faults = meter.Faults{}
	m, err := f.NewMeter(12, meter.Electricity1P)
	if err != nil {
		t.Fatal(err)
	}
	var out []interval.Day
	for k := range days {
		date := first.AddDays(k)
		n := date.Intervals(ams, 15*time.Minute)
		d := interval.Day{MeterID: "m", Channel: "A+15m", Date: date, Start: date.Start(ams), Interval: 15 * time.Minute,
			Values: make([]int64, n), Quality: make([]cim.Quality, n)}
		es := m.ProfileRange(now, d.Start.Add(time.Minute), d.Start.Add(time.Duration(n)*15*time.Minute))
		if len(es) != n {
			t.Fatalf("%s: %d entries for %d intervals", date, len(es), n)
		}
		for i, e := range es {
			d.Values[i] = e.Import
		}
		out = append(out, d)
	}
	return out, m
}

func reg(v int64) *cim.Reading { return &cim.Reading{Value: v} }

func total(d interval.Day) int64 {
	var t int64
	for _, v := range d.Values {
		t += v
	}
	return t
}

// TestGoldenDefects injects a known list of defects into a month of
// simulated data; validation finds every one, with its rule and interval,
// and flags nothing on the clean days.
func TestGoldenDefects(t *testing.T) {
	days, _ := golden(t, 70) // defects on days 28..40, clean days after
	rules := vee.DefaultRules()
	type defect struct {
		day      int
		rule     string
		interval int
		inject   func(d *interval.Day, c *vee.Context)
	}
	defects := []defect{
		{28, vee.RuleMissing, 10, func(d *interval.Day, _ *vee.Context) {
			for i := 10; i < 14; i++ {
				d.Values[i], d.Quality[i] = 0, cim.QualityMissing
			}
		}},
		{29, vee.RuleSpike, 40, func(d *interval.Day, _ *vee.Context) { d.Values[40] = 4000 }},
		{30, vee.RuleClock, 20, func(d *interval.Day, _ *vee.Context) { d.Quality[20] |= cim.QualityClockAdjusted }},
		{31, vee.RuleOutage, 30, func(d *interval.Day, _ *vee.Context) { // the captures lost to the outage are in it
			for i := 30; i < 36; i++ {
				d.Values[i], d.Quality[i] = 0, cim.QualityMissing
			}
			d.Quality[36] |= cim.QualityPowerDown
		}},
		{32, vee.RuleTheftSuspected, -1, func(d *interval.Day, _ *vee.Context) {
			for i := range d.Values {
				d.Values[i] = d.Values[i] * 3 / 10
			}
		}},
		{33, vee.RuleDuplicate, 50, func(d *interval.Day, _ *vee.Context) { d.Quality[50] |= cim.QualitySuspect }},
		{34, vee.RuleNegative, 5, func(d *interval.Day, _ *vee.Context) { d.Values[5] = -3 }},
		{35, vee.RuleSumCheck, -1, func(d *interval.Day, c *vee.Context) {
			c.RegisterStart, c.RegisterEnd = reg(1000), reg(1000+total(*d)+50)
		}},
		{36, vee.RuleWhileOff, 60, func(d *interval.Day, c *vee.Context) {
			c.Disconnected = []vee.Span{{From: d.Start.Add(60 * 15 * time.Minute), To: d.Start.Add(61 * 15 * time.Minute)}}
			d.Values[60] = max(d.Values[60], 5)
		}},
		{37, vee.RuleZeroEnergised, 8, func(d *interval.Day, _ *vee.Context) {
			for i := 8; i < 30; i++ {
				d.Values[i] = 0
			}
		}},
		{38, vee.RuleDemandLimit, 70, func(d *interval.Day, _ *vee.Context) { d.Values[70] = 5000 }},
		{39, vee.RuleRollover, 12, func(d *interval.Day, _ *vee.Context) { d.Quality[12] |= cim.QualityOverflow }},
		{40, vee.RuleHighLow, -1, func(d *interval.Day, _ *vee.Context) {
			for i := range d.Values {
				d.Values[i] *= 5
			}
		}},
	}
	injected := map[int]defect{}
	for _, df := range defects {
		injected[df.day] = df
	}
	for k := 28; k < len(days); k++ {
		d := days[k]
		d.Values = append([]int64(nil), d.Values...)
		d.Quality = append([]cim.Quality(nil), d.Quality...)
		c := vee.Context{History: days[k-28 : k]}
		c.RegisterStart, c.RegisterEnd = reg(5000), reg(5000+total(d))
		df, bad := injected[k]
		if bad {
			df.inject(&d, &c)
			if df.rule != vee.RuleSumCheck {
				// The register moves with what the meter really measured.
				c.RegisterEnd = reg(5000 + total(days[k]))
				if df.rule == vee.RuleTheftSuspected || df.rule == vee.RuleHighLow || df.rule == vee.RuleZeroEnergised ||
					df.rule == vee.RuleSpike || df.rule == vee.RuleNegative || df.rule == vee.RuleDemandLimit || df.rule == vee.RuleWhileOff {
					c.RegisterEnd = reg(5000 + total(d)) // the register saw the same (a bypass is not measured at all)
				}
			}
		}
		fs := vee.Validate(d, rules, c)
		if !bad {
			if len(fs) > 0 {
				t.Errorf("clean day %s: %v", d.Date, fs)
			}
			continue
		}
		found := false
		for _, f := range fs {
			if f.Rule == df.rule && f.Interval == df.interval && f.Reason != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("day %s: injected %s at %d not found; findings %v", d.Date, df.rule, df.interval, fs)
		}
	}
}

// TestEstimatesReconcile fills a short and a long gap and checks the day
// then adds up to the register's move exactly, keeps the actual values
// and flags only the estimates.
func TestEstimatesReconcile(t *testing.T) {
	days, _ := golden(t, 30)
	d := days[29]
	truth := total(d)
	orig := append([]int64(nil), d.Values...)
	d.Values = append([]int64(nil), d.Values...)
	d.Quality = append([]cim.Quality(nil), d.Quality...)
	for _, i := range []int{20, 21, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69} {
		d.Values[i], d.Quality[i] = 0, cim.QualityMissing
	}
	c := vee.Context{History: days[:29], RegisterStart: reg(100), RegisterEnd: reg(100 + truth)}
	got, reason, ok := vee.Estimate(d, vee.DefaultEstimation(), c)
	if !ok || reason == "" || got.Source != interval.SourceEstimate {
		t.Fatalf("estimate: %v %q %s", ok, reason, got.Source)
	}
	if total(got) != truth {
		t.Errorf("estimated day sums to %d, the register moved %d", total(got), truth)
	}
	for i, q := range got.Quality {
		missing := d.Quality[i]&cim.QualityMissing != 0
		if missing != (q&cim.QualityEstimated != 0) {
			t.Errorf("interval %d: quality %s", i, q)
		}
		if !missing && got.Values[i] != orig[i] {
			t.Errorf("interval %d: actual value changed", i)
		}
		if got.Values[i] < 0 {
			t.Errorf("interval %d: negative estimate %d", i, got.Values[i])
		}
	}
	if fs := vee.Validate(got, vee.Rules{SumTolerance: 1}, c); len(fs) != 0 {
		t.Errorf("estimated day fails validation: %v", fs)
	}
	// An edit is a new version with who and why.
	e, err := vee.Edit(got, map[int]int64{3: 42}, "alice", "meter exchanged at 00:45")
	if err != nil || e.Values[3] != 42 || e.Quality[3] != cim.QualityEdited || e.User != "alice" || e.Source != interval.SourceEdit {
		t.Fatalf("edit: %+v %v", e.Quality[3], err)
	}
	if _, err := vee.Edit(got, map[int]int64{999: 1}, "alice", "x"); err == nil {
		t.Error("edit of an interval the day does not have accepted")
	}
	if _, err := vee.Edit(got, map[int]int64{1: 1}, "", ""); err == nil {
		t.Error("edit without user and reason accepted")
	}
}

func ExampleValidate() {
	start := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	d := interval.Day{Start: start, Interval: time.Hour, Values: []int64{5, 5, 90, 5}, Quality: make([]cim.Quality, 4)}
	for _, f := range vee.Validate(d, vee.Rules{SpikeRatio: 8}, vee.Context{}) {
		fmt.Println(f.Rule, f.Interval, f.Reason)
	}
	// Output: spike 2 90 at 02:00 UTC is 18× the third highest interval (5)
}
