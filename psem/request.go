package psem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Sizes the standard fixes.
const (
	UserLen     = 10 // the logon service's user name, space padded
	PasswordLen = 20 // the security service's password, NUL padded
	MaxIndex    = 9  // index elements a read or write names at most
)

// Request is one PSEM request, decoded. Code is the request code as sent
// (a read with three index elements is 0x33); only the fields its service
// carries are set.
type Request struct {
	Code     byte
	Table    uint16   // reads and writes
	Index    []uint16 // index reads and writes
	Offset   uint32   // offset reads and writes (24 bits)
	Count    uint16   // offset and index reads: octets wanted
	Data     []byte   // writes: the octets to write; authenticate: the encrypted value
	UserID   uint16   // logon; security when HasUserID
	User     string   // logon, trailing spaces removed
	Password [PasswordLen]byte
	// HasUserID says a security request carried the user id C12.22
	// allows after the password.
	HasUserID  bool
	PacketSize uint16 // negotiate
	Packets    uint8  // negotiate
	Bauds      []byte // negotiate: baud rate codes offered, best first
	Seconds    uint8  // wait
	Timing     Timing // timing setup
	KeyID      uint8  // authenticate
}

// Timing is the C12.21 timing setup: the channel traffic timeout, the
// inter-character timeout and the response timeout in seconds, and the
// number of retries.
type Timing struct {
	Traffic, InterChar, Response, Retries uint8
}

// Service names the request's service for messages ("read offset").
func (r Request) Service() string { return ServiceName(r.Code) }

// ServiceName names the service of a request code.
func ServiceName(code byte) string {
	switch {
	case code == ReqIdent:
		return "ident"
	case code == ReqTerminate:
		return "terminate"
	case code == ReqDisconnect:
		return "disconnect"
	case code == ReqReadFull:
		return "read"
	case code >= ReqReadIndex1 && code < ReqReadIndex1+MaxIndex:
		return "read index"
	case code == ReqReadDefault:
		return "read default"
	case code == ReqReadOffset:
		return "read offset"
	case code == ReqWriteFull:
		return "write"
	case code >= ReqWriteIndex1 && code < ReqWriteIndex1+MaxIndex:
		return "write index"
	case code == ReqWriteOffset:
		return "write offset"
	case code == ReqLogon:
		return "logon"
	case code == ReqSecurity:
		return "security"
	case code == ReqLogoff:
		return "logoff"
	case code == ReqAuthenticate:
		return "authenticate"
	case code >= ReqNegotiate && code <= ReqNegotiate+11:
		return "negotiate"
	case code == ReqWait:
		return "wait"
	case code == ReqTimingSetup:
		return "timing setup"
	}
	return fmt.Sprintf("request 0x%02X", code)
}

// knownCode reports whether code is a request PSEM defines.
func knownCode(code byte) bool {
	return !strings.HasPrefix(ServiceName(code), "request ")
}

