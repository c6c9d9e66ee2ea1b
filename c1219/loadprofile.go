package c1219

import (
	"math"
	"time"
)

// LP_FLAGS of ST61.
const (
	LPSet1InhibitOvf    = 1 << 0 // bits 0..3: sets 1..4
	LPBlkEndRead        = 1 << 4 // blocks carry end readings (NI_FMAT1)
	LPBlkEndPulse       = 1 << 5 // blocks carry end pulse counts (UINT32)
	LPScalarDivisorSet1 = 1 << 6 // bits 6..9: sets 1..4 carry scalars and divisors in ST62
	LPExtendedIntStatus = 1 << 10
	LPSimpleIntStatus   = 1 << 11
	LPClosureStatus     = 1 << 12 // blocks carry a CLOSURE_STATUS per channel
)

// Interval formats (LP_FMATS of ST61, INT_FMT_CDE of ST62).
const (
	IntFmtUint8  = 1
	IntFmtUint16 = 2
	IntFmtUint32 = 4
	IntFmtInt8   = 8
	IntFmtInt16  = 16
	IntFmtInt32  = 32
	IntFmtNI1    = 64
	IntFmtNI2    = 128
)

// LPSetDims is one LP_DATA_SET_RCD of ST61: the dimensions of one load
// profile data set (ST64..ST67).
type LPSetDims struct {
	Set        int    // 1..4, the data set (ST63+Set)
	NbrBlocks  uint16 // NBR_BLKS_SET
	NbrBlkInts uint16 // NBR_BLK_INTS_SET: intervals per block
	NbrChns    uint8  // NBR_CHNS_SET
	MaxIntTime uint8  // MAX_INT_TIME_SET: the interval, minutes
}

// ActLP is ST61, ACT_LP_TBL.
type ActLP struct {
	MemoryLen uint32 // LP_MEMORY_LEN
	Flags     uint16 // LP_FLAGS
	Formats   uint8  // LP_FMATS
	Sets      []LPSetDims
}

// Set is the dimensions of data set n (1..4), and whether it is there.
func (a ActLP) Set(n int) (LPSetDims, bool) {
	for _, s := range a.Sets {
		if s.Set == n {
			return s, true
		}
	}
	return LPSetDims{}, false
}

// lpSets lists the data sets ST0 declares (tables ST64..ST67 used).
func lpSets(g GenConfig) []int {
	var out []int
	for n := 1; n <= 4; n++ {
		if g.HasTable(ST63 + TableID(n)) {
			out = append(out, n)
		}
	}
	return out
}

// DecodeST61 decodes ACT_LP_TBL; the data sets it describes are those ST0
// says are used.
func DecodeST61(b []byte, f Format, g GenConfig) (ActLP, error) {
	var a ActLP
	r := newReader(b, f, ST61)
	a.MemoryLen = r.u32("LP_MEMORY_LEN")
	a.Flags = r.u16("LP_FLAGS")
	a.Formats = r.u8("LP_FMATS")
	for _, n := range lpSets(g) {
		s := LPSetDims{Set: n}
		s.NbrBlocks = r.u16("NBR_BLKS_SET")
		s.NbrBlkInts = r.u16("NBR_BLK_INTS_SET")
		s.NbrChns = r.u8("NBR_CHNS_SET")
		s.MaxIntTime = r.u8("MAX_INT_TIME_SET")
		a.Sets = append(a.Sets, s)
	}
	return a, r.end()
}

// Encode is ST61's octets, the sets in the order given (ascending, as
// ST0 lists them).
func (a ActLP) Encode(f Format) []byte {
	w := newWriter(f)
	w.u32(a.MemoryLen)
	w.u16(a.Flags)
	w.u8(a.Formats)
	for _, s := range a.Sets {
		w.u16(s.NbrBlocks)
		w.u16(s.NbrBlkInts)
		w.u8(s.NbrChns)
		w.u8(s.MaxIntTime)
	}
	return w.b
}

// LPChannel is one LP_SEL_RCD of ST62.
type LPChannel struct {
	EndReading bool  // CHNL_FLAG.END_RDG_FLAG: the channel has a block end reading
	Source     uint8 // LP_SOURCE_SELECT, an ST16 source
	EndSource  uint8 // END_BLK_RDG_SOURCE_SELECT
}

// LPSetControl is one data set's part of ST62.
type LPSetControl struct {
	Channels []LPChannel // NBR_CHNS_SET
	IntFmt   uint8       // INT_FMT_CDE
	Scalars  []uint16    // with the set's scalar/divisor flag
	Divisors []uint16
}

