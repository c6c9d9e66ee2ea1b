package wmbus

import (
	"errors"
	"fmt"
)

// Errors a decoder wraps, so that a receiver counts them by kind.
var (
	// ErrCRC: a block's CRC does not match; the telegram was garbled on
	// air.
	ErrCRC = errors.New("wmbus: CRC mismatch")
	// ErrFrame: the bytes are not a telegram of the format they claim.
	ErrFrame = errors.New("wmbus: malformed frame")
	// ErrUnknownMeter: the telegram is encrypted and the keyring has no
	// key for its meter.
	ErrUnknownMeter = errors.New("wmbus: no key for meter")
	// ErrWrongKey: decryption gave no 2F2F, or the MAC did not verify;
	// the key is not the meter's.
	ErrWrongKey = errors.New("wmbus: wrong key")
	// ErrUnsupported: a well-formed telegram uses a feature this package
	// does not implement (a security mode, a fragment).
	ErrUnsupported = errors.New("wmbus: unsupported")
)

// Format is the link layer frame format.
type Format byte

const (
	FormatA Format = 'A' // a CRC after the 10-byte first block and after every 16 bytes
	FormatB Format = 'B' // one CRC over the first 126 bytes, one over the rest
)

func (f Format) String() string {
	switch f {
	case FormatA, FormatB:
		return string(f)
	}
	return fmt.Sprintf("format(%d)", byte(f))
}

// C field values a meter sends.
const (
	CSndNR  = 0x44 // SND_NR: a meter's spontaneous telegram, no reply expected
	CSndIR  = 0x46 // SND_IR: installation request
	CAccNR  = 0x47 // ACC_NR: no data, access window open
	CAccDmd = 0x48 // ACC_DMD: access demand
)

// Device types of the A field (EN 13757-7, Table 2 of EN 13757-3) a
// simulator's meters use.
const (
	DeviceElectricity = 0x02
	DeviceGas         = 0x03
	DeviceHeat        = 0x04
	DeviceWarmWater   = 0x06
	DeviceWater       = 0x07
)

// Address is what the M and A fields say: who made the meter, its
// identification number, version and device type. The same four make the
// long transport header.
type Address struct {
	Manufacturer uint16 // three letters, five bits each ('A' = 1)
	// ID is the identification number as sent: eight BCD digits, so
	// 0x12345678 is meter 12345678.
	ID      uint32
	Version byte
	Type    byte
}

// Key returns the address's keyring key: manufacturer and number.
func (a Address) Key() uint64 { return uint64(a.Manufacturer)<<32 | uint64(a.ID) }

func (a Address) String() string {
	return fmt.Sprintf("%s %08x v%d t%02x", ManufacturerString(a.Manufacturer), a.ID, a.Version, a.Type)
}

// put appends M and A as sent: little endian.
func (a Address) put(b []byte) []byte {
	return append(b, byte(a.Manufacturer), byte(a.Manufacturer>>8),
		byte(a.ID), byte(a.ID>>8), byte(a.ID>>16), byte(a.ID>>24), a.Version, a.Type)
}

func addressOf(b []byte) Address {
	return Address{
		Manufacturer: uint16(b[0]) | uint16(b[1])<<8,
		ID:           uint32(b[2]) | uint32(b[3])<<8 | uint32(b[4])<<16 | uint32(b[5])<<24,
		Version:      b[6], Type: b[7],
	}
}

// ManufacturerCode packs a three-letter flag ("AMG"); 0 if it is not three
// capital letters.
func ManufacturerCode(s string) uint16 {
	if len(s) != 3 {
		return 0
	}
	var m uint16
	for i := range 3 {
		if s[i] < 'A' || s[i] > 'Z' {
			return 0
		}
		m = m<<5 | uint16(s[i]-'A'+1)
	}
	return m
}

// ManufacturerString unpacks a manufacturer code; letters out of range
// show as '?'.
func ManufacturerString(m uint16) string {
	var b [3]byte
	for i := range 3 {
		v := byte(m>>(10-5*i)) & 0x1F
		if v < 1 || v > 26 {
			b[i] = '?'
		} else {
			b[i] = 'A' + v - 1
		}
	}
	return string(b[:])
}

// BCDID turns a number below 10^8 into the BCD identification number.
func BCDID(n uint64) uint32 {
	var v uint32
	for i := range 8 {
		v |= uint32(n%10) << (4 * i)
		n /= 10
	}
	return v
}

// Frame is one link layer telegram without its CRCs.
type Frame struct {
	C byte
	Address
	// Payload is everything after the A field: the CI field and what it
	// announces.
	Payload []byte
}

// maxPayload keeps L, which counts C, M, A and the payload (and, in
// format B, the CRCs), within one byte.
const (
	maxPayloadA = 255 - 9
	maxPayloadB = 255 - 9 - 4
)

