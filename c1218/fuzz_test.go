package c1218

import (
	"bytes"
	"testing"
)

// A packet that decodes encodes back to the octets it took.
func FuzzParsePacket(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := ParsePacket(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Marshal(), b[:n]) {
			t.Fatalf("% x decoded and encoded to % x", b[:n], p.Marshal())
		}
	})
}
