// Package axdr owns the A-XDR encoding of COSEM data (IEC 62056-6-2 and the
// DLMS Green Book): the Data CHOICE with every simple and structured type,
// compact arrays, and the COSEM date, time and date-time octet strings.
//
// Codecs here are pure functions on byte slices. Decoding trusts no length
// field: nothing is allocated beyond what the remaining input can justify,
// and nesting is limited to MaxDepth.
package axdr

import "math"

// Tag is the A-XDR tag of a Data CHOICE alternative.
type Tag uint8

// Data CHOICE tags, as numbered in the Blue Book.
const (
	TagNull          Tag = 0
	TagArray         Tag = 1
	TagStructure     Tag = 2
	TagBoolean       Tag = 3
	TagBitString     Tag = 4
	TagInt32         Tag = 5 // double-long
	TagUint32        Tag = 6 // double-long-unsigned
	TagOctetString   Tag = 9
	TagVisibleString Tag = 10
	TagUTF8String    Tag = 12
	TagBCD           Tag = 13
	TagInt8          Tag = 15 // integer
	TagInt16         Tag = 16 // long
	TagUint8         Tag = 17 // unsigned
	TagUint16        Tag = 18 // long-unsigned
	TagCompactArray  Tag = 19
	TagInt64         Tag = 20 // long64
	TagUint64        Tag = 21 // long64-unsigned
	TagEnum          Tag = 22
	TagFloat32       Tag = 23
	TagFloat64       Tag = 24
	TagDateTime      Tag = 25
	TagDate          Tag = 26
	TagTime          Tag = 27
	TagDontCare      Tag = 255
)

// MaxDepth bounds the nesting of arrays and structures a decoder accepts.
const MaxDepth = 16

// Data is one COSEM value. The zero value is null-data.
//
// Scalars keep their bits in one word; strings, bit-strings and the
// date/time octets keep their bytes in Bytes; arrays and structures keep
// their elements in Items. A decoded Data aliases the input buffer and
// shares one backing array for all its descendants, so decoding a large
// profile costs a handful of allocations rather than one per value. Copy
// the input (or call Clone) before reusing it.
type Data struct {
	Tag Tag
	// bits holds integers (two's complement for signed), enum, boolean
	// (0/1), float bits, and for bit-strings the length in bits.
	bits  uint64
	Bytes []byte
	Items []Data
	// Compact arrays keep their type description so they re-encode as
	// they arrived.
	Desc *TypeDesc
}

// TypeDesc is a compact-array contents description (Blue Book 4.1.6.1).
type TypeDesc struct {
	Tag Tag
	// Array: Count elements of Elem. Structure: Fields.
	Count  uint16
	Elem   *TypeDesc
	Fields []TypeDesc
}

// Null returns null-data.
func Null() Data { return Data{} }

// DontCare returns dont-care (tag 255), which carries no value.
func DontCare() Data { return Data{Tag: TagDontCare} }

// Bool returns a boolean.
func Bool(v bool) Data {
	if v {
		return Data{Tag: TagBoolean, bits: 1}
	}
	return Data{Tag: TagBoolean}
}

// Int8 returns an integer (Int8).
func Int8(v int8) Data { return Data{Tag: TagInt8, bits: uint64(int64(v))} }

// Int16 returns a long (Int16).
func Int16(v int16) Data { return Data{Tag: TagInt16, bits: uint64(int64(v))} }

// Int32 returns a double-long (Int32).
func Int32(v int32) Data { return Data{Tag: TagInt32, bits: uint64(int64(v))} }

// Int64 returns a long64.
func Int64(v int64) Data { return Data{Tag: TagInt64, bits: uint64(v)} }

// Uint8 returns an unsigned (Unsigned8).
func Uint8(v uint8) Data { return Data{Tag: TagUint8, bits: uint64(v)} }

// Uint16 returns a long-unsigned.
func Uint16(v uint16) Data { return Data{Tag: TagUint16, bits: uint64(v)} }

// Uint32 returns a double-long-unsigned.
func Uint32(v uint32) Data { return Data{Tag: TagUint32, bits: uint64(v)} }

// Uint64 returns a long64-unsigned.
func Uint64(v uint64) Data { return Data{Tag: TagUint64, bits: v} }

// Enum returns an enum.
func Enum(v uint8) Data { return Data{Tag: TagEnum, bits: uint64(v)} }

// Float32 returns a float32.
func Float32(v float32) Data { return Data{Tag: TagFloat32, bits: uint64(math.Float32bits(v))} }

// Float64 returns a float64.
func Float64(v float64) Data { return Data{Tag: TagFloat64, bits: math.Float64bits(v)} }

// OctetString returns an octet-string holding b (not copied).
func OctetString(b []byte) Data { return Data{Tag: TagOctetString, Bytes: b} }

// VisibleString returns a visible-string.
func VisibleString(s string) Data { return Data{Tag: TagVisibleString, Bytes: []byte(s)} }

// UTF8String returns a utf8-string.
func UTF8String(s string) Data { return Data{Tag: TagUTF8String, Bytes: []byte(s)} }

// BCD returns a bcd value: one octet holding two BCD digits.
func BCD(v uint8) Data { return Data{Tag: TagBCD, bits: uint64(v)} }

// BitString returns a bit-string of n bits taken from b, most significant
// bit of b[0] first.
func BitString(b []byte, n int) Data { return Data{Tag: TagBitString, Bytes: b, bits: uint64(n)} }

// Array returns an array of items; all items should share one type.
func Array(items ...Data) Data { return Data{Tag: TagArray, Items: items} }

// Structure returns a structure of items.
func Structure(items ...Data) Data { return Data{Tag: TagStructure, Items: items} }

// Int returns the value of any signed or unsigned integer, enum or BCD type
// as an int64, and false for other types or an unsigned 64-bit value that
// does not fit.
func (d Data) Int() (int64, bool) {
	switch d.Tag {
	case TagInt8, TagInt16, TagInt32, TagInt64:
		return int64(d.bits), true
	case TagUint8, TagUint16, TagUint32, TagEnum, TagBCD:
		return int64(d.bits), true
	case TagUint64:
		if d.bits > math.MaxInt64 {
			return 0, false
		}
		return int64(d.bits), true
	}
	return 0, false
}

// Uint returns the value of an unsigned integer, enum or BCD type, or of a
// non-negative signed one.
func (d Data) Uint() (uint64, bool) {
	switch d.Tag {
	case TagUint8, TagUint16, TagUint32, TagUint64, TagEnum, TagBCD:
		return d.bits, true
	case TagInt8, TagInt16, TagInt32, TagInt64:
		if int64(d.bits) < 0 {
			return 0, false
		}
		return d.bits, true
	}
	return 0, false
}

// Bool returns the value of a boolean.
func (d Data) Bool() (v, ok bool) {
	if d.Tag != TagBoolean {
		return false, false
	}
	return d.bits != 0, true
}

// Float returns the value of a float32 or float64.
func (d Data) Float() (float64, bool) {
	switch d.Tag {
	case TagFloat32:
		return float64(math.Float32frombits(uint32(d.bits))), true
	case TagFloat64:
		return math.Float64frombits(d.bits), true
	}
	return 0, false
}

// BitLen returns the length in bits of a bit-string.
func (d Data) BitLen() int {
	if d.Tag != TagBitString {
		return 0
	}
	return int(d.bits)
}
