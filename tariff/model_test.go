package tariff

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"gopkg.in/yaml.v3"
)

func mustDate(s string) cim.Date {
	d, err := cim.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func residential(t *testing.T) Tariff {
	t.Helper()
	b, err := os.ReadFile("testdata/residential.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := ParseTariff(b)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestParseYAMLAndJSON(t *testing.T) {
	tr := residential(t)
	if tr.Version != 3 || tr.EffectiveFrom != mustDate("2026-01-01") || tr.Region != "NL" || len(tr.Seasons) != 2 ||
		tr.Seasons[1].Start != (MonthDay{time.April, 1}) || tr.Seasons[0].Days[0].Periods[1].From != 7*60 ||
		tr.Tiers.Blocks[1].Price != 40000 || tr.Demand[0].RatchetPercent != 80 || tr.Taxes[1].RateBP != 2100 ||
		tr.NetMetering.Netting != NetInterval || !tr.NetMetering.CarryOver || tr.CriticalPeak.Adder != 1_000_000 {
		t.Fatalf("parsed %+v", tr)
	}
	// The YAML a tariff marshals to and its JSON both read back the same.
	y, err := yaml.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string][]byte{"yaml": y, "json": j} {
		back, err := ParseTariff(doc)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, doc)
		}
		a, _ := json.Marshal(back)
		if string(a) != string(j) {
			t.Errorf("%s round trip differs:\n%s\n%s", name, a, j)
		}
	}
}

