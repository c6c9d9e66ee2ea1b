package dlmsdriver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/obis"
	"github.com/amigo-ami/amigo/store"
)

// Logical names the driver reads (IDIS / DSMR conventions).
var (
	clockLN        = obis.Code{0, 0, 1, 0, 0, 255}
	serialLN       = obis.Code{0, 0, 96, 1, 0, 255}
	statusLN       = obis.Code{0, 0, 96, 10, 1, 255}
	loadProfileLN  = obis.Code{1, 0, 99, 1, 0, 255}
	billingLN      = obis.Code{0, 0, 98, 1, 0, 255}
	disconnectLN   = obis.Code{0, 0, 96, 3, 10, 255}
	maxDemandLN    = obis.Code{1, 0, 1, 6, 0, 255}
	importLN       = obis.Code{1, 0, 1, 8, 0, 255}
	exportLN       = obis.Code{1, 0, 2, 8, 0, 255}
	calendarLN     = obis.Code{0, 0, 13, 0, 0, 255}
	eventLogs      = []obis.Code{{0, 0, 99, 98, 0, 255}, {0, 0, 99, 98, 1, 255}, {0, 0, 99, 98, 2, 255}, {0, 0, 99, 98, 4, 255}, {1, 0, 99, 97, 0, 255}}
	powerFailureLN = obis.Code{1, 0, 99, 97, 0, 255}
)

// registerIDs names the energy registers by reading type id.
var registerIDs = func() map[obis.Code]string {
	m := map[obis.Code]string{importLN: "A+", exportLN: "A-", {1, 0, 3, 8, 0, 255}: "R+", {1, 0, 4, 8, 0, 255}: "R-"}
	for r := byte(1); r <= 4; r++ {
		m[obis.Code{1, 0, 1, 8, r, 255}] = "A+T" + strconv.Itoa(int(r))
		m[obis.Code{1, 0, 2, 8, r, 255}] = "A-T" + strconv.Itoa(int(r))
	}
	return m
}()

// registerOrder is the order registers are read in.
var registerOrder = func() []obis.Code {
	out := make([]obis.Code, 0, len(registerIDs))
	for c := range registerIDs {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b obis.Code) int { return slices.Compare(a[:], b[:]) })
	return out
}()

func cursorName(kind string, ln obis.Code) string { return kind + ":" + ln.String() }

// timeOf reads a date-time value; a meter that does not state its offset
// is taken to run on the usage point's local time.
func (s *session) timeOf(d axdr.Data) (time.Time, bool) {
	dt, ok := d.DateTime()
	if !ok {
		return time.Time{}, false
	}
	t, err := dt.TimeIn(s.loc)
	return t, err == nil
}

// Clock implements headend.Session.
func (s *session) Clock(ctx context.Context) (time.Time, error) {
	d, err := s.c.Get(ctx, dlms.Attr{Class: cosem.ClassClock, OBIS: clockLN, Attribute: 2}, nil)
	if err != nil {
		return time.Time{}, err
	}
	t, ok := s.timeOf(d)
	if !ok {
		return time.Time{}, fmt.Errorf("meter %s: clock value %s is not a date-time", s.t.Meter.MRID, d)
	}
	return t, nil
}

// SetClock implements headend.Session.
func (s *session) SetClock(ctx context.Context, t time.Time) error {
	t = t.In(s.loc)
	var st axdr.ClockStatus
	if t.IsDST() {
		st = axdr.StatusDaylightSaving
	}
	return s.c.Set(ctx, dlms.Attr{Class: cosem.ClassClock, OBIS: clockLN, Attribute: 2}, cosem.DateTimeData(t, st))
}

// Collect implements headend.Session. A daily read is three exchanges
// after the association: the clock, registers and profile period in one
// GET with list; then, from the meter's time, the load profile; then the
// billing profile and the event logs in another list. Fewer round trips
// matter more than bytes on the narrow, high-latency links meters sit on.
func (s *session) Collect(ctx context.Context, p headend.Plan) (headend.Collection, error) {
	var col headend.Collection
	readAt := s.now()
	mt, period, err := s.registers(ctx, &col)
	if err != nil {
		return col, err
	}
	col.MeterTime, col.ReadAt = mt, readAt
	// Read up to the meter's own idea of now: its entries are stamped by
	// its clock.
	to := mt.Add(time.Minute)
	if err := s.prefetch(ctx, p, to, []obis.Code{loadProfileLN}); err != nil {
		return col, err
	}
	if err := s.profile(ctx, p, to, period, &col); err != nil {
		return col, err
	}
	if err := s.prefetch(ctx, p, to, append([]obis.Code{billingLN}, eventLogs...)); err != nil {
		return col, err
	}
	if err := s.billing(ctx, p, to, &col); err != nil {
		return col, err
	}
	for _, ln := range eventLogs {
		if err := s.events(ctx, ln, p, to, &col); err != nil {
			return col, err
		}
	}
	return col, nil
}

