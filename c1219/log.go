package c1219

import (
	"fmt"
	"time"
)

// LOG_FLAGS of ST71.
const (
	LogEventNumber     = 1 << 0 // entries carry EVENT_NUMBER
	LogHistDateTime    = 1 << 1 // history entries carry a time
	LogHistSeqNbr      = 1 << 2 // history entries carry a sequence number
	LogHistInhibitOvf  = 1 << 3
	LogEventInhibitOvf = 1 << 4
)

// ActLog is ST71, ACT_LOG_TBL: the dimensions of ST72..ST76.
type ActLog struct {
	Flags           uint8 // LOG_FLAGS
	NbrStdEvents    uint8 // octets of ST72's standard event set
	NbrMfgEvents    uint8 // octets of ST72's manufacturer event set
	HistDataLen     uint8 // HIST_DATA_LENGTH: argument octets per history entry
	EventDataLen    uint8 // EVENT_DATA_LENGTH: argument octets per event entry
	NbrHistEntries  uint16
	NbrEventEntries uint16
	// C12.19-2008 (STD_VERSION_NO 2 and later) adds:
	ExtFlags         uint8  // EXT_LOG_FLAGS
	NbrProgramTables uint16 // NBR_PROGRAM_TABLES
	// Short marks a version 2 table sent without the two 2008 fields, as
	// some meters do; it encodes back as it came.
	Short bool
}

// DecodeST71 decodes ACT_LOG_TBL. A device of STD_VERSION_NO 2 and later
// carries EXT_LOG_FLAGS and NBR_PROGRAM_TABLES after the 1997 fields; a
// 9-octet table from such a device is taken as the 1997 layout (Short).
func DecodeST71(b []byte, f Format) (ActLog, error) {
	var a ActLog
	r := newReader(b, f, ST71)
	a.Flags = r.u8("LOG_FLAGS")
	a.NbrStdEvents = r.u8("NBR_STD_EVENTS")
	a.NbrMfgEvents = r.u8("NBR_MFG_EVENTS")
	a.HistDataLen = r.u8("HIST_DATA_LENGTH")
	a.EventDataLen = r.u8("EVENT_DATA_LENGTH")
	a.NbrHistEntries = r.u16("NBR_HISTORY_ENTRIES")
	a.NbrEventEntries = r.u16("NBR_EVENT_ENTRIES")
	if f.Version >= 2 && len(b) == 9 {
		a.Short = true
	} else if f.Version >= 2 {
		a.ExtFlags = r.u8("EXT_LOG_FLAGS")
		a.NbrProgramTables = r.u16("NBR_PROGRAM_TABLES")
	}
	return a, r.end()
}

// Encode is ST71's octets.
func (a ActLog) Encode(f Format) []byte {
	w := newWriter(f)
	w.u8(a.Flags)
	w.u8(a.NbrStdEvents)
	w.u8(a.NbrMfgEvents)
	w.u8(a.HistDataLen)
	w.u8(a.EventDataLen)
	w.u16(a.NbrHistEntries)
	w.u16(a.NbrEventEntries)
	if f.Version >= 2 && !a.Short {
		w.u8(a.ExtFlags)
		w.u16(a.NbrProgramTables)
	}
	return w.b
}

// EventsID is ST72, EVENTS_ID_TBL: the events the device can log.
type EventsID struct {
	Std Set // STD_EVENTS_SUPPORTED, ST71's NBR_STD_EVENTS octets
	Mfg Set // MFG_EVENTS_SUPPORTED
}

// DecodeST72 decodes EVENTS_ID_TBL per ST71.
func DecodeST72(b []byte, f Format, a ActLog) (EventsID, error) {
	var e EventsID
	r := newReader(b, f, ST72)
	e.Std = r.set(int(a.NbrStdEvents), "STD_EVENTS_SUPPORTED")
	e.Mfg = r.set(int(a.NbrMfgEvents), "MFG_EVENTS_SUPPORTED")
	return e, r.end()
}

// Encode is ST72's octets per ST71.
func (e EventsID) Encode(f Format, a ActLog) []byte {
	w := newWriter(f)
	w.set(e.Std, int(a.NbrStdEvents))
	w.set(e.Mfg, int(a.NbrMfgEvents))
	return w.b
}

