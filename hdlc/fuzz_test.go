package hdlc

import (
	"bytes"
	"testing"
)

func FuzzDecodeFrame(f *testing.F) {
	for _, s := range []string{
		"7EA0070321930F017E",
		"7EA01E210373C37A818012050180060180070400000001080400000001533B7E",
		"7EA013210330D381E6E700C401C100120059477E7E",
		"7EA00D6D0300667EE6E70001B29C7E",
		"7EA0070321930F",
		"7EA7FF0321",
	} {
		f.Add(mustHexT(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := DecodeFrame(b)
		if err != nil {
			return
		}
		if n > len(b) || n < 9 {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		enc, err := AppendFrame(nil, fr)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, m, err := DecodeFrame(enc)
		if err != nil || m != len(enc) || back.Control != fr.Control || back.Dst != fr.Dst || back.Src != fr.Src ||
			back.Segmented != fr.Segmented || !bytes.Equal(back.Info, fr.Info) {
			t.Fatalf("round trip: %+v vs %+v (%v)", back, fr, err)
		}
		if len(fr.Info) > 0 && !bytes.Equal(enc, b[:n]) {
			t.Fatalf("re-encoding differs: %X vs %X", enc, b[:n])
		}
		_, _ = ParseParams(fr.Info)
		r := NewReader(bytes.NewReader(b))
		for range 10 {
			if _, err := r.ReadFrame(); err != nil {
				break
			}
		}
	})
}
