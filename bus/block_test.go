package bus

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

func blockDay(meter string, rt cim.ReadingType, first time.Time, n int) cim.IntervalBlock {
	b := cim.IntervalBlock{MeterID: meter, ReadingType: rt, Readings: make([]cim.IntervalReading, n)}
	for i := range b.Readings {
		b.Readings[i] = cim.IntervalReading{End: first.Add(time.Duration(i) * rt.Interval), Value: int64(i*37%500) - 3}
	}
	return b
}

func equalBlocks(t *testing.T, a, b cim.IntervalBlock) {
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

func TestBlockRoundTrip(t *testing.T) {
	ams, _ := time.LoadLocation("Europe/Amsterdam")
	b := blockDay("AMG10000000002", cim.EnergyImport15m, time.Date(2026, 3, 29, 0, 15, 0, 0, ams), 92)
	b.Readings[5].Quality = cim.QualityPowerDown | cim.QualityClockAdjusted
	b.Readings[7].End = b.Readings[7].End.Add(-3 * time.Second) // a capture off the grid
	b.Readings[9].Value = -1 << 40
	b.Readings = append(b.Readings[:20], b.Readings[24:]...) // a gap
	enc := AppendBlock(nil, b)
	got, err := DecodeBlock(enc)
	if err != nil {
		t.Fatal(err)
	}
	equalBlocks(t, b, got)
	js, _ := json.Marshal(b)
	if len(enc)*8 > len(js) {
		t.Errorf("%d bytes binary against %d of JSON", len(enc), len(js))
	}
	// A register type (no interval) and an empty block survive too.
	reg := cim.IntervalBlock{MeterID: "m", ReadingType: cim.EnergyImportRegister}
	if got, err := DecodeBlock(AppendBlock(nil, reg)); err != nil || got.ReadingType != reg.ReadingType || len(got.Readings) != 0 {
		t.Fatalf("empty block: %+v %v", got, err)
	}
}

func TestBadBlockIsAnError(t *testing.T) {
	good := AppendBlock(nil, blockDay("m1", cim.EnergyImport15m, time.Unix(1_780_000_000, 0), 4))
	for name, b := range map[string][]byte{
		"empty":     nil,
		"json":      []byte(`{"meter":"m1"}`),
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0),
		"huge count": func() []byte {
			x := AppendBlock(nil, cim.IntervalBlock{MeterID: "m1", ReadingType: cim.EnergyImport15m})
			return append(x[:len(x)-1], 0xff, 0xff, 0xff, 0x7f)
		}(),
		"long id": append([]byte{BlockMagic, 0xff, 0x7f}, make([]byte, 20)...),
	} {
		if _, err := DecodeBlock(b); !errors.Is(err, ErrBlockFormat) {
			t.Errorf("%s: %v, want ErrBlockFormat", name, err)
		}
	}
}

func FuzzDecodeBlock(f *testing.F) {
	f.Add(AppendBlock(nil, blockDay("AMG1", cim.EnergyImport15m, time.Unix(1_780_000_000, 0), 96)))
	f.Add(AppendBlock(nil, cim.IntervalBlock{MeterID: "m", ReadingType: cim.EnergyExport15m}))
	f.Add([]byte{BlockMagic})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBlock(data)
		if err != nil {
			if !errors.Is(err, ErrBlockFormat) {
				t.Fatalf("error %v is not ErrBlockFormat", err)
			}
			return
		}
		// What decodes encodes back to something that decodes the same.
		again, err := DecodeBlock(AppendBlock(nil, b))
		if err != nil {
			t.Fatalf("re-encoded block does not decode: %v", err)
		}
		equalBlocks(t, b, again)
	})
}

// BenchmarkDecode compares a day's block with the JSON the bus carried
// before, in the same run.
func BenchmarkDecodeBlock(b *testing.B) {
	blk := blockDay("AMG10000000002", cim.EnergyImport15m, time.Unix(1_780_000_000, 0), 96)
	enc := AppendBlock(nil, blk)
	js, _ := json.Marshal(blk)
	b.Run("binary", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeBlock(enc); err != nil {
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
	entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzDecodeBlock"))
	if err != nil || len(entries) < 3 {
		t.Fatalf("fuzz seeds in testdata/fuzz/FuzzDecodeBlock: %d, %v", len(entries), err)
	}
}
