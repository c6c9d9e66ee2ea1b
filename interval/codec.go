package interval

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/amigo-ami/amigo/cim"
)

// The day codec packs a day's intervals into one compact blob: consecutive
// interval values differ little, so they are stored as zig-zag varint
// deltas, and qualities are mostly all-valid, so they are run-length
// encoded. A 96-interval day of household data packs into about 100 bytes.
//
//	blob    = format(1) n(uvarint) delta(varint)*n runs
//	runs    = (runlen(uvarint) quality(uvarint))* covering exactly n

const dayFormat1 = 1

// ErrCorrupt is returned for a stored blob that does not decode.
var ErrCorrupt = errors.New("interval: corrupt day blob")

// EncodeDay packs values and qualities; they must be the same length.
func EncodeDay(dst []byte, values []int64, quality []cim.Quality) []byte {
	dst = append(dst, dayFormat1)
	dst = binary.AppendUvarint(dst, uint64(len(values)))
	var prev int64
	for _, v := range values {
		dst = binary.AppendVarint(dst, v-prev)
		prev = v
	}
	for i := 0; i < len(quality); {
		j := i + 1
		for j < len(quality) && quality[j] == quality[i] {
			j++
		}
		dst = binary.AppendUvarint(dst, uint64(j-i))
		dst = binary.AppendUvarint(dst, uint64(quality[i]))
		i = j
	}
	return dst
}

// DecodeDay unpacks a blob made by EncodeDay.
func DecodeDay(b []byte) ([]int64, []cim.Quality, error) {
	if len(b) == 0 || b[0] != dayFormat1 {
		return nil, nil, fmt.Errorf("%w: unknown format", ErrCorrupt)
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, nil, fmt.Errorf("%w: bad count", ErrCorrupt)
	}
	b = b[k:]
	// Each value takes at least one byte, so a count beyond the input is a lie.
	if n > uint64(len(b)) || n > MaxIntervalsPerDay {
		return nil, nil, fmt.Errorf("%w: count %d exceeds data", ErrCorrupt, n)
	}
	values := make([]int64, n)
	var prev int64
	for i := range values {
		d, k := binary.Varint(b)
		if k <= 0 {
			return nil, nil, fmt.Errorf("%w: value %d truncated", ErrCorrupt, i)
		}
		prev += d
		values[i] = prev
		b = b[k:]
	}
	quality := make([]cim.Quality, 0, n)
	for uint64(len(quality)) < n {
		run, k := binary.Uvarint(b)
		if k <= 0 || run == 0 || run > n-uint64(len(quality)) {
			return nil, nil, fmt.Errorf("%w: bad quality run at interval %d", ErrCorrupt, len(quality))
		}
		b = b[k:]
		q, k := binary.Uvarint(b)
		if k <= 0 || q > 0xFFFF {
			return nil, nil, fmt.Errorf("%w: bad quality at interval %d", ErrCorrupt, len(quality))
		}
		b = b[k:]
		for range run {
			quality = append(quality, cim.Quality(q))
		}
	}
	if len(b) != 0 {
		return nil, nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(b))
	}
	return values, quality, nil
}
