package loadshape

import (
	"testing"
	"time"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s not available: %v", name, err)
	}
	return loc
}

func TestIntervalIsSumOfSteps(t *testing.T) {
	loc := mustLoc(t, "Europe/Amsterdam")
	for a := Archetype(0); a < NumArchetypes; a++ {
		for _, seed := range []uint64{1, 42, 1 << 40} {
			start := time.Date(2025, 3, 29, 0, 0, 0, 0, loc)
			for i := 0; i < 3*24; i++ {
				h := start.Add(time.Duration(i) * time.Hour)
				var sum Energy
				for q := 0; q < 4; q++ {
					sum = sum.Add(Interval(seed, 7, a, h.Add(time.Duration(q)*Step), Step))
				}
				if got := Interval(seed, 7, a, h, time.Hour); got != sum {
					t.Fatalf("%v seed %d %v: hour %+v != steps %+v", a, seed, h, got, sum)
				}
			}
		}
	}
}

func TestDeterministicAndDistinct(t *testing.T) {
	loc := mustLoc(t, "Europe/Amsterdam")
	at := time.Date(2025, 1, 15, 18, 0, 0, 0, loc)
	day := func(seed, meter uint64, a Archetype) (e Energy) {
		for i := 0; i < 96; i++ {
			e = e.Add(Interval(seed, meter, a, at.Add(time.Duration(i)*Step), Step))
		}
		return e
	}
	for a := Archetype(0); a < NumArchetypes; a++ {
		first, again := day(1, 2, a), day(1, 2, a)
		if first != again {
			t.Fatalf("%v: not deterministic", a)
		}
		if day(1, 2, a) == day(1, 3, a) {
			t.Errorf("%v: meters 2 and 3 identical", a)
		}
		if day(1, 2, a) == day(2, 2, a) {
			t.Errorf("%v: seeds 1 and 2 identical", a)
		}
	}
}

// TestPlausibleYear checks annual totals stay in the range real customers
// of each archetype show, and that only prosumers export.
func TestPlausibleYear(t *testing.T) {
	loc := mustLoc(t, "Europe/Amsterdam")
	want := map[Archetype][2]int64{
		SinglePerson: {1000, 3500}, WorkingCouple: {1800, 5000}, Family: {2500, 7500}, Retired: {1500, 5000},
		Prosumer: {500, 6000}, EVOwner: {3500, 9000}, Commercial: {10000, 120000},
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, loc)
	end := start.AddDate(1, 0, 0)
	for a := Archetype(0); a < NumArchetypes; a++ {
		var e Energy
		for ts := start; ts.Before(end); ts = ts.Add(time.Hour) {
			e = e.Add(Interval(3, 11, a, ts, time.Hour))
		}
		kwh := e.ImportWh / 1000
		if w := want[a]; kwh < w[0] || kwh > w[1] {
			t.Errorf("%v: %d kWh/year import, want %d..%d", a, kwh, w[0], w[1])
		}
		if a.HasPV() != (e.ExportWh > 0) {
			t.Errorf("%v: export %d Wh", a, e.ExportWh)
		}
		if e.ImportVarh <= 0 {
			t.Errorf("%v: no reactive import", a)
		}
		t.Logf("%-10v import %6d kWh export %5d kWh R+ %5d kvarh", a, kwh, e.ExportWh/1000, e.ImportVarh/1000)
	}
}

func TestSolarShape(t *testing.T) {
	loc := mustLoc(t, "Europe/Amsterdam")
	night := Interval(5, 9, Prosumer, time.Date(2025, 6, 21, 2, 0, 0, 0, loc), time.Hour)
	if night.ExportWh != 0 {
		t.Errorf("export at night: %d", night.ExportWh)
	}
	var summer, winter int64
	for m := uint64(0); m < 20; m++ {
		for h := 0; h < 24; h++ {
			summer += Interval(5, m, Prosumer, time.Date(2025, 6, 21, h, 0, 0, 0, loc), time.Hour).ExportWh
			winter += Interval(5, m, Prosumer, time.Date(2025, 12, 21, h, 0, 0, 0, loc), time.Hour).ExportWh
		}
	}
	if summer <= 3*winter {
		t.Errorf("summer export %d not well above winter %d", summer, winter)
	}
}

