package c1219

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// CharFormat is FORMAT_CONTROL_1.CHAR_FORMAT: how STRING and CHAR
// fields are encoded.
type CharFormat uint8

// Character formats.
const (
	CharISO646  CharFormat = 1 // ISO/IEC 646, 7 bits
	CharISO8859 CharFormat = 2 // ISO 8859/1 (Latin 1)
	CharUTF8    CharFormat = 3
	CharUTF16   CharFormat = 4
	CharUTF32   CharFormat = 5
)

// TimeFormat is FORMAT_CONTROL_2.TM_FORMAT: how the date and time types
// (STIME_DATE, LTIME_DATE, HTIME_DATE, TIME) are encoded.
type TimeFormat uint8

// Time formats.
const (
	TimeNone   TimeFormat = 0 // no clock in the device
	TimeBCD    TimeFormat = 1 // BCD fields YY MM DD HH MM SS
	TimeUint8  TimeFormat = 2 // UINT8 fields YY MM DD HH MM SS
	TimeMinute TimeFormat = 3 // UINT32 minutes since 1970-01-01 00:00, then UINT8 seconds
	TimeSecond TimeFormat = 4 // UINT32 seconds since 1970-01-01 00:00
)

// DataAccess is FORMAT_CONTROL_2.DATA_ACCESS_METHOD: the partial reads
// and writes the device serves besides full ones.
type DataAccess uint8

// Data access methods.
const (
	AccessFull        DataAccess = 0 // full table only
	AccessOffset      DataAccess = 1 // full and offset
	AccessIndex       DataAccess = 2 // full and index
	AccessOffsetIndex DataAccess = 3 // full, offset and index
)

// IntFormat is FORMAT_CONTROL_2.INT_FORMAT: how signed integers are
// encoded.
type IntFormat uint8

// Signed integer formats.
const (
	IntTwos     IntFormat = 0 // two's complement
	IntOnes     IntFormat = 1 // one's complement
	IntSignMagn IntFormat = 2 // sign and magnitude
)

// NIFormat is FORMAT_CONTROL_3.NI_FORMAT1 or NI_FORMAT2: the encoding of
// the non-integer types NI_FMAT1 and NI_FMAT2.
type NIFormat uint8

// Non-integer formats.
const (
	NIFloat64     NIFormat = 0
	NIFloat32     NIFormat = 1
	NIFloatChar12 NIFormat = 2  // a 12-character decimal string
	NIFloatChar6  NIFormat = 3  // a 6-character decimal string
	NIInt32Milli4 NIFormat = 4  // INT32 with four implied decimals: 1 is 0.0001
	NIFixedBCD6   NIFormat = 5  // 6 octets of BCD, an integer
	NIFixedBCD4   NIFormat = 6  // 4 octets of BCD
	NIInt24       NIFormat = 7  // INT24
	NIInt32       NIFormat = 8  // INT32
	NIInt40       NIFormat = 9  // INT40
	NIInt48       NIFormat = 10 // INT48
	NIInt64       NIFormat = 11 // INT64
	NIFixedBCD8   NIFormat = 12 // 8 octets of BCD
	NIFloatChar21 NIFormat = 13 // a 21-character decimal string
)

// Size is the number of octets a value in format n takes, 0 for a
// reserved format.
func (n NIFormat) Size() int {
	switch n {
	case NIFloat64, NIInt64, NIFixedBCD8:
		return 8
	case NIFloat32, NIInt32Milli4, NIInt32, NIFixedBCD4:
		return 4
	case NIFloatChar12:
		return 12
	case NIFloatChar6, NIFixedBCD6, NIInt48:
		return 6
	case NIInt24:
		return 3
	case NIInt40:
		return 5
	case NIFloatChar21:
		return 21
	}
	return 0
}

var niNames = [...]string{"FLOAT64", "FLOAT32", "FLOAT_CHAR12", "FLOAT_CHAR6", "INT32(4 decimals)", "FIXED_BCD6",
	"FIXED_BCD4", "INT24", "INT32", "INT40", "INT48", "INT64", "FIXED_BCD8", "FLOAT_CHAR21"}

func (n NIFormat) String() string {
	if int(n) < len(niNames) {
		return niNames[n]
	}
	return fmt.Sprintf("NI format %d", uint8(n))
}

