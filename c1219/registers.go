package c1219

import (
	"time"
)

// REG_FUNC1_FLAGS of ST21.
const (
	RegSeasonInfo      = 1 << 0
	RegDateTime        = 1 << 1
	RegDemandResetCtr  = 1 << 2
	RegDemandResetLock = 1 << 3
	RegCumDemand       = 1 << 4
	RegContCumDemand   = 1 << 5
	RegTimeRemaining   = 1 << 6
)

// REG_FUNC2_FLAGS of ST21.
const (
	RegSelfReadInhibitOverflow = 1 << 0
	RegSelfReadSeqNbr          = 1 << 1
	RegDailySelfRead           = 1 << 2
	RegWeeklySelfRead          = 1 << 3
	// bits 4..5: SELF_READ_DEMAND_RESET, 1 self read on demand reset,
	// 2 demand reset on self read, 3 both
)

// ActRegs is ST21, ACT_REGS_TBL: the dimensions of ST22..ST28.
type ActRegs struct {
	Func1, Func2      uint8 // REG_FUNC1_FLAGS, REG_FUNC2_FLAGS
	NbrSelfReads      uint8
	NbrSummations     uint8
	NbrDemands        uint8
	NbrCoinValues     uint8
	NbrOccur          uint8
	NbrTiers          uint8
	NbrPresentDemands uint8
	NbrPresentValues  uint8
}

// DecodeST21 decodes ACT_REGS_TBL.
func DecodeST21(b []byte, f Format) (ActRegs, error) {
	var a ActRegs
	r := newReader(b, f, ST21)
	a.Func1 = r.u8("REG_FUNC1_FLAGS")
	a.Func2 = r.u8("REG_FUNC2_FLAGS")
	a.NbrSelfReads = r.u8("NBR_SELF_READS")
	a.NbrSummations = r.u8("NBR_SUMMATIONS")
	a.NbrDemands = r.u8("NBR_DEMANDS")
	a.NbrCoinValues = r.u8("NBR_COIN_VALUES")
	a.NbrOccur = r.u8("NBR_OCCUR")
	a.NbrTiers = r.u8("NBR_TIERS")
	a.NbrPresentDemands = r.u8("NBR_PRESENT_DEMANDS")
	a.NbrPresentValues = r.u8("NBR_PRESENT_VALUES")
	return a, r.end()
}

// Encode is ST21's octets.
func (a ActRegs) Encode(f Format) []byte {
	return []byte{a.Func1, a.Func2, a.NbrSelfReads, a.NbrSummations, a.NbrDemands, a.NbrCoinValues, a.NbrOccur,
		a.NbrTiers, a.NbrPresentDemands, a.NbrPresentValues}
}

// DataSelection is ST22, DATA_SELECTION_TBL: which ST16 source each
// summation, demand and coincident value of ST23 holds (0xFF for none).
type DataSelection struct {
	Summations []uint8 // SUMMATION_SELECT
	Demands    []uint8 // DEMAND_SELECT
	MinOrMax   Set     // MIN_OR_MAX_FLAGS: element i set for a maximum demand
	Coincident []uint8 // COINCIDENT_SELECT
	CoinDemand []uint8 // COIN_DEMAND_ASSOC: the demand each coincident value goes with
}

// DecodeST22 decodes DATA_SELECTION_TBL per ST21.
func DecodeST22(b []byte, f Format, a ActRegs) (DataSelection, error) {
	var d DataSelection
	r := newReader(b, f, ST22)
	d.Summations = r.bytes(int(a.NbrSummations), "SUMMATION_SELECT")
	d.Demands = r.bytes(int(a.NbrDemands), "DEMAND_SELECT")
	d.MinOrMax = r.set(setOctets(int(a.NbrDemands)), "MIN_OR_MAX_FLAGS")
	d.Coincident = r.bytes(int(a.NbrCoinValues), "COINCIDENT_SELECT")
	d.CoinDemand = r.bytes(int(a.NbrCoinValues), "COIN_DEMAND_ASSOC")
	return d, r.end()
}

// Encode is ST22's octets per ST21.
func (d DataSelection) Encode(f Format, a ActRegs) []byte {
	w := newWriter(f)
	w.fixed(d.Summations, int(a.NbrSummations))
	w.fixed(d.Demands, int(a.NbrDemands))
	w.set(d.MinOrMax, setOctets(int(a.NbrDemands)))
	w.fixed(d.Coincident, int(a.NbrCoinValues))
	w.fixed(d.CoinDemand, int(a.NbrCoinValues))
	return w.b
}

