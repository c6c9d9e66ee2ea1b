package c1219

import (
	"fmt"
	"time"
)

// Proc is a procedure number as TBL_PROC_NBR carries it: the number in
// bits 0..10, bit 11 set for a manufacturer procedure.
type Proc uint16

// MfgProc is the flag of a manufacturer procedure.
const MfgProc Proc = 1 << 11

// Standard procedures (SP).
const (
	SPColdStart            Proc = 0
	SPWarmStart            Proc = 1
	SPSaveConfiguration    Proc = 2
	SPClearData            Proc = 3
	SPResetListPointers    Proc = 4
	SPUpdateLastReadEntry  Proc = 5
	SPChangeEndDeviceMode  Proc = 6
	SPClearStdStatusFlags  Proc = 7
	SPClearMfgStatusFlags  Proc = 8
	SPRemoteReset          Proc = 9
	SPSetDateTime          Proc = 10
	SPExecuteDiagnostics   Proc = 11
	SPActivateAllPending   Proc = 12
	SPActivatePending      Proc = 13
	SPClearAllPending      Proc = 14
	SPClearPending         Proc = 15
	SPStartLoadProfile     Proc = 16
	SPStopLoadProfile      Proc = 17
	SPLogIn                Proc = 18
	SPLogOut               Proc = 19
	SPInitiateCall         Proc = 20
	SPDirectLoadControl    Proc = 21
	SPModifyCredit         Proc = 22
	SPClearPendingCall     Proc = 27
	SPStartQoSMonitors     Proc = 28
	SPStopQoSMonitors      Proc = 29
	SPStartSecuredRegister Proc = 30
	SPStopSecuredRegister  Proc = 31
	SPSetPrecisionDateTime Proc = 32
)

// MPServiceSwitch is amigo's manufacturer procedure that opens or closes
// the meter's service switch (remote disconnect and reconnect). The
// standard's direct load control (SP 21) drives the load control tables
// of decade 11, which describe control points and schedules rather than
// one supply contactor, so the switch is a manufacturer procedure, as
// most meters with a contactor do it. Its parameter is one octet, a
// SwitchAction; its response data is one octet, the SwitchState after the
// procedure. See docs/c1219.md.
const MPServiceSwitch Proc = MfgProc | 10

// SwitchAction is MPServiceSwitch's parameter.
type SwitchAction uint8

// Service switch actions.
const (
	SwitchDisconnect SwitchAction = 0 // open the switch
	SwitchConnect    SwitchAction = 1 // close the switch
	SwitchArm        SwitchAction = 2 // arm for reconnection: the customer closes it at the meter
)

// SwitchState is MPServiceSwitch's response data.
type SwitchState uint8

// Service switch states.
const (
	SwitchOpen   SwitchState = 0
	SwitchClosed SwitchState = 1
	SwitchArmed  SwitchState = 2
)

var procNames = map[Proc]string{
	SPColdStart: "cold start", SPWarmStart: "warm start", SPSaveConfiguration: "save configuration",
	SPClearData: "clear data", SPResetListPointers: "reset list pointers", SPUpdateLastReadEntry: "update last read entry",
	SPChangeEndDeviceMode: "change end device mode", SPClearStdStatusFlags: "clear standard status flags",
	SPClearMfgStatusFlags: "clear manufacturer status flags", SPRemoteReset: "remote reset",
	SPSetDateTime: "set date and/or time", SPExecuteDiagnostics: "execute diagnostics",
	SPActivateAllPending: "activate all pending tables", SPActivatePending: "activate specific pending tables",
	SPClearAllPending: "clear all pending tables", SPClearPending: "clear specific pending tables",
	SPStartLoadProfile: "start load profile", SPStopLoadProfile: "stop load profile", SPLogIn: "log in",
	SPLogOut: "log out", SPInitiateCall: "initiate an immediate call", SPDirectLoadControl: "direct load control",
	SPModifyCredit: "modify credit", SPClearPendingCall: "clear pending call status",
	SPStartQoSMonitors: "start quality of service monitors", SPStopQoSMonitors: "stop quality of service monitors",
	SPStartSecuredRegister: "start secured registers", SPStopSecuredRegister: "stop secured registers",
	SPSetPrecisionDateTime: "set precision date and/or time", MPServiceSwitch: "service switch",
}

