package billing

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/tariff"
)

func TestMulRound(t *testing.T) {
	for _, c := range []struct{ num, den, want int64 }{
		{5, 10, 1}, {4, 10, 0}, {15, 10, 2}, {25, 10, 3}, {-5, 10, -1}, {-4, 10, 0}, {-25, 10, -3},
		{0, 7, 0}, {10, 3, 3}, {20, 3, 7}, {-20, 3, -7}, {999_999, 10_000_000, 0}, {5_000_000, 10_000_000, 1},
	} {
		if got, ok := mulRound(c.den, c.num); got != c.want || !ok {
			t.Errorf("mulRound(%d, %d) = %d, want %d", c.den, c.num, got, c.want)
		}
	}
	// Exact beyond 64 bits: (9·10¹⁸ × 10) / 20 = 4.5·10¹⁸.
	if got, ok := mulRound(20, 9_000_000_000_000_000_000, 10); !ok || got != 4_500_000_000_000_000_000 {
		t.Errorf("wide product: %d %v", got, ok)
	}
	if _, ok := mulRound(1, 9_000_000_000_000_000_000, 10); ok {
		t.Error("an overflowing result is ok")
	}
}

// TestRoundingCases pins the rounding of every kind of line; any change
// of rule (to half-even, to truncation, to rounding the total instead of
// each line) fails one of them.
func TestRoundingCases(t *testing.T) {
	one := func(wh int64) func(int, time.Time) (int64, cim.Quality) {
		return func(i int, _ time.Time) (int64, cim.Quality) {
			if i == 0 {
				return wh, 0
			}
			return 0, 0
		}
	}
	for _, c := range []struct {
		name     string
		currency string
		wh       int64
		price    int64
		want     int64
	}{
		{"half a cent rounds up", "EUR", 100, 50_000, 1},
		{"just under half a cent", "EUR", 100, 49_999, 0},
		{"1.5 cents", "EUR", 100, 150_000, 2},
		{"2.5 cents: away from zero, not to even", "EUR", 100, 250_000, 3},
		{"4.5 cents", "EUR", 45, 1_000_000, 5},
		{"0.0999999 cents", "EUR", 3, 333_333, 0},
		{"sub-cent exact sum", "EUR", 12_345, 123_456, 152}, // 1524.064… → 152.4 cents
		{"yen, half", "JPY", 1000, 500_000, 1},              // 0.5 JPY
		{"yen, under half", "JPY", 999, 500_000, 0},         // 0.4995 JPY
		{"dinar, three decimals", "KWD", 1, 500_000, 1},     // 0.0005 KWD → 0.001
		{"dinar, 1499.5 fils", "KWD", 2999, 500_000, 1500},  // 1.4995 KWD → 1.500
		{"dinar, under half a fils", "KWD", 2, 249_999, 0},  // 0.499998 fils
	} {
		tr := simple("r", 1, c.price)
		tr.Currency = c.currency
		in := input("2026-11-18", "2026-11-19", tr)
		in.Import = []interval.Day{day("m1", "A+15m", "2026-11-18", 1, one(c.wh))}
		b := compute(t, in)
		if b.Lines[0].Amount != c.want {
			t.Errorf("%s: %d Wh × %d = %d, want %d", c.name, c.wh, c.price, b.Lines[0].Amount, c.want)
		}
	}
	// Charges, credits and taxes, over three days of which one is billed
	// by a second version.
	v1 := simple("r", 1, 0)
	v1.Fixed = []tariff.Charge{{Code: "fixed", Price: 10_000_000}} // 10 EUR × 2/3 = 666.67 → 667
	v1.Daily = []tariff.Charge{{Code: "daily", Price: 123_450}}    // 0.12345 × 2 = 24.69 → 25
	v1.Taxes = []tariff.Tax{{Code: "vat", RateBP: 2100}}           // 21 % of 692 = 145.32 → 145
	v2 := simple("r", 2, 0)
	v2.EffectiveFrom = date("2026-11-20")
	v2.Fixed = []tariff.Charge{{Code: "fixed", Price: 10_000_000}}                         // 10 EUR × 1/3 = 333.33 → 333
	v2.Taxes = []tariff.Tax{{Code: "vat", RateBP: 550}}                                    // 5.5 % of 333 = 18.315 → 18
	v2.NetMetering = &tariff.NetMetering{Netting: tariff.NetInterval, ExportPrice: 50_000} // 100 Wh surplus → −0.5 → −1
	in := input("2026-11-18", "2026-11-21", v1, v2)
	in.Import = days("m1", "A+15m", "2026-11-18", "2026-11-21", flat(0))
	in.Export = []interval.Day{day("m1", "A-15m", "2026-11-20", 1, one(100))}
	b := compute(t, in)
	// vat on v2 is over fixed and the export credit: 5.5 % of (333 − 1) = 18.26 → 18.
	wantLines(t, b, map[string]int64{"fixed@2026-11-18": 667, "daily": 25, "vat@2026-11-18": 145,
		"fixed@2026-11-20": 333, "export.credit": -1, "vat@2026-11-20": 18}, 667+25+145+333-1+18)
	if !strings.HasPrefix(b.Lines[0].Rounding, "half away from zero to 0.01 EUR") {
		t.Errorf("rounding stated %q", b.Lines[0].Rounding)
	}
}