// Demand is one DEMANDS_RCD: the times and values of the NBR_OCCUR
// highest (or lowest) demands, and the cumulative demands.
type Demand struct {
	EventTimes []time.Time // STIME_DATE, with RegDateTime
	CumDemand  float64     // NI_FMAT1, with RegCumDemand
	ContCum    float64     // NI_FMAT1, with RegContCumDemand
	Values     []float64   // NI_FMAT2
}

// DataBlock is DATA_BLK_RCD: the summations (energy), demands and
// coincident values of the total or of one tier.
type DataBlock struct {
	Summations []float64 // NI_FMAT1
	Demands    []Demand
	Coincident [][]float64 // NBR_COIN_VALUES arrays of NBR_OCCUR NI_FMAT2
}

// RegisterData is REGISTER_DATA_RCD, the body of ST23 (and of ST24,
// ST25 and each ST26 entry).
type RegisterData struct {
	NbrDemandResets uint8 // with RegDemandResetCtr
	Total           DataBlock
	Tiers           []DataBlock // NBR_TIERS
}

// DecodeST23 decodes CURRENT_REG_DATA_TBL per ST21.
func DecodeST23(b []byte, f Format, a ActRegs) (RegisterData, error) {
	r := newReader(b, f, ST23)
	if !r.need(registerDataSize(f, a), "REGISTER_DATA") {
		return RegisterData{}, r.err
	}
	d := r.registerData(a)
	return d, r.end()
}

// Encode is ST23's octets per ST21.
func (d RegisterData) Encode(f Format, a ActRegs) []byte {
	w := newWriter(f)
	w.registerData(d, a)
	return w.b
}

func blockSize(f Format, a ActRegs) int {
	n1, n2 := f.NI1.Size(), f.NI2.Size()
	occ := int(a.NbrOccur)
	dem := occ * n2
	if a.Func1&RegDateTime != 0 {
		dem += occ * f.STimeSize()
	}
	if a.Func1&RegCumDemand != 0 {
		dem += n1
	}
	if a.Func1&RegContCumDemand != 0 {
		dem += n1
	}
	return int(a.NbrSummations)*n1 + int(a.NbrDemands)*dem + int(a.NbrCoinValues)*occ*n2
}

func registerDataSize(f Format, a ActRegs) int {
	n := (1 + int(a.NbrTiers)) * blockSize(f, a)
	if a.Func1&RegDemandResetCtr != 0 {
		n++
	}
	return n
}

func (r *reader) registerData(a ActRegs) RegisterData {
	var d RegisterData
	if a.Func1&RegDemandResetCtr != 0 {
		d.NbrDemandResets = r.u8("NBR_DEMAND_RESETS")
	}
	d.Total = r.dataBlock(a, "TOT_DATA_BLOCK")
	for i := 0; i < int(a.NbrTiers) && r.err == nil; i++ {
		d.Tiers = append(d.Tiers, r.dataBlock(a, "TIER_DATA_BLOCK"))
	}
	return d
}

func (r *reader) dataBlock(a ActRegs, field string) DataBlock {
	var b DataBlock
	occ := int(a.NbrOccur)
	for i := 0; i < int(a.NbrSummations) && r.err == nil; i++ {
		b.Summations = append(b.Summations, r.ni(r.f.NI1, field+".SUMMATIONS"))
	}
	for i := 0; i < int(a.NbrDemands) && r.err == nil; i++ {
		var d Demand
		if a.Func1&RegDateTime != 0 {
			for j := 0; j < occ; j++ {
				d.EventTimes = append(d.EventTimes, r.stime(field+".DEMANDS.EVENT_TIME"))
			}
		}
		if a.Func1&RegCumDemand != 0 {
			d.CumDemand = r.ni(r.f.NI1, field+".DEMANDS.CUM_DEMAND")
		}
		if a.Func1&RegContCumDemand != 0 {
			d.ContCum = r.ni(r.f.NI1, field+".DEMANDS.CONT_CUM_DEMAND")
		}
		for j := 0; j < occ; j++ {
			d.Values = append(d.Values, r.ni(r.f.NI2, field+".DEMANDS.DEMAND"))
		}
		b.Demands = append(b.Demands, d)
	}
	for i := 0; i < int(a.NbrCoinValues) && r.err == nil; i++ {
		var c []float64
		for j := 0; j < occ; j++ {
			c = append(c, r.ni(r.f.NI2, field+".COINCIDENTS"))
		}
		b.Coincident = append(b.Coincident, c)
	}
	return b
}

func (w *writer) registerData(d RegisterData, a ActRegs) {
	if a.Func1&RegDemandResetCtr != 0 {
		w.u8(d.NbrDemandResets)
	}
	w.dataBlock(d.Total, a)
	for i := 0; i < int(a.NbrTiers); i++ {
		w.dataBlock(at(d.Tiers, i), a)
	}
}