// LogControl is ST73, HISTORY_LOG_CTRL_TBL, and ST75,
// EVENT_LOG_CTRL_TBL: which events, table writes and procedures the log
// records.
type LogControl struct {
	StdEvents Set // ST71's NBR_STD_EVENTS octets
	MfgEvents Set // ST71's NBR_MFG_EVENTS octets
	StdTables Set // ST0's DIM_STD_TBLS_USED octets
	MfgTables Set // ST0's DIM_MFG_TBLS_USED octets
	StdProcs  Set // ST0's DIM_STD_PROC_USED octets
	MfgProcs  Set // ST0's DIM_MFG_PROC_USED octets
}

// DecodeST73 decodes HISTORY_LOG_CTRL_TBL per ST0 and ST71.
func DecodeST73(b []byte, f Format, g GenConfig, a ActLog) (LogControl, error) {
	return decodeLogControl(b, f, g, a, ST73)
}

// DecodeST75 decodes EVENT_LOG_CTRL_TBL per ST0 and ST71.
func DecodeST75(b []byte, f Format, g GenConfig, a ActLog) (LogControl, error) {
	return decodeLogControl(b, f, g, a, ST75)
}

func decodeLogControl(b []byte, f Format, g GenConfig, a ActLog, t TableID) (LogControl, error) {
	var c LogControl
	r := newReader(b, f, t)
	c.StdEvents = r.set(int(a.NbrStdEvents), "STD_EVENTS_MONITORED_FLAGS")
	c.MfgEvents = r.set(int(a.NbrMfgEvents), "MFG_EVENTS_MONITORED_FLAGS")
	c.StdTables = r.set(len(g.StdTablesUsed), "STD_TBLS_MONITORED_FLAGS")
	c.MfgTables = r.set(len(g.MfgTablesUsed), "MFG_TBLS_MONITORED_FLAGS")
	c.StdProcs = r.set(len(g.StdProcUsed), "STD_PROC_MONITORED_FLAGS")
	c.MfgProcs = r.set(len(g.MfgProcUsed), "MFG_PROC_MONITORED_FLAGS")
	return c, r.end()
}

// Encode is ST73's or ST75's octets per ST0 and ST71.
func (c LogControl) Encode(f Format, g GenConfig, a ActLog) []byte {
	w := newWriter(f)
	w.set(c.StdEvents, int(a.NbrStdEvents))
	w.set(c.MfgEvents, int(a.NbrMfgEvents))
	w.set(c.StdTables, len(g.StdTablesUsed))
	w.set(c.MfgTables, len(g.MfgTablesUsed))
	w.set(c.StdProcs, len(g.StdProcUsed))
	w.set(c.MfgProcs, len(g.MfgProcUsed))
	return w.b
}

// Event is a HISTORY_CODE or EVENT_CODE (TABLE_IDB_BFLD): the event
// number in bits 0..10, bit 11 set for a manufacturer event.
type Event uint16

// MfgEvent is the flag of a manufacturer event.
const MfgEvent Event = 1 << 11

// Standard events amigo's meters log.
const (
	EventNone             Event = 0
	EventPowerDown        Event = 1
	EventPowerUp          Event = 2
	EventTimeChangedOld   Event = 3 // time-stamped with the old time
	EventTimeChangedNew   Event = 4 // time-stamped with the new time
	EventAccessedRead     Event = 7
	EventAccessedWrite    Event = 8
	EventProcedureInvoked Event = 9
	EventTableWritten     Event = 10
	EventProgrammed       Event = 11
	EventCommTerminated   Event = 12
	EventCommAbnormal     Event = 13
	EventLogCleared       Event = 18
	EventDemandReset      Event = 20
	EventSelfRead         Event = 21
	EventDSTOn            Event = 22
	EventDSTOff           Event = 23
	EventSeasonChanged    Event = 24
	EventRateChange       Event = 25
	EventTestModeStarted  Event = 32
	EventTestModeStopped  Event = 33
	EventConfigError      Event = 37
	EventSelfCheckError   Event = 38
	EventClockError       Event = 42
	EventMeasurementError Event = 43
	EventLowBattery       Event = 44
	EventLowPotential     Event = 45
	EventDemandOverload   Event = 46
	EventTamper           Event = 47
	EventReverseRotation  Event = 48
	EventControlByCommand Event = 49 // control point changed by a command (the service switch)
)

