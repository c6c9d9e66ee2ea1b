package c1219

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"
)

func TestST0Vector(t *testing.T) {
	// ST0 of a C12.19-2008 meter as the standard lays it out: little
	// endian, ISO 8859/1, TM_FORMAT 2, offset and index access, INT64 NI
	// formats; device class "AMGO", electric, tables 0,1,3,5,7,8 used,
	// 5 and 7 writable, SP 9 and 10, MP 10.
	b := []byte{
		0x04,               // FORMAT_CONTROL_1: DATA_ORDER 0, CHAR_FORMAT 2
		0x1A,               // FORMAT_CONTROL_2: TM_FORMAT 2, DATA_ACCESS_METHOD 3, ID_FORM 0, INT_FORMAT 0
		0xBB,               // FORMAT_CONTROL_3: NI_FORMAT1 11, NI_FORMAT2 11
		'A', 'M', 'G', 'O', // DEVICE_CLASS
		2, 0, 32, 16, // NAMEPLATE_TYPE, DEFAULT_SET_USED, MAX_PROC_PARM_LENGTH, MAX_RESP_DATA_LEN
		2, 0, // STD_VERSION_NO, STD_REVISION_NO
		2, 0, 2, 2, 0, 0, // DIM_STD_TBLS_USED, DIM_MFG_TBLS_USED, DIM_STD_PROC_USED, DIM_MFG_PROC_USED, DIM_MFG_STATUS_USED, NBR_PENDING
		0xAB, 0x01, // STD_TBLS_USED: 0,1,3,5,7,8
		0x00, 0x06, // STD_PROC_USED: 9,10
		0x00, 0x04, // MFG_PROC_USED: 10
		0xA0, 0x00, // STD_TBLS_WRITE: 5,7
	}
	g, err := DecodeST0(b)
	if err != nil {
		t.Fatal(err)
	}
	if g.Format != DefaultFormat {
		t.Errorf("format %+v, want %+v", g.Format, DefaultFormat)
	}
	if string(g.DeviceClass[:]) != "AMGO" || g.NameplateType != NameplateElectric || g.MaxProcParmLen != 32 {
		t.Errorf("header %+v", g)
	}
	for _, id := range []TableID{ST0, ST1, ST3, ST5, ST7, ST8} {
		if !g.HasTable(id) {
			t.Errorf("%v not used", id)
		}
	}
	if g.HasTable(ST2) || g.HasTable(MT(0)) || !g.Writable(ST7) || g.Writable(ST8) {
		t.Errorf("sets %+v", g)
	}
	if !g.HasProc(SPRemoteReset) || !g.HasProc(SPSetDateTime) || !g.HasProc(MPServiceSwitch) || g.HasProc(SPColdStart) {
		t.Errorf("procedures %v %v", g.StdProcUsed.Elems(), g.MfgProcUsed.Elems())
	}
	if got := g.Encode(); !bytes.Equal(got, b) {
		t.Errorf("re-encoded\n% X\nwant\n% X", got, b)
	}
	if _, err := DecodeST0(b[:len(b)-1]); err == nil {
		t.Error("truncated ST0 decoded")
	}
	var e *Error
	if _, err := DecodeST0(append(b, 0)); !errors.As(err, &e) || e.Table != ST0 {
		t.Errorf("ST0 with a trailing octet: %v", err)
	}
}

func TestST1Vector(t *testing.T) {
	// GENERAL_MFG_ID_TBL: 4 + 8 + 4 + 16 octets.
	b := append([]byte("GE  I210+c  "), 1, 2, 3, 4)
	b = append(b, []byte("0012345678      ")...)
	m, err := DecodeST1(b, DefaultFormat)
	if err != nil {
		t.Fatal(err)
	}
	want := MfgID{Manufacturer: "GE", Model: "I210+c", HWVersion: 1, HWRevision: 2, FWVersion: 3, FWRevision: 4, SerialNo: "0012345678"}
	if m != want {
		t.Errorf("%+v, want %+v", m, want)
	}
	if got := m.Encode(DefaultFormat); !bytes.Equal(got, b) {
		t.Errorf("re-encoded % X", got)
	}
	bcd := DefaultFormat
	bcd.BCDID = true
	enc := m.Encode(bcd)
	if len(enc) != 24 || !bytes.Equal(enc[16:], []byte{0x00, 0x12, 0x34, 0x56, 0x78, 0xFF, 0xFF, 0xFF}) {
		t.Errorf("BCD serial % X", enc)
	}
	back, err := DecodeST1(enc, bcd)
	if err != nil || back != want {
		t.Errorf("BCD round trip %+v %v", back, err)
	}
}

