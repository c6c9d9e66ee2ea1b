package axdr_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
)

func FuzzDecode(f *testing.F) {
	for _, h := range []string{
		"00", "0301", "040AC040", "05FFFFFFFE", "0600000001", "090C07EA0B170115162500000000",
		"0A03414243", "0C02C3A9", "0D12", "0FFE", "10FF38", "11FF", "120009", "14FFFFFFFFFFFFFFFF",
		"15FFFFFFFFFFFFFFFF", "161E", "173FC00000", "183FF8000000000000", "1907EA0B170115162500000000",
		"1A07EA0B17FF", "1B1516FFFF", "FF", "02020FFE161E", "0100",
		"0102020412000809060000010000FF0F02120000020412000309060101151900FF0F02120000",
		"1302021112060100050200 07", "130100031103 0A0B0C", "1309 04 02AABB00", "13020200040404F00480",
		"13 01FFFF 01FFFF 0200 01 11", "01843B9ACA000000000000", "0981C8",
	} {
		f.Add(mustHex(f, h))
	}
	f.Add(nested(axdr.MaxDepth + 1))
	f.Add(axdr.Encode(profile(4)))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, n, err := axdr.Decode(b)
		s, serr := axdr.Skip(b)
		if err != nil {
			if serr == nil {
				t.Fatalf("Skip accepted what Decode rejected (%v)", err)
			}
			return
		}
		if serr != nil || s != n {
			t.Fatalf("Skip = %d, %v; Decode consumed %d", s, serr, n)
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("consumed %d of %d", n, len(b))
		}
		if !d.Equal(d) || !d.Clone().Equal(d) {
			t.Fatal("value not Equal to itself or its clone")
		}
		enc := axdr.Encode(d)
		if len(enc) != d.EncodedLen() {
			t.Fatalf("EncodedLen %d, encoded %d", d.EncodedLen(), len(enc))
		}
		d2, n2, err := axdr.Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded %X does not decode: %v", enc, err)
		}
		if n2 != len(enc) || !d2.Equal(d) {
			t.Fatalf("round trip: %v != %v", d2, d)
		}
		_ = d.String()
	})
}

// profile builds a load-profile buffer of n rows, each
// structure{date-time octet-string, uint8 status, uint32, uint32}.
func profile(n int) axdr.Data {
	rows := make([]axdr.Data, n)
	octets := make([]byte, 12*n)
	for i := range rows {
		dt := axdr.DateTime{Year: 2026, Month: 11, Day: 23, DayOfWeek: 1, Hour: uint8(i / 4), Minute: uint8(15 * (i % 4)), Status: 0}
		ts := dt.Append(octets[12*i : 12*i : 12*i+12])
		rows[i] = axdr.Structure(axdr.OctetString(ts), axdr.Uint8(0), axdr.Uint32(uint32(100000+i*25)), axdr.Uint32(uint32(i*3)))
	}
	return axdr.Array(rows...)
}

func TestProfileAllocations(t *testing.T) {
	enc := axdr.Encode(profile(96))
	d, n, err := axdr.Decode(enc)
	if err != nil || n != len(enc) || len(d.Items) != 96 || len(d.Items[95].Items) != 4 {
		t.Fatalf("decode: n=%d err=%v", n, err)
	}
	if a := testing.AllocsPerRun(20, func() { _, _, _ = axdr.Decode(enc) }); a > 3 {
		t.Errorf("Decode allocates %v times, want <= 3", a)
	}
	p := profile(96)
	if a := testing.AllocsPerRun(20, func() { _ = axdr.Encode(p) }); a > 1 {
		t.Errorf("Encode allocates %v times, want <= 1", a)
	}
	buf := make([]byte, 0, len(enc))
	if a := testing.AllocsPerRun(20, func() { buf = p.Append(buf[:0]) }); a > 0 {
		t.Errorf("Append into a reused buffer allocates %v times", a)
	}
	if !bytes.Equal(buf, enc) {
		t.Error("Append and Encode differ")
	}
	// The first row: 02 04 | 09 0C <date-time> | 11 00 | 06 <100000> | 06 <0>.
	row := append([]byte{0x02, 0x04, 0x09, 0x0C}, mustHex(t, "07EA0B17010000000000000011")...)
	row = append(row, 0x00, 0x06)
	row = binary.BigEndian.AppendUint32(row, 100000)
	row = append(row, 0x06, 0, 0, 0, 0)
	if !bytes.Equal(enc[2:2+len(row)], row) {
		t.Errorf("first row %X, want %X", enc[2:2+len(row)], row)
	}
}

func BenchmarkDecodeProfile96x4(b *testing.B) {
	enc := axdr.Encode(profile(96))
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := axdr.Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeProfile96x4(b *testing.B) {
	p := profile(96)
	b.SetBytes(int64(p.EncodedLen()))
	b.ReportAllocs()
	for b.Loop() {
		_ = axdr.Encode(p)
	}
}

func BenchmarkAppendProfile96x4(b *testing.B) {
	p := profile(96)
	buf := make([]byte, 0, p.EncodedLen())
	b.SetBytes(int64(p.EncodedLen()))
	b.ReportAllocs()
	for b.Loop() {
		buf = p.Append(buf[:0])
	}
}

func BenchmarkSkipProfile96x4(b *testing.B) {
	enc := axdr.Encode(profile(96))
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := axdr.Skip(enc); err != nil {
			b.Fatal(err)
		}
	}
}
