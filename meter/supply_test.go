package meter

import (
	"slices"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/loadshape"
)

// fixedSupply is a network with set answers.
type fixedSupply struct {
	cuts  [][2]int64
	lost  map[int64]bool
	false []int64
	volt  [3]int32
	dist  []Disturbance
}

func (s *fixedSupply) Cuts(id uint64, from, to int64, fn func(from, to int64)) {
	for _, c := range s.cuts {
		if c[1] > from && c[0] < to {
			fn(c[0], c[1])
		}
	}
}
func (s *fixedSupply) VoltagePM(id uint64, t int64) [3]int32 { return s.volt }
func (s *fixedSupply) LastGasp(id uint64, from int64) bool   { return !s.lost[from] }
func (s *fixedSupply) FalseGasps(id uint64, from, to int64, fn func(at int64)) {
	for _, a := range s.false {
		if a >= from && a < to {
			fn(a)
		}
	}
}
func (s *fixedSupply) Disturbances(id uint64, from, to int64, fn func(Disturbance)) {
	for _, d := range s.dist {
		if d.At >= from && d.At < to {
			fn(d)
		}
	}
}

// On a supply, a meter's cuts are the supply's plus the injected ones
// (the outage groups are not drawn), a lost last gasp is not pushed, a
// false one is (with no restoration after it and the meter still up),
// the voltage is the supply's and sags come from its disturbances.
func TestMeterOnSupply(t *testing.T) {
	w := dstWindows(t)[0]
	f := testFleet(t, 5, w, Faults{OutagesPerYear: 300, OutageGroup: 1, PowerQualityPerYear: 300})
	base := w.start.Unix()
	sup := &fixedSupply{
		cuts:  [][2]int64{{base + 3600, base + 3700}, {base + 7200, base + 9000}},
		lost:  map[int64]bool{base + 7200: true},
		false: []int64{base + 5000},
		volt:  [3]int32{-40, 20, 70},
		dist:  []Disturbance{{At: base + 6000, Dur: 1500 * time.Millisecond, Phase: 2, DepthPM: -300}, {At: base + 6100, Dur: time.Second, Phase: 1, DepthPM: 150}},
	}
	f.Supply = sup
	m := newMeter(t, f, idFor(f, loadshape.Family, 0), Electricity3P)
	inj := [2]int64{base + 20000, base + 20060}
	m.PowerCut(time.Unix(inj[0], 0), time.Unix(inj[1], 0))
	var got [][2]int64
	for _, o := range m.Outages(w.start, w.start.Add(24*time.Hour)) {
		got = append(got, [2]int64{o.Start.Unix(), o.End.Unix()})
	}
	if want := append(slices.Clone(sup.cuts), inj); !slices.Equal(got, want) {
		t.Fatalf("outages %v, want %v", got, want)
	}
	type ev struct {
		at   int64
		kind EventKind
		code EventCode
	}
	var evs []ev
	for at, e := m.NextEvent(w.start); at.Unix() < base+21000; at, e = m.NextEvent(at) {
		if e.Kind != EventWake {
			evs = append(evs, ev{at.Unix(), e.Kind, e.Code})
		}
	}
	want := []ev{
		{base + 3600, EventLastGasp, EventPowerDown}, {base + 3700, EventPowerRestored, EventPowerUp},
		{base + 5000, EventLastGasp, EventPowerDown},
		{base + 6000, EventPowerQuality, EventUnderVoltageL1 + 1}, {base + 6100, EventPowerQuality, EventOverVoltageL1},
		{base + 9000, EventPowerRestored, EventPowerUp},
		{base + 20000, EventLastGasp, EventPowerDown}, {base + 20060, EventPowerRestored, EventPowerUp},
	}
	if !slices.Equal(evs, want) {
		t.Fatalf("events\n%v\nwant\n%v", evs, want)
	}
	if !m.Reachable(time.Unix(base+5000, 0)) || m.Reachable(time.Unix(base+8000, 0)) {
		t.Error("a false gasp took the meter down, or a cut did not")
	}
	in := m.Instant(time.Unix(base+4000, 0))
	for p, pm := range sup.volt {
		nom := int64(f.Grid.VoltageDV)
		want := nom + nom*int64(pm)/1000
		if d := int64(in.VoltageDV[p]) - want; d < -15 || d > 15+in.ExportW/250 {
			t.Errorf("phase %d: %d dV, the supply says %d", p+1, in.VoltageDV[p], want)
		}
	}
	// A single-phase meter sees only its own phase's disturbances.
	m1 := newMeter(t, f, idFor(f, loadshape.Family, 1), Electricity1P)
	var pq []EventCode
	m1.eachPQ(base, base+86400, func(ep pqEp) { pq = append(pq, ep.code) })
	if !slices.Equal(pq, []EventCode{EventOverVoltageL1}) {
		t.Errorf("single-phase meter's disturbances %v", pq)
	}
}
