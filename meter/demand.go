package meter

import "time"

// maxDemand is the running maximum since the last reset; only the maximum
// and how far it has been scanned are stored, the demand itself is
// derived from the steps.
type maxDemand struct {
	resetAt int64 // true unix seconds
	scanned int64 // periods before this boundary are folded in
	maxW    int64
	maxAt   int64 // end of the period of the maximum
}

// rewind forgets the scan past t; a state change at t may alter demand
// after it.
func (md *maxDemand) rewind(t int64) {
	if md.scanned > t {
		md.scanned, md.maxW, md.maxAt = md.resetAt, 0, 0
	}
}

// Demand is a maximum demand register (1.6.0) value.
type Demand struct {
	MaxW    int64     // highest average import power over one demand period
	At      time.Time // meter clock at the end of that period (zero if none)
	ResetAt time.Time // meter clock at the last reset (installation if never)
}

func (m *Meter) md() *maxDemand {
	s := m.s()
	if s.md == nil {
		s.md = &maxDemand{resetAt: m.f.install, scanned: m.f.install}
	}
	return s.md
}

// MaxDemand returns the maximum demand since the last reset, over the
// demand periods completed by now. Amortised O(1) as now advances.
func (m *Meter) MaxDemand(now time.Time) Demand {
	if !m.kind.Electric() {
		return Demand{}
	}
	md := m.md()
	p := int64(m.f.DemandPeriod / time.Second)
	if md.scanned < md.resetAt {
		md.scanned = md.resetAt
	}
	start := floorDiv(md.scanned+p-1, p) * p
	if md.scanned == md.resetAt && md.resetAt%p != 0 {
		start = floorDiv(md.resetAt, p)*p + p // the period in progress at reset does not count
	}
	var off offList
	mf := m.Faults()
	nowU := now.Unix()
	for s := start; s+p <= nowU; s += p {
		var wh int64
		for x := s; x < s+p; x += stepSec {
			_, e := m.step(x, &off, &mf)
			wh += e.ImportWh
		}
		if w := wh * 3600 / p; w > md.maxW {
			md.maxW, md.maxAt = w, s+p
		}
		md.scanned = s + p
	}
	d := Demand{MaxW: md.maxW, ResetAt: m.meterTime(md.resetAt * 1e9)}
	if md.maxAt != 0 {
		d.At = m.meterTime(md.maxAt * 1e9)
	}
	return d
}

// ResetMaxDemand resets the register at now (end of billing period) and
// returns the value it held.
func (m *Meter) ResetMaxDemand(now time.Time) Demand {
	d := m.MaxDemand(now)
	if m.kind.Electric() {
		*m.md() = maxDemand{resetAt: now.Unix(), scanned: now.Unix()}
	}
	return d
}
