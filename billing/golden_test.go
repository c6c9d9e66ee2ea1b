package billing

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/tariff"
)

// Golden bills: each is worked out by hand in the comments, to the cent.
// Prices are µEUR/kWh, so a line is Wh × price / 10⁷ cents, rounded half
// away from zero.

var ams = mustLoc("Europe/Amsterdam")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func date(s string) cim.Date {
	d, err := cim.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// day makes a quarter-hour day of a channel; f gives each interval's
// value and quality.
func day(meter, channel, d string, version int, f func(i int, at time.Time) (int64, cim.Quality)) interval.Day {
	dt := date(d)
	n := dt.Intervals(ams, 15*time.Minute)
	out := interval.Day{MeterID: meter, Channel: channel, Date: dt, Start: dt.Start(ams), Interval: 15 * time.Minute,
		Values: make([]int64, n), Quality: make([]cim.Quality, n), Version: version}
	for i := range n {
		out.Values[i], out.Quality[i] = f(i, out.Start.Add(time.Duration(i)*15*time.Minute))
	}
	return out
}

func flat(wh int64) func(int, time.Time) (int64, cim.Quality) {
	return func(int, time.Time) (int64, cim.Quality) { return wh, 0 }
}

func days(meter, channel, from, to string, f func(int, time.Time) (int64, cim.Quality)) []interval.Day {
	var out []interval.Day
	for d := date(from); d.Before(date(to)); d = d.AddDays(1) {
		out = append(out, day(meter, channel, d.String(), 1, f))
	}
	return out
}

// simple is a one-price tariff in the simple form.
func simple(id string, version int, price int64) tariff.Tariff {
	return tariff.Tariff{ID: id, Version: version, Name: id, Currency: "EUR", Base: tariff.Period{Name: "all", Price: price}}
}

// allDays gives every day type the same periods.
func allDays(ps ...tariff.TOUPeriod) []tariff.DayProfile {
	return []tariff.DayProfile{{Types: tariff.DayTypes, Periods: ps}}
}

// touTariff: working days off-peak 00–07 and 23–24 at 0.20, peak 07–23
// at 0.30; weekends and holidays off-peak all day.
func touTariff() tariff.Tariff {
	return tariff.Tariff{ID: "tou", Version: 1, Currency: "EUR", Seasons: []tariff.Season{{Name: "all", Start: tariff.MonthDay{Month: 1, Day: 1},
		Days: []tariff.DayProfile{
			{Types: []tariff.DayType{tariff.Working}, Periods: []tariff.TOUPeriod{
				{Name: "off-peak", From: 0, To: 7 * 60, Price: 200_000, Register: 1},
				{Name: "peak", From: 7 * 60, To: 23 * 60, Price: 300_000, Register: 2},
				{Name: "off-peak", From: 23 * 60, To: 1440, Price: 200_000, Register: 1}}},
			{Types: []tariff.DayType{tariff.Saturday, tariff.Sunday, tariff.Holiday}, Periods: []tariff.TOUPeriod{
				{Name: "off-peak", From: 0, To: 1440, Price: 200_000, Register: 1}}},
		}}}}
}

func input(from, to string, t ...tariff.Tariff) Input {
	in := Input{AccountID: "acc-1", UsagePointID: "up-1", Location: ams, Period: Period{date(from), date(to)}}
	for i, tt := range t {
		sp := TariffSpan{Tariff: tt, From: date(from), To: date(to)}
		if i > 0 {
			in.Tariffs[i-1].To = tt.EffectiveFrom
			sp.From = tt.EffectiveFrom
		}
		in.Tariffs = append(in.Tariffs, sp)
	}
	return in
}

func compute(t *testing.T, in Input) Bill {
	t.Helper()
	b, err := Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, l := range b.Lines {
		sum += l.Amount
		if l.Rounding == "" {
			t.Errorf("line %s states no rounding", l.Code)
		}
	}
	if sum != b.Total {
		t.Fatalf("total %d, lines sum to %d", b.Total, sum)
	}
	// A run shares the tariff's day schedules between bills: the bill
	// is the same, the schedules made or found in the memo.
	memo := newDayMemo()
	for range 2 {
		shared := in
		shared.memo = memo
		again, err := Compute(shared)
		if err != nil || !reflect.DeepEqual(again, b) {
			t.Fatalf("with the run's day memo: %+v, %v; want %+v", again, err, b)
		}
	}
	return b
}

// wantLines checks the bill's lines, code → amount in cents, exactly.
func wantLines(t *testing.T, b Bill, want map[string]int64, total int64) {
	t.Helper()
	got := map[string]int64{}
	for _, l := range b.Lines {
		got[l.Code+"@"+l.From.String()] += l.Amount
		got[l.Code] += l.Amount
	}
	for code, amount := range want {
		if got[code] != amount {
			t.Errorf("line %s: %d cents, want %d", code, got[code], amount)
		}
	}
	if b.Total != total {
		for _, l := range b.Lines {
			t.Logf("%s %s %d %s × %d %s = %d", l.From, l.Code, l.Quantity, l.Unit, l.Rate, l.RateUnit, l.Amount)
		}
		t.Fatalf("total %d cents, want %d", b.Total, total)
	}
}

func det(t *testing.T, b Bill, name string) Determinant {
	t.Helper()
	for _, d := range b.Determinants {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no determinant %s in %+v", name, b.Determinants)
	return Determinant{}
}

// nightDay: night 00:00–06:00 at 0.10, day 06:00–24:00 at 0.20, every
// day type; a daily charge of 0.45.
func nightDay() tariff.Tariff {
	return tariff.Tariff{ID: "nd", Version: 1, Currency: "EUR",
		Seasons: []tariff.Season{{Name: "all", Start: tariff.MonthDay{Month: 1, Day: 1}, Days: allDays(
			tariff.TOUPeriod{Name: "night", From: 0, To: 6 * 60, Price: 100_000, Register: 1},
			tariff.TOUPeriod{Name: "day", From: 6 * 60, To: 1440, Price: 200_000, Register: 2})}},
		Daily: []tariff.Charge{{Code: "standing", Price: 450_000}}}
}

func TestGoldenDSTShortDay(t *testing.T) {
	// 2026-03-29, clocks go 02:00 → 03:00: 92 quarter hours of 123 Wh.
	// Night 00:00–06:00 is 5 hours here: 20 intervals = 2460 Wh;
	// 2460 × 100000 / 10⁷ = 24.6 → 25 cents.
	// Day 06:00–24:00: 72 intervals = 8856 Wh; × 200000 / 10⁷ = 177.12 → 177.
	// Standing 0.45 × 1 day = 45. Total 25 + 177 + 45 = 247.
	in := input("2026-03-29", "2026-03-30", nightDay())
	in.Import = []interval.Day{day("m1", "A+15m", "2026-03-29", 1, flat(123))}
	b := compute(t, in)
	wantLines(t, b, map[string]int64{"energy.night": 25, "energy.day": 177, "standing": 45}, 247)
	if d := det(t, b, "import.night"); d.Value != 2460 || d.Intervals != 20 {
		t.Errorf("night determinant %+v", d)
	}
	if b.Status != StatusReady || len(b.DataVersions) != 1 {
		t.Errorf("status %s, versions %v", b.Status, b.DataVersions)
	}
}

func TestGoldenDSTLongDay(t *testing.T) {
	// 2026-10-25, clocks go 03:00 → 02:00: 100 quarter hours of 123 Wh.
	// Night is 7 hours: 28 intervals = 3444 Wh; × 100000 / 10⁷ = 34.44 → 34.
	// Day: 72 intervals = 8856 Wh → 177.12 → 177. Standing 45.
	// Total 34 + 177 + 45 = 256.
	in := input("2026-10-25", "2026-10-26", nightDay())
	in.Import = []interval.Day{day("m1", "A+15m", "2026-10-25", 1, flat(123))}
	b := compute(t, in)
	wantLines(t, b, map[string]int64{"energy.night": 34, "energy.day": 177, "standing": 45}, 256)
	if d := det(t, b, "import.night"); d.Value != 3444 || d.Intervals != 28 {
		t.Errorf("night determinant %+v", d)
	}
}

func TestGoldenTierBoundaryMidDay(t *testing.T) {
	// Per-day blocks: up to 5000 Wh at 0.10, beyond at 0.15 (energy
	// itself at 0). 2026-11-18: intervals 0–47 at 100 Wh (4800), interval
	// 48 at 300 Wh (crosses 5000: 200 Wh in block 1, 100 in block 2),
	// then 47 intervals at 100 (4700). Block 1: 5000 Wh → 50.00 cents =
	// 50; block 2: 4800 Wh × 150000 / 10⁷ = 72. Total 122.
	// The next day starts at block 1 again: 96 × 100 = 9600 Wh:
	// block 1 5000 → 50, block 2 4600 → 69. Two days: 50+72+50+69 = 241.
	tr := simple("tiered", 1, 0)
	tr.Tiers = &tariff.Tiers{Basis: "day", Blocks: []tariff.Block{{UpToWh: 5000, Price: 100_000}, {Price: 150_000}}}
	in := input("2026-11-18", "2026-11-20", tr)
	in.Import = []interval.Day{
		day("m1", "A+15m", "2026-11-18", 1, func(i int, _ time.Time) (int64, cim.Quality) {
			if i == 48 {
				return 300, 0
			}
			return 100, 0
		}),
		day("m1", "A+15m", "2026-11-19", 1, flat(100)),
	}
	b := compute(t, in)
	wantLines(t, b, map[string]int64{"tier.1": 100, "tier.2": 141, "energy.all": 0}, 241)
	if d := det(t, b, "tier.2"); d.Value != 9400 || d.Tier != 2 {
		t.Errorf("tier 2 determinant %+v", d)
	}
}

func TestGoldenExportAboveImport(t *testing.T) {
	// 2026-06-10: import 20 Wh every quarter hour (1920 Wh); export 300 Wh
	// in the 24 quarter hours 10:00–16:00 (7200 Wh), more than import.
	// Energy 0.25/kWh, surplus export credited at 0.08, credit carried.
	solar := func(_ int, at time.Time) (int64, cim.Quality) {
		if h := at.In(ams).Hour(); h >= 10 && h < 16 {
			return 300, 0
		}
		return 0, 0
	}
	mk := func(netting string) Input {
		tr := simple("net", 1, 250_000)
		tr.NetMetering = &tariff.NetMetering{Netting: netting, ExportPrice: 80_000, CarryOver: true}
		in := input("2026-06-10", "2026-06-11", tr)
		in.Import = []interval.Day{day("m1", "A+15m", "2026-06-10", 1, flat(20))}
		in.Export = []interval.Day{day("m1", "A-15m", "2026-06-10", 1, solar)}
		in.CarryIn = 25
		return in
	}
	t.Run("interval", func(t *testing.T) {
		// Netting per interval: the 72 quarter hours without export bill
		// 20 Wh each = 1440 Wh × 250000 / 10⁷ = 36 cents; the 24 with
		// export bill 0 and leave 280 Wh each = 6720 Wh surplus ×
		// 80000 / 10⁷ = 53.76 → −54. Balance −18: no carried-in credit is
		// used, 18 goes forward; total 0, carry out 25 + 18 = 43.
		b := compute(t, mk(tariff.NetInterval))
		wantLines(t, b, map[string]int64{"energy.all": 36, "export.credit": -54, "credit.carried-forward": 18}, 0)
		if b.CarryOut != 43 {
			t.Errorf("carry out %d, want 43", b.CarryOut)
		}
		if d := det(t, b, "net.surplus"); d.Value != 6720 {
			t.Errorf("surplus %+v", d)
		}
	})
	t.Run("period", func(t *testing.T) {
		// Netting per TOU bucket (one bucket): 1920 − 7200 = −5280 Wh:
		// energy 0, credit 5280 × 80000 / 10⁷ = 42.24 → −42; forward 42,
		// carry out 25 + 42 = 67.
		b := compute(t, mk(tariff.NetPeriod))
		wantLines(t, b, map[string]int64{"energy.all": 0, "export.credit": -42, "credit.carried-forward": 42}, 0)
		if b.CarryOut != 67 {
			t.Errorf("carry out %d, want 67", b.CarryOut)
		}
	})
	t.Run("carry in used", func(t *testing.T) {
		// Without export: 1920 Wh × 0.25 = 48 cents; 25 carried in pays
		// part of it: total 23, nothing left to carry.
		in := mk(tariff.NetInterval)
		in.Export = nil
		b := compute(t, in)
		wantLines(t, b, map[string]int64{"energy.all": 48, "credit.carried-in": -25}, 23)
		if b.CarryOut != 0 {
			t.Errorf("carry out %d, want 0", b.CarryOut)
		}
	})
}

func TestGoldenDemandInEstimatedInterval(t *testing.T) {
	// 2026-11-18: 100 Wh per quarter hour, but 10:00–10:15 is 900 Wh and
	// estimated: demand 900 × 4 = 3600 W. Energy 95×100 + 900 = 10400 Wh
	// × 200000 / 10⁷ = 208 cents. Demand 10 EUR/kW: 3.6 kW × 10 = 3600
	// cents; ratchet 80 % of 4000 W = 3200 W does not bind.
	tr := simple("demand", 1, 200_000)
	tr.Demand = []tariff.DemandCharge{{Code: "demand", Price: 10_000_000, RatchetPercent: 80}}
	in := input("2026-11-18", "2026-11-19", tr)
	in.Import = []interval.Day{day("m1", "A+15m", "2026-11-18", 1, func(i int, _ time.Time) (int64, cim.Quality) {
		if i == 40 {
			return 900, cim.QualityEstimated
		}
		return 100, 0
	})}
	in.Ratchet = 4000
	in.Policy = Policy{Missing: MissingHold, EstimatedDemand: MissingFlag}
	b := compute(t, in)
	wantLines(t, b, map[string]int64{"energy.all": 208, "demand": 3600}, 3808)
	d := det(t, b, "demand.demand")
	if d.Value != 3600 || d.Estimated != 1 || !d.At.Equal(time.Date(2026, 11, 18, 10, 0, 0, 0, ams)) {
		t.Errorf("demand determinant %+v", d)
	}
	if b.Status != StatusFlagged || len(b.Flags) != 1 || !strings.Contains(b.Flags[0], "estimated") {
		t.Errorf("status %s flags %q, want flagged for the estimated demand", b.Status, b.Flags)
	}
	// With a reference of 5000 W the ratchet bills 4000 W (40 EUR), and
	// the estimated interval no longer sets the bill: not flagged.
	in.Ratchet = 5000
	b = compute(t, in)
	wantLines(t, b, map[string]int64{"demand": 4000}, 4208)
	if b.Status != StatusReady {
		t.Errorf("status %s with the ratchet binding", b.Status)
	}
}

func TestGoldenTariffChangeMidCycle(t *testing.T) {
	// November 2026 (30 days), 100 Wh every quarter hour: 9600 Wh a day.
	// v1 (11-01..11-11, 10 days): 96000 Wh × 0.20 = 19.20 → 1920;
	// fixed 12.00 × 10/30 = 4.00 → 400.
	// v2 (11-11..12-01, 20 days): 192000 Wh × 0.26 = 49.92 → 4992;
	// fixed 15.00 × 20/30 = 10.00 → 1000; per-period block 1 up to
	// 100000 Wh × 20/30 = 66666.67 → 66667 Wh at 0, beyond at +0.05:
	// (192000 − 66667) = 125333 Wh × 50000 / 10⁷ = 626.665 → 627;
	// VAT 21 % on 4992 + 627 + 1000 = 6619 → 1389.99 → 1390.
	// Total 1920 + 400 + 4992 + 627 + 1000 + 1390 = 10329.
	v1 := simple("res", 1, 200_000)
	v1.Fixed = []tariff.Charge{{Code: "fixed", Price: 12_000_000}}
	v2 := simple("res", 2, 260_000)
	v2.EffectiveFrom = date("2026-11-11")
	v2.Fixed = []tariff.Charge{{Code: "fixed", Price: 15_000_000}}
	v2.Tiers = &tariff.Tiers{Basis: "period", StandardDays: 30, Blocks: []tariff.Block{{UpToWh: 100_000}, {Price: 50_000}}}
	v2.Taxes = []tariff.Tax{{Code: "vat", RateBP: 2100, On: []string{"energy", "tier", "fixed"}}}
	in := input("2026-11-01", "2026-12-01", v1, v2)
	in.Import = days("m1", "A+15m", "2026-11-01", "2026-12-01", flat(100))
	b := compute(t, in)
	wantLines(t, b, map[string]int64{
		"energy.all@2026-11-01": 1920, "fixed@2026-11-01": 400,
		"energy.all@2026-11-11": 4992, "fixed@2026-11-11": 1000, "tier.2": 627, "vat": 1390}, 10329)
	if d := det(t, b, "tier.1"); d.Value != 66667 || d.From != date("2026-11-11") {
		t.Errorf("block 1 determinant %+v", d)
	}
	if len(b.DataVersions) != 30 {
		t.Errorf("%d data versions, want 30", len(b.DataVersions))
	}
}

func TestGoldenCriticalPeakDay(t *testing.T) {
	// Wednesday 2026-07-15, 200 Wh every quarter hour; event 17:00–19:00
	// (8 quarter hours, 1600 Wh). Off-peak 00–07 and 23–24: 32 × 200 =
	// 6400 Wh × 0.20 = 128 cents. Peak 07–23: 64 × 200 = 12800 Wh.
	ev := []CriticalPeak{{EventID: "cpp-1", Start: time.Date(2026, 7, 15, 17, 0, 0, 0, ams), End: time.Date(2026, 7, 15, 19, 0, 0, 0, ams)}}
	t.Run("adder", func(t *testing.T) {
		// Peak 12800 × 0.30 = 384; adder 1.00 on 1600 Wh = 160.
		// Total 128 + 384 + 160 = 672.
		tr := touTariff()
		tr.CriticalPeak = &tariff.CriticalPeak{Adder: 1_000_000}
		in := input("2026-07-15", "2026-07-16", tr)
		in.Import = []interval.Day{day("m1", "A+15m", "2026-07-15", 1, flat(200))}
		in.CriticalPeaks = ev
		b := compute(t, in)
		wantLines(t, b, map[string]int64{"energy.off-peak": 128, "energy.peak": 384, "cpp.adder": 160}, 672)
	})
	t.Run("price", func(t *testing.T) {
		// Event hours at 0.90 instead of peak: peak 56 × 200 = 11200 Wh
		// × 0.30 = 336; cpp 1600 × 0.90 = 144. Total 128 + 336 + 144 = 608.
		tr := touTariff()
		tr.CriticalPeak = &tariff.CriticalPeak{Price: 900_000}
		in := input("2026-07-15", "2026-07-16", tr)
		in.Import = []interval.Day{day("m1", "A+15m", "2026-07-15", 1, flat(200))}
		in.CriticalPeaks = ev
		b := compute(t, in)
		wantLines(t, b, map[string]int64{"energy.off-peak": 128, "energy.peak": 336, "energy.cpp": 144}, 608)
		if d := det(t, b, "import.cpp"); d.Value != 1600 || d.Intervals != 8 {
			t.Errorf("cpp determinant %+v", d)
		}
	})
}

func TestGoldenRebillAfterEdit(t *testing.T) {
	// v1 of 2026-11-18: 96 × 100 Wh = 9600 Wh × 0.25 = 240 cents.
	// An edit (v2) sets 07:30–07:45 to 1100 Wh: 10600 Wh → 265 cents.
	// The adjustment: energy +25 cents, the day's version 1 → 2.
	tr := simple("flat", 1, 250_000)
	in := input("2026-11-18", "2026-11-19", tr)
	in.Import = []interval.Day{day("m1", "A+15m", "2026-11-18", 1, flat(100))}
	old := compute(t, in)
	wantLines(t, old, map[string]int64{"energy.all": 240}, 240)
	edited := day("m1", "A+15m", "2026-11-18", 2, func(i int, _ time.Time) (int64, cim.Quality) {
		if i == 30 {
			return 1100, cim.QualityEdited
		}
		return 100, 0
	})
	in.Import = []interval.Day{edited}
	nb := compute(t, in)
	wantLines(t, nb, map[string]int64{"energy.all": 265}, 265)
	if d := det(t, nb, "import.all"); d.Edited != 1 {
		t.Errorf("determinant %+v: want 1 edited interval", d)
	}
	adj := Rebill(old, nb, "edit of 2026-11-18 07:30: meter read corrected")
	if adj.Total != 25 || len(adj.Lines) != 1 || adj.Lines[0].Amount != 25 || adj.Lines[0].Old != 240 || adj.Lines[0].New != 265 {
		t.Errorf("adjustment %+v", adj)
	}
	if adj.Reason == "" || !slices.Equal(adj.Versions, []VersionChange{{MeterID: "m1", Channel: "A+15m", Date: date("2026-11-18"), Old: 1, New: 2}}) {
		t.Errorf("adjustment reason %q versions %+v", adj.Reason, adj.Versions)
	}
}

func TestMissingIntervalsNeverBillZeroSilently(t *testing.T) {
	tr := simple("flat", 1, 250_000)
	gappy := day("m1", "A+15m", "2026-11-18", 1, func(i int, _ time.Time) (int64, cim.Quality) {
		if i >= 10 && i < 14 {
			return 0, cim.QualityMissing
		}
		return 100, 0
	})
	for _, c := range []struct {
		policy, status string
	}{{MissingHold, StatusHeld}, {"", StatusHeld}, {MissingEstimate, StatusHeld}, {MissingFlag, StatusFlagged}} {
		in := input("2026-11-18", "2026-11-20", tr)
		in.Import = []interval.Day{gappy} // and 2026-11-19 absent
		in.Policy.Missing = c.policy
		b := compute(t, in)
		if b.Status != c.status {
			t.Errorf("policy %q: status %s, want %s", c.policy, b.Status, c.status)
		}
		want := []string{"import 2026-11-18: 4 of 96 intervals missing", "import 2026-11-19: 96 of 96 intervals missing"}
		if len(b.Flags) < 2 || !slices.Equal(b.Flags[:2], want) {
			t.Errorf("policy %q: flags %q", c.policy, b.Flags)
		}
		if d := det(t, b, "import.all"); d.Missing != 100 || d.Intervals != 192 {
			t.Errorf("determinant %+v", d)
		}
	}
}

func TestEstimatedShareHolds(t *testing.T) {
	tr := simple("flat", 1, 250_000)
	in := input("2026-11-18", "2026-11-19", tr)
	in.Import = []interval.Day{day("m1", "A+15m", "2026-11-18", 1, func(i int, _ time.Time) (int64, cim.Quality) {
		if i < 10 {
			return 100, cim.QualityEstimated
		}
		return 100, 0
	})}
	in.Policy.MaxEstimatedPermille = 100 // 10 of 96 is 104 ‰
	if b := compute(t, in); b.Status != StatusHeld {
		t.Errorf("status %s with 104 ‰ estimated, limit 100", b.Status)
	}
	in.Policy.MaxEstimatedPermille = 105
	if b := compute(t, in); b.Status != StatusReady {
		t.Errorf("status %s with 104 ‰ estimated, limit 105", b.Status)
	}
}
