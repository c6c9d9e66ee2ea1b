package c1219

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// seed is a table from testdata (written by TestWriteSeeds).
func seed(f *testing.F, id TableID) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", "st"+itoa(int(id))+".bin"))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// stable checks that what a decoder accepted encodes to as many octets,
// and that one decode-encode cycle reaches a fixed point (values such as
// FLOAT_CHAR strings may normalise on the first pass, never after).
func stable[T any](t *testing.T, in []byte, v T, enc func(T) []byte, dec func([]byte) (T, error)) {
	t.Helper()
	b1 := enc(v)
	if len(b1) != len(in) {
		t.Fatalf("decoded %d octets, re-encoded %d", len(in), len(b1))
	}
	v2, err := dec(b1)
	if err != nil {
		t.Fatalf("re-encoded table does not decode: %v\n% X", err, b1)
	}
	if b2 := enc(v2); !bytes.Equal(b1, b2) {
		t.Fatalf("not stable:\n% X\n% X", b1, b2)
	}
}

// formatSeeds are the fixture's tables in every round-trip format, so
// the fuzzers start from big endian, BCD times and the other NI formats
// too.
func formatSeeds() []map[TableID][]byte {
	var out []map[TableID][]byte
	for _, fm := range formats() {
		out = append(out, fixture(fm).tables())
	}
	return out
}

func FuzzST0(f *testing.F) {
	f.Add(seed(f, ST0))
	for _, tb := range formatSeeds() {
		f.Add(tb[ST0])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := DecodeST0(b)
		if err != nil {
			return
		}
		stable(t, b, g, func(g GenConfig) []byte { return g.Encode() }, DecodeST0)
		// Only FORMAT_CONTROL_1's filler bit may be lost.
		if e := g.Encode(); !bytes.Equal(e[1:], b[1:]) || e[0] != b[0]&0x7F {
			t.Fatalf("ST0 % X re-encoded % X", b, e)
		}
	})
}

func FuzzST1(f *testing.F) {
	f.Add(seed(f, ST0), seed(f, ST1))
	for _, tb := range formatSeeds() {
		f.Add(tb[ST0], tb[ST1])
	}
	f.Fuzz(func(t *testing.T, st0, b []byte) {
		g, err := DecodeST0(st0)
		if err != nil {
			return
		}
		m, err := DecodeST1(b, g.Format)
		if err != nil {
			return
		}
		stable(t, b, m, func(m MfgID) []byte { return m.Encode(g.Format) }, func(b []byte) (MfgID, error) { return DecodeST1(b, g.Format) })
	})
}

func FuzzST23(f *testing.F) {
	f.Add(seed(f, ST0), seed(f, ST21), seed(f, ST23))
	f.Add(seed(f, ST0), []byte{0x7F, 0, 0, 255, 255, 255, 255, 255, 0, 0}, seed(f, ST23))
	for _, tb := range formatSeeds() {
		f.Add(tb[ST0], tb[ST21], tb[ST23])
	}
	f.Fuzz(func(t *testing.T, st0, st21, b []byte) {
		g, err := DecodeST0(st0)
		if err != nil {
			return
		}
		a, err := DecodeST21(st21, g.Format)
		if err != nil {
			return
		}
		d, err := DecodeST23(b, g.Format, a)
		if err != nil {
			return
		}
		stable(t, b, d, func(d RegisterData) []byte { return d.Encode(g.Format, a) },
			func(b []byte) (RegisterData, error) { return DecodeST23(b, g.Format, a) })
		if ShapeST23(g.Format, a).Len() != len(b) {
			t.Fatalf("shape %d octets, table %d", ShapeST23(g.Format, a).Len(), len(b))
		}
	})
}

func FuzzST7(f *testing.F) {
	f.Add(false, []byte{0x0A, 0x00, 5, 0x03, 26, 12, 7, 9, 30, 0, 0x11})
	f.Add(true, []byte{0x0A, 0x38, 1, 0})
	f.Fuzz(func(t *testing.T, big bool, b []byte) {
		fm := DefaultFormat
		fm.BigEndian = big
		p, err := DecodeST7(b, fm)
		if err == nil && !bytes.Equal(p.Encode(fm), b) {
			t.Fatalf("ST7 % X re-encoded % X", b, p.Encode(fm))
		}
		if err == nil && p.Proc == SPSetDateTime {
			if s, err := DecodeSetDateTime(p.Params, fm); err == nil && !bytes.Equal(s.Encode(fm), p.Params) {
				t.Fatalf("SP10 % X re-encoded % X", p.Params, s.Encode(fm))
			}
		}
		r, err := DecodeST8(b, fm)
		if err == nil && !bytes.Equal(r.Encode(fm), b) {
			t.Fatalf("ST8 % X re-encoded % X", b, r.Encode(fm))
		}
	})
}