// cursorOf names the cursor a profile is read from.
func cursorOf(ln obis.Code) string {
	switch {
	case ln == loadProfileLN:
		return cursorName("profile", ln)
	case ln == billingLN:
		return cursorName("billing", ln)
	}
	return cursorName("events", ln)
}

// prefetch reads the profiles lns from their cursors to `to` in one
// exchange, for readRange to hand out. A load profile span longer than a
// chunk and a half is left to readRange, so a long catch-up still arrives
// in bounded answers; the billing profile and the event logs are small
// FIFOs whose whole buffer is a bounded answer.
func (s *session) prefetch(ctx context.Context, p headend.Plan, to time.Time, lns []obis.Code) error {
	var ranges []dlms.ProfileRange
	for _, ln := range lns {
		from, _ := since(p, cursorOf(ln))
		if ln != loadProfileLN || to.Sub(from) <= s.d.cfg.ProfileChunk*3/2 {
			ranges = append(ranges, dlms.ProfileRange{LN: ln, From: from.In(s.loc), To: to.In(s.loc)})
		}
	}
	if len(ranges) == 0 {
		return nil
	}
	got, err := s.c.ReadProfiles(ctx, ranges)
	if err != nil {
		return err
	}
	if s.fetched == nil {
		s.fetched = map[obis.Code]dlms.Profile{}
	}
	for i, r := range ranges {
		s.fetched[r.LN] = got[i]
	}
	return nil
}

func since(p headend.Plan, name string) (time.Time, bool) {
	if t, ok := p.Since[name]; ok && !t.IsZero() {
		return t, true
	}
	return p.Backfill, false
}

// readRange reads a profile in chunks from `from` to `to`, both inclusive,
// without repeating the entry at a chunk boundary. What prefetch read is
// handed out once instead.
func (s *session) readRange(ctx context.Context, ln obis.Code, from, to time.Time) ([]axdr.Data, []cosem.CaptureObject, error) {
	if f, ok := s.fetched[ln]; ok {
		delete(s.fetched, ln)
		return f.Rows, f.Columns, f.Err
	}
	var rows []axdr.Data
	var cols []cosem.CaptureObject
	for a := from; !a.After(to); {
		b := a.Add(s.d.cfg.ProfileChunk)
		if to.Sub(b) < s.d.cfg.ProfileChunk/2 {
			b = to // no request for a short tail
		}
		rs, cs, err := s.c.ReadProfile(ctx, ln, a.In(s.loc), b.In(s.loc))
		if err != nil {
			return nil, nil, err
		}
		cols = cs
		rows = append(rows, rs...)
		if !b.Before(to) {
			break
		}
		a = b.Add(time.Second)
	}
	return rows, cols, nil
}

// column finds a capture object by logical name (and class when given).
func column(cols []cosem.CaptureObject, ln obis.Code, class uint16) int {
	for i, c := range cols {
		if c.LogicalName == ln && (class == 0 || c.ClassID == class) {
			return i
		}
	}
	return -1
}

type entry struct {
	at     time.Time
	status uint64
	imp    uint64
	exp    uint64
	hasExp bool
}