func TestNettingRules(t *testing.T) {
	// Wednesday 2026-07-15 on the TOU tariff, 100 Wh import every quarter
	// hour (off-peak 32 × 100 = 3200 Wh, peak 64 × 100 = 6400 Wh).
	// Export 1000 Wh in the four quarter hours 05:00–06:00 (off-peak,
	// 4000 Wh) and 300 Wh in the 16 of 10:00–14:00 (peak, 4800 Wh).
	// Surplus export at 0.05.
	exp := func(_ int, at time.Time) (int64, cim.Quality) {
		switch h := at.In(ams).Hour(); {
		case h == 5:
			return 1000, 0
		case h >= 10 && h < 14:
			return 300, 0
		}
		return 0, 0
	}
	for _, c := range []struct {
		netting string
		want    map[string]int64
		total   int64
	}{
		// Per interval: off-peak bills 28 × 100 = 2800 Wh → 56, peak
		// 48 × 100 = 4800 Wh → 144; surplus 4 × 900 + 16 × 200 = 6800 Wh
		// × 0.05 = 34 → −34. Total 166.
		{tariff.NetInterval, map[string]int64{"energy.off-peak": 56, "energy.peak": 144, "export.credit": -34}, 166},
		// Per bucket: off-peak 3200 − 4000 → 0, surplus 800 Wh → −4;
		// peak 6400 − 4800 = 1600 Wh → 48. Total 44.
		{tariff.NetPeriod, map[string]int64{"energy.off-peak": 0, "energy.peak": 48, "export.credit": -4}, 44},
		// Over the period: the off-peak surplus of 800 Wh offsets the
		// dearest bucket, peak: 800 Wh → 24. No credit left. Total 24.
		{tariff.NetBilling, map[string]int64{"energy.off-peak": 0, "energy.peak": 24, "export.credit": 0}, 24},
	} {
		tr := touTariff()
		tr.NetMetering = &tariff.NetMetering{Netting: c.netting, ExportPrice: 50_000}
		in := input("2026-07-15", "2026-07-16", tr)
		in.Import = []interval.Day{day("m1", "A+15m", "2026-07-15", 1, flat(100))}
		in.Export = []interval.Day{day("m1", "A-15m", "2026-07-15", 1, exp)}
		t.Run(c.netting, func(t *testing.T) { wantLines(t, compute(t, in), c.want, c.total) })
	}
}

