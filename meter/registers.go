package meter

import (
	"time"

	"github.com/amigo-ami/amigo/loadshape"
)

// Registers are the cumulative energy registers of a meter at an instant.
// For gas and water meters Import holds the volume in litres (dm³), rated
// like electricity; the other fields stay zero.
type Registers struct {
	Import     int64    // A+ Wh, 1.8.0
	ImportRate [4]int64 // 1.8.1 .. 1.8.4
	Export     int64    // A- Wh, 2.8.0
	ExportRate [4]int64 // 2.8.1 .. 2.8.4
	ImportVarh int64    // R+ varh, 3.8.0
	ExportVarh int64    // R- varh, 4.8.0
}

func (r *Registers) add(rate int, e loadshape.Energy) {
	r.Import += e.ImportWh
	r.ImportRate[rate-1] += e.ImportWh
	r.Export += e.ExportWh
	r.ExportRate[rate-1] += e.ExportWh
	r.ImportVarh += e.ImportVarh
	r.ExportVarh += e.ExportVarh
}

// Sub returns r-o field by field: the consumption between two readings.
func (r Registers) Sub(o Registers) Registers {
	d := Registers{Import: r.Import - o.Import, Export: r.Export - o.Export, ImportVarh: r.ImportVarh - o.ImportVarh, ExportVarh: r.ExportVarh - o.ExportVarh}
	for i := range d.ImportRate {
		d.ImportRate[i] = r.ImportRate[i] - o.ImportRate[i]
		d.ExportRate[i] = r.ExportRate[i] - o.ExportRate[i]
	}
	return d
}

// Add returns r+o field by field.
func (r Registers) Add(o Registers) Registers {
	d := Registers{Import: r.Import + o.Import, Export: r.Export + o.Export, ImportVarh: r.ImportVarh + o.ImportVarh, ExportVarh: r.ExportVarh + o.ExportVarh}
	for i := range d.ImportRate {
		d.ImportRate[i] = r.ImportRate[i] + o.ImportRate[i]
		d.ExportRate[i] = r.ExportRate[i] + o.ExportRate[i]
	}
	return d
}

// dayTot is one local day's register increase. Daily values fit in int32
// (2 GWh a day per rate).
type dayTot struct {
	day        int64 // civil day + 1; 0 marks an empty slot
	imp, exp   [4]int32
	rimp, rexp int32
}

func (d *dayTot) regs() Registers {
	var r Registers
	for i := 0; i < 4; i++ {
		r.ImportRate[i] = int64(d.imp[i])
		r.ExportRate[i] = int64(d.exp[i])
		r.Import += int64(d.imp[i])
		r.Export += int64(d.exp[i])
	}
	r.ImportVarh, r.ExportVarh = int64(d.rimp), int64(d.rexp)
	return r
}

// regCache makes registers O(days) from a cold start and O(1) amortised
// when "now" moves forward: a checkpoint (registers at a local midnight)
// that follows the latest query, plus a ring of day totals for the
// history window so profile and billing reads do not recompute steps.
type regCache struct {
	ckDay  int64
	ckRegs Registers
	ring   []dayTot
}

func (m *Meter) initial() Registers {
	var r Registers
	h := m.r(0, saltInitial)
	switch {
	case m.kind.Electric():
		r.Import = int64(h % 40_000_000) // up to 40 MWh since manufacture
		if m.arch.HasPV() {
			r.Export = int64((h >> 20) % 15_000_000)
		}
		r.ImportVarh = r.Import * 3 / 10
		r.ExportVarh = r.Export / 10
	default:
		r.Import = int64(h % 20_000_000) // up to 20,000 m³
	}
	// Split over the rates, keeping the sum exact.
	s := m.r(0, saltInitialSplit)
	split := func(total int64, out *[4]int64) {
		rest := total
		for i := 0; i < 3; i++ {
			share := int64(s>>(i*16)&0xffff) % 400 // permille, at most 40% each
			out[i] = total * share / 1000
			rest -= out[i]
		}
		out[3] = rest
	}
	split(r.Import, &r.ImportRate)
	split(r.Export, &r.ExportRate)
	return r
}

// rawStep is the model's energy for the step starting at s (unix seconds,
// step-aligned), before outages, relay and theft.
func (m *Meter) rawStep(s int64) loadshape.Energy {
	t := time.Unix(s, 0).In(m.f.Location)
	switch m.kind {
	case Gas:
		return loadshape.Energy{ImportWh: loadshape.Volume(m.f.Seed, m.id, loadshape.Gas, t, loadshape.Step)}
	case Water:
		return loadshape.Energy{ImportWh: loadshape.Volume(m.f.Seed, m.id, loadshape.Water, t, loadshape.Step)}
	}
	return m.respondStep(s, loadshape.Interval(m.f.Seed, m.id, m.arch, t, loadshape.Step))
}

