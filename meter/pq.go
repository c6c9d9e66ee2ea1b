package meter

import (
	"time"

	"github.com/amigo-ami/amigo/loadshape"
)

// VoltageInterval is the capture period of the voltage profile: EN 50160
// judges slow voltage variations on 10-minute mean r.m.s. values.
const VoltageInterval = 10 * time.Minute

// voltageSamples is how many points of each 10-minute period the profile
// samples for its mean, minimum and maximum; the disturbances inside the
// period are added to the minimum and maximum, so a one-second sag still
// shows. A week of entries for a few hundred meters stays cheap.
const voltageSamples = 5

// VoltageEntry is one voltage profile entry: per phase, the mean, minimum
// and maximum r.m.s. voltage over the 10 minutes ending at Stamp, in 0.1 V.
// Phases a single-phase meter lacks are zero.
type VoltageEntry struct {
	Stamp         time.Time // meter clock, a whole 10-minute boundary
	Avg, Min, Max [3]int32
}

const saltPQDepth = 2201

// disturbances calls fn for each sag or swell at the meter starting in
// [from, to) (unix seconds), in start order, with its depth: the supply's
// as it says, the fleet's regional episodes with a depth drawn from the
// seed (sags leave 40 % to 90 % of nominal, swells reach 110 % to 120 %).
func (m *Meter) disturbances(from, to int64, fn func(ep pqEp, dur time.Duration)) {
	m.eachPQ(from, to, func(ep pqEp) {
		dur := ep.exact
		if dur <= 0 {
			dur = time.Duration(ep.dur) * time.Second
		}
		if ep.depthPM == 0 {
			h := loadshape.Rand(m.f.Seed, m.outageGroup(), uint64(floorDiv(ep.at, 86400)), saltPQDepth)
			ep.depthPM = -int32(100 + h%500)
			if ep.code >= EventOverVoltageL1 {
				ep.depthPM = int32(100 + h%100)
			}
		}
		fn(ep, dur)
	})
}

// voltageAt is the r.m.s. voltage of each phase at unix second t in
// 0.1 V, with the meter powered.
func (m *Meter) voltageAt(t int64) [3]int32 {
	if m.f.Supply == nil {
		return m.Instant(time.Unix(t, 0)).VoltageDV
	}
	pm := m.f.Supply.VoltagePM(m.id, t)
	nom := int64(m.f.Grid.VoltageDV)
	var v [3]int32
	for p := range m.Phases() {
		noise := int64(loadshape.Rand(m.f.Seed, m.id, uint64(t)*4+uint64(p), saltPQDepth)%7) - 3
		v[p] = int32(nom + nom*(int64(pm[p])+noise)/1000)
	}
	return v
}

// VoltageProfile returns the voltage profile entries stamped in [from, to]
// (meter clock) as the meter holds them at now. As in the load profile, a
// meter without power captures nothing: a boundary inside a power cut has
// no entry, and samples taken in a cut do not count. Entries older than the
// history window are gone.
func (m *Meter) VoltageProfile(now, from, to time.Time) []VoltageEntry {
	if !m.kind.Electric() {
		return nil
	}
	p := int64(VoltageInterval)
	nowNs := now.UnixNano()
	first := max(m.f.install*1e9, nowNs-int64(m.f.HistoryDays)*86400*1e9)
	b := floorDiv(from.UnixNano()+p-1, p) * p
	end := to.UnixNano()
	if b > end {
		return nil
	}
	// The cuts and disturbances of the whole span, read once.
	spanFrom, spanTo := floorDiv(b-p, 1e9)-1, floorDiv(end, 1e9)+2
	var cuts []period
	m.eachOutage(spanFrom, spanTo, func(c period) { cuts = append(cuts, c) })
	down := func(t int64) bool {
		for _, c := range cuts {
			if c.from <= t && t < c.to {
				return true
			}
		}
		return false
	}
	type dist struct {
		from, to int64
		phase    int
		depthPM  int32
	}
	var ds []dist
	m.disturbances(spanFrom-3600, spanTo, func(ep pqEp, dur time.Duration) {
		ds = append(ds, dist{ep.at, ep.at + int64((dur+time.Second-1)/time.Second), ep.phase, ep.depthPM})
	})
	nom := int64(m.f.Grid.VoltageDV)
	phases := m.Phases()
	var out []VoltageEntry
	for ; b <= end; b += p {
		t, ok := m.trueTime(b)
		if !ok || t > nowNs {
			if t > nowNs {
				break
			}
			continue
		}
		if t < first || down(floorDiv(t, 1e9)) {
			continue
		}
		endS := floorDiv(t, 1e9)
		startS := endS - int64(VoltageInterval/time.Second)
		var sum [3]int64
		e := VoltageEntry{Stamp: time.Unix(0, b).In(m.f.Location)}
		n := int64(0)
		for k := range voltageSamples {
			s := startS + int64(VoltageInterval/time.Second)*int64(2*k+1)/(2*voltageSamples)
			if down(s) {
				continue
			}
			v := m.voltageAt(s)
			for ph := range phases {
				sum[ph] += int64(v[ph])
				if n == 0 || v[ph] < e.Min[ph] {
					e.Min[ph] = v[ph]
				}
				if n == 0 || v[ph] > e.Max[ph] {
					e.Max[ph] = v[ph]
				}
			}
			n++
		}
		if n == 0 {
			continue
		}
		for ph := range phases {
			e.Avg[ph] = int32(sum[ph] / n)
		}
		// A disturbance inside the period sets the extreme it reaches
		// and pulls the mean by its share of the 10 minutes.
		for _, d := range ds {
			if d.to <= startS || d.from >= endS || d.phase < 0 || d.phase >= phases {
				continue
			}
			level := int32(nom + nom*int64(d.depthPM)/1000)
			if d.depthPM < 0 && level < e.Min[d.phase] {
				e.Min[d.phase] = level
			}
			if d.depthPM > 0 && level > e.Max[d.phase] {
				e.Max[d.phase] = level
			}
			in := min(d.to, endS) - max(d.from, startS)
			e.Avg[d.phase] += int32((int64(level) - int64(e.Avg[d.phase])) * in / int64(VoltageInterval/time.Second))
		}
		out = append(out, e)
	}
	return out
}

// pqEvents adds the power quality log's entries in [from, to] (unix
// seconds): one per sag or swell the meter was powered for, under the
// under- or over-voltage code of its phase, with its duration and depth.
func (m *Meter) pqEvents(from, to int64, add func(t int64, e LogEntry)) {
	m.disturbances(from, to+1, func(ep pqEp, dur time.Duration) {
		if m.PoweredDown(time.Unix(ep.at, 0)) {
			return
		}
		add(ep.at*1e9, LogEntry{Time: m.meterTime(ep.at * 1e9), Code: ep.code, Duration: dur, DepthPM: ep.depthPM})
	})
}
