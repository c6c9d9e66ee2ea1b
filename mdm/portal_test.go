package mdm_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/tariff"
)

// openHousehold opens a store with the households registered, and their
// time zone.
func openHousehold(t testing.TB) (store.Store, *time.Location) {
	t.Helper()
	st, _ := storetest.OpenSQLite(t)
	household(t, st)
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	return st, loc
}

// household registers usage point up1 in Amsterdam on the tariff
// "dayNight", with a gas meter that sorts before its electricity meter
// e1, and usage point up2 with a gas meter alone.
func household(t testing.TB, st store.Store) {
	t.Helper()
	ctx := context.Background()
	if err := st.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up1", TimeZone: "Europe/Amsterdam", TariffID: "dayNight"},
		cim.UsagePoint{MRID: "up2", TimeZone: "Europe/Amsterdam"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMeters(ctx, cim.Meter{MRID: "a-gas", UsagePointID: "up1", Kind: "gas"},
		cim.Meter{MRID: "e1", UsagePointID: "up1"}, cim.Meter{MRID: "gas2", UsagePointID: "up2", Kind: "gas"}); err != nil {
		t.Fatal(err)
	}
}

// dayNight costs 2 a kWh from 07:00 to 23:00 and 1 at night.
var dayNight = tariff.Tariff{ID: "dayNight", Name: "Day and night", Currency: "EUR",
	Periods: []tariff.Period{{Name: "day", From: 7 * 60, To: 23 * 60, Price: 2_000_000}}, Base: tariff.Period{Name: "night", Price: 1_000_000}}

// ownDay is a day of e1 in loc whose every interval is read as value
// (the first n of them; the rest missing).
func ownDay(date cim.Date, loc *time.Location, value int64, n int) interval.Day {
	m := date.Intervals(loc, 15*time.Minute)
	d := interval.Day{MeterID: "e1", Channel: "A+15m", Date: date, Start: date.Start(loc), Interval: 15 * time.Minute,
		Values: make([]int64, m), Quality: make([]cim.Quality, m)}
	for i := range d.Values {
		if i < n {
			d.Values[i] = value
		} else {
			d.Quality[i] = cim.QualityMissing
		}
	}
	return d
}

// The summary shows today so far against the mean of the complete same
// weekdays of the four weeks before, the price in force, and the month's
// use and cost so far.
func TestPortalSummary(t *testing.T) {
	st, loc := openHousehold(t)
	ctx := context.Background()
	today := cim.Date{Year: 2026, Month: 6, Day: 10} // a Wednesday
	// Every earlier day is read as its day of the month, but one of the
	// Wednesdays has a gap and is no typical day.
	var days []interval.Day
	for k := 1; k <= 28; k++ {
		date := today.AddDays(-k)
		n := 96
		if date == (cim.Date{Year: 2026, Month: 5, Day: 20}) {
			n = 95
		}
		days = append(days, ownDay(date, loc, int64(date.Day), n))
	}
	// Today is read to 10:15 at 5 Wh a quarter; at 10:07 the last
	// interval is not over yet.
	days = append(days, ownDay(today, loc, 5, 41))
	if _, err := st.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 6, 10, 10, 7, 0, 0, loc)
	p := &mdm.Portal{Store: st, Tariffs: map[string]tariff.Tariff{"dayNight": dayNight}}
	s, err := p.Summary(ctx, "up1", now)
	if err != nil {
		t.Fatal(err)
	}
	if s.Meter != "e1" || s.TimeZone != "Europe/Amsterdam" || s.Weekday != "Wednesday" || len(s.Today.Values) != 96 || s.Today.Interval != 900 {
		t.Fatalf("summary of %s in %s on %s, %d intervals of %ds", s.Meter, s.TimeZone, s.Weekday, len(s.Today.Values), s.Today.Interval)
	}
	if s.TodaySoFar != 200 || s.Today.Values[39] == nil || s.Today.Values[40] != nil || s.Now == nil || s.Now.Watts != 20 ||
		!s.Now.End.Equal(time.Date(2026, 6, 10, 10, 0, 0, 0, loc)) {
		t.Fatalf("today so far %d, now %+v; want 200 Wh to 10:00 and 20 W", s.TodaySoFar, s.Now)
	}
	// The Wednesdays 13 and 27 May and 3 June: a mean of 43/3.
	if s.TypicalDays != 3 || s.Typical[0] == nil || math.Abs(*s.Typical[95]-43.0/3) > 1e-9 || math.Abs(s.TypicalSoFar-40*43.0/3) > 1e-6 {
		t.Fatalf("typical over %d days: %v, so far %v; want 43/3 over 3", s.TypicalDays, s.Typical[95], s.TypicalSoFar)
	}
	if s.TOU.Tariff != "Day and night" || s.TOU.Period != "day" || s.TOU.Price != 2_000_000 || s.TOU.Currency != "EUR" ||
		!s.TOU.Until.Equal(time.Date(2026, 6, 10, 23, 0, 0, 0, loc)) {
		t.Fatalf("price in force %+v", s.TOU)
	}
	// 1 to 9 June: 64 day and 32 night quarters of the day's date; today:
	// 28 night and 13 day quarters of 5.
	want := mdm.MonthToDate{From: cim.Date{Year: 2026, Month: 6, Day: 1}, Wh: 45*96 + 41*5, Cost: 45*(64*2000+32*1000) + 28*5*1000 + 13*5*2000, Days: 10}
	if s.MonthToDate != want {
		t.Fatalf("month to date %+v, want %+v", s.MonthToDate, want)
	}

	// A usage point naming no tariff the server knows is priced by the
	// default one; one with nothing read yet has no use now and no
	// typical day.
	s, err = (&mdm.Portal{Store: st}).Summary(ctx, "up1", now.AddDate(0, 2, 0))
	if err != nil || s.TOU.Tariff != tariff.Default().Name || s.Now != nil || s.TypicalDays != 0 || s.Typical[0] != nil || s.MonthToDate.Days != 0 {
		t.Fatalf("two months on, priced by default: %+v, %v", s, err)
	}
}

