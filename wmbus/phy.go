package wmbus

import (
	"fmt"
)

// Mode is the radio mode a telegram was sent in (EN 13757-4 clause 7:
// T1, C1 and S1 are a meter's unidirectional modes).
type Mode byte

const (
	ModeT1 Mode = iota + 1 // 100 kchip/s, 3-of-6 coded, format A
	ModeC1                 // 100 kchip/s NRZ, format A or B, told apart by a second sync word
	ModeS1                 // 32.768 kchip/s, Manchester coded, format A
)

func (m Mode) String() string {
	switch m {
	case ModeT1:
		return "T1"
	case ModeC1:
		return "C1"
	case ModeS1:
		return "S1"
	}
	return fmt.Sprintf("mode(%d)", byte(m))
}

// ParseMode reads "T1", "C1" or "S1".
func ParseMode(s string) (Mode, error) {
	for _, m := range []Mode{ModeT1, ModeC1, ModeS1} {
		if s == m.String() || s == string(m.String()[0]) {
			return m, nil
		}
	}
	return 0, fmt.Errorf("wmbus: mode %q: want T1, C1 or S1", s)
}

// The words that follow the first sync word on air and tell a
// receiver's demodulator what comes. C mode sends 0x543D then 0x54CD for
// format A or 0x543D for format B (EN 13757-4, 7.6.2); a receiver
// listening for T and C at once sees the second word or 3-of-6 chips,
// which never begin with 0x54. S mode's 18-chip sync word is given here
// as its first 16 chips, 0x7696, which no 3-of-6 stream begins with
// either.
const (
	syncC1A = 0x54CD
	syncC1B = 0x543D
	syncS1  = 0x7696
)

// threeOfSix maps a nibble to its 6-chip code (EN 13757-4, Table 10): three
// ones in six chips, so that the signal has no DC and enough edges.
var threeOfSix = [16]byte{
	0x16, 0x0D, 0x0E, 0x0B, 0x1C, 0x19, 0x1A, 0x13,
	0x2C, 0x25, 0x26, 0x23, 0x34, 0x31, 0x32, 0x29,
}

// sixToNibble inverts threeOfSix; 0xFF marks a code no nibble has.
var sixToNibble = func() (t [64]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for n, c := range threeOfSix {
		t[c] = byte(n)
	}
	return t
}()

// Encode3of6 codes b for mode T: each byte as two 6-chip codes, high
// nibble first, packed MSB first. An odd count of bytes leaves four
// chips, filled with the postamble 0101.
func Encode3of6(b []byte) []byte {
	out := make([]byte, 0, Size3of6(len(b)))
	var acc uint32
	var bits uint
	for _, x := range b {
		acc = acc<<12 | uint32(threeOfSix[x>>4])<<6 | uint32(threeOfSix[x&0x0F])
		bits += 12
		for bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
		}
	}
	if bits > 0 {
		out = append(out, byte(acc<<(8-bits))|0x05)
	}
	return out
}

// Size3of6 returns how many bytes n bytes take 3-of-6 coded.
func Size3of6(n int) int { return (n*12 + 7) / 8 }

// Decode3of6 decodes n bytes from 3-of-6 chips; a chip group that is not
// a code is an error naming the byte.
func Decode3of6(chips []byte, n int) ([]byte, error) {
	if len(chips) < Size3of6(n) {
		return nil, fmt.Errorf("%w: 3-of-6: %d bytes of chips for %d bytes, want %d", ErrFrame, len(chips), n, Size3of6(n))
	}
	out := make([]byte, n)
	for i := range n {
		bit := i * 12
		// Byte i's 12 chips start on a byte or half a byte, and end in
		// the next byte.
		k := bit / 8
		w := uint32(chips[k])<<8 | uint32(chips[k+1])
		if bit%8 == 0 {
			w >>= 4
		}
		w &= 0xFFF
		hi, lo := sixToNibble[w>>6], sixToNibble[w&0x3F]
		if hi == 0xFF || lo == 0xFF {
			return nil, fmt.Errorf("%w: 3-of-6: byte %d: chips %03x are no code", ErrFrame, i, w)
		}
		out[i] = hi<<4 | lo
	}
	return out, nil
}

// EncodeManchester codes b for mode S: each bit as two chips, 1 as 10
// and 0 as 01, MSB first.
func EncodeManchester(b []byte) []byte {
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		var w uint16
		for i := 7; i >= 0; i-- {
			w <<= 2
			if x>>uint(i)&1 == 1 {
				w |= 2
			} else {
				w |= 1
			}
		}
		out = append(out, byte(w>>8), byte(w))
	}
	return out
}

