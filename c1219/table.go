package c1219

import "fmt"

// TableID is a table number as PSEM carries it: the table's number in
// bits 0..10, bit 11 set for a manufacturer table, bit 12 set to address
// the table's pending (not yet activated) image.
type TableID uint16

// The flags of a TableID.
const (
	MfgFlag     TableID = 1 << 11
	PendingFlag TableID = 1 << 12
)

// Standard tables amigo knows.
const (
	ST0  TableID = 0  // GEN_CONFIG_TBL
	ST1  TableID = 1  // GENERAL_MFG_ID_TBL
	ST2  TableID = 2  // DEVICE_NAMEPLATE_TBL
	ST3  TableID = 3  // ED_MODE_STATUS_TBL
	ST4  TableID = 4  // PENDING_STATUS_TBL
	ST5  TableID = 5  // DEVICE_IDENT_TBL
	ST6  TableID = 6  // UTIL_INFO_TBL
	ST7  TableID = 7  // PROC_INITIATE_TBL
	ST8  TableID = 8  // PROC_RESPONSE_TBL
	ST11 TableID = 11 // ACT_SOURCES_LIM_TBL
	ST12 TableID = 12 // UOM_ENTRY_TBL
	ST13 TableID = 13 // DEMAND_CONTROL_TBL
	ST15 TableID = 15 // CONSTANTS_TBL
	ST16 TableID = 16 // SOURCE_DEFINITION_TBL
	ST21 TableID = 21 // ACT_REGS_TBL
	ST22 TableID = 22 // DATA_SELECTION_TBL
	ST23 TableID = 23 // CURRENT_REG_DATA_TBL
	ST24 TableID = 24 // PREVIOUS_SEASON_DATA_TBL
	ST25 TableID = 25 // PREVIOUS_DEMAND_RESET_DATA_TBL
	ST26 TableID = 26 // SELF_READ_DATA_TBL
	ST27 TableID = 27 // PRESENT_REGISTER_SELECT_TBL
	ST28 TableID = 28 // PRESENT_REGISTER_DATA_TBL
	ST51 TableID = 51 // ACT_TIME_TOU_TBL
	ST52 TableID = 52 // CLOCK_TBL
	ST55 TableID = 55 // CLOCK_STATE_TBL
	ST61 TableID = 61 // ACT_LP_TBL
	ST62 TableID = 62 // LP_CTRL_TBL
	ST63 TableID = 63 // LP_STATUS_TBL
	ST64 TableID = 64 // LP_DATA_SET1_TBL
	ST65 TableID = 65 // LP_DATA_SET2_TBL
	ST66 TableID = 66 // LP_DATA_SET3_TBL
	ST67 TableID = 67 // LP_DATA_SET4_TBL
	ST71 TableID = 71 // ACT_LOG_TBL
	ST72 TableID = 72 // EVENTS_ID_TBL
	ST73 TableID = 73 // HISTORY_LOG_CTRL_TBL
	ST74 TableID = 74 // HISTORY_LOG_DATA_TBL
	ST75 TableID = 75 // EVENT_LOG_CTRL_TBL
	ST76 TableID = 76 // EVENT_LOG_DATA_TBL
)

// MT is manufacturer table n.
func MT(n uint16) TableID { return TableID(n&0x7FF) | MfgFlag }

// Number is the table's number without its flags.
func (t TableID) Number() uint16 { return uint16(t & 0x7FF) }

// Mfg reports a manufacturer table.
func (t TableID) Mfg() bool { return t&MfgFlag != 0 }

// Pending reports the pending image of a table.
func (t TableID) Pending() bool { return t&PendingFlag != 0 }

// String is "ST23", "MT7", or "ST23 (pending)".
func (t TableID) String() string {
	s := fmt.Sprintf("ST%d", t.Number())
	if t.Mfg() {
		s = fmt.Sprintf("MT%d", t.Number())
	}
	if t.Pending() {
		s += " (pending)"
	}
	if t>>13 != 0 {
		s += fmt.Sprintf(" (flags 0x%X)", uint16(t>>13))
	}
	return s
}

var tableNames = map[TableID]string{
	ST0: "GEN_CONFIG_TBL", ST1: "GENERAL_MFG_ID_TBL", ST2: "DEVICE_NAMEPLATE_TBL", ST3: "ED_MODE_STATUS_TBL",
	ST4: "PENDING_STATUS_TBL", ST5: "DEVICE_IDENT_TBL", ST6: "UTIL_INFO_TBL", ST7: "PROC_INITIATE_TBL",
	ST8: "PROC_RESPONSE_TBL", ST11: "ACT_SOURCES_LIM_TBL", ST12: "UOM_ENTRY_TBL", ST13: "DEMAND_CONTROL_TBL",
	ST15: "CONSTANTS_TBL", ST16: "SOURCE_DEFINITION_TBL", ST21: "ACT_REGS_TBL", ST22: "DATA_SELECTION_TBL",
	ST23: "CURRENT_REG_DATA_TBL", ST24: "PREVIOUS_SEASON_DATA_TBL", ST25: "PREVIOUS_DEMAND_RESET_DATA_TBL",
	ST26: "SELF_READ_DATA_TBL", ST27: "PRESENT_REGISTER_SELECT_TBL", ST28: "PRESENT_REGISTER_DATA_TBL",
	ST51: "ACT_TIME_TOU_TBL", ST52: "CLOCK_TBL", ST55: "CLOCK_STATE_TBL", ST61: "ACT_LP_TBL", ST62: "LP_CTRL_TBL",
	ST63: "LP_STATUS_TBL", ST64: "LP_DATA_SET1_TBL", ST65: "LP_DATA_SET2_TBL", ST66: "LP_DATA_SET3_TBL",
	ST67: "LP_DATA_SET4_TBL", ST71: "ACT_LOG_TBL", ST72: "EVENTS_ID_TBL", ST73: "HISTORY_LOG_CTRL_TBL",
	ST74: "HISTORY_LOG_DATA_TBL", ST75: "EVENT_LOG_CTRL_TBL", ST76: "EVENT_LOG_DATA_TBL",
}

// Name is the standard's name of a standard table ("CURRENT_REG_DATA_TBL"),
// or "" for one amigo does not know.
func (t TableID) Name() string { return tableNames[t&^PendingFlag] }
