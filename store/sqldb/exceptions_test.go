package sqldb

import (
	"slices"
	"testing"

	"github.com/amigo-ami/amigo/store"
)

// FuzzIndexes: a stored list of intervals either decodes into ascending
// indexes that encode back to the same list, or is refused; it never
// panics nor expands without bound.
func FuzzIndexes(f *testing.F) {
	for _, s := range []string{"", "3", "2,4-7", "0-95", "10-13,40,90-91", "5-3", "-1", "1-", "x", "0-9999999999", "1,,2"} {
		f.Add(s, 4)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		ix, _, err := decodeIndexes(s, max(n, 0), -1)
		if err != nil {
			return
		}
		if len(ix) > maxIndexes {
			t.Fatalf("%q expanded to %d indexes", s, len(ix))
		}
		if !slices.IsSorted(ix) {
			return // "5,3": stored by no writer, read as written
		}
		enc, _ := encodeIndexes(store.Exception{Interval: -1, Indexes: ix})
		again, _, err := decodeIndexes(enc, len(ix), -1)
		if err != nil || !slices.Equal(again, ix) {
			t.Fatalf("%q → %v → %q → %v %v", s, ix, enc, again, err)
		}
	})
}

func TestIndexesRoundTrip(t *testing.T) {
	for _, ix := range [][]int{nil, {0}, {3, 4, 5, 6, 40}, {0, 2, 4}, {95}} {
		enc, n := encodeIndexes(store.Exception{Interval: -1, Indexes: ix})
		got, m, err := decodeIndexes(enc, n, -1)
		if err != nil || !slices.Equal(got, ix) || m != len(ix) {
			t.Errorf("%v → %q → %v (%d) %v", ix, enc, got, m, err)
		}
	}
	// A row from before exceptions covered several intervals.
	if got, n, err := decodeIndexes("", -1, 17); err != nil || n != 1 || !slices.Equal(got, []int{17}) {
		t.Errorf("legacy row: %v %d %v", got, n, err)
	}
}