func (w *writer) dataBlock(b DataBlock, a ActRegs) {
	occ := int(a.NbrOccur)
	for i := 0; i < int(a.NbrSummations); i++ {
		w.ni(at(b.Summations, i), w.f.NI1)
	}
	for i := 0; i < int(a.NbrDemands); i++ {
		d := at(b.Demands, i)
		if a.Func1&RegDateTime != 0 {
			for j := 0; j < occ; j++ {
				w.stime(at(d.EventTimes, j))
			}
		}
		if a.Func1&RegCumDemand != 0 {
			w.ni(d.CumDemand, w.f.NI1)
		}
		if a.Func1&RegContCumDemand != 0 {
			w.ni(d.ContCum, w.f.NI1)
		}
		for j := 0; j < occ; j++ {
			w.ni(at(d.Values, j), w.f.NI2)
		}
	}
	for i := 0; i < int(a.NbrCoinValues); i++ {
		c := at(b.Coincident, i)
		for j := 0; j < occ; j++ {
			w.ni(at(c, j), w.f.NI2)
		}
	}
}

// PrevDemandReset is ST25, PREVIOUS_DEMAND_RESET_DATA_TBL: the registers
// as they were at the last demand reset (ST24, the previous season's, has
// the same layout).
type PrevDemandReset struct {
	EndTime time.Time // END_DATE_TIME (STIME_DATE), with RegDateTime
	Season  uint8     // with RegSeasonInfo
	Data    RegisterData
}

// DecodeST25 decodes PREVIOUS_DEMAND_RESET_DATA_TBL per ST21.
func DecodeST25(b []byte, f Format, a ActRegs) (PrevDemandReset, error) {
	return decodePrev(b, f, a, ST25)
}

// DecodeST24 decodes PREVIOUS_SEASON_DATA_TBL per ST21.
func DecodeST24(b []byte, f Format, a ActRegs) (PrevDemandReset, error) {
	return decodePrev(b, f, a, ST24)
}

func decodePrev(b []byte, f Format, a ActRegs, t TableID) (PrevDemandReset, error) {
	var p PrevDemandReset
	r := newReader(b, f, t)
	if a.Func1&RegDateTime != 0 {
		p.EndTime = r.stime("END_DATE_TIME")
	}
	if a.Func1&RegSeasonInfo != 0 {
		p.Season = r.u8("SEASON")
	}
	if !r.need(registerDataSize(f, a), "REGISTER_DATA") {
		return p, r.err
	}
	p.Data = r.registerData(a)
	return p, r.end()
}

// Encode is ST25's (or ST24's) octets per ST21.
func (p PrevDemandReset) Encode(f Format, a ActRegs) []byte {
	w := newWriter(f)
	if a.Func1&RegDateTime != 0 {
		w.stime(p.EndTime)
	}
	if a.Func1&RegSeasonInfo != 0 {
		w.u8(p.Season)
	}
	w.registerData(p.Data, a)
	return w.b
}

// List flags, the LIST_STATUS, HIST_FLAGS, EVENT_FLAGS and
// LP_SET_STATUS_FLAGS of the list tables (ST26, ST63, ST74, ST76).
const (
	ListDescending      = 1 << 0 // ORDER: entry N newer than N+1
	ListOverflow        = 1 << 1
	ListCircular        = 1 << 2 // LIST_TYPE: circular rather than FIFO
	ListInhibitOverflow = 1 << 3
)

// SelfReads is ST26, SELF_READ_DATA_TBL.
type SelfReads struct {
	Flags       uint8 // LIST_STATUS
	NbrValid    uint8
	LastElement uint8
	LastSeq     uint16
	NbrUnread   uint8
	Entries     []SelfRead // NBR_SELF_READS
}

// SelfRead is one SELF_READ_DATA_RCD.
type SelfRead struct {
	Seq     uint16    // SELF_READ_SEQ_NBR, with RegSelfReadSeqNbr (in Func2)
	EndTime time.Time // STIME_DATE, with RegDateTime
	Season  uint8     // with RegSeasonInfo
	Data    RegisterData
}

func selfReadSize(f Format, a ActRegs) int {
	n := registerDataSize(f, a)
	if a.Func2&RegSelfReadSeqNbr != 0 {
		n += 2
	}
	if a.Func1&RegDateTime != 0 {
		n += f.STimeSize()
	}
	if a.Func1&RegSeasonInfo != 0 {
		n++
	}
	return n
}