// Format is the data format an end device declares in ST0's
// FORMAT_CONTROL_1..3 (and the standard version it follows): every
// decoder and encoder of a table other than ST0 takes it.
type Format struct {
	BigEndian bool       // DATA_ORDER: 0 little endian (least significant octet first), 1 big endian
	Char      CharFormat // CHAR_FORMAT
	Model     uint8      // MODEL_SELECT (0 for the tables of this standard)
	Time      TimeFormat // TM_FORMAT
	Access    DataAccess // DATA_ACCESS_METHOD
	BCDID     bool       // ID_FORM: identification fields (ST1's serial number, ST5) in BCD rather than characters
	Int       IntFormat  // INT_FORMAT
	NI1, NI2  NIFormat   // NI_FORMAT1, NI_FORMAT2
	Version   uint8      // STD_VERSION_NO: 1 for C12.19-1997, 2 for C12.19-2008
}

// DefaultFormat is the format amigo's meters declare: little endian,
// ISO 8859/1 characters, TM_FORMAT 2 (UINT8 date fields), full, offset
// and index access, character identifiers, two's complement, INT64 for
// both non-integer formats, C12.19-2008.
var DefaultFormat = Format{Char: CharISO8859, Time: TimeUint8, Access: AccessOffsetIndex, NI1: NIInt64, NI2: NIInt64, Version: 2}

func (f Format) order() binary.ByteOrder {
	if f.BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// Check reports a format this package cannot encode or decode.
func (f Format) Check() error {
	switch f.Char {
	case CharISO646, CharISO8859, CharUTF8:
	default:
		return fmt.Errorf("c1219: character format %d not supported", f.Char)
	}
	if f.Time > TimeSecond {
		return fmt.Errorf("c1219: time format %d is reserved", f.Time)
	}
	if f.Int > IntSignMagn {
		return fmt.Errorf("c1219: integer format %d is reserved", f.Int)
	}
	if f.NI1.Size() == 0 {
		return fmt.Errorf("c1219: NI_FORMAT1 %d is reserved", f.NI1)
	}
	if f.NI2.Size() == 0 {
		return fmt.Errorf("c1219: NI_FORMAT2 %d is reserved", f.NI2)
	}
	return nil
}

// LTimeSize, STimeSize, HTimeSize and TimeSize are the sizes of
// LTIME_DATE, STIME_DATE, HTIME_DATE and TIME in format f (0 when the
// device has no clock).
func (f Format) LTimeSize() int { return [...]int{0, 6, 6, 5, 4, 0, 0, 0}[f.Time&7] }

// STimeSize is the size of STIME_DATE (minutes resolution).
func (f Format) STimeSize() int { return [...]int{0, 5, 5, 4, 4, 0, 0, 0}[f.Time&7] }

// HTimeSize is the size of HTIME_DATE (hundredths of a second).
func (f Format) HTimeSize() int { return [...]int{0, 7, 7, 6, 5, 0, 0, 0}[f.Time&7] }

// TimeSize is the size of TIME (time of day).
func (f Format) TimeSize() int { return [...]int{0, 3, 3, 4, 4, 0, 0, 0}[f.Time&7] }

// IDSize is the size of an identification field of n characters: n
// octets of characters, or n/2 of BCD.
func (f Format) IDSize(n int) int {
	if f.BCDID {
		return n / 2
	}
	return n
}

// Field errors name the table and the field, so a meter's bad table is
// found without a hex dump.

// Error is a table that cannot be decoded: which table, which field, and
// why.
type Error struct {
	Table TableID
	Field string
	Msg   string
}

// noTable marks a field decoded outside any table (Format.DecodeLTime).
const noTable TableID = 0xFFFF

func (e *Error) Error() string {
	if e.Table == noTable {
		if e.Field == "" {
			return "c1219: " + e.Msg
		}
		return fmt.Sprintf("c1219: %s: %s", e.Field, e.Msg)
	}
	if e.Field == "" {
		return fmt.Sprintf("c1219: %v: %s", e.Table, e.Msg)
	}
	return fmt.Sprintf("c1219: %v %s: %s", e.Table, e.Field, e.Msg)
}

// reader walks a table's octets; the first failure sticks, so a decoder
// reads every field and checks once.
type reader struct {
	b   []byte
	off int
	f   Format
	tbl TableID
	err error
}

// newReader refuses a format it cannot decode at once, so no decoder
// walks a table with a reserved NI format (whose values take no octets).
func newReader(b []byte, f Format, t TableID) *reader {
	r := &reader{b: b, f: f, tbl: t}
	if err := f.Check(); err != nil {
		r.err = &Error{Table: t, Msg: err.Error()}
	}
	return r
}

func (r *reader) fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = &Error{Table: r.tbl, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
}

func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.fail(field, "table ends at octet %d, %d more octets needed", len(r.b), n-(len(r.b)-r.off))
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

// need fails early when n octets are certainly missing, so that a
// dimension claiming millions of entries is refused before allocating.
func (r *reader) need(n int, field string) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || len(r.b)-r.off < n {
		r.fail(field, "table has %d octets left, dimensions need %d", len(r.b)-r.off, n)
		return false
	}
	return true
}