func (m *Meter) tariff() *Tariff {
	if m.st != nil && m.st.tariff != nil {
		return m.st.tariff
	}
	return m.f.Tariff
}

// rateAt is the TOU rate of the step starting at s: the rate in force at
// the step's start (switch times are whole quarter-hours).
func (m *Meter) rateAt(s int64) int {
	t := m.tariff()
	if t == nil {
		return 1
	}
	return t.Rate(time.Unix(s, 0).In(m.f.Location))
}

// offList gathers the spans in which the meter registers nothing (power
// cut, relay or valve open) overlapping a window, so per-step lookups do
// not rehash the schedule.
type offList struct {
	from, to int64
	n        int
	buf      [8]period
	more     []period
}

func (o *offList) list() []period {
	if o.more != nil {
		return o.more
	}
	return o.buf[:o.n]
}

func (m *Meter) fillOff(o *offList, from, to int64) {
	o.from, o.to, o.n, o.more = from, to, 0, nil
	add := func(p period) {
		if o.more == nil && o.n < len(o.buf) {
			o.buf[o.n] = p
			o.n++
			return
		}
		if o.more == nil {
			o.more = append([]period(nil), o.buf[:o.n]...)
		}
		o.more = append(o.more, p)
	}
	m.eachOutage(from, to, add)
	if m.st != nil {
		for _, p := range m.st.relay.off {
			if p.to > from && p.from < to {
				add(p)
			}
		}
	}
}

// offSeconds returns how much of [s, e) the union of spans covers.
func offSeconds(spans []period, s, e int64) int64 {
	var covered int64
	cur := s
	// Spans are few; sweep repeatedly from the left for the union.
	for cur < e {
		next := int64(-1)
		reach := cur
		for _, p := range spans {
			if p.from <= cur && p.to > reach {
				reach = p.to
			}
			if p.from > cur && p.from < e && (next < 0 || p.from < next) {
				next = p.from
			}
		}
		if reach > cur {
			end := min(reach, e)
			covered += end - cur
			cur = end
			continue
		}
		if next < 0 {
			break
		}
		cur = next
	}
	return covered
}

// step returns the rate and registered energy of the step starting at s.
func (m *Meter) step(s int64, off *offList, mf *MeterFaults) (int, loadshape.Energy) {
	rate, e, _ := m.stepDetail(s, s+stepSec, off, mf)
	return rate, e
}

// stepDetail returns the rate, the energy registered in [s, upTo) of the
// step starting at s (upTo <= s+stepSec), and the raw model energy of the
// whole step. The meter registers only while powered with the relay
// closed, at the model's rate, so a cut mid-step stops the registers at
// the cut rather than smearing the step's energy over it.
func (m *Meter) stepDetail(s, upTo int64, off *offList, mf *MeterFaults) (int, loadshape.Energy, loadshape.Energy) {
	if s < m.f.install {
		return 1, loadshape.Energy{}, loadshape.Energy{}
	}
	if s < off.from || s+stepSec > off.to {
		day := floorDiv(s, 86400) * 86400
		m.fillOff(off, day, day+86400)
	}
	raw := m.rawStep(s)
	on := (upTo - s) - offSeconds(off.list(), s, upTo)
	e := raw
	if on < stepSec {
		e = raw.Scale(on, stepSec)
	}
	if pm := m.theftAt(s, mf); pm > 0 {
		// The bypass carries part of the load current; exported PV power
		// still flows through the meter.
		e.ImportWh -= e.ImportWh * pm / 1000
		e.ImportVarh -= e.ImportVarh * pm / 1000
	}
	return m.rateAt(s), e, raw
}

// dayTotal returns the registered increase over local day d.
func (m *Meter) dayTotal(d int64, off *offList, mf *MeterFaults) Registers {
	c := m.cache()
	n := int64(len(c.ring))
	slot := &c.ring[((d%n)+n)%n]
	if slot.day == d+1 {
		return slot.regs()
	}
	var r Registers
	lo, hi := midnight(d, m.f.Location), midnight(d+1, m.f.Location)
	for s := lo; s < hi; s += stepSec {
		rate, e := m.step(s, off, mf)
		r.add(rate, e)
	}
	*slot = dayTot{day: d + 1, rimp: int32(r.ImportVarh), rexp: int32(r.ExportVarh)}
	for i := 0; i < 4; i++ {
		slot.imp[i] = int32(r.ImportRate[i])
		slot.exp[i] = int32(r.ExportRate[i])
	}
	return r
}

func (m *Meter) cache() *regCache {
	s := m.s()
	if s.cache == nil {
		n := m.f.HistoryDays + 8
		s.cache = &regCache{ckDay: m.f.installDay, ckRegs: m.initial(), ring: make([]dayTot, n)}
	}
	return s.cache
}

