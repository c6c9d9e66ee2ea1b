package dsmr

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCRC16CheckValue(t *testing.T) {
	// CRC-16/ARC's catalogue check value.
	if got := CRC16([]byte("123456789")); got != 0xBB3D {
		t.Fatalf("CRC16(123456789) = %04X, want BB3D", got)
	}
}

func wantNumber(t *testing.T, tg *Telegram, c string, digits int64, exp int) {
	t.Helper()
	d, ok := tg.Number(MustCode(c))
	if !ok || d.Scaled(exp) != digits {
		t.Errorf("%s = %v (ok %v), want %d×10^%d", c, d, ok, digits, exp)
	}
}

// The DSMR 5.0.2 P1 companion standard's example (its section 6.12). Its
// printed CRC, EF2F, is not the CRC-16 of the bytes printed above it; the
// values are what the example gives.
func TestSpecExampleDSMR50(t *testing.T) {
	tg, err := Parse(read(t, "dsmr50-spec.txt"))
	if !errors.Is(err, ErrCRC) || tg == nil || tg.CRC != 0xEF2F {
		t.Fatalf("Parse: %v, want the example's own CRC EF2F reported as a mismatch", err)
	}
	if tg.Version != V50 || tg.Header != `ISk5\2MT382-1000` || len(tg.Unparsed) != 0 {
		t.Fatalf("version %v header %q unparsed %v", tg.Version, tg.Header, tg.Unparsed)
	}
	at, _ := tg.Time()
	if !at.Equal(time.Date(2010, 12, 9, 11, 30, 20, 0, time.FixedZone("", 3600))) {
		t.Errorf("time %v", at)
	}
	if id, _ := tg.Text(MustCode("0-0:96.1.1")); id != "K8EG004046395507" {
		t.Errorf("equipment id %q", id)
	}
	for _, c := range []string{"1-0:1.8.1", "1-0:1.8.2", "1-0:2.8.1", "1-0:2.8.2"} {
		wantNumber(t, tg, c, 123456789, -3)
	}
	wantNumber(t, tg, "1-0:1.7.0", 1193, -3)
	wantNumber(t, tg, "1-0:32.7.0", 2201, -1)
	wantNumber(t, tg, "1-0:72.7.0", 2203, -1)
	wantNumber(t, tg, "1-0:71.7.0", 3, 0)
	wantNumber(t, tg, "1-0:62.7.0", 6666, -3)
	wantNumber(t, tg, "0-0:96.7.21", 4, 0)
	wantNumber(t, tg, "0-0:96.7.9", 2, 0)
	wantNumber(t, tg, "1-0:52.36.0", 3, 0)
	if s, _ := tg.Text(MustCode("0-0:96.14.0")); s != "0002" {
		t.Errorf("tariff %q", s)
	}
	msg, _ := tg.Text(MustCode("0-0:96.13.0"))
	if msg != strings.Repeat("0123456789:;<=>?", 5) {
		t.Errorf("message %q", msg)
	}
	pf := tg.PowerFailures()
	w := time.FixedZone("", 3600)
	want := []PowerFailure{{time.Date(2010, 12, 8, 15, 24, 15, 0, w), 240 * time.Second}, {time.Date(2010, 12, 8, 15, 10, 4, 0, w), 301 * time.Second}}
	if len(pf) != 2 || !pf[0].End.Equal(want[0].End) || pf[0].Duration != want[0].Duration || !pf[1].End.Equal(want[1].End) || pf[1].Duration != want[1].Duration {
		t.Errorf("failure log %v, want %v", pf, want)
	}
	mb := tg.MBus()
	if len(mb) != 1 || mb[0].Channel != 1 || mb[0].Type != 3 || mb[0].ID != "2222ABCD123456789" || mb[0].Value.Scaled(-3) != 12785123 || mb[0].Unit != "m3" ||
		!mb[0].At.Equal(time.Date(2010, 12, 9, 11, 25, 0, 0, w)) {
		t.Errorf("M-Bus %+v", mb)
	}
}

