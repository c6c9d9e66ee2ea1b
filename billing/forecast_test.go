package billing

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/tariff"
)

// forecastDays makes import days [from, to) in loc, each quarter hour
// valued by wh.
func forecastDays(from, to cim.Date, loc *time.Location, wh func(d cim.Date, at time.Time) int64) []interval.Day {
	var out []interval.Day
	for d := from; d.Before(to); d = d.AddDays(1) {
		n := d.Intervals(loc, 15*time.Minute)
		day := interval.Day{MeterID: "m1", Channel: "A+15m", Date: d, Start: d.Start(loc), Interval: 15 * time.Minute,
			Values: make([]int64, n), Quality: make([]cim.Quality, n), Version: 1}
		for i := range n {
			day.Values[i] = wh(d, day.Start.Add(time.Duration(i)*15*time.Minute))
		}
		out = append(out, day)
	}
	return out
}

func importWh(b *Bill) int64 {
	var wh int64
	for _, d := range b.Determinants {
		if d.Kind == KindEnergy && d.Channel == "A+15m" && d.Tier == 0 {
			wh += d.Value
		}
	}
	return wh
}

func forecastInput(loc *time.Location, days []interval.Day) Input {
	t := tariff.Default()
	t.Daily = []tariff.Charge{{Code: "standing", Price: 250_000}}
	p := Period{From: cim.Date{Year: 2026, Month: 12, Day: 1}, To: cim.Date{Year: 2027, Month: 1, Day: 1}}
	return Input{AccountID: "acc-1", UsagePointID: "up-1", Location: loc, Period: p,
		Tariffs: []TariffSpan{{Tariff: t, From: p.From, To: p.To}}, Import: days, Policy: Policy{Missing: MissingFlag}}
}

// TestForecastCycle: the bill so far is the complete days' bill; the
// forecast adds the remaining days at their weekday's means; the flat
// comparison is even for a load flat by the clock and saves for a load
// that runs off-peak.
func TestForecastCycle(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	weekendy := func(d cim.Date, at time.Time) int64 {
		if wd := d.Start(loc).Weekday(); wd == time.Saturday || wd == time.Sunday {
			return 200
		}
		return 100
	}
	asOf := cim.Date{Year: 2026, Month: 12, Day: 15}
	in := forecastInput(loc, forecastDays(cim.Date{Year: 2026, Month: 11, Day: 1}, asOf, loc, weekendy))
	f, err := ForecastCycle(in, asOf)
	if err != nil {
		t.Fatal(err)
	}
	so := in
	so.Period.To = asOf
	so.Import = forecastDays(in.Period.From, asOf, loc, weekendy)
	want, err := Compute(so)
	if err != nil {
		t.Fatal(err)
	}
	if f.SoFar == nil || f.SoFar.Total != want.Total || f.SoFar.Total <= 0 || importWh(f.SoFar) != importWh(&want) {
		t.Fatalf("so far %+v, want total %d", f.SoFar, want.Total)
	}
	if f.LikeDays != 28 || f.DaysForecast != 17 || f.Forecast == nil {
		t.Fatalf("like days %d, forecast days %d, forecast %v", f.LikeDays, f.DaysForecast, f.Forecast != nil)
	}
	// Dec 15..31: 13 weekdays and 4 weekend days, 96 quarter hours each.
	if got, wantWh := importWh(f.Forecast), importWh(&want)+13*96*100+4*96*200; got != wantWh {
		t.Errorf("forecast import %d Wh, want %d", got, wantWh)
	}
	var lines int64
	for _, l := range f.Forecast.Lines {
		lines += l.Amount
	}
	if lines != f.Forecast.Total || f.Forecast.Total <= f.SoFar.Total {
		t.Errorf("forecast total %d, lines %d, so far %d", f.Forecast.Total, lines, f.SoFar.Total)
	}

	// Flat by the clock: the flat price is the mean over the cycle's
	// clock, so the same energy spread evenly over the cycle costs the
	// same within rounding.
	even := forecastInput(loc, forecastDays(cim.Date{Year: 2026, Month: 11, Day: 1}, asOf, loc, func(cim.Date, time.Time) int64 { return 100 }))
	f, err = ForecastCycle(even, asOf)
	if err != nil {
		t.Fatal(err)
	}
	if f.Flat == nil || len(f.Flat.Prices) != 1 || f.Flat.Prices[0] <= 240_000 || f.Flat.Prices[0] >= 320_000 {
		t.Fatalf("flat %+v", f.Flat)
	}
	if d := f.Flat.ForecastSavings; d < -2 || d > 2 {
		t.Errorf("an even load saves %d against flat", d)
	}
	// All use at night: off-peak saves.
	night := forecastInput(loc, forecastDays(cim.Date{Year: 2026, Month: 11, Day: 1}, asOf, loc, func(_ cim.Date, at time.Time) int64 {
		if h := at.In(loc).Hour(); h < 7 || h >= 23 {
			return 300
		}
		return 0
	}))
	f, err = ForecastCycle(night, asOf)
	if err != nil {
		t.Fatal(err)
	}
	if f.Flat.Savings <= 0 || f.Flat.ForecastSavings <= f.Flat.Savings || f.Flat.SoFarTotal-f.SoFar.Total != f.Flat.Savings {
		t.Errorf("night load: flat %+v, so far %d", f.Flat, f.SoFar.Total)
	}
}

