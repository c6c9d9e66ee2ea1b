package c1219

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the seed tables in testdata")

// meter is the table set of a meter as amigo's simulator lays it out:
// four summations (Wh and varh, import and export), one maximum demand,
// four tiers, load profile set 1 with one channel per summation and
// 15-minute intervals, and an event log.
type meter struct {
	f    Format
	st0  GenConfig
	st1  MfgID
	st3  ModeStatus
	st5  DeviceIdent
	st11 Sources
	st12 []UOM
	st13 DemandControl
	st15 []ElecConstants
	st16 []uint8
	st21 ActRegs
	st22 DataSelection
	st23 RegisterData
	st25 PrevDemandReset
	st26 SelfReads
	st27 PresentSelect
	st28 PresentData
	st51 ActTimeTOU
	st52 Clock
	st55 ClockState
	st61 ActLP
	st62 LPControl
	st63 []LPSetStatus
	st64 LPData
	st71 ActLog
	st72 EventsID
	st73 LogControl
	st74 LogData
	st76 LogData
}

func fixture(f Format) meter {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	m := meter{f: f}
	used := []int{0, 1, 3, 5, 7, 8, 11, 12, 13, 15, 16, 21, 22, 23, 25, 26, 27, 28, 51, 52, 55, 61, 62, 63, 64, 71, 72, 73, 74, 75, 76}
	m.st0 = GenConfig{Format: f, DeviceClass: [4]byte{'A', 'M', 'G', 'O'}, NameplateType: NameplateElectric,
		MaxProcParmLen: 16, MaxRespDataLen: 8, DimMfgStatusUsed: 1,
		StdTablesUsed: NewSet(10, used...), MfgTablesUsed: nil, StdProcUsed: NewSet(2, 9, 10),
		MfgProcUsed: NewSet(2, 10), StdTablesWrite: NewSet(10, 5, 7, 52), MfgTablesWrite: nil}
	m.st1 = MfgID{Manufacturer: "AMGO", Model: "SIM-C12", HWVersion: 1, FWVersion: 2, FWRevision: 7, SerialNo: "00000042"}
	m.st3 = ModeStatus{Mode: ModeMetering, StdStatus: StatusTamperDetect, MfgStatus: Set{0x01}}
	m.st5 = DeviceIdent{ID: "METER-0042"}
	m.st11 = Sources{Flags: SrcBlockDemand, NbrUOMEntries: 5, NbrDemandCtrl: 1, NbrConstants: 5,
		ConstantsSelector: ConstantsElectric, NbrSources: 5}
	m.st12 = []UOM{NewUOM(UOMActivePower, TimeBaseBulk, 0, 0b1001, false), NewUOM(UOMActivePower, TimeBaseBulk, 0, 0b0110, false),
		NewUOM(UOMReactivePower, TimeBaseBulk, 0, 0b0011, false), NewUOM(UOMReactivePower, TimeBaseBulk, 0, 0b1100, false),
		NewUOM(UOMActivePower, TimeBaseBlockDemand, 0, 0b1001, false)}
	m.st13 = DemandControl{Intervals: []DemandInterval{{IntLength: 15}}}
	for i := 0; i < 5; i++ {
		m.st15 = append(m.st15, ElecConstants{Multiplier: 1})
		m.st16 = append(m.st16, LinkUOMEntry|LinkConstants|LinkEngineering|LinkConstsApplied)
	}
	m.st16[4] |= LinkDemandCtrl
	m.st21 = ActRegs{Func1: RegDateTime | RegDemandResetCtr | RegCumDemand, Func2: RegSelfReadSeqNbr, NbrSelfReads: 2, NbrSummations: 4,
		NbrDemands: 1, NbrOccur: 1, NbrTiers: 4, NbrPresentDemands: 1, NbrPresentValues: 2}
	m.st22 = DataSelection{Summations: []uint8{0, 1, 2, 3}, Demands: []uint8{4}, MinOrMax: Set{1}}
	block := func(k float64) DataBlock {
		return DataBlock{Summations: []float64{1234567 * k, 2345 * k, 34567 * k, 456 * k},
			Demands: []Demand{{EventTimes: []time.Time{now.Add(-3 * time.Hour)}, CumDemand: 98765 * k, Values: []float64{4321 * k}}}}
	}
	m.st23 = RegisterData{NbrDemandResets: 3, Total: block(1), Tiers: []DataBlock{block(1), block(2), block(3), block(0)}}
	m.st25 = PrevDemandReset{EndTime: now.Add(-48 * time.Hour), Data: m.st23}
	m.st26 = SelfReads{Flags: ListCircular, NbrValid: 1, LastSeq: 9, Entries: []SelfRead{{Seq: 9, EndTime: now.Add(-24 * time.Hour), Data: m.st23}, {}}}
	m.st27 = PresentSelect{Demands: []uint8{4}, Values: []uint8{0, 2}}
	m.st28 = PresentData{Demands: []PresentDemand{{Value: 812}}, Values: []float64{230, -50}}
	m.st51 = ActTimeTOU{Func2: TimeCapDSTAuto, NbrSeasons: 1, NbrTierSwitches: 8}
	m.st52 = Clock{Time: now.Add(42 * time.Second), Qual: QualFor(now)}
	m.st55 = ClockState{Time: now, Qual: QualFor(now), Status: NewClockStatus(2, 15, 1)}
	m.st61 = ActLP{MemoryLen: 4096, Flags: LPBlkEndRead | LPExtendedIntStatus | LPSimpleIntStatus,
		Formats: IntFmtUint32, Sets: []LPSetDims{{Set: 1, NbrBlocks: 2, NbrBlkInts: 4, NbrChns: 4, MaxIntTime: 15}}}
	ch := []LPChannel{{true, 0, 0}, {true, 1, 1}, {true, 2, 2}, {true, 3, 3}}
	m.st62 = LPControl{Sets: []LPSetControl{{Channels: ch, IntFmt: IntFmtUint32}}}
	m.st63 = []LPSetStatus{{Flags: ListCircular | LPActive, NbrValidBlks: 2, LastBlock: 1, LastBlockSeq: 17, NbrValidInt: 3}}
	var blocks []LPBlock
	for b := 0; b < 2; b++ {
		blk := LPBlock{End: now.Add(time.Duration(b-1) * time.Hour), Simple: Set{0x0F}}
		for c := 0; c < 4; c++ {
			blk.EndReadings = append(blk.EndReadings, EndReading{Value: float64(100000*c + b)})
		}
		for i := 0; i < 4; i++ {
			st := NewExtStatus(4, 0, ChanOK, ChanPartial, ChanOK, ChanOK)
			if i == 2 {
				st = NewExtStatus(4, IntPowerFail, ChanPartial, ChanPartial, ChanPartial, ChanPartial)
			}
			blk.Intervals = append(blk.Intervals, LPInterval{Status: st, Values: []float64{float64(250 + i), 0, float64(10 * i), 1}})
		}
		blocks = append(blocks, blk)
	}
	m.st64 = LPData{Blocks: blocks}
	m.st71 = ActLog{Flags: LogEventNumber | LogHistDateTime, NbrStdEvents: 7, NbrMfgEvents: 1, HistDataLen: 2,
		EventDataLen: 2, NbrHistEntries: 2, NbrEventEntries: 4}
	events := NewSet(7, 1, 2, 4, 20, 47, 49)
	m.st72 = EventsID{Std: events, Mfg: Set{0}}
	m.st73 = LogControl{StdEvents: events, MfgEvents: Set{0}, StdTables: NewSet(10, 52), MfgTables: nil,
		StdProcs: NewSet(2, 9, 10), MfgProcs: NewSet(2, 10)}
	m.st74 = LogData{NbrValid: 1, LastSeq: 1, Entries: []LogEntry{{Time: now, EventNumber: 1, UserID: 7, Code: Event(SPRemoteReset), Arg: []byte{1, 0}}, {Arg: []byte{0, 0}}}}
	m.st76 = LogData{Flags: ListCircular, NbrValid: 3, LastElement: 2, LastSeq: 3, NbrUnread: 3, Entries: []LogEntry{
		{Time: now.Add(-time.Hour), EventNumber: 1, Seq: 1, Code: EventPowerDown, Arg: []byte{0, 0}},
		{Time: now.Add(-time.Hour + time.Minute), EventNumber: 2, Seq: 2, Code: EventPowerUp, Arg: []byte{0, 0}},
		{Time: now, EventNumber: 3, Seq: 3, UserID: 2, Code: EventDemandReset, Arg: []byte{3, 0}},
		{Arg: []byte{0, 0}}}}
	return m
}

