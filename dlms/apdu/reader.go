package apdu

import (
	"encoding/binary"
	"errors"

	"github.com/amigo-ami/amigo/axdr"
)

// reader walks the A-XDR part of an APDU. Every read checks the remaining
// input first, so a short buffer yields ErrTruncated and never a panic.
type reader struct {
	b   []byte
	off int
}

func (r *reader) rest() int { return len(r.b) - r.off }

func (r *reader) u8(field string) (byte, error) {
	if r.off >= len(r.b) {
		return 0, errAt(r.off, field, ErrTruncated)
	}
	v := r.b[r.off]
	r.off++
	return v, nil
}

func (r *reader) u16(field string) (uint16, error) {
	if r.rest() < 2 {
		return 0, errAt(r.off, field, ErrTruncated)
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v, nil
}

func (r *reader) u32(field string) (uint32, error) {
	if r.rest() < 4 {
		return 0, errAt(r.off, field, ErrTruncated)
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v, nil
}

func (r *reader) bool(field string) (bool, error) {
	v, err := r.u8(field)
	if err != nil {
		return false, err
	}
	// A-XDR booleans are 0x00 or 0xFF in theory; peers send 0x01 too, and
	// any non-zero octet reads as TRUE as in BER.
	return v != 0, nil
}

// bytes returns the next n bytes, capped so that appending to them never
// writes into the input.
func (r *reader) bytes(n int, field string) ([]byte, error) {
	if n < 0 || r.rest() < n {
		return nil, errAt(r.off, field, ErrTruncated)
	}
	v := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return v, nil
}

// length reads an A-XDR length or element count.
func (r *reader) length(field string) (int, error) {
	n, c, err := axdr.DecodeLength(r.b[r.off:])
	if err != nil {
		if errors.Is(err, axdr.ErrTruncated) {
			err = ErrTruncated
		} else {
			err = ErrBERLength
		}
		return 0, errAt(r.off, field, err)
	}
	r.off += c
	return n, nil
}

// octetString reads an A-XDR OCTET STRING: length, then the octets.
func (r *reader) octetString(field string) ([]byte, error) {
	start := r.off
	n, err := r.length(field)
	if err != nil {
		return nil, err
	}
	v, err := r.bytes(n, field)
	if err != nil {
		return nil, errAt(start, field, ErrTruncated)
	}
	return v, nil
}

// count reads a SEQUENCE OF element count and checks that the rest of the
// input can hold that many elements of at least min bytes each, so that a
// forged count cannot make the caller allocate.
func (r *reader) count(min int, field string) (int, error) {
	start := r.off
	n, err := r.length(field)
	if err != nil {
		return 0, err
	}
	if n > r.rest()/min {
		return 0, errAt(start, field, ErrTooLarge)
	}
	return n, nil
}

// optional reads the A-XDR OPTIONAL/DEFAULT presence octet.
func (r *reader) optional(field string) (bool, error) {
	start := r.off
	v, err := r.u8(field)
	if err != nil {
		return false, err
	}
	switch v {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, errAt(start, field, ErrInvalid)
}

// data decodes one COSEM value in place.
func (r *reader) data(field string) (axdr.Data, error) {
	d, n, err := axdr.Decode(r.b[r.off:])
	if err != nil {
		off := r.off
		var de *axdr.DecodeError
		if errors.As(err, &de) {
			off += de.Offset
		}
		return axdr.Data{}, errAt(off, field, err)
	}
	r.off += n
	return d, nil
}

func appendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendOctetString(b, v []byte) []byte {
	b = axdr.AppendLength(b, len(v))
	return append(b, v...)
}

func appendLen(b []byte, n int) []byte { return axdr.AppendLength(b, n) }