func TestHolidayIsOffPeak(t *testing.T) {
	// Friday 2026-12-25, 100 Wh a quarter hour: as a holiday all 9600 Wh
	// are off-peak (192 cents); as a working day 3200 off-peak (64) and
	// 6400 peak (192).
	in := input("2026-12-25", "2026-12-26", touTariff())
	in.Import = []interval.Day{day("m1", "A+15m", "2026-12-25", 1, flat(100))}
	wantLines(t, compute(t, in), map[string]int64{"energy.off-peak": 64, "energy.peak": 192}, 256)
	in.Holidays = []cim.Date{date("2026-12-25")}
	wantLines(t, compute(t, in), map[string]int64{"energy.off-peak": 192}, 192)
}

func TestDynamicPricesOverALongDay(t *testing.T) {
	// 2026-10-25 has 25 hours; hour k (from local midnight, the repeated
	// hour counted twice) costs 0.10 + k × 0.01 per kWh, plus an adder of
	// 0.02. 400 Wh an hour: Σ 400 × (120000 + 10000k), k = 0..24, =
	// 400 × (3000000 + 3000000) = 2.4·10⁹ ⇒ 240 cents.
	tr := simple("dyn", 1, 0)
	tr.Dynamic = &tariff.Dynamic{Feed: "epex-nl", Adder: 20_000}
	in := input("2026-10-25", "2026-10-26", tr)
	in.Import = []interval.Day{day("m1", "A+15m", "2026-10-25", 1, flat(100))}
	start := date("2026-10-25").Start(ams)
	for k := range 25 {
		in.Prices = append(in.Prices, HourPrice{Start: start.Add(time.Duration(k) * time.Hour), Price: 100_000 + int64(k)*10_000})
	}
	wantLines(t, compute(t, in), map[string]int64{"energy.dynamic": 240}, 240)
	in.Prices = in.Prices[:24]
	if _, err := Compute(in); err == nil || !strings.Contains(err.Error(), "no dynamic price of feed epex-nl for the hour from 2026-10-25T23:00:00+01:00") {
		t.Errorf("a missing hour: %v", err)
	}
}

func TestDemandOfOtherIntervalLengths(t *testing.T) {
	tr := simple("d", 1, 0)
	tr.Demand = []tariff.DemandCharge{{Code: "demand", Price: 1_000_000}}
	mk := func(step time.Duration, f func(i int) int64) interval.Day {
		d := date("2026-11-18")
		n := d.Intervals(ams, step)
		out := interval.Day{MeterID: "m1", Channel: "A+", Date: d, Start: d.Start(ams), Interval: step, Values: make([]int64, n), Quality: make([]cim.Quality, n)}
		for i := range n {
			out.Values[i] = f(i)
		}
		return out
	}
	// Five-minute data: 10:00–10:15 holds 50 + 60 + 70 = 180 Wh, a
	// 15-minute demand of 720 W.
	in := input("2026-11-18", "2026-11-19", tr)
	in.Import = []interval.Day{mk(5*time.Minute, func(i int) int64 {
		if i >= 120 && i < 123 {
			return int64(50 + 10*(i-120))
		}
		return 10
	})}
	if d := det(t, compute(t, in), "demand.demand"); d.Value != 720 || d.Intervals != 3 {
		t.Errorf("five-minute demand %+v", d)
	}
	// Hourly data: the hour's average power, 2000 Wh → 2000 W.
	in.Import = []interval.Day{mk(time.Hour, func(i int) int64 {
		if i == 10 {
			return 2000
		}
		return 400
	})}
	if d := det(t, compute(t, in), "demand.demand"); d.Value != 2000 {
		t.Errorf("hourly demand %+v", d)
	}
}

