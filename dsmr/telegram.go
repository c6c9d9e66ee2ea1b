package dsmr

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Version is the specification a telegram follows.
type Version uint8

// The versions. DSMR 2.2 and 3.0 telegrams cannot be told apart on the
// wire (no version line, no CRC), so both are V3.
const (
	VersionUnknown Version = iota
	V3                     // DSMR 2.2 and 3.0: no CRC, gas on 0-n:24.3.0 and the next line
	V40                    // DSMR 4.0.x: CRC-16, 1-3:0.2.8(40), gas hourly on 0-n:24.2.1
	V42                    // DSMR 4.2.x: as 4.0, 1-3:0.2.8(42)
	V50                    // DSMR 5.0.x: 1-3:0.2.8(50), voltages, gas every 5 minutes
	EMUCS                  // Belgian e-MUCS H: 0-0:96.1.4, capacity tariff peaks
)

var versionNames = [...]string{"unknown", "2.2/3.0", "4.0", "4.2", "5.0", "e-MUCS"}

func (v Version) String() string {
	if int(v) < len(versionNames) {
		return versionNames[v]
	}
	return "version(" + strconv.Itoa(int(v)) + ")"
}

// ParseVersion reads a version name as String writes it; "2.2", "3.0",
// "4", "5", "5.0.2" and "emucs" are accepted too.
func ParseVersion(s string) (Version, error) {
	switch strings.ToLower(s) {
	case "2.2", "3.0", "3", "2.2/3.0":
		return V3, nil
	case "4", "4.0":
		return V40, nil
	case "4.2", "4.2.2":
		return V42, nil
	case "5", "5.0", "5.0.2":
		return V50, nil
	case "e-mucs", "emucs", "be":
		return EMUCS, nil
	}
	return VersionUnknown, fmt.Errorf("dsmr: unknown version %q: want 2.2, 3.0, 4.0, 4.2, 5.0 or e-MUCS", s)
}

// HasCRC reports whether telegrams of v end with a CRC-16.
func (v Version) HasCRC() bool { return v >= V40 }

// Value is one parenthesised group of a line, split at its unit.
type Value struct {
	Text string
	Unit string
}

// Line is one COSEM object of a telegram.
type Line struct {
	Code   Code
	Values []Value
}

// Unparsed is a line kept because it did not parse.
type Unparsed struct {
	N    int // line number, the header being 1
	Text string
	Err  string
}

// Telegram is one P1 telegram.
type Telegram struct {
	// Header is the identification after '/': manufacturer flag, baud
	// character, '\' and the meter's type ("ISk5\2MT382-1000").
	Header  string
	Version Version
	Lines   []Line
	// Unparsed keeps the lines that did not parse, in order.
	Unparsed []Unparsed
	// CRC is the checksum received (Parse) or written (Encode).
	CRC    uint16
	HasCRC bool
}

// Errors of a telegram as a whole. Parse wraps them with where and why.
var (
	ErrNoHeader  = errors.New("no '/' header")
	ErrTruncated = errors.New("telegram cut before its '!'")
	ErrCRC       = errors.New("CRC mismatch")
	ErrTooLong   = errors.New("telegram too long")
	ErrGarbage   = errors.New("bytes outside a telegram")
	ErrDecrypt   = errors.New("encrypted frame does not decrypt")
)

// MaxTelegram bounds a telegram: real ones are under 2 KiB, and a stream
// without '!' must not grow a buffer without end.
const MaxTelegram = 16 << 10

