package iec62056driver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/iec62056"
)

type session struct {
	d    *Driver
	t    headend.Target
	c    Credentials
	mode iec62056.Mode
	conn net.Conn
	loc  *time.Location
	now  func() time.Time
	// sent is a mode D meter's readout: it sends once per connection.
	sent []iec62056.DataSet
}

func (s *session) opts() []iec62056.Option {
	o := []iec62056.Option{iec62056.WithTimeout(s.d.cfg.Timeout)}
	if s.d.cfg.MaxBaud > 0 {
		o = append(o, iec62056.WithMaxBaud(s.d.cfg.MaxBaud))
	}
	return o
}

// readout reads the data readout, or takes what a mode D meter sent.
func (s *session) readout(ctx context.Context) ([]iec62056.DataSet, time.Time, error) {
	if s.mode == iec62056.ModeD {
		if s.sent == nil {
			_, sets, err := iec62056.ReadModeD(ctx, s.conn, s.opts()...)
			if err != nil {
				return nil, time.Time{}, fmt.Errorf("meter %s: mode D readout: %w", s.t.Meter.MRID, s.d.count(err))
			}
			s.sent = sets
		}
		return s.sent, s.now(), nil
	}
	_, sets, err := iec62056.Readout(ctx, s.conn, s.c.Address, s.opts()...)
	at := s.now()
	if err != nil {
		return nil, at, fmt.Errorf("meter %s: readout: %w", s.t.Meter.MRID, s.d.count(err))
	}
	return sets, at, nil
}

// Collect implements headend.Session: the readout's registers, stamped
// with the meter's clock, and for a mode C meter the load profile P.01
// after its cursor.
func (s *session) Collect(ctx context.Context, p headend.Plan) (headend.Collection, error) {
	var col headend.Collection
	sets, readAt, err := s.readout(ctx)
	if err != nil {
		return col, err
	}
	col.Complete, col.ReadAt = true, readAt
	mt, err := clockOf(sets, s.loc)
	if err != nil {
		col.Problems = append(col.Problems, headend.ObjectProblem{Object: "0.9.1", Cause: err.Error()})
	} else {
		col.MeterTime = mt
	}
	stamp := mt
	if stamp.IsZero() {
		stamp = readAt
	}
	for _, d := range sets {
		q, ok := quantityOf(d.Address)
		if !ok {
			continue
		}
		if len(d.Values) == 0 {
			col.Problems = append(col.Problems, headend.ObjectProblem{Object: d.Address, Cause: "no value"})
			continue
		}
		v, mult, err := scaled(d.Values[0], q.unit)
		if err != nil {
			col.Problems = append(col.Problems, headend.ObjectProblem{Object: d.Address, Cause: err.Error()})
			continue
		}
		at := stamp
		if q.demand && len(d.Values) > 1 {
			// The maximum's own time, when the meter gives one.
			if t, err := time.ParseInLocation("06-01-02 15:04", d.Values[1].Value, s.loc); err == nil {
				at = t
			}
		}
		id := q.id
		if mult != 0 {
			id += "e" + strconv.Itoa(int(mult))
		}
		col.Registers = append(col.Registers, cim.Reading{MeterID: s.t.Meter.MRID, ReadingType: id, TimeStamp: at.UTC(), Value: v})
	}
	if s.mode != iec62056.ModeC {
		return col, nil // only programming mode has R5
	}
	return col, s.profile(ctx, p, &col)
}

// profileCursor is the cursor of the load profile P.01.
const profileCursor = "profile"