// Number is the procedure's number without the manufacturer flag.
func (p Proc) Number() uint16 { return uint16(p & 0x7FF) }

// Mfg reports a manufacturer procedure.
func (p Proc) Mfg() bool { return p&MfgProc != 0 }

// String is "SP9 (remote reset)" or "MP10 (service switch)".
func (p Proc) String() string {
	s := fmt.Sprintf("SP%d", p.Number())
	if p.Mfg() {
		s = fmt.Sprintf("MP%d", p.Number())
	}
	if n, ok := procNames[p&0xFFF]; ok {
		s += " (" + n + ")"
	}
	return s
}

// Selector is the part of TBL_PROC_NBR that says when ST8 gets the
// procedure's response.
type Selector uint8

// Response selectors.
const (
	PostOnCompletion         Selector = 0 // post the response when the procedure completes
	PostOnException          Selector = 1 // post a response only when it fails
	PostNothing              Selector = 2 // post no response
	PostImmediateAndComplete Selector = 3 // post one at once and another on completion
)

// Result is RESULT_CODE in ST8.
type Result uint8

// Procedure result codes.
const (
	ResultCompleted    Result = 0 // procedure completed
	ResultNotCompleted Result = 1 // accepted but not fully completed
	ResultInvalidParam Result = 2 // invalid parameter, procedure ignored
	ResultConflict     Result = 3 // conflicts with the current setup, ignored
	ResultTiming       Result = 4 // timing constraint, ignored
	ResultNoAuth       Result = 5 // no authorization, ignored
	ResultUnrecognized Result = 6 // unrecognized procedure, ignored
)

var resultNames = [...]string{"completed", "accepted but not fully completed", "invalid parameter",
	"conflicts with current device setup", "timing constraint", "no authorization", "unrecognized procedure"}

func (r Result) String() string {
	if int(r) < len(resultNames) {
		return resultNames[r]
	}
	return fmt.Sprintf("result code %d", uint8(r))
}

// Error makes a failed procedure an error.
func (r Result) Error() string { return "c1219: procedure " + r.String() }

// ProcInitiate is ST7, PROC_INITIATE_TBL: the procedure to run, how its
// response is posted, the sequence number that ties request to response,
// and the parameters.
type ProcInitiate struct {
	Proc     Proc
	Selector Selector
	Seq      uint8
	Params   []byte
}

// DecodeST7 decodes a write of PROC_INITIATE_TBL.
func DecodeST7(b []byte, f Format) (ProcInitiate, error) {
	var p ProcInitiate
	r := newReader(b, f, ST7)
	nbr := r.u16("TBL_PROC_NBR")
	p.Proc, p.Selector = Proc(nbr&0xFFF), Selector(nbr>>12)
	p.Seq = r.u8("SEQ_NBR")
	if r.err == nil {
		p.Params = append([]byte(nil), b[r.off:]...)
		r.off = len(b)
	}
	return p, r.end()
}

// Encode is ST7's octets.
func (p ProcInitiate) Encode(f Format) []byte {
	w := newWriter(f)
	w.u16(uint16(p.Proc&0xFFF) | uint16(p.Selector&15)<<12)
	w.u8(p.Seq)
	w.bytes(p.Params)
	return w.b
}

// ProcResponse is ST8, PROC_RESPONSE_TBL.
type ProcResponse struct {
	Proc     Proc
	Selector Selector
	Seq      uint8
	Result   Result
	Data     []byte // RESP_DATA_RCD
}

// DecodeST8 decodes PROC_RESPONSE_TBL.
func DecodeST8(b []byte, f Format) (ProcResponse, error) {
	var p ProcResponse
	r := newReader(b, f, ST8)
	nbr := r.u16("TBL_PROC_NBR")
	p.Proc, p.Selector = Proc(nbr&0xFFF), Selector(nbr>>12)
	p.Seq = r.u8("SEQ_NBR")
	p.Result = Result(r.u8("RESULT_CODE"))
	if r.err == nil {
		p.Data = append([]byte(nil), b[r.off:]...)
		r.off = len(b)
	}
	return p, r.end()
}

