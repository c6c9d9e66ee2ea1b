package sim

import (
	"context"
	"errors"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
)

// Columns of the profiles a simulated meter serves.
var (
	LoadProfileColumns = []cosem.CaptureObject{
		{ClassID: cosem.ClassClock, LogicalName: ClockLN, Attribute: 2},
		{ClassID: cosem.ClassData, LogicalName: StatusLN, Attribute: 2},
		{ClassID: cosem.ClassRegister, LogicalName: ImportLN, Attribute: 2},
		{ClassID: cosem.ClassRegister, LogicalName: ExportLN, Attribute: 2},
	}
	DailyBillingColumns = billingColumns()
	EventLogColumns     = []cosem.CaptureObject{
		{ClassID: cosem.ClassClock, LogicalName: ClockLN, Attribute: 2},
		{ClassID: cosem.ClassData, LogicalName: EventCodeLN, Attribute: 2},
	}
	PowerFailureLogColumns = []cosem.CaptureObject{
		{ClassID: cosem.ClassClock, LogicalName: ClockLN, Attribute: 2},
		{ClassID: cosem.ClassData, LogicalName: DurationLN, Attribute: 2},
	}
)

func billingColumns() []cosem.CaptureObject {
	cols := []cosem.CaptureObject{
		{ClassID: cosem.ClassClock, LogicalName: ClockLN, Attribute: 2},
		{ClassID: cosem.ClassData, LogicalName: StatusLN, Attribute: 2},
		{ClassID: cosem.ClassRegister, LogicalName: ImportLN, Attribute: 2},
	}
	for _, ln := range ImportRateLN {
		cols = append(cols, cosem.CaptureObject{ClassID: cosem.ClassRegister, LogicalName: ln, Attribute: 2})
	}
	cols = append(cols, cosem.CaptureObject{ClassID: cosem.ClassRegister, LogicalName: ExportLN, Attribute: 2})
	for _, ln := range ExportRateLN {
		cols = append(cols, cosem.CaptureObject{ClassID: cosem.ClassRegister, LogicalName: ln, Attribute: 2})
	}
	return cols
}

var errRangeRefused = cosem.Errorf(cosem.ResultOtherReason, "this firmware reads profiles by entry only")

var errComputed = cosem.Errorf(cosem.ResultReadWriteDenied, "the simulated meter's profiles are computed from its model")

// span turns a selection into the meter-clock interval to compute: a range
// on the clock column narrows it; anything else takes the whole history and
// leaves the filtering to Selection.Apply.
func (d *Device) span(sel cosem.Selection) (from, to time.Time) {
	from, to = d.m.Installed(), d.cfg.Now().Add(24*time.Hour)
	if r := sel.Range; r != nil && r.RestrictingObject.LogicalName == d.clockLN {
		if t, ok := cosem.TimeOf(r.From); ok && t.After(from) {
			from = t
		}
		if t, ok := cosem.TimeOf(r.To); ok && t.Before(to) {
			to = t
		}
	}
	return from, to
}

func (d *Device) profile(ln obis.Code, cols []cosem.CaptureObject, period time.Duration, capacity uint32,
	rows func(from, to time.Time) []axdr.Data) *objects.ProfileGeneric {
	p := objects.NewProfileGeneric(ln, cols, uint32(period/time.Second), capacity, nil)
	p.Buffer = func(ctx context.Context, sel cosem.Selection) ([]axdr.Data, error) {
		if sel.Range != nil && d.cfg.Faults.Has(FaultRangeRefused) {
			return nil, errRangeRefused
		}
		from, to := d.span(sel)
		if to.Before(from) {
			return nil, nil
		}
		return sel.Apply(rows(from, to), cols)
	}
	p.EntriesInUse = func(context.Context) (uint32, error) {
		from, to := d.span(cosem.Selection{})
		return uint32(len(rows(from, to))), nil
	}
	p.Reset = func(context.Context) error { return errComputed }
	p.Capture = func(context.Context) error { return errComputed }
	return p
}

func (d *Device) loadProfile() *objects.ProfileGeneric {
	f := d.m.Fleet()
	capacity := uint32(f.HistoryDays) * uint32(24*time.Hour/f.ProfileInterval)
	return d.profile(LoadProfileLN, LoadProfileColumns, f.ProfileInterval, capacity, func(from, to time.Time) []axdr.Data {
		var es []meter.Entry
		if d.cfg.Faults.Has(FaultOffGrid) {
			iv := f.ProfileInterval
			es = with(d, func(m *meter.Meter, now time.Time) []meter.Entry {
				return m.ProfileRange(now, from.Add(-iv), to.Add(iv))
			})
			es = offGrid(es, from, to, d.zone, func(e meter.Entry) time.Time { return e.Stamp }, midEntry)
		} else {
			es = with(d, func(m *meter.Meter, now time.Time) []meter.Entry { return m.ProfileRange(now, from, to) })
		}
		rows := make([]axdr.Data, len(es))
		items := make([]axdr.Data, 4*len(es))
		for i, e := range es {
			row := items[4*i : 4*i+4 : 4*i+4]
			row[0] = d.dateTime(e.Stamp)
			row[1] = axdr.Uint8(uint8(e.Status))
			row[2] = wh(e.CumImport)
			row[3] = wh(e.CumExport)
			rows[i] = axdr.Structure(row...)
		}
		return rows
	})
}

