package anomaly

import (
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

func TestLimitIsLearntPeakTimesMarginWithinFloorAndCeiling(t *testing.T) {
	p, err := Default().With(map[string]Limits{"disconnect": {FloorHourUser: 10, CeilingHourUser: 40, Margin: 2}})
	if err != nil {
		t.Fatal(err)
	}
	c := Counter{cim.ControlDisconnect, User, "alice"}
	for _, tc := range []struct{ peak, want int }{{0, 10}, {3, 10}, {7, 14}, {20, 40}, {1000, 40}} {
		peaks := NewPeaks([]Peak{{Counter: c, Window: Hour, Count: tc.peak}})
		if got, ok := p.Limit(c, Hour, peaks); !ok || got != tc.want {
			t.Errorf("peak %d: limit %d %v, want %d", tc.peak, got, ok, tc.want)
		}
	}
	// Another user's peak teaches alice nothing.
	peaks := NewPeaks([]Peak{{Counter: Counter{cim.ControlDisconnect, User, "bob"}, Window: Hour, Count: 30}})
	if got, _ := p.Limit(c, Hour, peaks); got != 10 {
		t.Errorf("limit %d from another user's history", got)
	}
	if _, ok := p.Limit(Counter{cim.ControlPing, Fleet, ""}, Hour, nil); ok || p.Limited(cim.ControlPing) {
		t.Error("pings are limited by default")
	}
	lifted, _ := p.With(map[string]Limits{"disconnect": {CeilingHourUser: -1}})
	if _, ok := lifted.Limit(c, Hour, nil); ok {
		t.Error("a negative ceiling did not lift the limit")
	}
}

func TestCheckNamesTheLimit(t *testing.T) {
	p := Default()
	cs := CountersOf(cim.ControlDisconnect, "mallory", "seg-1")
	counts := Counts{Hour: {cs[0]: 11, cs[1]: 11, cs[2]: 11}, Day: {cs[0]: 11, cs[1]: 11, cs[2]: 11}}
	b, over := p.Check(counts, nil, cs)
	if !over || b.Scope != User || b.Window != Hour || b.Count != 11 || b.Limit != 10 {
		t.Fatalf("breach %+v %v", b, over)
	}
	for _, want := range []string{"disconnect", "hour", `user "mallory"`, "11", "limit of 10"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("reason %q lacks %q", b, want)
		}
	}
	counts[Hour][cs[0]] = 101
	if b, _ := p.Check(counts, nil, cs); b.Scope != User {
		t.Errorf("the user, furthest over the limit, not named: %+v", b)
	}
	counts = Counts{Hour: {cs[0]: 150, cs[1]: 40, cs[2]: 9}, Day: {cs[0]: 150, cs[1]: 40, cs[2]: 9}}
	if b, _ := p.Check(counts, nil, cs); b.Scope != Fleet || b.Window != Hour {
		t.Errorf("a burst over the fleet's limit only not named by it: %+v", b)
	}
	counts = Counts{Hour: {cs[0]: 10, cs[1]: 10, cs[2]: 10}, Day: {cs[0]: 10, cs[1]: 10, cs[2]: 10}}
	if b, over := p.Check(counts, nil, cs); over {
		t.Errorf("at the limit is over it: %+v", b)
	}
}

func TestBadSettingsAreRefused(t *testing.T) {
	for _, l := range []Limits{{Margin: -1}, {HistoryDays: -2}, {FloorDayFleet: -3}} {
		if _, err := Default().With(map[string]Limits{"disconnect": l}); err == nil {
			t.Errorf("%+v accepted", l)
		}
	}
}

func TestBucketsAndWindows(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 7, 0, 0, time.UTC)
	b := Bucket(at)
	if Bucket(at.Add(-2*time.Minute)) != b || Bucket(at.Add(-5*time.Minute)) != b-1 {
		t.Error("buckets are not five minutes")
	}
	if b-Since(b, Hour) != 11 || b-Since(b, Day) != 287 {
		t.Errorf("windows span %d and %d buckets before the current", b-Since(b, Hour), b-Since(b, Day))
	}
}