// LPControl is ST62, LP_CTRL_TBL, one LPSetControl per ST61 set.
type LPControl struct {
	Sets []LPSetControl
}

// DecodeST62 decodes LP_CTRL_TBL per ST61.
func DecodeST62(b []byte, f Format, a ActLP) (LPControl, error) {
	var c LPControl
	r := newReader(b, f, ST62)
	for _, s := range a.Sets {
		var sc LPSetControl
		n := int(s.NbrChns)
		for i := 0; i < n && r.err == nil; i++ {
			flag := r.u8("LP_SEL_SET.CHNL_FLAG")
			sc.Channels = append(sc.Channels, LPChannel{EndReading: flag&1 != 0,
				Source: r.u8("LP_SEL_SET.LP_SOURCE_SELECT"), EndSource: r.u8("LP_SEL_SET.END_BLK_RDG_SOURCE_SELECT")})
		}
		sc.IntFmt = r.u8("INT_FMT_CDE")
		if a.Flags&(LPScalarDivisorSet1<<(s.Set-1)) != 0 {
			for i := 0; i < n && r.err == nil; i++ {
				sc.Scalars = append(sc.Scalars, r.u16("SCALARS_SET"))
			}
			for i := 0; i < n && r.err == nil; i++ {
				sc.Divisors = append(sc.Divisors, r.u16("DIVISOR_SET"))
			}
		}
		c.Sets = append(c.Sets, sc)
	}
	return c, r.end()
}

// Encode is ST62's octets per ST61.
func (c LPControl) Encode(f Format, a ActLP) []byte {
	w := newWriter(f)
	for k, s := range a.Sets {
		sc := at(c.Sets, k)
		n := int(s.NbrChns)
		for i := 0; i < n; i++ {
			ch := at(sc.Channels, i)
			if ch.EndReading {
				w.u8(1)
			} else {
				w.u8(0)
			}
			w.u8(ch.Source)
			w.u8(ch.EndSource)
		}
		w.u8(sc.IntFmt)
		if a.Flags&(LPScalarDivisorSet1<<(s.Set-1)) != 0 {
			for i := 0; i < n; i++ {
				w.u16(at(sc.Scalars, i))
			}
			for i := 0; i < n; i++ {
				w.u16(at(sc.Divisors, i))
			}
		}
	}
	return w.b
}

// LP_SET_STATUS_FLAGS beyond the list flags: bit 4 interval order
// (descending), bit 5 recording active, bit 6 test mode.
const (
	LPIntervalDescending = 1 << 4
	LPActive             = 1 << 5
	LPTestMode           = 1 << 6
)

// LPSetStatus is one data set's part of ST63, LP_STATUS_TBL.
type LPSetStatus struct {
	Flags        uint8  // LP_SET_STATUS_FLAGS (the list flags and the LP ones)
	NbrValidBlks uint16 // NBR_VALID_BLOCKS
	LastBlock    uint16 // LAST_BLOCK_ELEMENT: array index of the newest block
	LastBlockSeq uint32 // LAST_BLOCK_SEQ_NBR
	NbrUnread    uint16 // NBR_UNREAD_BLOCKS
	NbrValidInt  uint16 // NBR_VALID_INT: intervals filled in the newest block
}

// DecodeST63 decodes LP_STATUS_TBL, one status per ST61 set.
func DecodeST63(b []byte, f Format, a ActLP) ([]LPSetStatus, error) {
	r := newReader(b, f, ST63)
	var out []LPSetStatus
	for range a.Sets {
		var s LPSetStatus
		s.Flags = r.u8("LP_SET_STATUS_FLAGS")
		s.NbrValidBlks = r.u16("NBR_VALID_BLOCKS")
		s.LastBlock = r.u16("LAST_BLOCK_ELEMENT")
		s.LastBlockSeq = r.u32("LAST_BLOCK_SEQ_NBR")
		s.NbrUnread = r.u16("NBR_UNREAD_BLOCKS")
		s.NbrValidInt = r.u16("NBR_VALID_INT")
		out = append(out, s)
	}
	return out, r.end()
}

// EncodeST63 is ST63's octets, one status per ST61 set.
func EncodeST63(st []LPSetStatus, f Format, a ActLP) []byte {
	w := newWriter(f)
	for i := range a.Sets {
		s := at(st, i)
		w.u8(s.Flags)
		w.u16(s.NbrValidBlks)
		w.u16(s.LastBlock)
		w.u32(s.LastBlockSeq)
		w.u16(s.NbrUnread)
		w.u16(s.NbrValidInt)
	}
	return w.b
}

