package c1222

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestSplitReassemble cuts APDUs of many sizes at many limits, checks no
// segment exceeds its limit, and reassembles them shuffled and with
// repeats.
func TestSplitReassemble(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{10, 200, 1000, 5000, 40000} {
		for _, max := range []int{64, 100, 300, 1500} {
			a := &APDU{Called: meterAP, Calling: clientAP, CallingInvocation: uint32(size), HasAEQualifier: true, AEQualifier: 2,
				EPSEM: bytes.Repeat([]byte{0x80, 0x55}, size/2+1)}
			whole, _ := a.Marshal()
			segs, err := Split(a, max)
			if errors.Is(err, errSegmentation) && max < 80 {
				continue // the segment header alone fills so small a limit
			}
			if err != nil {
				t.Fatalf("size %d max %d: %v", size, max, err)
			}
			if len(whole) <= max && len(segs) != 1 {
				t.Fatalf("size %d max %d: %d segments for an APDU that fits", size, max, len(segs))
			}
			for _, s := range segs {
				if len(segs) > 1 && len(s) > max {
					t.Fatalf("size %d max %d: segment of %d octets", size, max, len(s))
				}
			}
			if len(segs) == 1 {
				continue
			}
			rng.Shuffle(len(segs), func(i, j int) { segs[i], segs[j] = segs[j], segs[i] })
			segs = append(segs, segs[0])
			r := newReassembler()
			var got []byte
			for i, s := range segs {
				p, err := ParseAPDU(s)
				if err != nil || !p.Segment || p.CallingInvocation != a.CallingInvocation {
					t.Fatalf("segment %d: %+v %v", i, p, err)
				}
				out, err := r.add(p, Root)
				if err != nil {
					t.Fatal(err)
				}
				if out != nil {
					if got != nil || i < len(segs)-2 {
						t.Fatalf("whole APDU after segment %d of %d", i, len(segs))
					}
					got = out
				}
			}
			if !bytes.Equal(got, whole) {
				t.Fatalf("size %d max %d: reassembled %d octets, want %d", size, max, len(got), len(whole))
			}
		}
	}
}

func TestSplitRefusals(t *testing.T) {
	a := &APDU{Called: meterAP, Calling: clientAP, CallingInvocation: 1, EPSEM: make([]byte, 500)}
	if _, err := Split(a, 30); !errors.Is(err, errSegmentation) {
		t.Fatalf("a limit too small to carry data: %v", err)
	}
	r := newReassembler()
	if _, err := r.add(&APDU{Segment: true, SegmentTotal: MaxAPDUSize + 1, EPSEM: []byte{1}}, Root); err == nil {
		t.Fatal("an oversized APDU accepted for reassembly")
	}
	if _, err := r.add(&APDU{Segment: true, SegmentTotal: 10, SegmentOffset: 8, EPSEM: []byte{1, 2, 3}}, Root); err == nil {
		t.Fatal("a segment past its APDU's end accepted")
	}
	r.add(&APDU{Segment: true, SegmentTotal: 10, EPSEM: []byte{1}}, Root)
	if _, err := r.add(&APDU{Segment: true, SegmentTotal: 12, SegmentOffset: 1, EPSEM: []byte{1}}, Root); err == nil {
		t.Fatal("segments disagreeing on the size accepted")
	}
}
