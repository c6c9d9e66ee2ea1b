package sim

import (
	"context"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
)

// The voltage profile: 1-0:99.2.0 (load profile 2, where IDIS meters keep
// power quality values) capturing, every 10 minutes, per phase the
// average (value group D = 24, "current average 3"), minimum (D = 23) and
// maximum (D = 26) voltage of the period (IEC 62056-6-1 value group C 32,
// 52, 72: voltage L1, L2, L3), in 0.1 V.
var (
	VoltageProfileLN = obis.MustParse("1.0.99.2.0.255")
	VoltageAvgLN     = [3]obis.Code{{1, 0, 32, 24, 0, 255}, {1, 0, 52, 24, 0, 255}, {1, 0, 72, 24, 0, 255}}
	VoltageMinLN     = [3]obis.Code{{1, 0, 32, 23, 0, 255}, {1, 0, 52, 23, 0, 255}, {1, 0, 72, 23, 0, 255}}
	VoltageMaxLN     = [3]obis.Code{{1, 0, 32, 26, 0, 255}, {1, 0, 52, 26, 0, 255}, {1, 0, 72, 26, 0, 255}}
	// ResidualLN is the residual voltage of the last power quality event
	// in percent of nominal: a manufacturer-specific code (value group D
	// 128), for the standard tables name no object for it.
	ResidualLN = obis.MustParse("1.0.12.128.0.255")
	// DipDurationLN is the last power quality event's duration in
	// milliseconds (manufacturer-specific, D 129): most dips are cleared
	// within cycles, which whole seconds would round away.
	DipDurationLN = obis.MustParse("1.0.12.129.0.255")
)

// PowerQualityLogColumns are the power quality log's columns when the
// meter serves the voltage profile: each event with its duration and
// residual voltage.
var PowerQualityLogColumns = []cosem.CaptureObject{
	{ClassID: cosem.ClassClock, LogicalName: ClockLN, Attribute: 2},
	{ClassID: cosem.ClassData, LogicalName: EventCodeLN, Attribute: 2},
	{ClassID: cosem.ClassData, LogicalName: DipDurationLN, Attribute: 2},
	{ClassID: cosem.ClassData, LogicalName: ResidualLN, Attribute: 2},
}

// VoltageProfileColumns returns the voltage profile's columns for a meter
// of that many phases: the clock, then average, minimum and maximum of
// each phase.
func VoltageProfileColumns(phases int) []cosem.CaptureObject {
	cols := []cosem.CaptureObject{{ClassID: cosem.ClassClock, LogicalName: ClockLN, Attribute: 2}}
	for p := range phases {
		for _, ln := range []obis.Code{VoltageAvgLN[p], VoltageMinLN[p], VoltageMaxLN[p]} {
			cols = append(cols, cosem.CaptureObject{ClassID: cosem.ClassRegister, LogicalName: ln, Attribute: 2})
		}
	}
	return cols
}

// pqObjects are the voltage profile and its registers, when served.
func (d *Device) pqObjects() []cosem.Object {
	if !d.cfg.PQProfile || !d.m.Kind().Electric() {
		return nil
	}
	phases := d.m.Phases()
	last := func(m *meter.Meter, now time.Time) meter.VoltageEntry {
		es := m.VoltageProfile(now, now.Add(-meter.VoltageInterval), now)
		if len(es) == 0 {
			return meter.VoltageEntry{}
		}
		return es[len(es)-1]
	}
	objs := []cosem.Object{d.voltageProfile(phases)}
	for p := range phases {
		objs = append(objs,
			d.register(VoltageAvgLN[p], unitV, -1, func(m *meter.Meter, now time.Time) axdr.Data { return axdr.Uint16(uint16(last(m, now).Avg[p])) }),
			d.register(VoltageMinLN[p], unitV, -1, func(m *meter.Meter, now time.Time) axdr.Data { return axdr.Uint16(uint16(last(m, now).Min[p])) }),
			d.register(VoltageMaxLN[p], unitV, -1, func(m *meter.Meter, now time.Time) axdr.Data { return axdr.Uint16(uint16(last(m, now).Max[p])) }))
	}
	return append(objs, d.residual(), d.dipDuration())
}

