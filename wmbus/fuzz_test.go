package wmbus

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seeds are the telegrams in testdata: *.hex as text, *.bin as bytes.
func seeds(f *testing.F) [][]byte {
	f.Helper()
	var out [][]byte
	names, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, n := range names {
		switch {
		case strings.HasSuffix(n, ".hex"):
			out = append(out, readHex(f, filepath.Base(n)))
		case strings.HasSuffix(n, ".bin"):
			b, err := os.ReadFile(n)
			if err != nil {
				f.Fatal(err)
			}
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		f.Fatal("no seeds in testdata")
	}
	return out
}

var fuzzKey = []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

func fuzzKeys(Address) ([]byte, bool) { return fuzzKey, true }

func FuzzDecode(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tg, err := Decode(b, fuzzKeys)
		if err == nil && tg.Mode == 0 {
			t.Fatal("decoded without a mode")
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, s := range seeds(f) {
		if len(s) > 10 {
			f.Add(s[10:])
		}
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		_, _ = Parse(Frame{C: CSndNR, Address: testMeter, Payload: p}, fuzzKeys)
	})
}

func FuzzFrames(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if fr, err := DecodeA(b); err == nil {
			again, err := fr.AppendA(nil)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("format A does not round trip: % x, %v", again, err)
			}
		}
		if fr, err := DecodeB(b); err == nil {
			again, err := fr.AppendB(nil)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("format B does not round trip: % x, %v", again, err)
			}
		}
		if fr, err := DecodeBare(b); err == nil {
			_, _ = Parse(fr, fuzzKeys)
		}
		n := len(b) * 8 / 12
		_, _ = Decode3of6(b, n)
		_, _ = DecodeManchester(b)
	})
}

func FuzzReceiver(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rc := NewReceiver(bytes.NewReader(b), fuzzKeys)
		for range len(b) + 1 {
			_, err := rc.Next(context.Background())
			var te *TelegramError
			if err != nil && !errors.As(err, &te) {
				return
			}
		}
		t.Fatalf("%d bytes gave more telegrams than bytes", len(b))
	})
}

func FuzzReadKeyring(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "keys.txt"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ReadKeyring(strings.NewReader(s))
		if err == nil && k == nil {
			t.Fatal("no keyring and no error")
		}
	})
}
