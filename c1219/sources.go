package c1219

// SOURCE_FLAGS of ST11.
const (
	SrcPFExclude     = 1 << 0
	SrcResetExclude  = 1 << 1
	SrcBlockDemand   = 1 << 2
	SrcSlidingDemand = 1 << 3
	SrcThermalDemand = 1 << 4
	SrcSet1Present   = 1 << 5
	SrcSet2Present   = 1 << 6
	SrcNoOffset      = 1 << 7
)

// Sources is ST11, ACT_SOURCES_LIM_TBL: the dimensions of ST12..ST16.
type Sources struct {
	Flags             uint8 // SOURCE_FLAGS
	NbrUOMEntries     uint8
	NbrDemandCtrl     uint8
	DataCtrlLength    uint8
	NbrDataCtrl       uint8
	NbrConstants      uint8
	ConstantsSelector uint8 // 2: ELECTRIC_CONSTANTS_RCD
	NbrSources        uint8
}

// ConstantsElectric is the ST11 CONSTANTS_SELECTOR of electricity
// constants records.
const ConstantsElectric = 2

// DecodeST11 decodes ACT_SOURCES_LIM_TBL.
func DecodeST11(b []byte, f Format) (Sources, error) {
	var s Sources
	r := newReader(b, f, ST11)
	s.Flags = r.u8("SOURCE_FLAGS")
	s.NbrUOMEntries = r.u8("NBR_UOM_ENTRIES")
	s.NbrDemandCtrl = r.u8("NBR_DEMAND_CTRL_ENTRIES")
	s.DataCtrlLength = r.u8("DATA_CTRL_LENGTH")
	s.NbrDataCtrl = r.u8("NBR_DATA_CTRL_ENTRIES")
	s.NbrConstants = r.u8("NBR_CONSTANTS_ENTRIES")
	s.ConstantsSelector = r.u8("CONSTANTS_SELECTOR")
	s.NbrSources = r.u8("NBR_SOURCES")
	return s, r.end()
}

// Encode is ST11's octets.
func (s Sources) Encode(f Format) []byte {
	return []byte{s.Flags, s.NbrUOMEntries, s.NbrDemandCtrl, s.DataCtrlLength, s.NbrDataCtrl, s.NbrConstants,
		s.ConstantsSelector, s.NbrSources}
}

// UOM is one UOM_ENTRY_BFLD of ST12, a UINT32 of fields.
type UOM uint32

// UOM ID_CODE values amigo uses.
const (
	UOMActivePower   = 0  // W (Wh with TimeBaseBulk)
	UOMReactivePower = 1  // var (varh with TimeBaseBulk)
	UOMApparentPower = 2  // VA
	UOMRMSVolts      = 8  // V
	UOMRMSAmps       = 12 // A
	UOMFrequency     = 33 // Hz
)

// UOM TIME_BASE values.
const (
	TimeBaseBulk         = 0 // bulk quantity (dial reading): energy
	TimeBaseInstant      = 1
	TimeBasePeriod       = 2
	TimeBaseSubBlockDmd  = 3
	TimeBaseBlockDemand  = 4
	TimeBaseNetBulk      = 5
	TimeBaseThermal      = 6
	TimeBaseEventQuantum = 7
)

// NewUOM builds a unit of measure: ID_CODE, TIME_BASE, MULTIPLIER code
// (0 for 10^0) and the quadrants (bit 0 Q1 .. bit 3 Q4) it accounts for;
// net says delivered minus received.
func NewUOM(id, timeBase, mult uint8, quadrants uint8, net bool) UOM {
	u := UOM(id) | UOM(timeBase&7)<<8 | UOM(mult&7)<<11 | UOM(quadrants&15)<<14
	if net {
		u |= 1 << 18
	}
	return u
}

// IDCode is the UOM's ID_CODE.
func (u UOM) IDCode() uint8 { return uint8(u) }

// TimeBase is the UOM's TIME_BASE.
func (u UOM) TimeBase() uint8 { return uint8(u >> 8 & 7) }

// Multiplier is the UOM's MULTIPLIER code.
func (u UOM) Multiplier() uint8 { return uint8(u >> 11 & 7) }

// Quadrants is the UOM's Q1..Q4 accountability, bit 0 for Q1.
func (u UOM) Quadrants() uint8 { return uint8(u >> 14 & 15) }