// Checksum is the data checksum of table data in reads and writes: the
// two's complement of the octets' sum, so that data and checksum add up to
// zero.
func Checksum(data []byte) byte {
	var s byte
	for _, b := range data {
		s += b
	}
	return -s
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed")

func malformed(what string, args ...any) error {
	return fmt.Errorf("psem: %w %s", ErrMalformed, fmt.Sprintf(what, args...))
}

// Request constructors: each returns the request ready to marshal.

// Ident asks for the protocol the meter speaks.
func IdentRequest() Request { return Request{Code: ReqIdent} }

// ReadRequest reads a whole table.
func ReadRequest(table uint16) Request { return Request{Code: ReqReadFull, Table: table} }

// ReadOffsetRequest reads count octets from offset.
func ReadOffsetRequest(table uint16, offset uint32, count uint16) Request {
	return Request{Code: ReqReadOffset, Table: table, Offset: offset, Count: count}
}

// ReadIndexRequest reads count octets from the element index names.
func ReadIndexRequest(table uint16, index []uint16, count uint16) Request {
	return Request{Code: ReqReadIndex1 + byte(max(len(index), 1)) - 1, Table: table, Index: index, Count: count}
}

// WriteRequest writes a whole table.
func WriteRequest(table uint16, data []byte) Request {
	return Request{Code: ReqWriteFull, Table: table, Data: data}
}

// WriteOffsetRequest writes data at offset.
func WriteOffsetRequest(table uint16, offset uint32, data []byte) Request {
	return Request{Code: ReqWriteOffset, Table: table, Offset: offset, Data: data}
}

// WriteIndexRequest writes data at the element index names.
func WriteIndexRequest(table uint16, index []uint16, data []byte) Request {
	return Request{Code: ReqWriteIndex1 + byte(max(len(index), 1)) - 1, Table: table, Index: index, Data: data}
}

// LogonRequest opens a session for a user.
func LogonRequest(userID uint16, user string) Request {
	return Request{Code: ReqLogon, UserID: userID, User: user}
}

// SecurityRequest presents a password, NUL padded to 20 octets.
func SecurityRequest(password []byte) Request {
	r := Request{Code: ReqSecurity}
	copy(r.Password[:], password)
	return r
}

// NegotiateRequest proposes a packet size, a number of packets per
// message and baud rates (codes, see BaudRate).
func NegotiateRequest(packetSize uint16, packets uint8, bauds ...byte) Request {
	return Request{Code: ReqNegotiate + byte(len(bauds)), PacketSize: packetSize, Packets: packets, Bauds: bauds}
}

// WaitRequest asks the meter to keep the channel open for seconds more.
func WaitRequest(seconds uint8) Request { return Request{Code: ReqWait, Seconds: seconds} }

// TimingSetupRequest proposes C12.21 link timers.
func TimingSetupRequest(t Timing) Request { return Request{Code: ReqTimingSetup, Timing: t} }

// AuthenticateRequest carries the C12.21 key id and the ticket encrypted
// with that key.
func AuthenticateRequest(keyID uint8, enc []byte) Request {
	return Request{Code: ReqAuthenticate, KeyID: keyID, Data: enc}
}

// Marshal encodes the request. It fails on fields the encoding cannot
// carry (an offset over 24 bits, data over 65535 octets, more than nine
// index elements, a user name over ten octets).
func (r Request) Marshal() ([]byte, error) {
	b := []byte{r.Code}
	c := r.Code
	switch {
	case c == ReqIdent, c == ReqTerminate, c == ReqDisconnect, c == ReqLogoff, c == ReqReadDefault:
	case c == ReqReadFull:
		b = binary.BigEndian.AppendUint16(b, r.Table)
	case c == ReqReadOffset:
		if r.Offset > 0xFFFFFF {
			return nil, fmt.Errorf("psem: read offset %d of table %d does not fit 24 bits", r.Offset, r.Table)
		}
		b = binary.BigEndian.AppendUint16(b, r.Table)
		b = append(b, byte(r.Offset>>16), byte(r.Offset>>8), byte(r.Offset))
		b = binary.BigEndian.AppendUint16(b, r.Count)
	case c >= ReqReadIndex1 && c < ReqReadIndex1+MaxIndex:
		if int(c-ReqReadIndex1)+1 != len(r.Index) {
			return nil, fmt.Errorf("psem: read index of table %d: code 0x%02X with %d index elements", r.Table, c, len(r.Index))
		}
		b = binary.BigEndian.AppendUint16(b, r.Table)
		for _, x := range r.Index {
			b = binary.BigEndian.AppendUint16(b, x)
		}
		b = binary.BigEndian.AppendUint16(b, r.Count)
	case c == ReqWriteFull, c == ReqWriteOffset, c >= ReqWriteIndex1 && c < ReqWriteIndex1+MaxIndex:
		if len(r.Data) > 0xFFFF {
			return nil, fmt.Errorf("psem: write of %d octets to table %d: over 65535", len(r.Data), r.Table)
		}
		b = binary.BigEndian.AppendUint16(b, r.Table)
		if c == ReqWriteOffset {
			if r.Offset > 0xFFFFFF {
				return nil, fmt.Errorf("psem: write offset %d of table %d does not fit 24 bits", r.Offset, r.Table)
			}
			b = append(b, byte(r.Offset>>16), byte(r.Offset>>8), byte(r.Offset))
		} else if c != ReqWriteFull {
			if int(c-ReqWriteIndex1)+1 != len(r.Index) {
				return nil, fmt.Errorf("psem: write index of table %d: code 0x%02X with %d index elements", r.Table, c, len(r.Index))
			}
			for _, x := range r.Index {
				b = binary.BigEndian.AppendUint16(b, x)
			}
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.Data)))
		b = append(b, r.Data...)
		b = append(b, Checksum(r.Data))
	case c == ReqLogon:
		if len(r.User) > UserLen {
			return nil, fmt.Errorf("psem: logon user %q is longer than %d octets", r.User, UserLen)
		}
		b = binary.BigEndian.AppendUint16(b, r.UserID)
		b = append(b, r.User...)
		for range UserLen - len(r.User) {
			b = append(b, ' ')
		}
	case c == ReqSecurity:
		b = append(b, r.Password[:]...)
		if r.HasUserID {
			b = binary.BigEndian.AppendUint16(b, r.UserID)
		}
	case c == ReqAuthenticate:
		if len(r.Data) > 254 {
			return nil, fmt.Errorf("psem: authenticate value of %d octets is too long", len(r.Data))
		}
		b = append(b, byte(1+len(r.Data)), r.KeyID)
		b = append(b, r.Data...)
	case c >= ReqNegotiate && c <= ReqNegotiate+11:
		if int(c-ReqNegotiate) != len(r.Bauds) {
			return nil, fmt.Errorf("psem: negotiate code 0x%02X with %d baud rates", c, len(r.Bauds))
		}
		b = binary.BigEndian.AppendUint16(b, r.PacketSize)
		b = append(b, r.Packets)
		b = append(b, r.Bauds...)
	case c == ReqWait:
		b = append(b, r.Seconds)
	case c == ReqTimingSetup:
		b = append(b, r.Timing.Traffic, r.Timing.InterChar, r.Timing.Response, r.Timing.Retries)
	default:
		return nil, fmt.Errorf("psem: no such request code 0x%02X", c)
	}
	return b, nil
}