// profile reads the load profile from its cursor and turns the cumulative
// registers it captures into interval values. The entry at the cursor is
// read again as the base of the first interval; a first read starts at the
// backfill point, whose entry is the base.
func (s *session) profile(ctx context.Context, p headend.Plan, to time.Time, period time.Duration, col *headend.Collection) error {
	name := cursorOf(loadProfileLN)
	from, _ := since(p, name)
	rows, cols, err := s.readRange(ctx, loadProfileLN, from, to)
	if err != nil {
		return err
	}
	ci, si := column(cols, clockLN, cosem.ClassClock), column(cols, statusLN, 0)
	ii, ei := column(cols, importLN, 0), column(cols, exportLN, 0)
	if ci < 0 || ii < 0 {
		return fmt.Errorf("meter %s: load profile has no clock or A+ column (capture objects %v): %w", s.t.Meter.MRID, cols, dlms.ErrProtocol)
	}
	var es []entry
	for _, r := range rows {
		if len(r.Items) != len(cols) {
			return fmt.Errorf("meter %s: load profile entry with %d values for %d columns: %w", s.t.Meter.MRID, len(r.Items), len(cols), dlms.ErrProtocol)
		}
		at, ok := s.timeOf(r.Items[ci])
		if !ok {
			continue // an entry without a valid stamp cannot be placed
		}
		e := entry{at: at}
		if e.imp, ok = r.Items[ii].Uint(); !ok {
			continue
		}
		if si >= 0 {
			e.status, _ = r.Items[si].Uint()
		}
		if ei >= 0 {
			e.exp, e.hasExp = r.Items[ei].Uint()
		}
		es = append(es, e)
	}
	slices.SortStableFunc(es, func(a, b entry) int { return a.at.Compare(b.at) })
	es = slices.CompactFunc(es, func(a, b entry) bool { return a.at.Equal(b.at) })
	if period <= 0 {
		period = spacing(es)
	}
	imp := cim.IntervalBlock{MeterID: s.t.Meter.MRID, ReadingType: readingType(cim.EnergyImport15m, "A+", period)}
	exp := cim.IntervalBlock{MeterID: s.t.Meter.MRID, ReadingType: readingType(cim.EnergyExport15m, "A-", period)}
	for i := 1; i < len(es); i++ {
		a, b := es[i-1], es[i]
		q := quality(b.status)
		if b.at.Sub(a.at) != period {
			q |= cim.QualityPartial // spans a gap: the meter missed entries
		}
		v, ov := delta(a.imp, b.imp)
		imp.Readings = append(imp.Readings, cim.IntervalReading{End: b.at.UTC(), Value: v, Quality: q | ov})
		if a.hasExp && b.hasExp {
			v, ov := delta(a.exp, b.exp)
			exp.Readings = append(exp.Readings, cim.IntervalReading{End: b.at.UTC(), Value: v, Quality: q | ov})
		}
	}
	if len(imp.Readings) > 0 {
		col.Blocks = append(col.Blocks, imp)
	}
	if len(exp.Readings) > 0 {
		col.Blocks = append(col.Blocks, exp)
	}
	if len(es) > 0 {
		last := es[len(es)-1].at
		col.Cursors = append(col.Cursors, store.Cursor{MeterID: s.t.Meter.MRID, Name: name, At: last.UTC()})
		col.Complete = !last.Before(p.Until.Add(-period))
	}
	return nil
}

// spacing is the period of a profile whose capture period is not known:
// the spacing of its first entries, else 15 minutes.
func spacing(es []entry) time.Duration {
	if len(es) > 1 {
		return es[1].at.Sub(es[0].at)
	}
	return 15 * time.Minute
}

func readingType(base cim.ReadingType, prefix string, period time.Duration) cim.ReadingType {
	if period == base.Interval {
		return base
	}
	rt := base
	rt.Interval = period
	rt.ID = prefix + strconv.Itoa(int(period/time.Minute)) + "m"
	return rt
}

// delta is b−a for a register that rolls over at 2^32 (the usual
// double-long-unsigned); a rollover is flagged.
func delta(a, b uint64) (int64, cim.Quality) {
	if b >= a {
		return int64(b - a), 0
	}
	if a <= math.MaxUint32 && b <= math.MaxUint32 {
		return int64(b + (1 << 32) - a), cim.QualityOverflow
	}
	return int64(b) - int64(a), cim.QualitySuspect
}

// quality maps the profile status byte (IDIS/DSMR bits) to reading quality.
func quality(st uint64) cim.Quality {
	var q cim.Quality
	if st&0x80 != 0 {
		q |= cim.QualityPowerDown
	}
	if st&0x20 != 0 {
		q |= cim.QualityClockAdjusted
	}
	if st&0x04 != 0 || st&0x02 != 0 || st&0x01 != 0 {
		q |= cim.QualityDataNotValid
	}
	return q
}