// CRC16 is CRC-16/ARC (polynomial 0x8005 reflected, initial value 0, no
// final XOR), as DSMR 4 and 5 compute it over '/' to '!' inclusive.
func CRC16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// Parse reads one telegram from '/' to '!' and its CRC, if any. A CRC
// that does not match returns the telegram with an error wrapping ErrCRC,
// so that a caller may still look at it. Lines that do not parse are kept
// in Unparsed and do not fail the telegram.
func Parse(b []byte) (*Telegram, error) {
	if len(b) > MaxTelegram {
		return nil, fmt.Errorf("dsmr: %d bytes: %w", len(b), ErrTooLong)
	}
	start := bytes.IndexByte(b, '/')
	if start < 0 {
		return nil, fmt.Errorf("dsmr: %w", ErrNoHeader)
	}
	b = b[start:]
	end := bytes.LastIndexByte(b, '!')
	if end < 0 {
		return nil, fmt.Errorf("dsmr: %d bytes after '/': %w", len(b), ErrTruncated)
	}
	t := &Telegram{}
	tail := strings.TrimRight(string(b[end+1:]), "\r\n")
	var crcErr error
	switch {
	case tail == "":
	case len(tail) == 4 && isHex(tail):
		v, _ := strconv.ParseUint(tail, 16, 16)
		t.CRC, t.HasCRC = uint16(v), true
		if got := CRC16(b[:end+1]); got != t.CRC {
			crcErr = fmt.Errorf("dsmr: telegram says %04X, bytes give %04X: %w", t.CRC, got, ErrCRC)
		}
	default:
		return nil, fmt.Errorf("dsmr: %q after '!': %w", clip(tail), ErrTruncated)
	}
	body := string(b[1:end])
	header, rest, _ := strings.Cut(body, "\n")
	t.Header = strings.TrimRight(header, "\r")
	if t.Header == "" || !utf8.ValidString(t.Header) || strings.ContainsAny(t.Header, "()!") {
		return nil, fmt.Errorf("dsmr: header %q: %w", clip(t.Header), ErrNoHeader)
	}
	n := 1
	var lineNo []int // of each of t.Lines, for Unparsed
	for raw := range strings.SplitSeq(rest, "\n") {
		n++
		s := strings.TrimRight(raw, "\r")
		if strings.TrimSpace(s) == "" {
			continue
		}
		if s[0] == '(' && len(t.Lines) > 0 {
			// A value on a line of its own continues the object before
			// it: DSMR 2.2/3.0's gas reading.
			vs, err := parseValues(s)
			if err == nil {
				last := &t.Lines[len(t.Lines)-1]
				last.Values = append(last.Values, vs...)
				continue
			}
			t.Unparsed = append(t.Unparsed, Unparsed{N: n, Text: s, Err: err.Error()})
			continue
		}
		l, err := parseLine(s)
		if err != nil {
			t.Unparsed = append(t.Unparsed, Unparsed{N: n, Text: s, Err: err.Error()})
			continue
		}
		t.Lines = append(t.Lines, l)
		lineNo = append(lineNo, n)
	}
	// Values are checked against the table once continuation lines are
	// joined; a line that fails is moved to Unparsed.
	kept := t.Lines[:0]
	for i, l := range t.Lines {
		if err := l.check(); err != nil {
			t.Unparsed = append(t.Unparsed, Unparsed{N: lineNo[i], Text: l.String(), Err: err.Error()})
			continue
		}
		kept = append(kept, l)
	}
	t.Lines = kept
	t.Version = t.detect()
	return t, crcErr
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (t *Telegram) detect() Version {
	if l, ok := t.Line(MustCode("0-0:96.1.4")); ok && len(l.Values) > 0 {
		return EMUCS
	}
	if l, ok := t.Line(MustCode("1-3:0.2.8")); ok && len(l.Values) > 0 {
		switch v := l.Values[0].Text; {
		case strings.HasPrefix(v, "5"):
			return V50
		case v == "42":
			return V42
		case strings.HasPrefix(v, "4"):
			return V40
		}
	}
	if !t.HasCRC {
		return V3
	}
	return V40
}

func parseLine(s string) (Line, error) {
	i := strings.IndexByte(s, '(')
	if i <= 0 {
		return Line{}, errors.New("no OBIS code followed by '('")
	}
	c, err := ParseCode(strings.TrimSpace(s[:i]))
	if err != nil {
		return Line{}, err
	}
	vs, err := parseValues(s[i:])
	if err != nil {
		return Line{}, fmt.Errorf("%s: %w", c, err)
	}
	return Line{Code: c, Values: vs}, nil
}

func parseValues(s string) ([]Value, error) {
	var vs []Value
	for s != "" {
		if s[0] != '(' {
			return nil, fmt.Errorf("%q where '(' was expected", clip(s))
		}
		j := strings.IndexByte(s, ')')
		if j < 0 {
			return nil, errors.New("a '(' without its ')'")
		}
		in := s[1:j]
		if strings.ContainsAny(in, "(") {
			return nil, errors.New("'(' inside a value")
		}
		v := Value{Text: in}
		if k := strings.LastIndexByte(in, '*'); k >= 0 && isUnit(in[k+1:]) {
			v = Value{Text: in[:k], Unit: in[k+1:]}
		}
		vs = append(vs, v)
		s = strings.TrimRight(s[j+1:], " ")
	}
	return vs, nil
}

func isUnit(s string) bool {
	if s == "" || len(s) > 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// check validates l's values against the table's kind for its code.
// Codes not in the table are kept as they are.
func (l Line) check() error {
	o, ok := Lookup(l.Code)
	if !ok {
		return nil
	}
	need := func(n int) error {
		if len(l.Values) < n {
			return fmt.Errorf("%s: %d values, want %d", l.Code, len(l.Values), n)
		}
		return nil
	}
	switch o.Kind {
	case KindNumber:
		if err := need(1); err != nil {
			return err
		}
		if _, err := ParseDecimal(l.Values[0].Text); err != nil {
			return fmt.Errorf("%s: %w", l.Code, err)
		}
	case KindCount:
		if err := need(1); err != nil {
			return err
		}
		if _, err := strconv.ParseUint(l.Values[0].Text, 10, 32); err != nil {
			return fmt.Errorf("%s: count %q", l.Code, l.Values[0].Text)
		}
	case KindHex:
		if err := need(1); err != nil {
			return err
		}
		if len(l.Values[0].Text)%2 != 0 || !isHex(l.Values[0].Text) {
			return fmt.Errorf("%s: %q is not an even number of hex digits", l.Code, clip(l.Values[0].Text))
		}
	case KindTime:
		if err := need(1); err != nil {
			return err
		}
		if _, err := ParseTime(l.Values[0].Text); err != nil {
			return fmt.Errorf("%s: %w", l.Code, err)
		}
	case KindTimedNumber:
		if _, _, _, err := l.Timed(); err != nil {
			return err
		}
	case KindFailureLog:
		if _, err := l.Failures(); err != nil {
			return err
		}
	case KindPeakLog:
		if _, err := l.Peaks(); err != nil {
			return err
		}
	case KindOldGas:
		if _, _, _, err := l.Timed(); err != nil {
			return err
		}
	}
	return nil
}

// Timed returns the timestamp and number of a timestamped value
// (0-n:24.2.1, 1-0:1.6.0), or of DSMR 2.2/3.0's 0-n:24.3.0 gas line.
func (l Line) Timed() (time.Time, Decimal, string, error) {
	if len(l.Values) < 2 {
		return time.Time{}, Decimal{}, "", fmt.Errorf("%s: %d values, want a time and a number", l.Code, len(l.Values))
	}
	at, err := ParseTime(l.Values[0].Text)
	if err != nil {
		return time.Time{}, Decimal{}, "", fmt.Errorf("%s: %w", l.Code, err)
	}
	v := l.Values[len(l.Values)-1]
	unit := v.Unit
	if l.Code.C == 24 && l.Code.D == 3 && l.Code.E == 0 {
		// (ts)(status)(period)(n)(obis)(unit) then (value) on the next line.
		if len(l.Values) < 7 {
			return time.Time{}, Decimal{}, "", fmt.Errorf("%s: %d values, want 7 (the reading on the next line)", l.Code, len(l.Values))
		}
		unit = l.Values[5].Text
	}
	d, err := ParseDecimal(v.Text)
	if err != nil {
		return time.Time{}, Decimal{}, "", fmt.Errorf("%s: %w", l.Code, err)
	}
	return at, d, unit, nil
}

// Number returns the first value of l as a number and its unit.
func (l Line) Number() (Decimal, string, error) {
	if len(l.Values) == 0 {
		return Decimal{}, "", fmt.Errorf("%s: no value", l.Code)
	}
	d, err := ParseDecimal(l.Values[0].Text)
	if err != nil {
		return Decimal{}, "", fmt.Errorf("%s: %w", l.Code, err)
	}
	return d, l.Values[0].Unit, nil
}

// PowerFailure is one entry of the power failure event log: when power
// came back and how long it had been gone.
type PowerFailure struct {
	End      time.Time
	Duration time.Duration
}

// Unset reports whether f is a placeholder rather than a failure: some
// meters (Kaifa's DSMR 4.2 among them) fill an empty log slot with
// 2000-01-01 00:00:01 and a duration of 2^31-1 seconds.
func (f PowerFailure) Unset() bool {
	return f.End.Year() <= 2000 || f.Duration >= (1<<31-1)*time.Second
}

// Failures parses the power failure event log:
// (n)(0-0:96.7.19)(end)(duration*s) n times.
func (l Line) Failures() ([]PowerFailure, error) {
	if len(l.Values) < 1 {
		return nil, fmt.Errorf("%s: no entry count", l.Code)
	}
	n, err := strconv.ParseUint(l.Values[0].Text, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("%s: entry count %q", l.Code, clip(l.Values[0].Text))
	}
	if n == 0 {
		return nil, nil
	}
	if len(l.Values) != 2+2*int(n) {
		return nil, fmt.Errorf("%s: %d entries need %d values, got %d", l.Code, n, 2+2*n, len(l.Values))
	}
	out := make([]PowerFailure, n)
	for i := range out {
		end, err := ParseTime(l.Values[2+2*i].Text)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", l.Code, i+1, err)
		}
		d := l.Values[3+2*i]
		secs, err := strconv.ParseUint(d.Text, 10, 32)
		if err != nil || (d.Unit != "s" && d.Unit != "") {
			return nil, fmt.Errorf("%s: entry %d: duration %q*%s", l.Code, i+1, clip(d.Text), d.Unit)
		}
		out[i] = PowerFailure{End: end, Duration: time.Duration(secs) * time.Second}
	}
	return out, nil
}

// Peak is one month of e-MUCS' peak history: the month it stands for,
// when the peak was and its average power over the quarter-hour.
type Peak struct {
	Month, At time.Time
	Value     Decimal
	Unit      string
}

// Peaks parses e-MUCS' 0-0:98.1.0: (n)(1-0:1.6.0)(1-0:1.6.0) then n times
// (month)(time)(value*kW).
func (l Line) Peaks() ([]Peak, error) {
	if len(l.Values) < 1 {
		return nil, fmt.Errorf("%s: no entry count", l.Code)
	}
	n, err := strconv.ParseUint(l.Values[0].Text, 10, 8)
	if err != nil {
		return nil, fmt.Errorf("%s: entry count %q", l.Code, clip(l.Values[0].Text))
	}
	if n == 0 {
		return nil, nil
	}
	if len(l.Values) != 3+3*int(n) {
		return nil, fmt.Errorf("%s: %d entries need %d values, got %d", l.Code, n, 3+3*n, len(l.Values))
	}
	out := make([]Peak, n)
	for i := range out {
		v := l.Values[3+3*i:]
		m, err := ParseTime(v[0].Text)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", l.Code, i+1, err)
		}
		at, err := ParseTime(v[1].Text)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", l.Code, i+1, err)
		}
		d, err := ParseDecimal(v[2].Text)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", l.Code, i+1, err)
		}
		out[i] = Peak{Month: m, At: at, Value: d, Unit: v[2].Unit}
	}
	return out, nil
}

