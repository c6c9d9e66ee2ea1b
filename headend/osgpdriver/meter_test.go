package osgpdriver_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/osgp"
)

// testMeter is an OSGP meter whose tables a test fills: two days of
// quarter-hour profile, registers with two tiers and a maximum demand, an
// event log, a clock, and the procedures the driver runs.
type testMeter struct {
	mu      sync.Mutex
	offset  time.Duration // the meter's clock minus the test's
	now     func() time.Time
	store   *c1219.Store
	osgp    *osgp.Meter
	addr    string
	switchS c1219.SwitchState
	resets  int

	day0     time.Time // midnight UTC starting block 0
	profile  [2][96][4]int64
	skipped  int // interval of block 0 skipped on every channel
	powerOut int // interval of block 0 with a power failure
	valid1   int // intervals written in block 1
}

var (
	fmtTest = c1219.DefaultFormat
	actRegs = c1219.ActRegs{Func1: c1219.RegDateTime, NbrSummations: 4, NbrDemands: 1, NbrOccur: 1, NbrTiers: 2}
	actLP   = c1219.ActLP{Flags: c1219.LPBlkEndRead | c1219.LPExtendedIntStatus, Formats: c1219.IntFmtInt32,
		Sets: []c1219.LPSetDims{{Set: 1, NbrBlocks: 3, NbrBlkInts: 96, NbrChns: 4, MaxIntTime: 15}}}
	lpCtl = c1219.LPControl{Sets: []c1219.LPSetControl{{IntFmt: c1219.IntFmtInt32, Channels: []c1219.LPChannel{
		{EndReading: true, Source: 0, EndSource: 0}, {EndReading: true, Source: 1, EndSource: 1},
		{EndReading: true, Source: 2, EndSource: 2}, {EndReading: true, Source: 3, EndSource: 3}}}}}
	actLog = c1219.ActLog{Flags: c1219.LogEventNumber, NbrStdEvents: 8, NbrEventEntries: 8}
	totals = [4]int64{1234567, 2345, 34567, 456}
	tiers  = [2][4]int64{{1000000, 2000, 30000, 400}, {234567, 345, 4567, 56}}
	maxDem = int64(4321)
)