// Encode is ST8's octets.
func (p ProcResponse) Encode(f Format) []byte {
	w := newWriter(f)
	w.u16(uint16(p.Proc&0xFFF) | uint16(p.Selector&15)<<12)
	w.u8(p.Seq)
	w.u8(uint8(p.Result))
	w.bytes(p.Data)
	return w.b
}

// Err is nil for a completed procedure and the Result otherwise.
func (p ProcResponse) Err() error {
	if p.Result == ResultCompleted {
		return nil
	}
	return p.Result
}

// Remote reset (SP 9) actions, the bits of its ACTION_FLAG parameter;
// bits 3..6 carry the new season with ResetSeasonChange.
const (
	ResetDemand       = 1 << 0
	ResetSelfRead     = 1 << 1
	ResetSeasonChange = 1 << 2
)

// RemoteReset is SP 9's parameter.
type RemoteReset struct {
	Demand, SelfRead, SeasonChange bool
	NewSeason                      uint8 // 0..15
}

// Encode is SP 9's one-octet parameter.
func (r RemoteReset) Encode() []byte {
	var b uint8
	if r.Demand {
		b |= ResetDemand
	}
	if r.SelfRead {
		b |= ResetSelfRead
	}
	if r.SeasonChange {
		b |= ResetSeasonChange
	}
	b |= (r.NewSeason & 15) << 3
	return []byte{b}
}

// DecodeRemoteReset decodes SP 9's parameter.
func DecodeRemoteReset(p []byte) (RemoteReset, error) {
	if len(p) != 1 {
		return RemoteReset{}, fmt.Errorf("c1219: %v: %d parameter octets, want 1", SPRemoteReset, len(p))
	}
	b := p[0]
	return RemoteReset{Demand: b&ResetDemand != 0, SelfRead: b&ResetSelfRead != 0,
		SeasonChange: b&ResetSeasonChange != 0, NewSeason: b >> 3 & 15}, nil
}

// SET_MASK bits of SP 10.
const (
	SetTime         = 1 << 0
	SetDate         = 1 << 1
	SetTimeDateQual = 1 << 2
)

// TIME_DATE_QUAL bits (ST52, ST55, SP 10); bits 0..2 are the day of the
// week, 0 Sunday.
const (
	QualDST          = 1 << 3 // the time is daylight saving time
	QualGMT          = 1 << 4 // the time is UTC
	QualTZApplied    = 1 << 5 // the time zone offset is applied
	QualDSTApplied   = 1 << 6 // the DST adjustment is applied
	QualDSTSupported = 1 << 7 // DST_FLAG is meaningful (SP 10, version 2 and later)
)

// SetDateTimeParams is SP 10's parameter: which parts to set, the new
// date and time (LTIME_DATE), and its qualifier.
type SetDateTimeParams struct {
	Mask uint8 // SET_MASK
	Time time.Time
	Qual uint8 // TIME_DATE_QUAL
}

// Encode is SP 10's parameter in format f.
func (s SetDateTimeParams) Encode(f Format) []byte {
	w := newWriter(f)
	w.u8(s.Mask)
	w.ltime(s.Time)
	w.u8(s.Qual)
	return w.b
}

// DecodeSetDateTime decodes SP 10's parameter.
func DecodeSetDateTime(p []byte, f Format) (SetDateTimeParams, error) {
	var s SetDateTimeParams
	r := newReader(p, f, ST7)
	s.Mask = r.u8("SET_MASK")
	s.Time = r.ltime("DATE_TIME")
	s.Qual = r.u8("TIME_DATE_QUAL")
	return s, r.end()
}

// Weekday is TIME_DATE_QUAL's day of the week.
func Weekday(qual uint8) time.Weekday { return time.Weekday(qual & 7) }

// QualFor is the TIME_DATE_QUAL of a UTC time: its weekday and the GMT
// flag.
func QualFor(t time.Time) uint8 { return uint8(t.UTC().Weekday()) | QualGMT }
