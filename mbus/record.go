package mbus

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrRecord reports a data record that cannot be decoded or encoded.
var ErrRecord = errors.New("mbus: bad data record")

// Function is the DIF's function field (EN 13757-3 table 6).
type Function byte

// The four functions of a value.
const (
	Instantaneous Function = 0
	Maximum       Function = 1
	Minimum       Function = 2
	ValueAtError  Function = 3
)

func (f Function) String() string {
	switch f {
	case Instantaneous:
		return "instantaneous"
	case Maximum:
		return "maximum"
	case Minimum:
		return "minimum"
	case ValueAtError:
		return "value during error state"
	}
	return fmt.Sprintf("function(%d)", byte(f))
}

// Coding is the DIF's data field (EN 13757-3 table 4): how the value's
// bytes are coded.
type Coding byte

// The data field codes.
const (
	NoData   Coding = 0x0
	Int8     Coding = 0x1
	Int16    Coding = 0x2 // also date type G with VIF 0x6C
	Int24    Coding = 0x3 // also time type J with VIF 0x6D
	Int32    Coding = 0x4 // also date and time type F with VIF 0x6D
	Real32   Coding = 0x5
	Int48    Coding = 0x6 // also date and time type I with VIF 0x6D
	Int64    Coding = 0x7
	Readout  Coding = 0x8 // selection for readout: no data
	BCD2     Coding = 0x9
	BCD4     Coding = 0xA
	BCD6     Coding = 0xB
	BCD8     Coding = 0xC
	Variable Coding = 0xD
	BCD12    Coding = 0xE
	Special  Coding = 0xF
)

// Len returns the number of data bytes of a fixed-length coding, -1 for
// Variable and Special.
func (c Coding) Len() int {
	switch c {
	case NoData, Readout:
		return 0
	case Int8, BCD2:
		return 1
	case Int16, BCD4:
		return 2
	case Int24, BCD6:
		return 3
	case Int32, Real32, BCD8:
		return 4
	case Int48, BCD12:
		return 6
	case Int64:
		return 8
	}
	return -1
}

// DIF special functions (coding 0xF).
const (
	DIFManufacturer  = 0x0F // manufacturer specific data to the end of the telegram
	DIFMoreRecords   = 0x1F // as 0x0F, and more records follow in the next telegram
	DIFIdleFiller    = 0x2F // fills, carries nothing
	DIFGlobalReadout = 0x7F
)

// Kind says which field of a Value holds it.
type Kind byte

// Value kinds.
const (
	KindNone  Kind = iota // no data
	KindInt               // Int (integers and BCD)
	KindReal              // Real (32-bit IEEE 754)
	KindTime              // Time (types F, G, I, J)
	KindText              // Text (variable length ASCII)
	KindBytes             // Bytes (binary of variable length, manufacturer data)
)

// Value is a record's data, decoded by its coding and VIF.
type Value struct {
	Kind  Kind
	Int   int64
	Real  float64
	Time  time.Time // in UTC as coded (M-Bus carries local wall time without a zone)
	Text  string
	Bytes []byte
	// Invalid is a date/time's IV bit (types F, I, J): the meter says the
	// value is not valid.
	Invalid bool
	// Summer is a date/time's SU bit: daylight saving time was in effect.
	Summer bool
}

// Quantity is what a VIF says a value measures.
type Quantity byte

// Quantities of the primary VIF table and the common ones of the 0xFB and
// 0xFD extension tables.
const (
	QuantityUnknown Quantity = iota
	Energy
	Volume
	Mass
	OnTime
	OperatingTime
	Power
	VolumeFlow
	MassFlow
	FlowTemperature
	ReturnTemperature
	TemperatureDifference
	ExternalTemperature
	Pressure
	Date
	DateTime
	HCAUnits
	AveragingDuration
	ActualityDuration
	FabricationNumber
	Identification
	BusAddress
	TemperatureLimit
	Credit
	Debit
	AccessNumber
	MediumCode
	ManufacturerField
	ParameterSet
	ModelVersion
	HardwareVersion
	FirmwareVersion
	SoftwareVersion
	CustomerLocation
	Customer
	ErrorFlags
	ErrorMask
	DigitalOutput
	DigitalInput
	BaudRate
	ResponseDelay
	Retry
	StorageInterval
	DurationSinceReadout
	Voltage
	Current
	ResetCounter
	CumulationCounter
	Dimensionless
	OperatingTimeBattery
	BatteryChangeDate
	Manufacturer  // VIF 0x7F/0xFF, or DIF 0x0F/0x1F data
	PlainTextUnit // VIF 0x7C: the unit is the text in the VIB
	AnyVIF        // VIF 0x7E (in readout requests)
)

