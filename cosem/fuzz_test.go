package cosem

import (
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
)

func hexSeed(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzParseSelectiveAccess feeds a selector byte followed by A-XDR bytes
// through axdr.Decode and ParseSelectiveAccess, applies what parses to a
// small profile, and checks descriptors re-encode to what they parsed
// from.
func FuzzParseSelectiveAccess(f *testing.F) {
	// Trace 06 range descriptor and trace 12 entry descriptor.
	f.Add(hexSeed("01" + "0204020412000809060000010000FF0F02120000090C07EA0B17FF14160000000000090C07EA0B17FF161600000000000100"))
	f.Add(hexSeed("02" + "02040600000001060000000A120001120000"))
	f.Add(hexSeed("02" + "020406000000000600000000120000120000"))
	f.Add(hexSeed("01" + "0204020412000309060100010800FF0F02120000060000000F06000000280101020412000809060000010000FF0F02120000"))
	f.Add(hexSeed("03" + "00"))
	rows, cols := profileRows(6)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		d, _, err := axdr.Decode(in[1:])
		if err != nil {
			return
		}
		sel, err := ParseSelectiveAccess(in[0], d)
		if err != nil {
			if ResultOf(err) == 0 {
				t.Fatal("error maps to success")
			}
			return
		}
		var again axdr.Data
		switch {
		case sel.Range != nil:
			again = sel.Range.Data()
		case sel.Entry != nil:
			again = sel.Entry.Data()
		default:
			t.Fatal("parsed to no descriptor")
		}
		if !again.Equal(d) {
			t.Fatalf("re-encode differs: %s vs %s", again, d)
		}
		out, err := sel.Apply(rows, cols)
		if err == nil && len(out) > len(rows) {
			t.Fatalf("%d rows out of %d", len(out), len(rows))
		}
	})
}

// FuzzParseObjectList feeds A-XDR bytes through axdr.Decode and
// ParseObjectList; what parses must survive an encode/parse round trip.
func FuzzParseObjectList(f *testing.F) {
	f.Add(hexSeed("0101" + "0204" + "120003" + "1100" + "0906" + "0100010800FF" + "0202" +
		"0103" + "0203" + "0F01" + "1601" + "00" + "0203" + "0F02" + "1603" + "00" + "0203" + "0F03" + "1601" + "0102" + "0F01" + "0F02" +
		"0101" + "0202" + "0F01" + "1602"))
	f.Add(hexSeed("0101" + "0204" + "120008" + "1100" + "0906" + "0000010000FF" + "0202" + "0101" + "0203" + "0F01" + "1601" + "00" + "0101" + "0202" + "0F06" + "0301"))
	f.Add(hexSeed("0100"))
	f.Add(hexSeed("0101020412000111000906000000000000020201000100"))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, _, err := axdr.Decode(in)
		if err != nil {
			return
		}
		entries, err := ParseObjectList(d)
		if err != nil {
			return
		}
		back, err := ParseObjectList(EncodeObjectList(entries, 1))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(normalise(back), normalise(entries)) {
			t.Fatalf("round trip\n got %+v\nwant %+v", back, entries)
		}
	})
}

// normalise maps empty slices to nil so that DeepEqual compares contents.
func normalise(es []ObjectListEntry) []ObjectListEntry {
	for i := range es {
		if len(es[i].Rights.Attributes) == 0 {
			es[i].Rights.Attributes = nil
		}
		if len(es[i].Rights.Methods) == 0 {
			es[i].Rights.Methods = nil
		}
	}
	return es
}

func BenchmarkProfileSelect(b *testing.B) {
	rows, cols := profileRows(2880)
	sel := Selection{Range: &RangeDescriptor{RestrictingObject: cols[0], From: rows[100].Items[0], To: rows[196].Items[0],
		SelectedValues: []CaptureObject{cols[0], cols[1]}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sel.Apply(rows, cols); err != nil {
			b.Fatal(err)
		}
	}
}
