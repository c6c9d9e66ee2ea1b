package sim

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/meter"
)

// The C12.19 table set every simulated C12.18, C12.22 and OSGP meter
// serves, computed from the meter model at each read. The data format is
// c1219.DefaultFormat (little endian, ISO 8859/1, TM_FORMAT 2, INT64 for
// the non-integer formats), and every time in the tables is UTC
// (TIME_DATE_QUAL says GMT): the meter's own drifting clock, read in UTC.
//
// Sources (ST11, ST12, ST16): 0 Wh delivered (Q1+Q4, the import register),
// 1 Wh received (Q2+Q3, export), 2 varh delivered (Q1+Q2), 3 varh received
// (Q3+Q4), 4 W block demand over the model's demand period. Registers are
// exact integers: multiplier 1 in ST15, no scalar or divisor.
//
// ST23 holds the four summations and the maximum demand (with its time)
// in the total block, and one tier block per tariff rate with the rate's
// Wh delivered and received (the model keeps no varh nor demand per rate:
// those read 0). ST25 is the registers at the last demand reset, ST26
// the last C12SelfReads midnight snapshots (the model's daily billing),
// ST28 the import and export power of the moment.

// C12SelfReads is how many daily self reads ST26 keeps.
const C12SelfReads = 7

// Sources of ST16, in the order above.
const (
	c12SrcWhDel = iota
	c12SrcWhRec
	c12SrcVarhDel
	c12SrcVarhRec
	c12SrcDemand
	c12Sources
)

// c12EventData is the octets of each event's argument: the model's own
// event code.
const c12EventData = 2

// c12Layout is the fixed part of a meter's table set: what the dimension
// tables say, shared by every meter of a fleet.
type c12Layout struct {
	f    c1219.Format
	gen  c1219.GenConfig
	src  c1219.Sources
	regs c1219.ActRegs
	lp   c1219.ActLP
	lpc  c1219.LPControl
	log  c1219.ActLog
	lay  lpLayout
}

func c12LayoutOf(model *meter.Fleet) c12Layout {
	f := c1219.DefaultFormat
	std := []int{0, 1, 3, 5, 7, 8, 11, 12, 13, 15, 16, 21, 22, 23, 25, 26, 27, 28, 51, 52, 61, 62, 63, 64, 71, 72, 73, 74, 75, 76}
	gen := c1219.GenConfig{Format: f, DeviceClass: [4]byte{'A', 'M', 'G', '1'}, NameplateType: c1219.NameplateElectric,
		MaxProcParmLen: 16, MaxRespDataLen: 16,
		// One octet of manufacturer status in ST3, all clear: readers
		// such as termineter take a shorter ST3 for a truncated one.
		DimMfgStatusUsed: 1,
		StdTablesUsed:    c1219.NewSet(10, std...), MfgTablesUsed: c1219.NewSet(0),
		StdProcUsed: c1219.NewSet(2, int(c1219.SPRemoteReset), int(c1219.SPSetDateTime)),
		MfgProcUsed: c1219.NewSet(2, int(c1219.MPServiceSwitch.Number())),
		// ST7 is written to run a procedure; nothing else is writable.
		StdTablesWrite: c1219.NewSet(10, int(c1219.ST7)), MfgTablesWrite: c1219.NewSet(0)}
	lay := lpLayoutOf(model)
	l := c12Layout{f: f, gen: gen, lay: lay,
		src: c1219.Sources{Flags: c1219.SrcBlockDemand | c1219.SrcNoOffset, NbrUOMEntries: c12Sources, NbrDemandCtrl: 1,
			NbrConstants: c12Sources, ConstantsSelector: c1219.ConstantsElectric, NbrSources: c12Sources},
		regs: c1219.ActRegs{Func1: c1219.RegDateTime | c1219.RegDemandResetCtr, NbrSelfReads: C12SelfReads,
			NbrSummations: 4, NbrDemands: 1, NbrOccur: 1, NbrTiers: 4, NbrPresentDemands: 1, NbrPresentValues: 2},
		lp: c1219.ActLP{Flags: c1219.LPBlkEndRead | c1219.LPExtendedIntStatus | c1219.LPSimpleIntStatus, Formats: c1219.IntFmtInt32,
			Sets: []c1219.LPSetDims{{Set: 1, NbrBlocks: uint16(lay.Blocks), NbrBlkInts: uint16(lay.Intervals), NbrChns: lpChannels,
				MaxIntTime: uint8(lay.Interval / time.Minute)}}},
		log: c1219.ActLog{NbrStdEvents: 7, EventDataLen: c12EventData, NbrEventEntries: c12LogCapacity},
	}
	var chans []c1219.LPChannel
	for k := range lpChannels {
		chans = append(chans, c1219.LPChannel{EndReading: true, Source: uint8(k), EndSource: uint8(k)})
	}
	l.lpc = c1219.LPControl{Sets: []c1219.LPSetControl{{Channels: chans, IntFmt: c1219.IntFmtInt32}}}
	l.lp.MemoryLen = uint32(c1219.LPBlockSize(f, l.lp, l.lpc, 1) * lay.Blocks)
	return l
}