// Common flags of an interval's extended status.
const (
	IntDST           = 1 << 0 // daylight saving time in effect
	IntPowerFail     = 1 << 1 // power failed during the interval
	IntClockForward  = 1 << 2 // the clock was set forward
	IntClockBackward = 1 << 3 // the clock was set backward
)

// Channel status values of an interval's extended status.
const (
	ChanOK       = 0
	ChanOverflow = 1 // numeric overflow
	ChanPartial  = 2 // partial interval (power fail, clock set)
	ChanLong     = 3 // long interval
	ChanSkipped  = 4 // skipped interval
	ChanTestMode = 5 // recorded in test mode
)

// ExtStatus is EXTENDED_INT_STATUS: NBR_CHNS/2+1 octets of 4-bit
// statuses. Nibble 0 holds the common flags and nibble i the status of
// channel i (1-based); nibble k sits in octet k/2, in the high-order half
// for even k: the common flags are the first octet's high nibble (0x10
// DST, 0x20 power fail, 0x40 clock forward, 0x80 clock backward), the
// first channel its low nibble, as meters and head-ends lay them out.
type ExtStatus []byte

// NewExtStatus is an extended status for n channels.
func NewExtStatus(n int, common uint8, channels ...uint8) ExtStatus {
	s := make(ExtStatus, n/2+1)
	s.setNibble(0, common)
	for i, c := range channels {
		if i < n {
			s.setNibble(i+1, c)
		}
	}
	return s
}

func (s ExtStatus) nibble(k int) uint8 {
	if k/2 >= len(s) {
		return 0
	}
	if k%2 == 0 {
		return s[k/2] >> 4
	}
	return s[k/2] & 15
}

func (s ExtStatus) setNibble(k int, v uint8) {
	if k/2 >= len(s) {
		return
	}
	if k%2 == 0 {
		s[k/2] = s[k/2]&0x0F | v<<4
	} else {
		s[k/2] = s[k/2]&0xF0 | v&15
	}
}

// Common is the flags that concern every channel (IntDST, IntPowerFail, …).
func (s ExtStatus) Common() uint8 { return s.nibble(0) }

// Channel is the status of channel i, 0-based (ChanOK, ChanPartial, …).
func (s ExtStatus) Channel(i int) uint8 { return s.nibble(i + 1) }

// LPInterval is one interval of a block: its extended status (with
// LPExtendedIntStatus) and one value per channel.
type LPInterval struct {
	Status ExtStatus
	Values []float64 // in the set's INT_FMT_CDE; integers are exact
}

// EndReading is one channel's READINGS_RCD at the end of a block.
type EndReading struct {
	Value float64 // BLOCK_END_READ (NI_FMAT1), with LPBlkEndRead
	Pulse uint32  // BLOCK_END_PULSE, with LPBlkEndPulse
}

// LPBlock is one LP_BLK_DAT_RCD: a block of intervals ending at End.
type LPBlock struct {
	End         time.Time    // BLK_END_TIME (STIME_DATE): the end of the block's last interval
	EndReadings []EndReading // one per channel
	Closure     []Closure    // one per channel, with LPClosureStatus
	Simple      Set          // SIMPLE_INT_STATUS, with LPSimpleIntStatus: interval i valid
	Intervals   []LPInterval // NBR_BLK_INTS_SET
}

// Closure is a CLOSURE_STATUS_BFLD of a block: a status in bits 0..3
// and NBR_VALID_INTERVAL, the intervals of the block that hold data, in
// bits 4..15.
type Closure uint16

// Status is the closure's status nibble.
func (c Closure) Status() uint8 { return uint8(c & 15) }

// ValidIntervals is the closure's NBR_VALID_INTERVAL.
func (c Closure) ValidIntervals() int { return int(c >> 4) }

// LPData is ST64..ST67, LP_DATA_SETn_TBL.
type LPData struct {
	Blocks []LPBlock // NBR_BLKS_SET
}

func intSize(fmtCode uint8, f Format) int {
	switch fmtCode {
	case IntFmtUint8, IntFmtInt8:
		return 1
	case IntFmtUint16, IntFmtInt16:
		return 2
	case IntFmtUint32, IntFmtInt32:
		return 4
	case IntFmtNI1:
		return f.NI1.Size()
	case IntFmtNI2:
		return f.NI2.Size()
	}
	return 0
}