func FuzzST64(f *testing.F) {
	f.Add(seed(f, ST0), seed(f, ST61), seed(f, ST62), seed(f, ST64))
	for _, tb := range formatSeeds() {
		f.Add(tb[ST0], tb[ST61], tb[ST62], tb[ST64])
	}
	f.Fuzz(func(t *testing.T, st0, st61, st62, b []byte) {
		g, err := DecodeST0(st0)
		if err != nil {
			return
		}
		a, err := DecodeST61(st61, g.Format, g)
		if err != nil {
			return
		}
		c, err := DecodeST62(st62, g.Format, a)
		if err != nil {
			return
		}
		d, err := DecodeST64(b, g.Format, a, c)
		if err != nil {
			return
		}
		stable(t, b, d, func(d LPData) []byte { return d.Encode(g.Format, a, c, 1) },
			func(b []byte) (LPData, error) { return DecodeST64(b, g.Format, a, c) })
		if ShapeST64(g.Format, a, c, 1).Len() != len(b) {
			t.Fatalf("shape %d octets, table %d", ShapeST64(g.Format, a, c, 1).Len(), len(b))
		}
	})
}

func FuzzST76(f *testing.F) {
	f.Add(seed(f, ST0), seed(f, ST71), seed(f, ST76))
	f.Add(seed(f, ST0), seed(f, ST71), seed(f, ST74))
	for _, tb := range formatSeeds() {
		f.Add(tb[ST0], tb[ST71], tb[ST76])
	}
	f.Fuzz(func(t *testing.T, st0, st71, b []byte) {
		g, err := DecodeST0(st0)
		if err != nil {
			return
		}
		a, err := DecodeST71(st71, g.Format)
		if err != nil {
			return
		}
		if d, err := DecodeST76(b, g.Format, a); err == nil {
			stable(t, b, d, func(d LogData) []byte { return d.EncodeST76(g.Format, a) },
				func(b []byte) (LogData, error) { return DecodeST76(b, g.Format, a) })
			d.Valid()
		}
		if d, err := DecodeST74(b, g.Format, a); err == nil {
			stable(t, b, d, func(d LogData) []byte { return d.EncodeST74(g.Format, a) },
				func(b []byte) (LogData, error) { return DecodeST74(b, g.Format, a) })
			d.Valid()
		}
	})
}

