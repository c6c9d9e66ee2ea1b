package mbus

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"
)

// The variable data response of EN 13757-3's worked example (also in the
// M-Bus documentation): a water meter with a volume, a maximum flow in
// storage 5, and an energy of tariff 2 on subunit 1.
func TestDecodeStandardExample(t *testing.T) {
	raw, err := os.ReadFile("testdata/rsp_ud_example.bin")
	if err != nil {
		t.Fatal(err)
	}
	f, n, err := DecodeFrame(raw)
	if err != nil || n != len(raw) {
		t.Fatalf("DecodeFrame: %v (%d of %d bytes)", err, n, len(raw))
	}
	if f.Kind != FrameLong || f.C != CRspUD || f.A != 2 || f.CI != CIResponseLong {
		t.Fatalf("frame %+v", f)
	}
	h, err := DecodeLongHeader(f.Data)
	if err != nil {
		t.Fatal(err)
	}
	want := Header{ID: 12345678, Manufacturer: "PAD", Version: 1, Medium: MediumWater, Access: 0x55}
	if h != want {
		t.Fatalf("header %+v, want %+v", h, want)
	}
	rs, err := DecodeRecords(f.Data[LongHeaderLen:])
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d records", len(rs))
	}
	check := func(r Record, q Quantity, fn Function, st uint64, tf, su uint32, v float64, unit string) {
		t.Helper()
		got, ok := r.Float()
		if r.Quantity != q || r.Function != fn || r.Storage != st || r.Tariff != tf || r.Subunit != su || !ok || !near(got, v) || r.Unit != unit {
			t.Errorf("record %+v (value %g), want %s %s storage %d tariff %d subunit %d %g %s", r, got, q, fn, st, tf, su, v, unit)
		}
	}
	check(rs[0], Volume, Instantaneous, 0, 0, 0, 12.565, "m³")
	check(rs[1], VolumeFlow, Maximum, 5, 0, 0, 0.113, "m³/h")
	check(rs[2], Energy, Instantaneous, 0, 2, 1, 218370, "Wh")

	// Encoding the decoded records gives the same bytes back.
	enc, err := EncodeRecords(rs)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, f.Data[LongHeaderLen:]) {
		t.Fatalf("encoded % X\nwant    % X", enc, f.Data[LongHeaderLen:])
	}
	hb, err := h.AppendLong(nil)
	if err != nil || !bytes.Equal(hb, f.Data[:LongHeaderLen]) {
		t.Fatalf("header encoded % X, %v", hb, err)
	}
	back, err := Frame{Kind: FrameLong, C: CRspUD, A: 2, CI: CIResponseLong, Data: append(hb, enc...)}.Append(nil)
	if err != nil || !bytes.Equal(back, raw) {
		t.Fatalf("frame encoded % X, %v", back, err)
	}
}