// AppendA appends f in format A: the first block (L C M A) and every 16
// bytes of payload after it followed by their CRC.
func (f *Frame) AppendA(dst []byte) ([]byte, error) {
	if len(f.Payload) == 0 || len(f.Payload) > maxPayloadA {
		return dst, fmt.Errorf("%w: payload of %d bytes, want 1..%d", ErrFrame, len(f.Payload), maxPayloadA)
	}
	start := len(dst)
	dst = append(dst, byte(9+len(f.Payload)), f.C)
	dst = f.Address.put(dst)
	dst = putCRC(dst, dst[start:])
	for p := f.Payload; len(p) > 0; {
		n := min(16, len(p))
		at := len(dst)
		dst = append(dst, p[:n]...)
		dst = putCRC(dst, dst[at:])
		p = p[n:]
	}
	return dst, nil
}

// blockB2 is how many bytes format B's first CRC covers: the 10-byte
// first block and up to 116 bytes of the second.
const blockB2 = 126

// AppendB appends f in format B: L counts the CRCs too; the first CRC
// covers up to 126 bytes from L on, a second CRC the rest.
func (f *Frame) AppendB(dst []byte) ([]byte, error) {
	n := len(f.Payload)
	if n == 0 || n > maxPayloadB {
		return dst, fmt.Errorf("%w: payload of %d bytes, want 1..%d", ErrFrame, n, maxPayloadB)
	}
	crcs := 2
	if 10+n > blockB2 {
		crcs = 4
	}
	start := len(dst)
	dst = append(dst, byte(9+n+crcs), f.C)
	dst = f.Address.put(dst)
	first := min(n, blockB2-10)
	dst = append(dst, f.Payload[:first]...)
	dst = putCRC(dst, dst[start:])
	if first < n {
		at := len(dst)
		dst = append(dst, f.Payload[first:]...)
		dst = putCRC(dst, dst[at:])
	}
	return dst, nil
}

// SizeA returns how many bytes a format A frame whose first byte is l
// takes, CRCs included.
func SizeA(l byte) int {
	n := int(l) - 9
	if n < 0 {
		return 12
	}
	return 12 + n + 2*((n+15)/16)
}

// SizeB returns how many bytes a format B frame whose first byte is l
// takes.
func SizeB(l byte) int { return int(l) + 1 }

// DecodeA decodes one format A frame that fills b, checking every CRC.
func DecodeA(b []byte) (Frame, error) {
	if len(b) < 12 {
		return Frame{}, fmt.Errorf("%w: format A: %d bytes, want at least 12", ErrFrame, len(b))
	}
	if b[0] < 10 {
		return Frame{}, fmt.Errorf("%w: format A: L %d, want at least 10", ErrFrame, b[0])
	}
	if want := SizeA(b[0]); len(b) != want {
		return Frame{}, fmt.Errorf("%w: format A: L %d needs %d bytes, have %d", ErrFrame, b[0], want, len(b))
	}
	if !crcOK(b[:10], b[10], b[11]) {
		return Frame{}, fmt.Errorf("%w: format A: first block", ErrCRC)
	}
	f := Frame{C: b[1], Address: addressOf(b[2:10])}
	f.Payload = make([]byte, 0, int(b[0])-9)
	for p, blk := b[12:], 2; len(p) > 0; blk++ {
		n := min(16, len(p)-2)
		if !crcOK(p[:n], p[n], p[n+1]) {
			return Frame{}, fmt.Errorf("%w: format A: block %d", ErrCRC, blk)
		}
		f.Payload = append(f.Payload, p[:n]...)
		p = p[n+2:]
	}
	return f, nil
}

// DecodeB decodes one format B frame that fills b, checking its CRCs.
func DecodeB(b []byte) (Frame, error) {
	if len(b) < 13 {
		return Frame{}, fmt.Errorf("%w: format B: %d bytes, want at least 13", ErrFrame, len(b))
	}
	if len(b) != SizeB(b[0]) {
		return Frame{}, fmt.Errorf("%w: format B: L %d needs %d bytes, have %d", ErrFrame, b[0], SizeB(b[0]), len(b))
	}
	data := len(b) - 2 // without the last CRC
	two := len(b) > blockB2+2
	if two {
		data -= 2
	}
	if data < 11 || (two && data <= blockB2) {
		return Frame{}, fmt.Errorf("%w: format B: L %d leaves no payload", ErrFrame, b[0])
	}
	first := min(data, blockB2)
	if !crcOK(b[:first], b[first], b[first+1]) {
		return Frame{}, fmt.Errorf("%w: format B: block 2", ErrCRC)
	}
	f := Frame{C: b[1], Address: addressOf(b[2:10])}
	f.Payload = append([]byte(nil), b[10:first]...)
	if two {
		rest := b[first+2 : len(b)-2]
		if !crcOK(rest, b[len(b)-2], b[len(b)-1]) {
			return Frame{}, fmt.Errorf("%w: format B: block 3", ErrCRC)
		}
		f.Payload = append(f.Payload, rest...)
	}
	return f, nil
}

// DecodeBare decodes a frame whose CRCs a receiver already checked and
// removed, as many print it: L counts the bytes after it.
func DecodeBare(b []byte) (Frame, error) {
	if len(b) < 11 || int(b[0]) != len(b)-1 {
		return Frame{}, fmt.Errorf("%w: frame without CRCs: %d bytes, L %d", ErrFrame, len(b), firstByte(b))
	}
	return Frame{C: b[1], Address: addressOf(b[2:10]), Payload: append([]byte(nil), b[10:]...)}, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}