// profile reads the load profile P.01 after the cursor up to the plan's
// end, in programming mode, into interval blocks. A meter that answers
// the request with an error message has none: the collection is complete
// without it.
func (s *session) profile(ctx context.Context, p headend.Plan, col *headend.Collection) error {
	since := p.Since[profileCursor]
	if since.IsZero() {
		since = p.Backfill
	}
	until := p.Until
	if until.IsZero() {
		until = s.now()
	}
	if !since.Before(until) {
		return nil
	}
	col.Complete = false
	pr, err := iec62056.Program(ctx, s.conn, s.c.Address, s.opts()...)
	if err != nil {
		return fmt.Errorf("meter %s: programming mode for the profile: %w", s.t.Meter.MRID, s.d.count(err))
	}
	// A minute past the cursor: the entry at the cursor is stored already.
	var from time.Time
	if !since.IsZero() {
		from = since.Add(time.Minute)
	}
	lines, err := pr.ReadLines(ctx, iec62056.ProfileRequest("P.01", from, until, s.loc))
	if cerr := pr.Close(ctx); err == nil && cerr != nil {
		err = cerr
	}
	if errors.Is(err, iec62056.ErrMeter) {
		s.d.count(err)
		col.Problems = append(col.Problems, headend.ObjectProblem{Object: "P.01", Cause: err.Error(), Warning: true})
		col.Complete = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("meter %s: load profile: %w", s.t.Meter.MRID, s.d.count(err))
	}
	blocks, err := iec62056.ParseProfile(lines, s.loc)
	if err != nil {
		return fmt.Errorf("meter %s: load profile: %w", s.t.Meter.MRID, s.d.count(err))
	}
	byID := map[string]int{}
	last := since
	for _, b := range blocks {
		q := qualityOf(b.Status)
		for k, code := range b.Codes {
			rt, ok := intervalType(code, b.Period)
			if !ok {
				col.Problems = append(col.Problems, headend.ObjectProblem{Object: "P.01:" + code, Cause: "a channel amigo does not map"})
				continue
			}
			for r, row := range b.Rows {
				v, mult, err := scaled(iec62056.Value{Value: row[k], Unit: b.Units[k]}, rt.Unit.String())
				if err != nil || mult != 0 {
					col.Problems = append(col.Problems, headend.ObjectProblem{Object: "P.01:" + code, Cause: fmt.Sprintf("value %q %s", row[k], b.Units[k])})
					continue
				}
				i, ok := byID[rt.ID]
				if !ok {
					i = len(col.Blocks)
					byID[rt.ID] = i
					col.Blocks = append(col.Blocks, cim.IntervalBlock{MeterID: s.t.Meter.MRID, ReadingType: rt})
				}
				end := b.First.Add(time.Duration(r) * b.Period)
				col.Blocks[i].Readings = append(col.Blocks[i].Readings, cim.IntervalReading{End: end.UTC(), Value: v, Quality: q})
			}
		}
		if n := len(b.Rows); n > 0 {
			if end := b.First.Add(time.Duration(n-1) * b.Period); end.After(last) {
				last = end
			}
			// No entry can follow before until: the profile is complete.
			if !last.Add(b.Period).Before(until.Add(time.Second)) {
				col.Complete = true
			}
		}
	}
	if last.After(since) {
		col.Cursors = map[string]time.Time{profileCursor: last}
	}
	return nil
}

// intervalType maps a profile channel to its reading type: C.29, the
// energy of each period, of active and reactive energy.
func intervalType(code string, period time.Duration) (cim.ReadingType, bool) {
	c, ok := codeOf(code)
	if !ok || c[1] != 29 || c[2] != 0 {
		return cim.ReadingType{}, false
	}
	flow := map[int]cim.FlowDirection{1: cim.FlowForward, 2: cim.FlowReverse, 3: cim.FlowForward, 4: cim.FlowReverse}[c[0]]
	id := map[int]string{1: "A+", 2: "A-", 3: "R+", 4: "R-"}[c[0]]
	if id == "" {
		return cim.ReadingType{}, false
	}
	unit := cim.UnitWh
	if c[0] > 2 {
		unit = cim.UnitVArh
	}
	name := id + strconv.Itoa(int(period/time.Minute)) + "m"
	if period%time.Minute != 0 {
		name = id + strconv.Itoa(int(period/time.Second)) + "s"
	}
	return cim.ReadingType{ID: name, Commodity: cim.CommodityElectricity, MeasuredQuantity: cim.QuantityEnergy,
		FlowDirection: flow, Interval: period, Unit: unit}, true
}

