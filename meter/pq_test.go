package meter

import (
	"testing"
	"time"
)

// offsetSupply raises or lowers every meter's voltage by a fixed amount and
// sags phase 0 once.
type offsetSupply struct {
	pm  int32
	sag Disturbance
}

func (s offsetSupply) Cuts(uint64, int64, int64, func(int64, int64)) {}
func (s offsetSupply) VoltagePM(uint64, int64) [3]int32              { return [3]int32{s.pm, s.pm, s.pm} }
func (s offsetSupply) LastGasp(uint64, int64) bool                   { return true }
func (s offsetSupply) FalseGasps(uint64, int64, int64, func(int64))  {}
func (s offsetSupply) Disturbances(_ uint64, from, to int64, fn func(Disturbance)) {
	if s.sag.At >= from && s.sag.At < to {
		fn(s.sag)
	}
}

func TestVoltageProfileFollowsSupply(t *testing.T) {
	w := window{"Europe/Amsterdam", time.Date(2025, 6, 10, 0, 0, 0, 0, mustLoc(t, "Europe/Amsterdam"))}
	f := testFleet(t, 7, w, Faults{})
	sagAt := w.start.Add(-26*time.Hour + 3*time.Minute)
	f.Supply = offsetSupply{pm: 120, sag: Disturbance{At: sagAt.Unix(), Dur: 2 * time.Second, Phase: 2, DepthPM: -400}}
	m := newMeter(t, f, 3, Electricity3P)
	from, to := w.start.Add(-48*time.Hour), w.start.Add(-24*time.Hour)
	es := m.VoltageProfile(w.start, from, to)
	if len(es) != 24*6+1 {
		t.Fatalf("%d entries in a day, want %d", len(es), 24*6+1)
	}
	sagged := 0
	for _, e := range es {
		if e.Stamp.Unix()%600 != 0 {
			t.Fatalf("entry at %v is not on a 10-minute boundary", e.Stamp)
		}
		for p := range 3 {
			if e.Min[p] > e.Avg[p] || e.Avg[p] > e.Max[p] {
				t.Fatalf("%v phase %d: min %d avg %d max %d out of order", e.Stamp, p, e.Min[p], e.Avg[p], e.Max[p])
			}
			if p != 1 || e.Min[p] > 1500 {
				// 230 V + 12 %, within the noise.
				if e.Avg[p] < 2570 || e.Avg[p] > 2590 {
					t.Fatalf("%v phase %d: mean %d, want about 2576", e.Stamp, p, e.Avg[p])
				}
			}
		}
		if e.Min[1] == 1380 {
			sagged++
			if want := sagAt.Truncate(10 * time.Minute).Add(10 * time.Minute); !e.Stamp.Equal(want) {
				t.Errorf("sag in the entry of %v, want %v", e.Stamp, want)
			}
		}
	}
	if sagged != 1 {
		t.Errorf("the sag to 138 V shows in %d entries, want 1", sagged)
	}
	var got []LogEntry
	for _, e := range m.Events(w.start, LogPowerQuality) {
		if e.Time.Unix() == sagAt.Unix() {
			got = append(got, e)
		}
	}
	if len(got) != 1 || got[0].Code != EventUnderVoltageL1+1 || got[0].DepthPM != -400 || got[0].Duration != 2*time.Second {
		t.Errorf("power quality log at the sag: %+v", got)
	}
}

func TestVoltageProfileSkipsCuts(t *testing.T) {
	w := window{"Europe/Amsterdam", time.Date(2025, 6, 10, 0, 0, 0, 0, mustLoc(t, "Europe/Amsterdam"))}
	f := testFleet(t, 7, w, Faults{})
	m := newMeter(t, f, 4, Electricity1P)
	cut := w.start.Add(-30 * time.Hour)
	m.PowerCut(cut, cut.Add(time.Hour))
	es := m.VoltageProfile(w.start, cut.Add(-time.Hour), cut.Add(2*time.Hour))
	for _, e := range es {
		if e.Stamp.After(cut) && !e.Stamp.After(cut.Add(time.Hour)) && e.Stamp.Before(cut.Add(time.Hour)) {
			t.Errorf("entry at %v inside the cut", e.Stamp)
		}
		if e.Avg[1] != 0 || e.Avg[0] < 2000 {
			t.Errorf("single-phase entry %+v", e)
		}
	}
	// 19 boundaries; the six in the cut have no entry, nor has the first
	// after it, whose ten minutes were all in the dark.
	if len(es) != 19-7 {
		t.Errorf("%d entries, want %d", len(es), 19-7)
	}
}

// BenchmarkVoltageProfileWeek is a week of 10-minute entries of one
// three-phase meter on a supply, as a collection of the week reads it.
func BenchmarkVoltageProfileWeek(b *testing.B) {
	w := window{"Europe/Amsterdam", time.Date(2025, 6, 10, 0, 0, 0, 0, mustLoc(b, "Europe/Amsterdam"))}
	f := testFleet(b, 7, w, Faults{})
	f.Supply = offsetSupply{pm: -20}
	m := newMeter(b, f, 3, Electricity3P)
	from := w.start.AddDate(0, 0, -8)
	b.ResetTimer()
	for b.Loop() {
		if es := m.VoltageProfile(w.start, from, from.AddDate(0, 0, 7)); len(es) != 7*144+1 {
			b.Fatal(len(es))
		}
	}
}

// BenchmarkVoltageProfileWeekRegional is the same without a supply: the
// meter's own regional voltage.
func BenchmarkVoltageProfileWeekRegional(b *testing.B) {
	w := window{"Europe/Amsterdam", time.Date(2025, 6, 10, 0, 0, 0, 0, mustLoc(b, "Europe/Amsterdam"))}
	f := testFleet(b, 7, w, Faults{})
	m := newMeter(b, f, 3, Electricity3P)
	from := w.start.AddDate(0, 0, -8)
	b.ResetTimer()
	for b.Loop() {
		m.VoltageProfile(w.start, from, from.AddDate(0, 0, 7))
	}
}