// ParseRequest decodes a request. A write whose data checksum is wrong,
// or whose count disagrees with its data, is malformed.
func ParseRequest(b []byte) (Request, error) {
	if len(b) == 0 {
		return Request{}, malformed("empty request")
	}
	r := Request{Code: b[0]}
	c := b[0]
	p := b[1:]
	need := func(n int) error {
		if len(p) != n {
			return malformed("%s request: %d octets after the code, want %d", ServiceName(c), len(p), n)
		}
		return nil
	}
	switch {
	case c == ReqIdent, c == ReqTerminate, c == ReqDisconnect, c == ReqLogoff, c == ReqReadDefault:
		return r, need(0)
	case c == ReqReadFull:
		if err := need(2); err != nil {
			return r, err
		}
		r.Table = binary.BigEndian.Uint16(p)
	case c == ReqReadOffset:
		if err := need(7); err != nil {
			return r, err
		}
		r.Table = binary.BigEndian.Uint16(p)
		r.Offset = uint32(p[2])<<16 | uint32(p[3])<<8 | uint32(p[4])
		r.Count = binary.BigEndian.Uint16(p[5:])
	case c >= ReqReadIndex1 && c < ReqReadIndex1+MaxIndex:
		n := int(c-ReqReadIndex1) + 1
		if err := need(2 + 2*n + 2); err != nil {
			return r, err
		}
		r.Table = binary.BigEndian.Uint16(p)
		r.Index = make([]uint16, n)
		for i := range r.Index {
			r.Index[i] = binary.BigEndian.Uint16(p[2+2*i:])
		}
		r.Count = binary.BigEndian.Uint16(p[2+2*n:])
	case c == ReqWriteFull, c == ReqWriteOffset, c >= ReqWriteIndex1 && c < ReqWriteIndex1+MaxIndex:
		head := 2
		switch {
		case c == ReqWriteOffset:
			head += 3
		case c != ReqWriteFull:
			head += 2 * (int(c-ReqWriteIndex1) + 1)
		}
		if len(p) < head+3 {
			return r, malformed("%s request: %d octets, too short", ServiceName(c), len(p))
		}
		r.Table = binary.BigEndian.Uint16(p)
		switch {
		case c == ReqWriteOffset:
			r.Offset = uint32(p[2])<<16 | uint32(p[3])<<8 | uint32(p[4])
		case c != ReqWriteFull:
			r.Index = make([]uint16, (head-2)/2)
			for i := range r.Index {
				r.Index[i] = binary.BigEndian.Uint16(p[2+2*i:])
			}
		}
		n := int(binary.BigEndian.Uint16(p[head:]))
		data := p[head+2:]
		if len(data) != n+1 {
			return r, malformed("%s request to table %d: count %d but %d octets of data and checksum", ServiceName(c), r.Table, n, len(data))
		}
		r.Data = append([]byte(nil), data[:n]...)
		if Checksum(r.Data) != data[n] {
			return r, malformed("%s request to table %d: data checksum 0x%02X, want 0x%02X", ServiceName(c), r.Table, data[n], Checksum(r.Data))
		}
	case c == ReqLogon:
		if err := need(2 + UserLen); err != nil {
			return r, err
		}
		r.UserID = binary.BigEndian.Uint16(p)
		r.User = strings.TrimRight(string(p[2:]), " \x00")
	case c == ReqSecurity:
		switch len(p) {
		case PasswordLen:
		case PasswordLen + 2:
			r.HasUserID = true
			r.UserID = binary.BigEndian.Uint16(p[PasswordLen:])
		default:
			return r, malformed("security request: %d octets after the code, want %d", len(p), PasswordLen)
		}
		copy(r.Password[:], p)
	case c == ReqAuthenticate:
		if len(p) < 2 || int(p[0]) != len(p)-1 {
			return r, malformed("authenticate request: length octet disagrees with %d octets", len(p))
		}
		r.KeyID = p[1]
		r.Data = append([]byte(nil), p[2:]...)
	case c >= ReqNegotiate && c <= ReqNegotiate+11:
		n := int(c - ReqNegotiate)
		if err := need(3 + n); err != nil {
			return r, err
		}
		r.PacketSize = binary.BigEndian.Uint16(p)
		r.Packets = p[2]
		r.Bauds = append([]byte{}, p[3:]...)
	case c == ReqWait:
		if err := need(1); err != nil {
			return r, err
		}
		r.Seconds = p[0]
	case c == ReqTimingSetup:
		if err := need(4); err != nil {
			return r, err
		}
		r.Timing = Timing{p[0], p[1], p[2], p[3]}
	default:
		return r, malformed("request code 0x%02X", c)
	}
	return r, nil
}

// Baud rate codes of the negotiate service; 0 leaves the rate to the
// medium (TCP, say).
var baudRates = [...]int{0, 300, 600, 1200, 2400, 4800, 9600, 14400, 19200, 28800, 57600, 38400, 115200, 128000, 256000}

// BaudRate returns the bit rate a negotiate baud code stands for, 0 for
// the medium's own rate or an unknown code.
func BaudRate(code byte) int {
	if int(code) < len(baudRates) {
		return baudRates[code]
	}
	return 0
}

// BaudCode returns the negotiate code of a bit rate, or false.
func BaudCode(rate int) (byte, bool) {
	for i, r := range baudRates {
		if r == rate && i > 0 {
			return byte(i), true
		}
	}
	return 0, false
}
