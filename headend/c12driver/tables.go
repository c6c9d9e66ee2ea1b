package c12driver

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/cim"
)

// The tables a session reads, by number.
const (
	tblClock         = uint16(c1219.ST52)
	tblRegisters     = uint16(c1219.ST23)
	tblProfileStatus = uint16(c1219.ST63)
	tblProfileData   = uint16(c1219.ST64)
	tblEvents        = uint16(c1219.ST76)
)

// The procedures behind commands.
const (
	procSetTime     = uint16(c1219.SPSetDateTime)
	procRemoteReset = uint16(c1219.SPRemoteReset)
	procSwitch      = uint16(c1219.MPServiceSwitch)
)

// errDecode marks a table that does not decode by the meter's own
// dimensions: a problem of that table, not of the session.
var errDecode = errors.New("table does not decode")

// quantity is what one C12.19 source measures, in the DLMS driver's
// reading type ids.
type quantity struct {
	id       string // "A+", "R-", "MD+"
	flow     cim.FlowDirection
	measured cim.MeasuredQuantity
	unit     cim.Unit
	// scale is the power of ten of the UOM's multiplier: a positive one
	// is applied, a negative one kept as the reading type's multiplier.
	scale int
}

// mult is the reading type multiplier of q's values.
func (q quantity) mult() int8 { return int8(min(q.scale, 0)) }

// regID is the reading type id of a register read of q: "A+", "A+T1",
// "A+e-3" (a value kept in thousandths).
func (q quantity) regID(tier int) string {
	id := q.id
	if tier > 0 {
		id += "T" + strconv.Itoa(tier)
	}
	if m := q.mult(); m != 0 {
		id += "e" + strconv.Itoa(int(m))
	}
	return id
}

// intervalType is the reading type of q's load profile channel:
// "A+15m", the energy of each interval.
func (q quantity) intervalType(iv time.Duration) cim.ReadingType {
	id := q.id
	if iv%time.Minute == 0 {
		id += strconv.Itoa(int(iv/time.Minute)) + "m"
	} else {
		id += strconv.Itoa(int(iv/time.Second)) + "s"
	}
	if m := q.mult(); m != 0 {
		id += "e" + strconv.Itoa(int(m))
	}
	return cim.ReadingType{ID: id, Commodity: cim.CommodityElectricity, MeasuredQuantity: q.measured, FlowDirection: q.flow,
		Interval: iv, Unit: q.unit, Multiplier: q.mult()}
}

// value turns a table's number into q's integer: exact, or an error for
// a fraction or a value out of range.
func (q quantity) value(v float64) (int64, error) {
	for k := 0; k < q.scale; k++ {
		v *= 10
	}
	if v != math.Trunc(v) || math.IsNaN(v) || math.Abs(v) >= 1<<63 {
		return 0, fmt.Errorf("%s value %v is not an integer amigo keeps exactly", q.id, v)
	}
	return int64(v), nil
}

// quantityOf names a unit of measure: active and reactive energy (bulk
// quantities) in each direction by their quadrants, and active and
// reactive demand. false for one amigo does not map.
func quantityOf(u c1219.UOM) (quantity, bool) {
	q := quantity{scale: u.Scale()}
	quads := u.Quadrants()
	// Delivered active energy is Q1+Q4, received Q2+Q3; reactive energy
	// into the premises Q1+Q2, out of it Q3+Q4.
	var dir string
	switch u.IDCode() {
	case c1219.UOMActivePower:
		switch {
		case quads&0b1001 != 0 && quads&0b0110 == 0:
			dir, q.flow = "+", cim.FlowForward
		case quads&0b0110 != 0 && quads&0b1001 == 0:
			dir, q.flow = "-", cim.FlowReverse
		default:
			return q, false
		}
		switch u.TimeBase() {
		case c1219.TimeBaseBulk:
			q.id, q.measured, q.unit = "A"+dir, cim.QuantityEnergy, cim.UnitWh
		case c1219.TimeBaseBlockDemand, c1219.TimeBaseSubBlockDmd, c1219.TimeBaseThermal:
			q.id, q.measured, q.unit = "MD"+dir, cim.QuantityDemand, cim.UnitW
		default:
			return q, false
		}
	case c1219.UOMReactivePower:
		switch {
		case quads&0b0011 != 0 && quads&0b1100 == 0:
			dir, q.flow = "+", cim.FlowForward
		case quads&0b1100 != 0 && quads&0b0011 == 0:
			dir, q.flow = "-", cim.FlowReverse
		default:
			return q, false
		}
		switch u.TimeBase() {
		case c1219.TimeBaseBulk:
			q.id, q.measured, q.unit = "R"+dir, cim.QuantityEnergy, cim.UnitVArh
		case c1219.TimeBaseBlockDemand, c1219.TimeBaseSubBlockDmd, c1219.TimeBaseThermal:
			q.id, q.measured, q.unit = "MDR"+dir, cim.QuantityDemand, cim.UnitVAr
		default:
			return q, false
		}
	default:
		return q, false
	}
	return q, true
}

