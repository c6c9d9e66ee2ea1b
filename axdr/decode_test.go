package axdr_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func mustCompact(t testing.TB, items ...axdr.Data) axdr.Data {
	t.Helper()
	d, err := axdr.CompactArray(items...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRoundTrip(t *testing.T) {
	long200 := bytes.Repeat([]byte{0xAB}, 200)
	long300 := bytes.Repeat([]byte{0xCD}, 300)
	dtBytes := mustHex(t, "07EA0B170115162500000000")
	tests := []struct {
		name string
		hex  string
		want axdr.Data
		str  string
	}{
		{"null", "00", axdr.Null(), "null-data"},
		{"true", "0301", axdr.Bool(true), "boolean true"},
		{"false", "0300", axdr.Bool(false), "boolean false"},
		{"bit-string", "040A C040", axdr.BitString([]byte{0xC0, 0x40}, 10), "bit-string 0b1100000001"},
		{"empty bit-string", "0400", axdr.BitString(nil, 0), "bit-string 0b"},
		{"int32", "05 FFFFFFFE", axdr.Int32(-2), "int32 -2"},
		{"uint32 1", "06 00000001", axdr.Uint32(1), "uint32 1"},
		{"uint32 1234", "06 000004D2", axdr.Uint32(1234), "uint32 1234"},
		{"octet-string date-time", "090C 07EA0B170115162500000000", axdr.OctetString(dtBytes), "octet-string 0x07EA0B170115162500000000"},
		{"obis octet-string", "0906 0100010800FF", axdr.OctetString([]byte{1, 0, 1, 8, 0, 255}), "octet-string 0x0100010800FF"},
		{"empty octet-string", "0900", axdr.OctetString(nil), "octet-string 0x"},
		{"octet-string 0x81", "0981C8" + hex.EncodeToString(long200), axdr.OctetString(long200), ""},
		{"octet-string 0x82", "0982012C" + hex.EncodeToString(long300), axdr.OctetString(long300), ""},
		{"visible-string", "0A03 414243", axdr.VisibleString("ABC"), `visible-string "ABC"`},
		{"utf8-string", "0C02 C3A9", axdr.UTF8String("é"), `utf8-string "é"`},
		{"bcd", "0D12", axdr.BCD(0x12), "bcd 0x12"},
		{"int8", "0FFE", axdr.Int8(-2), "int8 -2"},
		{"int16", "10FF38", axdr.Int16(-200), "int16 -200"},
		{"uint8", "11FF", axdr.Uint8(255), "uint8 255"},
		{"uint16", "120009", axdr.Uint16(9), "uint16 9"},
		{"int64", "14 FFFFFFFFFFFFFFFF", axdr.Int64(-1), "int64 -1"},
		{"uint64", "15 FFFFFFFFFFFFFFFF", axdr.Uint64(math.MaxUint64), "uint64 18446744073709551615"},
		{"enum", "161E", axdr.Enum(30), "enum 30"},
		{"float32", "17 3FC00000", axdr.Float32(1.5), "float32 1.5"},
		{"float64", "18 3FF8000000000000", axdr.Float64(1.5), "float64 1.5"},
		{"date-time", "19 07EA0B170115162500000000",
			axdr.DateTimeData(axdr.DateTime{Year: 2026, Month: 11, Day: 23, DayOfWeek: 1, Hour: 21, Minute: 22, Second: 37}),
			"date-time 2026-11-23T21:22:37.00 dow=1 dev=+0 status=0x00"},
		{"date", "1A 07EA0B17FF", axdr.DateData(axdr.Date{Year: 2026, Month: 11, Day: 23, DayOfWeek: 0xFF}), "date 2026-11-23 dow=*"},
		{"time", "1B 1516FFFF", axdr.TimeData(axdr.Time{Hour: 21, Minute: 22, Second: 0xFF, Hundredths: 0xFF}), "time 21:22:**.**"},
		{"dont-care", "FF", axdr.DontCare(), "dont-care"},
		{"scaler_unit", "0202 0FFE 161E", axdr.Structure(axdr.Int8(-2), axdr.Enum(30)), "structure{int8 -2, enum 30}"},
		{"empty array", "0100", axdr.Array(), "array[0]{}"},
		{"array", "0102 1101 1102", axdr.Array(axdr.Uint8(1), axdr.Uint8(2)), "array[2]{uint8 1, uint8 2}"},
		{"capture objects", "0102 0204 120008 09060000010000FF 0F02 120000 0204 120003 09060101151900FF 0F02 120000",
			axdr.Array(
				axdr.Structure(axdr.Uint16(8), axdr.OctetString([]byte{0, 0, 1, 0, 0, 255}), axdr.Int8(2), axdr.Uint16(0)),
				axdr.Structure(axdr.Uint16(3), axdr.OctetString([]byte{1, 1, 21, 25, 0, 255}), axdr.Int8(2), axdr.Uint16(0))), ""},
		{"compact structure{uint8,uint16}", "13 0202 1112 06 010005 020007",
			mustCompact(t, axdr.Structure(axdr.Uint8(1), axdr.Uint16(5)), axdr.Structure(axdr.Uint8(2), axdr.Uint16(7))),
			"compact-array[2] of structure{uint8, uint16}{structure{uint8 1, uint16 5}, structure{uint8 2, uint16 7}}"},
		{"compact array[3] of uint8", "13 01000311 03 0A0B0C",
			mustCompact(t, axdr.Array(axdr.Uint8(10), axdr.Uint8(11), axdr.Uint8(12))), ""},
		{"compact octet-strings", "13 09 04 02AABB00",
			mustCompact(t, axdr.OctetString([]byte{0xAA, 0xBB}), axdr.OctetString(nil)), ""},
		{"compact bit-strings and null fields", "13 0202 0004 04 04F00480",
			mustCompact(t, axdr.Structure(axdr.Null(), axdr.BitString([]byte{0xF0}, 4)), axdr.Structure(axdr.Null(), axdr.BitString([]byte{0x80}, 4))), ""},
		{"empty compact", "13 12 00", axdr.Data{Tag: axdr.TagCompactArray, Desc: &axdr.TypeDesc{Tag: axdr.TagUint16}}, "compact-array[0] of uint16{}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := mustHex(t, tc.hex)
			got, n, err := axdr.Decode(in)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if n != len(in) {
				t.Errorf("consumed %d of %d", n, len(in))
			}
			if !got.Equal(tc.want) {
				t.Errorf("Decode = %v, want %v", got, tc.want)
			}
			if s, err := axdr.Skip(in); err != nil || s != len(in) {
				t.Errorf("Skip = %d, %v", s, err)
			}
			if enc := axdr.Encode(tc.want); !bytes.Equal(enc, in) {
				t.Errorf("Encode = %X, want %X", enc, in)
			}
			if l := tc.want.EncodedLen(); l != len(in) {
				t.Errorf("EncodedLen = %d, want %d", l, len(in))
			}
			// Trailing bytes are left for the caller.
			if _, n, err := axdr.Decode(append(in, 0xEE)); err != nil || n != len(in) {
				t.Errorf("with trailing byte: n=%d err=%v", n, err)
			}
			if tc.str != "" && got.String() != tc.str {
				t.Errorf("String = %q, want %q", got.String(), tc.str)
			}
		})
	}
}

func TestDecodeLongForms(t *testing.T) {
	// Non-minimal length forms decode; Encode writes the short form.
	for _, h := range []string{"0981 02 AABB", "0982 0002 AABB", "0983 000002 AABB", "0984 00000002 AABB"} {
		got, _, err := axdr.Decode(mustHex(t, h))
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		if !got.Equal(axdr.OctetString([]byte{0xAA, 0xBB})) {
			t.Errorf("%s: got %v", h, got)
		}
	}
	// Booleans other than 0/1 read as true.
	got, _, err := axdr.Decode([]byte{0x03, 0x05})
	if v, ok := got.Bool(); err != nil || !ok || !v {
		t.Errorf("boolean 05 = %v %v %v", v, ok, err)
	}
}

func TestLength(t *testing.T) {
	tests := []struct {
		n   int
		hex string
	}{
		{0, "00"}, {0x7F, "7F"}, {0x80, "8180"}, {0xFF, "81FF"}, {0x100, "820100"},
		{0xFFFF, "82FFFF"}, {0x10000, "8400010000"}, {math.MaxInt32, "847FFFFFFF"},
	}
	for _, tc := range tests {
		want := mustHex(t, tc.hex)
		if got := axdr.AppendLength(nil, tc.n); !bytes.Equal(got, want) {
			t.Errorf("AppendLength(%d) = %X, want %X", tc.n, got, want)
		}
		n, k, err := axdr.DecodeLength(append(want, 0x99))
		if err != nil || n != tc.n || k != len(want) {
			t.Errorf("DecodeLength(%X) = %d, %d, %v", want, n, k, err)
		}
	}
	bad := []struct {
		hex string
		err error
	}{
		{"", axdr.ErrTruncated}, {"80", axdr.ErrLength}, {"85 0000000001", axdr.ErrLength},
		{"82 01", axdr.ErrTruncated}, {"84 80000000", axdr.ErrLength}, {"84 FFFFFFFF", axdr.ErrLength},
	}
	for _, tc := range bad {
		if _, _, err := axdr.DecodeLength(mustHex(t, tc.hex)); !errors.Is(err, tc.err) {
			t.Errorf("DecodeLength(%s) err = %v, want %v", tc.hex, err, tc.err)
		}
	}
}

func nested(depth int) []byte {
	var b []byte
	for i := 0; i < depth; i++ {
		b = append(b, 0x01, 0x01)
	}
	return append(b, 0x00)
}

func TestHostile(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		err    error
		offset int
	}{
		{"empty", nil, axdr.ErrTruncated, 0},
		{"array of 1e9 in 10 bytes", mustHex(t, "01 84 3B9ACA00 0000000000"), axdr.ErrTooLarge, 0},
		{"structure of 2^31-1", mustHex(t, "02 84 7FFFFFFF 00"), axdr.ErrTooLarge, 0},
		{"octet-string of 4G", mustHex(t, "09 84 FFFFFFFF 00"), axdr.ErrLength, 0},
		{"octet-string longer than input", mustHex(t, "09 82 FFFF 00"), axdr.ErrTruncated, 0},
		{"bit-string longer than input", mustHex(t, "04 82 FFFF 00"), axdr.ErrTruncated, 0},
		{"indefinite length", mustHex(t, "01 80 00 00"), axdr.ErrLength, 0},
		{"five length octets", mustHex(t, "09 85 0000000001 00"), axdr.ErrLength, 0},
		{"truncated uint32", mustHex(t, "06 0000"), axdr.ErrTruncated, 0},
		{"truncated date-time", mustHex(t, "19 07EA0B"), axdr.ErrTruncated, 0},
		{"unknown tag 7", mustHex(t, "07 00000000"), axdr.ErrUnknownTag, 0},
		{"unknown tag in structure", mustHex(t, "0202 1101 08"), axdr.ErrUnknownTag, 4},
		{"truncated second field", mustHex(t, "0202 1101 0600"), axdr.ErrTruncated, 4},
		{"missing element", mustHex(t, "0103 1101 1102"), axdr.ErrTruncated, 6},
		{"too deep", nested(axdr.MaxDepth + 1), axdr.ErrDepth, 2 * axdr.MaxDepth},
		{"compact of zero-size elements", mustHex(t, "13 00 02 0000"), axdr.ErrCompact, 3},
		{"compact zero-size explosion", mustHex(t, "13 01FFFF 01FFFF 0200 01 11"), axdr.ErrTooLarge, 10},
		{"compact nested compact", mustHex(t, "13 13 00"), axdr.ErrCompact, 1},
		{"compact unknown type", mustHex(t, "13 07 00"), axdr.ErrUnknownTag, 1},
		{"compact truncated element", mustHex(t, "13 12 03 000102"), axdr.ErrTruncated, 5},
		{"compact contents beyond input", mustHex(t, "13 12 09 0001"), axdr.ErrTruncated, 0},
		{"compact description too deep", append(append([]byte{0x13}, bytes.Repeat([]byte{0x01, 0x00, 0x01}, axdr.MaxDepth)...), 0x11, 0x00), axdr.ErrDepth, 1 + 3*(axdr.MaxDepth-1)},
		{"compact structure description of 1e9 fields", mustHex(t, "13 02 84 3B9ACA00 11 00"), axdr.ErrTooLarge, 1},
		{"compact string element beyond contents", mustHex(t, "13 09 02 05AA BBCCDDEE"), axdr.ErrTruncated, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := axdr.Decode(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Decode err = %v, want %v", err, tc.err)
			}
			var de *axdr.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err %T is not *DecodeError", err)
			}
			if de.Offset != tc.offset {
				t.Errorf("Offset = %d, want %d (%v)", de.Offset, tc.offset, err)
			}
			if _, err := axdr.Skip(tc.in); !errors.Is(err, tc.err) {
				t.Errorf("Skip err = %v, want %v", err, tc.err)
			}
		})
	}
	// An empty array whose element description is long, inside many
	// one-byte elements, must not cost time quadratic in the input.
	quad := []byte{0x13, 0x02, 0x02, 0x01, 0x00, 0x00, 0x02, 0x82, 0x07, 0xD0}
	quad = append(quad, bytes.Repeat([]byte{0x11}, 2000)...)
	quad = append(quad, 0x11, 0x82, 0x07, 0xD0)
	quad = append(quad, make([]byte, 2000)...)
	if _, _, err := axdr.Decode(quad); !errors.Is(err, axdr.ErrTooLarge) {
		t.Errorf("quadratic compact array: err %v", err)
	}
	// The same with few elements decodes.
	few := append(quad[:len(quad)-2000-3:len(quad)-2000-3], 0x03, 1, 2, 3)
	if d, _, err := axdr.Decode(few); err != nil || len(d.Items) != 3 || len(d.Items[0].Items[0].Items) != 0 {
		t.Errorf("few elements: %v %v", d, err)
	}

	// MaxDepth levels of nesting are fine.
	if _, _, err := axdr.Decode(nested(axdr.MaxDepth)); err != nil {
		t.Errorf("depth MaxDepth: %v", err)
	}
}

