package sim

import (
	"time"

	"github.com/amigo-ami/amigo/meter"
)

// The load profile of the C12 meters (load profile set 1, ST61 to ST64):
// the model's profile interval, one channel per summation (Wh import, Wh
// export, varh import, varh export: the energy of each interval, not the
// register), and blocks of one day's intervals with the registers at the
// block's last interval as end readings. Blocks are counted from the
// installation (local midnight), so block s holds the intervals ending in
// (Install + s·day, Install + (s+1)·day] on the meter's clock, and it sits
// in element s mod the number of blocks of the circular list, which keeps
// HistoryDays+1 of them.

// lpChannels is the number of channels of load profile set 1.
const lpChannels = 4

// lpInterval is one interval of a block.
type lpInterval struct {
	Valid  bool // false: skipped (no power at its end, or not reached yet)
	Status meter.Status
	Values [lpChannels]int64
}

// lpBlock is one block of load profile set 1.
type lpBlock struct {
	Seq       uint32    // block number since installation
	End       time.Time // meter clock at the block's last written interval
	Written   int       // intervals of the block elapsed (all but the last block: all)
	Readings  [lpChannels]int64
	Intervals []lpInterval
}

// lpLayout is the shape of load profile set 1 of a fleet.
type lpLayout struct {
	Interval  time.Duration
	Intervals int // per block
	Blocks    int // in the circular list
}

func lpLayoutOf(f *meter.Fleet) lpLayout {
	return lpLayout{Interval: f.ProfileInterval, Intervals: int(24 * time.Hour / f.ProfileInterval), Blocks: f.HistoryDays + 1}
}

// lpStatus is what ST63 says of the list.
type lpStatus struct {
	ValidBlocks  int
	LastElement  int    // element of the newest block
	LastSeq      uint32 // its sequence number
	ValidInts    int    // intervals written in the newest block
	UnreadBlocks int
}

// lpExtent is where the list stands at now: the intervals completed on
// the meter's clock, the newest block and the oldest one kept (first >
// cur: no block yet).
type lpExtent struct {
	k, first, cur int64
}

func lpExtentOf(m *meter.Meter, now time.Time) lpExtent {
	f := m.Fleet()
	lay := lpLayoutOf(f)
	k := int64(m.Clock(now).Sub(f.Install) / lay.Interval)
	if k <= 0 {
		return lpExtent{first: 1}
	}
	cur := (k - 1) / int64(lay.Intervals)
	return lpExtent{k: k, first: max(0, cur-int64(lay.Blocks)+1), cur: cur}
}

// status is ST63's view of the list.
func (x lpExtent) status(lay lpLayout) lpStatus {
	if x.first > x.cur {
		return lpStatus{}
	}
	n := int64(lay.Intervals)
	st := lpStatus{ValidBlocks: int(x.cur - x.first + 1), LastElement: int(x.cur % int64(lay.Blocks)), LastSeq: uint32(x.cur),
		ValidInts: int((x.k-1)%n) + 1}
	st.UnreadBlocks = st.ValidBlocks
	return st
}

// seqAt is the sequence number of the block in element e, false when the
// element holds none.
func (x lpExtent) seqAt(e int, lay lpLayout) (int64, bool) {
	nb := int64(lay.Blocks)
	seq := x.cur - ((x.cur%nb-int64(e))%nb+nb)%nb
	return seq, x.first <= x.cur && seq >= x.first
}

// profile returns the meter's load profile blocks lo..hi (sequence
// numbers, cut to those kept), oldest first. Hold the meter's lock.
func profile(m *meter.Meter, now time.Time, x lpExtent, lo, hi int64) []lpBlock {
	f := m.Fleet()
	lay := lpLayoutOf(f)
	iv := lay.Interval
	install := f.Install
	lo, hi = max(lo, x.first), min(hi, x.cur)
	if lo > hi {
		return nil
	}
	n := int64(lay.Intervals)
	blocks := make([]lpBlock, hi-lo+1)
	ints := make([]lpInterval, int64(len(blocks))*n)
	for s := range blocks {
		seq := lo + int64(s)
		b := &blocks[s]
		b.Seq = uint32(seq)
		b.Intervals = ints[int64(s)*n : int64(s+1)*n : int64(s+1)*n]
		b.Written = int(n)
		b.End = install.Add(time.Duration((seq+1)*n) * iv)
		if seq == x.cur {
			b.Written = int((x.k-1)%n) + 1
			b.End = install.Add(time.Duration(x.k) * iv)
		}
	}
	from := install.Add(time.Duration(lo*n+1) * iv)
	to := install.Add(time.Duration(min((hi+1)*n, x.k)) * iv)
	caps := m.AppendCaptures(make([]meter.Capture, 0, len(ints)), now, from, to, iv)
	for _, c := range caps {
		j := int64(c.Stamp.Sub(install)/iv) - 1
		s := j/n - lo
		if j < 0 || s < 0 || s >= int64(len(blocks)) {
			continue
		}
		b := &blocks[s]
		b.Intervals[j%n] = lpInterval{Valid: true, Status: c.Status,
			Values: [lpChannels]int64{c.Delta.Import, c.Delta.Export, c.Delta.ImportVarh, c.Delta.ExportVarh}}
		b.Readings = readings(c.Registers)
	}
	// A block without a capture (a day without power) reads what the
	// registers held when the previous one ended.
	var last [lpChannels]int64
	if len(caps) > 0 {
		last = readings(caps[0].Registers.Sub(caps[0].Delta))
	} else {
		last = readings(m.RegistersAt(now))
	}
	for s := range blocks {
		if blocks[s].Readings == ([lpChannels]int64{}) && !hasValid(blocks[s].Intervals) {
			blocks[s].Readings = last
		}
		last = blocks[s].Readings
	}
	return blocks
}

func readings(r meter.Registers) [lpChannels]int64 {
	return [lpChannels]int64{r.Import, r.Export, r.ImportVarh, r.ExportVarh}
}

func hasValid(ints []lpInterval) bool {
	for _, v := range ints {
		if v.Valid {
			return true
		}
	}
	return false
}