// layout is how a meter's tables are laid out and what they hold, from
// its format and its template's dimension tables.
type layout struct {
	gen  c1219.GenConfig
	f    c1219.Format
	regs *c1219.ActRegs
	// sums and demands are what ST23's summations and demands measure;
	// ok false for one amigo does not map.
	sums, demands []sourceOf
	lp            *lpLayout
	log           *logLayout
	// notes are what the template could not make sense of, for the
	// collection's problems.
	notes []string
}

type sourceOf struct {
	q  quantity
	ok bool
}

// lpLayout is load profile set 1.
type lpLayout struct {
	format    c1219.Format
	act       c1219.ActLP
	ctl       c1219.LPControl
	blocks    int
	ints      int
	interval  time.Duration
	blockSize int
	// header is the octets of a block before its first interval (its
	// end time, end readings, simple status), perInt those of one
	// interval: a session reads a block's header, then only the
	// intervals it wants.
	header, perInt int
	channels       []sourceOf
}

// logLayout is the event log.
type logLayout struct {
	format     c1219.Format
	act        c1219.ActLog
	headerSize int
	entrySize  int
	entries    int
}

// newLayout decodes a template's tables in the meter's format.
func newLayout(gen c1219.GenConfig, tpl *Template) (*layout, error) {
	l := &layout{gen: gen, f: gen.Format}
	tb := func(t c1219.TableID) []byte { return tpl.Tables[uint16(t)] }
	// Units of measure by source index, when the meter describes them.
	var uoms map[int]c1219.UOM
	if b11, b12, b16 := tb(c1219.ST11), tb(c1219.ST12), tb(c1219.ST16); b11 != nil && b12 != nil {
		src, err := c1219.DecodeST11(b11, l.f)
		if err != nil {
			return nil, err
		}
		us, err := c1219.DecodeST12(b12, l.f, src)
		if err != nil {
			return nil, err
		}
		var links []uint8
		if b16 != nil {
			if links, err = c1219.DecodeST16(b16, l.f, src); err != nil {
				return nil, err
			}
		}
		// ST12's entries are indexed by source; ST16, when there, says
		// which sources have one.
		uoms = map[int]c1219.UOM{}
		for i, u := range us {
			if links == nil || (i < len(links) && links[i]&c1219.LinkUOMEntry != 0) {
				uoms[i] = u
			}
		}
	}
	source := func(sel uint8, fallback quantity) sourceOf {
		if uoms == nil {
			return sourceOf{q: fallback, ok: fallback.id != ""}
		}
		u, ok := uoms[int(sel)]
		if !ok {
			return sourceOf{}
		}
		q, ok := quantityOf(u)
		return sourceOf{q: q, ok: ok}
	}
	if b21 := tb(c1219.ST21); b21 != nil {
		a, err := c1219.DecodeST21(b21, l.f)
		if err != nil {
			return nil, err
		}
		l.regs = &a
		var sel c1219.DataSelection
		if b22 := tb(c1219.ST22); b22 != nil {
			if sel, err = c1219.DecodeST22(b22, l.f, a); err != nil {
				return nil, err
			}
		}
		for i := range int(a.NbrSummations) {
			s := uint8(0xFF)
			if i < len(sel.Summations) {
				s = sel.Summations[i]
			}
			l.sums = append(l.sums, source(s, positional(i, false)))
		}
		for i := range int(a.NbrDemands) {
			s := uint8(0xFF)
			if i < len(sel.Demands) {
				s = sel.Demands[i]
			}
			l.demands = append(l.demands, source(s, positional(i, true)))
		}
	}
	if b61, b62 := tb(c1219.ST61), tb(c1219.ST62); b61 != nil && b62 != nil && gen.HasTable(c1219.ST64) {
		act, err := c1219.DecodeST61(b61, l.f, gen)
		if err != nil {
			return nil, err
		}
		ctl, err := c1219.DecodeST62(b62, l.f, act)
		if err != nil {
			return nil, err
		}
		dims, ok := act.Set(1)
		size := c1219.LPBlockSize(l.f, act, ctl, 1)
		switch {
		case !ok || dims.NbrBlocks == 0 || dims.NbrBlkInts == 0:
			l.notes = append(l.notes, "ST61 declares no load profile set 1")
		case dims.MaxIntTime == 0:
			l.notes = append(l.notes, "ST61: load profile set 1 has no interval length")
		case size <= 0:
			l.notes = append(l.notes, "ST62: load profile set 1's interval format is not the standard's")
		default:
			lp := &lpLayout{format: l.f, act: act, ctl: ctl, blocks: int(dims.NbrBlocks), ints: int(dims.NbrBlkInts),
				interval: time.Duration(dims.MaxIntTime) * time.Minute, blockSize: size}
			var intFmt uint8
			if len(ctl.Sets) > 0 {
				intFmt = ctl.Sets[0].IntFmt
			}
			lp.header, lp.perInt = blockParts(l.f, act, dims, intFmt)
			if lp.header+lp.ints*lp.perInt != size {
				return nil, fmt.Errorf("%w: load profile blocks of %d octets, %d + %d × %d by their parts", errDecode, size, lp.header, lp.ints, lp.perInt)
			}
			var chans []c1219.LPChannel
			if len(ctl.Sets) > 0 {
				chans = ctl.Sets[0].Channels
			}
			for i := range int(dims.NbrChns) {
				s := uint8(0xFF)
				if i < len(chans) {
					s = chans[i].Source
				}
				lp.channels = append(lp.channels, source(s, positional(i, false)))
			}
			l.lp = lp
		}
	}
	if b71 := tb(c1219.ST71); b71 != nil && gen.HasTable(c1219.ST76) {
		act, err := c1219.DecodeST71(b71, l.f)
		if err != nil {
			return nil, err
		}
		if act.NbrEventEntries > 0 {
			l.log = &logLayout{format: l.f, act: act, headerSize: c1219.LogHeaderSize, entrySize: c1219.EventEntrySize(l.f, act),
				entries: int(act.NbrEventEntries)}
		}
	}
	return l, nil
}

