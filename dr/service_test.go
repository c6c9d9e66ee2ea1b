package dr_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/dr"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

var ctx = context.Background()

// issuer stands in for the head-end's Issue: it keeps one command per
// correlation id, and fails a meter's first command when told to.
type issuer struct {
	mu     sync.Mutex
	byCorr map[string]cim.EndDeviceControl
	order  []string
	fail   map[string]int
}

func (i *issuer) Issue(_ context.Context, c cim.EndDeviceControl) (cim.EndDeviceControl, bool, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.fail[c.MeterID] > 0 {
		i.fail[c.MeterID]--
		return c, false, fmt.Errorf("meter %s unreachable", c.MeterID)
	}
	if old, ok := i.byCorr[c.CorrelationID]; ok {
		return old, false, nil
	}
	c.MRID, c.Status = c.CorrelationID, cim.ControlQueued
	i.byCorr[c.CorrelationID] = c
	i.order = append(i.order, c.CorrelationID)
	return c, true, nil
}

func (i *issuer) count() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return len(i.order)
}

func (i *issuer) get(corr string) (cim.EndDeviceControl, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	c, ok := i.byCorr[corr]
	return c, ok
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

var ams, _ = time.LoadLocation("Europe/Amsterdam")

type rig struct {
	st  store.Store
	iss *issuer
	clk *clock
	svc *dr.Service
}

func newRig(t *testing.T, start time.Time) *rig {
	st, _ := storetest.OpenSQLite(t)
	for i := 1; i <= 3; i++ {
		up, m := fmt.Sprintf("UP%d", i), fmt.Sprintf("M%d", i)
		if err := st.PutUsagePoints(ctx, cim.UsagePoint{MRID: up, TimeZone: "Europe/Amsterdam"}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutMeters(ctx, cim.Meter{MRID: m, UsagePointID: up, Region: "north"}); err != nil {
			t.Fatal(err)
		}
	}
	r := &rig{st: st, iss: &issuer{byCorr: map[string]cim.EndDeviceControl{}, fail: map[string]int{}}, clk: &clock{t: start}}
	r.svc = dr.New(st, r.iss, dr.Config{Now: r.clk.now, Logger: slog.New(slog.DiscardHandler)})
	return r
}

func (r *rig) enrolAll(t *testing.T, program string) {
	for i := 1; i <= 3; i++ {
		if _, err := r.svc.Enrol(ctx, dr.Enrolment{ProgramID: program, UsagePointID: fmt.Sprintf("UP%d", i), MeterID: fmt.Sprintf("M%d", i),
			From: r.clk.now().Add(-24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestProgramValidation(t *testing.T) {
	r := newRig(t, time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	ok := dr.Program{ID: "p", Name: "P", Kind: dr.KindLoadLimit, Randomize: 600 * time.Second, Baseline: dr.Method10of10}
	if _, err := r.svc.PutProgram(ctx, ok); err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]dr.Program{
		"randomize over 600 s": {ID: "p", Name: "P", Kind: dr.KindLoadLimit, Randomize: 601 * time.Second, Baseline: dr.Method10of10},
		"kind":                 {ID: "p", Name: "P", Kind: "shed", Baseline: dr.Method10of10},
		"baseline":             {ID: "p", Name: "P", Kind: dr.KindPrice, Baseline: "3of5"},
		"incentive currency":   {ID: "p", Name: "P", Kind: dr.KindPrice, Baseline: dr.MethodLikeDay, Incentive: 5},
	} {
		if _, err := r.svc.PutProgram(ctx, bad); !errors.Is(err, dr.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The meter must serve the usage point enrolled.
	if _, err := r.svc.Enrol(ctx, dr.Enrolment{ProgramID: "p", UsagePointID: "UP1", MeterID: "M2"}); !errors.Is(err, dr.ErrInvalid) {
		t.Errorf("enrolment with another's meter: %v", err)
	}
	if _, err := r.svc.Enrol(ctx, dr.Enrolment{ProgramID: "nope", UsagePointID: "UP1", MeterID: "M1"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("enrolment in no program: %v", err)
	}
}

func TestOffsetsDeterministicAndBounded(t *testing.T) {
	seen := map[time.Duration]bool{}
	for i := 0; i < 1000; i++ {
		m := "M" + strconv.Itoa(i)
		s, e := dr.Offsets("E1", m, 600*time.Second)
		s2, e2 := dr.Offsets("E1", m, 600*time.Second)
		if s != s2 || e != e2 {
			t.Fatalf("%s: drew %v/%v then %v/%v", m, s, e, s2, e2)
		}
		if s < 0 || s > 600*time.Second || e < 0 || e > 600*time.Second {
			t.Fatalf("%s: offsets %v %v out of range", m, s, e)
		}
		seen[s/(60*time.Second)] = true
	}
	// Spread over the window: every minute of it gets some of 1000 draws.
	if len(seen) < 10 {
		t.Fatalf("starts fall in %d of 10 minutes", len(seen))
	}
	if s, e := dr.Offsets("E1", "M1", 0); s != 0 || e != 0 {
		t.Fatalf("no randomisation: %v %v", s, e)
	}
}

func TestEventLifecycle(t *testing.T) {
	t0 := time.Date(2026, 12, 9, 12, 0, 0, 0, time.UTC)
	r := newRig(t, t0)
	p := dr.Program{ID: "peak", Name: "Winter peak", Kind: dr.KindLoadLimit, Notice: time.Hour, Randomize: 300 * time.Second,
		Baseline: dr.Method10of10, Incentive: 20, Currency: "EUR", FloorW: 1000, Approval: true}
	if _, err := r.svc.PutProgram(ctx, p); err != nil {
		t.Fatal(err)
	}
	r.enrolAll(t, "peak")
	start, end := t0.Add(4*time.Hour), t0.Add(6*time.Hour)
	ev := dr.Event{ID: "E1", ProgramID: "peak", Start: start, End: end, Signal: dr.Signal{ThresholdW: 500}}
	if _, _, err := r.svc.CreateEvent(ctx, ev, "olga"); !errors.Is(err, dr.ErrInvalid) {
		t.Fatalf("a limit below the floor: %v", err)
	}
	ev.Signal.ThresholdW = 2000
	got, created, err := r.svc.CreateEvent(ctx, ev, "olga")
	if err != nil || !created || got.Status != dr.StatusAwaitingApproval || got.Source != dr.SourceAmigo {
		t.Fatalf("create: %+v %v %v", got, created, err)
	}
	if _, created, err := r.svc.CreateEvent(ctx, ev, "olga"); err != nil || created {
		t.Fatalf("create again: %v %v", created, err)
	}
	parts, err := r.svc.Participations(ctx, "E1")
	if err != nil || len(parts) != 3 {
		t.Fatalf("participants: %+v %v", parts, err)
	}
	for _, pt := range parts {
		so, eo := dr.Offsets("E1", pt.MeterID, p.Randomize)
		if pt.StartOffset != so || pt.EndOffset != eo {
			t.Fatalf("%s: offsets %v %v, drawn %v %v", pt.MeterID, pt.StartOffset, pt.EndOffset, so, eo)
		}
	}

	// Waiting for approval, nothing goes out, and its creator cannot
	// approve it.
	r.clk.set(start.Add(-time.Hour))
	if err := r.svc.Step(ctx); err != nil || r.iss.count() != 0 {
		t.Fatalf("step before approval: %v, %d commands", err, r.iss.count())
	}
	if _, err := r.svc.ApproveEvent(ctx, "E1", "OLGA"); !errors.Is(err, dr.ErrSelfApproval) {
		t.Fatalf("self approval: %v", err)
	}
	r.clk.set(t0.Add(time.Minute))
	if got, err := r.svc.ApproveEvent(ctx, "E1", "vera"); err != nil || got.Status != dr.StatusScheduled || got.ApprovedBy != "vera" {
		t.Fatalf("approve: %+v %v", got, err)
	}
	// Before the notice, nothing.
	r.clk.set(start.Add(-time.Hour - time.Second))
	if err := r.svc.Step(ctx); err != nil || r.iss.count() != 0 {
		t.Fatalf("step before notice: %v, %d commands", err, r.iss.count())
	}
	// At the notice: notified, and the commands go out, M2's failing once.
	r.iss.fail["M2"] = 1
	notice := start.Add(-time.Hour)
	r.clk.set(notice)
	if err := r.svc.Step(ctx); err == nil || r.iss.count() != 2 {
		t.Fatalf("dispatch with one meter failing: %v, %d commands", err, r.iss.count())
	}
	if got, _ := r.svc.Event(ctx, "E1"); got.Status != dr.StatusNotified {
		t.Fatalf("after the notice: %s", got.Status)
	}
	if err := r.svc.Step(ctx); err != nil || r.iss.count() != 3 {
		t.Fatalf("dispatch again: %v, %d commands", err, r.iss.count())
	}
	for _, pt := range parts {
		c, ok := r.iss.get(dr.CorrelationID("E1", pt.UsagePointID))
		s, e := start.Add(pt.StartOffset), end.Add(pt.EndOffset)
		if !ok || c.Type != cim.ControlLoadLimit || c.MeterID != pt.MeterID || c.IssuedBy != "olga" || c.ApprovedBy != "vera" ||
			c.Parameters["threshold"] != "2000" || c.Parameters["start"] != s.Format(time.RFC3339) ||
			c.Parameters["duration"] != strconv.Itoa(int((e.Sub(s)+time.Second/2)/time.Second)) || !c.ExpiresAt.Equal(e) {
			t.Fatalf("command of %s: %+v", pt.MeterID, c)
		}
	}
	parts, _ = r.svc.Participations(ctx, "E1")
	for _, pt := range parts {
		if !pt.NotifiedAt.Equal(notice) || pt.DispatchedAt.IsZero() {
			t.Fatalf("%s: notified %v dispatched %v", pt.UsagePointID, pt.NotifiedAt, pt.DispatchedAt)
		}
	}
	if of, err := r.svc.ParticipationsOf(ctx, "UP1", 10); err != nil || len(of) != 1 || of[0].EventID != "E1" {
		t.Fatalf("UP1's events: %+v %v", of, err)
	}

	// UP3 opts out before the start: its limit is countermanded from its
	// own start, once.
	r.clk.set(start.Add(-10 * time.Minute))
	pt, err := r.svc.OptOut(ctx, "E1", "UP3", "household")
	if err != nil || pt.OptedOutAt.IsZero() || pt.CountermandedAt.IsZero() {
		t.Fatalf("opt-out: %+v %v", pt, err)
	}
	cm, ok := r.iss.get(dr.CorrelationID("E1", "UP3") + "/countermand")
	if !ok || cm.Type != cim.ControlLoadLimit || cm.Parameters["duration"] != "0" || cm.Parameters["start"] != start.Add(pt.StartOffset).Format(time.RFC3339) {
		t.Fatalf("countermand: %+v", cm)
	}
	if _, err := r.svc.OptOut(ctx, "E1", "UP3", "household"); !errors.Is(err, dr.ErrClosed) {
		t.Fatalf("opt out twice: %v", err)
	}
	if _, err := r.svc.OptOut(ctx, "E1", "UP9", "household"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("opt out of a stranger: %v", err)
	}

	// Active at the start, completed once the last device's end passed.
	r.clk.set(start)
	if err := r.svc.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.svc.Event(ctx, "E1"); got.Status != dr.StatusActive {
		t.Fatalf("at the start: %s", got.Status)
	}
	r.clk.set(end.Add(p.Randomize))
	if err := r.svc.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.svc.Event(ctx, "E1"); got.Status != dr.StatusCompleted {
		t.Fatalf("after the end: %s", got.Status)
	}
	if r.iss.count() != 4 {
		t.Fatalf("%d commands in all, want 3 and a countermand", r.iss.count())
	}
	if _, err := r.svc.OptOut(ctx, "E1", "UP1", "household"); !errors.Is(err, dr.ErrClosed) {
		t.Fatalf("opt out after the end: %v", err)
	}
	if _, err := r.svc.CancelEvent(ctx, "E1", "olga", ""); !errors.Is(err, dr.ErrClosed) {
		t.Fatalf("cancel after the end: %v", err)
	}
}

func TestCancelCountermands(t *testing.T) {
	t0 := time.Date(2026, 12, 9, 12, 0, 0, 0, time.UTC)
	r := newRig(t, t0)
	if _, err := r.svc.PutProgram(ctx, dr.Program{ID: "dlc", Name: "Water heaters", Kind: dr.KindRelay, Baseline: dr.MethodLikeDay}); err != nil {
		t.Fatal(err)
	}
	r.enrolAll(t, "dlc")
	ev, _, err := r.svc.CreateEvent(ctx, dr.Event{ProgramID: "dlc", Start: t0.Add(time.Hour), End: t0.Add(3 * time.Hour)}, "olga")
	if err != nil || ev.Status != dr.StatusScheduled || ev.Signal.Relay != "open" {
		t.Fatalf("create: %+v %v", ev, err)
	}
	r.clk.set(t0.Add(time.Hour)) // no notice: dispatched at the start
	if err := r.svc.Step(ctx); err != nil || r.iss.count() != 3 {
		t.Fatalf("step: %v %d", err, r.iss.count())
	}
	if got, _ := r.svc.Event(ctx, ev.ID); got.Status != dr.StatusActive {
		t.Fatalf("status %s", got.Status)
	}
	c, _ := r.iss.get(dr.CorrelationID(ev.ID, "UP1"))
	if c.Type != cim.ControlLoadRelay || c.Parameters["state"] != "open" || c.Parameters["duration"] != "7200" {
		t.Fatalf("relay command %+v", c)
	}
	r.clk.set(t0.Add(90 * time.Minute))
	got, err := r.svc.CancelEvent(ctx, ev.ID, "olga", "grid recovered")
	if err != nil || got.Status != dr.StatusCancelled || got.Reason != "cancelled by olga: grid recovered" {
		t.Fatalf("cancel: %+v %v", got, err)
	}
	for i := 1; i <= 3; i++ {
		c, ok := r.iss.get(dr.CorrelationID(ev.ID, fmt.Sprintf("UP%d", i)) + "/countermand")
		if !ok || c.Parameters["state"] != "closed" || c.Parameters["duration"] != "0" || c.Parameters["start"] != t0.Add(90*time.Minute).Format(time.RFC3339) {
			t.Fatalf("countermand of UP%d: %+v", i, c)
		}
	}
	res, err := r.svc.Results(ctx, ev.ID)
	if err != nil || res.Payment != 0 || res.Settled != 0 {
		t.Fatalf("results of a cancelled event: %+v %v", res, err)
	}
}

// putDays stores quarter-hour days of a meter from..to with f giving each
// interval's Wh from its local start.
func putDays(t *testing.T, st store.Store, meter string, from, to cim.Date, f func(d cim.Date, lt time.Time) int64) {
	var days []interval.Day
	for d := from; !to.Before(d); d = d.AddDays(1) {
		n := d.Intervals(ams, 15*time.Minute)
		day := interval.Day{MeterID: meter, Channel: "A+15m", Date: d, Start: d.Start(ams), Interval: 15 * time.Minute,
			Values: make([]int64, n), Quality: make([]cim.Quality, n), Source: interval.SourceMeter}
		for i := range day.Values {
			day.Values[i] = f(d, day.Start.Add(time.Duration(i)*day.Interval).In(ams))
		}
		days = append(days, day)
	}
	if _, err := st.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}
}

func TestResults(t *testing.T) {
	// Wednesday 9 December 2026, 17:00–19:00 in Amsterdam (16:00–18:00 UTC).
	evDay := cim.Date{Year: 2026, Month: time.December, Day: 9}
	start := time.Date(2026, 12, 9, 17, 0, 0, 0, ams)
	end := start.Add(2 * time.Hour)
	r := newRig(t, start.Add(-3*time.Hour))
	if _, err := r.svc.PutProgram(ctx, dr.Program{ID: "tou", Name: "Peak price", Kind: dr.KindPrice, Baseline: dr.Method10of10,
		Incentive: 25, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	r.enrolAll(t, "tou")
	// An earlier event of the program, on Monday the 7th, whose day is
	// not a like day.
	monday := cim.Date{Year: 2026, Month: time.December, Day: 7}
	if _, _, err := r.st.CreateDREvent(ctx, store.DREvent{ID: "E0", ProgramID: "tou", Start: time.Date(2026, 12, 7, 17, 0, 0, 0, ams),
		End: time.Date(2026, 12, 7, 19, 0, 0, 0, ams), Status: dr.StatusCompleted, Source: "amigo"}, nil); err != nil {
		t.Fatal(err)
	}
	ev, _, err := r.svc.CreateEvent(ctx, dr.Event{ID: "E1", ProgramID: "tou", Start: start, End: end, Signal: dr.Signal{Price: 800000}}, "olga")
	if err != nil {
		t.Fatal(err)
	}
	// Working days 250 Wh a quarter hour; weekends and the earlier event
	// day 1000. On the event day M1 draws 150 from 17:00 to 19:00.
	load := func(meter string) func(d cim.Date, lt time.Time) int64 {
		return func(d cim.Date, lt time.Time) int64 {
			wd := lt.Weekday()
			switch {
			case d == monday || wd == time.Saturday || wd == time.Sunday:
				return 1000
			case d == evDay && meter == "M1" && lt.Hour() >= 17 && lt.Hour() < 19:
				return 150
			}
			return 250
		}
	}
	for _, m := range []string{"M1", "M2"} {
		putDays(t, r.st, m, evDay.AddDays(-30), evDay, load(m))
	}
	r.clk.set(start.Add(-time.Minute))
	if _, err := r.svc.OptOut(ctx, ev.ID, "UP3", "household"); err != nil {
		t.Fatal(err)
	}
	res, err := r.svc.Results(ctx, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	// M1: baseline 8 × 250 = 2000, actual 8 × 150 = 1200, reduction 800
	// Wh, paid 800 × 25 / 1000 = 20 cents. M2: no reduction, nothing.
	// UP3 opted out: zero, shown so.
	want := map[string]struct {
		status              string
		base, act, red, pay int64
	}{
		"UP1": {dr.ResultSettled, 2000, 1200, 800, 20},
		"UP2": {dr.ResultSettled, 2000, 2000, 0, 0},
		"UP3": {dr.ResultOptedOut, 0, 0, 0, 0},
	}
	if len(res.Results) != 3 || res.Participants != 3 || res.OptedOut != 1 || res.Settled != 2 || res.ReductionWh != 800 || res.Payment != 20 || res.Currency != "EUR" {
		t.Fatalf("results %+v", res)
	}
	for _, x := range res.Results {
		w := want[x.UsagePointID]
		if x.Status != w.status || x.BaselineWh != w.base || x.ActualWh != w.act || x.ReductionWh != w.red || x.Payment != w.pay {
			t.Errorf("%s: %+v, want %+v", x.UsagePointID, x, w)
		}
		if x.Status == dr.ResultSettled {
			if len(x.Days) != 10 || x.Days[0] != evDay.AddDays(-1) {
				t.Errorf("%s: baseline days %v", x.UsagePointID, x.Days)
			}
			for _, d := range x.Days {
				if d == monday {
					t.Errorf("%s: the earlier event day is in the baseline", x.UsagePointID)
				}
			}
		}
	}
	if dr.Payment(-50, 25) != 0 || dr.Payment(20, 25) != 1 || dr.Payment(19, 25) != 0 {
		t.Fatalf("payment rounding: %d %d %d", dr.Payment(-50, 25), dr.Payment(20, 25), dr.Payment(19, 25))
	}
}

// A weather-matched program settles against the days whose temperature,
// from the region's weather feed, is closest to the event day's.
func TestResultsWeatherMatched(t *testing.T) {
	evDay := cim.Date{Year: 2026, Month: time.July, Day: 15} // a Wednesday
	start := time.Date(2026, 7, 15, 15, 0, 0, 0, ams)
	end := start.Add(2 * time.Hour)
	r := newRig(t, start.Add(-3*time.Hour))
	if _, err := r.svc.PutProgram(ctx, dr.Program{ID: "cool", Name: "Air conditioning", Kind: dr.KindRelay, Baseline: dr.MethodWeather,
		Incentive: 10, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	r.enrolAll(t, "cool")
	if _, _, err := r.svc.CreateEvent(ctx, dr.Event{ID: "W1", ProgramID: "cool", Start: start, End: end}, "olga"); err != nil {
		t.Fatal(err)
	}
	// The k-th working day back is 10+k °C and draws 100+10k Wh a
	// quarter hour; the event day is 30.4 °C, and M1 draws 200 in the
	// event.
	temp, load := map[cim.Date]float64{evDay: 30.4}, map[cim.Date]int64{}
	k := 0
	for d := evDay.AddDays(-1); k < 20; d = d.AddDays(-1) {
		wd := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
		if wd == time.Saturday || wd == time.Sunday {
			continue
		}
		k++
		temp[d], load[d] = float64(10+k), int64(100+10*k)
	}
	var obs []store.WeatherObservation
	for d, c := range temp {
		obs = append(obs, store.WeatherObservation{Region: "north", At: time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, ams), TemperatureC: c})
	}
	if _, err := r.st.PutWeather(ctx, obs); err != nil {
		t.Fatal(err)
	}
	putDays(t, r.st, "M1", evDay.AddDays(-30), evDay, func(d cim.Date, lt time.Time) int64 {
		if d == evDay {
			if lt.Hour() >= 15 && lt.Hour() < 17 {
				return 200
			}
			return 300
		}
		if v, ok := load[d]; ok {
			return v
		}
		return 1000
	})
	res, err := r.svc.Results(ctx, "W1")
	if err != nil {
		t.Fatal(err)
	}
	// Closest: 30, 29, 28, 27, 26 °C, drawing 300…260: mean 280; 8
	// quarter hours of 80 Wh less: 640 Wh, paid 6.4 → 6 cents. M2 and M3
	// have no days stored.
	var m1 dr.Result
	for _, x := range res.Results {
		switch x.UsagePointID {
		case "UP1":
			m1 = x
		default:
			if x.Status != dr.ResultNoData || x.Payment != 0 {
				t.Errorf("%s without data: %+v", x.UsagePointID, x)
			}
		}
	}
	if m1.Status != dr.ResultSettled || m1.Method != dr.MethodWeather || m1.BaselineWh != 2240 || m1.ReductionWh != 640 || m1.Payment != 6 || len(m1.Days) != 5 {
		t.Fatalf("M1: %+v", m1)
	}
	if res.Settled != 1 || res.Payment != 6 || res.ReductionWh != 640 {
		t.Fatalf("totals: %+v", res)
	}
}

// Many participants: one step sends every command once, each device's
// start spread over the window so that no second holds more than 1 % of
// the starts.
func TestDispatchSpreadsStarts(t *testing.T) {
	const n = 2000
	t0 := time.Date(2026, 12, 9, 12, 0, 0, 0, time.UTC)
	r := newRig(t, t0)
	var ms []cim.Meter
	var ups []cim.UsagePoint
	for i := 0; i < n; i++ {
		ups = append(ups, cim.UsagePoint{MRID: fmt.Sprintf("H%05d", i), TimeZone: "UTC"})
		ms = append(ms, cim.Meter{MRID: fmt.Sprintf("HM%05d", i), UsagePointID: fmt.Sprintf("H%05d", i)})
	}
	if err := r.st.PutUsagePoints(ctx, ups...); err != nil {
		t.Fatal(err)
	}
	if err := r.st.PutMeters(ctx, ms...); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.PutProgram(ctx, dr.Program{ID: "big", Name: "Big", Kind: dr.KindLoadLimit, Randomize: 600 * time.Second,
		Baseline: dr.Method10of10, FloorW: 1000}); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := r.st.PutDREnrolment(ctx, store.DREnrolment{ProgramID: "big", UsagePointID: m.UsagePointID, MeterID: m.MRID, From: t0.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	start := t0.Add(time.Hour)
	if _, _, err := r.svc.CreateEvent(ctx, dr.Event{ID: "BIG", ProgramID: "big", Start: start, End: start.Add(time.Hour), Signal: dr.Signal{ThresholdW: 2000}}, "olga"); err != nil {
		t.Fatal(err)
	}
	r.clk.set(start)
	if err := r.svc.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if r.iss.count() != n {
		t.Fatalf("%d commands for %d participants", r.iss.count(), n)
	}
	perSecond := map[string]int{}
	for _, corr := range r.iss.order {
		c, _ := r.iss.get(corr)
		perSecond[c.Parameters["start"]]++
	}
	for s, k := range perSecond {
		if k > n/100 {
			t.Fatalf("%d of %d devices start at %s", k, n, s)
		}
	}
	if len(perSecond) < 500 {
		t.Fatalf("starts fall in %d distinct seconds of 601", len(perSecond))
	}
	if err := r.svc.Step(ctx); err != nil || r.iss.count() != n {
		t.Fatalf("a second step: %v, %d commands", err, r.iss.count())
	}
}