func (d *Device) voltageProfile(phases int) cosem.Object {
	f := d.m.Fleet()
	cols := VoltageProfileColumns(phases)
	capacity := uint32(f.HistoryDays) * uint32(24*time.Hour/meter.VoltageInterval)
	return d.profile(VoltageProfileLN, cols, meter.VoltageInterval, capacity, func(from, to time.Time) []axdr.Data {
		es := with(d, func(m *meter.Meter, now time.Time) []meter.VoltageEntry { return m.VoltageProfile(now, from, to) })
		w := len(cols)
		rows := make([]axdr.Data, len(es))
		items := make([]axdr.Data, w*len(es))
		for i, e := range es {
			row := items[w*i : w*i+w : w*i+w]
			row[0] = d.dateTime(e.Stamp)
			for p := range phases {
				row[1+3*p] = axdr.Uint16(uint16(e.Avg[p]))
				row[2+3*p] = axdr.Uint16(uint16(e.Min[p]))
				row[3+3*p] = axdr.Uint16(uint16(e.Max[p]))
			}
			rows[i] = axdr.Structure(row...)
		}
		return rows
	})
}

// residualPercent is an event's residual voltage in percent of nominal.
func residualPercent(depthPM int32) uint16 {
	return uint16(max(0, (1000+int64(depthPM)+5)/10))
}

// powerQualityLog is the power quality log: with the voltage profile it
// carries each event's duration and residual voltage, else the event
// codes alone as the other logs do.
func (d *Device) powerQualityLog() cosem.Object {
	if !d.cfg.PQProfile {
		return d.eventLog(PowerQualityLogLN, meter.LogPowerQuality)
	}
	l := meter.LogPowerQuality
	return d.profile(PowerQualityLogLN, PowerQualityLogColumns, 0, uint32(l.Capacity()), func(from, to time.Time) []axdr.Data {
		es := with(d, func(m *meter.Meter, now time.Time) []meter.LogEntry { return m.Events(now, l) })
		rows := make([]axdr.Data, 0, len(es))
		for _, e := range es {
			if e.Time.Before(from) || e.Time.After(to) {
				continue
			}
			rows = append(rows, axdr.Structure(d.dateTime(e.Time), axdr.Uint16(uint16(e.Code)),
				axdr.Uint32(uint32(e.Duration/time.Millisecond)), axdr.Uint16(residualPercent(e.DepthPM))))
		}
		return rows
	})
}

// residual is the residual voltage object the log captures: it shows the
// last event's.
func (d *Device) residual() cosem.Object {
	o := objects.NewData(ResidualLN, axdr.Uint16(100))
	o.Read = func(context.Context) (axdr.Data, error) {
		es := with(d, func(m *meter.Meter, now time.Time) []meter.LogEntry { return m.Events(now, meter.LogPowerQuality) })
		if len(es) == 0 {
			return axdr.Uint16(100), nil
		}
		return axdr.Uint16(residualPercent(es[len(es)-1].DepthPM)), nil
	}
	return o
}

// dipDuration is the duration object the log captures: the last event's.
func (d *Device) dipDuration() cosem.Object {
	o := objects.NewData(DipDurationLN, axdr.Uint32(0))
	o.Read = func(context.Context) (axdr.Data, error) {
		es := with(d, func(m *meter.Meter, now time.Time) []meter.LogEntry { return m.Events(now, meter.LogPowerQuality) })
		if len(es) == 0 {
			return axdr.Uint32(0), nil
		}
		return axdr.Uint32(uint32(es[len(es)-1].Duration / time.Millisecond)), nil
	}
	return o
}
