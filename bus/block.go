package bus

// The binary form of an interval block on the bus: the head-end writes it,
// the MDM reads it. A day of two channels is about a kilobyte instead of
// twenty of JSON, and decoding it was the largest single cost of the
// ingest. The first byte tells it from the JSON the bus carried before, so
// both stay readable.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/amigo-ami/amigo/cim"
)

// BlockMagic opens every encoded block; it also names the version. JSON never
// starts with it.
const BlockMagic byte = 0xB1

// Limits keep a damaged message from asking for gigabytes.
const (
	MaxBlockReadings = 1 << 16
	maxString        = 256
)

// IsBinaryBlock reports whether data is an encoded block rather than JSON.
func IsBinaryBlock(data []byte) bool { return len(data) > 0 && data[0] == BlockMagic }

// AppendBlock appends the encoding of b to dst. Layout: BlockMagic; meter id and
// reading type id (uvarint length, bytes); commodity, measured quantity,
// flow direction, unit, multiplier, accumulation (a byte each); interval
// in seconds (uvarint); the count (uvarint); the first end in Unix
// nanoseconds (varint); then per reading the end's step from the one
// before less the interval, in nanoseconds (zigzag varint: 0 for a
// regular profile), the value (zigzag varint) and the quality (uvarint).
func AppendBlock(dst []byte, b cim.IntervalBlock) []byte {
	rt := b.ReadingType
	dst = append(dst, BlockMagic)
	dst = appendString(dst, b.MeterID)
	dst = appendString(dst, rt.ID)
	acc := byte(0)
	if rt.Accumulation {
		acc = 1
	}
	dst = append(dst, byte(rt.Commodity), byte(rt.MeasuredQuantity), byte(rt.FlowDirection), byte(rt.Unit), byte(rt.Multiplier), acc)
	dst = binary.AppendUvarint(dst, uint64(rt.Interval/time.Second))
	dst = binary.AppendUvarint(dst, uint64(len(b.Readings)))
	var prev int64
	for i, r := range b.Readings {
		end := r.End.UnixNano()
		if i == 0 {
			dst = binary.AppendVarint(dst, end)
		} else {
			dst = binary.AppendVarint(dst, end-prev-int64(rt.Interval))
		}
		prev = end
		dst = binary.AppendVarint(dst, r.Value)
		dst = binary.AppendUvarint(dst, uint64(r.Quality))
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// ErrBlockFormat says the bytes are not an encoded interval block.
var ErrBlockFormat = errors.New("not an encoded interval block")

type blockReader struct {
	b   []byte
	off int
	err error
}

func (r *blockReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", ErrBlockFormat, what, r.off)
	}
}

func (r *blockReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail(what + " truncated or too long")
		return 0
	}
	r.off += n
	return v
}

func (r *blockReader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail(what + " truncated or too long")
		return 0
	}
	r.off += n
	return v
}

func (r *blockReader) byte(what string) byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail(what + " truncated")
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *blockReader) string(what string) string {
	n := r.uvarint(what + " length")
	if r.err != nil {
		return ""
	}
	if n > maxString || n > uint64(len(r.b)-r.off) {
		r.fail(fmt.Sprintf("%s of %d bytes", what, n))
		return ""
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	if !utf8.ValidString(s) {
		r.fail(what + " is not UTF-8")
	}
	return s
}

// DecodeBlock reads one encoded block, all of data. Ends come back in UTC.
func DecodeBlock(data []byte) (cim.IntervalBlock, error) {
	var b cim.IntervalBlock
	if !IsBinaryBlock(data) {
		return b, fmt.Errorf("%w: no magic byte", ErrBlockFormat)
	}
	r := &blockReader{b: data, off: 1}
	b.MeterID = r.string("meter id")
	rt := &b.ReadingType
	rt.ID = r.string("reading type id")
	rt.Commodity = cim.Commodity(r.byte("commodity"))
	rt.MeasuredQuantity = cim.MeasuredQuantity(r.byte("measured quantity"))
	rt.FlowDirection = cim.FlowDirection(r.byte("flow direction"))
	rt.Unit = cim.Unit(r.byte("unit"))
	rt.Multiplier = int8(r.byte("multiplier"))
	switch acc := r.byte("accumulation"); acc {
	case 0, 1:
		rt.Accumulation = acc == 1
	default:
		r.fail(fmt.Sprintf("accumulation %d", acc))
	}
	secs := r.uvarint("interval")
	if secs > 31*24*3600 {
		r.fail(fmt.Sprintf("interval of %d s", secs))
	}
	rt.Interval = time.Duration(secs) * time.Second
	n := r.uvarint("count")
	if r.err == nil && (n > MaxBlockReadings || n > uint64(len(data)-r.off)) {
		// Every reading takes at least three bytes: more than what is left
		// is a lie, however small the count.
		r.fail(fmt.Sprintf("count of %d", n))
	}
	if r.err != nil {
		return cim.IntervalBlock{}, r.err
	}
	b.Readings = make([]cim.IntervalReading, n)
	var prev int64
	for i := range b.Readings {
		d := r.varint("end")
		end := d
		if i > 0 {
			end = prev + int64(rt.Interval) + d
			if (d > 0 && end < prev) || (d < 0 && end > prev+int64(rt.Interval)) {
				r.fail("end overflows")
			}
		}
		prev = end
		v := r.varint("value")
		q := r.uvarint("quality")
		if q > 0xFFFF {
			r.fail(fmt.Sprintf("quality %d", q))
		}
		if r.err != nil {
			return cim.IntervalBlock{}, r.err
		}
		b.Readings[i] = cim.IntervalReading{End: time.Unix(0, end).UTC(), Value: v, Quality: cim.Quality(q)}
	}
	if r.off != len(data) {
		return cim.IntervalBlock{}, fmt.Errorf("%w: %d bytes after the last reading", ErrBlockFormat, len(data)-r.off)
	}
	return b, nil
}
