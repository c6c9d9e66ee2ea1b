package sqldb

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

func dayOfReads() []regEntry {
	var es []regEntry
	for h := range 2 {
		for _, t := range []string{"A+", "A+T1", "A+T2", "A-", "A-T1", "A-T2", "P+max"} {
			es = append(es, regEntry{typ: t, off: int64(h) * int64(23*time.Hour/time.Microsecond), value: 123456789 + int64(len(t)), quality: cim.Quality(h)})
		}
	}
	return es
}

func TestRegisterDayRoundTrip(t *testing.T) {
	es := dayOfReads()
	merged, added := mergeRegEntries(nil, es)
	if added != len(es) {
		t.Fatalf("%d added of %d", added, len(es))
	}
	if again, n := mergeRegEntries(merged, es); n != 0 || len(again) != len(merged) {
		t.Fatalf("merging the same reads again added %d", n)
	}
	b := encodeRegisterDay(merged)
	got, err := decodeRegisterDay(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(merged) {
		t.Fatalf("%d decoded of %d", len(got), len(merged))
	}
	for i := range got {
		if got[i] != merged[i] {
			t.Fatalf("entry %d: %+v, want %+v", i, got[i], merged[i])
		}
	}
	for _, bad := range [][]byte{nil, {2}, b[:len(b)-1], append(bytes.Clone(b), 0)} {
		if _, err := decodeRegisterDay(nil, bad); !errors.Is(err, errRegisterDay) {
			t.Errorf("% x: %v, want a malformed blob", bad, err)
		}
	}
}

func TestRegisterDayOf(t *testing.T) {
	for _, c := range []struct{ us, day int64 }{{0, 0}, {dayMicros - 1, 0}, {dayMicros, 1}, {-1, -1}, {-dayMicros, -1}, {-dayMicros - 1, -2}} {
		if d := registerDayOf(c.us); d != c.day {
			t.Errorf("day of %d µs: %d, want %d", c.us, d, c.day)
		}
	}
}

// FuzzRegisterDay: any blob decodes or is refused, never a panic, and
// what decodes encodes back to a blob that decodes the same.
func FuzzRegisterDay(f *testing.F) {
	f.Add(encodeRegisterDay(dayOfReads()))
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := decodeRegisterDay(nil, b)
		if err != nil {
			return
		}
		again, err := decodeRegisterDay(nil, encodeRegisterDay(es))
		if err != nil || len(again) != len(es) {
			t.Fatalf("re-encoded: %d entries of %d, %v", len(again), len(es), err)
		}
		for i := range es {
			if again[i] != es[i] {
				t.Fatalf("entry %d: %+v, want %+v", i, again[i], es[i])
			}
		}
	})
}

func BenchmarkRegisterDayDecode(b *testing.B) {
	blob := encodeRegisterDay(dayOfReads())
	var es []regEntry
	for b.Loop() {
		es, _ = decodeRegisterDay(es[:0], blob)
	}
}