// lpBlockSize is one block's octets, or -1 when the interval format is
// not one of the standard's.
func lpBlockSize(f Format, a ActLP, s LPSetDims, c LPSetControl) int {
	isz := intSize(c.IntFmt, f)
	if isz == 0 {
		return -1
	}
	ch := int(s.NbrChns)
	n := f.STimeSize()
	if a.Flags&LPBlkEndRead != 0 {
		n += ch * f.NI1.Size()
	}
	if a.Flags&LPBlkEndPulse != 0 {
		n += ch * 4
	}
	if a.Flags&LPClosureStatus != 0 {
		n += ch * 2
	}
	if a.Flags&LPSimpleIntStatus != 0 {
		n += setOctets(int(s.NbrBlkInts))
	}
	per := ch * isz
	if a.Flags&LPExtendedIntStatus != 0 {
		per += ch/2 + 1
	}
	return n + int(s.NbrBlkInts)*per
}

// LPBlockSize is the octets of one block of data set n, so a reader can
// fetch blocks with offset reads; it is -1 for a set ST61 does not have
// or an interval format that is not the standard's.
func LPBlockSize(f Format, a ActLP, c LPControl, n int) int {
	for k, s := range a.Sets {
		if s.Set == n {
			return lpBlockSize(f, a, s, at(c.Sets, k))
		}
	}
	return -1
}

func lpSet(a ActLP, c LPControl, n int) (LPSetDims, LPSetControl, bool) {
	for k, s := range a.Sets {
		if s.Set == n {
			return s, at(c.Sets, k), true
		}
	}
	return LPSetDims{}, LPSetControl{}, false
}

// DecodeLPData decodes data set n (1..4, table ST63+n) per ST61 and
// ST62: the full table, NBR_BLKS_SET blocks.
func DecodeLPData(b []byte, f Format, a ActLP, c LPControl, n int) (LPData, error) {
	return decodeLP(b, f, a, c, n, true)
}

// DecodeLPBlocks decodes a run of whole blocks of data set n, as an
// offset read of LPBlockSize multiples returns them.
func DecodeLPBlocks(b []byte, f Format, a ActLP, c LPControl, n int) (LPData, error) {
	return decodeLP(b, f, a, c, n, false)
}

func decodeLP(b []byte, f Format, a ActLP, c LPControl, n int, full bool) (LPData, error) {
	var d LPData
	t := ST63 + TableID(n)
	r := newReader(b, f, t)
	s, sc, ok := lpSet(a, c, n)
	if !ok {
		r.fail("", "ST61 has no data set %d", n)
		return d, r.err
	}
	size := lpBlockSize(f, a, s, sc)
	if size < 0 {
		r.fail("", "interval format code %d is not the standard's", sc.IntFmt)
		return d, r.err
	}
	if r.err != nil {
		return d, r.err
	}
	if full && len(b) != size*int(s.NbrBlocks) {
		r.fail("", "%d octets, %d blocks of %d octets are %d", len(b), s.NbrBlocks, size, size*int(s.NbrBlocks))
		return d, r.err
	}
	if size == 0 || len(b)%size != 0 || len(b)/size > int(s.NbrBlocks) {
		r.fail("", "%d octets are not a whole number of %d-octet blocks, at most %d", len(b), size, s.NbrBlocks)
		return d, r.err
	}
	ch, ni := int(s.NbrChns), int(s.NbrBlkInts)
	for len(b)-r.off >= size && r.err == nil {
		var blk LPBlock
		blk.End = r.stime("BLK_END_TIME")
		for i := 0; i < ch; i++ {
			var e EndReading
			if a.Flags&LPBlkEndRead != 0 {
				e.Value = r.ni(f.NI1, "END_READINGS.BLOCK_END_READ")
			}
			if a.Flags&LPBlkEndPulse != 0 {
				e.Pulse = r.u32("END_READINGS.BLOCK_END_PULSE")
			}
			if a.Flags&(LPBlkEndRead|LPBlkEndPulse) != 0 {
				blk.EndReadings = append(blk.EndReadings, e)
			}
		}
		if a.Flags&LPClosureStatus != 0 {
			for i := 0; i < ch; i++ {
				blk.Closure = append(blk.Closure, Closure(r.u16("CLOSURE_STATUS")))
			}
		}
		if a.Flags&LPSimpleIntStatus != 0 {
			blk.Simple = r.set(setOctets(ni), "SIMPLE_INT_STATUS")
		}
		// One backing array per block for the values and one for the
		// statuses: a block is thousands of small slices otherwise.
		blk.Intervals = make([]LPInterval, 0, ni)
		vals := make([]float64, ni*ch)
		var stats []byte
		if a.Flags&LPExtendedIntStatus != 0 {
			stats = make([]byte, ni*(ch/2+1))
		}
		for i := 0; i < ni && r.err == nil; i++ {
			var iv LPInterval
			if stats != nil {
				st := stats[i*(ch/2+1) : (i+1)*(ch/2+1) : (i+1)*(ch/2+1)]
				copy(st, r.take(ch/2+1, "LP_INT.EXTENDED_INT_STATUS"))
				iv.Status = ExtStatus(st)
			}
			iv.Values = vals[i*ch : (i+1)*ch : (i+1)*ch]
			for j := 0; j < ch; j++ {
				iv.Values[j] = r.item(sc.IntFmt, "LP_INT.INT_DATA")
			}
			blk.Intervals = append(blk.Intervals, iv)
		}
		d.Blocks = append(d.Blocks, blk)
	}
	return d, r.end()
}