func (d *Device) dailyBilling() *objects.ProfileGeneric {
	f := d.m.Fleet()
	n := len(DailyBillingColumns)
	return d.profile(DailyBillingLN, DailyBillingColumns, 24*time.Hour, uint32(f.HistoryDays), func(from, to time.Time) []axdr.Data {
		bs := with(d, func(m *meter.Meter, now time.Time) []meter.Billing { return m.DailyBilling(now, from, to) })
		rows := make([]axdr.Data, len(bs))
		items := make([]axdr.Data, n*len(bs))
		for i, b := range bs {
			row := items[n*i : n*i+n : n*i+n]
			row[0] = d.dateTime(b.Stamp)
			row[1] = axdr.Uint8(uint8(b.Status))
			row[2] = wh(b.Registers.Import)
			for r := range 4 {
				row[3+r] = wh(b.Registers.ImportRate[r])
				row[8+r] = wh(b.Registers.ExportRate[r])
			}
			row[7] = wh(b.Registers.Export)
			rows[i] = axdr.Structure(row...)
		}
		return rows
	})
}

func (d *Device) eventLog(ln obis.Code, l meter.Log) *objects.ProfileGeneric {
	cols := EventLogColumns
	if l == meter.LogPowerFailure {
		cols = PowerFailureLogColumns
	}
	return d.logProfile(ln, l, cols)
}

// logProfile serves log l as a profile of two columns, the clock and the
// event code (the duration in the power failure log).
func (d *Device) logProfile(ln obis.Code, l meter.Log, cols []cosem.CaptureObject) *objects.ProfileGeneric {
	return d.profile(ln, cols, 0, uint32(l.Capacity()), func(from, to time.Time) []axdr.Data {
		es := with(d, func(m *meter.Meter, now time.Time) []meter.LogEntry { return m.Events(now, l) })
		rows := make([]axdr.Data, 0, len(es))
		for _, e := range es {
			if e.Time.Before(from) || e.Time.After(to) {
				continue
			}
			v := axdr.Uint16(uint16(e.Code))
			if l == meter.LogPowerFailure {
				v = axdr.Uint32(uint32(e.Duration / time.Second))
			}
			rows = append(rows, axdr.Structure(d.dateTime(e.Time), v))
		}
		return rows
	})
}

// relay is Disconnect control (class 70) over the model's disconnector, so
// that a remote disconnect outlasts the connection and shows in the
// registers and the disconnector log.
type relay struct {
	objects.Header
	d *Device
	m *meter.Meter // a sub-meter's valve; nil: the meter's own disconnector
}

// with runs fn on the relay's model under the device's lock.
func (o *relay) with(fn func(m *meter.Meter, now time.Time)) {
	if o.m == nil {
		with(o.d, func(m *meter.Meter, now time.Time) struct{} { fn(m, now); return struct{}{} })
		return
	}
	o.d.withSub(o.m, fn)
}

func (o *relay) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	if req.Access != nil {
		return axdr.Data{}, cosem.ErrScopeOfAccessViolated
	}
	var rs [2]uint8
	o.with(func(m *meter.Meter, _ time.Time) {
		s, c := m.Relay()
		rs = [2]uint8{uint8(s), uint8(c)}
	})
	st, mode := rs[0], rs[1]
	switch req.Attribute {
	case 1:
		return cosem.LogicalNameData(o.LN), nil
	case 2:
		return axdr.Bool(meter.ControlState(st) == meter.Connected), nil
	case 3:
		return axdr.Enum(st), nil
	case 4:
		return axdr.Enum(mode), nil
	}
	return axdr.Data{}, cosem.ErrObjectUndefined
}

func (o *relay) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	if req.Attribute < 1 || req.Attribute > 4 {
		return cosem.ErrObjectUndefined
	}
	if req.Attribute == 4 && o.m == nil {
		// control_mode: a critical command, signed when the meter is
		// provisioned (the server checks that before it gets here).
		mode, ok := v.Uint()
		if v.Tag != axdr.TagEnum || !ok || mode > 6 {
			return cosem.ErrTypeUnmatched
		}
		o.with(func(m *meter.Meter, now time.Time) { _ = m.SetControlMode(now, meter.ControlMode(mode)) })
		return nil
	}
	return cosem.ErrReadWriteDenied
}

// Action performs remote_disconnect (1) and remote_reconnect (2). A trigger
// the mode allows but the state does not take succeeds without effect, as
// meters do; one the mode never allows is refused.
func (o *relay) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	var t meter.Trigger
	switch req.Method {
	case 1:
		t = meter.RemoteDisconnect
	case 2:
		t = meter.RemoteReconnect
	default:
		return axdr.Data{}, cosem.ErrObjectUndefined
	}
	var err error
	o.with(func(m *meter.Meter, now time.Time) {
		_, mode := m.Relay()
		if !mode.Allows(t) {
			err = cosem.Errorf(cosem.ResultReadWriteDenied, t.String()+" not allowed in control mode")
			return
		}
		_, err = m.Control(now, t)
		var te *meter.TransitionError
		if errors.As(err, &te) {
			err = nil
		}
	})
	return axdr.Data{}, err
}