var quantityNames = [...]string{
	QuantityUnknown: "unknown", Energy: "energy", Volume: "volume", Mass: "mass",
	OnTime: "on time", OperatingTime: "operating time", Power: "power",
	VolumeFlow: "volume flow", MassFlow: "mass flow", FlowTemperature: "flow temperature",
	ReturnTemperature: "return temperature", TemperatureDifference: "temperature difference",
	ExternalTemperature: "external temperature", Pressure: "pressure", Date: "date",
	DateTime: "date and time", HCAUnits: "HCA units", AveragingDuration: "averaging duration",
	ActualityDuration: "actuality duration", FabricationNumber: "fabrication number",
	Identification: "identification", BusAddress: "bus address", TemperatureLimit: "temperature limit",
	Credit: "credit", Debit: "debit", AccessNumber: "access number", MediumCode: "medium",
	ManufacturerField: "manufacturer", ParameterSet: "parameter set", ModelVersion: "model version",
	HardwareVersion: "hardware version", FirmwareVersion: "firmware version",
	SoftwareVersion: "software version", CustomerLocation: "customer location", Customer: "customer",
	ErrorFlags: "error flags", ErrorMask: "error mask", DigitalOutput: "digital output",
	DigitalInput: "digital input", BaudRate: "baud rate", ResponseDelay: "response delay",
	Retry: "retry", StorageInterval: "storage interval", DurationSinceReadout: "duration since readout",
	Voltage: "voltage", Current: "current", ResetCounter: "reset counter",
	CumulationCounter: "cumulation counter", Dimensionless: "dimensionless",
	OperatingTimeBattery: "operating time battery", BatteryChangeDate: "battery change date",
	Manufacturer: "manufacturer specific", PlainTextUnit: "plain text unit", AnyVIF: "any",
}

func (q Quantity) String() string {
	if int(q) < len(quantityNames) && quantityNames[q] != "" {
		return quantityNames[q]
	}
	return fmt.Sprintf("quantity(%d)", byte(q))
}

// Record is one data record of a variable data structure.
type Record struct {
	// DIF and DIFE are the data information block as sent.
	DIF  byte
	DIFE []byte
	// VIB is the value information block as sent: the VIF, any VIFEs, and
	// for VIF 0x7C/0xFC its length-prefixed text. Encoding derives it from
	// Quantity and Exponent when empty.
	VIB []byte

	Function Function
	Coding   Coding
	Storage  uint64 // storage number: 0 is the current value
	Tariff   uint32
	Subunit  uint32

	Quantity Quantity
	// Unit is the quantity's SI unit as EN 13757-3 names it ("Wh", "m³",
	// "°C", "s"…); the value in Unit is the value times 10^Exponent.
	Unit     string
	Exponent int
	// Extensions describes combinable VIFEs ("per hour", "lower limit
	// value"…) in order; raw bytes stay in VIB.
	Extensions []string

	Value Value
}

// MoreFollows reports whether this is a DIF 0x1F record: the slave has more
// records in its next telegram.
func (r Record) MoreFollows() bool { return r.DIF == DIFMoreRecords }

// Float returns a numeric value scaled to Unit, and false for values that
// are not numbers.
func (r Record) Float() (float64, bool) {
	switch r.Value.Kind {
	case KindInt:
		return float64(r.Value.Int) * math.Pow10(r.Exponent), true
	case KindReal:
		return r.Value.Real * math.Pow10(r.Exponent), true
	}
	return 0, false
}