// end fails when octets are left after the table's last field.
func (r *reader) end() error {
	if r.err == nil && r.off != len(r.b) {
		r.fail("", "%d octets after the end of the table (%d octets expected, %d received)", len(r.b)-r.off, r.off, len(r.b))
	}
	return r.err
}

func (r *reader) u8(field string) uint8 {
	p := r.take(1, field)
	if p == nil {
		return 0
	}
	return p[0]
}

func (r *reader) uint(n int, field string) uint64 {
	p := r.take(n, field)
	if p == nil {
		return 0
	}
	var v uint64
	if r.f.BigEndian {
		for _, c := range p {
			v = v<<8 | uint64(c)
		}
	} else {
		for i := len(p) - 1; i >= 0; i-- {
			v = v<<8 | uint64(p[i])
		}
	}
	return v
}

func (r *reader) u16(field string) uint16 { return uint16(r.uint(2, field)) }
func (r *reader) u32(field string) uint32 { return uint32(r.uint(4, field)) }

func (r *reader) int(n int, field string) int64 {
	return signed(r.uint(n, field), n, r.f.Int)
}

func signed(u uint64, n int, form IntFormat) int64 {
	bits := uint(8 * n)
	sign := uint64(1) << (bits - 1)
	mask := sign<<1 - 1
	if bits == 64 {
		mask = math.MaxUint64
	}
	u &= mask
	if u&sign == 0 {
		return int64(u)
	}
	switch form {
	case IntOnes:
		return -int64(^u & mask)
	case IntSignMagn:
		return -int64(u &^ sign)
	}
	if bits == 64 {
		return int64(u)
	}
	return int64(u) - int64(sign<<1)
}

func unsigned(v int64, n int, form IntFormat) uint64 {
	bits := uint(8 * n)
	mask := uint64(math.MaxUint64)
	if bits < 64 {
		mask = uint64(1)<<bits - 1
	}
	if v >= 0 {
		return uint64(v) & mask
	}
	switch form {
	case IntOnes:
		return ^uint64(-v) & mask
	case IntSignMagn:
		return (uint64(-v) | uint64(1)<<(bits-1)) & mask
	}
	return uint64(v) & mask
}

func (r *reader) str(n int, field string) string {
	p := r.take(n, field)
	if p == nil {
		return ""
	}
	return decodeString(p, r.f.Char)
}

func decodeString(p []byte, c CharFormat) string {
	p = trimPad(p)
	switch c {
	case CharISO8859:
		var sb strings.Builder
		for _, b := range p {
			sb.WriteRune(rune(b))
		}
		return sb.String()
	case CharUTF8:
		if utf8.Valid(p) {
			return string(p)
		}
		// '?' as the other formats write what they cannot hold: one octet,
		// so the string encodes back into its field (U+FFFD's three might
		// not fit, and the padding left in their place would be trimmed).
		return strings.ToValidUTF8(string(p), "?")
	}
	var sb strings.Builder
	for _, b := range p {
		if b >= 0x80 {
			sb.WriteRune(utf8.RuneError)
		} else {
			sb.WriteByte(b)
		}
	}
	return sb.String()
}

func trimPad(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == ' ' || p[len(p)-1] == 0) {
		p = p[:len(p)-1]
	}
	return p
}