// qualityOf reads the status word of a profile header as the AMR profile
// status IDIS and VDEW meters share: power down, clock adjusted, data not
// valid.
func qualityOf(status string) cim.Quality {
	n, err := strconv.ParseUint(status, 16, 32)
	if err != nil {
		return 0
	}
	var q cim.Quality
	if n&0x80 != 0 {
		q |= cim.QualityPowerDown
	}
	if n&0x20 != 0 {
		q |= cim.QualityClockAdjusted
	}
	if n&0x04 != 0 {
		q |= cim.QualityDataNotValid
	}
	return q
}

// Clock implements headend.Session.
func (s *session) Clock(ctx context.Context) (time.Time, error) {
	sets, _, err := s.readout(ctx)
	if err != nil {
		return time.Time{}, err
	}
	t, err := clockOf(sets, s.loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("meter %s: %w", s.t.Meter.MRID, s.d.count(err))
	}
	return t, nil
}

// SetClock implements headend.Session: in programming mode, after the P1
// password, W1 of the date (0.9.2) and then of the time (0.9.1), to the
// second, in the usage point's zone. Only mode C meters have the mode.
func (s *session) SetClock(ctx context.Context, t time.Time) error {
	if s.mode != iec62056.ModeC {
		return fmt.Errorf("meter %s: %w: setting the clock needs programming mode, which amigo reaches in mode C (this meter: %s)", s.t.Meter.MRID, headend.ErrUnsupported, s.mode)
	}
	if s.c.Password == "" {
		return fmt.Errorf("meter %s: %w: no P1 password in the manifest", s.t.Meter.MRID, headend.ErrUnsupported)
	}
	p, err := iec62056.Program(ctx, s.conn, s.c.Address, s.opts()...)
	if err != nil {
		return fmt.Errorf("meter %s: programming mode: %w", s.t.Meter.MRID, s.d.count(err))
	}
	defer p.Close(ctx)
	if err := p.Password(ctx, '1', s.c.Password); err != nil {
		return fmt.Errorf("meter %s: %w", s.t.Meter.MRID, s.d.count(err))
	}
	lt := t.Round(time.Second).In(s.loc) // the meter keeps whole seconds
	if err := p.Write(ctx, "0.9.2", iec62056.Value{Value: lt.Format("06-01-02")}); err != nil {
		return fmt.Errorf("meter %s: set date: %w", s.t.Meter.MRID, s.d.count(err))
	}
	if err := p.Write(ctx, "0.9.1", iec62056.Value{Value: lt.Format("15:04:05")}); err != nil {
		return fmt.Errorf("meter %s: set time: %w", s.t.Meter.MRID, s.d.count(err))
	}
	return nil
}

// Execute implements headend.Session: readout meters take no commands.
func (s *session) Execute(_ context.Context, c cim.EndDeviceControl) (string, error) {
	return "", fmt.Errorf("meter %s: %w: IEC 62056-21 readout meters take no %v command", s.t.Meter.MRID, headend.ErrUnsupported, c.Type)
}

// Close implements headend.Session.
func (s *session) Close(context.Context) error { return s.conn.Close() }

// clockOf reads the meter's clock from its time (0.9.1, hh:mm:ss) and
// date (0.9.2, YY-MM-DD), in the meter's zone.
func clockOf(sets []iec62056.DataSet, loc *time.Location) (time.Time, error) {
	var hms, ymd string
	for _, d := range sets {
		if len(d.Values) == 0 {
			continue
		}
		switch c, _ := codeOf(d.Address); c {
		case [3]int{0, 9, 1}:
			hms = d.Values[0].Value
		case [3]int{0, 9, 2}:
			ymd = d.Values[0].Value
		}
	}
	if hms == "" || ymd == "" {
		return time.Time{}, errors.New("the readout has no time (0.9.1) and date (0.9.2)")
	}
	t, err := time.ParseInLocation("06-01-02 15:04:05", ymd+" "+hms, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: clock %q %q", iec62056.ErrSyntax, ymd, hms)
	}
	return t, nil
}

