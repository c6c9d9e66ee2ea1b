package meter

import (
	"time"
)

// Status is the AMR profile status byte of IDIS/DSMR load profiles.
type Status uint8

// Status bits. 0x40 and 0x10 are reserved.
const (
	StatusCritical      Status = 0x01 // critical error (never set by this model)
	StatusClockInvalid  Status = 0x02 // clock invalid (never set by this model)
	StatusDataNotValid  Status = 0x04 // DNV: the clock moved by more than the shift limit
	StatusDST           Status = 0x08 // daylight saving time in force at the stamp
	StatusClockAdjusted Status = 0x20 // CAD: clock set during the interval
	StatusPowerDown     Status = 0x80 // PDN: a power cut occurred during the interval
)

// Entry is one load profile record. Stamp is the meter's clock at
// capture, a whole interval boundary of the meter's local time. Import and
// Export are the increase since the previous stored entry (usually one
// interval; longer after a power cut); the Cum fields are the registers
// at capture. For gas and water Import is litres.
type Entry struct {
	Stamp         time.Time
	Status        Status
	Import        int64
	Export        int64
	CumImport     int64
	CumExport     int64
	CumImportVarh int64
	CumExportVarh int64
}

// ProfileRange returns the load profile entries stamped in [from, to]
// (meter clock) as the meter holds them at now: the electricity profile
// (ProfileInterval) or the gas/water profile (VolumeInterval).
//
// Power cuts behave as in IDIS meters: a meter without power captures
// nothing, so boundaries inside a cut have no entry, and the first entry
// after power returns carries StatusPowerDown and the consumption since
// the last entry before the cut. Entries older than the history window
// are gone.
func (m *Meter) ProfileRange(now, from, to time.Time) []Entry {
	iv := m.f.ProfileInterval
	if !m.kind.Electric() {
		iv = m.f.VolumeInterval
	}
	return m.AppendProfile(nil, now, from, to, iv)
}

// AppendProfile appends the profile with the given capture period (a
// multiple of 15 minutes dividing a day) to dst, as ProfileRange does.
func (m *Meter) AppendProfile(dst []Entry, now, from, to time.Time, interval time.Duration) []Entry {
	m.walkProfile(now, from, to, interval, func(b int64, st Status, prev, r Registers) {
		dst = append(dst, Entry{
			Stamp: time.Unix(0, b).In(m.f.Location), Status: st,
			Import: r.Import - prev.Import, Export: r.Export - prev.Export,
			CumImport: r.Import, CumExport: r.Export, CumImportVarh: r.ImportVarh, CumExportVarh: r.ExportVarh,
		})
	})
	return dst
}

// Capture is one profile capture with every register: for object models
// whose profiles capture the rate registers (DSMR's tariff registers).
type Capture struct {
	Stamp     time.Time // meter clock
	Status    Status
	Registers Registers // at capture
	Delta     Registers // since the previous stored capture
}

// AppendCaptures is AppendProfile with all the registers of each capture.
func (m *Meter) AppendCaptures(dst []Capture, now, from, to time.Time, interval time.Duration) []Capture {
	m.walkProfile(now, from, to, interval, func(b int64, st Status, prev, r Registers) {
		dst = append(dst, Capture{Stamp: time.Unix(0, b).In(m.f.Location), Status: st, Registers: r, Delta: r.Sub(prev)})
	})
	return dst
}

// walkProfile calls emit for each capture of the profile with the given
// period stamped in [from, to] (meter clock), with its meter-clock stamp
// (unix ns), status, and the registers at the previous capture and at it.
func (m *Meter) walkProfile(now, from, to time.Time, interval time.Duration, emit func(b int64, st Status, prev, r Registers)) {
	if interval <= 0 || interval%(15*time.Minute) != 0 {
		return
	}
	p := int64(interval)
	nowNs := now.UnixNano()
	installNs := m.f.install * 1e9
	keep := nowNs - int64(m.f.HistoryDays)*86400*1e9
	_, zoff := from.In(m.f.Location).Zone()
	zns := int64(zoff) * 1e9
	b := floorDiv(from.UnixNano()+zns+p-1, p)*p - zns
	end := to.UnixNano()

	prevT := m.prevCapture(b, p)
	var c cursor
	m.initCursor(&c, floorDiv(prevT, 1e9))
	prev := c.at(prevT)
	pdn, cad := false, false
	for ; b <= end; b += p {
		t, ok := m.trueTime(b)
		if !ok {
			cad = true
			continue
		}
		if t > nowNs {
			break
		}
		if t < installNs {
			continue
		}
		if m.downAt(t) {
			pdn = true
			continue
		}
		var st Status
		if pdn || m.outageWithin(prevT, t) {
			st |= StatusPowerDown
		}
		if set, big := m.clockSetIn(prevT, t); set || cad {
			st |= StatusClockAdjusted
			if big {
				st |= StatusDataNotValid
			}
		}
		if time.Unix(0, b).In(m.f.Location).IsDST() {
			st |= StatusDST
		}
		r := c.at(t)
		if t >= keep {
			emit(b, st, prev, r)
		}
		prevT, prev, pdn, cad = t, r, false, false
	}
}