// id reads an identification field of n characters per ID_FORM.
func (r *reader) id(n int, field string) string {
	if !r.f.BCDID {
		return r.str(n, field)
	}
	p := r.take(n/2, field)
	var sb strings.Builder
	for _, c := range p {
		sb.WriteByte(bcdDigit(c >> 4))
		sb.WriteByte(bcdDigit(c & 15))
	}
	return strings.TrimRight(sb.String(), " ")
}

func bcdDigit(n byte) byte {
	if n < 10 {
		return '0' + n
	}
	return ' ' // a nibble over 9 pads an identifier
}

func (r *reader) set(octets int, field string) Set {
	p := r.take(octets, field)
	if p == nil {
		return nil
	}
	return Set(append([]byte(nil), p...))
}

func (r *reader) bytes(n int, field string) []byte {
	p := r.take(n, field)
	if p == nil {
		return nil
	}
	return append([]byte(nil), p...)
}

// ni reads one NI_FMAT1 or NI_FMAT2 value.
func (r *reader) ni(n NIFormat, field string) float64 {
	size := n.Size()
	if size == 0 {
		r.fail(field, "non-integer format %d is reserved", n)
		return 0
	}
	p := r.take(size, field)
	if p == nil {
		return 0
	}
	v, err := decodeNI(p, n, r.f)
	if err != nil {
		r.fail(field, "%v", err)
	}
	return v
}

func decodeNI(p []byte, n NIFormat, f Format) (float64, error) {
	o := f.order()
	switch n {
	case NIFloat64:
		return math.Float64frombits(o.Uint64(p)), nil
	case NIFloat32:
		return float64(math.Float32frombits(o.Uint32(p))), nil
	case NIFloatChar6, NIFloatChar12, NIFloatChar21:
		s := strings.TrimSpace(string(trimPad(p)))
		if s == "" {
			return 0, nil
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("%s %q is not a number", n, s)
		}
		return v, nil
	case NIFixedBCD4, NIFixedBCD6, NIFixedBCD8:
		return decodeBCDNumber(p)
	case NIInt32Milli4:
		return float64(signed(uintOf(p, o), 4, f.Int)) / 10000, nil
	default:
		return float64(signed(uintOf(p, o), len(p), f.Int)), nil
	}
}

func uintOf(p []byte, o binary.ByteOrder) uint64 {
	var v uint64
	if o == binary.BigEndian {
		for _, c := range p {
			v = v<<8 | uint64(c)
		}
		return v
	}
	for i := len(p) - 1; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	return v
}

// FIXED_BCD values are carried as BCD digits, most significant first; a
// first nibble of 0xF marks a negative value (the sign nibble is not a
// digit).
func decodeBCDNumber(p []byte) (float64, error) {
	var v float64
	neg := false
	for i, c := range p {
		for j, d := range [2]byte{c >> 4, c & 15} {
			if i == 0 && j == 0 && d == 0xF {
				neg = true
				continue
			}
			if d > 9 {
				return 0, fmt.Errorf("BCD nibble 0x%X is not a digit", d)
			}
			v = v*10 + float64(d)
		}
	}
	if neg {
		v = -v
	}
	return v, nil
}

func encodeBCDNumber(v float64, size int) []byte {
	p := make([]byte, size)
	neg := v < 0
	u := uint64(math.Abs(math.Round(v)))
	digits := 2*size - 1
	if !neg {
		digits = 2 * size
	}
	for i := 0; i < digits; i++ {
		d := byte(u % 10)
		u /= 10
		pos := 2*size - 1 - i
		if pos%2 == 1 {
			p[pos/2] |= d
		} else {
			p[pos/2] |= d << 4
		}
	}
	if neg {
		p[0] |= 0xF0
	}
	return p
}

// Times: STIME_DATE, LTIME_DATE and HTIME_DATE carry no zone; amigo
// reads and writes them as UTC (the meter's clock in ST52 says whether
// it is local time in TIME_DATE_QUAL). Years of two digits are 2000..2099
// for 00..89 and 1990..1999 for 90..99, as the standard's window says.