// quantity is what a readout address measures and the reading type id it
// is stored under.
type quantity struct {
	id     string
	unit   string // the base unit values are scaled to: Wh, varh, W, var
	demand bool
}

// codeOf reads the C.D.E groups of an address in any of the usual forms:
// "1.8.0", "1.8.0*01" (a billing period), "1-0:1.8.0*255". ok is false
// for a billing period's value and for what is not a code.
func codeOf(addr string) ([3]int, bool) {
	if _, rest, found := strings.Cut(addr, ":"); found {
		addr = rest
	}
	addr, f, hasF := strings.Cut(addr, "*")
	if !hasF {
		addr, f, hasF = strings.Cut(addr, "&")
	}
	if hasF && f != "255" {
		return [3]int{}, false
	}
	parts := strings.Split(addr, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return [3]int{}, false
	}
	var c [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 {
			return [3]int{}, false
		}
		c[i] = n
	}
	return c, true
}

// quantityOf maps an address to the DLMS driver's reading type ids
// (IEC 62056-6-1 value groups C, D and E): energy registers (D = 8) and
// maximum demand (D = 6) of active and reactive energy, per rate E.
func quantityOf(addr string) (quantity, bool) {
	c, ok := codeOf(addr)
	if !ok {
		return quantity{}, false
	}
	base := map[int]string{1: "A+", 2: "A-", 3: "R+", 4: "R-"}[c[0]]
	if base == "" || c[2] > 9 {
		return quantity{}, false
	}
	rate := ""
	if c[2] > 0 {
		rate = "T" + strconv.Itoa(c[2])
	}
	energy, power := "Wh", "W"
	if c[0] > 2 {
		energy, power = "varh", "var"
	}
	switch c[1] {
	case 8:
		return quantity{id: base + rate, unit: energy}, true
	case 6:
		id := "MD" + base[1:]
		if c[0] > 2 {
			id = "MD" + base
		}
		return quantity{id: id + rate, unit: power, demand: true}, true
	}
	return quantity{}, false
}

// scaled turns a decimal value with a unit into an integer in base units
// times 10^mult: "001234.567" kWh is 1234567 Wh, exactly; a value with
// more decimals than the unit's prefix absorbs keeps them in mult.
func scaled(v iec62056.Value, base string) (int64, int8, error) {
	shift := 0
	switch strings.ToLower(v.Unit) {
	case strings.ToLower(base):
	case "k" + strings.ToLower(base):
		shift = 3
	case "m" + strings.ToLower(base):
		if v.Unit[0] == 'M' {
			shift = 6
		} else {
			return 0, 0, fmt.Errorf("unit %q, want %s", v.Unit, base)
		}
	case "":
		return 0, 0, fmt.Errorf("no unit, want %s or k%s", base, base)
	default:
		return 0, 0, fmt.Errorf("unit %q, want %s or k%s", v.Unit, base, base)
	}
	s := strings.TrimSpace(v.Value)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	i, frac, _ := strings.Cut(s, ".")
	if i == "" && frac == "" {
		return 0, 0, fmt.Errorf("value %q is not a number", v.Value)
	}
	exp := shift - len(frac)
	digits := i + frac
	for exp > 0 {
		digits += "0"
		exp--
	}
	n, err := strconv.ParseUint(digits, 10, 63)
	if err != nil {
		return 0, 0, fmt.Errorf("value %q is not a number amigo keeps exactly", v.Value)
	}
	out := int64(n)
	if neg {
		out = -out
	}
	return out, int8(exp), nil
}