// A household is a registered usage point with an electricity meter.
func TestPortalHousehold(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	household(t, st)
	p := &mdm.Portal{Store: st}
	if up, m, err := p.Household(ctx, "up1"); err != nil || up.MRID != "up1" || m.MRID != "e1" {
		t.Fatalf("household %s %s, %v; want up1 e1", up.MRID, m.MRID, err)
	}
	if _, _, err := p.Household(ctx, "nope"); !errors.Is(err, mdm.ErrUnknownUsagePoint) {
		t.Fatalf("a usage point not registered: %v", err)
	}
	if up, _, err := p.Household(ctx, "up2"); !errors.Is(err, mdm.ErrNoHouseholdMeter) || up.MRID != "up2" {
		t.Fatalf("gas alone: %s, %v", up.MRID, err)
	}
	if _, err := p.Summary(ctx, "up2", time.Now()); !errors.Is(err, mdm.ErrNoHouseholdMeter) {
		t.Fatalf("summary of gas alone: %v", err)
	}
}

// The export carries imported energy always and exported energy where
// the meter has some in the period.
func TestPortalExport(t *testing.T) {
	st, loc := openHousehold(t)
	ctx := context.Background()
	date := cim.Date{Year: 2026, Month: 6, Day: 10}
	exp := ownDay(date, loc, 3, 96)
	exp.Channel = cim.EnergyExport15m.ID
	if _, err := st.PutDays(ctx, []interval.Day{ownDay(date, loc, 5, 96), exp}); err != nil {
		t.Fatal(err)
	}
	p := &mdm.Portal{Store: st}
	e, err := p.Export(ctx, "up1", date.AddDays(-5), date.AddDays(-1))
	if err != nil || e.UsagePoint.MRID != "up1" || len(e.Channels) != 1 || e.Channels[0].ReadingType.ID != "A+15m" || len(e.Channels[0].Days) != 0 {
		t.Fatalf("a period with nothing stored: %+v, %v; want imported energy alone, empty", e, err)
	}
	e, err = p.Export(ctx, "up1", date, date)
	if err != nil || len(e.Channels) != 2 || e.Channels[1].ReadingType.ID != "A-15m" || len(e.Channels[0].Days) != 1 || e.Channels[1].Days[0].Values[0] != 3 {
		t.Fatalf("a day of both: %+v, %v", e, err)
	}
	if _, err := p.Export(ctx, "nope", date, date); !errors.Is(err, mdm.ErrUnknownUsagePoint) {
		t.Fatalf("a usage point not registered: %v", err)
	}
}

// The summary shows the household's gas and water: the water meter behind
// its electricity meter (at a usage point of its own) and the gas meter at
// its usage point, each with its days' m³ and latest index.
func TestPortalVolumes(t *testing.T) {
	st, loc := openHousehold(t)
	ctx := context.Background()
	if err := st.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up1-water", TimeZone: "Europe/Amsterdam"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMeters(ctx, cim.Meter{MRID: "w1", UsagePointID: "up1-water", Kind: "water", Parent: "e1"}); err != nil {
		t.Fatal(err)
	}
	today := cim.Date{Year: 2026, Month: 6, Day: 10}
	hourly := func(meter, channel string, date cim.Date, litres int64, n int) interval.Day {
		d := interval.Day{MeterID: meter, Channel: channel, Date: date, Start: date.Start(loc), Interval: time.Hour,
			Values: make([]int64, 24), Quality: make([]cim.Quality, 24)}
		for i := range d.Values {
			if i < n {
				d.Values[i] = litres
			} else {
				d.Quality[i] = cim.QualityMissing
			}
		}
		return d
	}
	days := []interval.Day{hourly("w1", "W60me-3", today.AddDays(-1), 10, 24), hourly("w1", "W60me-3", today, 5, 10),
		hourly("a-gas", "G60me-3", today.AddDays(-1), 250, 24)}
	if _, err := st.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 6, 10, 10, 0, 0, 0, loc)
	if _, err := st.PutRegisterReads(ctx, []store.RegisterRead{{MeterID: "w1", ReadingType: "We-3", TimeStamp: at, Value: 123_456}}); err != nil {
		t.Fatal(err)
	}
	s, err := (&mdm.Portal{Store: st}).Summary(ctx, "up1", at.Add(7*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Volumes) != 2 {
		t.Fatalf("volumes %+v", s.Volumes)
	}
	w, g := s.Volumes[0], s.Volumes[1]
	if w.Meter != "w1" || w.Kind != "water" || w.UsagePoint != "up1-water" || len(w.Days) != 2 ||
		w.Days[0].M3 != 0.24 || !w.Days[0].Complete || w.Days[1].M3 != 0.05 || w.Days[1].Complete || w.Days[0].Source != "meter" ||
		w.Last == nil || w.Last.M3 != 123.456 || !w.Last.At.Equal(at) {
		t.Fatalf("water %+v", w)
	}
	if g.Meter != "a-gas" || g.Kind != "gas" || len(g.Days) != 1 || g.Days[0].M3 != 6 || g.Last != nil {
		t.Fatalf("gas %+v", g)
	}
}