func (r *reader) ltime(field string) time.Time {
	return r.dateTime(field, r.f.LTimeSize(), true, false)
}
func (r *reader) stime(field string) time.Time {
	return r.dateTime(field, r.f.STimeSize(), false, false)
}
func (r *reader) htime(field string) time.Time { return r.dateTime(field, r.f.HTimeSize(), true, true) }
func (r *reader) timeOfDay(field string) time.Duration {
	p := r.take(r.f.TimeSize(), field)
	if p == nil {
		return 0
	}
	switch r.f.Time {
	case TimeBCD, TimeUint8:
		h, m, s := p[0], p[1], p[2]
		if r.f.Time == TimeBCD {
			var err error
			if h, err = fromBCD(h); err == nil {
				if m, err = fromBCD(m); err == nil {
					s, err = fromBCD(s)
				}
			}
			if err != nil {
				r.fail(field, "%v", err)
				return 0
			}
		}
		return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second
	default:
		return time.Duration(uintOf(p, r.f.order())) * time.Second
	}
}

func fromBCD(c byte) (byte, error) {
	if c>>4 > 9 || c&15 > 9 {
		return 0, fmt.Errorf("0x%02X is not BCD", c)
	}
	return c>>4*10 + c&15, nil
}

func toBCD(v int) byte { return byte(v/10%10)<<4 | byte(v%10) }

func (r *reader) dateTime(field string, size int, secs, hundredths bool) time.Time {
	if r.f.Time == TimeNone {
		return time.Time{}
	}
	p := r.take(size, field)
	if p == nil {
		return time.Time{}
	}
	switch r.f.Time {
	case TimeBCD, TimeUint8:
		var v [7]int
		for i, c := range p {
			if r.f.Time == TimeBCD {
				d, err := fromBCD(c)
				if err != nil {
					r.fail(field, "%v", err)
					return time.Time{}
				}
				v[i] = int(d)
			} else {
				v[i] = int(c)
			}
		}
		if v == [7]int{} {
			return time.Time{} // all zero: no time recorded
		}
		year := 2000 + v[0]
		if v[0] >= 90 {
			year = 1900 + v[0]
		}
		if v[0] > 99 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 59 || v[6] > 99 {
			r.fail(field, "% X is not a date and time", p)
			return time.Time{}
		}
		t := time.Date(year, time.Month(v[1]), v[2], v[3], v[4], v[5], v[6]*1e7, time.UTC)
		if t.Day() != v[2] {
			r.fail(field, "% X is not a date and time (day %d of month %d)", p, v[2], v[1])
			return time.Time{}
		}
		return t
	case TimeMinute:
		o := r.f.order()
		mins := o.Uint32(p)
		if secs && p[4] > 59 || hundredths && p[5] > 99 {
			r.fail(field, "% X is not a date and time", p)
			return time.Time{}
		}
		t := time.Unix(int64(mins)*60, 0).UTC()
		if secs {
			t = t.Add(time.Duration(p[4]) * time.Second)
		}
		if hundredths {
			t = t.Add(time.Duration(p[5]) * 10 * time.Millisecond)
		}
		if mins == 0 && (!secs || p[4] == 0) && (!hundredths || p[5] == 0) {
			return time.Time{}
		}
		return t
	default:
		s := r.f.order().Uint32(p)
		if hundredths && p[4] > 99 {
			r.fail(field, "% X is not a date and time", p)
			return time.Time{}
		}
		if s == 0 && !hundredths {
			return time.Time{}
		}
		t := time.Unix(int64(s), 0).UTC()
		if hundredths {
			t = t.Add(time.Duration(p[4]) * 10 * time.Millisecond)
		}
		return t
	}
}

// writer builds a table in format f.
type writer struct {
	b []byte
	f Format
}

func newWriter(f Format) *writer { return &writer{f: f} }

func (w *writer) u8(v uint8) { w.b = append(w.b, v) }

func (w *writer) uint(v uint64, n int) {
	if w.f.BigEndian {
		for i := n - 1; i >= 0; i-- {
			w.b = append(w.b, byte(v>>(8*i)))
		}
		return
	}
	for i := 0; i < n; i++ {
		w.b = append(w.b, byte(v>>(8*i)))
	}
}

func (w *writer) u16(v uint16)       { w.uint(uint64(v), 2) }
func (w *writer) u32(v uint32)       { w.uint(uint64(v), 4) }
func (w *writer) int(v int64, n int) { w.uint(unsigned(v, n, w.f.Int), n) }
func (w *writer) bytes(p []byte)     { w.b = append(w.b, p...) }
func (w *writer) fixed(p []byte, n int) {
	q := make([]byte, n)
	copy(q, p)
	w.b = append(w.b, q...)
}

