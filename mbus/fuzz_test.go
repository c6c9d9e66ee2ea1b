package mbus

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// seeds adds every frame file in testdata.
func seeds(f *testing.F) [][]byte {
	paths, _ := filepath.Glob("testdata/*.bin")
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func FuzzDecodeFrame(f *testing.F) {
	for _, b := range seeds(f) {
		f.Add(b)
	}
	f.Add([]byte{0xE5})
	f.Add([]byte{0x10, 0x40, 0x01, 0x41, 0x16})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := DecodeFrame(b)
		if err != nil {
			return
		}
		enc, err := fr.Append(nil)
		if err != nil {
			t.Fatalf("decoded frame %+v does not encode: %v", fr, err)
		}
		if !bytes.Equal(enc, b[:n]) {
			t.Fatalf("re-encoded % X, was % X", enc, b[:n])
		}
		if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(b))); err != nil {
			t.Fatalf("ReadFrame fails where DecodeFrame did not: %v", err)
		}
	})
}

func FuzzDecodeRecords(f *testing.F) {
	for _, b := range seeds(f) {
		if fr, _, err := DecodeFrame(b); err == nil && len(fr.Data) > LongHeaderLen {
			f.Add(fr.Data[LongHeaderLen:])
		}
	}
	f.Add([]byte{0x04, 0xFB, 0x00, 0x10, 0x00, 0x00, 0x00, 0x02, 0xFD, 0x48, 0xE6, 0x08})
	f.Add([]byte{0x0D, 0x78, 0x03, 'c', 'b', 'a', 0x04, 0x6D, 0x2D, 0x04, 0xC7, 0x3C})
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := DecodeRecords(b)
		if err != nil {
			return
		}
		// What decodes re-encodes from its raw DIB and VIB, and decodes
		// to the same values.
		enc, err := EncodeRecords(rs)
		if err != nil {
			return
		}
		again, err := DecodeRecords(enc)
		if err != nil {
			t.Fatalf("re-encoded % X does not decode: %v", enc, err)
		}
		if len(again) != len(rs) {
			t.Fatalf("%d records, then %d", len(rs), len(again))
		}
	})
}

func FuzzDecodeLongHeader(f *testing.F) {
	for _, b := range seeds(f) {
		if fr, _, err := DecodeFrame(b); err == nil {
			f.Add(fr.Data)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeLongHeader(b)
		if err != nil {
			return
		}
		if _, err := h.AppendLong(nil); err != nil && h.Manufacturer[0] >= 'A' && h.Manufacturer[0] <= 'Z' &&
			h.Manufacturer[1] >= 'A' && h.Manufacturer[1] <= 'Z' && h.Manufacturer[2] >= 'A' && h.Manufacturer[2] <= 'Z' {
			t.Fatalf("header %+v does not encode: %v", h, err)
		}
	})
}

func FuzzDecodeMask(f *testing.F) {
	f.Add(Wildcard().Bytes())
	f.Add(Exact(Secondary{ID: 12345678, Manufacturer: "PAD", Version: 1, Medium: 7}).Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMask(b)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Bytes(), b[:8]) {
			t.Fatalf("mask % X re-encodes as % X", b[:8], m.Bytes())
		}
	})
}
