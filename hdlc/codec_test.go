package hdlc

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

var ioEOF = io.EOF

func TestCRC16(t *testing.T) {
	if got := CRC16([]byte("123456789")); got != 0x906E {
		t.Fatalf("CRC16 check value %04X, want 906E", got)
	}
}

// Frames whose check sequences contain the flag byte: found by search, they
// must be delimited by the length field.
var (
	fcs7E = mustHexT("7EA013210330D381E6E700C401C100120059477E7E")
	hcs7E = mustHexT("7EA00D6D0300667EE6E70001B29C7E")
)

func mustHexT(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		b[i] = unhex(s[2*i])<<4 | unhex(s[2*i+1])
	}
	return b
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	default:
		return c - 'A' + 10
	}
}

func TestFlagInCheckSequence(t *testing.T) {
	for name, raw := range map[string][]byte{"fcs": fcs7E, "hcs": hcs7E} {
		f, n, err := DecodeFrame(raw)
		if err != nil || n != len(raw) {
			t.Fatalf("%s: n=%d err=%v", name, n, err)
		}
		re, _ := AppendFrame(nil, f)
		if !bytes.Equal(re, raw) {
			t.Fatalf("%s: re-encoded %X", name, re)
		}
		// In a stream, with shared flags and followed by another frame.
		next := mustHexT("7EA00703215303C77E")
		stream := append(append([]byte{0x11, 0x7E}, raw...), next[1:]...)
		r := NewReader(&dribble{b: stream, n: 3})
		for _, want := range [][]byte{raw, next} {
			g, err := r.ReadFrame()
			if err != nil {
				t.Fatalf("%s stream: %v", name, err)
			}
			if got, _ := AppendFrame(nil, g); !bytes.Equal(got, want) {
				t.Fatalf("%s stream: %X want %X", name, got, want)
			}
		}
	}
}

func TestDecodeFrameErrors(t *testing.T) {
	good := mustHexT("7EA0070321930F017E")
	flip := func(i int) []byte { b := bytes.Clone(good); b[i] ^= 0x01; return b }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"no flag", []byte{0x00, 0xA0, 0x07}, ErrFlag},
		{"format", func() []byte { b := bytes.Clone(good); b[1] = 0x90; return b }(), ErrFormat},
		{"short length", mustHexT("7EA0030321"), ErrFormat},
		{"truncated", good[:6], ErrTruncated},
		{"closing flag", flip(8), ErrFlag},
		{"fcs", flip(7), ErrFCS},
		{"hcs", func() []byte { b := bytes.Clone(fcs7E); b[6] ^= 0xFF; return b }(), ErrFCS},
		{"3-byte address", mustHexT("7EA00902020321930F017E"), ErrFCS},
	}
	for _, tc := range tests {
		_, _, err := DecodeFrame(tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
		var de *DecodeError
		if err != nil && !errors.As(err, &de) {
			t.Errorf("%s: %T is not *DecodeError", tc.name, err)
		}
	}
	// An HCS error needs a valid FCS over a corrupted HCS.
	f := Frame{Dst: ServerAddress(1, 0, 1), Src: ClientAddress(16), Control: IControl(0, 0, true), Info: []byte{1, 2, 3}}
	b, _ := AppendFrame(nil, f)
	b[6] ^= 0xFF
	c := CRC16(b[1 : len(b)-3])
	b[len(b)-3], b[len(b)-2] = byte(c), byte(c>>8)
	if _, _, err := DecodeFrame(b); !errors.Is(err, ErrHCS) {
		t.Errorf("hcs: %v", err)
	}
}

func TestAddresses(t *testing.T) {
	tests := []struct {
		a   Address
		enc []byte
	}{
		{ClientAddress(16), []byte{0x21}},
		{ClientAddress(1), []byte{0x03}},
		{ServerAddress(1, 0, 1), []byte{0x03}},
		{ServerAddress(1, 17, 2), []byte{0x02, 0x23}},
		{ServerAddress(1, 0x3FFF, 4), []byte{0x00, 0x02, 0xFE, 0xFF}},
		{ServerAddress(0x1234, 0x0567, 4), []byte{0x48, 0x68, 0x14, 0xCF}},
	}
	for _, tc := range tests {
		got, err := AppendAddress(nil, tc.a)
		if err != nil || !bytes.Equal(got, tc.enc) {
			t.Errorf("%v: % X, %v; want % X", tc.a, got, err, tc.enc)
		}
		back, n, err := DecodeAddress(append(bytes.Clone(tc.enc), 0x13))
		if err != nil || n != len(tc.enc) || back != tc.a {
			t.Errorf("% X: %v n=%d %v; want %v", tc.enc, back, n, err, tc.a)
		}
	}
	for _, bad := range []Address{{Upper: 128, Size: 1}, {Upper: 1, Lower: 128, Size: 2}, {Upper: 0x4000, Size: 4}, {Size: 3}} {
		if _, err := AppendAddress(nil, bad); !errors.Is(err, ErrAddress) {
			t.Errorf("%v: err %v", bad, err)
		}
	}
	for _, bad := range [][]byte{{0x02, 0x04, 0x07}, {0x02, 0x04, 0x06, 0x08, 0x01}} {
		if _, _, err := DecodeAddress(bad); !errors.Is(err, ErrAddress) {
			t.Errorf("% X: err %v", bad, err)
		}
	}
}