func (w *writer) set(s Set, octets int) { w.fixed(s, octets) }

// str writes s in n octets, padded with spaces; characters the format
// cannot carry become '?'.
func (w *writer) str(s string, n int) { w.b = append(w.b, encodeString(s, n, w.f.Char)...) }

func encodeString(s string, n int, c CharFormat) []byte {
	p := make([]byte, 0, n)
	for _, r := range s {
		if len(p) >= n {
			break
		}
		switch {
		case c == CharUTF8:
			var buf [4]byte
			k := utf8.EncodeRune(buf[:], r)
			if len(p)+k > n {
				return pad(p, n)
			}
			p = append(p, buf[:k]...)
			continue
		case r < 0x80 || (c == CharISO8859 && r < 0x100):
			p = append(p, byte(r))
		default:
			p = append(p, '?')
		}
	}
	return pad(p, n)
}

func pad(p []byte, n int) []byte {
	for len(p) < n {
		p = append(p, ' ')
	}
	return p[:n]
}

func (w *writer) id(s string, n int) {
	if !w.f.BCDID {
		w.str(s, n)
		return
	}
	p := make([]byte, n/2)
	for i := 0; i < n; i++ {
		d := byte(0xF)
		if i < len(s) && s[i] >= '0' && s[i] <= '9' {
			d = s[i] - '0'
		}
		if i%2 == 0 {
			p[i/2] |= d << 4
		} else {
			p[i/2] |= d
		}
	}
	w.b = append(w.b, p...)
}

func (w *writer) ni(v float64, n NIFormat) {
	w.b = append(w.b, encodeNI(v, n, w.f)...)
}

func encodeNI(v float64, n NIFormat, f Format) []byte {
	size := n.Size()
	o := f.order()
	p := make([]byte, size)
	switch n {
	case NIFloat64:
		o.PutUint64(p, math.Float64bits(v))
	case NIFloat32:
		o.PutUint32(p, math.Float32bits(float32(v)))
	case NIFloatChar6, NIFloatChar12, NIFloatChar21:
		s := floatChars(v, size)
		copy(p, pad([]byte(s), size))
	case NIFixedBCD4, NIFixedBCD6, NIFixedBCD8:
		return encodeBCDNumber(v, size)
	case NIInt32Milli4:
		w := writer{f: f}
		w.int(clampInt(math.Round(v*10000), 4), 4)
		return w.b
	default:
		if size == 0 {
			return nil
		}
		w := writer{f: f}
		w.int(clampInt(math.Round(v), size), size)
		return w.b
	}
	return p
}

// clampInt keeps a value within what n octets of signed integer carry, so
// an out-of-range value saturates rather than wrapping.
func clampInt(v float64, n int) int64 {
	limit := math.Ldexp(1, 8*n-1)
	switch {
	case math.IsNaN(v):
		return 0
	case v >= limit:
		if n == 8 {
			return math.MaxInt64
		}
		return int64(limit) - 1
	case v < -limit:
		if n == 8 {
			return math.MinInt64
		}
		return -int64(limit)
	}
	return int64(v)
}

// floatChars formats v in at most size characters, with as many
// significant digits as fit.
func floatChars(v float64, size int) string {
	for prec := size; prec >= 1; prec-- {
		s := strconv.FormatFloat(v, 'G', prec, 64)
		if len(s) <= size {
			return s
		}
	}
	return strings.Repeat("9", size)
}

func (w *writer) ltime(t time.Time) { w.dateTime(t, w.f.LTimeSize(), true, false) }
func (w *writer) stime(t time.Time) { w.dateTime(t, w.f.STimeSize(), false, false) }
func (w *writer) htime(t time.Time) { w.dateTime(t, w.f.HTimeSize(), true, true) }

func (w *writer) timeOfDay(d time.Duration) {
	switch w.f.Time {
	case TimeNone:
	case TimeBCD, TimeUint8:
		s := int(d / time.Second)
		h, m, sec := s/3600%24, s/60%60, s%60
		if w.f.Time == TimeBCD {
			w.b = append(w.b, toBCD(h), toBCD(m), toBCD(sec))
		} else {
			w.b = append(w.b, byte(h), byte(m), byte(sec))
		}
	default:
		w.u32(uint32(d / time.Second))
	}
}