// blockParts is the size of a load profile block's header and of one of
// its intervals, after ST61's flags and the interval format.
func blockParts(f c1219.Format, a c1219.ActLP, s c1219.LPSetDims, intFmt uint8) (header, perInt int) {
	ch := int(s.NbrChns)
	header = f.STimeSize()
	if a.Flags&c1219.LPBlkEndRead != 0 {
		header += ch * f.NI1.Size()
	}
	if a.Flags&c1219.LPBlkEndPulse != 0 {
		header += ch * 4
	}
	if a.Flags&c1219.LPSimpleIntStatus != 0 {
		header += (int(s.NbrBlkInts) + 7) / 8
	}
	isz := map[uint8]int{c1219.IntFmtUint8: 1, c1219.IntFmtInt8: 1, c1219.IntFmtUint16: 2, c1219.IntFmtInt16: 2,
		c1219.IntFmtUint32: 4, c1219.IntFmtInt32: 4, c1219.IntFmtNI1: f.NI1.Size(), c1219.IntFmtNI2: f.NI2.Size()}[intFmt]
	perInt = ch * isz
	if a.Flags&c1219.LPExtendedIntStatus != 0 {
		perInt += ch/2 + 1
	}
	return header, perInt
}

// positional is what a meter without ST12 holds in the i-th summation
// (or demand): the order amigo's tables follow, Wh delivered, Wh
// received, varh delivered, varh received; the first demand is W
// delivered.
func positional(i int, demand bool) quantity {
	if demand {
		if i == 0 {
			return quantity{id: "MD+", flow: cim.FlowForward, measured: cim.QuantityDemand, unit: cim.UnitW}
		}
		return quantity{}
	}
	switch i {
	case 0:
		return quantity{id: "A+", flow: cim.FlowForward, measured: cim.QuantityEnergy, unit: cim.UnitWh}
	case 1:
		return quantity{id: "A-", flow: cim.FlowReverse, measured: cim.QuantityEnergy, unit: cim.UnitWh}
	case 2:
		return quantity{id: "R+", flow: cim.FlowForward, measured: cim.QuantityEnergy, unit: cim.UnitVArh}
	case 3:
		return quantity{id: "R-", flow: cim.FlowReverse, measured: cim.QuantityEnergy, unit: cim.UnitVArh}
	}
	return quantity{}
}