func near(a, b float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= 1e-9*(1+abs(b))
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func TestRecordRoundTrip(t *testing.T) {
	day := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	at := time.Date(2026, 12, 7, 4, 45, 0, 0, time.UTC)
	rs := []Record{
		{Coding: Int32, Quantity: Volume, Exponent: -3, Value: Value{Kind: KindInt, Int: 123456}},
		{Coding: BCD8, Quantity: Volume, Exponent: -3, Storage: 1, Value: Value{Kind: KindInt, Int: 120001}},
		{Coding: Int16, Quantity: Date, Storage: 1, Value: Value{Kind: KindTime, Time: day}},
		{Coding: Int32, Quantity: DateTime, Value: Value{Kind: KindTime, Time: at, Summer: true}},
		{Coding: Int48, Quantity: DateTime, Value: Value{Kind: KindTime, Time: at.Add(17 * time.Second)}},
		{Coding: Int24, Quantity: DateTime, Value: Value{Kind: KindTime, Time: time.Date(0, 1, 1, 4, 45, 17, 0, time.UTC)}},
		{Coding: Real32, Quantity: VolumeFlow, Exponent: -3, Value: Value{Kind: KindReal, Real: 1.5}},
		{Coding: Int16, Quantity: FlowTemperature, Exponent: -1, Value: Value{Kind: KindInt, Int: -52}},
		{Coding: BCD4, Quantity: ReturnTemperature, Exponent: -1, Value: Value{Kind: KindInt, Int: -123}},
		{Coding: Int64, Quantity: Energy, Exponent: 0, Tariff: 3, Subunit: 1, Storage: 1234, Value: Value{Kind: KindInt, Int: -1}},
		{Coding: Int8, Quantity: ErrorFlags, Value: Value{Kind: KindInt, Int: 4}},
		{Coding: Variable, VIB: []byte{0x78}, Quantity: FabricationNumber, Value: Value{Kind: KindText, Text: "AB-12"}},
		{Coding: Variable, VIB: []byte{0xFD, 0x0E}, Quantity: FirmwareVersion, Value: Value{Kind: KindBytes, Bytes: []byte{1, 2, 3}, Int: 0x030201}},
		{Coding: BCD12, Function: Minimum, Quantity: Mass, Exponent: 2, Value: Value{Kind: KindInt, Int: 999999999999}},
		{DIF: DIFMoreRecords, Coding: Special, Quantity: Manufacturer, Value: Value{Kind: KindBytes, Bytes: []byte{9, 8}}},
	}
	b, err := EncodeRecords(rs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRecords(b)
	if err != nil {
		t.Fatalf("% X: %v", b, err)
	}
	if len(got) != len(rs) {
		t.Fatalf("%d records, want %d", len(got), len(rs))
	}
	for k, w := range rs {
		g := got[k]
		if g.Quantity != w.Quantity || g.Exponent != w.Exponent || g.Storage != w.Storage || g.Tariff != w.Tariff ||
			g.Subunit != w.Subunit || g.Function != w.Function || g.Coding != w.Coding || g.Value.Kind != w.Value.Kind ||
			g.Value.Int != w.Value.Int || g.Value.Real != w.Value.Real || !g.Value.Time.Equal(w.Value.Time) ||
			g.Value.Text != w.Value.Text || !bytes.Equal(g.Value.Bytes, w.Value.Bytes) || g.Value.Summer != w.Value.Summer {
			t.Errorf("record %d: got %+v\nwant %+v", k, g, w)
		}
	}
	if !got[len(got)-1].MoreFollows() {
		t.Error("DIF 0x1F record does not say more follows")
	}
}

func TestVIFExtensions(t *testing.T) {
	// Energy in MWh·10^-1 (FB 00), volts (FD 48 is 10^-1 V), a volume per
	// hour with a multiplicative correction of 10^-1 (VIFE 0x75), a plain
	// text unit.
	b := []byte{
		0x04, 0xFB, 0x00, 0x10, 0x00, 0x00, 0x00,
		0x02, 0xFD, 0x48, 0xE6, 0x08,
		0x04, 0x93, 0xA2, 0x75, 0x01, 0x00, 0x00, 0x00,
		0x01, 0x7C, 0x03, 'h', 'c', 'p', 0x05,
	}
	rs, err := DecodeRecords(b)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Quantity != Energy || rs[0].Unit != "Wh" || rs[0].Exponent != 5 || rs[0].Value.Int != 16 {
		t.Errorf("FB energy %+v", rs[0])
	}
	if rs[1].Quantity != Voltage || rs[1].Exponent != -1 || rs[1].Value.Int != 2278 {
		t.Errorf("FD voltage %+v", rs[1])
	}
	if rs[2].Quantity != Volume || rs[2].Exponent != -4 || len(rs[2].Extensions) != 2 || rs[2].Extensions[0] != "per hour" {
		t.Errorf("combinable %+v", rs[2])
	}
	if rs[3].Quantity != PlainTextUnit || rs[3].Unit != "pch" || rs[3].Value.Int != 5 {
		t.Errorf("plain text %+v", rs[3])
	}
}

func TestBadRecords(t *testing.T) {
	for name, b := range map[string][]byte{
		"truncated data":   {0x04, 0x13, 0x01, 0x02},
		"no VIF":           {0x04},
		"no DIFE":          {0x84},
		"bad BCD":          {0x0C, 0x13, 0x1A, 0x00, 0x00, 0x00},
		"special mid":      {0x3F, 0x13},
		"many DIFEs":       {0x84, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x13, 0, 0, 0, 0},
		"bad date":         {0x02, 0x6C, 0x3F, 0x0D}, // month 13
		"LVAR reserved":    {0x0D, 0x13, 0xFA},
		"VIFE missing":     {0x04, 0x93},
		"text over length": {0x0D, 0x78, 0x05, 'a'},
	} {
		if _, err := DecodeRecords(b); !errors.Is(err, ErrRecord) {
			t.Errorf("%s: err %v, want ErrRecord", name, err)
		}
	}
}

func TestSecondaryText(t *testing.T) {
	a := Secondary{ID: 30000001, Manufacturer: "AMG", Version: 1, Medium: MediumGas}
	// The manufacturer's bytes as sent: 0x05A7 goes A7 05.
	if s := a.String(); s != "30000001A7050103" {
		t.Fatalf("String %s", s)
	}
	m, err := ParseSecondary(a.String())
	if err != nil || m != Exact(a) || !m.Matches(a) || m.String() != a.String() {
		t.Fatalf("ParseSecondary %v %v", m, err)
	}
	w, _ := ParseSecondary("3000FFFF")
	if !w.Matches(a) || w.String() != "3000FFFFFFFFFFFF" {
		t.Fatalf("wildcard %s", w)
	}
	if _, err := ParseSecondary("3000000X"); err == nil {
		t.Fatal("bad digit accepted")
	}
}

// Real meters write FF FF for a due date they were never given; the
// records after it must still be read.
func TestUnsetDateIsInvalidNotAnError(t *testing.T) {
	b := []byte{
		0x42, 0x6C, 0xFF, 0xFF, // storage 1 date (type G), unset
		0x04, 0x13, 0x10, 0x27, 0x00, 0x00, // volume 10000 l
	}
	rs, err := DecodeRecords(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || !rs[0].Value.Invalid || !rs[0].Value.Time.IsZero() {
		t.Fatalf("unset date read as %+v", rs)
	}
	if rs[1].Value.Int != 10000 {
		t.Errorf("the record after it: %+v", rs[1])
	}
}