var eventNames = map[Event]string{
	EventNone: "no event", EventPowerDown: "primary power down", EventPowerUp: "primary power up",
	EventTimeChangedOld: "time changed (old time)", EventTimeChangedNew: "time changed (new time)",
	EventAccessedRead: "accessed for read", EventAccessedWrite: "accessed for write",
	EventProcedureInvoked: "procedure invoked", EventTableWritten: "table written", EventProgrammed: "programmed",
	EventCommTerminated: "communication terminated normally", EventCommAbnormal: "communication terminated abnormally",
	EventLogCleared: "event log cleared", EventDemandReset: "demand reset", EventSelfRead: "self read",
	EventDSTOn: "daylight saving time on", EventDSTOff: "daylight saving time off", EventSeasonChanged: "season changed",
	EventRateChange: "rate change", EventTestModeStarted: "test mode started", EventTestModeStopped: "test mode stopped",
	EventConfigError: "configuration error", EventSelfCheckError: "self check error", EventClockError: "clock error",
	EventMeasurementError: "measurement error", EventLowBattery: "low battery", EventLowPotential: "low loss potential",
	EventDemandOverload: "demand overload", EventTamper: "tamper attempt", EventReverseRotation: "reverse rotation",
	EventControlByCommand: "control point changed by a command",
}

// Number is the event's number without its flags.
func (e Event) Number() uint16 { return uint16(e & 0x7FF) }

// Mfg reports a manufacturer event.
func (e Event) Mfg() bool { return e&MfgEvent != 0 }

// String is "event 20 (demand reset)" or "manufacturer event 3".
func (e Event) String() string {
	if e.Mfg() {
		return fmt.Sprintf("manufacturer event %d", e.Number())
	}
	if n, ok := eventNames[e&0xFFF]; ok {
		return fmt.Sprintf("event %d (%s)", e.Number(), n)
	}
	return fmt.Sprintf("event %d", e.Number())
}

// LogEntry is one HISTORY_ENTRY_RCD of ST74 or EVENT_ENTRY_RCD of ST76.
type LogEntry struct {
	Time        time.Time // LTIME_DATE
	EventNumber uint16    // with LogEventNumber
	Seq         uint16    // HISTORY_SEQ_NBR (with LogHistSeqNbr) or EVENT_SEQ_NBR
	UserID      uint16
	Code        Event  // HISTORY_CODE or EVENT_CODE
	Arg         []byte // HIST_DATA_LENGTH or EVENT_DATA_LENGTH octets
}

// LogData is ST74, HISTORY_LOG_DATA_TBL, or ST76, EVENT_LOG_DATA_TBL: a
// list of entries with its list status.
type LogData struct {
	Flags       uint8 // HIST_FLAGS or EVENT_FLAGS (the list flags)
	NbrValid    uint16
	LastElement uint16 // array index of the newest entry
	LastSeq     uint32 // sequence number of the newest entry
	NbrUnread   uint16
	Entries     []LogEntry // NBR_HISTORY_ENTRIES or NBR_EVENT_ENTRIES
}

// logHeader is the octets of the list status before the entries.
const logHeader = 11

type logShape struct {
	n                 int
	time, number, seq bool
	argLen            int
}

func (s logShape) size(f Format) int {
	n := 4 + s.argLen
	if s.time {
		n += f.LTimeSize()
	}
	if s.number {
		n += 2
	}
	if s.seq {
		n += 2
	}
	return n
}

func historyShape(f Format, a ActLog) logShape {
	return logShape{n: int(a.NbrHistEntries), time: a.Flags&LogHistDateTime != 0 && f.Time != TimeNone,
		number: a.Flags&LogEventNumber != 0, seq: a.Flags&LogHistSeqNbr != 0, argLen: int(a.HistDataLen)}
}

func eventShape(f Format, a ActLog) logShape {
	return logShape{n: int(a.NbrEventEntries), time: f.Time != TimeNone, number: a.Flags&LogEventNumber != 0,
		seq: true, argLen: int(a.EventDataLen)}
}