func (w *writer) dateTime(t time.Time, size int, secs, hundredths bool) {
	switch w.f.Time {
	case TimeNone:
		return
	case TimeBCD, TimeUint8:
		if t.IsZero() {
			w.b = append(w.b, make([]byte, size)...)
			return
		}
		t = t.UTC()
		v := []int{t.Year() % 100, int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond() / 1e7}[:size]
		for _, x := range v {
			if w.f.Time == TimeBCD {
				w.b = append(w.b, toBCD(x))
			} else {
				w.b = append(w.b, byte(x))
			}
		}
	case TimeMinute:
		if t.IsZero() {
			w.b = append(w.b, make([]byte, size)...)
			return
		}
		u := t.Unix()
		w.u32(uint32(u / 60))
		if secs {
			w.u8(uint8(u % 60))
		}
		if hundredths {
			w.u8(uint8(t.Nanosecond() / 1e7))
		}
	default:
		if t.IsZero() {
			w.b = append(w.b, make([]byte, size)...)
			return
		}
		w.u32(uint32(t.Unix()))
		if hundredths {
			w.u8(uint8(t.Nanosecond() / 1e7))
		}
	}
}

// Set is a C12.19 SET: a bitmap of elements, element n in octet n/8 at
// bit n%8 (bit 0 the least significant).
type Set []byte

// NewSet is a set of the given size in octets holding the elements named.
func NewSet(octets int, elems ...int) Set {
	s := make(Set, octets)
	for _, e := range elems {
		s.Add(e)
	}
	return s
}

// Has reports whether element n is in the set.
func (s Set) Has(n int) bool { return n >= 0 && n/8 < len(s) && s[n/8]&(1<<(n%8)) != 0 }

// Add puts element n in the set when the set is large enough to hold it.
func (s Set) Add(n int) {
	if n >= 0 && n/8 < len(s) {
		s[n/8] |= 1 << (n % 8)
	}
}

// Elems lists the elements in the set, ascending.
func (s Set) Elems() []int {
	var out []int
	for i := 0; i < 8*len(s); i++ {
		if s.Has(i) {
			out = append(out, i)
		}
	}
	return out
}

func setOctets(bits int) int { return (bits + 7) / 8 }

// EncodeLTime is t as LTIME_DATE in format f (UTC fields).
func (f Format) EncodeLTime(t time.Time) []byte { w := newWriter(f); w.ltime(t); return w.b }

// EncodeSTime is t as STIME_DATE (minutes) in format f.
func (f Format) EncodeSTime(t time.Time) []byte { w := newWriter(f); w.stime(t); return w.b }

// EncodeHTime is t as HTIME_DATE (hundredths of a second) in format f.
func (f Format) EncodeHTime(t time.Time) []byte { w := newWriter(f); w.htime(t); return w.b }

// DecodeLTime decodes an LTIME_DATE of format f; all-zero fields are the
// zero time.
func (f Format) DecodeLTime(b []byte) (time.Time, error) {
	r := newReader(b, f, noTable)
	t := r.ltime("LTIME_DATE")
	return t, r.end()
}

// DecodeSTime decodes an STIME_DATE of format f.
func (f Format) DecodeSTime(b []byte) (time.Time, error) {
	r := newReader(b, f, noTable)
	t := r.stime("STIME_DATE")
	return t, r.end()
}

// DecodeHTime decodes an HTIME_DATE of format f.
func (f Format) DecodeHTime(b []byte) (time.Time, error) {
	r := newReader(b, f, noTable)
	t := r.htime("HTIME_DATE")
	return t, r.end()
}

// EncodeNI is v in non-integer format n (NI1 or NI2 of f). Integer
// formats round v and saturate at their range.
func (f Format) EncodeNI(v float64, n NIFormat) []byte { return encodeNI(v, n, f) }

// DecodeNI decodes one value of non-integer format n.
func (f Format) DecodeNI(b []byte, n NIFormat) (float64, error) {
	r := newReader(b, f, noTable)
	v := r.ni(n, n.String())
	return v, r.end()
}
