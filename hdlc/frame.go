package hdlc

import (
	"errors"
	"fmt"
)

// Flag delimits HDLC frames.
const Flag = 0x7E

// Frame format type 3 (IEC 62056-46 §6.4.3): the high nibble of the first
// format byte is 0xA, bit 0x08 is the segmentation bit and the remaining 11
// bits are the frame length without flags.
const (
	formatType     = 0xA0
	segmentBit     = 0x08
	MaxFrameLength = 0x7FF // largest value of the 11-bit length field
)

// LLC headers that precede an APDU in the first I-frame segment.
var (
	LLCRequest  = [3]byte{0xE6, 0xE6, 0x00} // client to server
	LLCResponse = [3]byte{0xE6, 0xE7, 0x00} // server to client
)

// Sentinel errors wrapped by DecodeError and the session errors.
var (
	ErrTruncated = errors.New("hdlc: truncated frame")
	ErrFlag      = errors.New("hdlc: missing flag")
	ErrFormat    = errors.New("hdlc: bad frame format field")
	ErrAddress   = errors.New("hdlc: bad address")
	ErrHCS       = errors.New("hdlc: header check sequence mismatch")
	ErrFCS       = errors.New("hdlc: frame check sequence mismatch")
	ErrTooLong   = errors.New("hdlc: frame too long")
	ErrParams    = errors.New("hdlc: bad parameter field")
)

// DecodeError reports where a frame failed to decode.
type DecodeError struct {
	Field  string // "flag", "format", "dst", "src", "hcs", "fcs", "params"...
	Offset int    // byte offset of the field within the input
	Err    error  // one of the sentinel errors
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("%v (field %s at offset %d)", e.Err, e.Field, e.Offset)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Frame is one decoded HDLC frame of format type 3.
type Frame struct {
	// Segmented is the segmentation bit: more segments of this APDU follow.
	Segmented bool
	Dst, Src  Address
	Control   Control
	// Info is the information field. DecodeFrame returns a slice of its
	// input, not a copy.
	Info []byte
}

// headerLen returns the frame length up to and including the control field.
func (f *Frame) headerLen() int { return 2 + f.Dst.Size + f.Src.Size + 1 }

// EncodedLen returns the value of the frame's length field.
func (f *Frame) EncodedLen() int {
	n := f.headerLen() + 2
	if len(f.Info) > 0 {
		n += 2 + len(f.Info)
	}
	return n
}

// AppendFrame appends f with opening and closing flags to b. The HCS is
// written only when the frame has an information field.
func AppendFrame(b []byte, f Frame) ([]byte, error) {
	n := f.EncodedLen()
	if n > MaxFrameLength {
		return b, fmt.Errorf("%w: length %d exceeds %d", ErrTooLong, n, MaxFrameLength)
	}
	if err := f.Dst.valid(); err != nil {
		return b, fmt.Errorf("destination: %w", err)
	}
	if err := f.Src.valid(); err != nil {
		return b, fmt.Errorf("source: %w", err)
	}
	b = append(b, Flag)
	start := len(b)
	format := byte(formatType) | byte(n>>8)
	if f.Segmented {
		format |= segmentBit
	}
	b = append(b, format, byte(n))
	b, _ = AppendAddress(b, f.Dst)
	b, _ = AppendAddress(b, f.Src)
	b = append(b, byte(f.Control))
	if len(f.Info) > 0 {
		b = appendCRC(b, CRC16(b[start:]))
		b = append(b, f.Info...)
	}
	b = appendCRC(b, CRC16(b[start:]))
	return append(b, Flag), nil
}

// DecodeFrame decodes one frame at the start of b, which must begin with the
// opening flag. It returns the frame and the number of bytes consumed,
// including both flags. The end of the frame is found from the length field,
// never by scanning for a flag, so HCS/FCS bytes equal to 0x7E are harmless.
// A closing flag may also be the opening flag of the next frame: callers that
// read streams should resume at consumed-1 (see Reader).
// ErrTruncated is returned (wrapped) when b holds only part of a frame.
func DecodeFrame(b []byte) (Frame, int, error) {
	var f Frame
	if len(b) < 3 {
		if len(b) > 0 && b[0] != Flag {
			return f, 0, &DecodeError{"flag", 0, ErrFlag}
		}
		return f, 0, &DecodeError{"format", 1, ErrTruncated}
	}
	if b[0] != Flag {
		return f, 0, &DecodeError{"flag", 0, ErrFlag}
	}
	if b[1]&0xF0 != formatType {
		return f, 0, &DecodeError{"format", 1, ErrFormat}
	}
	f.Segmented = b[1]&segmentBit != 0
	n := int(b[1]&7)<<8 | int(b[2])
	// format(2) + dst(1) + src(1) + control(1) + FCS(2) is the minimum.
	if n < 7 {
		return f, 0, &DecodeError{"length", 1, fmt.Errorf("%w: length %d below minimum 7", ErrFormat, n)}
	}
	if len(b) < n+2 {
		return f, 0, &DecodeError{"frame", len(b), ErrTruncated}
	}
	if b[n+1] != Flag {
		return f, 0, &DecodeError{"flag", n + 1, ErrFlag}
	}
	body := b[1 : n+1] // format .. FCS
	if got, want := uint16(body[n-2])|uint16(body[n-1])<<8, CRC16(body[:n-2]); got != want {
		return f, 0, &DecodeError{"fcs", n - 1, ErrFCS}
	}
	p := 2
	var err error
	var k int
	if f.Dst, k, err = DecodeAddress(body[p : n-2]); err != nil {
		return Frame{}, 0, &DecodeError{"dst", p + 1, err}
	}
	p += k
	if f.Src, k, err = DecodeAddress(body[p : n-2]); err != nil {
		return Frame{}, 0, &DecodeError{"src", p + 1, err}
	}
	p += k
	if p >= n-2 {
		return Frame{}, 0, &DecodeError{"control", p + 1, ErrTruncated}
	}
	f.Control = Control(body[p])
	p++
	switch rest := n - 2 - p; {
	case rest == 0:
	case rest < 2:
		return Frame{}, 0, &DecodeError{"hcs", p + 1, ErrTruncated}
	default:
		if got, want := uint16(body[p])|uint16(body[p+1])<<8, CRC16(body[:p]); got != want {
			return Frame{}, 0, &DecodeError{"hcs", p + 1, ErrHCS}
		}
		f.Info = body[p+2 : n-2]
	}
	return f, n + 2, nil
}