func TestIntegers(t *testing.T) {
	cases := []struct {
		form IntFormat
		v    int64
		n    int
		le   []byte
	}{
		{IntTwos, -2, 2, []byte{0xFE, 0xFF}},
		{IntOnes, -2, 2, []byte{0xFD, 0xFF}},
		{IntSignMagn, -2, 2, []byte{0x02, 0x80}},
		{IntTwos, -1, 3, []byte{0xFF, 0xFF, 0xFF}},
		{IntTwos, math.MinInt64, 8, []byte{0, 0, 0, 0, 0, 0, 0, 0x80}},
		{IntSignMagn, 300, 2, []byte{0x2C, 0x01}},
	}
	for _, c := range cases {
		f := DefaultFormat
		f.Int = c.form
		w := newWriter(f)
		w.int(c.v, c.n)
		if !bytes.Equal(w.b, c.le) {
			t.Errorf("%d in %d octets, format %d: % X, want % X", c.v, c.n, c.form, w.b, c.le)
		}
		if got := newReader(c.le, f, ST23).int(c.n, "x"); got != c.v {
			t.Errorf("% X format %d: %d, want %d", c.le, c.form, got, c.v)
		}
		f.BigEndian = true
		w = newWriter(f)
		w.int(c.v, c.n)
		if w.b[0] != c.le[c.n-1] {
			t.Errorf("big endian % X", w.b)
		}
	}
}

func TestNIFormats(t *testing.T) {
	vals := []float64{0, 1, -1, 123456, -98765, 4200000000}
	for n := NIFormat(0); n <= NIFloatChar21; n++ {
		for _, order := range []bool{false, true} {
			f := DefaultFormat
			f.BigEndian = order
			for _, v := range vals {
				want := v
				switch n {
				case NIFloatChar6:
					if math.Abs(v) >= 1e5 {
						continue
					}
				case NIInt24:
					if math.Abs(v) >= 1<<23 {
						continue
					}
				case NIInt32, NIInt32Milli4:
					if math.Abs(v) >= 1<<31/10000 && n == NIInt32Milli4 || math.Abs(v) >= 1<<31 {
						continue
					}
				case NIFixedBCD4:
					if math.Abs(v) >= 1e7 {
						continue
					}
				}
				p := encodeNI(v, n, f)
				if len(p) != n.Size() {
					t.Fatalf("%v: %d octets, want %d", n, len(p), n.Size())
				}
				got, err := decodeNI(p, n, f)
				if err != nil || got != want {
					t.Errorf("%v big=%v: %v encodes % X, decodes %v (%v)", n, order, v, p, got, err)
				}
			}
		}
	}
	// Known encodings.
	if p := encodeNI(1234.5, NIInt32Milli4, DefaultFormat); !bytes.Equal(p, []byte{0xA8, 0x5E, 0xBC, 0x00}) {
		t.Errorf("INT32 with 4 decimals: % X", p)
	}
	if p := encodeNI(123456, NIFixedBCD4, DefaultFormat); !bytes.Equal(p, []byte{0x00, 0x12, 0x34, 0x56}) {
		t.Errorf("FIXED_BCD4: % X", p)
	}
	if p := encodeNI(-25, NIFixedBCD4, DefaultFormat); !bytes.Equal(p, []byte{0xF0, 0x00, 0x00, 0x25}) {
		t.Errorf("negative FIXED_BCD4: % X", p)
	}
	if p := encodeNI(1.5, NIFloatChar6, DefaultFormat); string(p) != "1.5   " {
		t.Errorf("FLOAT_CHAR6: %q", p)
	}
	if _, err := decodeNI([]byte{0x1A, 0, 0, 0}, NIFixedBCD4, DefaultFormat); err == nil {
		t.Error("a BCD nibble of 0xA decoded")
	}
}

