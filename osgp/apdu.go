package osgp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/amigo-ami/amigo/psem"
)

// Table services: the request codes of the C12.18 table services OSGP
// carries, full and partial (by offset) reads and writes.
const (
	OpRead         = psem.ReqReadFull
	OpReadPartial  = psem.ReqReadOffset
	OpWrite        = psem.ReqWriteFull
	OpWritePartial = psem.ReqWriteOffset
)

// ErrBody: a request or response body that does not parse.
var ErrBody = errors.New("osgp: malformed message body")

// Request is a table request.
type Request struct {
	Op     byte
	Table  uint16
	Offset uint32 // partial: 0..2^24-1
	Count  uint16 // partial read: octets wanted
	Data   []byte // writes
}

// Response answers a Request: its code and, for a read, the data. A
// refusal of a stale sequence number (psem.ISSS) carries the meter's
// last accepted number in Data, 4 octets, so the client can catch up.
type Response struct {
	Code psem.Code
	Data []byte
}

// checksum is C12.18's table data check: the two's complement of the
// octets' sum.
func checksum(b []byte) byte {
	var s byte
	for _, c := range b {
		s += c
	}
	return -s
}

// AppendRequest encodes r: the code, the table ID (2 octets, most
// significant first), a partial access's offset (3 octets) and count (2),
// and a write's count, data and checksum.
func AppendRequest(b []byte, r Request) ([]byte, error) {
	if len(r.Data) > 0xFFFF || r.Offset > 0xFFFFFF {
		return b, fmt.Errorf("%w: offset %d with %d octets", ErrBody, r.Offset, len(r.Data))
	}
	b = append(b, r.Op, byte(r.Table>>8), byte(r.Table))
	switch r.Op {
	case OpRead:
	case OpReadPartial:
		b = append(b, byte(r.Offset>>16), byte(r.Offset>>8), byte(r.Offset), byte(r.Count>>8), byte(r.Count))
	case OpWrite:
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.Data)))
		b = append(append(b, r.Data...), checksum(r.Data))
	case OpWritePartial:
		b = append(b, byte(r.Offset>>16), byte(r.Offset>>8), byte(r.Offset))
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.Data)))
		b = append(append(b, r.Data...), checksum(r.Data))
	default:
		return b, fmt.Errorf("%w: service 0x%02X", ErrBody, r.Op)
	}
	return b, nil
}

// ParseRequest decodes a request body. Data aliases b.
func ParseRequest(b []byte) (Request, error) {
	var r Request
	if len(b) < 3 {
		return r, fmt.Errorf("%w: request of %d octets", ErrBody, len(b))
	}
	r.Op, r.Table = b[0], binary.BigEndian.Uint16(b[1:])
	p := b[3:]
	switch r.Op {
	case OpRead:
		if len(p) != 0 {
			return r, fmt.Errorf("%w: %d octets after a full read", ErrBody, len(p))
		}
	case OpReadPartial:
		if len(p) != 5 {
			return r, fmt.Errorf("%w: partial read of %d octets", ErrBody, len(b))
		}
		r.Offset = uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2])
		r.Count = binary.BigEndian.Uint16(p[3:])
	case OpWrite, OpWritePartial:
		if r.Op == OpWritePartial {
			if len(p) < 3 {
				return r, fmt.Errorf("%w: partial write without offset", ErrBody)
			}
			r.Offset = uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2])
			p = p[3:]
		}
		d, err := countedData(p)
		if err != nil {
			return r, err
		}
		r.Data = d
		r.Count = uint16(len(d))
	default:
		return r, fmt.Errorf("%w: service 0x%02X", ErrBody, r.Op)
	}
	return r, nil
}

// countedData reads count (2 octets), data and checksum, which must end b.
func countedData(p []byte) ([]byte, error) {
	if len(p) < 3 {
		return nil, fmt.Errorf("%w: no count", ErrBody)
	}
	n := int(binary.BigEndian.Uint16(p))
	if len(p) != 2+n+1 {
		return nil, fmt.Errorf("%w: count %d with %d octets", ErrBody, n, len(p)-3)
	}
	d := p[2 : 2+n]
	if checksum(d) != p[2+n] {
		return nil, fmt.Errorf("%w: data checksum 0x%02X, want 0x%02X", ErrBody, p[2+n], checksum(d))
	}
	return d, nil
}

// AppendResponse encodes a response to a request of service op: the
// code, and for an accepted read the count, data and checksum.
func AppendResponse(b []byte, op byte, r Response) ([]byte, error) {
	b = append(b, byte(r.Code))
	if (r.Code == psem.OK && (op == OpRead || op == OpReadPartial)) || r.Code == psem.ISSS {
		if len(r.Data) > 0xFFFF {
			return b, fmt.Errorf("%w: %d octets", ErrBody, len(r.Data))
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.Data)))
		b = append(append(b, r.Data...), checksum(r.Data))
	}
	return b, nil
}

// ParseResponse decodes the response to a request of service op. Data
// aliases b.
func ParseResponse(b []byte, op byte) (Response, error) {
	var r Response
	if len(b) == 0 {
		return r, fmt.Errorf("%w: empty response", ErrBody)
	}
	r.Code = psem.Code(b[0])
	if (r.Code == psem.OK && (op == OpRead || op == OpReadPartial)) || r.Code == psem.ISSS {
		d, err := countedData(b[1:])
		if err != nil {
			return r, err
		}
		r.Data = d
		return r, nil
	}
	if len(b) != 1 {
		return r, fmt.Errorf("%w: %d octets after code %s", ErrBody, len(b)-1, r.Code)
	}
	return r, nil
}
