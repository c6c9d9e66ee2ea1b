// Package psem owns the PSEM service layer (Protocol Specification for
// Electric Metering) that ANSI C12.18, C12.21 and C12.22 share: the
// request and response codecs, the response codes, the client that sends
// requests over any link, and the meter side that answers them from a
// C12.19 table store. The links that carry PSEM (the C12.18 packet link,
// the C12.22 EPSEM envelope) are their own packages.
package psem

import "fmt"

// Request codes, the first octet of every PSEM request.
const (
	ReqIdent        = 0x20
	ReqTerminate    = 0x21
	ReqDisconnect   = 0x22 // C12.21
	ReqReadFull     = 0x30
	ReqReadIndex1   = 0x31 // 0x31..0x39: read with 1..9 index elements
	ReqReadDefault  = 0x3E
	ReqReadOffset   = 0x3F
	ReqWriteFull    = 0x40
	ReqWriteIndex1  = 0x41 // 0x41..0x49: write with 1..9 index elements
	ReqWriteOffset  = 0x4F
	ReqLogon        = 0x50
	ReqSecurity     = 0x51
	ReqLogoff       = 0x52
	ReqAuthenticate = 0x53 // C12.21
	ReqNegotiate    = 0x60 // 0x60..0x6B: the low nibble counts the baud rates offered
	ReqWait         = 0x70
	ReqTimingSetup  = 0x71 // C12.21
)

// Code is a PSEM response code. A non-OK Code is also the error a table
// store returns to refuse a request with that code.
type Code byte

// Response codes of C12.18 and C12.21, and those C12.22 adds.
const (
	OK    Code = 0x00 // acknowledge
	ERR   Code = 0x01 // error, no reason given
	SNS   Code = 0x02 // service not supported
	ISC   Code = 0x03 // insufficient security clearance
	ONP   Code = 0x04 // operation not possible
	IAR   Code = 0x05 // inappropriate action requested
	BSY   Code = 0x06 // device busy
	DNR   Code = 0x07 // data not ready
	DLK   Code = 0x08 // data locked
	RNO   Code = 0x09 // renegotiate request
	ISSS  Code = 0x0A // invalid service sequence state
	SME   Code = 0x0B // security mechanism error (C12.22)
	UAT   Code = 0x0C // unknown or invalid called ApTitle (C12.22)
	NETT  Code = 0x0D // network timeout (C12.22)
	NETR  Code = 0x0E // node not reachable (C12.22)
	RQTL  Code = 0x0F // request too large (C12.22)
	RSTL  Code = 0x10 // response too large (C12.22)
	SGNP  Code = 0x11 // segmentation not possible (C12.22)
	SGERR Code = 0x12 // segmentation error (C12.22)
)

var codeNames = [...]string{"ok", "err", "sns", "isc", "onp", "iar", "bsy", "dnr", "dlk", "rno", "isss",
	"sme", "uat", "nett", "netr", "rqtl", "rstl", "sgnp", "sgerr"}

var codeMeanings = [...]string{"acknowledge", "error", "service not supported", "insufficient security clearance",
	"operation not possible", "inappropriate action requested", "device busy", "data not ready", "data locked",
	"renegotiate request", "invalid service sequence state", "security mechanism error",
	"unknown or invalid called ApTitle", "network timeout", "node not reachable", "request too large",
	"response too large", "segmentation not possible", "segmentation error"}

// String returns the code's name in the standard ("isc").
func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code 0x%02X", byte(c))
}

// Error makes a refusal an error: "psem: isc (insufficient security
// clearance)".
func (c Code) Error() string {
	if int(c) < len(codeMeanings) {
		return "psem: " + codeNames[c] + " (" + codeMeanings[c] + ")"
	}
	return fmt.Sprintf("psem: response code 0x%02X", byte(c))
}

// Tables is the table store a meter side serves requests from (a
// c1219.Store, say). Index reads and writes name an element by its index
// path in the table's structure; count is the number of octets wanted
// from there. A method refuses a request by returning a Code (IAR for a
// table it does not have or an offset past its end, ISC for a table the
// session may not touch, ONP for a write it cannot carry out); any other
// error answers ERR. Writing ST7 runs a procedure, whose response the next
// read of ST8 returns.
type Tables interface {
	ReadTable(id uint16) ([]byte, error)
	ReadOffset(id uint16, offset uint32, count uint16) ([]byte, error)
	ReadIndex(id uint16, index []uint16, count uint16) ([]byte, error)
	WriteTable(id uint16, data []byte) error
	WriteOffset(id uint16, offset uint32, data []byte) error
	WriteIndex(id uint16, index []uint16, data []byte) error
}
