package billing

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/tariff"
)

// LikeDayWeeks is how many weeks before the forecast's first day its like
// days are drawn from.
const LikeDayWeeks = 4

// ForecastBasis says how the remaining days of a cycle are forecast.
const ForecastBasis = "each remaining day at the mean of its weekday's complete days in the 4 weeks before (all complete days when its weekday has none), by local quarter hour"

// FlatBasis says what the flat tariff of a comparison is.
const FlatBasis = "the same tariff with one energy price: its TOU prices averaged over every quarter hour of the period, the other charges unchanged"

// Forecast is a cycle's bill so far and the whole cycle's forecast.
type Forecast struct {
	// AsOf is the first day not billed so far: SoFar covers the complete
	// days [Period.From, AsOf).
	AsOf cim.Date `json:"as_of"`
	// SoFar is nil when no day of the cycle is complete yet.
	SoFar *Bill `json:"so_far,omitempty"`
	// Forecast is the whole cycle: the days so far as measured and the
	// rest as like days' means (estimated intervals). Nil without any
	// like day to draw from.
	Forecast *Bill  `json:"forecast,omitempty"`
	Basis    string `json:"basis"`
	// LikeDays is how many complete days the forecast's means are over;
	// DaysForecast how many days of the cycle are forecast.
	LikeDays     int `json:"like_days"`
	DaysForecast int `json:"days_forecast"`
	// Flat is the comparison with a flat tariff; nil for a tariff whose
	// prices are a feed (no TOU to flatten).
	Flat *FlatComparison `json:"flat,omitempty"`
}

// FlatComparison prices the same days under a flat tariff (FlatBasis).
type FlatComparison struct {
	Basis string `json:"basis"`
	// Prices are the flat price of each tariff span, millionths of the
	// currency per kWh.
	Prices []int64 `json:"prices"`
	// SoFarTotal and ForecastTotal are the flat bills' totals; Savings
	// are what the tariff saved against flat so far (negative: it cost
	// more), ForecastSavings over the forecast cycle. Minor units.
	SoFarTotal      int64 `json:"so_far_total"`
	ForecastTotal   int64 `json:"forecast_total"`
	Savings         int64 `json:"savings"`
	ForecastSavings int64 `json:"forecast_savings"`
}

// ForecastCycle computes the bill so far of in.Period up to asOf and the
// forecast of the whole period. in.Import and in.Export hold the measured
// days; those before in.Period.From serve only as like days, those on or
// after asOf are not used (the day in progress is forecast whole).
func ForecastCycle(in Input, asOf cim.Date) (Forecast, error) {
	out := Forecast{AsOf: asOf, Basis: ForecastBasis}
	if in.Location == nil {
		return out, fmt.Errorf("forecast of usage point %s: no time zone", in.UsagePointID)
	}
	if before(asOf, in.Period.From) {
		asOf = in.Period.From
	}
	if !before(asOf, in.Period.To) {
		asOf = in.Period.To
	}
	out.AsOf = asOf
	imp, impHist := splitDays(in.Import, in.Period.From, asOf)
	exp, expHist := splitDays(in.Export, in.Period.From, asOf)
	flat, flatPrices := flatSpans(in)
	var flatSoFar, flatFull *Bill
	if before(in.Period.From, asOf) {
		so := in
		so.Period = Period{From: in.Period.From, To: asOf}
		so.Import, so.Export = imp, exp
		b, err := Compute(so)
		if err != nil {
			return out, err
		}
		out.SoFar = &b
		if flat != nil {
			so.Tariffs = flat
			fb, err := Compute(so)
			if err != nil {
				return out, fmt.Errorf("flat comparison: %w", err)
			}
			flatSoFar = &fb
		}
	}
	like := append(impHist, imp...)
	profile, n := likeProfile(like, asOf, in.Location)
	out.LikeDays = n
	// Prices from a feed are not known ahead: such a cycle has its bill so
	// far and no forecast.
	dynamic := slices.ContainsFunc(in.Tariffs, func(s TariffSpan) bool { return s.Tariff.Dynamic != nil })
	if n > 0 && !dynamic {
		full := in
		full.Import = append(imp, synthesize(profile, like, asOf, in.Period.To, in.Location)...)
		full.Export = exp
		if ep, m := likeProfile(append(expHist, exp...), asOf, in.Location); m > 0 {
			full.Export = append(exp, synthesize(ep, append(expHist, exp...), asOf, in.Period.To, in.Location)...)
		}
		// Forecast intervals are estimates by construction: a limit on
		// estimated shares is for real bills.
		full.Policy.MaxEstimatedPermille = 0
		b, err := Compute(full)
		if err != nil {
			return out, err
		}
		out.Forecast = &b
		out.DaysForecast = daysBetween(asOf, in.Period.To)
		if flat != nil {
			full.Tariffs = flat
			fb, err := Compute(full)
			if err != nil {
				return out, fmt.Errorf("flat comparison: %w", err)
			}
			flatFull = &fb
		}
	}
	if flat != nil {
		c := &FlatComparison{Basis: FlatBasis, Prices: flatPrices}
		if flatSoFar != nil {
			c.SoFarTotal, c.Savings = flatSoFar.Total, flatSoFar.Total-out.SoFar.Total
		}
		if flatFull != nil {
			c.ForecastTotal, c.ForecastSavings = flatFull.Total, flatFull.Total-out.Forecast.Total
		}
		out.Flat = c
	}
	return out, nil
}

