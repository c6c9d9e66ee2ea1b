package c12driver

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/cim"
)

// tableSet is a meter's tables as octets, by table number: the dimension
// tables of a template and one read of each data table.
type tableSet map[c1219.TableID][]byte

// sampleTables builds the tables of a meter as amigo's simulated meters
// declare them (four summations, one demand, four tiers, a load profile
// of two days of quarter hours on four channels, an event log of eight
// entries), with known values: what the layout decodes is checked
// against them.
func sampleTables(t testing.TB) tableSet {
	t.Helper()
	f := c1219.DefaultFormat
	std := []int{0, 1, 11, 12, 16, 21, 22, 23, 52, 61, 62, 63, 64, 71, 76}
	gen := c1219.GenConfig{Format: f, NameplateType: c1219.NameplateElectric, StdTablesUsed: c1219.NewSet(10, std...),
		StdProcUsed: c1219.NewSet(2, 9, 10), MfgProcUsed: c1219.NewSet(2, 10), StdTablesWrite: c1219.NewSet(10, 7)}
	src := c1219.Sources{NbrUOMEntries: 5, NbrSources: 5}
	uoms := []c1219.UOM{
		c1219.NewUOM(c1219.UOMActivePower, c1219.TimeBaseBulk, 0, 0b1001, false),
		c1219.NewUOM(c1219.UOMActivePower, c1219.TimeBaseBulk, 0, 0b0110, false),
		c1219.NewUOM(c1219.UOMReactivePower, c1219.TimeBaseBulk, 0, 0b0011, false),
		c1219.NewUOM(c1219.UOMReactivePower, c1219.TimeBaseBulk, 0, 0b1100, false),
		c1219.NewUOM(c1219.UOMActivePower, c1219.TimeBaseBlockDemand, 0, 0b1001, false),
	}
	links := []uint8{1, 1, 1, 1, 1}
	regs := c1219.ActRegs{Func1: c1219.RegDateTime, NbrSummations: 4, NbrDemands: 1, NbrOccur: 1, NbrTiers: 4}
	sel := c1219.DataSelection{Summations: []uint8{0, 1, 2, 3}, Demands: []uint8{4}, MinOrMax: c1219.NewSet(1, 0)}
	mdAt := time.Date(2026, 3, 30, 18, 15, 0, 0, time.UTC)
	data := c1219.RegisterData{Total: c1219.DataBlock{Summations: []float64{123456789, 4321, 55555, 66},
		Demands: []c1219.Demand{{EventTimes: []time.Time{mdAt}, Values: []float64{7890}}}}}
	for k := range 4 {
		data.Tiers = append(data.Tiers, c1219.DataBlock{Summations: []float64{float64(1000 * (k + 1)), float64(k), 0, 0},
			Demands: []c1219.Demand{{EventTimes: []time.Time{{}}, Values: []float64{0}}}})
	}
	lp := c1219.ActLP{Flags: c1219.LPBlkEndRead | c1219.LPExtendedIntStatus | c1219.LPSimpleIntStatus, Formats: c1219.IntFmtInt32,
		Sets: []c1219.LPSetDims{{Set: 1, NbrBlocks: 3, NbrBlkInts: 96, NbrChns: 4, MaxIntTime: 15}}}
	var chans []c1219.LPChannel
	for k := range 4 {
		chans = append(chans, c1219.LPChannel{EndReading: true, Source: uint8(k), EndSource: uint8(k)})
	}
	lpc := c1219.LPControl{Sets: []c1219.LPSetControl{{Channels: chans, IntFmt: c1219.IntFmtInt32}}}
	// Two blocks: 2026-03-30 whole, 2026-03-31 up to 02:00 (8 intervals),
	// in elements 1 and 2; interval j of a block holds j+1 Wh, 2(j+1) Wh
	// received, and so on.
	day := time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC)
	ld := c1219.LPData{Blocks: make([]c1219.LPBlock, 3)}
	for b, n := range []int{96, 8} {
		blk := c1219.LPBlock{End: day.AddDate(0, 0, b).Add(time.Duration(n) * 15 * time.Minute), Simple: c1219.NewSet(12)}
		for j := range 96 {
			st := c1219.NewExtStatus(4, 0, 0, 0, 0, 0)
			if j < n {
				blk.Simple.Add(j)
			}
			if b == 0 && j == 40 {
				st = c1219.NewExtStatus(4, c1219.IntPowerFail, c1219.ChanLong, c1219.ChanLong, c1219.ChanLong, c1219.ChanLong)
			}
			blk.Intervals = append(blk.Intervals, c1219.LPInterval{Status: st,
				Values: []float64{float64(j + 1), float64(2 * (j + 1)), float64(3 * (j + 1)), float64(4 * (j + 1))}})
		}
		for k := range 4 {
			blk.EndReadings = append(blk.EndReadings, c1219.EndReading{Value: float64(k)})
		}
		ld.Blocks[b+1] = blk
	}
	lst := []c1219.LPSetStatus{{Flags: c1219.ListCircular | c1219.LPActive, NbrValidBlks: 2, LastBlock: 2, LastBlockSeq: 1, NbrValidInt: 8}}
	lg := c1219.ActLog{NbrStdEvents: 7, EventDataLen: 2, NbrEventEntries: 8}
	var entries []c1219.LogEntry
	for k := range 8 {
		entries = append(entries, c1219.LogEntry{Time: day.Add(time.Duration(k) * time.Hour), Seq: uint16(k + 1),
			Code: []c1219.Event{c1219.EventPowerDown, c1219.EventPowerUp, c1219.EventDemandReset, c1219.EventTamper}[k%4], Arg: []byte{byte(k), 0}})
	}
	// Entries 0..5 written, the newest in element 5.
	logData := c1219.LogData{Flags: c1219.ListCircular, NbrValid: 6, LastElement: 5, LastSeq: 6, Entries: entries[:6]}
	clock := c1219.Clock{Time: day.Add(26 * time.Hour), Qual: c1219.QualFor(day.Add(26 * time.Hour))}
	return tableSet{
		c1219.ST0: gen.Encode(), c1219.ST1: c1219.MfgID{Manufacturer: "AMG", Model: "AMG-A1", SerialNo: "42"}.Encode(f),
		c1219.ST11: src.Encode(f), c1219.ST12: c1219.EncodeST12(uoms, f, src), c1219.ST16: c1219.EncodeST16(links, f, src),
		c1219.ST21: regs.Encode(f), c1219.ST22: sel.Encode(f, regs), c1219.ST23: data.Encode(f, regs),
		c1219.ST52: clock.Encode(f), c1219.ST61: lp.Encode(f), c1219.ST62: lpc.Encode(f, lp),
		c1219.ST63: c1219.EncodeST63(lst, f, lp), c1219.ST64: ld.Encode(f, lp, lpc, 1),
		c1219.ST71: lg.Encode(f), c1219.ST76: logData.EncodeST76(f, lg),
	}
}

