package mdm_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

func TestRunVEESQLite(t *testing.T)   { testRunVEE(t, storetest.OpenSQLite) }
func TestRunVEEPostgres(t *testing.T) { testRunVEE(t, storetest.OpenPostgres) }

// testRunVEE stores four weeks of a regular household and a day with a
// gap and a spike; the run records both in the exceptions queue and
// replaces the gap with estimates that add up to the midnight registers.
func testRunVEE(t *testing.T, open func(testing.TB) (store.Store, string)) {
	st, _ := open(t)
	ctx := context.Background()
	loc, _ := time.LoadLocation("Europe/Amsterdam")
	first := cim.Date{Year: 2026, Month: 6, Day: 1}
	var days []interval.Day
	reg := int64(100_000)
	var regs []cim.Reading
	for k := range 29 {
		date := first.AddDays(k)
		n := date.Intervals(loc, 15*time.Minute)
		d := interval.Day{MeterID: "m1", Channel: "A+15m", Date: date, Start: date.Start(loc), Interval: 15 * time.Minute,
			Values: make([]int64, n), Quality: make([]cim.Quality, n)}
		regs = append(regs, cim.Reading{MeterID: "m1", ReadingType: "A+/billing", TimeStamp: d.Start, Value: reg})
		for i := range d.Values {
			d.Values[i] = 40 + int64(i%8)*10
			reg += d.Values[i]
		}
		days = append(days, d)
	}
	regs = append(regs, cim.Reading{MeterID: "m1", ReadingType: "A+/billing", TimeStamp: first.AddDays(29).Start(loc), Value: reg})
	last := &days[28]
	truth := int64(0)
	for _, v := range last.Values {
		truth += v
	}
	for i := 20; i < 40; i++ {
		last.Values[i], last.Quality[i] = 0, cim.QualityMissing
	}
	last.Values[60] = 9000
	truth += 9000 - (40 + int64(60%8)*10)
	regs[len(regs)-1].Value += 9000 - (40 + int64(60%8)*10)
	if _, err := st.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutRegisterReads(ctx, regs); err != nil {
		t.Fatal(err)
	}
	rep, err := mdm.RunVEE(ctx, st, "m1", "A+15m", first.AddDays(28), first.AddDays(28),
		mdm.VEEOptions{Rules: vee.DefaultRuleSets(), Estimation: vee.DefaultEstimation(), Estimate: true, Today: first.AddDays(30)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Days != 1 || rep.Estimated != 1 || rep.Exceptions < 2 {
		t.Fatalf("report %+v", rep)
	}
	ex, err := st.ListExceptions(ctx, store.ExceptionQuery{MeterID: "m1", OpenOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]bool{}
	for _, e := range ex {
		rules[e.Rule] = true
	}
	if !rules[vee.RuleMissing] || !rules[vee.RuleSpike] {
		t.Fatalf("exceptions %+v", ex)
	}
	d, err := st.Day(ctx, "m1", "A+15m", first.AddDays(28))
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for i, v := range d.Values {
		sum += v
		if (i >= 20 && i < 40) != (d.Quality[i]&cim.QualityEstimated != 0) {
			t.Fatalf("interval %d quality %s", i, d.Quality[i])
		}
	}
	if d.Source != interval.SourceEstimate || d.Version != 2 || sum != truth {
		t.Fatalf("estimated day: source %s version %d sums to %d, registers say %d", d.Source, d.Version, sum, truth)
	}
	// Running again records nothing twice.
	if rep, err := mdm.RunVEE(ctx, st, "m1", "A+15m", first.AddDays(28), first.AddDays(28), mdm.VEEOptions{Rules: vee.DefaultRuleSets()}); err != nil {
		t.Fatal(err)
	} else if rep.Estimated != 0 {
		t.Fatalf("second run %+v", rep)
	}
	again, _ := st.ListExceptions(ctx, store.ExceptionQuery{MeterID: "m1", Rule: vee.RuleMissing})
	if len(again) != 1 {
		t.Fatalf("missing recorded %d times", len(again))
	}
}

// TestValidationOnIngest: with Validate set, the days a batch writes are
// validated before it is acknowledged, and the failures wait in the
// exceptions queue.
func TestValidationOnIngest(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			r := newRig(t, e.open)
			_, stop := r.start(t, mdm.Options{Validate: &mdm.VEEOptions{Rules: vee.DefaultRuleSets()}})
			defer stop()
			d := springDay().AddDays(-7)
			b := r.dayBlock("m2", d)
			late := b
			late.Readings = slices.Clone(b.Readings[10:14])
			b.Readings = append(b.Readings[:10], b.Readings[14:]...) // four quarter hours never read
			r.publishBlock(t, b)
			idle(t, r.bus)
			ex, err := r.st.ListExceptions(context.Background(), store.ExceptionQuery{MeterID: "m2", OpenOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(ex) != 1 || ex[0].Rule != vee.RuleMissing || ex[0].Interval != 10 || ex[0].Date != d || ex[0].Intervals != 4 ||
				!slices.Equal(ex[0].Indexes, []int{10, 11, 12, 13}) {
				t.Fatalf("exceptions %+v", ex)
			}
			// The four are read late: the new version passes, and the
			// exception is closed, saying so.
			r.publishBlock(t, late)
			idle(t, r.bus)
			ex, err = r.st.ListExceptions(context.Background(), store.ExceptionQuery{MeterID: "m2"})
			if err != nil {
				t.Fatal(err)
			}
			if len(ex) != 1 || ex[0].Open || ex[0].ResolvedBy != store.SettledBy || ex[0].Resolution != "version 2 of the day passes the rule" {
				t.Fatalf("after the late read: %+v", ex)
			}
		})
	}
}

// TestConsumptionWhileDisconnected: the disconnector's events say when the
// relay was open; consumption registered then is an exception.
func TestConsumptionWhileDisconnected(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	date := cim.Date{Year: 2026, Month: 6, Day: 10}
	d := interval.Day{MeterID: "m1", Channel: "A+15m", Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
		Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
	for i := range d.Values {
		d.Values[i] = 30
		if i >= 40 && i < 60 {
			d.Values[i] = 0 // the relay is open: nothing flows
		}
	}
	d.Values[50] = 7 // but something registered
	if _, err := st.PutDays(ctx, []interval.Day{d}); err != nil {
		t.Fatal(err)
	}
	at := func(i int) time.Time { return d.Start.Add(time.Duration(i) * 15 * time.Minute) }
	if _, err := st.AppendEvents(ctx, []cim.EndDeviceEvent{
		{MRID: "e1", MeterID: "m1", Type: "3.31.0.68", CreatedAt: at(40)},
		{MRID: "e2", MeterID: "m1", Type: "3.31.0.42", CreatedAt: at(60)},
	}); err != nil {
		t.Fatal(err)
	}
	rep, err := mdm.RunVEE(ctx, st, "m1", "A+15m", date, date, mdm.VEEOptions{Rules: vee.DefaultRuleSets()})
	if err != nil {
		t.Fatal(err)
	}
	var hits []int
	for _, f := range rep.Failures {
		if f.Rule == vee.RuleWhileOff {
			hits = append(hits, f.Interval)
		}
		if f.Rule == vee.RuleZeroEnergised {
			t.Errorf("zeros while disconnected flagged: %v", f)
		}
	}
	if len(hits) != 1 || hits[0] != 50 {
		t.Fatalf("consumption while disconnected at %v, want [50]; all %v", hits, rep.Failures)
	}
}

// TestRuleSetsPerGroupOnIngest: each meter is validated by its group's
// rules: the same day breaks the street-light group's demand limit and
// passes the default's.
func TestRuleSetsPerGroupOnIngest(t *testing.T) {
	r := newRig(t, storetest.OpenSQLite)
	ctx := context.Background()
	if err := r.st.PutMeters(ctx, cim.Meter{MRID: "lamp1", UsagePointID: "up-ams", Tags: map[string]string{"class": "lighting"}}); err != nil {
		t.Fatal(err)
	}
	rs, err := vee.BuildRuleSets(nil, []vee.GroupSpec{{Name: "lighting", Match: vee.Match{Tags: map[string]string{"class": "lighting"}},
		Rules: map[string]float64{"demand_limit": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	_, stop := r.start(t, mdm.Options{Validate: &mdm.VEEOptions{Rules: rs}})
	defer stop()
	d := springDay().AddDays(-7)
	r.publishBlock(t, r.dayBlock("m1", d))
	r.publishBlock(t, r.dayBlock("lamp1", d))
	idle(t, r.bus)
	for meter, want := range map[string]bool{"m1": false, "lamp1": true} {
		ex, err := r.st.ListExceptions(ctx, store.ExceptionQuery{MeterID: meter, Rule: vee.RuleDemandLimit})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(ex) > 0; got != want {
			t.Errorf("meter %s: demand-limit exceptions %v, want some: %v", meter, ex, want)
		}
	}
	rep, err := mdm.RunVEE(ctx, r.st, "lamp1", "A+15m", d, d, mdm.VEEOptions{Rules: rs})
	if err != nil || rep.RuleSet != "lighting" {
		t.Fatalf("on demand: rule set %q, %v", rep.RuleSet, err)
	}
}