// DecodeManchester inverts EncodeManchester; a chip pair 00 or 11 is an
// error naming the byte.
func DecodeManchester(chips []byte) ([]byte, error) {
	if len(chips)%2 != 0 {
		return nil, fmt.Errorf("%w: Manchester: odd count %d of chip bytes", ErrFrame, len(chips))
	}
	out := make([]byte, len(chips)/2)
	for i := range out {
		w := uint16(chips[2*i])<<8 | uint16(chips[2*i+1])
		var x byte
		for j := 7; j >= 0; j-- {
			switch w >> uint(2*j) & 3 {
			case 2:
				x = x<<1 | 1
			case 1:
				x <<= 1
			default:
				return nil, fmt.Errorf("%w: Manchester: byte %d: chips %04x", ErrFrame, i, w)
			}
		}
		out[i] = x
	}
	return out, nil
}

// AppendAir appends f as a receiver's demodulator hands it over in mode
// m: T1 as 3-of-6 chips of format A; C1 as the second sync word and the
// frame in format A or B; S1 as its sync word and Manchester chips of
// format A. A stream of these is what a Receiver reads.
func AppendAir(dst []byte, m Mode, format Format, f *Frame) ([]byte, error) {
	if m != ModeC1 && format != FormatA {
		return dst, fmt.Errorf("%w: mode %v sends format A only, not %v", ErrFrame, m, format)
	}
	switch m {
	case ModeT1:
		b, err := f.AppendA(nil)
		if err != nil {
			return dst, err
		}
		return append(dst, Encode3of6(b)...), nil
	case ModeS1:
		b, err := f.AppendA(nil)
		if err != nil {
			return dst, err
		}
		dst = append(dst, syncS1>>8, syncS1&0xFF)
		return append(dst, EncodeManchester(b)...), nil
	case ModeC1:
		switch format {
		case FormatA:
			return f.AppendA(append(dst, syncC1A>>8, syncC1A&0xFF))
		case FormatB:
			return f.AppendB(append(dst, syncC1B>>8, syncC1B&0xFF))
		}
		return dst, fmt.Errorf("%w: %v", ErrFrame, format)
	}
	return dst, fmt.Errorf("%w: %v", ErrFrame, m)
}

// airKind tells from the first two bytes of a telegram on a receiver
// stream its mode and format; ok false if they begin none.
func airKind(b0, b1 byte) (Mode, Format, bool) {
	switch uint16(b0)<<8 | uint16(b1) {
	case syncC1A:
		return ModeC1, FormatA, true
	case syncC1B:
		return ModeC1, FormatB, true
	case syncS1:
		return ModeS1, FormatA, true
	}
	if sixToNibble[b0>>2] != 0xFF && sixToNibble[(b0&3)<<4|b1>>4] != 0xFF {
		return ModeT1, FormatA, true
	}
	return 0, 0, false
}

// DecodeAir decodes one telegram as AppendAir wrote it, filling b exactly.
func DecodeAir(b []byte) (Mode, Format, Frame, error) {
	if len(b) < 2 {
		return 0, 0, Frame{}, fmt.Errorf("%w: %d bytes", ErrFrame, len(b))
	}
	m, format, ok := airKind(b[0], b[1])
	if !ok {
		return 0, 0, Frame{}, fmt.Errorf("%w: no sync word or 3-of-6 code at % x", ErrFrame, b[:2])
	}
	var f Frame
	var err error
	switch {
	case m == ModeT1:
		l, derr := Decode3of6(b, 1)
		if derr != nil {
			return m, format, f, derr
		}
		n := SizeA(l[0])
		if len(b) != Size3of6(n) {
			return m, format, f, fmt.Errorf("%w: T1: L %d needs %d bytes of chips, have %d", ErrFrame, l[0], Size3of6(n), len(b))
		}
		raw, derr := Decode3of6(b, n)
		if derr != nil {
			return m, format, f, derr
		}
		f, err = DecodeA(raw)
	case m == ModeS1:
		raw, derr := DecodeManchester(b[2:])
		if derr != nil {
			return m, format, f, derr
		}
		f, err = DecodeA(raw)
	case format == FormatA:
		f, err = DecodeA(b[2:])
	default:
		f, err = DecodeB(b[2:])
	}
	return m, format, f, err
}

// airSize returns the size of the telegram on a stream whose first bytes
// are head, or 0 when head is too short to tell (need gives how many it
// needs).
func airSize(m Mode, format Format, head []byte) (size, need int, err error) {
	switch {
	case m == ModeT1:
		if len(head) < 2 {
			return 0, 2, nil
		}
		l, err := Decode3of6(head[:2], 1)
		if err != nil {
			return 0, 0, err
		}
		return Size3of6(SizeA(l[0])), 0, nil
	case m == ModeS1:
		if len(head) < 4 {
			return 0, 4, nil
		}
		l, err := DecodeManchester(head[2:4])
		if err != nil {
			return 0, 0, err
		}
		return 2 + 2*SizeA(l[0]), 0, nil
	default:
		if len(head) < 3 {
			return 0, 3, nil
		}
		if format == FormatA {
			return 2 + SizeA(head[2]), 0, nil
		}
		return 2 + SizeB(head[2]), 0, nil
	}
}