// String writes l as one P1 line (two for DSMR 2.2/3.0's gas).
func (l Line) String() string {
	var b strings.Builder
	b.WriteString(l.Code.String())
	old := l.Code.A == 0 && l.Code.C == 24 && l.Code.D == 3 && l.Code.E == 0 && len(l.Values) == 7
	for i, v := range l.Values {
		if old && i == len(l.Values)-1 {
			b.WriteString("\r\n")
		}
		b.WriteByte('(')
		b.WriteString(v.Text)
		if v.Unit != "" {
			b.WriteByte('*')
			b.WriteString(v.Unit)
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Encode writes the telegram: header, an empty line, the lines, '!' and,
// from DSMR 4 on, the CRC-16 of it all. It sets t.CRC and t.HasCRC.
// Unparsed lines are not written.
func (t *Telegram) Encode() []byte {
	var b bytes.Buffer
	b.WriteByte('/')
	b.WriteString(t.Header)
	b.WriteString("\r\n\r\n")
	for _, l := range t.Lines {
		b.WriteString(l.String())
		b.WriteString("\r\n")
	}
	b.WriteByte('!')
	t.HasCRC = t.Version.HasCRC()
	if t.HasCRC {
		t.CRC = CRC16(b.Bytes())
		fmt.Fprintf(&b, "%04X", t.CRC)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// Line returns the first line of code c.
func (t *Telegram) Line(c Code) (Line, bool) {
	for _, l := range t.Lines {
		if l.Code == c {
			return l, true
		}
	}
	return Line{}, false
}

// Number returns the number of line c.
func (t *Telegram) Number(c Code) (Decimal, bool) {
	l, ok := t.Line(c)
	if !ok {
		return Decimal{}, false
	}
	d, _, err := l.Number()
	return d, err == nil
}

// Text returns line c's first value, hex-decoded for the table's hex
// objects (equipment identifiers, messages).
func (t *Telegram) Text(c Code) (string, bool) {
	l, ok := t.Line(c)
	if !ok || len(l.Values) == 0 {
		return "", false
	}
	if o, ok := Lookup(c); ok && o.Kind == KindHex {
		b, err := hex.DecodeString(l.Values[0].Text)
		if err == nil {
			return string(b), true
		}
	}
	return l.Values[0].Text, true
}

// Time returns the telegram's timestamp (0-0:1.0.0); DSMR 2.2/3.0 have
// none.
func (t *Telegram) Time() (time.Time, bool) {
	l, ok := t.Line(Code{0, 0, 1, 0, 0})
	if !ok || len(l.Values) == 0 {
		return time.Time{}, false
	}
	at, err := ParseTime(l.Values[0].Text)
	return at, err == nil
}

// PowerFailures returns the power failure event log.
func (t *Telegram) PowerFailures() []PowerFailure {
	l, ok := t.Line(Code{1, 0, 99, 97, 0})
	if !ok {
		return nil
	}
	fs, _ := l.Failures()
	return fs
}

// MBusDevice is what a telegram says of one M-Bus channel.
type MBusDevice struct {
	Channel uint8
	Type    int    // EN 13757-3 device type: 3 gas, 7 water, 4 heat
	ID      string // equipment identifier, hex-decoded
	Valve   string // valve position, when given
	At      time.Time
	Value   Decimal
	Unit    string
	HasRead bool
}

// MBus returns the M-Bus channels the telegram names, in channel order.
func (t *Telegram) MBus() []MBusDevice {
	var out []MBusDevice
	idx := map[uint8]int{}
	for _, l := range t.Lines {
		if l.Code.A != 0 || l.Code.B < 1 || l.Code.B > 4 || len(l.Values) == 0 {
			continue
		}
		o, ok := Lookup(l.Code)
		if !ok {
			continue
		}
		i, seen := idx[l.Code.B]
		if !seen {
			i = len(out)
			idx[l.Code.B] = i
			out = append(out, MBusDevice{Channel: l.Code.B})
		}
		d := &out[i]
		switch o.Code {
		case Code{0, 1, 24, 1, 0}:
			d.Type, _ = strconv.Atoi(l.Values[0].Text)
		case Code{0, 1, 96, 1, 0}, Code{0, 1, 96, 1, 1}:
			b, err := hex.DecodeString(l.Values[0].Text)
			if err == nil {
				d.ID = string(b)
			}
		case Code{0, 1, 24, 4, 0}:
			d.Valve = l.Values[0].Text
		case Code{0, 1, 24, 2, 1}, Code{0, 1, 24, 2, 3}, Code{0, 1, 24, 3, 0}:
			if at, v, unit, err := l.Timed(); err == nil && !d.HasRead {
				d.At, d.Value, d.Unit, d.HasRead = at, v, unit, true
			}
		}
	}
	return out
}
