package c1222

import (
	"errors"
	"fmt"
	"time"
)

// MaxAPDUSize bounds the APDUs this package reassembles or reads whole.
const MaxAPDUSize = 64 << 10

// segmentSlack covers the length octets that may grow once a segment's
// size is known.
const segmentSlack = 8

// Split cuts the encoding of a into segments of at most max octets each,
// as C12.22-2008 segments an APDU larger than the size its link
// negotiated: every segment copies the context, ApTitles, AE qualifier and
// calling invocation id (the segment sequence), names the whole APDU's
// size in 0xA3 and its own offset in the user information, and carries
// the next octets of the whole APDU. An APDU that fits is returned alone.
func Split(a *APDU, max int) ([][]byte, error) {
	whole, err := a.Marshal()
	if err != nil {
		return nil, err
	}
	if max <= 0 || len(whole) <= max {
		return [][]byte{whole}, nil
	}
	if len(whole) > MaxAPDUSize {
		return nil, fmt.Errorf("c1222: APDU of %d octets exceeds %d even segmented", len(whole), MaxAPDUSize)
	}
	seg := APDU{
		Context:           a.Context,
		Called:            a.Called,
		Calling:           a.Calling,
		AEQualifier:       a.AEQualifier,
		HasAEQualifier:    a.HasAEQualifier,
		CallingInvocation: a.CallingInvocation,
		Segment:           true,
		SegmentTotal:      uint32(len(whole)),
		SegmentOffset:     uint32(len(whole)),
		EPSEM:             []byte{0},
	}
	hdr, err := seg.Marshal()
	if err != nil {
		return nil, err
	}
	room := max - (len(hdr) - 1) - segmentSlack
	if room < 1 {
		return nil, fmt.Errorf("c1222: %d octets leave no room for a segment's data: %w", max, errSegmentation)
	}
	var out [][]byte
	for off := 0; off < len(whole); off += room {
		end := min(off+room, len(whole))
		seg.SegmentOffset = uint32(off)
		seg.EPSEM = whole[off:end]
		b, err := seg.Marshal()
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

var errSegmentation = errors.New("segmentation not possible")

// reassembler gathers segments into whole APDUs, by sender and sequence.
type reassembler struct {
	partial map[string]*partialAPDU
	now     func() time.Time
	ttl     time.Duration
}

type partialAPDU struct {
	buf     []byte
	have    []bool
	missing int
	started time.Time
}

func newReassembler() *reassembler {
	return &reassembler{partial: map[string]*partialAPDU{}, now: time.Now, ttl: time.Minute}
}

// add takes one segment; it returns the whole APDU's encoding once every
// octet has arrived, and nil before.
func (r *reassembler) add(s *APDU, base ApTitle) ([]byte, error) {
	if s.SegmentTotal == 0 || s.SegmentTotal > MaxAPDUSize {
		return nil, fmt.Errorf("c1222: segment of an APDU of %d octets refused", s.SegmentTotal)
	}
	end := uint64(s.SegmentOffset) + uint64(len(s.EPSEM))
	if end > uint64(s.SegmentTotal) {
		return nil, fmt.Errorf("c1222: segment at %d+%d overruns its %d-octet APDU", s.SegmentOffset, len(s.EPSEM), s.SegmentTotal)
	}
	now := r.now()
	for k, p := range r.partial {
		if now.Sub(p.started) > r.ttl {
			delete(r.partial, k)
		}
	}
	key := fmt.Sprintf("%s/%d", s.Calling.Key(base), s.CallingInvocation)
	p := r.partial[key]
	if p != nil && len(p.buf) != int(s.SegmentTotal) {
		return nil, fmt.Errorf("c1222: segment says its APDU has %d octets, an earlier one %d", s.SegmentTotal, len(p.buf))
	}
	if p == nil {
		if len(r.partial) >= 64 {
			return nil, errors.New("c1222: too many APDUs being reassembled")
		}
		p = &partialAPDU{buf: make([]byte, s.SegmentTotal), have: make([]bool, s.SegmentTotal), missing: int(s.SegmentTotal), started: now}
		r.partial[key] = p
	}
	for i, c := range s.EPSEM {
		j := int(s.SegmentOffset) + i
		if !p.have[j] {
			p.have[j] = true
			p.missing--
		}
		p.buf[j] = c
	}
	if p.missing > 0 {
		return nil, nil
	}
	delete(r.partial, key)
	return p.buf, nil
}