// FuzzTables runs the remaining decoders of the fixture's dimensions over
// arbitrary octets.
func FuzzTables(f *testing.F) {
	for _, id := range []TableID{ST3, ST5, ST12, ST13, ST15, ST16, ST22, ST25, ST26, ST27, ST28, ST51, ST52, ST55, ST63, ST72, ST73} {
		f.Add(uint8(id), seed(f, id))
	}
	m := fixture(DefaultFormat)
	fm := m.f
	f.Fuzz(func(t *testing.T, id uint8, b []byte) {
		switch TableID(id) {
		case ST3:
			if v, err := DecodeST3(b, fm, m.st0); err == nil {
				stable(t, b, v, func(v ModeStatus) []byte { return v.Encode(fm, m.st0) }, func(b []byte) (ModeStatus, error) { return DecodeST3(b, fm, m.st0) })
			}
		case ST5:
			if v, err := DecodeST5(b, fm); err == nil {
				stable(t, b, v, func(v DeviceIdent) []byte { return v.Encode(fm) }, func(b []byte) (DeviceIdent, error) { return DecodeST5(b, fm) })
			}
		case ST12:
			if v, err := DecodeST12(b, fm, m.st11); err == nil {
				stable(t, b, v, func(v []UOM) []byte { return EncodeST12(v, fm, m.st11) }, func(b []byte) ([]UOM, error) { return DecodeST12(b, fm, m.st11) })
			}
		case ST13:
			if v, err := DecodeST13(b, fm, m.st11); err == nil {
				stable(t, b, v, func(v DemandControl) []byte { return v.Encode(fm, m.st11) }, func(b []byte) (DemandControl, error) { return DecodeST13(b, fm, m.st11) })
			}
		case ST15:
			if v, err := DecodeST15(b, fm, m.st11); err == nil {
				stable(t, b, v, func(v []ElecConstants) []byte { return EncodeST15(v, fm, m.st11) }, func(b []byte) ([]ElecConstants, error) { return DecodeST15(b, fm, m.st11) })
			}
		case ST16:
			if v, err := DecodeST16(b, fm, m.st11); err == nil {
				stable(t, b, v, func(v []uint8) []byte { return EncodeST16(v, fm, m.st11) }, func(b []byte) ([]uint8, error) { return DecodeST16(b, fm, m.st11) })
			}
		case ST22:
			if v, err := DecodeST22(b, fm, m.st21); err == nil {
				stable(t, b, v, func(v DataSelection) []byte { return v.Encode(fm, m.st21) }, func(b []byte) (DataSelection, error) { return DecodeST22(b, fm, m.st21) })
			}
		case ST25:
			if v, err := DecodeST25(b, fm, m.st21); err == nil {
				stable(t, b, v, func(v PrevDemandReset) []byte { return v.Encode(fm, m.st21) }, func(b []byte) (PrevDemandReset, error) { return DecodeST25(b, fm, m.st21) })
			}
		case ST26:
			if v, err := DecodeST26(b, fm, m.st21); err == nil {
				stable(t, b, v, func(v SelfReads) []byte { return v.Encode(fm, m.st21) }, func(b []byte) (SelfReads, error) { return DecodeST26(b, fm, m.st21) })
			}
		case ST27:
			if v, err := DecodeST27(b, fm, m.st21); err == nil {
				stable(t, b, v, func(v PresentSelect) []byte { return v.Encode(fm, m.st21) }, func(b []byte) (PresentSelect, error) { return DecodeST27(b, fm, m.st21) })
			}
		case ST28:
			if v, err := DecodeST28(b, fm, m.st21); err == nil {
				stable(t, b, v, func(v PresentData) []byte { return v.Encode(fm, m.st21) }, func(b []byte) (PresentData, error) { return DecodeST28(b, fm, m.st21) })
			}
		case ST51:
			if v, err := DecodeST51(b, fm); err == nil {
				stable(t, b, v, func(v ActTimeTOU) []byte { return v.Encode(fm) }, func(b []byte) (ActTimeTOU, error) { return DecodeST51(b, fm) })
			}
		case ST52:
			if v, err := DecodeST52(b, fm); err == nil {
				stable(t, b, v, func(v Clock) []byte { return v.Encode(fm) }, func(b []byte) (Clock, error) { return DecodeST52(b, fm) })
			}
		case ST55:
			if v, err := DecodeST55(b, fm); err == nil {
				stable(t, b, v, func(v ClockState) []byte { return v.Encode(fm) }, func(b []byte) (ClockState, error) { return DecodeST55(b, fm) })
			}
		case ST63:
			if v, err := DecodeST63(b, fm, m.st61); err == nil {
				stable(t, b, v, func(v []LPSetStatus) []byte { return EncodeST63(v, fm, m.st61) }, func(b []byte) ([]LPSetStatus, error) { return DecodeST63(b, fm, m.st61) })
			}
		case ST72:
			if v, err := DecodeST72(b, fm, m.st71); err == nil {
				stable(t, b, v, func(v EventsID) []byte { return v.Encode(fm, m.st71) }, func(b []byte) (EventsID, error) { return DecodeST72(b, fm, m.st71) })
			}
		case ST73:
			if v, err := DecodeST73(b, fm, m.st0, m.st71); err == nil {
				stable(t, b, v, func(v LogControl) []byte { return v.Encode(fm, m.st0, m.st71) }, func(b []byte) (LogControl, error) { return DecodeST73(b, fm, m.st0, m.st71) })
			}
		}
	})
}

// BenchmarkDecodeST64 decodes a day's worth of 15-minute blocks of four
// channels for 40 days, the largest table a collection reads.
func BenchmarkDecodeST64(b *testing.B) {
	m := fixture(DefaultFormat)
	m.st61.Sets[0].NbrBlocks, m.st61.Sets[0].NbrBlkInts = 40, 96
	blk := m.st64.Blocks[0]
	for len(blk.Intervals) < 96 {
		blk.Intervals = append(blk.Intervals, blk.Intervals[0])
	}
	blk.Simple = NewSet(12)
	d := LPData{Blocks: make([]LPBlock, 40)}
	for i := range d.Blocks {
		d.Blocks[i] = blk
	}
	tb := d.Encode(m.f, m.st61, m.st62, 1)
	b.SetBytes(int64(len(tb)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeST64(tb, m.f, m.st61, m.st62); err != nil {
			b.Fatal(err)
		}
	}
}