// Decimal is a numeric record's value as exact decimal text ("0.018"
// for 18 at exponent -3), which Float cannot give: 18 × 10^-3 is not a
// binary fraction. False for a record that is not a number.
func (r Record) Decimal() (string, bool) {
	switch r.Value.Kind {
	case KindInt:
		return decimalText(r.Value.Int, r.Exponent), true
	case KindReal:
		f, _ := r.Float()
		return strconv.FormatFloat(f, 'g', -1, 64), true
	}
	return "", false
}

func decimalText(v int64, exp int) string {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	switch {
	case exp > 0:
		s += strings.Repeat("0", exp)
	case exp < 0:
		n := -exp
		if len(s) <= n {
			s = strings.Repeat("0", n-len(s)+1) + s
		}
		s = s[:len(s)-n] + "." + s[len(s)-n:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// IsTime reports whether the VIF makes an integer coding a date or time.
func (r Record) IsTime() bool {
	return r.Quantity == Date || r.Quantity == DateTime || r.Quantity == BatteryChangeDate
}

const maxDIFE = 10

// DecodeRecords decodes the records of a variable data structure (the
// bytes after the data header). A manufacturer specific tail (DIF 0x0F or
// 0x1F) ends the list as a record of Quantity Manufacturer with the raw
// bytes in Value.Bytes; idle fillers are skipped.
func DecodeRecords(b []byte) ([]Record, error) {
	var out []Record
	for i := 0; i < len(b); {
		start := i
		dif := b[i]
		i++
		if dif == DIFIdleFiller {
			continue
		}
		if dif == DIFManufacturer || dif == DIFMoreRecords {
			out = append(out, Record{DIF: dif, Coding: Special, Quantity: Manufacturer,
				Value: Value{Kind: KindBytes, Bytes: append([]byte(nil), b[i:]...)}})
			return out, nil
		}
		if dif&0x0F == 0x0F {
			return out, fmt.Errorf("%w at byte %d: special DIF %#02x not allowed here", ErrRecord, start, dif)
		}
		r := Record{DIF: dif, Function: Function(dif >> 4 & 3), Coding: Coding(dif & 0x0F), Storage: uint64(dif >> 6 & 1)}
		ext := dif&0x80 != 0
		for n := 0; ext; n++ {
			if n == maxDIFE {
				return out, fmt.Errorf("%w at byte %d: more than %d DIFEs", ErrRecord, start, maxDIFE)
			}
			if i >= len(b) {
				return out, fmt.Errorf("%w at byte %d: DIFE missing", ErrRecord, start)
			}
			e := b[i]
			i++
			r.DIFE = append(r.DIFE, e)
			r.Storage |= uint64(e&0x0F) << (1 + 4*n)
			r.Tariff |= uint32(e>>4&3) << (2 * n)
			r.Subunit |= uint32(e>>6&1) << n
			ext = e&0x80 != 0
		}
		if i >= len(b) {
			return out, fmt.Errorf("%w at byte %d: VIF missing", ErrRecord, start)
		}
		n, err := decodeVIB(&r, b[i:])
		if err != nil {
			return out, fmt.Errorf("%w at byte %d: %v", ErrRecord, start, err)
		}
		r.VIB = append([]byte(nil), b[i:i+n]...)
		i += n
		n, err = decodeData(&r, b[i:])
		if err != nil {
			return out, fmt.Errorf("%w at byte %d (%s): %v", ErrRecord, start, r.Quantity, err)
		}
		i += n
		out = append(out, r)
	}
	return out, nil
}

// decodeData decodes the value of r's coding from b and returns its length.
func decodeData(r *Record, b []byte) (int, error) {
	c := r.Coding
	if c == Variable {
		return decodeVariable(r, b)
	}
	n := c.Len()
	if n < 0 {
		return 0, fmt.Errorf("coding %#x has no data", byte(c))
	}
	if len(b) < n {
		return 0, fmt.Errorf("data needs %d bytes, %d left", n, len(b))
	}
	d := b[:n]
	switch c {
	case NoData, Readout:
		r.Value = Value{Kind: KindNone}
	case Real32:
		r.Value = Value{Kind: KindReal, Real: float64(math.Float32frombits(uint32(le(d))))}
	case BCD2, BCD4, BCD6, BCD8, BCD12:
		v, neg, err := decodeBCD(d)
		if err != nil {
			return 0, err
		}
		if neg {
			v = -v
		}
		r.Value = Value{Kind: KindInt, Int: v}
	default:
		if r.IsTime() {
			t, err := decodeTime(d)
			if err != nil {
				return 0, err
			}
			r.Value = t
			break
		}
		u := le(d)
		shift := 64 - 8*uint(n)
		r.Value = Value{Kind: KindInt, Int: int64(u<<shift) >> shift}
	}
	return n, nil
}

func decodeVariable(r *Record, b []byte) (int, error) {
	if len(b) < 1 {
		return 0, errors.New("LVAR missing")
	}
	l := int(b[0])
	var n int
	switch {
	case l <= 0xBF:
		n = l
	case l >= 0xC0 && l <= 0xC9, l >= 0xD0 && l <= 0xD9:
		n = l & 0x0F
	case l >= 0xE0 && l <= 0xEF:
		n = l - 0xE0
	case l >= 0xF0 && l <= 0xF4:
		n = 4 * (l - 0xEC)
	case l == 0xF5:
		n = 48
	case l == 0xF6:
		n = 64
	default:
		return 0, fmt.Errorf("LVAR %#02x reserved", l)
	}
	if len(b)-1 < n {
		return 0, fmt.Errorf("variable data needs %d bytes, %d left", n, len(b)-1)
	}
	d := b[1 : 1+n]
	switch {
	case l <= 0xBF:
		// Characters are sent last first.
		t := make([]byte, n)
		for k := range d {
			t[n-1-k] = d[k]
		}
		r.Value = Value{Kind: KindText, Text: string(t)}
	case l >= 0xC0 && l <= 0xD9:
		v, neg, err := decodeBCD(d)
		if err != nil {
			return 0, err
		}
		if neg || l >= 0xD0 {
			v = -v
		}
		r.Value = Value{Kind: KindInt, Int: v}
	default:
		r.Value = Value{Kind: KindBytes, Bytes: append([]byte(nil), d...)}
		if n <= 8 {
			r.Value.Int = int64(le(d))
		}
	}
	return 1 + n, nil
}

func le(d []byte) uint64 {
	var u uint64
	for k := len(d) - 1; k >= 0; k-- {
		u = u<<8 | uint64(d[k])
	}
	return u
}

// decodeBCD decodes least significant byte first BCD; a top nibble of 0xF
// marks a negative number (EN 13757-3 annex B).
func decodeBCD(d []byte) (int64, bool, error) {
	var v int64
	neg := false
	for k := len(d) - 1; k >= 0; k-- {
		hi, lo := d[k]>>4, d[k]&0x0F
		if k == len(d)-1 && hi == 0xF {
			neg, hi = true, 0
		}
		if hi > 9 || lo > 9 {
			return 0, false, fmt.Errorf("BCD % X has a digit over 9", d)
		}
		v = v*100 + int64(hi)*10 + int64(lo)
	}
	return v, neg, nil
}

func appendBCD(dst []byte, v uint64, n int) []byte {
	for k := 0; k < n; k++ {
		dst = append(dst, byte(v%10)|byte(v/10%10)<<4)
		v /= 100
	}
	return dst
}

// decodeTime decodes types G (2 bytes), J (3), F (4) and I (6) of
// EN 13757-3 annex A. Years are 2000..2099.
func decodeTime(d []byte) (Value, error) {
	v := Value{Kind: KindTime}
	if allFF(d) && len(d) != 3 {
		// All ones: many meters write this for a date they do not have
		// (a due date never set), although annex A defines no such value.
		// Refusing it would lose every record after it.
		v.Invalid = true
		return v, nil
	}
	var year, month, day, hour, min, sec int
	switch len(d) {
	case 2: // G
		day = int(d[0] & 0x1F)
		year = int(d[0]>>5) | int(d[1]&0xF0)>>1
		month = int(d[1] & 0x0F)
	case 3: // J
		sec, min, hour = int(d[0]&0x3F), int(d[1]&0x3F), int(d[2]&0x1F)
		if sec > 59 || min > 59 || hour > 23 {
			return v, fmt.Errorf("time % X out of range", d)
		}
		v.Time = time.Date(0, 1, 1, hour, min, sec, 0, time.UTC)
		return v, nil
	case 4: // F
		min, hour = int(d[0]&0x3F), int(d[1]&0x1F)
		v.Invalid, v.Summer = d[0]&0x80 != 0, d[1]&0x80 != 0
		day = int(d[2] & 0x1F)
		year = int(d[2]>>5) | int(d[3]&0xF0)>>1
		month = int(d[3] & 0x0F)
	case 6: // I
		sec, min, hour = int(d[0]&0x3F), int(d[1]&0x3F), int(d[2]&0x1F)
		v.Invalid, v.Summer = d[1]&0x80 != 0, d[5]&0x40 != 0
		day = int(d[3] & 0x1F)
		year = int(d[3]>>5) | int(d[4]&0xF0)>>1
		month = int(d[4] & 0x0F)
	default:
		return v, fmt.Errorf("no date/time type of %d bytes", len(d))
	}
	if day == 0 && month == 0 && year == 0 {
		// All zero: the meter has no such date yet.
		v.Invalid = true
		return v, nil
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59 {
		return v, fmt.Errorf("date/time % X out of range", d)
	}
	v.Time = time.Date(2000+year, time.Month(month), day, hour, min, sec, 0, time.UTC)
	return v, nil
}

func allFF(d []byte) bool {
	for _, b := range d {
		if b != 0xFF {
			return false
		}
	}
	return len(d) > 0
}

// appendTime codes t's wall clock in n bytes (types G, J, F, I).
func appendTime(dst []byte, v Value, n int) ([]byte, error) {
	t := v.Time
	y := t.Year() - 2000
	if n != 3 && (y < 0 || y > 99) {
		return dst, fmt.Errorf("%w: year %d outside 2000..2099", ErrRecord, t.Year())
	}
	bit := func(b bool, m byte) byte {
		if b {
			return m
		}
		return 0
	}
	dy := byte(t.Day()) | byte(y&7)<<5
	my := byte(t.Month()) | byte(y>>3)<<4
	switch n {
	case 2:
		return append(dst, dy, my), nil
	case 3:
		return append(dst, byte(t.Second()), byte(t.Minute()), byte(t.Hour())), nil
	case 4:
		return append(dst, byte(t.Minute())|bit(v.Invalid, 0x80), byte(t.Hour())|bit(v.Summer, 0x80), dy, my), nil
	case 6:
		_, wk := t.ISOWeek()
		dow := (int(t.Weekday())+6)%7 + 1
		return append(dst, byte(t.Second()), byte(t.Minute())|bit(v.Invalid, 0x80),
			byte(t.Hour())|byte(dow)<<5, dy, my, byte(wk)|bit(v.Summer, 0x40)), nil
	}
	return dst, fmt.Errorf("%w: no date/time type of %d bytes", ErrRecord, n)
}

// EncodeRecords codes records as a variable data structure.
func EncodeRecords(rs []Record) ([]byte, error) {
	var out []byte
	for k, r := range rs {
		var err error
		if out, err = AppendRecord(out, r); err != nil {
			return nil, fmt.Errorf("record %d: %w", k, err)
		}
	}
	return out, nil
}

// AppendRecord appends r's coding to dst: the DIF and DIFEs from Function,
// Coding, Storage, Tariff and Subunit; the VIB as given, or from Quantity
// and Exponent; then the value.
func AppendRecord(dst []byte, r Record) ([]byte, error) {
	if r.Quantity == Manufacturer && (r.DIF == DIFManufacturer || r.DIF == DIFMoreRecords) {
		return append(append(dst, r.DIF), r.Value.Bytes...), nil
	}
	if r.Coding == Special || r.Coding > Special {
		return dst, fmt.Errorf("%w: coding %#x", ErrRecord, byte(r.Coding))
	}
	if r.Function > ValueAtError {
		return dst, fmt.Errorf("%w: function %d", ErrRecord, r.Function)
	}
	dif := byte(r.Coding) | byte(r.Function)<<4 | byte(r.Storage&1)<<6
	st, tf, su := r.Storage>>1, r.Tariff, r.Subunit
	var dife []byte
	for st != 0 || tf != 0 || su != 0 {
		if len(dife) == maxDIFE {
			return dst, fmt.Errorf("%w: storage %d, tariff %d, subunit %d need more than %d DIFEs", ErrRecord, r.Storage, r.Tariff, r.Subunit, maxDIFE)
		}
		dife = append(dife, byte(st&0x0F)|byte(tf&3)<<4|byte(su&1)<<6)
		st, tf, su = st>>4, tf>>2, su>>1
	}
	if len(dife) > 0 {
		dif |= 0x80
		for k := 0; k < len(dife)-1; k++ {
			dife[k] |= 0x80
		}
	}
	dst = append(dst, dif)
	dst = append(dst, dife...)
	vib := r.VIB
	if len(vib) == 0 {
		var err error
		if vib, err = VIBFor(r.Quantity, r.Exponent); err != nil {
			return dst, err
		}
	}
	dst = append(dst, vib...)
	isTime := r.Value.Kind == KindTime
	switch c := r.Coding; c {
	case NoData, Readout:
		return dst, nil
	case Real32:
		f := r.Value.Real
		if r.Value.Kind == KindInt {
			f = float64(r.Value.Int)
		}
		u := math.Float32bits(float32(f))
		return append(dst, byte(u), byte(u>>8), byte(u>>16), byte(u>>24)), nil
	case BCD2, BCD4, BCD6, BCD8, BCD12:
		n := c.Len()
		v := r.Value.Int
		neg := v < 0
		if neg {
			v = -v
		}
		max := int64(1)
		for k := 0; k < 2*n; k++ {
			max *= 10
		}
		if neg {
			max /= 10
		}
		if v >= max {
			return dst, fmt.Errorf("%w: %d does not fit %d BCD digits", ErrRecord, r.Value.Int, 2*n)
		}
		start := len(dst)
		dst = appendBCD(dst, uint64(v), n)
		if neg {
			dst[start+n-1] |= 0xF0
		}
		return dst, nil
	case Variable:
		switch r.Value.Kind {
		case KindText:
			t := r.Value.Text
			if len(t) > 0xBF {
				return dst, fmt.Errorf("%w: text of %d characters", ErrRecord, len(t))
			}
			dst = append(dst, byte(len(t)))
			for k := len(t) - 1; k >= 0; k-- {
				dst = append(dst, t[k])
			}
			return dst, nil
		case KindBytes:
			if len(r.Value.Bytes) > 15 {
				return dst, fmt.Errorf("%w: binary of %d bytes", ErrRecord, len(r.Value.Bytes))
			}
			return append(append(dst, byte(0xE0+len(r.Value.Bytes))), r.Value.Bytes...), nil
		}
		return dst, fmt.Errorf("%w: variable length coding of a %v value", ErrRecord, r.Value.Kind)
	default:
		n := c.Len()
		if isTime {
			return appendTime(dst, r.Value, n)
		}
		v := r.Value.Int
		if n < 8 {
			lim := int64(1) << (8*n - 1)
			if v < -lim || v >= lim {
				return dst, fmt.Errorf("%w: %d does not fit %d bytes", ErrRecord, v, n)
			}
		}
		for k := 0; k < n; k++ {
			dst = append(dst, byte(v>>(8*k)))
		}
		return dst, nil
	}
}
