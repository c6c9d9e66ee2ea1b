package c1219

// Nameplate types (ST0 NAMEPLATE_TYPE), which select ST2's record.
const (
	NameplateGas      = 0
	NameplateWater    = 1
	NameplateElectric = 2
)

// GenConfig is ST0, GEN_CONFIG_TBL: the device's data formats, the
// standard version it follows, and which tables and procedures it has.
// The DIM_ fields are the lengths of the sets.
type GenConfig struct {
	Format           Format  // FORMAT_CONTROL_1..3 and STD_VERSION_NO
	DeviceClass      [4]byte // DEVICE_CLASS (the manufacturer's code in C12.19-1997)
	NameplateType    uint8
	DefaultSetUsed   uint8
	MaxProcParmLen   uint8
	MaxRespDataLen   uint8
	StdRevision      uint8 // STD_REVISION_NO
	DimMfgStatusUsed uint8 // octets of ST3's ED_MFG_STATUS
	NbrPending       uint8
	StdTablesUsed    Set
	MfgTablesUsed    Set
	StdProcUsed      Set
	MfgProcUsed      Set
	StdTablesWrite   Set // as long as StdTablesUsed
	MfgTablesWrite   Set // as long as MfgTablesUsed
}

// DecodeST0 decodes GEN_CONFIG_TBL. ST0 is made of single octets and
// sets only, so it needs no Format: it is where the Format comes from.
func DecodeST0(b []byte) (GenConfig, error) {
	var g GenConfig
	r := &reader{b: b, tbl: ST0}
	fc1, fc2, fc3 := r.u8("FORMAT_CONTROL_1"), r.u8("FORMAT_CONTROL_2"), r.u8("FORMAT_CONTROL_3")
	g.Format = Format{
		BigEndian: fc1&1 != 0,
		Char:      CharFormat(fc1 >> 1 & 7),
		Model:     fc1 >> 4 & 7,
		Time:      TimeFormat(fc2 & 7),
		Access:    DataAccess(fc2 >> 3 & 3),
		BCDID:     fc2&0x20 != 0,
		Int:       IntFormat(fc2 >> 6),
		NI1:       NIFormat(fc3 & 15),
		NI2:       NIFormat(fc3 >> 4),
	}
	copy(g.DeviceClass[:], r.take(4, "DEVICE_CLASS"))
	g.NameplateType = r.u8("NAMEPLATE_TYPE")
	g.DefaultSetUsed = r.u8("DEFAULT_SET_USED")
	g.MaxProcParmLen = r.u8("MAX_PROC_PARM_LENGTH")
	g.MaxRespDataLen = r.u8("MAX_RESP_DATA_LEN")
	g.Format.Version = r.u8("STD_VERSION_NO")
	g.StdRevision = r.u8("STD_REVISION_NO")
	dimStd, dimMfg := int(r.u8("DIM_STD_TBLS_USED")), int(r.u8("DIM_MFG_TBLS_USED"))
	dimStdProc, dimMfgProc := int(r.u8("DIM_STD_PROC_USED")), int(r.u8("DIM_MFG_PROC_USED"))
	g.DimMfgStatusUsed = r.u8("DIM_MFG_STATUS_USED")
	g.NbrPending = r.u8("NBR_PENDING")
	g.StdTablesUsed = r.set(dimStd, "STD_TBLS_USED")
	g.MfgTablesUsed = r.set(dimMfg, "MFG_TBLS_USED")
	g.StdProcUsed = r.set(dimStdProc, "STD_PROC_USED")
	g.MfgProcUsed = r.set(dimMfgProc, "MFG_PROC_USED")
	g.StdTablesWrite = r.set(dimStd, "STD_TBLS_WRITE")
	g.MfgTablesWrite = r.set(dimMfg, "MFG_TBLS_WRITE")
	return g, r.end()
}

