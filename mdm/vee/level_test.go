package vee

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

func TestLevelChannels(t *testing.T) {
	for ch, want := range map[string]bool{
		"V1avg10me-1": true, "V3max10me-1": true, "V2min10m": true, "L1Ve-1": true, "L2I15me-3": true,
		"A+15m": false, "A-15m": false, "V": false, "V4avg10m": false, "G60m": false, "L1A+15m": false,
	} {
		if got := Level(ch); got != want {
			t.Errorf("Level(%q) = %v, want %v", ch, got, want)
		}
	}
}

// A day of steady voltages around 2300 (0.1 V) fails the energy rules as
// an energy (no like days, a demand limit far below); as a voltage it
// passes, and it is never estimated.
func TestLevelChannelSkipsEnergyRules(t *testing.T) {
	start := time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC)
	d := interval.Day{MeterID: "m1", Date: cim.DateOf(start, time.UTC), Start: start, Interval: 10 * time.Minute,
		Values: make([]int64, 144), Quality: make([]cim.Quality, 144)}
	for i := range d.Values {
		d.Values[i] = 2300 + int64(i%7)
	}
	d.Values[50] = 0 // a deep sag's mean
	rules := DefaultRules()
	rules.DemandLimit = 1000
	c := Context{Until: start.Add(48 * time.Hour), Location: time.UTC}
	d.Channel = "A+10m"
	if fs := Validate(d, rules, c); len(fs) == 0 {
		t.Fatal("as an energy the day passes every rule; the test proves nothing")
	}
	d.Channel = "V1avg10me-1"
	if fs := Validate(d, rules, c); len(fs) != 0 {
		t.Errorf("voltage day fails %+v", fs)
	}
	d.Quality[10] = cim.QualityMissing
	if fs := Validate(d, rules, c); len(fs) != 1 || fs[0].Rule != RuleMissing {
		t.Errorf("voltage day with a missing interval: %+v, want one %s", fs, RuleMissing)
	}
	if _, _, ok := Estimate(d, DefaultEstimation(), c); ok {
		t.Error("a voltage day was estimated")
	}
}