// tables encodes every table of the fixture.
func (m meter) tables() map[TableID][]byte {
	f := m.f
	return map[TableID][]byte{
		ST0: m.st0.Encode(), ST1: m.st1.Encode(f), ST3: m.st3.Encode(f, m.st0), ST5: m.st5.Encode(f),
		ST11: m.st11.Encode(f), ST12: EncodeST12(m.st12, f, m.st11), ST13: m.st13.Encode(f, m.st11),
		ST15: EncodeST15(m.st15, f, m.st11), ST16: EncodeST16(m.st16, f, m.st11),
		ST21: m.st21.Encode(f), ST22: m.st22.Encode(f, m.st21), ST23: m.st23.Encode(f, m.st21),
		ST25: m.st25.Encode(f, m.st21), ST26: m.st26.Encode(f, m.st21), ST27: m.st27.Encode(f, m.st21),
		ST28: m.st28.Encode(f, m.st21), ST51: m.st51.Encode(f), ST52: m.st52.Encode(f), ST55: m.st55.Encode(f),
		ST61: m.st61.Encode(f), ST62: m.st62.Encode(f, m.st61), ST63: EncodeST63(m.st63, f, m.st61),
		ST64: m.st64.Encode(f, m.st61, m.st62, 1), ST71: m.st71.Encode(f), ST72: m.st72.Encode(f, m.st71),
		ST73: m.st73.Encode(f, m.st0, m.st71), ST74: m.st74.EncodeST74(f, m.st71), ST75: m.st73.Encode(f, m.st0, m.st71),
		ST76: m.st76.EncodeST76(f, m.st71),
	}
}