// clock decodes ST52: the meter's time, and whether the meter keeps UTC
// (TIME_DATE_QUAL's GMT flag) rather than the usage point's local time.
func (l *layout) clock(b []byte, loc *time.Location) (time.Time, bool, error) {
	c, err := c1219.DecodeST52(b, l.f)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%w: %w", errDecode, err)
	}
	if c.Time.IsZero() {
		return time.Time{}, false, fmt.Errorf("%w: ST52 holds no time", errDecode)
	}
	gmt := c.Qual&c1219.QualGMT != 0
	return wall(c.Time, gmt, loc), gmt, nil
}

// wall places a C12.19 date and time: as UTC when the meter keeps UTC,
// else as the usage point's wall clock.
func wall(t time.Time, gmt bool, loc *time.Location) time.Time {
	if t.IsZero() || gmt {
		return t
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
}

// unwall is wall's inverse: the fields a meter's clock is set with.
func unwall(t time.Time, gmt bool) time.Time {
	if gmt {
		return t.UTC()
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// setTimeParams is SP 10's parameter: date, time and the qualifier.
func (l *layout) setTimeParams(t time.Time, gmt bool) []byte {
	qual := uint8(t.Weekday())
	if gmt {
		qual = c1219.QualFor(t)
	} else if t.IsDST() {
		qual |= c1219.QualDST
	}
	return c1219.SetDateTimeParams{Mask: c1219.SetTime | c1219.SetDate | c1219.SetTimeDateQual, Time: unwall(t, gmt), Qual: qual}.Encode(l.f)
}

// switchReport checks the switch's state after the procedure and says
// what it is.
func (l *layout) switchReport(action c1219.SwitchAction, resp []byte) (string, error) {
	if len(resp) < 1 {
		return "", fmt.Errorf("%w: the service switch procedure answered no state", errProtocol)
	}
	st := c1219.SwitchState(resp[0])
	name := map[c1219.SwitchState]string{c1219.SwitchOpen: "open", c1219.SwitchClosed: "closed", c1219.SwitchArmed: "armed for reconnection"}[st]
	if name == "" {
		name = "state " + strconv.Itoa(int(st))
	}
	switch {
	case action == c1219.SwitchDisconnect && st != c1219.SwitchOpen:
		return "", fmt.Errorf("service switch %s after a remote disconnect", name)
	case action == c1219.SwitchConnect && st == c1219.SwitchOpen:
		return "", fmt.Errorf("service switch still open after a remote connect (the meter's control mode forbids it?)")
	case action == c1219.SwitchArm && st == c1219.SwitchOpen:
		return "", fmt.Errorf("service switch still open after arming (the meter's control mode forbids it?)")
	}
	return "service switch " + name, nil
}

// demandResetParams is SP 9's parameter for a demand reset.
func (l *layout) demandResetParams() []byte { return c1219.RemoteReset{Demand: true}.Encode() }

// register is one register read of ST23.
type register struct {
	id    string
	value int64
	at    time.Time // the demand's own time; zero for the read's
}

// registers decodes ST23: each mapped summation and maximum demand, of
// the total and of each tier.
func (l *layout) registers(b []byte, gmt bool, loc *time.Location) ([]register, error) {
	if l.regs == nil {
		return nil, fmt.Errorf("%w: the meter has no ST21", errDecode)
	}
	d, err := c1219.DecodeST23(b, l.f, *l.regs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errDecode, err)
	}
	var out []register
	var bad []string
	block := func(blk c1219.DataBlock, tier int) {
		for i, v := range blk.Summations {
			if i >= len(l.sums) || !l.sums[i].ok {
				continue
			}
			q := l.sums[i].q
			n, err := q.value(v)
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			out = append(out, register{id: q.regID(tier), value: n})
		}
		for i, dm := range blk.Demands {
			if i >= len(l.demands) || !l.demands[i].ok || len(dm.Values) == 0 {
				continue
			}
			// A meter that times its demands and has none for this one
			// has not captured a maximum (a tier it keeps no demand of):
			// its zero is no reading.
			if len(dm.EventTimes) > 0 && dm.EventTimes[0].IsZero() {
				continue
			}
			q := l.demands[i].q
			n, err := q.value(dm.Values[0])
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			r := register{id: q.regID(tier), value: n}
			if len(dm.EventTimes) > 0 {
				r.at = wall(dm.EventTimes[0], gmt, loc)
			}
			out = append(out, r)
		}
	}
	block(d.Total, 0)
	for k, t := range d.Tiers {
		block(t, k+1)
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("%w: ST23: %s", errDecode, strings.Join(bad, "; "))
	}
	return out, nil
}

// lpStatus is ST63's status of set 1.
type lpStatus struct {
	validBlocks int
	lastBlock   int
	validInts   int
	descending  bool // the list's ORDER: newest block first in the array
}

func (lp *lpLayout) status(b []byte) (lpStatus, error) {
	st, err := c1219.DecodeST63(b, lp.format, lp.act)
	if err != nil {
		return lpStatus{}, fmt.Errorf("%w: %w", errDecode, err)
	}
	if len(st) == 0 {
		return lpStatus{}, fmt.Errorf("%w: ST63 has no status of set 1", errDecode)
	}
	s := st[0]
	out := lpStatus{validBlocks: min(int(s.NbrValidBlks), lp.blocks), lastBlock: int(s.LastBlock), validInts: int(s.NbrValidInt),
		descending: s.Flags&c1219.ListDescending != 0}
	if out.lastBlock >= lp.blocks || out.validInts > lp.ints {
		return lpStatus{}, fmt.Errorf("%w: ST63: last block %d of %d, %d valid intervals of %d", errProtocol, out.lastBlock, lp.blocks, out.validInts, lp.ints)
	}
	return out, nil
}

// element is the array index of the k-th newest block.
func (st lpStatus) element(lp *lpLayout, k int) int {
	if st.descending {
		return (st.lastBlock + k) % lp.blocks
	}
	return ((st.lastBlock-k)%lp.blocks + lp.blocks) % lp.blocks
}

// lpInterval is one interval of a block, its values in the channels'
// units.
type lpInterval struct {
	values  []int64
	quality []cim.Quality
	skipped bool
}

// lpBlock is one block read: the end of its last valid interval, and
// its valid intervals, oldest first.
type lpBlock struct {
	end       time.Time
	intervals []lpInterval
}

// blockEnd decodes the end time of a block from its header.
func (lp *lpLayout) blockEnd(hdr []byte, gmt bool, loc *time.Location) (time.Time, error) {
	raw := make([]byte, lp.blockSize)
	copy(raw, hdr)
	b, err := lp.block(raw, 0, gmt, loc)
	return b.end, err
}

// firstWanted is the index of the first of a block's n intervals that
// ends after since, the block ending at end: n when none does.
func (lp *lpLayout) firstWanted(end time.Time, n int, since time.Time) int {
	d := end.Sub(since)
	if d <= 0 {
		return n
	}
	q, r := int(d/lp.interval), d%lp.interval
	j := n - q
	if r != 0 {
		j--
	}
	return max(0, min(j, n))
}

// assemble lays a block's header and its intervals from j0 on out as a
// whole block, the intervals not read zero, so that it decodes.
func (lp *lpLayout) assemble(hdr []byte, j0 int, ints []byte) []byte {
	raw := make([]byte, lp.blockSize)
	copy(raw, hdr)
	copy(raw[lp.header+j0*lp.perInt:], ints)
	return raw
}

// block decodes one block read by offset, of which the first n intervals
// are filled.
func (lp *lpLayout) block(raw []byte, n int, gmt bool, loc *time.Location) (lpBlock, error) {
	d, err := c1219.DecodeLPBlocks(raw, lp.format, lp.act, lp.ctl, 1)
	if err != nil {
		return lpBlock{}, fmt.Errorf("%w: %w", errDecode, err)
	}
	if len(d.Blocks) != 1 {
		return lpBlock{}, fmt.Errorf("%w: %d blocks in one block's octets", errDecode, len(d.Blocks))
	}
	b := d.Blocks[0]
	out := lpBlock{end: wall(b.End, gmt, loc)}
	if out.end.IsZero() {
		return out, nil
	}
	n = min(n, len(b.Intervals))
	for j := range n {
		iv := b.Intervals[j]
		li := lpInterval{values: make([]int64, len(lp.channels)), quality: make([]cim.Quality, len(lp.channels))}
		var common uint8
		if lp.act.Flags&c1219.LPExtendedIntStatus != 0 {
			common = iv.Status.Common()
		}
		if lp.act.Flags&c1219.LPSimpleIntStatus != 0 && !b.Simple.Has(j) {
			li.skipped = true
		}
		for c := range lp.channels {
			q := qualityOf(common, 0)
			if lp.act.Flags&c1219.LPExtendedIntStatus != 0 {
				cs := iv.Status.Channel(c)
				q = qualityOf(common, cs)
				if cs == c1219.ChanSkipped {
					li.skipped = true
				}
			}
			li.quality[c] = q
			if c < len(iv.Values) && lp.channels[c].ok {
				v, err := lp.channels[c].q.value(iv.Values[c])
				if err != nil {
					li.quality[c] |= cim.QualityDataNotValid
					continue
				}
				li.values[c] = v
			}
		}
		out.intervals = append(out.intervals, li)
	}
	return out, nil
}

// qualityOf maps an interval's extended status to reading quality.
func qualityOf(common, channel uint8) cim.Quality {
	var q cim.Quality
	if common&c1219.IntPowerFail != 0 {
		q |= cim.QualityPowerDown
	}
	if common&(c1219.IntClockForward|c1219.IntClockBackward) != 0 {
		q |= cim.QualityClockAdjusted
	}
	switch channel {
	case c1219.ChanOverflow:
		q |= cim.QualityOverflow
	case c1219.ChanPartial, c1219.ChanLong:
		q |= cim.QualityPartial
	case c1219.ChanTestMode:
		q |= cim.QualityDataNotValid
	}
	return q
}

// logStatus is ST76's list status.
type logStatus struct {
	valid      int
	last       int
	descending bool
}

func (lg *logLayout) status(hdr []byte) (logStatus, error) {
	// The header alone decodes as a log of no entries.
	none := lg.act
	none.NbrEventEntries = 0
	d, err := c1219.DecodeST76(hdr, lg.format, none)
	if err != nil {
		return logStatus{}, fmt.Errorf("%w: %w", errDecode, err)
	}
	st := logStatus{valid: min(int(d.NbrValid), lg.entries), last: int(d.LastElement), descending: d.Flags&c1219.ListDescending != 0}
	if st.valid > 0 && st.last >= lg.entries {
		return logStatus{}, fmt.Errorf("%w: ST76: last entry %d of %d", errProtocol, st.last, lg.entries)
	}
	return st, nil
}

// element is the array index of the k-th newest entry.
func (st logStatus) element(lg *logLayout, k int) int {
	if st.descending {
		return (st.last + k) % lg.entries
	}
	return ((st.last-k)%lg.entries + lg.entries) % lg.entries
}

// logEntry is one entry of the event log.
type logEntry struct {
	at   time.Time
	seq  uint16
	user uint16
	code uint16
	mfg  bool
	arg  []byte
}

// entry decodes one entry read by offset.
func (lg *logLayout) entry(raw []byte, gmt bool, loc *time.Location) (logEntry, error) {
	one := lg.act
	one.NbrEventEntries = 1
	hdr := make([]byte, lg.headerSize, lg.headerSize+len(raw))
	d, err := c1219.DecodeST76(append(hdr, raw...), lg.format, one)
	if err != nil {
		return logEntry{}, fmt.Errorf("%w: %w", errDecode, err)
	}
	e := d.Entries[0]
	return logEntry{at: wall(e.Time, gmt, loc), seq: e.Seq, user: e.UserID, code: e.Code.Number(), mfg: e.Code.Mfg(), arg: e.Arg}, nil
}