func TestMixProportions(t *testing.T) {
	var n [NumArchetypes]int
	const total = 100_000
	for id := uint64(0); id < total; id++ {
		n[ArchetypeFor(9, id)]++
	}
	mix := DefaultMix()
	var sum uint32
	for _, w := range mix {
		sum += w
	}
	for a, w := range mix {
		want := total * int(w) / int(sum)
		if d := n[a] - want; d < -want/10-100 || d > want/10+100 {
			t.Errorf("%v: %d meters, want about %d", Archetype(a), n[a], want)
		}
	}
	custom := Mix{Commercial: 1}
	if custom.ArchetypeFor(1, 2) != Commercial {
		t.Error("single-archetype mix")
	}
}

func TestEVSessions(t *testing.T) {
	loc := mustLoc(t, "Europe/Amsterdam")
	days := 0
	for d := 0; d < 100; d++ {
		day := time.Date(2025, 5, 1+d, 12, 0, 0, 0, loc)
		s, e, w, ok := EVSession(4, 8, day)
		if !ok {
			continue
		}
		days++
		if s.Hour() < 17 || e.Sub(s) < 90*time.Minute || w < 3700 {
			t.Fatalf("odd session %v-%v %d W", s, e, w)
		}
		// The charging energy shows in the steps it covers.
		var got int64
		for ts := s.Truncate(Step); ts.Before(e); ts = ts.Add(Step) {
			got += Interval(4, 8, EVOwner, ts, Step).ImportWh
		}
		if min := w * int64(e.Sub(s)/time.Minute) / 60; got < min {
			t.Fatalf("session %v: %d Wh registered, charger alone %d", s, got, min)
		}
	}
	if days < 20 || days > 60 {
		t.Errorf("%d charging days out of 100", days)
	}
}

func TestInstant(t *testing.T) {
	loc := mustLoc(t, "Europe/Amsterdam")
	at := time.Date(2025, 1, 15, 19, 7, 3, 0, loc)
	for _, phases := range []int{1, 3} {
		in := InstantFor(1, 5, Family, at, phases, GridEU)
		if in.ImportW <= 0 || in.ExportW != 0 {
			t.Fatalf("power %+v", in)
		}
		var sum int64
		for i := 0; i < phases; i++ {
			if v := in.VoltageDV[i]; v < 2100 || v > 2500 {
				t.Errorf("phase %d voltage %d dV", i, v)
			}
			sum += int64(in.CurrentMA[i]) * int64(in.VoltageDV[i]) / 10_000
		}
		va := in.ImportW * 1000 / int64(in.PowerFactorPM)
		if d := sum - va; d < -va/20-5 || d > va/20+5 {
			t.Errorf("%d phases: V*I %d VA, want about %d", phases, sum, va)
		}
		if f := in.FrequencyMHz; f < 49_900 || f > 50_100 {
			t.Errorf("frequency %d mHz", f)
		}
		if in.PowerFactorPM < 900 || in.PowerFactorPM > 1000 {
			t.Errorf("pf %d", in.PowerFactorPM)
		}
	}
	if in := InstantAt(1, 5, Family, at, 0, 0, 1, GridNA); in.CurrentMA[0] != 0 || in.VoltageDV[0] < 1100 {
		t.Errorf("idle NA: %+v", in)
	}
}

func TestVolume(t *testing.T) {
	loc := mustLoc(t, "Europe/Amsterdam")
	var winterGas, summerGas, water int64
	for h := 0; h < 24; h++ {
		winterGas += Volume(1, 3, Gas, time.Date(2025, 1, 20, h, 0, 0, 0, loc), time.Hour)
		summerGas += Volume(1, 3, Gas, time.Date(2025, 7, 20, h, 0, 0, 0, loc), time.Hour)
		water += Volume(1, 3, Water, time.Date(2025, 7, 20, h, 0, 0, 0, loc), time.Hour)
	}
	if winterGas < 3000 || winterGas > 20000 || summerGas > winterGas/4 {
		t.Errorf("gas: winter %d L, summer %d L a day", winterGas, summerGas)
	}
	if water < 80 || water > 1200 {
		t.Errorf("water %d L a day", water)
	}
	h := time.Date(2025, 1, 20, 7, 0, 0, 0, loc)
	var sum int64
	for q := 0; q < 4; q++ {
		sum += Volume(1, 3, Gas, h.Add(time.Duration(q)*Step), Step)
	}
	if got := Volume(1, 3, Gas, h, time.Hour); got != sum {
		t.Errorf("hour %d != steps %d", got, sum)
	}
}

func BenchmarkStep(b *testing.B) {
	loc := mustLoc(b, "Europe/Amsterdam")
	at := time.Date(2025, 1, 15, 18, 0, 0, 0, loc)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Interval(1, uint64(i), Archetype(i%int(NumArchetypes)), at, Step)
	}
}