// c12EventsLogged is the standard events the meters log (ST72, ST75).
var c12EventsLogged = []int{c12EventPowerDown, c12EventPowerUp, c12EventTimeChangedOld, c12EventTimeChangedNew,
	c12EventDemandReset, c12EventTamper, c12EventControlCommand}

// store builds the connection's table store over the model.
func (c *c12Meter) store() (*c1219.Store, c12Tables, error) {
	l := c12LayoutOf(c.m.Fleet())
	f := l.f
	s := c1219.NewStore(f)
	fw := [2]uint8{1, 3}
	model := "AMG-A"
	switch c.proto {
	case ProtocolC1222:
		model = "AMG-N"
	case ProtocolOSGP:
		model = "AMG-O"
	}
	if c.m.Phases() == 3 {
		model += "3"
	} else {
		model += "1"
	}
	s.Set(c1219.ST0, l.gen.Encode())
	s.Set(c1219.ST1, c1219.MfgID{Manufacturer: Manufacturer, Model: model, HWVersion: 1, HWRevision: 0,
		FWVersion: fw[0], FWRevision: fw[1], SerialNo: c.serial}.Encode(f))
	s.SetSource(c1219.ST3, func() []byte {
		st := c1219.ModeStatus{Mode: c1219.ModeMetering}
		c.with(func(m *meter.Meter, now time.Time) {
			if ts := m.Tamper(now); ts.MagneticField || ts.TerminalCoverOpen || ts.MeterCoverOpen {
				st.StdStatus |= c1219.StatusTamperDetect
			}
		})
		return st.Encode(f, l.gen)
	})
	s.Set(c1219.ST5, c1219.DeviceIdent{ID: c.serial}.Encode(f))
	s.Set(c1219.ST11, l.src.Encode(f))
	quads := [c12Sources]uint8{0b1001, 0b0110, 0b0011, 0b1100, 0b1001}
	uoms := []c1219.UOM{
		c1219.NewUOM(c1219.UOMActivePower, c1219.TimeBaseBulk, 0, quads[0], false),
		c1219.NewUOM(c1219.UOMActivePower, c1219.TimeBaseBulk, 0, quads[1], false),
		c1219.NewUOM(c1219.UOMReactivePower, c1219.TimeBaseBulk, 0, quads[2], false),
		c1219.NewUOM(c1219.UOMReactivePower, c1219.TimeBaseBulk, 0, quads[3], false),
		c1219.NewUOM(c1219.UOMActivePower, c1219.TimeBaseBlockDemand, 0, quads[4], false),
	}
	s.Set(c1219.ST12, c1219.EncodeST12(uoms, f, l.src))
	s.Set(c1219.ST13, c1219.DemandControl{Intervals: []c1219.DemandInterval{{IntLength: uint16(c.m.Fleet().DemandPeriod / time.Minute)}}}.Encode(f, l.src))
	consts := make([]c1219.ElecConstants, c12Sources)
	links := make([]uint8, c12Sources)
	for k := range consts {
		consts[k].Multiplier = 1
		links[k] = c1219.LinkUOMEntry | c1219.LinkConstants | c1219.LinkEngineering | c1219.LinkConstsApplied
	}
	links[c12SrcDemand] |= c1219.LinkDemandCtrl
	s.Set(c1219.ST15, c1219.EncodeST15(consts, f, l.src))
	s.Set(c1219.ST16, c1219.EncodeST16(links, f, l.src))

	s.Set(c1219.ST21, l.regs.Encode(f))
	s.Set(c1219.ST22, c1219.DataSelection{Summations: []uint8{c12SrcWhDel, c12SrcWhRec, c12SrcVarhDel, c12SrcVarhRec},
		Demands: []uint8{c12SrcDemand}, MinOrMax: c1219.NewSet(1, 0)}.Encode(f, l.regs))
	s.SetSource(c1219.ST23, func() []byte {
		var d c1219.RegisterData
		c.with(func(m *meter.Meter, now time.Time) {
			d = registerData(m.RegistersAt(now), m.MaxDemand(now))
			d.NbrDemandResets = uint8(c.resets())
		})
		return d.Encode(f, l.regs)
	})
	s.SetIndexer(c1219.ST23, c1219.ShapeST23(f, l.regs).Indexer())
	s.SetSource(c1219.ST25, func() []byte {
		p := c.lastReset()
		return p.Encode(f, l.regs)
	})
	s.SetSource(c1219.ST26, func() []byte {
		var sr c1219.SelfReads
		c.with(func(m *meter.Meter, now time.Time) { sr = selfReads(m, now) })
		return sr.Encode(f, l.regs)
	})
	s.Set(c1219.ST27, c1219.PresentSelect{Demands: []uint8{c12SrcDemand}, Values: []uint8{c12SrcWhDel, c12SrcWhRec}}.Encode(f, l.regs))
	s.SetSource(c1219.ST28, func() []byte {
		var p c1219.PresentData
		c.with(func(m *meter.Meter, now time.Time) {
			in := m.Instant(now)
			p = c1219.PresentData{Demands: []c1219.PresentDemand{{Value: float64(in.ImportW)}},
				Values: []float64{float64(in.ImportW), float64(in.ExportW)}}
		})
		return p.Encode(f, l.regs)
	})

	s.Set(c1219.ST51, c1219.ActTimeTOU{}.Encode(f))
	s.SetSource(c1219.ST52, func() []byte {
		var t time.Time
		c.with(func(m *meter.Meter, now time.Time) { t = m.Clock(now) })
		return c1219.Clock{Time: t, Qual: c1219.QualFor(t)}.Encode(f)
	})

	s.Set(c1219.ST61, l.lp.Encode(f))
	s.Set(c1219.ST62, l.lpc.Encode(f, l.lp))
	s.SetSource(c1219.ST63, func() []byte {
		return c1219.EncodeST63([]c1219.LPSetStatus{c.lpStatusNow(l)}, f, l.lp)
	})
	s.SetSource(c1219.ST64, func() []byte { return c.profile(l) })
	s.SetIndexer(c1219.ST64, c1219.ShapeST64(f, l.lp, l.lpc, 1).Indexer())

	s.Set(c1219.ST71, l.log.Encode(f))
	logged := c1219.NewSet(int(l.log.NbrStdEvents), c12EventsLogged...)
	s.Set(c1219.ST72, c1219.EventsID{Std: logged, Mfg: c1219.NewSet(0)}.Encode(f, l.log))
	s.Set(c1219.ST73, c1219.LogControl{}.Encode(f, l.gen, l.log))
	s.Set(c1219.ST74, c1219.LogData{Flags: c1219.ListCircular}.EncodeST74(f, l.log))
	s.Set(c1219.ST75, c1219.LogControl{StdEvents: logged}.Encode(f, l.gen, l.log))
	s.SetSource(c1219.ST76, func() []byte {
		var evs []c12Event
		c.with(func(m *meter.Meter, now time.Time) { evs = c.events(m, now) })
		return eventLog(evs, f).EncodeST76(f, l.log)
	})
	s.SetIndexer(c1219.ST76, c1219.ShapeST76(f, l.log).Indexer())

	s.HandleProc(c1219.SPRemoteReset, c1219.LevelMaster, c.remoteReset)
	s.HandleProc(c1219.SPSetDateTime, c1219.LevelMaster, c.setDateTime)
	s.HandleProc(c1219.MPServiceSwitch, c1219.LevelMaster, c.serviceSwitch)
	return s, c12Tables{Store: s, c: c, l: l}, nil
}

