package intervalcodec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

func day(meter string, rt cim.ReadingType, first time.Time, n int) cim.IntervalBlock {
	b := cim.IntervalBlock{MeterID: meter, ReadingType: rt, Readings: make([]cim.IntervalReading, n)}
	for i := range b.Readings {
		b.Readings[i] = cim.IntervalReading{End: first.Add(time.Duration(i) * rt.Interval), Value: int64(i*37%500) - 3}
	}
	return b
}

func equal(t *testing.T, a, b cim.IntervalBlock) {
	t.Helper()
	if a.MeterID != b.MeterID || a.ReadingType != b.ReadingType || len(a.Readings) != len(b.Readings) {
		t.Fatalf("block %+v\nwant %+v", b.MeterID, a.MeterID)
	}
	for i := range a.Readings {
		x, y := a.Readings[i], b.Readings[i]
		if !x.End.Equal(y.End) || x.Value != y.Value || x.Quality != y.Quality {
			t.Fatalf("reading %d: %+v, want %+v", i, y, x)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	b := day("AMG10000000002", cim.EnergyImport15m, time.Date(2026, 3, 29, 0, 15, 0, 0, ams), 92)
	b.Readings[5].Quality = cim.QualityPowerDown | cim.QualityClockAdjusted
	b.Readings[7].End = b.Readings[7].End.Add(-3 * time.Second) // a capture off the grid
	b.Readings[9].Value = -1 << 40
	b.Readings = append(b.Readings[:20], b.Readings[24:]...) // a gap
	enc := Append(nil, b)
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, b, got)
	js, _ := json.Marshal(b)
	if len(enc)*8 > len(js) {
		t.Errorf("%d bytes binary against %d of JSON", len(enc), len(js))
	}
	// A register type (no interval) and an empty block survive too.
	reg := cim.IntervalBlock{MeterID: "m", ReadingType: cim.EnergyImportRegister}
	if got, err := Decode(Append(nil, reg)); err != nil || got.ReadingType != reg.ReadingType || len(got.Readings) != 0 {
		t.Fatalf("empty block: %+v %v", got, err)
	}
}

func TestBadInputIsAnError(t *testing.T) {
	good := Append(nil, day("m1", cim.EnergyImport15m, time.Unix(1_780_000_000, 0), 4))
	for name, b := range map[string][]byte{
		"empty":     nil,
		"json":      []byte(`{"meter":"m1"}`),
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0),
		"huge count": func() []byte {
			x := Append(nil, cim.IntervalBlock{MeterID: "m1", ReadingType: cim.EnergyImport15m})
			return append(x[:len(x)-1], 0xff, 0xff, 0xff, 0x7f)
		}(),
		"long id": append([]byte{Magic, 0xff, 0x7f}, make([]byte, 20)...),
	} {
		if _, err := Decode(b); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Append(nil, day("AMG1", cim.EnergyImport15m, time.Unix(1_780_000_000, 0), 96)))
	f.Add(Append(nil, cim.IntervalBlock{MeterID: "m", ReadingType: cim.EnergyExport15m}))
	f.Add([]byte{Magic})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v is not ErrFormat", err)
			}
			return
		}
		// What decodes encodes back to something that decodes the same.
		again, err := Decode(Append(nil, b))
		if err != nil {
			t.Fatalf("re-encoded block does not decode: %v", err)
		}
		equal(t, b, again)
	})
}

// BenchmarkDecode compares a day's block with the JSON the bus carried
// before, in the same run.
func BenchmarkDecode(b *testing.B) {
	blk := day("AMG10000000002", cim.EnergyImport15m, time.Unix(1_780_000_000, 0), 96)
	enc := Append(nil, blk)
	js, _ := json.Marshal(blk)
	b.Run("binary", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		b.ReportAllocs()
		for b.Loop() {
			var x cim.IntervalBlock
			if err := json.Unmarshal(js, &x); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSeedsAreInTestdata keeps the fuzz seeds on disk, so the corpus a
// regression adds is kept with them.
func TestSeedsAreInTestdata(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzDecode"))
	if err != nil || len(entries) < 3 {
		t.Fatalf("fuzz seeds in testdata/fuzz/FuzzDecode: %d, %v", len(entries), err)
	}
}