// DSMR 4.2.2's example: as 5.0.2's without voltages, with message codes,
// an hourly gas value and the valve.
func TestSpecExampleDSMR42(t *testing.T) {
	tg, err := Parse(read(t, "dsmr42-spec.txt"))
	if tg == nil || (err != nil && !errors.Is(err, ErrCRC)) {
		t.Fatal(err)
	}
	if tg.Version != V42 || len(tg.Unparsed) != 0 {
		t.Fatalf("version %v unparsed %v", tg.Version, tg.Unparsed)
	}
	wantNumber(t, tg, "1-0:2.8.2", 123456789, -3)
	if c, _ := tg.Text(MustCode("0-0:96.13.1")); c != "01 61 81" {
		t.Errorf("message codes %q", c)
	}
	mb := tg.MBus()
	if len(mb) != 1 || mb[0].Valve != "1" || mb[0].Value.Scaled(-3) != 12785123 || mb[0].At.Minute() != 0 {
		t.Errorf("M-Bus %+v", mb)
	}
}

// DSMR 3.0's example: no CRC, and the gas reading on the line after
// 0-1:24.3.0.
func TestSpecExampleDSMR30(t *testing.T) {
	tg, err := Parse(read(t, "dsmr30-spec.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if tg.Version != V3 || tg.HasCRC || len(tg.Unparsed) != 0 {
		t.Fatalf("version %v crc %v unparsed %v", tg.Version, tg.HasCRC, tg.Unparsed)
	}
	wantNumber(t, tg, "1-0:1.8.1", 1001, -3)
	wantNumber(t, tg, "1-0:1.7.0", 101, -2)
	wantNumber(t, tg, "0-0:17.0.0", 99900, -2)
	mb := tg.MBus()
	if len(mb) != 1 || mb[0].Type != 3 || !mb[0].HasRead || mb[0].Value.Scaled(-3) != 1001 || mb[0].Unit != "m3" ||
		!mb[0].At.Equal(time.Date(2016, 11, 7, 19, 0, 0, 0, time.FixedZone("", 3600))) {
		t.Errorf("M-Bus %+v", mb)
	}
}

// e-MUCS H 1.7.1's example (Fluvius): version 50217, capacity tariff
// peaks, gas on 0-1:24.2.3 and water on channel 2. Its CRC, 3AD7, is good.
func TestSpecExampleEMUCS(t *testing.T) {
	tg, err := Parse(read(t, "emucs-spec.txt"))
	if err != nil || tg.CRC != 0x3AD7 {
		t.Fatal(err)
	}
	if id, _ := tg.Text(MustCode("0-0:96.1.1")); id != "1SAG3101021605" {
		t.Errorf("equipment id %q", id)
	}
	if tg.Version != EMUCS || len(tg.Unparsed) != 0 {
		t.Fatalf("version %v unparsed %v", tg.Version, tg.Unparsed)
	}
	wantNumber(t, tg, "1-0:1.8.2", 15758, -3)
	wantNumber(t, tg, "1-0:1.4.0", 2351, -3)
	wantNumber(t, tg, "1-0:31.7.0", 0, -2)
	l, _ := tg.Line(MustCode("0-0:98.1.0"))
	peaks, err := l.Peaks()
	if err != nil || len(peaks) != 3 || peaks[1].Value.Scaled(-3) != 5980 || peaks[1].At.Day() != 5 {
		t.Errorf("peaks %+v %v", peaks, err)
	}
	l, _ = tg.Line(MustCode("1-0:1.6.0"))
	if _, v, unit, err := l.Timed(); err != nil || v.Scaled(-3) != 2589 || unit != "kW" {
		t.Errorf("month peak %v %s %v", v, unit, err)
	}
	mb := tg.MBus()
	if len(mb) != 2 || mb[0].ID != "7FLO2119033733" || mb[0].Type != 3 || mb[0].Value.Scaled(-3) != 112384 ||
		mb[1].Type != 7 || mb[1].ID != "8SAG1234567890" || mb[1].Value.Scaled(-3) != 872234 || mb[1].At.Hour() != 13 {
		t.Errorf("M-Bus %+v", mb)
	}
}

func sample(v Version) Reading {
	at := time.Date(2026, 7, 1, 10, 15, 0, 0, time.UTC)
	return Reading{Version: v, Time: at, EquipmentID: "E0012345678901234", ImportWh: [2]int64{1234567, 89}, ExportWh: [2]int64{0, 4321},
		Tariff: 2, ImportW: 1193, ExportW: 0, Phases: 3, VoltageDV: [3]int32{2301, 2299, 2340}, CurrentA: [3]int64{5, 0, 12},
		PhaseImportW: [3]int64{1000, 0, 193}, Failures: 4, LongFailures: 1,
		FailureLog: []PowerFailure{{End: at.Add(-48 * time.Hour), Duration: 301 * time.Second}},
		Message:    "hello", Breaker: 1,
		MBus: []MBusReading{{Type: 3, ID: "G0012345678901234", At: at.Truncate(time.Hour), Litres: 12785123}}}
}

func TestBuildParseEveryVersion(t *testing.T) {
	for _, v := range []Version{V3, V40, V42, V50, EMUCS} {
		t.Run(v.String(), func(t *testing.T) {
			r := sample(v)
			b := Build(r).Encode()
			tg, err := Parse(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if tg.Version != v || tg.HasCRC != v.HasCRC() || len(tg.Unparsed) != 0 {
				t.Fatalf("version %v crc %v unparsed %v", tg.Version, tg.HasCRC, tg.Unparsed)
			}
			wantNumber(t, tg, "1-0:1.8.1", 1234567, -3)
			wantNumber(t, tg, "1-0:2.8.2", 4321, -3)
			if v == V3 {
				wantNumber(t, tg, "1-0:1.7.0", 119, -2)
			} else {
				wantNumber(t, tg, "1-0:1.7.0", 1193, -3)
				wantNumber(t, tg, "1-0:71.7.0", 12, 0)
				if at, _ := tg.Time(); !at.Equal(r.Time) {
					t.Errorf("time %v, want %v", at, r.Time)
				}
			}
			if v == V50 || v == EMUCS {
				wantNumber(t, tg, "1-0:52.7.0", 2299, -1)
			}
			if v >= V40 && v <= V50 {
				pf := tg.PowerFailures()
				if len(pf) != 1 || !pf[0].End.Equal(r.FailureLog[0].End) || pf[0].Duration != 301*time.Second {
					t.Errorf("failures %v", pf)
				}
			}
			if id, _ := tg.Text(MustCode("0-0:96.1.1")); id != r.EquipmentID {
				t.Errorf("id %q", id)
			}
			mb := tg.MBus()
			// DSMR 2.2/3.0's gas timestamp has no DST flag: its wall
			// clock is what survives.
			sameTime := mb[0].At.Equal(r.MBus[0].At) || v == V3 && FormatTime(r.MBus[0].At)[:12] == mb[0].At.Format("060102150405")
			if len(mb) != 1 || mb[0].ID != "G0012345678901234" || mb[0].Value.Scaled(-3) != 12785123 || !sameTime {
				t.Errorf("M-Bus %+v", mb)
			}
			// Encoding the parsed telegram gives the same bytes.
			if again := tg.Encode(); !bytes.Equal(again, b) {
				t.Errorf("re-encoded differs:\n%s\n%s", again, b)
			}
		})
	}
}

func TestFormatTimeDST(t *testing.T) {
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 3, 29, 0, 59, 59, 0, time.UTC), "260329015959W"},
		{time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), "260329030000S"},
		{time.Date(2026, 10, 25, 0, 59, 59, 0, time.UTC), "261025025959S"},
		{time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC), "261025020000W"},
	} {
		if got := FormatTime(c.at); got != c.want {
			t.Errorf("FormatTime(%v) = %s, want %s", c.at, got, c.want)
		}
		if back, err := ParseTime(c.want); err != nil || !back.Equal(c.at) {
			t.Errorf("ParseTime(%s) = %v %v", c.want, back, err)
		}
	}
}

