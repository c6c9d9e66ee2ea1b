package mdm_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// readDayWithGap stores a day read throughout but for two quarter hours.
func readDayWithGap(t testing.TB, st store.Store, date cim.Date) {
	t.Helper()
	d := gapDay("m1", date)
	for i := range d.Values {
		d.Values[i], d.Quality[i] = 40+int64(i%4)*10, 0
	}
	d.Values[30], d.Quality[30] = 0, cim.QualityMissing
	d.Values[31], d.Quality[31] = 0, cim.QualityMissing
	storeDay(t, st, d)
}

// An estimate on request fills a past day's gap as a new version; one
// overtaken by a reading is not stored over it, and says so.
func TestEstimatesRun(t *testing.T) {
	for _, overtaken := range []bool{false, true} {
		st, _ := storetest.OpenSQLite(t)
		ctx := context.Background()
		if err := st.PutMeters(ctx, cim.Meter{MRID: "m1"}); err != nil {
			t.Fatal(err)
		}
		date := cim.Date{Year: 2026, Month: 6, Day: 4}
		readDayWithGap(t, st, date)
		e := &mdm.Estimates{Store: st, Rules: vee.DefaultRuleSets(), Estimation: vee.DefaultEstimation(),
			Now: func() time.Time { return date.AddDays(3).Start(time.UTC) }}
		if overtaken {
			e.Store = &racingStore{Store: st, Interval: 30, Times: 1}
		}
		rep, err := e.Run(ctx, "m1", "A+15m", date, date, true)
		if err != nil {
			t.Fatal(err)
		}
		latest, err := st.Day(ctx, "m1", "A+15m", date)
		if err != nil {
			t.Fatal(err)
		}
		if !overtaken {
			if rep.Days != 1 || rep.Estimated != 1 || latest.Version != 2 || latest.Quality[30]&cim.QualityEstimated == 0 || latest.Quality[31]&cim.QualityEstimated == 0 {
				t.Fatalf("report %+v; latest version %d, intervals 30, 31 %v; want the gap estimated in version 2", rep, latest.Version, latest.Quality[30:32])
			}
			continue
		}
		if rep.Estimated != 0 || len(rep.Reasons) != 1 || rep.Reasons[0] != "2026-06-04: not estimated, the day changed meanwhile (version 2)" {
			t.Fatalf("overtaken: report %+v", rep)
		}
		if latest.Version != 2 || latest.Values[30] != 55 || latest.Quality[31] != cim.QualityMissing {
			t.Fatalf("overtaken: latest version %d, intervals 30, 31 = %v %v; want the reading alone", latest.Version, latest.Values[30:32], latest.Quality[30:32])
		}
	}
}

// A meter's rule set is its group's; a meter not registered is a wrong
// question.
func TestEstimatesRuleSet(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	if err := st.PutMeters(ctx, cim.Meter{MRID: "lamp", Tags: map[string]string{"class": "lighting"}}, cim.Meter{MRID: "house"}); err != nil {
		t.Fatal(err)
	}
	rs, err := vee.BuildRuleSets(nil, []vee.GroupSpec{{Name: "lighting", Match: vee.Match{Tags: map[string]string{"class": "lighting"}},
		Rules: map[string]float64{"zero_run": 0}}})
	if err != nil {
		t.Fatal(err)
	}
	e := &mdm.Estimates{Store: st, Rules: rs}
	for meter, want := range map[string]string{"lamp": "lighting", "house": vee.DefaultGroup} {
		if name, _, err := e.RuleSet(ctx, meter); err != nil || name != want {
			t.Errorf("meter %s: rule set %q, %v; want %q", meter, name, err, want)
		}
	}
	if _, _, err := e.RuleSet(ctx, "nope"); !errors.Is(err, mdm.ErrUnknownMeter) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("a meter not registered: %v", err)
	}
}