// DecodeST74 decodes HISTORY_LOG_DATA_TBL per ST71.
func DecodeST74(b []byte, f Format, a ActLog) (LogData, error) {
	return decodeLog(b, f, historyShape(f, a), ST74, "HISTORY")
}

// DecodeST76 decodes EVENT_LOG_DATA_TBL per ST71.
func DecodeST76(b []byte, f Format, a ActLog) (LogData, error) {
	return decodeLog(b, f, eventShape(f, a), ST76, "EVENT")
}

func decodeLog(b []byte, f Format, s logShape, t TableID, name string) (LogData, error) {
	var d LogData
	r := newReader(b, f, t)
	d.Flags = r.u8(name + "_FLAGS")
	d.NbrValid = r.u16("NBR_VALID_ENTRIES")
	d.LastElement = r.u16("LAST_ENTRY_ELEMENT")
	d.LastSeq = r.u32("LAST_ENTRY_SEQ_NBR")
	d.NbrUnread = r.u16("NBR_UNREAD_ENTRIES")
	if !r.need(s.n*s.size(f), name+"_ENTRIES") {
		return d, r.err
	}
	for i := 0; i < s.n && r.err == nil; i++ {
		d.Entries = append(d.Entries, r.logEntry(s, name))
	}
	return d, r.end()
}

func (r *reader) logEntry(s logShape, name string) LogEntry {
	var e LogEntry
	if s.time {
		e.Time = r.ltime(name + "_TIME")
	}
	if s.number {
		e.EventNumber = r.u16("EVENT_NUMBER")
	}
	if s.seq {
		e.Seq = r.u16(name + "_SEQ_NBR")
	}
	e.UserID = r.u16("USER_ID")
	e.Code = Event(r.u16(name + "_CODE"))
	e.Arg = r.bytes(s.argLen, name+"_ARGUMENT")
	return e
}

// EncodeST74 is ST74's octets per ST71.
func (d LogData) EncodeST74(f Format, a ActLog) []byte { return d.encode(f, historyShape(f, a)) }

// EncodeST76 is ST76's octets per ST71.
func (d LogData) EncodeST76(f Format, a ActLog) []byte { return d.encode(f, eventShape(f, a)) }

func (d LogData) encode(f Format, s logShape) []byte {
	w := newWriter(f)
	w.u8(d.Flags)
	w.u16(d.NbrValid)
	w.u16(d.LastElement)
	w.u32(d.LastSeq)
	w.u16(d.NbrUnread)
	for i := 0; i < s.n; i++ {
		e := at(d.Entries, i)
		if s.time {
			w.ltime(e.Time)
		}
		if s.number {
			w.u16(e.EventNumber)
		}
		if s.seq {
			w.u16(e.Seq)
		}
		w.u16(e.UserID)
		w.u16(uint16(e.Code))
		w.fixed(e.Arg, s.argLen)
	}
	return w.b
}

// EventEntrySize is the octets of one ST76 entry, for offset reads of a
// run of entries: entry i starts at 11 + i*EventEntrySize.
func EventEntrySize(f Format, a ActLog) int { return eventShape(f, a).size(f) }

// HistoryEntrySize is the octets of one ST74 entry.
func HistoryEntrySize(f Format, a ActLog) int { return historyShape(f, a).size(f) }

// LogHeaderSize is the octets of ST74's and ST76's list status before
// the first entry.
const LogHeaderSize = logHeader

// Valid lists the valid entries oldest first, following the list status
// (ORDER, NBR_VALID_ENTRIES, LAST_ENTRY_ELEMENT) of a circular or FIFO
// list.
func (d LogData) Valid() []LogEntry {
	n := len(d.Entries)
	valid := int(d.NbrValid)
	if n == 0 || valid == 0 {
		return nil
	}
	valid = min(valid, n)
	last := int(d.LastElement) % n
	out := make([]LogEntry, 0, valid)
	for k := valid - 1; k >= 0; k-- {
		var i int
		if d.Flags&ListDescending != 0 {
			i = (last + k) % n
		} else {
			i = ((last-k)%n + n) % n
		}
		out = append(out, d.Entries[i])
	}
	return out
}