// NetFlow reports NET_FLOW_ACCOUNTABILITY.
func (u UOM) NetFlow() bool { return u>>18&1 != 0 }

// Segmentation is the UOM's phase association (0 all phases).
func (u UOM) Segmentation() uint8 { return uint8(u >> 19 & 7) }

// Scale is the power of ten the UOM's MULTIPLIER code stands for.
func (u UOM) Scale() int { return [...]int{0, 2, 3, 6, 9, -2, -3, -6}[u.Multiplier()] }

// DecodeST12 decodes UOM_ENTRY_TBL, ST11's NBR_UOM_ENTRIES entries.
func DecodeST12(b []byte, f Format, s Sources) ([]UOM, error) {
	r := newReader(b, f, ST12)
	n := int(s.NbrUOMEntries)
	r.need(4*n, "UOM_ENTRY")
	out := make([]UOM, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, UOM(r.u32("UOM_ENTRY")))
	}
	return out, r.end()
}

// EncodeST12 is ST12's octets, ST11's NBR_UOM_ENTRIES entries (missing
// ones zero).
func EncodeST12(u []UOM, f Format, s Sources) []byte {
	w := newWriter(f)
	for i := 0; i < int(s.NbrUOMEntries); i++ {
		w.u32(uint32(at(u, i)))
	}
	return w.b
}

// DemandControl is ST13, DEMAND_CONTROL_TBL.
type DemandControl struct {
	ResetExclusion  uint8 // minutes, with SrcResetExclude
	PFailRecognTime uint8 // seconds, with SrcPFExclude
	PFailExclusion  uint8 // minutes, with SrcPFExclude
	ColdLoadPickup  uint8 // minutes, with SrcPFExclude
	Intervals       []DemandInterval
}

// DemandInterval is one INTERVAL_VALUE: a sliding demand's subinterval
// (minutes) and multiplier, or a block demand's interval length.
type DemandInterval struct {
	SubInt, IntMultiplier uint8  // with SrcSlidingDemand
	IntLength             uint16 // minutes, otherwise
}

// DecodeST13 decodes DEMAND_CONTROL_TBL per ST11.
func DecodeST13(b []byte, f Format, s Sources) (DemandControl, error) {
	var d DemandControl
	r := newReader(b, f, ST13)
	if s.Flags&SrcResetExclude != 0 {
		d.ResetExclusion = r.u8("RESET_EXCLUSION")
	}
	if s.Flags&SrcPFExclude != 0 {
		d.PFailRecognTime = r.u8("P_FAIL_RECOGNTN_TM")
		d.PFailExclusion = r.u8("P_FAIL_EXCLUSION")
		d.ColdLoadPickup = r.u8("COLD_LOAD_PICKUP")
	}
	n := int(s.NbrDemandCtrl)
	r.need(2*n, "INTERVAL_VALUE")
	for i := 0; i < n && r.err == nil; i++ {
		var iv DemandInterval
		if s.Flags&SrcSlidingDemand != 0 {
			iv.SubInt = r.u8("SUB_INT")
			iv.IntMultiplier = r.u8("INT_MULTIPLIER")
		} else {
			iv.IntLength = r.u16("INT_LENGTH")
		}
		d.Intervals = append(d.Intervals, iv)
	}
	return d, r.end()
}

// Encode is ST13's octets per ST11.
func (d DemandControl) Encode(f Format, s Sources) []byte {
	w := newWriter(f)
	if s.Flags&SrcResetExclude != 0 {
		w.u8(d.ResetExclusion)
	}
	if s.Flags&SrcPFExclude != 0 {
		w.u8(d.PFailRecognTime)
		w.u8(d.PFailExclusion)
		w.u8(d.ColdLoadPickup)
	}
	for i := 0; i < int(s.NbrDemandCtrl); i++ {
		iv := at(d.Intervals, i)
		if s.Flags&SrcSlidingDemand != 0 {
			w.u8(iv.SubInt)
			w.u8(iv.IntMultiplier)
		} else {
			w.u16(iv.IntLength)
		}
	}
	return w.b
}

