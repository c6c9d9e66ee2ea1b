package mbus

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Link layer start and stop bytes (EN 13757-2 clause 5 / IEC 60870-5-1 FT1.2).
const (
	Ack        = 0xE5
	startShort = 0x10
	startLong  = 0x68
	stop       = 0x16
)

// C fields (EN 13757-2 table 3). FCB and FCV are the frame count bit and
// its valid flag of a master's frame; ACD and DFC a slave's.
const (
	CSndNke = 0x40
	CSndUD  = 0x53
	CReqUD2 = 0x5B
	CReqUD1 = 0x5A
	CRspUD  = 0x08
	FCB     = 0x20
	FCV     = 0x10
	ACD     = 0x20
	DFC     = 0x10
)

// Addresses (EN 13757-2 clause 5.4).
const (
	AddrUnconfigured = 0x00
	AddrMaxPrimary   = 0xFA // 1..250 are primary addresses
	AddrNetwork      = 0xFD // the slave selected by secondary address
	AddrBroadcastAck = 0xFE // all slaves, each answers (test only)
	AddrBroadcast    = 0xFF // all slaves, none answers
)

// Errors of the link layer.
var (
	ErrChecksum = errors.New("mbus: frame checksum wrong")
	ErrLength   = errors.New("mbus: frame length wrong")
	ErrFrame    = errors.New("mbus: not a frame")
)

// FrameKind is a link layer frame's format.
type FrameKind byte

// Frame formats.
const (
	FrameAck     FrameKind = iota + 1 // single character E5
	FrameShort                        // 10 C A CS 16
	FrameControl                      // 68 03 03 68 C A CI CS 16
	FrameLong                         // 68 L L 68 C A CI data CS 16
)

// Frame is one link layer frame. Data is the user data after CI of a long
// frame.
type Frame struct {
	Kind FrameKind
	C    byte
	A    byte
	CI   byte
	Data []byte
}

// MaxData is the most user data a long frame carries (L is at most 255: C,
// A and CI take three).
const MaxData = 252

// Append appends f's bytes to dst. Control and long frames are told apart
// by Data: a long frame with no data is sent as a control frame.
func (f Frame) Append(dst []byte) ([]byte, error) {
	switch f.Kind {
	case FrameAck:
		return append(dst, Ack), nil
	case FrameShort:
		return append(dst, startShort, f.C, f.A, f.C+f.A, stop), nil
	case FrameControl, FrameLong:
		if len(f.Data) > MaxData {
			return dst, fmt.Errorf("%w: %d bytes of user data, at most %d", ErrLength, len(f.Data), MaxData)
		}
		l := byte(3 + len(f.Data))
		dst = append(dst, startLong, l, l, startLong, f.C, f.A, f.CI)
		cs := f.C + f.A + f.CI
		for _, b := range f.Data {
			cs += b
		}
		dst = append(dst, f.Data...)
		return append(dst, cs, stop), nil
	}
	return dst, fmt.Errorf("%w: kind %d", ErrFrame, f.Kind)
}