func TestHostileAllocations(t *testing.T) {
	in := mustHex(t, "01 84 3B9ACA00 0000000000")
	allocs := testing.AllocsPerRun(10, func() { _, _, _ = axdr.Decode(in) })
	if allocs > 1 { // the error value
		t.Errorf("failed decode allocated %v times", allocs)
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	_, _, err := axdr.Decode(mustHex(t, "0202 1101 0600"))
	if got, want := err.Error(), "axdr: uint32 at offset 4: axdr: truncated"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	_, _, err = axdr.Decode(nil)
	if got, want := err.Error(), "axdr: at offset 0: axdr: truncated"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestAliasAndClone(t *testing.T) {
	in := mustHex(t, "0202 0903 010203 0A02 4142")
	d, _, err := axdr.Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	c := d.Clone()
	if !c.Equal(d) {
		t.Fatalf("Clone = %v, want %v", c, d)
	}
	// The decoded strings alias the input, capped so appends copy.
	if cap(d.Items[0].Bytes) != 3 {
		t.Errorf("cap = %d, want 3", cap(d.Items[0].Bytes))
	}
	in[4] = 0xFF
	if d.Items[0].Bytes[0] != 0xFF {
		t.Error("decoded octet-string does not alias the input")
	}
	if c.Items[0].Bytes[0] != 0x01 {
		t.Error("clone shares the input")
	}
}

func TestAccessors(t *testing.T) {
	tests := []struct {
		d         axdr.Data
		i         int64
		iok       bool
		u         uint64
		uok       bool
		f         float64
		fok       bool
		bitLen    int
		boolValue bool
		boolOK    bool
	}{
		{d: axdr.Int8(-2), i: -2, iok: true},
		{d: axdr.Int64(math.MinInt64), i: math.MinInt64, iok: true},
		{d: axdr.Uint64(math.MaxUint64), u: math.MaxUint64, uok: true},
		{d: axdr.Uint32(7), i: 7, iok: true, u: 7, uok: true},
		{d: axdr.Enum(30), i: 30, iok: true, u: 30, uok: true},
		{d: axdr.Float64(-0.5), f: -0.5, fok: true},
		{d: axdr.Float32(2.25), f: 2.25, fok: true},
		{d: axdr.BitString([]byte{0xFF}, 5), bitLen: 5},
		{d: axdr.Bool(true), boolValue: true, boolOK: true},
		{d: axdr.OctetString([]byte{1})},
	}
	for _, tc := range tests {
		i, iok := tc.d.Int()
		u, uok := tc.d.Uint()
		f, fok := tc.d.Float()
		bv, bok := tc.d.Bool()
		if i != tc.i || iok != tc.iok || u != tc.u || uok != tc.uok || f != tc.f || fok != tc.fok ||
			tc.d.BitLen() != tc.bitLen || bv != tc.boolValue || bok != tc.boolOK {
			t.Errorf("%v: Int=%d,%v Uint=%d,%v Float=%v,%v BitLen=%d Bool=%v,%v", tc.d, i, iok, u, uok, f, fok, tc.d.BitLen(), bv, bok)
		}
	}
}

func TestCompactArrayConstruction(t *testing.T) {
	if _, err := axdr.CompactArray(); err == nil {
		t.Error("empty CompactArray accepted")
	}
	if _, err := axdr.CompactArray(axdr.Uint8(1), axdr.Uint16(2)); err == nil {
		t.Error("mixed types accepted")
	}
	if _, err := axdr.CompactArray(axdr.Null(), axdr.Null()); err == nil {
		t.Error("zero-size elements accepted")
	}
	desc := axdr.TypeDesc{Tag: axdr.TagStructure, Fields: []axdr.TypeDesc{{Tag: axdr.TagOctetString}, {Tag: axdr.TagUint32}}}
	d, err := axdr.CompactArrayOf(desc, axdr.Structure(axdr.OctetString([]byte{1}), axdr.Uint32(9)))
	if err != nil {
		t.Fatal(err)
	}
	want := mustHex(t, "13 0202 0906 06 01 01 00000009")
	if got := axdr.Encode(d); !bytes.Equal(got, want) {
		t.Errorf("Encode = %X, want %X", got, want)
	}
	// Without Desc, the first item describes the contents.
	nd := axdr.Data{Tag: axdr.TagCompactArray, Items: d.Items}
	if got := axdr.Encode(nd); !bytes.Equal(got, want) {
		t.Errorf("Encode without Desc = %X, want %X", got, want)
	}
	if !nd.Equal(d) {
		t.Error("compact array without Desc not Equal to the same with Desc")
	}
	if got := desc.String(); got != "structure{octet-string, uint32}" {
		t.Errorf("TypeDesc.String = %q", got)
	}
}

func TestEqual(t *testing.T) {
	a := axdr.Structure(axdr.Uint8(1), axdr.OctetString([]byte{1, 2}))
	for _, b := range []axdr.Data{
		axdr.Structure(axdr.Uint8(2), axdr.OctetString([]byte{1, 2})),
		axdr.Structure(axdr.Int8(1), axdr.OctetString([]byte{1, 2})),
		axdr.Structure(axdr.Uint8(1), axdr.OctetString([]byte{1, 3})),
		axdr.Structure(axdr.Uint8(1)),
		axdr.Array(axdr.Uint8(1), axdr.OctetString([]byte{1, 2})),
	} {
		if a.Equal(b) || b.Equal(a) {
			t.Errorf("%v Equal %v", a, b)
		}
	}
	if !a.Equal(axdr.Structure(axdr.Uint8(1), axdr.OctetString([]byte{1, 2}))) {
		t.Error("equal values not Equal")
	}
	if !axdr.OctetString(nil).Equal(axdr.OctetString([]byte{})) {
		t.Error("nil and empty octet-strings differ")
	}
}

func TestStringTruncatesLongArrays(t *testing.T) {
	items := make([]axdr.Data, 100)
	for i := range items {
		items[i] = axdr.Uint8(uint8(i))
	}
	s := axdr.Array(items...).String()
	if !strings.HasPrefix(s, "array[100]{uint8 0, uint8 1,") || !strings.HasSuffix(s, "uint8 31, ...}") {
		t.Errorf("String = %q", s)
	}
}

func TestUnknownTagEncodesAsNull(t *testing.T) {
	d := axdr.Structure(axdr.Data{Tag: 7}, axdr.Uint8(1))
	got := axdr.Encode(d)
	if want := mustHex(t, "0202 00 1101"); !bytes.Equal(got, want) {
		t.Errorf("Encode = %X, want %X", got, want)
	}
}