func TestBadLinesKept(t *testing.T) {
	b := Build(sample(V50))
	b.Lines = append(b.Lines[:3], append([]Line{{Code: MustCode("1-0:1.8.1"), Values: []Value{{Text: "12x.5", Unit: "kWh"}}}}, b.Lines[3:]...)...)
	raw := b.Encode()
	raw = bytes.Replace(raw, []byte("0-0:96.14.0"), []byte("zz garbage )("), 1)
	// Fix the CRC so that only the lines are wrong.
	i := bytes.LastIndexByte(raw, '!')
	raw = append(raw[:i+1], []byte(strings.ToUpper(hex.EncodeToString([]byte{byte(CRC16(raw[:i+1]) >> 8), byte(CRC16(raw[:i+1]))})))...)
	tg, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(tg.Unparsed) != 2 || tg.Unparsed[0].N != 11 || tg.Unparsed[1].N != 6 || !strings.Contains(tg.Unparsed[1].Err, "1-0:1.8.1") {
		t.Fatalf("unparsed %+v, want the garbage line and the bad number (line 6)", tg.Unparsed)
	}
	wantNumber(t, tg, "1-0:1.8.2", 89, -3)
}

func TestEncryptDecrypt(t *testing.T) {
	key, _ := hex.DecodeString("000102030405060708090A0B0C0D0E0F")
	plain := Build(sample(V50)).Encode()
	f := Frame{SystemTitle: [8]byte{'S', 'A', 'G', 0x05, 0, 0, 0, 1}, Counter: 0x2A}
	enc, err := Encrypt(f, plain, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if enc[0] != 0xDB || enc[1] != 8 || enc[10] != 0x82 || enc[13] != 0x30 || len(enc) != 18+len(plain)+12 {
		t.Fatalf("frame layout % X", enc[:18])
	}
	got, back, err := Decrypt(enc, key, nil)
	if err != nil || got != f || !bytes.Equal(back, plain) {
		t.Fatalf("Decrypt: %v %+v", err, got)
	}
	enc[len(enc)-1] ^= 1
	if _, _, err := Decrypt(enc, key, nil); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a spoiled tag: %v, want ErrDecrypt", err)
	}
	other := DefaultAK
	other[0] = 1
	enc[len(enc)-1] ^= 1
	if _, _, err := Decrypt(enc, key, other[:]); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("another AK: %v, want ErrDecrypt", err)
	}
}

