package cim

import (
	"testing"
	"time"
)

func TestDSTDaysHave92And100QuarterHours(t *testing.T) {
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		d    string
		want int
	}{{"2026-03-29", 92}, {"2026-10-25", 100}, {"2026-06-01", 96}} {
		d, err := ParseDate(c.d)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Intervals(ams, 15*time.Minute); got != c.want {
			t.Errorf("%s: %d intervals, want %d", c.d, got, c.want)
		}
	}
}

func TestDateArithmetic(t *testing.T) {
	d := Date{2026, time.December, 31}
	if got := d.AddDays(1).String(); got != "2027-01-01" {
		t.Fatal(got)
	}
	if !d.Before(d.AddDays(1)) || d.AddDays(-1).AddDays(1) != d {
		t.Fatal("ordering")
	}
	if _, err := ParseDate("2026-13-01"); err == nil {
		t.Fatal("accepted month 13")
	}
}

func TestQualityString(t *testing.T) {
	if s := (QualityEstimated | QualityPowerDown).String(); s != "estimated|power-down" {
		t.Fatal(s)
	}
	if s := Quality(0).String(); s != "valid" {
		t.Fatal(s)
	}
}