// ElecConstants is one ELECTRIC_CONSTANTS_RCD of ST15: the multiplier
// and offset applied to a source, and the instrument transformer ratios.
type ElecConstants struct {
	Multiplier float64 // NI_FMAT1
	Offset     float64 // NI_FMAT1, unless SrcNoOffset
	Set1, Set2 TransformerSet
}

// TransformerSet is SET_APPLIED_RCD: whether the ratios are applied, and
// the current (F1) and voltage (P1) transformer ratios.
type TransformerSet struct {
	Applied bool
	RatioF1 float64
	RatioP1 float64
}

// DecodeST15 decodes CONSTANTS_TBL for electricity constants (ST11's
// CONSTANTS_SELECTOR 2); other selectors are refused.
func DecodeST15(b []byte, f Format, s Sources) ([]ElecConstants, error) {
	r := newReader(b, f, ST15)
	if s.ConstantsSelector != ConstantsElectric {
		r.fail("", "constants selector %d is not electricity's (%d)", s.ConstantsSelector, ConstantsElectric)
		return nil, r.err
	}
	n := int(s.NbrConstants)
	r.need(n*f.NI1.Size(), "ELECTRIC_CONSTANTS")
	var out []ElecConstants
	for i := 0; i < n && r.err == nil; i++ {
		var c ElecConstants
		c.Multiplier = r.ni(f.NI1, "MULTIPLIER")
		if s.Flags&SrcNoOffset == 0 {
			c.Offset = r.ni(f.NI1, "OFFSET")
		}
		if s.Flags&SrcSet1Present != 0 {
			c.Set1 = r.transformerSet("SET1_CONSTANTS")
		}
		if s.Flags&SrcSet2Present != 0 {
			c.Set2 = r.transformerSet("SET2_CONSTANTS")
		}
		out = append(out, c)
	}
	return out, r.end()
}

func (r *reader) transformerSet(field string) TransformerSet {
	var t TransformerSet
	t.Applied = r.u8(field+".SET_FLAGS")&1 != 0
	t.RatioF1 = r.ni(r.f.NI1, field+".RATIO_F1")
	t.RatioP1 = r.ni(r.f.NI1, field+".RATIO_P1")
	return t
}

// EncodeST15 is ST15's octets for electricity constants per ST11.
func EncodeST15(c []ElecConstants, f Format, s Sources) []byte {
	w := newWriter(f)
	set := func(t TransformerSet) {
		if t.Applied {
			w.u8(1)
		} else {
			w.u8(0)
		}
		w.ni(t.RatioF1, f.NI1)
		w.ni(t.RatioP1, f.NI1)
	}
	for i := 0; i < int(s.NbrConstants); i++ {
		e := at(c, i)
		w.ni(e.Multiplier, f.NI1)
		if s.Flags&SrcNoOffset == 0 {
			w.ni(e.Offset, f.NI1)
		}
		if s.Flags&SrcSet1Present != 0 {
			set(e.Set1)
		}
		if s.Flags&SrcSet2Present != 0 {
			set(e.Set2)
		}
	}
	return w.b
}

// SOURCE_LINK_BFLD flags of ST16.
const (
	LinkUOMEntry      = 1 << 0 // the source has an entry in ST12
	LinkDemandCtrl    = 1 << 1 // in ST13
	LinkDataCtrl      = 1 << 2 // in ST14
	LinkConstants     = 1 << 3 // in ST15
	LinkEngineering   = 1 << 4 // engineering units rather than pulses
	LinkConstsApplied = 1 << 5 // ST15's constants already applied
)

// DecodeST16 decodes SOURCE_DEFINITION_TBL, one SOURCE_LINK_BFLD per
// ST11 source.
func DecodeST16(b []byte, f Format, s Sources) ([]uint8, error) {
	r := newReader(b, f, ST16)
	out := r.bytes(int(s.NbrSources), "SOURCE_LINK")
	return out, r.end()
}

// EncodeST16 is ST16's octets.
func EncodeST16(links []uint8, f Format, s Sources) []byte {
	w := newWriter(f)
	w.fixed(links, int(s.NbrSources))
	return w.b
}

// at is element i of s, or the zero value past its end: encoders write
// what the dimensions say, whatever the caller filled in.
func at[T any](s []T, i int) T {
	if i < len(s) {
		return s[i]
	}
	var z T
	return z
}
