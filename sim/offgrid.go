package sim

import (
	"time"

	"github.com/amigo-ami/amigo/meter"
)

// offGridAt is the local time of day of the off-grid entry a meter with
// FaultOffGrid captures each day: 07:07:30 is on no grid of whole quarter
// hours.
const offGridAt = 7*time.Hour + 7*time.Minute + 30*time.Second

// offGrid inserts, between two consecutive items that straddle a day's
// 07:07:30 (meter-local), an item made by mid at that instant, and keeps
// the items stamped in [from, to]. items must reach one capture beyond
// each end so that the inserted ones have both neighbours.
func offGrid[T any](items []T, from, to time.Time, zone func(time.Time) time.Time, stamp func(T) time.Time, mid func(a, b T, at time.Time) T) []T {
	out := make([]T, 0, len(items)+2)
	for i, it := range items {
		if i > 0 {
			a, b := stamp(items[i-1]), stamp(it)
			lb := zone(b)
			y, m, dd := lb.Date()
			at := time.Date(y, m, dd, 0, 0, 0, 0, lb.Location()).Add(offGridAt)
			if at.After(a) && at.Before(b) && !at.Before(from) && !at.After(to) {
				out = append(out, mid(items[i-1], it, at))
			}
		}
		if t := stamp(it); !t.Before(from) && !t.After(to) {
			out = append(out, it)
		}
	}
	return out
}

// lerp interpolates a cumulative register between captures a and b at
// fraction num/den, so the registers never decrease.
func lerp(a, b, num, den int64) int64 {
	if den <= 0 {
		return a
	}
	return a + (b-a)*num/den
}

// midEntry is the IDIS load profile's entry at an off-grid instant.
func midEntry(a, b meter.Entry, at time.Time) meter.Entry {
	num, den := int64(at.Sub(a.Stamp)), int64(b.Stamp.Sub(a.Stamp))
	e := meter.Entry{Stamp: at, Status: b.Status&meter.StatusDST | meter.StatusClockAdjusted,
		CumImport: lerp(a.CumImport, b.CumImport, num, den), CumExport: lerp(a.CumExport, b.CumExport, num, den),
		CumImportVarh: lerp(a.CumImportVarh, b.CumImportVarh, num, den), CumExportVarh: lerp(a.CumExportVarh, b.CumExportVarh, num, den)}
	e.Import, e.Export = e.CumImport-a.CumImport, e.CumExport-a.CumExport
	return e
}

// midCapture is a full capture at an off-grid instant.
func midCapture(a, b meter.Capture, at time.Time) meter.Capture {
	num, den := int64(at.Sub(a.Stamp)), int64(b.Stamp.Sub(a.Stamp))
	ra, rb := a.Registers, b.Registers
	r := meter.Registers{Import: lerp(ra.Import, rb.Import, num, den), Export: lerp(ra.Export, rb.Export, num, den),
		ImportVarh: lerp(ra.ImportVarh, rb.ImportVarh, num, den), ExportVarh: lerp(ra.ExportVarh, rb.ExportVarh, num, den)}
	for i := range r.ImportRate {
		r.ImportRate[i] = lerp(ra.ImportRate[i], rb.ImportRate[i], num, den)
		r.ExportRate[i] = lerp(ra.ExportRate[i], rb.ExportRate[i], num, den)
	}
	return meter.Capture{Stamp: at, Status: b.Status&meter.StatusDST | meter.StatusClockAdjusted, Registers: r, Delta: r.Sub(ra)}
}

// captures returns the load profile's captures stamped in [from, to] with
// every register, the off-grid one included for a meter with
// FaultOffGrid.
func (d *Device) captures(from, to time.Time) []meter.Capture {
	iv := d.m.Fleet().ProfileInterval
	if !d.cfg.Faults.Has(FaultOffGrid) {
		return with(d, func(m *meter.Meter, now time.Time) []meter.Capture { return m.AppendCaptures(nil, now, from, to, iv) })
	}
	cs := with(d, func(m *meter.Meter, now time.Time) []meter.Capture {
		return m.AppendCaptures(nil, now, from.Add(-iv), to.Add(iv), iv)
	})
	return offGrid(cs, from, to, d.zone, func(c meter.Capture) time.Time { return c.Stamp }, midCapture)
}