func newTestMeter(t *testing.T, k osgp.Keys, now func() time.Time) *testMeter {
	t.Helper()
	m := &testMeter{now: now, store: c1219.NewStore(fmtTest), switchS: c1219.SwitchClosed, skipped: 11, powerOut: 10, valid1: 40}
	m.day0 = time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	for b := range m.profile {
		for i := range m.profile[b] {
			for ch := range 4 {
				m.profile[b][i][ch] = int64(100*b + i + 1000*ch)
			}
		}
	}
	f, s := fmtTest, m.store
	g := c1219.GenConfig{Format: f, NameplateType: c1219.NameplateElectric, StdRevision: 1,
		StdTablesUsed: c1219.NewSet(10, 0, 1, 3, 7, 8, 11, 12, 21, 22, 23, 52, 61, 62, 63, 64, 71, 76),
		StdProcUsed:   c1219.NewSet(2, 9, 10), MfgProcUsed: c1219.NewSet(2, 10), StdTablesWrite: c1219.NewSet(10, 7)}
	s.Set(c1219.ST0, g.Encode())
	s.Set(c1219.ST1, c1219.MfgID{Manufacturer: "AMG", Model: "AMG-O1", SerialNo: "0000000000000042"}.Encode(f))
	src := c1219.Sources{NbrUOMEntries: 5, NbrSources: 5, ConstantsSelector: c1219.ConstantsElectric}
	s.Set(c1219.ST11, src.Encode(f))
	s.Set(c1219.ST12, c1219.EncodeST12([]c1219.UOM{
		c1219.NewUOM(c1219.UOMActivePower, c1219.TimeBaseBulk, 0, 0b1001, false),
		c1219.NewUOM(c1219.UOMActivePower, c1219.TimeBaseBulk, 0, 0b0110, false),
		c1219.NewUOM(c1219.UOMReactivePower, c1219.TimeBaseBulk, 0, 0b0011, false),
		c1219.NewUOM(c1219.UOMReactivePower, c1219.TimeBaseBulk, 0, 0b1100, false),
		c1219.NewUOM(c1219.UOMActivePower, c1219.TimeBaseBlockDemand, 0, 0b1001, false)}, f, src))
	s.Set(c1219.ST21, actRegs.Encode(f))
	s.Set(c1219.ST22, c1219.DataSelection{Summations: []uint8{0, 1, 2, 3}, Demands: []uint8{4}, MinOrMax: c1219.NewSet(1, 0)}.Encode(f, actRegs))
	s.SetSource(c1219.ST23, func() []byte {
		blk := func(v [4]int64, dem bool) c1219.DataBlock {
			d := c1219.DataBlock{Demands: []c1219.Demand{{EventTimes: []time.Time{{}}, Values: []float64{0}}}}
			for _, x := range v {
				d.Summations = append(d.Summations, float64(x))
			}
			if dem {
				d.Demands[0] = c1219.Demand{EventTimes: []time.Time{m.day0.Add(18 * time.Hour)}, Values: []float64{float64(maxDem)}}
			}
			return d
		}
		return c1219.RegisterData{Total: blk(totals, true), Tiers: []c1219.DataBlock{blk(tiers[0], false), blk(tiers[1], false)}}.Encode(f, actRegs)
	})
	s.SetSource(c1219.ST52, func() []byte {
		now := m.clock()
		return c1219.Clock{Time: now, Qual: c1219.QualFor(now)}.Encode(f)
	})
	s.Set(c1219.ST61, actLP.Encode(f))
	s.Set(c1219.ST62, lpCtl.Encode(f, actLP))
	s.Set(c1219.ST63, c1219.EncodeST63([]c1219.LPSetStatus{{Flags: c1219.ListCircular | c1219.LPActive, NbrValidBlks: 2, LastBlock: 1,
		LastBlockSeq: 1, NbrUnread: 2, NbrValidInt: uint16(m.valid1)}}, f, actLP))
	var data c1219.LPData
	for b := range 3 {
		blk := c1219.LPBlock{End: m.day0.AddDate(0, 0, b+1), EndReadings: make([]c1219.EndReading, 4)}
		if b == 1 {
			blk.End = m.day0.AddDate(0, 0, 1).Add(time.Duration(m.valid1) * 15 * time.Minute)
		}
		for i := range 96 {
			in := c1219.LPInterval{Status: c1219.NewExtStatus(4, 0, 0, 0, 0, 0)}
			if b < 2 {
				for ch := range 4 {
					in.Values = append(in.Values, float64(m.profile[b][i][ch]))
				}
			} else {
				in.Values = make([]float64, 4)
			}
			if b == 0 && i == m.skipped {
				in.Status = c1219.NewExtStatus(4, 0, c1219.ChanSkipped, c1219.ChanSkipped, c1219.ChanSkipped, c1219.ChanSkipped)
			}
			if b == 0 && i == m.powerOut {
				in.Status = c1219.NewExtStatus(4, c1219.IntPowerFail, c1219.ChanPartial, 0, 0, 0)
			}
			blk.Intervals = append(blk.Intervals, in)
		}
		data.Blocks = append(data.Blocks, blk)
	}
	s.Set(c1219.ST64, data.Encode(f, actLP, lpCtl, 1))
	s.Set(c1219.ST71, actLog.Encode(f))
	entries := make([]c1219.LogEntry, 8)
	entries[0] = c1219.LogEntry{Time: m.day0.Add(10 * time.Hour), Seq: 1, Code: c1219.EventPowerDown}
	entries[1] = c1219.LogEntry{Time: m.day0.Add(10*time.Hour + 15*time.Minute), Seq: 2, Code: c1219.EventPowerUp}
	entries[2] = c1219.LogEntry{Time: m.day0.Add(30 * time.Hour), Seq: 3, Code: c1219.EventTamper}
	s.Set(c1219.ST76, c1219.LogData{Flags: c1219.ListCircular, NbrValid: 3, LastElement: 2, LastSeq: 3, Entries: entries}.EncodeST76(f, actLog))
	s.HandleProc(c1219.SPRemoteReset, c1219.LevelPublic, func(req c1219.ProcInitiate) (c1219.Result, []byte) {
		r, err := c1219.DecodeRemoteReset(req.Params)
		if err != nil || !r.Demand {
			return c1219.ResultInvalidParam, nil
		}
		m.mu.Lock()
		m.resets++
		m.mu.Unlock()
		return c1219.ResultCompleted, nil
	})
	s.HandleProc(c1219.SPSetDateTime, c1219.LevelPublic, func(req c1219.ProcInitiate) (c1219.Result, []byte) {
		p, err := c1219.DecodeSetDateTime(req.Params, f)
		if err != nil || p.Mask&(c1219.SetDate|c1219.SetTime) != c1219.SetDate|c1219.SetTime {
			return c1219.ResultInvalidParam, nil
		}
		m.mu.Lock()
		m.offset = p.Time.Sub(m.now())
		m.mu.Unlock()
		return c1219.ResultCompleted, nil
	})
	s.HandleProc(c1219.MPServiceSwitch, c1219.LevelPublic, func(req c1219.ProcInitiate) (c1219.Result, []byte) {
		if len(req.Params) != 1 || req.Params[0] > byte(c1219.SwitchArm) {
			return c1219.ResultInvalidParam, nil
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		m.switchS = map[c1219.SwitchAction]c1219.SwitchState{c1219.SwitchDisconnect: c1219.SwitchOpen, c1219.SwitchConnect: c1219.SwitchClosed,
			c1219.SwitchArm: c1219.SwitchArmed}[c1219.SwitchAction(req.Params[0])]
		return c1219.ResultCompleted, []byte{byte(m.switchS)}
	})
	m.osgp = &osgp.Meter{Keys: k, Tables: s, Guard: &osgp.Guard{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = m.osgp.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	m.addr = ln.Addr().String()
	return m
}

// clock is the meter's clock: UTC, to the second.
func (m *testMeter) clock() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now().Add(m.offset).UTC().Truncate(time.Second)
}

// intervalEnd is the end of interval i of block b.
func (m *testMeter) intervalEnd(b, i int) time.Time {
	return m.day0.AddDate(0, 0, b).Add(time.Duration(i+1) * 15 * time.Minute)
}