// A P1 stream with every kind of trouble: the good telegrams come through,
// each bad piece is one counted error, and the stream goes on.
func TestReaderKeepsGoing(t *testing.T) {
	good := Build(sample(V50)).Encode()
	bad := bytes.Replace(good, []byte("1-0:1.8.1(001234.567"), []byte("1-0:1.8.1(001234.568"), 1)
	cut := good[:len(good)/2]
	var s bytes.Buffer
	s.Write(good)
	s.WriteString("\x00\x00noise from a loose connector, 1/2 of it\r\n\x00\x00\r\n")
	s.Write(bad)
	s.Write(cut)
	s.Write(good)
	s.Write(good[:len(good)-20])
	r := NewReader(&s, ReaderOptions{})
	var got []*Telegram
	var kinds []error
	for {
		tg, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var se *StreamError
		if err != nil && !errors.As(err, &se) {
			t.Fatal(err)
		}
		if err != nil {
			kinds = append(kinds, se.Err)
			continue
		}
		got = append(got, tg)
	}
	if len(got) != 2 {
		t.Fatalf("%d good telegrams, want 2", len(got))
	}
	want := Stats{Telegrams: 2, BadCRC: 1, Truncated: 2, Garbage: 1}
	if r.Stats() != want {
		t.Fatalf("stats %+v, want %+v (errors %v)", r.Stats(), want, kinds)
	}
	if !errors.Is(kinds[0], ErrGarbage) || !errors.Is(kinds[1], ErrCRC) || !errors.Is(kinds[2], ErrTruncated) {
		t.Fatalf("errors %v", kinds)
	}
}

