package axdr_test

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
)

// Every encoding of one instant, 2026-11-23 21:22:37 UTC, that meters send
// for a date-time, and what DateTimeTolerant says it tolerated.
func TestDateTimeTolerant(t *testing.T) {
	want := time.Date(2026, 11, 23, 21, 22, 37, 0, time.UTC)
	const plain = "07EA0B170115162500000000"
	tests := []struct {
		name string
		hex  string // one encoded Data
		tol  axdr.Tolerance
		loc  *time.Location // zone to assume when the deviation is not specified
	}{
		{"octet-string of 12", "090C" + plain, 0, nil},
		{"date-time tag", "19" + plain, 0, nil},
		{"deviation and status not specified", "090C07EA0B1701151625FF8000FF", 0, time.UTC},
		{"double wrap in a list", "090E090C" + plain, axdr.TolerateWrapped, nil},
		{"date-time inside an octet-string", "090D19" + plain, axdr.TolerateWrapped, nil},
		{"no deviation nor status", "090907EA0B170115162500", axdr.TolerateShort, time.UTC},
		{"no status", "090B07EA0B1701151625000000", axdr.TolerateShort, nil},
		{"structure of date and time", "02021A07EA0B17011B15162500", axdr.TolerateStructure, time.UTC},
		{"structure of octet strings with deviation", "0203090507EA0B1701090415162500100000", axdr.TolerateStructure, nil},
		{"structure with unsigned deviation and status", "0204090507EA0B17010904151625001280001100", axdr.TolerateStructure, time.UTC},
		{"unix time", "06" + hex32(uint32(want.Unix())), axdr.TolerateUnixTime, nil},
		{"wrapped and short", "090B0909" + "07EA0B170115162500", axdr.TolerateWrapped | axdr.TolerateShort, time.UTC},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, n, err := axdr.Decode(mustHex(t, tc.hex))
			if err != nil || n != len(mustHex(t, tc.hex)) {
				t.Fatalf("fixture: %v (%d bytes)", err, n)
			}
			dt, tol, ok := d.DateTimeTolerant()
			if !ok {
				t.Fatalf("%s not read as a date-time", d)
			}
			if tol != tc.tol {
				t.Errorf("tolerated %s, want %s", tol, tc.tol)
			}
			loc := tc.loc
			if loc == nil {
				loc = time.FixedZone("elsewhere", 3600)
			}
			got, err := dt.TimeIn(loc)
			if err != nil || !got.Equal(want) {
				t.Errorf("%s = %v, %v; want %v", dt, got, err, want)
			}
			if _, strict := d.DateTime(); strict != (tc.tol == 0) {
				t.Errorf("strict DateTime ok=%v for tolerance %s", strict, tc.tol)
			}
		})
	}
	for _, h := range []string{
		"0900", "090A07EA0B17011516250000", "0905" + "07EA0B1701", "0A0C" + plain, "1200FF",
		"0201090507EA0B1701", "02020904151625000905 07EA0B1701", "090E0A0C" + plain,
		"0910090E090C" + plain, // three layers: more than any meter does
		"0203090507EA0B17010904151625000A0141",
	} {
		d, _, err := axdr.Decode(mustHex(t, h))
		if err != nil {
			t.Fatalf("fixture %s: %v", h, err)
		}
		if dt, tol, ok := d.DateTimeTolerant(); ok {
			t.Errorf("%s read as date-time %s (%s)", d, dt, tol)
		}
	}
	if s := (axdr.TolerateWrapped | axdr.TolerateShort).String(); s != "wrapped+short" {
		t.Errorf("tolerance string %q", s)
	}
}

func hex32(v uint32) string {
	const digits = "0123456789ABCDEF"
	b := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xF]
		v >>= 4
	}
	return string(b)
}

func FuzzDateTimeTolerant(f *testing.F) {
	for _, h := range []string{
		"090C07EA0B170115162500000000", "1907EA0B170115162500000000", "090E090C07EA0B170115162500000000",
		"090D1907EA0B170115162500000000", "090907EA0B170115162500", "090B07EA0B1701151625000000",
		"02021A07EA0B17011B15162500", "0204090507EA0B17010904151625001280001100", "066A2379C5",
		"090C FFFFFFFFFFFFFFFFFF800000", "0910090E090C07EA0B170115162500000000", "0900",
	} {
		f.Add(mustHex(f, h))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, _, err := axdr.Decode(b)
		if err != nil {
			return
		}
		dt, tol, ok := d.DateTimeTolerant()
		strict, sok := d.DateTime()
		if sok && (!ok || tol != 0 || dt != strict) {
			t.Fatalf("strict %v (%s) but tolerant %v %s %v", strict, d, dt, tol, ok)
		}
		if !ok {
			return
		}
		_ = tol.String()
		_ = dt.String()
		if at, err := dt.TimeIn(time.UTC); err == nil {
			_ = axdr.FromTime(at, dt.Status)
		}
	})
}