func TestControl(t *testing.T) {
	tests := []struct {
		c    Control
		want Control
		kind Kind
	}{
		{IControl(2, 3, true), 0x74, KindI},
		{IControl(5, 3, true), 0x7A, KindI},
		{RRControl(3, true), 0x71, KindRR},
		{RRControl(0, true), 0x11, KindRR},
		{RNRControl(1, false), 0x25, KindRNR},
		{UControl(KindSNRM, true), 0x93, KindSNRM},
		{UControl(KindDISC, true), 0x53, KindDISC},
		{UControl(KindUA, true), 0x73, KindUA},
		{UControl(KindDM, true), 0x1F, KindDM},
		{UControl(KindFRMR, true), 0x97, KindFRMR},
		{UControl(KindUI, false), 0x03, KindUI},
		{0x09, 0x09, KindUnknown},
	}
	for _, tc := range tests {
		if tc.c != tc.want || tc.c.Kind() != tc.kind {
			t.Errorf("%v: 0x%02X kind %v; want 0x%02X %v", tc.c, byte(tc.c), tc.c.Kind(), byte(tc.want), tc.kind)
		}
	}
}

func TestParams(t *testing.T) {
	gurux := mustHexT("818012050180060180070400000001080400000001")
	p, err := ParseParams(gurux)
	if err != nil || p != DefaultParams() {
		t.Fatalf("%+v %v", p, err)
	}
	q := Params{MaxInfoTX: 1024, MaxInfoRX: 256, WindowTX: 7, WindowRX: 3}
	enc := AppendParams(nil, q)
	if want := mustHexT("81800E0502040006020100070107080103"); !bytes.Equal(enc, want) {
		t.Fatalf("% X want % X", enc, want)
	}
	if back, err := ParseParams(enc); err != nil || back != q {
		t.Fatalf("%+v %v", back, err)
	}
	if got := Negotiate(q, DefaultParams()); got != (Params{128, 128, 1, 1}) {
		t.Fatalf("negotiate %+v", got)
	}
	for _, bad := range [][]byte{{0x81}, {0x82, 0x80, 0x00}, {0x81, 0x80, 0x05, 0x05, 0x01}, {0x81, 0x80, 0x03, 0x05, 0x05, 0x01}} {
		if _, err := ParseParams(bad); !errors.Is(err, ErrParams) {
			t.Errorf("% X: %v", bad, err)
		}
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	f := Frame{Segmented: true, Dst: ClientAddress(16), Src: ServerAddress(1, 0, 1), Control: IControl(3, 4, true), Info: bytes.Repeat([]byte{0x55}, 128)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(f.Info)))
	for b.Loop() {
		buf, _ = AppendFrame(buf[:0], f)
	}
}

func BenchmarkDecodeFrame(b *testing.B) {
	f := Frame{Segmented: true, Dst: ClientAddress(16), Src: ServerAddress(1, 0, 1), Control: IControl(3, 4, true), Info: bytes.Repeat([]byte{0x55}, 128)}
	raw, _ := AppendFrame(nil, f)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, _, err := DecodeFrame(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReader(b *testing.B) {
	f := Frame{Dst: ClientAddress(16), Src: ServerAddress(1, 0, 1), Control: IControl(3, 4, true), Info: bytes.Repeat([]byte{0x55}, 128)}
	raw, _ := AppendFrame(nil, f)
	stream := bytes.Repeat(raw, 64)
	rd := bytes.NewReader(stream)
	r := NewReader(rd)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for i := 0; b.Loop(); i++ {
		if i%64 == 0 {
			rd.Reset(stream)
		}
		if _, err := r.ReadFrame(); err != nil {
			b.Fatal(err)
		}
	}
}