// splitDays parts days into those of [from, asOf) and those before from.
func splitDays(days []interval.Day, from, asOf cim.Date) (in, hist []interval.Day) {
	for _, d := range days {
		switch {
		case before(d.Date, from):
			hist = append(hist, d)
		case before(d.Date, asOf):
			in = append(in, d)
		}
	}
	return in, hist
}

// quarters is the number of quarter hours of a wall-clock day.
const quarters = 96

// likeProfile is, per weekday (index 7: all days), the mean of each local
// quarter hour over the complete days of the LikeDayWeeks before asOf, and
// how many days it is over. A quarter hour is keyed by its local wall
// clock, so DST days line up with ordinary ones.
func likeProfile(days []interval.Day, asOf cim.Date, loc *time.Location) ([8][]float64, int) {
	var sums [8][quarters]float64
	var counts [8][quarters]int
	from := asOf.AddDays(-7 * LikeDayWeeks)
	n := 0
	for _, d := range days {
		if before(d.Date, from) || !before(d.Date, asOf) || d.Interval != 15*time.Minute || len(d.Values) != len(d.Quality) {
			continue
		}
		complete := true
		for _, q := range d.Quality {
			if q&cim.QualityMissing != 0 {
				complete = false
				break
			}
		}
		if !complete {
			continue
		}
		n++
		wd := int(d.Date.Start(loc).Weekday())
		for i, v := range d.Values {
			q := quarterOf(d.Start.Add(time.Duration(i)*d.Interval), loc)
			for _, k := range []int{wd, 7} {
				sums[k][q] += float64(v)
				counts[k][q]++
			}
		}
	}
	var out [8][]float64
	for k := range out {
		if counts[k] == [quarters]int{} {
			continue
		}
		out[k] = make([]float64, quarters)
		for q := range quarters {
			if counts[k][q] > 0 {
				out[k][q] = sums[k][q] / float64(counts[k][q])
			}
		}
	}
	return out, n
}

func quarterOf(t time.Time, loc *time.Location) int {
	lt := t.In(loc)
	return (lt.Hour()*60 + lt.Minute()) / 15
}

// synthesize makes the days [from, to) from the profile, every interval
// marked estimated, for the meter and channel of the like days.
func synthesize(profile [8][]float64, like []interval.Day, from, to cim.Date, loc *time.Location) []interval.Day {
	meter, channel := "", ""
	if len(like) > 0 {
		meter, channel = like[0].MeterID, like[0].Channel
	}
	var out []interval.Day
	for d := from; before(d, to); d = d.AddDays(1) {
		start := d.Start(loc)
		p := profile[int(start.Weekday())]
		if p == nil {
			p = profile[7]
		}
		n := d.Intervals(loc, 15*time.Minute)
		day := interval.Day{MeterID: meter, Channel: channel, Date: d, Start: start, Interval: 15 * time.Minute,
			Values: make([]int64, n), Quality: make([]cim.Quality, n), Source: interval.SourceEstimate, Reason: "forecast"}
		for i := range n {
			day.Values[i] = int64(math.Round(p[quarterOf(start.Add(time.Duration(i)*15*time.Minute), loc)]))
			day.Quality[i] = cim.QualityEstimated
		}
		out = append(out, day)
	}
	return out
}

// flatSpans are in's tariff spans with their TOU flattened (FlatBasis),
// and each flat price; nil when a span's prices come from a feed.
func flatSpans(in Input) ([]TariffSpan, []int64) {
	var out []TariffSpan
	var prices []int64
	for _, s := range in.Tariffs {
		t := s.Tariff
		if t.Dynamic != nil {
			return nil, nil
		}
		from, to := s.From, s.To
		if before(from, in.Period.From) {
			from = in.Period.From
		}
		if before(in.Period.To, to) {
			to = in.Period.To
		}
		var sum, n int64
		for d := from; before(d, to); d = d.AddDays(1) {
			k := d.Intervals(in.Location, 15*time.Minute)
			ones := make([]int64, k)
			for i := range ones {
				ones[i] = 1000 // 1 kWh each: Cost sums the prices themselves
			}
			sum += t.Cost(d.Start(in.Location), 15*time.Minute, ones, 0, in.Location)
			n += int64(k)
		}
		price := t.Base.Price
		if n > 0 {
			price = (sum + n/2) / n
		}
		f := t
		f.Name = t.Name + " (flat)"
		f.Seasons, f.Periods, f.CriticalPeak = nil, nil, nil
		f.Base = tariff.Period{Name: "flat", Price: price}
		out = append(out, TariffSpan{Tariff: f, From: s.From, To: s.To})
		prices = append(prices, price)
	}
	return out, prices
}

// MinorDigits is how many decimals the currency's minor unit has (ISO
// 4217), so that amounts in minor units can be shown in the currency.
func MinorDigits(currency string) int { return minorDigits(currency) }