// decodeAll decodes every table of the set and re-encodes it.
func decodeAll(t *testing.T, m meter, tb map[TableID][]byte) {
	t.Helper()
	f := m.f
	check := func(id TableID, got, want any, err error, enc func() []byte) {
		t.Helper()
		if err != nil {
			t.Errorf("%v: %v", id, err)
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%v decoded\n%+v\nwant\n%+v", id, got, want)
		}
		if e := enc(); !bytes.Equal(e, tb[id]) {
			t.Errorf("%v re-encoded\n% X\nwant\n% X", id, e, tb[id])
		}
	}
	g, err := DecodeST0(tb[ST0])
	check(ST0, g, m.st0, err, g.Encode)
	st1, err := DecodeST1(tb[ST1], f)
	check(ST1, st1, m.st1, err, func() []byte { return st1.Encode(f) })
	st3, err := DecodeST3(tb[ST3], f, g)
	check(ST3, st3, m.st3, err, func() []byte { return st3.Encode(f, g) })
	st5, err := DecodeST5(tb[ST5], f)
	check(ST5, st5, m.st5, err, func() []byte { return st5.Encode(f) })
	st11, err := DecodeST11(tb[ST11], f)
	check(ST11, st11, m.st11, err, func() []byte { return st11.Encode(f) })
	st12, err := DecodeST12(tb[ST12], f, st11)
	check(ST12, st12, m.st12, err, func() []byte { return EncodeST12(st12, f, st11) })
	st13, err := DecodeST13(tb[ST13], f, st11)
	check(ST13, st13, m.st13, err, func() []byte { return st13.Encode(f, st11) })
	st15, err := DecodeST15(tb[ST15], f, st11)
	check(ST15, st15, m.st15, err, func() []byte { return EncodeST15(st15, f, st11) })
	st16, err := DecodeST16(tb[ST16], f, st11)
	check(ST16, st16, m.st16, err, func() []byte { return EncodeST16(st16, f, st11) })
	st21, err := DecodeST21(tb[ST21], f)
	check(ST21, st21, m.st21, err, func() []byte { return st21.Encode(f) })
	st22, err := DecodeST22(tb[ST22], f, st21)
	want22 := m.st22
	check(ST22, st22, want22, err, func() []byte { return st22.Encode(f, st21) })
	st23, err := DecodeST23(tb[ST23], f, st21)
	check(ST23, st23, m.st23, err, func() []byte { return st23.Encode(f, st21) })
	st25, err := DecodeST25(tb[ST25], f, st21)
	check(ST25, st25, m.st25, err, func() []byte { return st25.Encode(f, st21) })
	st26, err := DecodeST26(tb[ST26], f, st21)
	want26 := m.st26
	want26.Entries = []SelfRead{m.st26.Entries[0], zeroSelfRead(m.st21)}
	check(ST26, st26, want26, err, func() []byte { return st26.Encode(f, st21) })
	st27, err := DecodeST27(tb[ST27], f, st21)
	check(ST27, st27, m.st27, err, func() []byte { return st27.Encode(f, st21) })
	st28, err := DecodeST28(tb[ST28], f, st21)
	check(ST28, st28, m.st28, err, func() []byte { return st28.Encode(f, st21) })
	st51, err := DecodeST51(tb[ST51], f)
	check(ST51, st51, m.st51, err, func() []byte { return st51.Encode(f) })
	st52, err := DecodeST52(tb[ST52], f)
	check(ST52, st52, m.st52, err, func() []byte { return st52.Encode(f) })
	st55, err := DecodeST55(tb[ST55], f)
	check(ST55, st55, m.st55, err, func() []byte { return st55.Encode(f) })
	st61, err := DecodeST61(tb[ST61], f, g)
	check(ST61, st61, m.st61, err, func() []byte { return st61.Encode(f) })
	st62, err := DecodeST62(tb[ST62], f, st61)
	check(ST62, st62, m.st62, err, func() []byte { return st62.Encode(f, st61) })
	st63, err := DecodeST63(tb[ST63], f, st61)
	check(ST63, st63, m.st63, err, func() []byte { return EncodeST63(st63, f, st61) })
	st64, err := DecodeST64(tb[ST64], f, st61, st62)
	check(ST64, st64, m.st64, err, func() []byte { return st64.Encode(f, st61, st62, 1) })
	st71, err := DecodeST71(tb[ST71], f)
	check(ST71, st71, m.st71, err, func() []byte { return st71.Encode(f) })
	st72, err := DecodeST72(tb[ST72], f, st71)
	check(ST72, st72, m.st72, err, func() []byte { return st72.Encode(f, st71) })
	st73, err := DecodeST73(tb[ST73], f, g, st71)
	check(ST73, st73, m.st73, err, func() []byte { return st73.Encode(f, g, st71) })
	st75, err := DecodeST75(tb[ST75], f, g, st71)
	check(ST75, st75, m.st73, err, func() []byte { return st75.Encode(f, g, st71) })
	st74, err := DecodeST74(tb[ST74], f, st71)
	check(ST74, st74, m.st74, err, func() []byte { return st74.EncodeST74(f, st71) })
	st76, err := DecodeST76(tb[ST76], f, st71)
	check(ST76, st76, m.st76, err, func() []byte { return st76.EncodeST76(f, st71) })
}