// registerData is ST23's body for the model's registers and demand.
func registerData(r meter.Registers, md meter.Demand) c1219.RegisterData {
	d := c1219.RegisterData{Total: c1219.DataBlock{
		Summations: []float64{float64(r.Import), float64(r.Export), float64(r.ImportVarh), float64(r.ExportVarh)},
		Demands:    []c1219.Demand{{EventTimes: []time.Time{md.At}, Values: []float64{float64(md.MaxW)}}},
	}}
	for k := range 4 {
		d.Tiers = append(d.Tiers, c1219.DataBlock{
			Summations: []float64{float64(r.ImportRate[k]), float64(r.ExportRate[k]), 0, 0},
			Demands:    []c1219.Demand{{EventTimes: []time.Time{{}}, Values: []float64{0}}},
		})
	}
	return d
}

// selfReads is ST26: the last C12SelfReads midnight snapshots, oldest
// first, numbered by their day since the installation.
func selfReads(m *meter.Meter, now time.Time) c1219.SelfReads {
	f := m.Fleet()
	bs := m.DailyBilling(now, now.AddDate(0, 0, -C12SelfReads-1), m.Clock(now))
	if len(bs) > C12SelfReads {
		bs = bs[len(bs)-C12SelfReads:]
	}
	var sr c1219.SelfReads
	for _, b := range bs {
		sr.Entries = append(sr.Entries, c1219.SelfRead{EndTime: b.Stamp, Data: registerData(b.Registers, meter.Demand{})})
	}
	sr.NbrValid, sr.NbrUnread = uint8(len(bs)), uint8(len(bs))
	if n := len(bs); n > 0 {
		sr.LastElement = uint8(n - 1)
		sr.LastSeq = uint16(bs[n-1].Stamp.Sub(f.Install) / (24 * time.Hour))
	}
	return sr
}

