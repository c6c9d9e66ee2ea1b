package axdr

import (
	"errors"
	"math"
)

// Decoding errors. Decode wraps them in a *DecodeError that says where
// decoding failed; errors.Is sees through it.
var (
	// ErrTruncated: the input ends inside a value.
	ErrTruncated = errors.New("axdr: truncated")
	// ErrDepth: arrays and structures nest deeper than MaxDepth.
	ErrDepth = errors.New("axdr: nesting deeper than MaxDepth")
	// ErrUnknownTag: a tag that is not a Data CHOICE alternative.
	ErrUnknownTag = errors.New("axdr: unknown tag")
	// ErrLength: a length field is malformed (indefinite form, more than
	// four length octets, or beyond 2^31-1).
	ErrLength = errors.New("axdr: malformed length")
	// ErrTooLarge: an element count the remaining input cannot hold, or a
	// compact array that would expand into more values than its input
	// justifies.
	ErrTooLarge = errors.New("axdr: element count exceeds input")
	// ErrCompact: a malformed compact-array description or contents.
	ErrCompact = errors.New("axdr: invalid compact array")
)

// DecodeError reports where decoding failed.
type DecodeError struct {
	// Offset is the position in the input of the tag of the value that
	// failed (for compact-array contents, of the element).
	Offset int
	// Tag is the tag of that value; meaningless when HasTag is false
	// because the input ended before the tag.
	Tag    Tag
	HasTag bool
	Err    error
}

func (e *DecodeError) Error() string {
	if !e.HasTag {
		return "axdr: at offset " + itoa(e.Offset) + ": " + e.Err.Error()
	}
	return "axdr: " + e.Tag.String() + " at offset " + itoa(e.Offset) + ": " + e.Err.Error()
}

// Unwrap returns the underlying sentinel error.
func (e *DecodeError) Unwrap() error { return e.Err }

// AppendLength appends the A-XDR length (or element count) n: one octet up
// to 0x7F, otherwise 0x81, 0x82 or 0x84 followed by 1, 2 or 4 big-endian
// octets. A negative n is written as 0.
func AppendLength(b []byte, n int) []byte {
	switch {
	case n < 0:
		return append(b, 0)
	case n < 0x80:
		return append(b, byte(n))
	case n <= 0xFF:
		return append(b, 0x81, byte(n))
	case n <= 0xFFFF:
		return append(b, 0x82, byte(n>>8), byte(n))
	default:
		u := uint32(n)
		if uint64(n) > math.MaxUint32 {
			u = math.MaxUint32
		}
		return append(b, 0x84, byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
}

// lengthSize is the number of octets AppendLength writes for n.
func lengthSize(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n <= 0xFF:
		return 2
	case n <= 0xFFFF:
		return 3
	default:
		return 5
	}
}

// DecodeLength decodes an A-XDR length from the start of b. It accepts the
// long forms 0x81 to 0x84 (also non-minimal ones) and rejects the
// indefinite form and lengths that do not fit in 31 bits. The errors are
// the bare ErrTruncated and ErrLength.
func DecodeLength(b []byte) (n int, consumed int, err error) {
	if len(b) == 0 {
		return 0, 0, ErrTruncated
	}
	c := b[0]
	if c < 0x80 {
		return int(c), 1, nil
	}
	k := int(c & 0x7F)
	if k == 0 || k > 4 {
		return 0, 0, ErrLength
	}
	if len(b) < 1+k {
		return 0, 0, ErrTruncated
	}
	var u uint64
	for _, o := range b[1 : 1+k] {
		u = u<<8 | uint64(o)
	}
	if u > math.MaxInt32 {
		return 0, 0, ErrLength
	}
	return int(u), 1 + k, nil
}

// itoa avoids pulling fmt into the error path.
func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	for u > 0 {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}