// atMidnight returns the registers at the start of local day d.
func (m *Meter) atMidnight(d int64, off *offList, mf *MeterFaults) Registers {
	if d <= m.f.installDay {
		return m.initial()
	}
	c := m.cache()
	if d >= c.ckDay {
		for c.ckDay < d {
			c.ckRegs = c.ckRegs.Add(m.dayTotal(c.ckDay, off, mf))
			c.ckDay++
		}
		return c.ckRegs
	}
	// Behind the checkpoint: walk from whichever end is nearer.
	if d-m.f.installDay < c.ckDay-d {
		r := m.initial()
		for k := m.f.installDay; k < d; k++ {
			r = r.Add(m.dayTotal(k, off, mf))
		}
		return r
	}
	r := c.ckRegs
	for k := c.ckDay - 1; k >= d; k-- {
		r = r.Sub(m.dayTotal(k, off, mf))
	}
	return r
}

// invalidateFrom must run before any state change that alters what the
// meter registers from true time t on: it rolls the checkpoint back with
// the old totals and forgets cached days from t's day.
func (m *Meter) invalidateFrom(t int64) {
	if m.st == nil || m.st.cache == nil {
		if m.st != nil && m.st.md != nil {
			m.st.md.rewind(t)
		}
		return
	}
	c := m.st.cache
	d := dayOf(t, m.f.Location)
	if c.ckDay > d {
		var off offList
		mf := m.Faults()
		for c.ckDay > d && c.ckDay > m.f.installDay {
			c.ckDay--
			c.ckRegs = c.ckRegs.Sub(m.dayTotal(c.ckDay, &off, &mf))
		}
	}
	for i := range c.ring {
		if c.ring[i].day != 0 && c.ring[i].day-1 >= d {
			c.ring[i] = dayTot{}
		}
	}
	if m.st.md != nil {
		m.st.md.rewind(t)
	}
}

// cursor walks forward over steps carrying the registers, so a profile
// read costs one step evaluation per step, and whole cached days at once.
type cursor struct {
	m            *Meter
	s            int64     // start of the current step
	regs         Registers // registers at s
	day          int64     // local day containing s
	dayLo, dayHi int64     // its midnights
	off          offList
	mf           MeterFaults
	cur          loadshape.Energy // registered energy of the step at s
	rate         int
	have         bool
}

// initCursor positions c (usually on the caller's stack) at t.
func (m *Meter) initCursor(c *cursor, t int64) {
	*c = cursor{m: m, mf: m.Faults()}
	c.seek(t)
}

func (c *cursor) setDay(d int64) {
	c.day = d
	c.dayLo = midnight(d, c.m.f.Location)
	c.dayHi = midnight(d+1, c.m.f.Location)
}

// seek positions the cursor on the step containing t.
func (c *cursor) seek(t int64) {
	c.setDay(dayOf(t, c.m.f.Location))
	c.s = c.dayLo
	c.regs = c.m.atMidnight(c.day, &c.off, &c.mf)
	c.have = false
	c.advance(t)
}

// advance moves to the step containing t (t >= c.s).
func (c *cursor) advance(t int64) {
	for c.s+stepSec <= t {
		if c.s == c.dayLo && c.dayHi <= t {
			c.regs = c.regs.Add(c.m.dayTotal(c.day, &c.off, &c.mf))
			c.setDay(c.day + 1)
			c.s = c.dayLo
			c.have = false
			continue
		}
		c.load()
		c.regs.add(c.rate, c.cur)
		c.s += stepSec
		c.have = false
		if c.s >= c.dayHi {
			c.setDay(c.day + 1)
		}
	}
}

func (c *cursor) load() {
	if !c.have {
		c.rate, c.cur = c.m.step(c.s, &c.off, &c.mf)
		c.have = true
	}
}

// at returns the registers at true time tns (unix ns; resolved to whole
// seconds). Within a step, energy accrues linearly over the seconds the
// meter registers (truncated), so registers never decrease and equal the
// step sums at step boundaries.
func (c *cursor) at(tns int64) Registers {
	t := floorDiv(tns, 1e9)
	if t < c.s {
		c.seek(t)
	}
	c.advance(t)
	if t <= c.s {
		return c.regs
	}
	// Energy accrues linearly over the powered seconds of the step.
	rate, part, _ := c.m.stepDetail(c.s, t, &c.off, &c.mf)
	r := c.regs
	r.add(rate, part)
	return r
}

// RegistersAt returns the registers at true time t, assuming no state
// change after the latest one applied. Before installation it returns the
// initial values.
func (m *Meter) RegistersAt(t time.Time) Registers {
	if t.Unix() <= m.f.install {
		return m.initial()
	}
	var c cursor
	m.initCursor(&c, t.Unix())
	return c.at(t.UnixNano())
}

// Step returns the TOU rate and registered energy of the 15-minute step
// starting at s (aligned), after outages, relay state and theft: the atom
// registers are sums of.
func (m *Meter) Step(s time.Time) (rate int, e loadshape.Energy) {
	var off offList
	mf := m.Faults()
	return m.step(floorStep(s.Unix()), &off, &mf)
}