// Encode is ST0's octets. The write sets are cut or padded to the length
// of the matching used sets.
func (g GenConfig) Encode() []byte {
	f := g.Format
	w := newWriter(Format{})
	var fc1 uint8
	if f.BigEndian {
		fc1 = 1
	}
	fc1 |= uint8(f.Char&7)<<1 | (f.Model&7)<<4
	w.u8(fc1)
	fc2 := uint8(f.Time&7) | uint8(f.Access&3)<<3 | uint8(f.Int&3)<<6
	if f.BCDID {
		fc2 |= 0x20
	}
	w.u8(fc2)
	w.u8(uint8(f.NI1&15) | uint8(f.NI2&15)<<4)
	w.bytes(g.DeviceClass[:])
	w.u8(g.NameplateType)
	w.u8(g.DefaultSetUsed)
	w.u8(g.MaxProcParmLen)
	w.u8(g.MaxRespDataLen)
	w.u8(f.Version)
	w.u8(g.StdRevision)
	dimStd, dimMfg := min(len(g.StdTablesUsed), 255), min(len(g.MfgTablesUsed), 255)
	w.u8(uint8(dimStd))
	w.u8(uint8(dimMfg))
	w.u8(uint8(min(len(g.StdProcUsed), 255)))
	w.u8(uint8(min(len(g.MfgProcUsed), 255)))
	w.u8(g.DimMfgStatusUsed)
	w.u8(g.NbrPending)
	w.set(g.StdTablesUsed, dimStd)
	w.set(g.MfgTablesUsed, dimMfg)
	w.set(g.StdProcUsed, min(len(g.StdProcUsed), 255))
	w.set(g.MfgProcUsed, min(len(g.MfgProcUsed), 255))
	w.set(g.StdTablesWrite, dimStd)
	w.set(g.MfgTablesWrite, dimMfg)
	return w.b
}

// HasTable reports whether ST0 declares table t used.
func (g GenConfig) HasTable(t TableID) bool {
	if t.Mfg() {
		return g.MfgTablesUsed.Has(int(t.Number()))
	}
	return g.StdTablesUsed.Has(int(t.Number()))
}

// Writable reports whether ST0 declares table t writable.
func (g GenConfig) Writable(t TableID) bool {
	if t.Mfg() {
		return g.MfgTablesWrite.Has(int(t.Number()))
	}
	return g.StdTablesWrite.Has(int(t.Number()))
}

// HasProc reports whether ST0 declares procedure p used.
func (g GenConfig) HasProc(p Proc) bool {
	if p.Mfg() {
		return g.MfgProcUsed.Has(int(p.Number()))
	}
	return g.StdProcUsed.Has(int(p.Number()))
}

// MfgID is ST1, GENERAL_MFG_ID_TBL.
type MfgID struct {
	Manufacturer string // MANUFACTURER, 4 characters
	Model        string // ED_MODEL, 8 characters
	HWVersion    uint8
	HWRevision   uint8
	FWVersion    uint8
	FWRevision   uint8
	SerialNo     string // MFG_SERIAL_NO, 16 characters (8 octets of BCD when ID_FORM says so)
}

// DecodeST1 decodes GENERAL_MFG_ID_TBL.
func DecodeST1(b []byte, f Format) (MfgID, error) {
	var m MfgID
	r := newReader(b, f, ST1)
	m.Manufacturer = r.str(4, "MANUFACTURER")
	m.Model = r.str(8, "ED_MODEL")
	m.HWVersion = r.u8("HW_VERSION_NUMBER")
	m.HWRevision = r.u8("HW_REVISION_NUMBER")
	m.FWVersion = r.u8("FW_VERSION_NUMBER")
	m.FWRevision = r.u8("FW_REVISION_NUMBER")
	m.SerialNo = r.id(16, "MFG_SERIAL_NUMBER")
	return m, r.end()
}

// Encode is ST1's octets.
func (m MfgID) Encode(f Format) []byte {
	w := newWriter(f)
	w.str(m.Manufacturer, 4)
	w.str(m.Model, 8)
	w.b = append(w.b, m.HWVersion, m.HWRevision, m.FWVersion, m.FWRevision)
	w.id(m.SerialNo, 16)
	return w.b
}