func zeroSelfRead(a ActRegs) SelfRead {
	w := newWriter(DefaultFormat)
	w.registerData(RegisterData{}, a)
	r := newReader(w.b, DefaultFormat, ST26)
	return SelfRead{Data: r.registerData(a)}
}

// formats are the data formats the round trips run in.
func formats() map[string]Format {
	big := DefaultFormat
	big.BigEndian, big.Time, big.Int, big.NI1, big.NI2 = true, TimeBCD, IntSignMagn, NIFloat64, NIInt48
	mins := DefaultFormat
	mins.Time, mins.NI1, mins.NI2, mins.Int = TimeMinute, NIFixedBCD8, NIFloatChar12, IntOnes
	secs := DefaultFormat
	secs.Time, secs.NI1, secs.NI2, secs.Version, secs.Char = TimeSecond, NIInt32, NIFloat32, 1, CharUTF8
	return map[string]Format{"default": DefaultFormat, "big": big, "minutes": mins, "seconds": secs}
}

func TestTablesRoundTrip(t *testing.T) {
	for name, f := range formats() {
		t.Run(name, func(t *testing.T) {
			m := fixture(f)
			if f.Time == TimeSecond {
				// UINT32 seconds carry no "no time" but zero; the fixture's
				// unset times are the zero time, which encodes as zero.
				m.st52.Time = m.st52.Time.Truncate(time.Second)
			}
			tb := m.tables()
			decodeAll(t, m, tb)
		})
	}
}