// TestForecastCycleEdges: a cycle on its first day has nothing so far;
// without history there is no forecast; a DST day is forecast with its
// own number of intervals.
func TestForecastCycleEdges(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	in := forecastInput(loc, nil)
	in.Period = Period{From: cim.Date{Year: 2026, Month: 10, Day: 1}, To: cim.Date{Year: 2026, Month: 11, Day: 1}}
	in.Tariffs[0].From, in.Tariffs[0].To = in.Period.From, in.Period.To
	f, err := ForecastCycle(in, in.Period.From)
	if err != nil {
		t.Fatal(err)
	}
	if f.SoFar != nil || f.Forecast != nil || f.LikeDays != 0 {
		t.Fatalf("no data: %+v", f)
	}
	in.Import = forecastDays(cim.Date{Year: 2026, Month: 9, Day: 1}, in.Period.From, loc, func(cim.Date, time.Time) int64 { return 10 })
	f, err = ForecastCycle(in, in.Period.From)
	if err != nil {
		t.Fatal(err)
	}
	// October has 31 days, the 25th 25 hours: 31×96 + 4 intervals.
	if f.Forecast == nil || importWh(f.Forecast) != (31*96+4)*10 {
		t.Fatalf("forecast over the DST change: %+v", f.Forecast)
	}
}

func TestCurrentCycle(t *testing.T) {
	d := func(y int, m time.Month, day int) cim.Date { return cim.Date{Year: y, Month: m, Day: day} }
	for _, c := range []struct {
		day      int
		on       cim.Date
		from, to cim.Date
	}{
		{15, d(2026, 12, 7), d(2026, 11, 15), d(2026, 12, 15)},
		{15, d(2026, 12, 15), d(2026, 12, 15), d(2027, 1, 15)},
		{1, d(2026, 12, 31), d(2026, 12, 1), d(2027, 1, 1)},
		{28, d(2027, 1, 3), d(2026, 12, 28), d(2027, 1, 28)},
	} {
		p, err := CurrentCycle(c.day, c.on)
		if err != nil || p.From != c.from || p.To != c.to {
			t.Errorf("cycle day %d on %s: %v %v, want %s..%s", c.day, c.on, p, err, c.from, c.to)
		}
	}
	if _, err := CurrentCycle(29, d(2026, 12, 7)); err == nil {
		t.Error("cycle day 29 taken")
	}
}