func TestReaderEncrypted(t *testing.T) {
	key := bytes.Repeat([]byte{0x42}, 16)
	var s bytes.Buffer
	for i := range 3 {
		enc, err := Encrypt(Frame{SystemTitle: [8]byte{1, 2, 3, 4, 5, 6, 7, 8}, Counter: uint32(i)}, Build(sample(V50)).Encode(), key, nil)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			s.WriteString("junk")
			enc[40] ^= 0xFF
		}
		s.Write(enc)
	}
	r := NewReader(&s, ReaderOptions{Key: key})
	n := 0
	for {
		tg, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil {
			n++
			wantNumber(t, tg, "1-0:1.8.1", 1234567, -3)
		}
	}
	if want := (Stats{Telegrams: 2, Garbage: 1, Decrypt: 1}); n != 2 || r.Stats() != want {
		t.Fatalf("%d telegrams, stats %+v, want %+v", n, r.Stats(), want)
	}
}

func TestObjectsTable(t *testing.T) {
	seen := map[Code]bool{}
	for _, o := range Objects {
		if seen[o.Code] {
			t.Errorf("%s listed twice", o.Code)
		}
		seen[o.Code] = true
		if o.Name == "" || o.Kind == KindUnknown {
			t.Errorf("%s: no name or kind", o.Code)
		}
	}
	if o, ok := Lookup(MustCode("0-3:24.2.1")); !ok || o.Kind != KindTimedNumber {
		t.Errorf("channel 3 capture not found")
	}
}

// TestOwnTelegrams parses the telegrams and encrypted frames kept from
// amigo's simulated P1 ports: good CRCs, nothing unparsed, and encoding
// them again gives the same bytes.
func TestOwnTelegrams(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join("testdata", "sim-*.txt"))
	frames, _ := filepath.Glob(filepath.Join("testdata", "frames", "*.bin"))
	if len(names) == 0 || len(frames) == 0 {
		t.Fatal("no kept telegrams")
	}
	check := func(name string, b []byte) {
		tg, err := Parse(b)
		if err != nil || len(tg.Unparsed) != 0 || tg.Version != V50 {
			t.Fatalf("%s: %v %+v", name, err, tg)
		}
		if again := tg.Encode(); !bytes.Equal(again, b) {
			t.Errorf("%s: re-encoded differs", name)
		}
	}
	for _, n := range names {
		check(n, read(t, filepath.Base(n)))
	}
	for _, n := range frames {
		b := read(t, filepath.Join("frames", filepath.Base(n)))
		_, keyHex, _ := strings.Cut(strings.TrimSuffix(filepath.Base(n), ".bin"), "-key-")
		key, err := hex.DecodeString(keyHex)
		if err != nil {
			t.Fatal(err)
		}
		f, plain, err := Decrypt(b, key, nil)
		if err != nil || string(f.SystemTitle[:3]) != "AMG" {
			t.Fatalf("%s: %v %+v", n, err, f)
		}
		check(n, plain)
	}
}

// A log slot a meter never filled: kept as an entry, and marked Unset.
func TestFailureLogPlaceholder(t *testing.T) {
	tg, err := Parse([]byte("/KFM5\\2TEST\r\n\r\n1-3:0.2.8(42)\r\n1-0:99.97.0(2)(0-0:96.7.19)(000101000001W)(2147483647*s)(230312101500W)(0000000600*s)\r\n!"))
	if err != nil {
		t.Fatal(err)
	}
	pf := tg.PowerFailures()
	if len(pf) != 2 || !pf[0].Unset() || pf[1].Unset() || pf[1].Duration != 10*time.Minute {
		t.Fatalf("log %+v", pf)
	}
}