// TestClosureStatus: blocks with CLOSURE_STATUS (LP_FLAGS bit 12) carry
// one UINT16 per channel after the end readings.
func TestClosureStatus(t *testing.T) {
	m := fixture(DefaultFormat)
	m.st61.Flags |= LPClosureStatus
	for i := range m.st64.Blocks {
		for c := 0; c < 4; c++ {
			m.st64.Blocks[i].Closure = append(m.st64.Blocks[i].Closure, Closure(4<<4|c))
		}
	}
	tb := m.tables()
	if got, want := len(tb[ST64]), 2*(114+8); got != want {
		t.Errorf("ST64 %d octets, want %d", got, want)
	}
	if !bytes.Equal(tb[ST64][37:45], []byte{0x40, 0, 0x41, 0, 0x42, 0, 0x43, 0}) {
		t.Errorf("closure status % X", tb[ST64][37:45])
	}
	decodeAll(t, m, tb)
	d, _ := DecodeST64(tb[ST64], m.f, m.st61, m.st62)
	if c := d.Blocks[1].Closure[3]; c.Status() != 3 || c.ValidIntervals() != 4 {
		t.Errorf("closure %v", c)
	}
	if ShapeST64(m.f, m.st61, m.st62, 1).Len() != len(tb[ST64]) {
		t.Error("shape")
	}
}

func TestExtStatus(t *testing.T) {
	s := NewExtStatus(4, IntPowerFail, ChanPartial, ChanOK, ChanLong, ChanSkipped)
	if !bytes.Equal(s, []byte{0x22, 0x03, 0x40}) {
		t.Errorf("% X", s)
	}
	if s.Common() != IntPowerFail || s.Channel(0) != ChanPartial || s.Channel(2) != ChanLong || s.Channel(3) != ChanSkipped || s.Channel(9) != 0 {
		t.Errorf("%d %d %d %d", s.Common(), s.Channel(0), s.Channel(2), s.Channel(3))
	}
	if s := NewExtStatus(3, IntDST|IntClockBackward, 1, 2, 3); !bytes.Equal(s, []byte{0x91, 0x23}) {
		t.Errorf("3 channels: % X", s)
	}
}

func TestTableSizes(t *testing.T) {
	m := fixture(DefaultFormat)
	tb := m.tables()
	sizes := map[TableID]int{
		ST0: 19 + 10 + 0 + 2 + 2 + 10 + 0, ST1: 32, ST3: 5, ST5: 20, ST11: 8, ST12: 20, ST13: 2, ST15: 5 * 16, ST16: 5,
		ST21: 10, ST22: 4 + 1 + 1, ST23: 1 + 5*(4*8+5+8+8), ST52: 7, ST55: 9, ST61: 13, ST62: 4*3 + 1, ST63: 13,
		ST64: 2 * (5 + 4*8 + 1 + 4*(3+4*4)), ST71: 12, ST72: 8, ST76: 11 + 4*(6+2+2+2+2+2),
	}
	for id, want := range sizes {
		if len(tb[id]) != want {
			t.Errorf("%v: %d octets, want %d", id, len(tb[id]), want)
		}
	}
	if EventEntrySize(DefaultFormat, m.st71) != 16 {
		t.Errorf("entry size %d", EventEntrySize(DefaultFormat, m.st71))
	}
	if got := LPBlockSize(DefaultFormat, m.st61, m.st62, 1); got != len(tb[ST64])/2 {
		t.Errorf("block size %d", got)
	}
}

