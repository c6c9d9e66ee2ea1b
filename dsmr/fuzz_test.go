package dsmr

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func seeds(f *testing.F) [][]byte {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func FuzzParse(f *testing.F) {
	for _, b := range seeds(f) {
		f.Add(b)
	}
	f.Add([]byte("/X\r\n\r\n0-1:24.3.0(161107190000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n(1.0)\r\n!"))
	f.Add([]byte("/X\r\n1-0:99.97.0(9)(0-0:96.7.19)\r\n!0000"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tg, err := Parse(b)
		if err != nil && !errors.Is(err, ErrCRC) {
			return
		}
		// Whatever parsed, every accessor answers without panicking,
		// and what is encoded parses again to the same lines.
		tg.MBus()
		tg.PowerFailures()
		tg.Time()
		for _, l := range tg.Lines {
			l.Number()
			l.Timed()
		}
		tg.Version = V50
		again, err := Parse(tg.Encode())
		if err != nil {
			t.Fatalf("re-encoded telegram does not parse: %v\n%q", err, tg.Encode())
		}
		if len(again.Lines) != len(tg.Lines) {
			t.Fatalf("%d lines became %d\n%q", len(tg.Lines), len(again.Lines), tg.Encode())
		}
	})
}

func FuzzReader(f *testing.F) {
	for _, b := range seeds(f) {
		f.Add(b)
		f.Add(append(append([]byte("noise\r\n"), b[:len(b)/2]...), b...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b), ReaderOptions{})
		for range len(b) + 2 {
			_, err := r.Next()
			var se *StreamError
			if err != nil && !errors.As(err, &se) {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("non-stream error %v", err)
				}
				return
			}
		}
		t.Fatal("the reader did not reach the end of its input")
	})
}

func FuzzDecrypt(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 16)
	for _, b := range seeds(f) {
		enc, err := Encrypt(Frame{Counter: 1}, b, key, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	frames, _ := filepath.Glob(filepath.Join("testdata", "frames", "*.bin"))
	for _, n := range frames {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xDB, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0x20})
	f.Fuzz(func(t *testing.T, b []byte) {
		Decrypt(b, key, nil)
		r := NewReader(bytes.NewReader(b), ReaderOptions{Key: key})
		for range len(b) + 2 {
			if _, err := r.Next(); errors.Is(err, io.EOF) {
				return
			}
		}
		t.Fatal("the reader did not reach the end of its input")
	})
}