// ElecNameplate is ST2, DEVICE_NAMEPLATE_TBL, for an electricity meter
// (NAMEPLATE_TYPE 2), reduced to the fields amigo's meters declare; the
// rest of the record is kept as octets so a table read from a meter
// encodes back unchanged.
type ElecNameplate struct {
	Kh   string // E_KH, watt-hours per revolution or pulse, 6 characters
	Kt   string // E_KT, test constant, 6 characters
	Rest []byte // the rest of ELEC_DEVICE_RCD
}

// DecodeST2 decodes DEVICE_NAMEPLATE_TBL for an electricity meter.
func DecodeST2(b []byte, f Format) (ElecNameplate, error) {
	var n ElecNameplate
	r := newReader(b, f, ST2)
	n.Kh = r.str(6, "E_KH")
	n.Kt = r.str(6, "E_KT")
	if r.err == nil {
		n.Rest = r.bytes(len(b)-r.off, "")
	}
	return n, r.end()
}

// Encode is ST2's octets.
func (n ElecNameplate) Encode(f Format) []byte {
	w := newWriter(f)
	w.str(n.Kh, 6)
	w.str(n.Kt, 6)
	w.bytes(n.Rest)
	return w.b
}

// ED_MODE flags (ST3).
const (
	ModeMetering  = 1 << 0
	ModeTest      = 1 << 1
	ModeMeterShop = 1 << 2
)

// ED_STD_STATUS1 flags (ST3).
const (
	StatusUnprogrammed   = 1 << 0
	StatusConfigError    = 1 << 1
	StatusSelfCheckError = 1 << 2
	StatusRAMFailure     = 1 << 3
	StatusROMFailure     = 1 << 4
	StatusNonvolFailure  = 1 << 5
	StatusClockError     = 1 << 6
	StatusMeasureError   = 1 << 7
	StatusLowBattery     = 1 << 8
	StatusLowPotential   = 1 << 9
	StatusDemandOverload = 1 << 10
	StatusPowerFailure   = 1 << 11
	StatusTamperDetect   = 1 << 12
	StatusReverseRotate  = 1 << 13
)

// ModeStatus is ST3, ED_MODE_STATUS_TBL.
type ModeStatus struct {
	Mode       uint8  // ED_MODE
	StdStatus  uint16 // ED_STD_STATUS1
	StdStatus2 uint8  // ED_STD_STATUS2
	MfgStatus  Set    // ED_MFG_STATUS, ST0's DIM_MFG_STATUS_USED octets
}

// DecodeST3 decodes ED_MODE_STATUS_TBL; its manufacturer status is
// whatever follows the standard fields (ST0's DIM_MFG_STATUS_USED).
func DecodeST3(b []byte, f Format, g GenConfig) (ModeStatus, error) {
	var m ModeStatus
	r := newReader(b, f, ST3)
	m.Mode = r.u8("ED_MODE")
	m.StdStatus = r.u16("ED_STD_STATUS1")
	m.StdStatus2 = r.u8("ED_STD_STATUS2")
	m.MfgStatus = r.set(int(g.DimMfgStatusUsed), "ED_MFG_STATUS")
	return m, r.end()
}

// Encode is ST3's octets, the manufacturer status cut or padded to n
// octets (ST0's DIM_MFG_STATUS_USED).
func (m ModeStatus) Encode(f Format, g GenConfig) []byte {
	w := newWriter(f)
	w.u8(m.Mode)
	w.u16(m.StdStatus)
	w.u8(m.StdStatus2)
	w.set(m.MfgStatus, int(g.DimMfgStatusUsed))
	return w.b
}

// DeviceIdent is ST5, DEVICE_IDENT_TBL: the utility's identifier of the
// device, 20 characters (10 octets of BCD when ID_FORM says so).
type DeviceIdent struct {
	ID string
}

// DecodeST5 decodes DEVICE_IDENT_TBL.
func DecodeST5(b []byte, f Format) (DeviceIdent, error) {
	r := newReader(b, f, ST5)
	id := r.id(20, "IDENTIFICATION")
	return DeviceIdent{ID: id}, r.end()
}

// Encode is ST5's octets.
func (d DeviceIdent) Encode(f Format) []byte {
	w := newWriter(f)
	w.id(d.ID, 20)
	return w.b
}