// TestDimensionErrors: tables that contradict their dimensions fail with
// an error naming the table and field.
func TestDimensionErrors(t *testing.T) {
	m := fixture(DefaultFormat)
	tb := m.tables()
	f := m.f
	var e *Error
	_, err := DecodeST23(tb[ST23][:len(tb[ST23])-1], f, m.st21)
	if !errors.As(err, &e) || e.Table != ST23 {
		t.Errorf("short ST23: %v", err)
	}
	big := m.st21
	big.NbrTiers, big.NbrCoinValues, big.NbrOccur = 255, 255, 255
	if _, err := DecodeST23(tb[ST23], f, big); !errors.As(err, &e) || e.Table != ST23 {
		t.Errorf("huge dimensions: %v", err)
	}
	if _, err := DecodeST64(tb[ST64][:len(tb[ST64])-3], f, m.st61, m.st62); !errors.As(err, &e) || e.Table != ST64 {
		t.Errorf("short ST64: %v", err)
	}
	run, err := DecodeLPBlocks(tb[ST64][len(tb[ST64])/2:], f, m.st61, m.st62, 1)
	if err != nil || len(run.Blocks) != 1 || !reflect.DeepEqual(run.Blocks[0], m.st64.Blocks[1]) {
		t.Errorf("one block: %+v %v", run, err)
	}
	if _, err := DecodeLPData(tb[ST64], f, m.st61, m.st62, 2); err == nil {
		t.Error("set 2 decoded")
	}
	bad := m.st62
	bad.Sets = []LPSetControl{{Channels: m.st62.Sets[0].Channels, IntFmt: 3}}
	if _, err := DecodeST64(tb[ST64], f, m.st61, bad); err == nil {
		t.Error("interval format 3 decoded")
	}
	if _, err := DecodeST76(tb[ST76][:40], f, m.st71); !errors.As(err, &e) || e.Field != "EVENT_ENTRIES" {
		t.Errorf("short ST76: %v", err)
	}
	if _, err := DecodeST76(append(tb[ST76], 0), f, m.st71); err == nil {
		t.Error("long ST76 decoded")
	}
	if _, err := DecodeST52(tb[ST52], Format{Char: CharISO8859, NI1: NIInt32, NI2: NIInt32}); err == nil {
		t.Error("a clock without TM_FORMAT decoded")
	}
	reserved := f
	reserved.NI1 = 14
	if _, err := DecodeST23(tb[ST23], reserved, m.st21); err == nil {
		t.Error("NI format 14 decoded")
	}
}

func TestClockStatus(t *testing.T) {
	c := ClockState{Status: NewClockStatus(3, 15, 2)}
	if c.Status != 0x2F03 || c.CurrentTier() != 3 || c.SpecialSchedule() != 15 || c.Season() != 2 || c.TierDrive() != 0 {
		t.Errorf("0x%04X", c.Status)
	}
	b := ClockState{Time: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC), Qual: 0x11, Status: c.Status}.Encode(DefaultFormat)
	if !bytes.Equal(b, []byte{26, 12, 7, 8, 0, 0, 0x11, 0x03, 0x2F}) {
		t.Errorf("ST55 % X", b)
	}
}

func TestST71Versions(t *testing.T) {
	a := ActLog{Flags: LogEventNumber, NbrStdEvents: 7, EventDataLen: 2, NbrEventEntries: 10, ExtFlags: 0, NbrProgramTables: 0}
	v1 := DefaultFormat
	v1.Version = 1
	b1, b2 := a.Encode(v1), a.Encode(DefaultFormat)
	if len(b1) != 9 || len(b2) != 12 || !bytes.Equal(b1, b2[:9]) {
		t.Fatalf("% X / % X", b1, b2)
	}
	short, err := DecodeST71(b1, DefaultFormat)
	if err != nil || !short.Short || short.NbrEventEntries != 10 || !bytes.Equal(short.Encode(DefaultFormat), b1) {
		t.Errorf("9-octet table of a version 2 device: %+v %v", short, err)
	}
	if _, err := DecodeST71(b2[:10], DefaultFormat); err == nil {
		t.Error("10-octet ST71 decoded")
	}
}