// registers reads, in one GET with list, the clock, the energy
// registers, the maximum demand and the load profile's capture period. It
// returns the meter's time and the period (0 when the meter does not say).
func (s *session) registers(ctx context.Context, col *headend.Collection) (time.Time, time.Duration, error) {
	attrs := make([]dlms.Attr, 0, 2*len(registerOrder)+5)
	attrs = append(attrs, dlms.Attr{Class: cosem.ClassClock, OBIS: clockLN, Attribute: 2},
		dlms.Attr{Class: cosem.ClassProfileGeneric, OBIS: loadProfileLN, Attribute: 4},
		dlms.Attr{Class: cosem.ClassExtendedRegister, OBIS: maxDemandLN, Attribute: 2},
		dlms.Attr{Class: cosem.ClassExtendedRegister, OBIS: maxDemandLN, Attribute: 3},
		dlms.Attr{Class: cosem.ClassExtendedRegister, OBIS: maxDemandLN, Attribute: 5})
	const first = 5 // where the energy registers start
	for _, ln := range registerOrder {
		attrs = append(attrs, dlms.Attr{Class: cosem.ClassRegister, OBIS: ln, Attribute: 2}, dlms.Attr{Class: cosem.ClassRegister, OBIS: ln, Attribute: 3})
	}
	res, err := s.c.GetList(ctx, attrs)
	if err != nil {
		return time.Time{}, 0, err
	}
	if res[0].Err != nil {
		return time.Time{}, 0, res[0].Err
	}
	mt, ok := s.timeOf(res[0].Data)
	if !ok {
		return time.Time{}, 0, fmt.Errorf("meter %s: clock value %s is not a date-time", s.t.Meter.MRID, res[0].Data)
	}
	var period time.Duration
	if res[1].Err == nil {
		if v, ok := res[1].Data.Uint(); ok && v > 0 && v <= 86400 {
			period = time.Duration(v) * time.Second
		}
	}
	for i, ln := range registerOrder {
		v, su := res[first+2*i], res[first+2*i+1]
		if v.Err != nil {
			if errors.Is(v.Err, dlms.ErrObjectUndefined) {
				continue // a meter without this register
			}
			return time.Time{}, 0, v.Err
		}
		val, ok := scaled(v.Data, su)
		if !ok {
			continue
		}
		col.Registers = append(col.Registers, cim.Reading{MeterID: s.t.Meter.MRID, ReadingType: registerIDs[ln], TimeStamp: mt.UTC(), Value: val})
	}
	if md := res[2:5]; md[0].Err == nil {
		if val, ok := scaled(md[0].Data, md[1]); ok {
			at := mt
			if md[2].Err == nil {
				if t, ok := s.timeOf(md[2].Data); ok {
					at = t
				}
			}
			col.Registers = append(col.Registers, cim.Reading{MeterID: s.t.Meter.MRID, ReadingType: "MD+", TimeStamp: at.UTC(), Value: val})
		}
	}
	return mt, period, nil
}

// scaled applies a register's scaler, keeping integer Wh (or W, varh).
func scaled(v axdr.Data, su dlms.Result) (int64, bool) {
	n, ok := v.Int()
	if !ok {
		return 0, false
	}
	if su.Err != nil {
		return n, true
	}
	p, err := axdr.ParseScalerUnit(su.Data)
	if err != nil {
		return n, true
	}
	for s := p.Scaler; s > 0; s-- {
		n *= 10
	}
	for s := p.Scaler; s < 0; s++ {
		n /= 10
	}
	return n, true
}

// billing reads the daily billing profile's new entries as register reads.
func (s *session) billing(ctx context.Context, p headend.Plan, to time.Time, col *headend.Collection) error {
	name := cursorOf(billingLN)
	from, had := since(p, name)
	rows, cols, err := s.readRange(ctx, billingLN, from, to)
	if errors.Is(err, dlms.ErrObjectUndefined) {
		return nil
	}
	if err != nil {
		return err
	}
	ci := column(cols, clockLN, cosem.ClassClock)
	if ci < 0 {
		return nil
	}
	last := time.Time{}
	for _, r := range rows {
		if len(r.Items) != len(cols) {
			continue
		}
		at, ok := s.timeOf(r.Items[ci])
		if !ok || (had && !at.After(from)) {
			continue
		}
		for i, c := range cols {
			id, ok := registerIDs[c.LogicalName]
			if !ok {
				continue
			}
			if v, ok := r.Items[i].Int(); ok {
				col.Registers = append(col.Registers, cim.Reading{MeterID: s.t.Meter.MRID, ReadingType: id + "/billing", TimeStamp: at.UTC(), Value: v})
			}
		}
		if at.After(last) {
			last = at
		}
	}
	if !last.IsZero() {
		col.Cursors = append(col.Cursors, store.Cursor{MeterID: s.t.Meter.MRID, Name: name, At: last.UTC()})
	}
	return nil
}

// events reads one event log's entries from its cursor. Entries at the
// cursor's second are read again: their mRIDs make that harmless, and two
// events in one second are not lost.
func (s *session) events(ctx context.Context, ln obis.Code, p headend.Plan, to time.Time, col *headend.Collection) error {
	name := cursorOf(ln)
	from, _ := since(p, name)
	rows, cols, err := s.readRange(ctx, ln, from, to)
	if errors.Is(err, dlms.ErrObjectUndefined) {
		return nil // the meter has no such log
	}
	if err != nil {
		return err
	}
	ci := column(cols, clockLN, cosem.ClassClock)
	if ci < 0 || len(cols) < 2 {
		return nil
	}
	vi := 1
	if ci == 1 {
		vi = 0
	}
	last := time.Time{}
	for _, r := range rows {
		if len(r.Items) != len(cols) {
			continue
		}
		at, ok := s.timeOf(r.Items[ci])
		if !ok {
			continue
		}
		v, _ := r.Items[vi].Uint()
		col.Events = append(col.Events, event(s.t.Meter.MRID, ln, at, v))
		if at.After(last) {
			last = at
		}
	}
	if !last.IsZero() {
		col.Cursors = append(col.Cursors, store.Cursor{MeterID: s.t.Meter.MRID, Name: name, At: last.UTC()})
	}
	return nil
}