// DecodeFrame decodes the frame at the start of b and returns its length.
// io.ErrUnexpectedEOF means b holds the start of a frame only.
func DecodeFrame(b []byte) (Frame, int, error) {
	if len(b) == 0 {
		return Frame{}, 0, io.ErrUnexpectedEOF
	}
	switch b[0] {
	case Ack:
		return Frame{Kind: FrameAck}, 1, nil
	case startShort:
		if len(b) < 5 {
			return Frame{}, 0, io.ErrUnexpectedEOF
		}
		if b[4] != stop {
			return Frame{}, 0, fmt.Errorf("%w: short frame stop byte %#02x", ErrFrame, b[4])
		}
		if b[1]+b[2] != b[3] {
			return Frame{}, 0, fmt.Errorf("%w: short frame CS %#02x, computed %#02x", ErrChecksum, b[3], b[1]+b[2])
		}
		return Frame{Kind: FrameShort, C: b[1], A: b[2]}, 5, nil
	case startLong:
		if len(b) < 4 {
			return Frame{}, 0, io.ErrUnexpectedEOF
		}
		if b[3] != startLong {
			return Frame{}, 0, fmt.Errorf("%w: second start byte %#02x", ErrFrame, b[3])
		}
		if b[1] != b[2] {
			return Frame{}, 0, fmt.Errorf("%w: L fields %d and %d differ", ErrLength, b[1], b[2])
		}
		l := int(b[1])
		if l < 3 {
			return Frame{}, 0, fmt.Errorf("%w: L field %d, at least 3", ErrLength, l)
		}
		n := 4 + l + 2
		if len(b) < n {
			return Frame{}, 0, io.ErrUnexpectedEOF
		}
		if b[n-1] != stop {
			return Frame{}, 0, fmt.Errorf("%w: stop byte %#02x where L=%d ends the frame", ErrLength, b[n-1], l)
		}
		var cs byte
		for _, c := range b[4 : 4+l] {
			cs += c
		}
		if cs != b[n-2] {
			return Frame{}, 0, fmt.Errorf("%w: CS %#02x, computed %#02x", ErrChecksum, b[n-2], cs)
		}
		f := Frame{Kind: FrameLong, C: b[4], A: b[5], CI: b[6], Data: append([]byte(nil), b[7:4+l]...)}
		if l == 3 {
			f.Kind, f.Data = FrameControl, nil
		}
		return f, n, nil
	}
	return Frame{}, 0, fmt.Errorf("%w: start byte %#02x", ErrFrame, b[0])
}