// DecodeST64 decodes LP_DATA_SET1_TBL per ST61 and ST62.
func DecodeST64(b []byte, f Format, a ActLP, c LPControl) (LPData, error) {
	return DecodeLPData(b, f, a, c, 1)
}

func (r *reader) item(code uint8, field string) float64 {
	switch code {
	case IntFmtUint8:
		return float64(r.u8(field))
	case IntFmtUint16:
		return float64(r.u16(field))
	case IntFmtUint32:
		return float64(r.u32(field))
	case IntFmtInt8:
		return float64(r.int(1, field))
	case IntFmtInt16:
		return float64(r.int(2, field))
	case IntFmtInt32:
		return float64(r.int(4, field))
	case IntFmtNI1:
		return r.ni(r.f.NI1, field)
	case IntFmtNI2:
		return r.ni(r.f.NI2, field)
	}
	r.fail(field, "interval format code %d is not the standard's", code)
	return 0
}

func (w *writer) item(v float64, code uint8) {
	switch code {
	case IntFmtUint8:
		w.u8(uint8(clampUint(v, 1)))
	case IntFmtUint16:
		w.u16(uint16(clampUint(v, 2)))
	case IntFmtUint32:
		w.u32(uint32(clampUint(v, 4)))
	case IntFmtInt8:
		w.int(clampInt(math.Round(v), 1), 1)
	case IntFmtInt16:
		w.int(clampInt(math.Round(v), 2), 2)
	case IntFmtInt32:
		w.int(clampInt(math.Round(v), 4), 4)
	case IntFmtNI1:
		w.ni(v, w.f.NI1)
	case IntFmtNI2:
		w.ni(v, w.f.NI2)
	}
}

func clampUint(v float64, n int) uint64 {
	v = math.Round(v)
	limit := math.Ldexp(1, 8*n) - 1
	switch {
	case !(v > 0):
		return 0
	case v > limit:
		return uint64(limit)
	}
	return uint64(v)
}

// Encode is data set n's octets per ST61 and ST62: NBR_BLKS_SET blocks
// (missing ones zero), so it is the full table.
func (d LPData) Encode(f Format, a ActLP, c LPControl, n int) []byte {
	s, _, ok := lpSet(a, c, n)
	if !ok {
		return nil
	}
	return d.EncodeBlocks(f, a, c, n, int(s.NbrBlocks))
}

// EncodeBlocks is the octets of the first count blocks of d in data set
// n's layout (a run of blocks, as an offset read returns them).
func (d LPData) EncodeBlocks(f Format, a ActLP, c LPControl, n, count int) []byte {
	s, sc, ok := lpSet(a, c, n)
	if !ok {
		return nil
	}
	w := newWriter(f)
	ch, ni := int(s.NbrChns), int(s.NbrBlkInts)
	for k := 0; k < count; k++ {
		blk := at(d.Blocks, k)
		w.stime(blk.End)
		for i := 0; i < ch; i++ {
			e := at(blk.EndReadings, i)
			if a.Flags&LPBlkEndRead != 0 {
				w.ni(e.Value, f.NI1)
			}
			if a.Flags&LPBlkEndPulse != 0 {
				w.u32(e.Pulse)
			}
		}
		if a.Flags&LPClosureStatus != 0 {
			for i := 0; i < ch; i++ {
				w.u16(uint16(at(blk.Closure, i)))
			}
		}
		if a.Flags&LPSimpleIntStatus != 0 {
			w.set(blk.Simple, setOctets(ni))
		}
		for i := 0; i < ni; i++ {
			iv := at(blk.Intervals, i)
			if a.Flags&LPExtendedIntStatus != 0 {
				w.fixed(iv.Status, ch/2+1)
			}
			for j := 0; j < ch; j++ {
				w.item(at(iv.Values, j), sc.IntFmt)
			}
		}
	}
	return w.b
}
