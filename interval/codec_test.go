package interval

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/amigo-ami/amigo/cim"
)

func TestDayCodecRoundTrip(t *testing.T) {
	cases := []struct {
		v []int64
		q []cim.Quality
	}{
		{nil, nil},
		{[]int64{0}, []cim.Quality{0}},
		{[]int64{120, 118, 0, -5, math.MaxInt64, math.MinInt64}, []cim.Quality{0, 0, cim.QualityMissing, 0, cim.QualityEstimated, cim.QualityEstimated}},
	}
	day := make([]int64, 96)
	dq := make([]cim.Quality, 96)
	for i := range day {
		day[i] = int64(100 + i%7)
	}
	dq[40] = cim.QualityPowerDown
	cases = append(cases, struct {
		v []int64
		q []cim.Quality
	}{day, dq})
	for _, c := range cases {
		b := EncodeDay(nil, c.v, c.q)
		v, q, err := DecodeDay(b)
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != len(c.v) {
			t.Fatalf("len %d want %d", len(v), len(c.v))
		}
		for i := range v {
			if v[i] != c.v[i] || q[i] != c.q[i] {
				t.Fatalf("interval %d: %d/%v want %d/%v", i, v[i], q[i], c.v[i], c.q[i])
			}
		}
	}
	if b := EncodeDay(nil, day, dq); len(b) > 110 {
		t.Errorf("a 96-interval day packs into %d bytes; the codec has regressed", len(b))
	}
}

func TestDayCodecRejectsCorruption(t *testing.T) {
	good := EncodeDay(nil, []int64{1, 2, 3}, []cim.Quality{0, 0, 0})
	for name, b := range map[string][]byte{
		"empty":      {},
		"format":     {9, 0},
		"count lies": {1, 0xff, 0xff, 0x03, 2},
		"truncated":  good[:len(good)-1],
		"trailing":   append(bytes.Clone(good), 0),
		"zero run":   {1, 1, 2, 0, 0},
	} {
		if _, _, err := DecodeDay(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzDecodeDay(f *testing.F) {
	f.Add(EncodeDay(nil, []int64{1, 2, 3}, []cim.Quality{0, 1, 1}))
	f.Add([]byte{1, 0})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, q, err := DecodeDay(b)
		if err != nil {
			return
		}
		again := EncodeDay(nil, v, q)
		v2, q2, err := DecodeDay(again)
		if err != nil || len(v2) != len(v) || len(q2) != len(q) {
			t.Fatalf("re-encoded blob does not decode: %v", err)
		}
	})
}

func BenchmarkEncodeDay96(b *testing.B) {
	v := make([]int64, 96)
	q := make([]cim.Quality, 96)
	for i := range v {
		v[i] = int64(200 + i*3%50)
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = EncodeDay(buf[:0], v, q)
	}
}

func BenchmarkDecodeDay96(b *testing.B) {
	v := make([]int64, 96)
	q := make([]cim.Quality, 96)
	for i := range v {
		v[i] = int64(200 + i*3%50)
	}
	blob := EncodeDay(nil, v, q)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeDay(blob); err != nil {
			b.Fatal(err)
		}
	}
}