func TestTimes(t *testing.T) {
	at := time.Date(2026, 12, 7, 8, 15, 42, 0, time.UTC)
	want := map[TimeFormat][]byte{
		TimeBCD:    {0x26, 0x12, 0x07, 0x08, 0x15, 0x42},
		TimeUint8:  {26, 12, 7, 8, 15, 42},
		TimeMinute: append(le32(uint32(at.Unix()/60)), 42),
		TimeSecond: le32(uint32(at.Unix())),
	}
	for tf, b := range want {
		f := DefaultFormat
		f.Time = tf
		w := newWriter(f)
		w.ltime(at)
		if !bytes.Equal(w.b, b) {
			t.Errorf("TM_FORMAT %d: LTIME_DATE % X, want % X", tf, w.b, b)
		}
		r := newReader(b, f, ST52)
		if got := r.ltime("x"); !got.Equal(at) || r.err != nil {
			t.Errorf("TM_FORMAT %d: %v %v", tf, got, r.err)
		}
		w = newWriter(f)
		w.stime(at)
		if len(w.b) != f.STimeSize() {
			t.Errorf("TM_FORMAT %d: STIME_DATE %d octets", tf, len(w.b))
		}
		if got := newReader(w.b, f, ST52).stime("x"); !got.Equal(at.Truncate(time.Minute)) && tf != TimeSecond {
			t.Errorf("TM_FORMAT %d: STIME_DATE %v", tf, got)
		}
		w = newWriter(f)
		w.timeOfDay(8*time.Hour + 15*time.Minute)
		if got := newReader(w.b, f, ST28).timeOfDay("x"); got != 8*time.Hour+15*time.Minute {
			t.Errorf("TM_FORMAT %d: TIME %v", tf, got)
		}
	}
	r := newReader([]byte{26, 13, 7, 8, 15, 42}, DefaultFormat, ST52)
	r.ltime("CLOCK_CALENDAR")
	var e *Error
	if !errors.As(r.err, &e) || e.Field != "CLOCK_CALENDAR" {
		t.Errorf("month 13: %v", r.err)
	}
	for _, bad := range [][]byte{{26, 2, 30, 0, 0, 0}, {26, 9, 31, 0, 0, 0}, {126, 1, 1, 0, 0, 0}, {26, 1, 1, 24, 0, 0}, {26, 1, 1, 0, 0, 60}} {
		r := newReader(bad, DefaultFormat, ST52)
		if got := r.ltime("CLOCK_CALENDAR"); r.err == nil {
			t.Errorf("% X decoded as %v", bad, got)
		}
	}
	if got := newReader(make([]byte, 6), DefaultFormat, ST52).ltime("x"); !got.IsZero() {
		t.Errorf("all-zero time %v", got)
	}
	r = newReader([]byte{95, 1, 1, 0, 0, 0}, DefaultFormat, ST52)
	if got := r.ltime("x"); got.Year() != 1995 {
		t.Errorf("year 95 is %d", got.Year())
	}
}

func le32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

func TestStrings(t *testing.T) {
	f := DefaultFormat
	if got := encodeString("Zürich", 8, CharISO8859); !bytes.Equal(got, []byte{'Z', 0xFC, 'r', 'i', 'c', 'h', ' ', ' '}) {
		t.Errorf("Latin 1: % X", got)
	}
	if got := decodeString([]byte{'Z', 0xFC, 'r', 0, 0}, CharISO8859); got != "Zür" {
		t.Errorf("Latin 1 decoded %q", got)
	}
	if got := encodeString("Zürich", 8, CharISO646); string(got) != "Z?rich  " {
		t.Errorf("ISO 646: %q", got)
	}
	if got := encodeString("abcdefghij", 4, CharUTF8); string(got) != "abcd" {
		t.Errorf("cut: %q", got)
	}
	if got := encodeString("aé€", 4, CharUTF8); string(got) != "aé " {
		t.Errorf("UTF-8 rune not split: %q", got)
	}
	f.Char = CharUTF16
	if _, err := DecodeST1(make([]byte, 32), f); err == nil {
		t.Error("UTF-16 accepted")
	}
}

func TestSet(t *testing.T) {
	s := NewSet(3, 0, 9, 23, 24)
	if !bytes.Equal(s, []byte{0x01, 0x02, 0x80}) {
		t.Errorf("% X", s)
	}
	if !s.Has(9) || s.Has(24) || s.Has(-1) {
		t.Error("Has")
	}
	if e := s.Elems(); len(e) != 3 || e[2] != 23 {
		t.Errorf("%v", e)
	}
}

func TestTableID(t *testing.T) {
	cases := map[TableID]string{ST23: "ST23", MT(7): "MT7", ST64 | PendingFlag: "ST64 (pending)", 2047: "ST2047"}
	for id, want := range cases {
		if id.String() != want {
			t.Errorf("%d: %q, want %q", uint16(id), id.String(), want)
		}
	}
	if MT(7) != 0x807 || !MT(7).Mfg() || MT(7).Number() != 7 || ST23.Name() != "CURRENT_REG_DATA_TBL" {
		t.Error("flags")
	}
	if SPRemoteReset.String() != "SP9 (remote reset)" || MPServiceSwitch.String() != "MP10 (service switch)" {
		t.Errorf("%v %v", SPRemoteReset, MPServiceSwitch)
	}
}
