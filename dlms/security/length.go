package security

import (
	"fmt"
	"math"
)

// A-XDR/BER length: 0..0x7F in one byte, else 0x80|n followed by n
// big-endian bytes. Decoding accepts up to four length bytes; the encoder
// always emits the shortest form.

func appendLength(dst []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(dst, byte(n))
	case n <= 0xFF:
		return append(dst, 0x81, byte(n))
	case n <= 0xFFFF:
		return append(dst, 0x82, byte(n>>8), byte(n))
	case n <= 0xFFFFFF:
		return append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func lengthSize(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n <= 0xFF:
		return 2
	case n <= 0xFFFF:
		return 3
	case n <= 0xFFFFFF:
		return 4
	}
	return 5
}

// reader walks an input with offsets for error reporting.
type reader struct {
	op  string
	b   []byte
	off int
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) fail(err error, format string, args ...any) error {
	return errAt(r.op, r.off, fmt.Errorf("%w: "+format, append([]any{err}, args...)...))
}

func (r *reader) byte1(what string) (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.fail(ErrTruncated, "%s missing", what)
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) length(what string) (int, error) {
	start := r.off
	c, err := r.byte1(what + " length")
	if err != nil {
		return 0, err
	}
	if c < 0x80 {
		return int(c), nil
	}
	k := int(c & 0x7F)
	if k == 0 || k > 4 {
		r.off = start
		return 0, r.fail(ErrLength, "%s length prefix 0x%02X", what, c)
	}
	if r.remaining() < k {
		return 0, r.fail(ErrTruncated, "%s length needs %d more bytes", what, k)
	}
	var n uint64
	for _, b := range r.b[r.off : r.off+k] {
		n = n<<8 | uint64(b)
	}
	r.off += k
	if n > math.MaxInt32 {
		r.off = start
		return 0, r.fail(ErrLength, "%s length %d too large", what, n)
	}
	return int(n), nil
}

// octets reads a length-prefixed octet string, aliasing the input. The
// length is checked against what remains before anything is sliced.
func (r *reader) octets(what string) ([]byte, error) {
	n, err := r.length(what)
	if err != nil {
		return nil, err
	}
	if n > r.remaining() {
		return nil, r.fail(ErrTruncated, "%s announces %d bytes, %d remain", what, n, r.remaining())
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v, nil
}

func (r *reader) end() error {
	if r.off != len(r.b) {
		return r.fail(ErrTrailing, "%d bytes after the APDU", len(r.b)-r.off)
	}
	return nil
}