// prevCapture returns the true time of the last capture before meter-clock
// boundary b: the previous boundaries, skipping those a power cut or a
// clock setting swallowed (installation if none).
func (m *Meter) prevCapture(b, p int64) int64 {
	installNs := m.f.install * 1e9
	for k := int64(1); k <= 3*86400*1e9/p; k++ {
		t, ok := m.trueTime(b - k*p)
		if !ok {
			continue
		}
		if t <= installNs {
			return installNs
		}
		if !m.downAt(t) {
			return t
		}
	}
	return max(installNs, b-3*86400*1e9)
}

// downAt reports a power cut at true time t (ns).
func (m *Meter) downAt(t int64) bool {
	u := floorDiv(t, 1e9)
	down := false
	m.eachOutage(u, u+1, func(p period) {
		if p.from*1e9 <= t && t < p.to*1e9 {
			down = true
		}
	})
	return down
}

// outageWithin reports a power cut overlapping true (a, b] (ns).
func (m *Meter) outageWithin(a, b int64) bool {
	hit := false
	m.eachOutage(floorDiv(a, 1e9), floorDiv(b, 1e9)+1, func(p period) {
		if p.from*1e9 <= b && p.to*1e9 > a {
			hit = true
		}
	})
	return hit
}

// Billing is a billing-period snapshot of the registers.
type Billing struct {
	Stamp     time.Time // meter clock: local midnight
	Status    Status
	Registers Registers
}

// DailyBilling returns the midnight snapshots stamped in [from, to] (meter
// clock) as held at now. A snapshot due during a power cut is taken at
// power-up with StatusPowerDown; the registers did not move in between.
func (m *Meter) DailyBilling(now, from, to time.Time) []Billing {
	return m.billing(now, from, to, false)
}

// MonthlyBilling returns the snapshots at local midnight of the first of
// each month stamped in [from, to].
func (m *Meter) MonthlyBilling(now, from, to time.Time) []Billing {
	return m.billing(now, from, to, true)
}

func (m *Meter) billing(now, from, to time.Time, monthly bool) []Billing {
	loc := m.f.Location
	nowNs := now.UnixNano()
	keep := nowNs - int64(m.f.HistoryDays)*86400*1e9
	if monthly {
		keep = nowNs - 13*31*86400*1e9
	}
	f := from.In(loc)
	y, mo, d := f.Date()
	day := time.Date(y, mo, d, 0, 0, 0, 0, loc)
	if day.Before(from) {
		day = time.Date(y, mo, d+1, 0, 0, 0, 0, loc)
	}
	if monthly && day.Day() != 1 {
		day = time.Date(day.Year(), day.Month()+1, 1, 0, 0, 0, 0, loc)
	}
	var out []Billing
	var c cursor
	started := false
	prevT := int64(-1)
	for !day.After(to) {
		b := day.UnixNano()
		t, ok := m.trueTime(b)
		var st Status
		if !ok {
			// The clock jumped over midnight: the meter bills at the jump.
			t = b - m.offsetAt(b)
			st |= StatusClockAdjusted
		}
		if t > nowNs {
			break
		}
		if t >= m.f.install*1e9 && t >= keep {
			if m.downAt(t) {
				st |= StatusPowerDown
			}
			if prevT >= 0 {
				if set, big := m.clockSetIn(prevT, t); set {
					st |= StatusClockAdjusted
					if big {
						st |= StatusDataNotValid
					}
				}
			}
			if day.IsDST() {
				st |= StatusDST
			}
			if !started {
				m.initCursor(&c, floorDiv(t, 1e9))
				started = true
			}
			out = append(out, Billing{Stamp: day, Status: st, Registers: c.at(t)})
			prevT = t
		}
		if monthly {
			day = time.Date(day.Year(), day.Month()+1, 1, 0, 0, 0, 0, loc)
		} else {
			day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)
		}
	}
	return out
}