func TestSimpleTariffRoundTrips(t *testing.T) {
	// No effective date: none is written, so the document reads back.
	y, err := yaml.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range [][]byte{y, j} {
		back, err := ParseTariff(doc)
		if err != nil || back.Base.Name != Default().Base.Name || back.Base.Price != Default().Base.Price || len(back.Periods) != 1 || !back.EffectiveFrom.IsZero() {
			t.Errorf("%s: %+v, %v", doc, back, err)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"empty":         "",
		"unknown field": "id: x\ncurrency: EUR\nbase: {name: b, price: 1}\nprise: 3\n",
		"bad clock":     "id: x\ncurrency: EUR\nseasons: [{name: s, start: \"01-01\", days: [{types: [working], periods: [{name: p, from: \"7:00\", to: \"24:00\", price: 1, register: 1}]}]}]\n",
		"bad season":    "id: x\ncurrency: EUR\nseasons: [{name: s, start: \"02-30\"}]\n",
		"bad date":      "id: x\ncurrency: EUR\neffective_from: 2026-13-01\nbase: {name: b, price: 1}\n",
		"not a map":     "[1, 2]",
	} {
		if _, err := ParseTariff([]byte(doc)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestValidateNamesGapsAndOverlaps(t *testing.T) {
	base := func() Tariff {
		return Tariff{ID: "t", Currency: "EUR", Seasons: []Season{{Name: "winter", Start: MonthDay{time.October, 1}, Days: []DayProfile{
			{Types: []DayType{Working}, Periods: []TOUPeriod{
				{Name: "night", From: 0, To: 7 * 60, Price: 1, Register: 1},
				{Name: "day", From: 8 * 60, To: 1440, Price: 2, Register: 2}}},
			{Types: []DayType{Saturday, Sunday, Holiday}, Periods: []TOUPeriod{{Name: "all", From: 0, To: 1440, Price: 1, Register: 1}}},
		}}}}
	}
	for name, c := range map[string]struct {
		change func(*Tariff)
		want   string
	}{
		"gap":      {func(*Tariff) {}, "season winter, working days: 07:00–08:00 uncovered"},
		"overlap":  {func(t *Tariff) { t.Seasons[0].Days[0].Periods[1].From = 6 * 60 }, "season winter, working days: night and day overlap 06:00–07:00"},
		"end":      {func(t *Tariff) { t.Seasons[0].Days[1].Periods[0].To = 23 * 60 }, "season winter, Saturdays: 23:00–24:00 uncovered"},
		"day type": {func(t *Tariff) { t.Seasons[0].Days[1].Types = []DayType{Saturday, Sunday} }, "season winter, holidays: 00:00–24:00 uncovered"},
		"twice":    {func(t *Tariff) { t.Seasons[0].Days[1].Types = []DayType{Saturday, Working, Holiday, Sunday} }, "season winter: working days have two day profiles"},
		"register": {func(t *Tariff) { t.Seasons[0].Days[1].Periods[0].Register = 5 }, "register 5 is not 1..4"},
		"demand":   {func(t *Tariff) { t.Demand = []DemandCharge{{Code: "d", Periods: []string{"peak"}}} }, `no TOU period is named "peak"`},
	} {
		tr := base()
		if name != "gap" {
			tr.Seasons[0].Days[0].Periods[1].From = 7 * 60
		}
		c.change(&tr)
		err := tr.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("default: %v", err)
	}
}

func TestDayTypesSeasonsAndPeriods(t *testing.T) {
	tr := residential(t)
	hol := []cim.Date{mustDate("2026-12-25")}
	for _, c := range []struct {
		date   string
		minute int
		want   string
		price  int64
	}{
		{"2026-12-24", 8 * 60, "winter.peak", 300000},     // Thursday
		{"2026-12-25", 8 * 60, "winter.off-peak", 200000}, // Christmas, a holiday
		{"2026-12-26", 8 * 60, "winter.off-peak", 200000}, // Saturday
		{"2026-02-10", 22*60 + 59, "winter.peak", 300000}, // before the first start: last season
		{"2026-06-13", 12 * 60, "summer.peak", 280000},    // Saturday in summer is a working profile
		{"2026-06-14", 12 * 60, "summer.off-peak", 180000},
		{"2026-09-30", 10 * 60, "summer.off-peak", 180000},
		{"2026-10-01", 10 * 60, "winter.peak", 300000},
	} {
		ps, prefix := tr.Day(mustDate(c.date), hol)
		p := PeriodAt(ps, c.minute)
		if prefix+p.Name != c.want || p.Price != c.price {
			t.Errorf("%s minute %d: %s%s at %d, want %s at %d", c.date, c.minute, prefix, p.Name, p.Price, c.want, c.price)
		}
	}
}

func TestTOUCalendar(t *testing.T) {
	tr := residential(t)
	hol := []cim.Date{mustDate("2026-12-25"), mustDate("2026-06-04")}
	c, err := tr.TOUCalendar(hol)
	if err != nil {
		t.Fatal(err)
	}
	// Seasons sorted by start; four distinct day profiles.
	if len(c.Seasons) != 2 || c.Seasons[0].Name != "summer" || c.Seasons[1].Start != (MonthDay{time.October, 1}) || len(c.DayProfiles) != 4 {
		t.Fatalf("calendar %+v", c)
	}
	if w := c.Weeks[0]; w.Name != "winter" || w.Days[0] != w.Days[4] || w.Days[5] != w.Days[6] || w.Days[5] == w.Days[0] {
		t.Errorf("winter week %+v", w)
	}
	if w := c.Weeks[1]; w.Name != "summer" || w.Days[5] != w.Days[0] || w.Days[6] == w.Days[0] {
		t.Errorf("summer week %+v", w)
	}
	if want := []Switch{{0, 1}, {420, 2}, {1380, 1}}; len(c.DayProfiles[0].Switches) != 3 || c.DayProfiles[0].Switches[1] != want[1] {
		t.Errorf("winter working day %+v", c.DayProfiles[0])
	}
	if len(c.SpecialDays) != 2 || c.SpecialDays[0].Date != mustDate("2026-06-04") {
		t.Errorf("special days %+v", c.SpecialDays)
	}
	// The calendar selects, minute by minute, the register of the period
	// the tariff prices: every day of a year.
	for d := mustDate("2026-01-01"); d.Before(mustDate("2027-01-01")); d = d.AddDays(1) {
		ps, _ := tr.Day(d, hol)
		for m := 0; m < 1440; m += 15 {
			if got, want := c.RegisterAt(d, m), PeriodAt(ps, m).Register; got != want {
				t.Fatalf("%s minute %d: register %d, tariff says %d", d, m, got, want)
			}
		}
	}
	// The simple form: one season, per-weekday profiles, base register 1.
	sc, err := Default().TOUCalendar(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Seasons) != 1 || sc.RegisterAt(mustDate("2026-11-23"), 8*60) != 2 || sc.RegisterAt(mustDate("2026-11-28"), 8*60) != 1 {
		t.Errorf("simple calendar %+v", sc)
	}
}

func FuzzParseTariff(f *testing.F) {
	if b, err := os.ReadFile("testdata/residential.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"id":"x","currency":"EUR","base":{"name":"b","price":1}}`))
	f.Add([]byte("id: x\ncurrency: EUR\nseasons: [{name: s, start: \"01-01\"}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := ParseTariff(b)
		if err != nil {
			return
		}
		// A tariff that parses is valid and yields a calendar.
		if err := tr.Validate(); err != nil {
			t.Fatalf("parsed but invalid: %v", err)
		}
		_, _ = tr.TOUCalendar(nil)
	})
}

func TestAtOnASeasonalTariff(t *testing.T) {
	tr := residential(t)
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	p, end := tr.At(time.Date(2026, 12, 24, 8, 0, 0, 0, ams), ams)
	if p.Name != "winter.peak" || p.Price != 300000 || !end.Equal(time.Date(2026, 12, 24, 23, 0, 0, 0, ams)) {
		t.Errorf("at Thursday 08:00: %+v until %s", p, end)
	}
	// 4 quarter hours of 250 Wh from 06:30: two off-peak until 07:00,
	// two peak: 0.5 kWh × 0.20 + 0.5 kWh × 0.30 = 0.25 EUR.
	if got := tr.Cost(time.Date(2026, 12, 24, 6, 30, 0, 0, ams), 15*time.Minute, []int64{250, 250, 250, 250}, 0, ams); got != 250_000 {
		t.Errorf("cost %d µEUR, want 250000", got)
	}
}
