package osgp

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// seeds adds the files of testdata/ whose names start with prefix.
func seeds(f *testing.F, prefix string) {
	names, _ := filepath.Glob(filepath.Join("testdata", prefix+"*"))
	if len(names) == 0 {
		f.Fatalf("no seeds testdata/%s*", prefix)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParseFrame(f *testing.F) {
	seeds(f, "frame-")
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFrame(b)
		if err != nil {
			return
		}
		out, err := AppendFrame(nil, fr)
		if err != nil {
			t.Fatalf("parsed %+v does not encode: %v", fr, err)
		}
		again, err := ParseFrame(out)
		if err != nil || again.Src != fr.Src || again.Dst != fr.Dst || again.Kind != fr.Kind || !bytes.Equal(again.APDU, fr.APDU) {
			t.Fatalf("%+v does not round-trip: %+v %v", fr, again, err)
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	seeds(f, "stream-")
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			fr, err := ReadFrame(r, 0)
			if err != nil {
				return
			}
			if len(fr) == 0 || len(fr) > MaxFrame {
				t.Fatalf("frame of %d octets", len(fr))
			}
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	seeds(f, "request-")
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		out, err := AppendRequest(nil, r)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("request % x re-encodes as % x (%v)", b, out, err)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	seeds(f, "response-")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, op := range []byte{OpRead, OpWrite} {
			r, err := ParseResponse(b, op)
			if err != nil {
				continue
			}
			out, err := AppendResponse(nil, op, r)
			if err != nil || !bytes.Equal(out, b) {
				t.Fatalf("response % x re-encodes as % x (%v)", b, out, err)
			}
		}
	})
}

// FuzzOpen: no input verifies without the key's help, none panics.
func FuzzOpen(f *testing.F) {
	seeds(f, "apdu-")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, k := range []Keys{{Legacy, legacyKey}, {AES128, aesKey}} {
			_, _ = Open(k, []byte{0, 0x19, 1, 0x81, 3, 0x91, 0x42, 0x01}, KindRequest, b)
			_, _ = Open(k, nil, KindResponse, b)
		}
	})
}

// FuzzMeterHandle: whatever arrives, the meter answers or refuses; it
// never panics, and answers only what verified.
func FuzzMeterHandle(f *testing.F) {
	seeds(f, "frame-")
	f.Fuzz(func(t *testing.T, b []byte) {
		m := &Meter{Node: meterNode, Domain: domain, Keys: Keys{Legacy, legacyKey}, Tables: newTables(), Guard: &Guard{}}
		r, err := m.Handle("fuzz", b)
		if r != nil && (err != nil || m.LastSeq() == 0) {
			t.Fatalf("answered % x without accepting it", b)
		}
	})
}