// DecodeST26 decodes SELF_READ_DATA_TBL per ST21.
func DecodeST26(b []byte, f Format, a ActRegs) (SelfReads, error) {
	var s SelfReads
	r := newReader(b, f, ST26)
	s.Flags = r.u8("LIST_STATUS")
	s.NbrValid = r.u8("NBR_VALID_ENTRIES")
	s.LastElement = r.u8("LAST_ENTRY_ELEMENT")
	s.LastSeq = r.u16("LAST_ENTRY_SEQ_NUMBER")
	s.NbrUnread = r.u8("NBR_UNREAD_ENTRIES")
	if !r.need(int(a.NbrSelfReads)*selfReadSize(f, a), "SELF_READS") {
		return s, r.err
	}
	for i := 0; i < int(a.NbrSelfReads) && r.err == nil; i++ {
		var e SelfRead
		if a.Func2&RegSelfReadSeqNbr != 0 {
			e.Seq = r.u16("SELF_READS.SELF_READ_SEQ_NBR")
		}
		if a.Func1&RegDateTime != 0 {
			e.EndTime = r.stime("SELF_READS.END_DATE_TIME")
		}
		if a.Func1&RegSeasonInfo != 0 {
			e.Season = r.u8("SELF_READS.SEASON")
		}
		e.Data = r.registerData(a)
		s.Entries = append(s.Entries, e)
	}
	return s, r.end()
}

// Encode is ST26's octets per ST21.
func (s SelfReads) Encode(f Format, a ActRegs) []byte {
	w := newWriter(f)
	w.u8(s.Flags)
	w.u8(s.NbrValid)
	w.u8(s.LastElement)
	w.u16(s.LastSeq)
	w.u8(s.NbrUnread)
	for i := 0; i < int(a.NbrSelfReads); i++ {
		e := at(s.Entries, i)
		if a.Func2&RegSelfReadSeqNbr != 0 {
			w.u16(e.Seq)
		}
		if a.Func1&RegDateTime != 0 {
			w.stime(e.EndTime)
		}
		if a.Func1&RegSeasonInfo != 0 {
			w.u8(e.Season)
		}
		w.registerData(e.Data, a)
	}
	return w.b
}

// PresentSelect is ST27, PRESENT_REGISTER_SELECT_TBL: the ST16 sources of
// ST28's present demands and present values.
type PresentSelect struct {
	Demands []uint8
	Values  []uint8
}

// DecodeST27 decodes PRESENT_REGISTER_SELECT_TBL per ST21.
func DecodeST27(b []byte, f Format, a ActRegs) (PresentSelect, error) {
	var p PresentSelect
	r := newReader(b, f, ST27)
	p.Demands = r.bytes(int(a.NbrPresentDemands), "PRESENT_DEMAND_SELECT")
	p.Values = r.bytes(int(a.NbrPresentValues), "PRESENT_VALUE_SELECT")
	return p, r.end()
}

// Encode is ST27's octets per ST21.
func (p PresentSelect) Encode(f Format, a ActRegs) []byte {
	w := newWriter(f)
	w.fixed(p.Demands, int(a.NbrPresentDemands))
	w.fixed(p.Values, int(a.NbrPresentValues))
	return w.b
}

// PresentData is ST28, PRESENT_REGISTER_DATA_TBL: demands of the running
// interval and instantaneous values.
type PresentData struct {
	Demands []PresentDemand
	Values  []float64 // NI_FMAT1
}

// PresentDemand is one PRESENT_DEMAND_RCD.
type PresentDemand struct {
	TimeRemaining time.Duration // TIME, with RegTimeRemaining
	Value         float64       // NI_FMAT2
}

// DecodeST28 decodes PRESENT_REGISTER_DATA_TBL per ST21.
func DecodeST28(b []byte, f Format, a ActRegs) (PresentData, error) {
	var p PresentData
	r := newReader(b, f, ST28)
	for i := 0; i < int(a.NbrPresentDemands) && r.err == nil; i++ {
		var d PresentDemand
		if a.Func1&RegTimeRemaining != 0 {
			d.TimeRemaining = r.timeOfDay("PRESENT_DEMAND.TIME_REMAINING")
		}
		d.Value = r.ni(f.NI2, "PRESENT_DEMAND.DEMAND_VALUE")
		p.Demands = append(p.Demands, d)
	}
	for i := 0; i < int(a.NbrPresentValues) && r.err == nil; i++ {
		p.Values = append(p.Values, r.ni(f.NI1, "PRESENT_VALUE"))
	}
	return p, r.end()
}

// Encode is ST28's octets per ST21.
func (p PresentData) Encode(f Format, a ActRegs) []byte {
	w := newWriter(f)
	for i := 0; i < int(a.NbrPresentDemands); i++ {
		d := at(p.Demands, i)
		if a.Func1&RegTimeRemaining != 0 {
			w.timeOfDay(d.TimeRemaining)
		}
		w.ni(d.Value, f.NI2)
	}
	for i := 0; i < int(a.NbrPresentValues); i++ {
		w.ni(at(p.Values, i), f.NI1)
	}
	return w.b
}
