package openadr

import (
	"testing"
	"time"
)

func TestDurations(t *testing.T) {
	for _, c := range []struct {
		in  string
		d   time.Duration
		out string
	}{
		{"PT1H", time.Hour, "PT1H"},
		{"PT10M", 10 * time.Minute, "PT10M"},
		{"PT0S", 0, "PT0S"},
		{"P1D", 24 * time.Hour, "PT24H"},
		{"P1W", 7 * 24 * time.Hour, "PT168H"},
		{"-PT5M", -5 * time.Minute, "-PT5M"},
		{"PT1H30M15S", time.Hour + 30*time.Minute + 15*time.Second, "PT1H30M15S"},
		{"PT0.5S", 500 * time.Millisecond, "PT0.5S"},
		{"P0Y0M0DT2H", 2 * time.Hour, "PT2H"},
		{"PT1,5S", 1500 * time.Millisecond, "PT1.5S"},
	} {
		d, err := ParseDuration(c.in)
		if err != nil || d != c.d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, d, err, c.d)
			continue
		}
		if got := FormatDuration(d); got != c.out {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, c.out)
		}
	}
	for _, bad := range []string{"", "P", "PT", "1H", "PT1H1H", "PT1M1H", "P1M", "P1Y", "PTH", "PT1X", "P1H", "PT-1H", "P99999999999999D"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, d)
		}
	}
}

func TestDateTimes(t *testing.T) {
	want := time.Date(2026, 12, 8, 17, 0, 0, 0, time.UTC)
	for _, s := range []string{"2026-12-08T17:00:00Z", "2026-12-08T18:00:00+01:00", "2026-12-08T17:00:00.000Z", "2026-12-08T17:00:00"} {
		got, err := ParseDateTime(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseDateTime(%q) = %v, %v", s, got, err)
		}
	}
	if s := FormatDateTime(want); s != "2026-12-08T17:00:00Z" {
		t.Errorf("FormatDateTime = %q", s)
	}
	if s := FormatDateTime(want.Add(1500 * time.Microsecond)); s != "2026-12-08T17:00:00.0015Z" {
		t.Errorf("FormatDateTime with a fraction = %q", s)
	}
	if _, err := ParseDateTime("tomorrow"); err == nil {
		t.Error("ParseDateTime(tomorrow) accepted")
	}
}