func TestComputeRefuses(t *testing.T) {
	v1 := simple("r", 1, 1)
	v2 := simple("r", 2, 1)
	for name, c := range map[string]struct {
		in   func() Input
		want string
	}{
		"gap": {func() Input {
			in := input("2026-11-01", "2026-11-10", v1)
			in.Tariffs[0].To = date("2026-11-05")
			in.Tariffs = append(in.Tariffs, TariffSpan{Tariff: v2, From: date("2026-11-06")})
			return in
		}, "no tariff in force from 2026-11-05 to 2026-11-06"},
		"short": {func() Input {
			in := input("2026-11-01", "2026-11-10", v1)
			in.Tariffs[0].To = date("2026-11-05")
			return in
		}, "no tariff in force from 2026-11-05 to 2026-11-10"},
		"currency": {func() Input {
			usd := v2
			usd.Currency = "USD"
			usd.EffectiveFrom = date("2026-11-05")
			return input("2026-11-01", "2026-11-10", v1, usd)
		}, "tariff r@2 is in USD, the bill in EUR"},
		"twice": {func() Input {
			in := input("2026-11-01", "2026-11-10", v1)
			in.Import = days("m1", "A+15m", "2026-11-01", "2026-11-02", flat(1))
			in.Import = append(in.Import, in.Import[0])
			return in
		}, "import day 2026-11-01 of meter m1 given twice"},
		"dst shape": {func() Input {
			in := input("2026-03-29", "2026-03-30", v1)
			d := day("m1", "A+15m", "2026-11-18", 1, flat(1))
			d.Date, d.Start = date("2026-03-29"), date("2026-03-29").Start(ams)
			in.Import = []interval.Day{d}
			return in
		}, "import day 2026-03-29 of meter m1: 96 intervals of 15m0s, the local day in Europe/Amsterdam has 92"},
		"glitch": {func() Input {
			in := input("2026-11-18", "2026-11-19", v1)
			in.Import = []interval.Day{day("m1", "A+15m", "2026-11-18", 1, flat(2_000_000_000))}
			return in
		}, "day 2026-11-18 of meter m1, interval 0: 2000000000 Wh import, 0 Wh export: beyond 1000000000 Wh an interval"},
		"overflow": {func() Input {
			dear := simple("r", 1, 9_000_000_000_000_000_000)
			in := input("2026-11-18", "2026-11-19", dear)
			in.Import = []interval.Day{day("m1", "A+15m", "2026-11-18", 1, flat(1_000_000))}
			return in
		}, "tariff r@1, 2026-11-18 to 2026-11-19: an amount overflows"},
		"no zone": {func() Input {
			in := input("2026-11-01", "2026-11-10", v1)
			in.Location = nil
			return in
		}, "no time zone"},
		"invalid tariff": {func() Input {
			bad := v1
			bad.Currency = ""
			return input("2026-11-01", "2026-11-10", bad)
		}, "id and currency are required"},
	} {
		_, err := Compute(c.in())
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "account acc-1") {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// benchInput is a month of quarter hours, import and export, on a
// TOU + per-period tier + demand tariff with taxes and net metering.
func benchInput() Input {
	tr := touTariff()
	tr.Tiers = &tariff.Tiers{Basis: "period", Blocks: []tariff.Block{{UpToWh: 250_000, Price: 0}, {Price: 40_000}}}
	tr.Demand = []tariff.DemandCharge{{Code: "demand", Periods: []string{"peak"}, Price: 4_000_000, RatchetPercent: 80}}
	tr.Daily = []tariff.Charge{{Code: "standing", Price: 350_000}}
	tr.Taxes = []tariff.Tax{{Code: "vat", RateBP: 2100}}
	tr.NetMetering = &tariff.NetMetering{Netting: tariff.NetInterval, ExportPrice: 70_000, CarryOver: true}
	in := input("2026-10-01", "2026-11-01", tr)
	in.Import = days("m1", "A+15m", "2026-10-01", "2026-11-01", func(i int, _ time.Time) (int64, cim.Quality) { return int64(80 + i*37%200), 0 })
	in.Export = days("m1", "A-15m", "2026-10-01", "2026-11-01", func(i int, _ time.Time) (int64, cim.Quality) {
		if i > 40 && i < 64 {
			return int64(150 + i%9*20), 0
		}
		return 0, 0
	})
	in.Ratchet = 3000
	return in
}

// BenchmarkCompute is one bill per op: 31 days (one of them 100
// intervals), 2 channels, TOU + tiers + demand + netting + taxes.
func BenchmarkCompute(b *testing.B) {
	in := benchInput()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compute(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkComputeBaseline is the floor to compare against: only reading
// every interval of the same input once.
func BenchmarkComputeBaseline(b *testing.B) {
	in := benchInput()
	var sink int64
	for b.Loop() {
		for _, d := range in.Import {
			for _, v := range d.Values {
				sink += v
			}
		}
		for _, d := range in.Export {
			for _, v := range d.Values {
				sink += v
			}
		}
	}
	_ = sink
}

func TestSpans(t *testing.T) {
	v1 := simple("r", 1, 1)
	v1.EffectiveFrom = date("2026-01-01")
	v2 := simple("r", 2, 2)
	v2.EffectiveFrom = date("2026-11-11")
	v3 := simple("r", 3, 3)
	v3.EffectiveFrom = date("2026-11-11") // a correction of v2, same date
	v4 := simple("r", 4, 4)
	v4.EffectiveFrom = date("2027-01-01")
	got, err := Spans([]tariff.Tariff{v4, v2, v1, v3}, Period{date("2026-11-01"), date("2026-12-01")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Tariff.Version != 1 || got[0].To != date("2026-11-11") ||
		got[1].Tariff.Version != 3 || got[1].From != date("2026-11-11") || got[1].To != date("2026-12-01") {
		t.Fatalf("spans %+v", got)
	}
	if _, err := Spans([]tariff.Tariff{v2}, Period{date("2026-11-01"), date("2026-12-01")}); err == nil {
		t.Error("a period before the first version has spans")
	}
}

func TestSeasonalTariffFromAFile(t *testing.T) {
	// The filed residential tariff on Thursday 2026-12-24 (winter,
	// working day) and Friday 2026-12-25 (a holiday), 100 Wh a quarter
	// hour. 24th: off-peak 32 × 100 = 3200 Wh × 0.20 = 64, peak 6400 Wh ×
	// 0.30 = 192. 25th: 9600 Wh off-peak × 0.20 = 192. Off-peak 256,
	// peak 192. Block 1 is 250000 × 2/30 = 16667 Wh, block 2 the other
	// 19200 − 16667 = 2533 Wh × 0.04 = 10.132 → 10. Demand in peak: 400 W,
	// one span over the whole period, so not pro-rated:
	// 0.4 kW × 4 EUR = 160. Metering 2.50 → 250; standing 0.35 × 2 =
	// 70. Energy tax 10 % of 256 + 192 + 10 = 458 → 45.8 → 46; VAT 21 %
	// of every other line, the energy tax included: 458 + 160 + 250 + 70
	// + 46 = 984 → 206.64 → 207. Total 984 + 207 = 1191.
	b, err := os.ReadFile("../tariff/testdata/residential.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := tariff.ParseTariff(b)
	if err != nil {
		t.Fatal(err)
	}
	in := input("2026-12-24", "2026-12-26", tr)
	in.Holidays = []cim.Date{date("2026-12-25")}
	in.Import = days("m1", "A+15m", "2026-12-24", "2026-12-26", flat(100))
	bill := compute(t, in)
	wantLines(t, bill, map[string]int64{"energy.winter.off-peak": 256, "energy.winter.peak": 192, "tier.2": 10, "demand": 160,
		"fixed": 250, "standing": 70, "energy-tax": 46, "vat": 207}, 1191)
	if d := det(t, bill, "import.winter.peak"); d.Register != 2 || d.Value != 6400 {
		t.Errorf("peak determinant %+v", d)
	}
}