// ReadFrame reads one frame from r. A byte that cannot start a frame is an
// ErrFrame error (a collision, or line noise); the caller decides whether
// to resynchronise.
func ReadFrame(r *bufio.Reader) (Frame, error) {
	first, err := r.Peek(1)
	if err != nil {
		return Frame{}, err
	}
	n := 1
	switch first[0] {
	case Ack:
	case startShort:
		n = 5
	case startLong:
		h, err := r.Peek(4)
		if err != nil {
			return Frame{}, noEOF(err)
		}
		if h[1] != h[2] || h[3] != startLong {
			_, _ = r.Discard(4)
			_, _, derr := DecodeFrame(append([]byte(nil), h...))
			return Frame{}, derr
		}
		n = 4 + int(h[1]) + 2
	default:
		_, _ = r.Discard(1)
		return Frame{}, fmt.Errorf("%w: start byte %#02x", ErrFrame, first[0])
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return Frame{}, noEOF(err)
	}
	f, _, err := DecodeFrame(buf)
	return f, err
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Secondary is a secondary address: the identification of the fixed data
// header (EN 13757-3 clause 6.3), by which a master selects a slave
// (EN 13757-2 annex / clause on selection).
type Secondary struct {
	ID           uint32
	Manufacturer string
	Version      byte
	Medium       byte
}

// String formats the address as the usual 16 hex digits: ID (8 digits),
// the manufacturer field's two bytes in the order they are sent (least
// significant first, as libmbus and the tools built on it write them),
// version, medium.
func (s Secondary) String() string {
	m, _ := ManufacturerCode(s.Manufacturer)
	return fmt.Sprintf("%08d%02X%02X%02X%02X", s.ID, byte(m), byte(m>>8), s.Version, s.Medium)
}

// ParseSecondary parses 16 hex digits as String writes them (any ID digit
// may be the wildcard F, and FFFF, FF, FF the other fields'), or 8 digits
// of an ID alone (then manufacturer, version and medium are
// wildcards in a Mask).
func ParseSecondary(s string) (Mask, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != 8 && len(s) != 16 {
		return Mask{}, fmt.Errorf("mbus: secondary address %q: want 16 hex digits or an 8-digit id", s)
	}
	m := Mask{Manufacturer: 0xFFFF, Version: 0xFF, Medium: 0xFF}
	for k := 0; k < 8; k++ {
		c := s[k]
		switch {
		case c >= '0' && c <= '9':
			m.ID[k] = c - '0'
		case c == 'F':
			m.ID[k] = 0xF
		default:
			return Mask{}, fmt.Errorf("mbus: secondary address %q: id digit %q", s, c)
		}
	}
	if len(s) == 16 {
		mf, err := strconv.ParseUint(s[8:12], 16, 16)
		if err != nil {
			return Mask{}, fmt.Errorf("mbus: secondary address %q: manufacturer: %v", s, err)
		}
		mf = mf>>8 | (mf&0xFF)<<8 // sent least significant byte first
		ve, err := strconv.ParseUint(s[12:14], 16, 8)
		if err != nil {
			return Mask{}, fmt.Errorf("mbus: secondary address %q: version: %v", s, err)
		}
		me, err := strconv.ParseUint(s[14:16], 16, 8)
		if err != nil {
			return Mask{}, fmt.Errorf("mbus: secondary address %q: medium: %v", s, err)
		}
		m.Manufacturer, m.Version, m.Medium = uint16(mf), byte(ve), byte(me)
	}
	return m, nil
}

// Mask is a secondary address in a selection, where any ID digit may be
// 0xF and any other field all ones: wildcards (EN 13757-3 clause 11.4).
// ID holds the 8 digits most significant first.
type Mask struct {
	ID           [8]byte
	Manufacturer uint16
	Version      byte
	Medium       byte
}

// Exact returns the mask selecting a only.
func Exact(a Secondary) Mask {
	m := Mask{Version: a.Version, Medium: a.Medium}
	m.Manufacturer, _ = ManufacturerCode(a.Manufacturer)
	id := a.ID
	for k := 7; k >= 0; k-- {
		m.ID[k] = byte(id % 10)
		id /= 10
	}
	return m
}

// Wildcard returns the mask matching every slave.
func Wildcard() Mask {
	m := Mask{Manufacturer: 0xFFFF, Version: 0xFF, Medium: 0xFF}
	for k := range m.ID {
		m.ID[k] = 0xF
	}
	return m
}

// Matches reports whether a matches the mask.
func (m Mask) Matches(a Secondary) bool {
	id := a.ID
	for k := 7; k >= 0; k-- {
		if m.ID[k] != 0xF && m.ID[k] != byte(id%10) {
			return false
		}
		id /= 10
	}
	mc, _ := ManufacturerCode(a.Manufacturer)
	return (m.Manufacturer == 0xFFFF || m.Manufacturer == mc) &&
		(m.Version == 0xFF || m.Version == a.Version) &&
		(m.Medium == 0xFF || m.Medium == a.Medium)
}

// Bytes returns the 8 bytes of a selection's data (after CI 0x52).
func (m Mask) Bytes() []byte {
	b := make([]byte, 0, 8)
	for k := 3; k >= 0; k-- {
		b = append(b, m.ID[2*k+1]|m.ID[2*k]<<4)
	}
	return append(b, byte(m.Manufacturer), byte(m.Manufacturer>>8), m.Version, m.Medium)
}

// DecodeMask decodes a selection's data.
func DecodeMask(b []byte) (Mask, error) {
	if len(b) < 8 {
		return Mask{}, fmt.Errorf("%w: selection of %d bytes, need 8", ErrFrame, len(b))
	}
	var m Mask
	for k := 0; k < 4; k++ {
		hi, lo := b[3-k]>>4, b[3-k]&0x0F
		if (hi > 9 && hi != 0xF) || (lo > 9 && lo != 0xF) {
			return Mask{}, fmt.Errorf("%w: selection id % X is not BCD or wildcard", ErrFrame, b[:4])
		}
		m.ID[2*k], m.ID[2*k+1] = hi, lo
	}
	m.Manufacturer = uint16(b[4]) | uint16(b[5])<<8
	m.Version, m.Medium = b[6], b[7]
	return m, nil
}

// String writes the mask as 16 hex digits, wildcards as F.
func (m Mask) String() string {
	var sb strings.Builder
	for _, d := range m.ID {
		sb.WriteByte("0123456789ABCDEF"[d])
	}
	fmt.Fprintf(&sb, "%02X%02X%02X%02X", byte(m.Manufacturer), byte(m.Manufacturer>>8), m.Version, m.Medium)
	return sb.String()
}