func TestProcedureTables(t *testing.T) {
	f := DefaultFormat
	at := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	req := ProcInitiate{Proc: SPSetDateTime, Seq: 5, Params: SetDateTimeParams{Mask: SetTime | SetDate, Time: at, Qual: QualFor(at)}.Encode(f)}
	b := req.Encode(f)
	want := []byte{0x0A, 0x00, 5, 0x03, 26, 12, 7, 9, 30, 0, 0x11}
	if !bytes.Equal(b, want) {
		t.Errorf("SP10 request % X, want % X", b, want)
	}
	got, err := DecodeST7(b, f)
	if err != nil || !reflect.DeepEqual(got, req) {
		t.Errorf("%+v %v", got, err)
	}
	p, err := DecodeSetDateTime(got.Params, f)
	if err != nil || !p.Time.Equal(at) || Weekday(p.Qual) != time.Monday {
		t.Errorf("%+v %v", p, err)
	}
	mp := ProcInitiate{Proc: MPServiceSwitch, Selector: PostImmediateAndComplete, Seq: 1, Params: []byte{byte(SwitchDisconnect)}}
	if b := mp.Encode(f); !bytes.Equal(b, []byte{0x0A, 0x38, 1, 0}) {
		t.Errorf("MP10 request % X", b)
	}
	rr := RemoteReset{Demand: true, SeasonChange: true, NewSeason: 3}
	if b := rr.Encode(); !bytes.Equal(b, []byte{0x1D}) {
		t.Errorf("SP9 parameter % X", b)
	}
	if back, err := DecodeRemoteReset(rr.Encode()); err != nil || back != rr {
		t.Errorf("%+v %v", back, err)
	}
	resp := ProcResponse{Proc: SPRemoteReset, Seq: 9, Result: ResultCompleted, Data: []byte{4}}
	rb := resp.Encode(f)
	if !bytes.Equal(rb, []byte{0x09, 0x00, 9, 0, 4}) {
		t.Errorf("ST8 % X", rb)
	}
	back, err := DecodeST8(rb, f)
	if err != nil || !reflect.DeepEqual(back, resp) || back.Err() != nil {
		t.Errorf("%+v %v", back, err)
	}
	if (ProcResponse{Result: ResultNoAuth}).Err() == nil {
		t.Error("no authorization is no error")
	}
	if _, err := DecodeST8([]byte{9, 0, 1}, f); err == nil {
		t.Error("ST8 without result decoded")
	}
}

func TestLogValid(t *testing.T) {
	m := fixture(DefaultFormat)
	v := m.st76.Valid()
	if len(v) != 3 || v[0].Code != EventPowerDown || v[2].Code != EventDemandReset {
		t.Errorf("%+v", v)
	}
	d := LogData{Flags: ListCircular, NbrValid: 4, LastElement: 0, Entries: []LogEntry{{Seq: 4}, {Seq: 1}, {Seq: 2}, {Seq: 3}}}
	for i, e := range d.Valid() {
		if int(e.Seq) != i+1 {
			t.Errorf("wrapped list: %+v", d.Valid())
		}
	}
	d = LogData{Flags: ListCircular | ListDescending, NbrValid: 3, LastElement: 1, Entries: []LogEntry{{Seq: 9}, {Seq: 3}, {Seq: 2}, {Seq: 1}}}
	for i, e := range d.Valid() {
		if int(e.Seq) != i+1 {
			t.Errorf("descending list: %+v", d.Valid())
		}
	}
}

// TestWriteSeeds keeps the fuzz seeds in testdata in step with the
// fixture: go test -run TestWriteSeeds -update.
func TestWriteSeeds(t *testing.T) {
	m := fixture(DefaultFormat)
	tb := m.tables()
	for id, b := range tb {
		path := filepath.Join("testdata", "st"+itoa(int(id))+".bin")
		if *update {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs from the fixture (run with -update)", path)
		}
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