func (ts tableSet) template() *Template {
	tpl := &Template{Tables: map[uint16][]byte{}}
	for _, t := range dimensionTables {
		if b, ok := ts[t]; ok {
			tpl.Tables[uint16(t)] = b
		}
	}
	return tpl
}

// TestLayout decodes the sample tables into what a collection reads.
func TestLayout(t *testing.T) {
	ts := sampleTables(t)
	gen, err := c1219.DecodeST0(ts[c1219.ST0])
	if err != nil {
		t.Fatal(err)
	}
	l, err := newLayout(gen, ts.template())
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("America/Toronto")
	mt, gmt, err := l.clock(ts[c1219.ST52], loc)
	if err != nil || !gmt || !mt.Equal(time.Date(2026, 3, 31, 2, 0, 0, 0, time.UTC)) {
		t.Fatalf("clock %v gmt %v %v", mt, gmt, err)
	}
	regs, err := l.registers(ts[c1219.ST23], gmt, loc)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range regs {
		got[r.id] = r.value
		if r.id == "MD+" && !r.at.Equal(time.Date(2026, 3, 30, 18, 15, 0, 0, time.UTC)) {
			t.Errorf("MD+ at %v", r.at)
		}
	}
	for id, v := range map[string]int64{"A+": 123456789, "A-": 4321, "R+": 55555, "R-": 66, "MD+": 7890, "A+T1": 1000, "A+T4": 4000, "A-T3": 2} {
		if got[id] != v {
			t.Errorf("%s = %d, want %d (all: %v)", id, got[id], v, got)
		}
	}
	lp := l.lp
	if lp == nil || lp.interval != 15*time.Minute || lp.ints != 96 || lp.blocks != 3 || len(lp.channels) != 4 {
		t.Fatalf("load profile layout %+v", lp)
	}
	if rt := lp.channels[1].q.intervalType(lp.interval); rt.ID != "A-15m" || rt.FlowDirection != cim.FlowReverse || rt.Unit != cim.UnitWh {
		t.Errorf("channel 1 is %+v", rt)
	}
	st, err := lp.status(ts[c1219.ST63])
	if err != nil || st.validBlocks != 2 || st.element(lp, 0) != 2 || st.element(lp, 1) != 1 || st.element(lp, 2) != 0 {
		t.Fatalf("status %+v %v", st, err)
	}
	raw := ts[c1219.ST64][lp.blockSize : 2*lp.blockSize]
	blk, err := lp.block(raw, 96, gmt, loc)
	if err != nil {
		t.Fatal(err)
	}
	if len(blk.intervals) != 96 || !blk.end.Equal(time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("block: %d intervals, end %v", len(blk.intervals), blk.end)
	}
	if iv := blk.intervals[40]; iv.values[3] != 164 || iv.quality[0] != cim.QualityPowerDown|cim.QualityPartial || iv.skipped {
		t.Errorf("interval 40: %+v", iv)
	}
	last, err := lp.block(ts[c1219.ST64][2*lp.blockSize:], 8, gmt, loc)
	if err != nil || len(last.intervals) != 8 || last.intervals[7].values[0] != 8 {
		t.Fatalf("newest block %+v %v", last, err)
	}
	lg := l.log
	if lg == nil || lg.entries != 8 {
		t.Fatalf("log layout %+v", lg)
	}
	ls, err := lg.status(ts[c1219.ST76][:lg.headerSize])
	if err != nil || ls.valid != 6 || ls.element(lg, 0) != 5 {
		t.Fatalf("log status %+v %v", ls, err)
	}
	off := lg.headerSize + 3*lg.entrySize
	e, err := lg.entry(ts[c1219.ST76][off:off+lg.entrySize], gmt, loc)
	if err != nil || e.code != uint16(c1219.EventTamper) || e.seq != 4 || !e.at.Equal(time.Date(2026, 3, 30, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("entry 3: %+v %v", e, err)
	}
	if k := kindOf(e.code, e.mfg); k.typ != "3.12.29.212" {
		t.Errorf("tamper is %s", k.typ)
	}
}

// FuzzLayout feeds a template and data tables of any octets to the
// decoders a session uses: they refuse what does not fit, never panic.
// Its seed (testdata/fuzz/FuzzLayout/amigo-meter) is sampleTables' ST0,
// ST11, ST12, ST16, ST21, ST22, ST61, ST62, ST71, ST23, ST52, ST63, ST64
// and ST76.
func FuzzLayout(f *testing.F) {
	f.Fuzz(func(t *testing.T, st0, st11, st12, st16, st21, st22, st61, st62, st71, st23, st52, st63, st64, st76 []byte) {
		gen, err := c1219.DecodeST0(st0)
		if err != nil || gen.Format.Check() != nil {
			return
		}
		tpl := &Template{Tables: map[uint16][]byte{11: st11, 12: st12, 16: st16, 21: st21, 22: st22, 61: st61, 62: st62, 71: st71}}
		l, err := newLayout(gen, tpl)
		if err != nil {
			return
		}
		l.clock(st52, time.UTC)
		l.registers(st23, false, time.UTC)
		if lp := l.lp; lp != nil {
			if st, err := lp.status(st63); err == nil {
				for k := range min(st.validBlocks, 4) {
					e := st.element(lp, k)
					if e < 0 || e >= lp.blocks {
						t.Fatalf("block element %d of %d", e, lp.blocks)
					}
				}
			}
			if len(st64) >= lp.blockSize {
				lp.block(st64[:lp.blockSize], lp.ints, false, time.UTC)
			}
			// A header and the intervals after a cursor, as a session
			// reads them.
			if len(st64) >= lp.header {
				end, err := lp.blockEnd(st64[:lp.header], false, time.UTC)
				if err == nil && !end.IsZero() {
					since := end.Add(-time.Duration(len(st64)%(lp.ints+2)) * lp.interval / 2)
					j0 := lp.firstWanted(end, lp.ints, since)
					if j0 < 0 || j0 > lp.ints {
						t.Fatalf("first wanted interval %d of %d", j0, lp.ints)
					}
					rest := st64[lp.header:]
					rest = rest[:min(len(rest), (lp.ints-j0)*lp.perInt)]
					lp.block(lp.assemble(st64[:lp.header], j0, rest), lp.ints, false, time.UTC)
				}
			}
		}
		if lg := l.log; lg != nil && len(st76) >= lg.headerSize {
			if st, err := lg.status(st76[:lg.headerSize]); err == nil && st.valid > 0 {
				if e := st.element(lg, 0); e < 0 || e >= lg.entries {
					t.Fatalf("entry element %d of %d", e, lg.entries)
				}
			}
			if rest := st76[lg.headerSize:]; len(rest) >= lg.entrySize {
				lg.entry(rest[:lg.entrySize], false, time.UTC)
			}
		}
	})
}

// TestFirstWanted: the first interval of a block that ends after the
// cursor, for cursors on and between interval ends.
func TestFirstWanted(t *testing.T) {
	lp := &lpLayout{interval: 15 * time.Minute}
	end := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC) // 96 intervals: the first ends at 00:15 the day before
	day := end.AddDate(0, 0, -1)
	for _, c := range []struct {
		since time.Time
		want  int
	}{
		{day.Add(-time.Hour), 0},                     // before the block: all of it
		{day, 0},                                     // on the block's start: all of it
		{day.Add(15 * time.Minute), 1},               // on the first interval's end
		{day.Add(20 * time.Minute), 1},               // within the second interval
		{end.Add(-15 * time.Minute), 95},             // only the last
		{end.Add(-time.Second), 95},                  // within the last
		{end, 96},                                    // nothing
		{end.Add(time.Hour), 96},                     // nothing
		{day.Add(150*time.Minute + time.Second), 10}, // 02:30:01: from the interval ending 02:45
	} {
		if got := lp.firstWanted(end, 96, c.since); got != c.want {
			t.Errorf("since %v: first wanted %d, want %d", c.since, got, c.want)
		}
	}
}