// eventLog is ST76 for the log's events: a circular list whose element
// for sequence number n is (n-1) mod its capacity.
func eventLog(evs []c12Event, f c1219.Format) c1219.LogData {
	d := c1219.LogData{Flags: c1219.ListCircular, Entries: make([]c1219.LogEntry, c12LogCapacity)}
	for _, e := range evs {
		arg := make([]byte, c12EventData)
		if f.BigEndian {
			binary.BigEndian.PutUint16(arg, e.Arg)
		} else {
			binary.LittleEndian.PutUint16(arg, e.Arg)
		}
		d.Entries[(e.Seq-1)%c12LogCapacity] = c1219.LogEntry{Time: e.Time, Seq: uint16(e.Seq), Code: c1219.Event(e.Code), Arg: arg}
	}
	if n := len(evs); n > 0 {
		last := evs[n-1].Seq
		d.NbrValid, d.NbrUnread = uint16(n), uint16(n)
		d.LastElement, d.LastSeq = uint16((last-1)%c12LogCapacity), last
	}
	return d
}

// extent is where the meter's load profile list stands now.
func (c *c12Meter) extent() lpExtent {
	var x lpExtent
	c.with(func(m *meter.Meter, now time.Time) { x = lpExtentOf(m, now) })
	return x
}

// lpStatus is ST63's status of load profile set 1.
func (c *c12Meter) lpStatusNow(l c12Layout) c1219.LPSetStatus {
	st := c.extent().status(l.lay)
	return c1219.LPSetStatus{Flags: c1219.ListCircular | c1219.LPActive, NbrValidBlks: uint16(st.ValidBlocks), LastBlock: uint16(st.LastElement),
		LastBlockSeq: st.LastSeq, NbrUnread: uint16(st.UnreadBlocks), NbrValidInt: uint16(st.ValidInts)}
}

// profile is ST64's whole image, recomputed only when an interval has
// completed since the last time.
func (c *c12Meter) profile(l c12Layout) []byte {
	x := c.extent()
	if c.lp != nil && x.k == c.lpKey {
		return c.lp
	}
	c.lp, c.lpKey = c.lpElements(l, x, 0, l.lay.Blocks-1), x.k
	return c.lp
}

