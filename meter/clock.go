package meter

import "time"

// clockSeg is a stretch of true time in which the meter clock runs at a
// fixed offset plus drift; every clock setting starts a new one.
type clockSeg struct {
	from int64 // true unix ns
	off  int64 // meter minus true, ns, at from
}

const maxClockSegs = 16

func (m *Meter) driftPPM() int64 { return int64(m.Faults().DriftPPM) }

func (m *Meter) segs() []clockSeg {
	base := clockSeg{from: m.f.install * 1e9}
	if m.st == nil || len(m.st.clock) == 0 {
		return []clockSeg{base}
	}
	return m.st.clock
}

func segOffset(s clockSeg, t, drift int64) int64 {
	return s.off + (t-s.from)/1000*drift/1000
}

// offsetAt returns meter-minus-true clock offset at true time t (ns).
func (m *Meter) offsetAt(t int64) int64 {
	drift := m.driftPPM()
	segs := m.segs()
	s := segs[0]
	for _, x := range segs[1:] {
		if x.from > t {
			break
		}
		s = x
	}
	return segOffset(s, t, drift)
}

// meterTime converts a true instant (ns) to the meter's clock reading.
func (m *Meter) meterTime(t int64) time.Time {
	return time.Unix(0, t+m.offsetAt(t)).In(m.f.Location)
}

// trueTime returns the true instant (ns) at which the meter clock reads b,
// and false when the clock never showed b (set forward across it). When a
// backward setting made it show b twice, the first instant wins. The
// inverse ignores drift over the offset itself (well under a millisecond).
func (m *Meter) trueTime(b int64) (int64, bool) {
	drift := m.driftPPM()
	segs := m.segs()
	for i, s := range segs {
		t := b - segOffset(s, b, drift)
		t = b - segOffset(s, t, drift)
		if i > 0 && t < s.from {
			continue
		}
		if i+1 < len(segs) && t >= segs[i+1].from {
			continue
		}
		return t, true
	}
	return 0, false
}

// clockSetIn reports a clock setting in true (a, b] and whether any moved
// the clock by more than the fleet's ClockShiftLimit.
func (m *Meter) clockSetIn(a, b int64) (set, big bool) {
	if m.st == nil || len(m.st.clock) < 2 {
		return false, false
	}
	drift := m.driftPPM()
	segs := m.st.clock
	for i := 1; i < len(segs); i++ {
		s := segs[i]
		if s.from > a && s.from <= b {
			set = true
			shift := s.off - segOffset(segs[i-1], s.from, drift)
			if shift < 0 {
				shift = -shift
			}
			if shift > int64(m.f.ClockShiftLimit) {
				big = true
			}
		}
	}
	return set, big
}

// Clock returns what the meter's clock shows at true time now.
func (m *Meter) Clock(now time.Time) time.Time { return m.meterTime(now.UnixNano()) }

// ClockOffset returns meter time minus true time at now.
func (m *Meter) ClockOffset(now time.Time) time.Duration {
	return time.Duration(m.offsetAt(now.UnixNano()))
}

// SetClock sets the meter clock to show meterTime at true time now (a
// COSEM clock write or adjust), logging events 4 (old time) and 5 (new
// time). Profile entries spanning the setting carry the clock-adjusted
// status. Only the latest 16 settings are remembered; older history is
// stamped as if those settings had not happened.
func (m *Meter) SetClock(now, meterTime time.Time) {
	t := now.UnixNano()
	old := m.meterTime(t)
	s := m.s()
	if len(s.clock) == 0 {
		s.clock = append(s.clock, clockSeg{from: m.f.install * 1e9})
	}
	if len(s.clock) >= maxClockSegs {
		// Fold the oldest setting into the base so conversions stay total.
		s.clock = append(s.clock[:1], s.clock[2:]...)
	}
	s.clock = append(s.clock, clockSeg{from: t, off: meterTime.UnixNano() - t})
	m.logEventAt(LogStandard, t, old.UnixNano(), EventClockAdjustedOld)
	m.logEventAt(LogStandard, t, meterTime.UnixNano(), EventClockAdjustedNew)
}

// SyncClock sets the meter clock to the true time now.
func (m *Meter) SyncClock(now time.Time) { m.SetClock(now, now) }
