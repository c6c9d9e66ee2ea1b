package apdu

import (
	"testing"

	"github.com/amigo-ami/amigo/axdr"
)

var (
	benchAARQ = unhexS("605DA109060760857405080103A60A040847757275783132338A0207808B0760857405080205AC128010785F30EC855FB02C3F8D6F7A8F6E54F1BE230421211F3000000001EA138F2D9AF42F0EC616AA87FE11DB55FBDB5707AF2AB66EB8BE")
	benchAARE = unhexS("6169A109060760857405080103A203020100A305A10302010EA40A0408414243444546474888020780890760857405080205AA12801070389CCE67B359AC56AB552A158A4522BE230421281F300000000016584D6F2BF43713196DDA508177D4A97A3142B163A29B23CE32")
)

func benchDecode(b *testing.B, raw []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEncode(b *testing.B, raw []byte) {
	a, err := Decode(raw)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2*len(raw))
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if buf, err = a.Append(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAARQDecode(b *testing.B) { benchDecode(b, benchAARQ) }
func BenchmarkAARQEncode(b *testing.B) { benchEncode(b, benchAARQ) }
func BenchmarkAAREDecode(b *testing.B) { benchDecode(b, benchAARE) }
func BenchmarkAAREEncode(b *testing.B) { benchEncode(b, benchAARE) }

// profile96x4 is a day of quarter-hour rows: structure{clock, status,
// two registers}.
func profile96x4() *GetResponseNormal {
	rows := make([]axdr.Data, 96)
	for i := range rows {
		ts := []byte{0x07, 0xEA, 0x0B, 0x17, 0x01, byte(i / 4), byte(i % 4 * 15), 0, 0, 0, 0, 0}
		rows[i] = axdr.Structure(axdr.OctetString(ts), axdr.Uint8(uint8(i)), axdr.Uint32(uint32(1000*i)), axdr.Uint32(uint32(7*i)))
	}
	return &GetResponseNormal{InvokeID: 0xC1, Result: ResultData(axdr.Array(rows...))}
}

func BenchmarkGetResponseProfile96x4(b *testing.B) {
	a := profile96x4()
	raw, err := a.Append(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Encode", func(b *testing.B) {
		buf := make([]byte, 0, len(raw))
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			buf, _ = a.Append(buf[:0])
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := Decode(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestProfileDecodeAllocs keeps the profile decode at a handful of
// allocations however many values it holds.
func TestProfileDecodeAllocs(t *testing.T) {
	raw, err := profile96x4().Append(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	d := a.(*GetResponseNormal).Result.Data
	if len(d.Items) != 96 || len(d.Items[95].Items) != 4 {
		t.Fatalf("decoded %v", d)
	}
	if n := testing.AllocsPerRun(20, func() { _, _ = Decode(raw) }); n > 4 {
		t.Fatalf("%v allocations per decode", n)
	}
	buf := make([]byte, 0, len(raw))
	if n := testing.AllocsPerRun(20, func() { buf, _ = profile96x4Cached.Append(buf[:0]) }); n > 0 {
		t.Fatalf("%v allocations per encode", n)
	}
}

var profile96x4Cached = profile96x4()