// lpElements is the octets of elements e0..e1 of ST64's circular list of
// blocks, computing only the blocks they hold.
func (c *c12Meter) lpElements(l c12Layout, x lpExtent, e0, e1 int) []byte {
	data := c1219.LPData{Blocks: make([]c1219.LPBlock, e1-e0+1)}
	var blocks []lpBlock
	c.with(func(m *meter.Meter, now time.Time) {
		// The elements' blocks, in runs of consecutive sequence numbers
		// (the list wraps around once at most).
		lo, prev := int64(-1), int64(-1)
		for e := e0; e <= e1+1; e++ {
			seq, ok := x.seqAt(e, l.lay)
			if e <= e1 && ok && (lo < 0 || seq == prev+1) {
				if lo < 0 {
					lo = seq
				}
				prev = seq
				continue
			}
			if lo >= 0 {
				blocks = append(blocks, profile(m, now, x, lo, prev)...)
			}
			lo, prev = -1, -1
			if e <= e1 && ok {
				lo, prev = seq, seq
			}
		}
	})
	for _, b := range blocks {
		e := int(int64(b.Seq) % int64(l.lay.Blocks))
		if e >= e0 && e <= e1 {
			data.Blocks[e-e0] = lpBlockOf(b, l.lay)
		}
	}
	return data.EncodeBlocks(l.f, l.lp, l.lpc, 1, e1-e0+1)
}

// lpBlockOf is a block as ST64 carries it.
func lpBlockOf(b lpBlock, lay lpLayout) c1219.LPBlock {
	blk := c1219.LPBlock{End: b.End, Simple: c1219.NewSet((lay.Intervals + 7) / 8)}
	for k := range lpChannels {
		blk.EndReadings = append(blk.EndReadings, c1219.EndReading{Value: float64(b.Readings[k])})
	}
	for j, iv := range b.Intervals {
		common, ch := intervalStatus(iv, j < b.Written)
		if iv.Valid {
			blk.Simple.Add(j)
		}
		vals := make([]float64, lpChannels)
		for k := range lpChannels {
			vals[k] = float64(min(iv.Values[k], math.MaxInt32))
		}
		blk.Intervals = append(blk.Intervals, c1219.LPInterval{Status: c1219.NewExtStatus(lpChannels, common, ch, ch, ch, ch), Values: vals})
	}
	return blk
}

// c12Tables is a meter's table store as its sessions see it: offset reads
// of the load profile compute only the blocks they reach (a head-end
// reads the few after its cursor, not the whole history); everything
// else is the store's.
type c12Tables struct {
	*c1219.Store
	c *c12Meter
	l c12Layout
}

// ReadOffset implements psem.Tables.
func (t c12Tables) ReadOffset(id uint16, offset uint32, count uint16) ([]byte, error) {
	if c1219.TableID(id) != c1219.ST64 {
		return t.Store.ReadOffset(id, offset, count)
	}
	bs := c1219.LPBlockSize(t.l.f, t.l.lp, t.l.lpc, 1)
	end := uint64(offset) + uint64(count)
	if count == 0 || end > uint64(bs*t.l.lay.Blocks) {
		return t.Store.ReadOffset(id, offset, count) // the store's answer to an empty or outlying range
	}
	e0, e1 := int(offset)/bs, int(end-1)/bs
	img := t.c.lpElements(t.l, t.c.extent(), e0, e1)
	rel := int(offset) - e0*bs
	return img[rel : rel+int(count)], nil
}

// intervalStatus maps the model's profile status to C12.19's extended
// interval status: the common flags (DST, power failure) and one status
// for every channel. The interval after a power cut holds the energy since
// the last capture before it, a long interval; one with the clock set in
// it is partial; one the meter had no power to capture is skipped.
func intervalStatus(iv lpInterval, written bool) (common, channel uint8) {
	if !written {
		return 0, c1219.ChanOK
	}
	if !iv.Valid {
		return 0, c1219.ChanSkipped
	}
	if iv.Status&meter.StatusDST != 0 {
		common |= c1219.IntDST
	}
	switch {
	case iv.Status&meter.StatusPowerDown != 0:
		common |= c1219.IntPowerFail
		channel = c1219.ChanLong
	case iv.Status&(meter.StatusClockAdjusted|meter.StatusDataNotValid) != 0:
		channel = c1219.ChanPartial
	}
	return common, channel
}
