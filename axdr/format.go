package axdr

import (
	"bytes"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
)

var tagNames = map[Tag]string{
	TagNull:          "null-data",
	TagArray:         "array",
	TagStructure:     "structure",
	TagBoolean:       "boolean",
	TagBitString:     "bit-string",
	TagInt32:         "int32",
	TagUint32:        "uint32",
	TagOctetString:   "octet-string",
	TagVisibleString: "visible-string",
	TagUTF8String:    "utf8-string",
	TagBCD:           "bcd",
	TagInt8:          "int8",
	TagInt16:         "int16",
	TagUint8:         "uint8",
	TagUint16:        "uint16",
	TagCompactArray:  "compact-array",
	TagInt64:         "int64",
	TagUint64:        "uint64",
	TagEnum:          "enum",
	TagFloat32:       "float32",
	TagFloat64:       "float64",
	TagDateTime:      "date-time",
	TagDate:          "date",
	TagTime:          "time",
	TagDontCare:      "dont-care",
}

// String returns the type name, e.g. "uint32" or "octet-string".
func (t Tag) String() string {
	if s, ok := tagNames[t]; ok {
		return s
	}
	return "tag(" + itoa(int(t)) + ")"
}

// Equal reports whether d and o are the same value: same tag, same bits,
// same bytes, and equal items. Floats compare by bit pattern, so a NaN
// equals the identical NaN. A compact array without Desc compares as if it
// carried the description of its first item.
func (d Data) Equal(o Data) bool {
	if d.Tag != o.Tag || d.bits != o.bits || !bytes.Equal(d.Bytes, o.Bytes) || len(d.Items) != len(o.Items) {
		return false
	}
	if d.Tag == TagCompactArray && !d.compactDesc().Equal(o.compactDesc()) {
		return false
	}
	for i := range d.Items {
		if !d.Items[i].Equal(o.Items[i]) {
			return false
		}
	}
	return true
}

// Clone returns a deep copy of d that shares no memory with the input it
// was decoded from: all items in one new array and all bytes in one new
// buffer. Compact-array descriptions are shared, as nothing modifies them.
func (d Data) Clone() Data {
	nodes, nbytes := d.footprint()
	c := cloner{items: make([]Data, nodes), bytes: make([]byte, 0, nbytes)}
	return c.clone(d)
}

func (d Data) footprint() (nodes, nbytes int) {
	nbytes = len(d.Bytes)
	nodes = len(d.Items)
	for i := range d.Items {
		n, b := d.Items[i].footprint()
		nodes += n
		nbytes += b
	}
	return nodes, nbytes
}

type cloner struct {
	items []Data
	bytes []byte
}

func (c *cloner) clone(d Data) Data {
	if d.Bytes != nil {
		start := len(c.bytes)
		c.bytes = append(c.bytes, d.Bytes...)
		d.Bytes = c.bytes[start:len(c.bytes):len(c.bytes)]
	}
	if d.Items != nil {
		n := len(d.Items)
		items := c.items[:n:n]
		c.items = c.items[n:]
		for i := range d.Items {
			items[i] = c.clone(d.Items[i])
		}
		d.Items = items
	}
	return d
}

// maxShownItems bounds how many items String prints per array, so that
// logging a load profile stays readable.
const maxShownItems = 32

// String renders d for people, e.g. "uint32 1234", "octet-string 0x0102",
// "structure{int8 -2, enum 30}", "array[96]{...}", or
// "date-time 2026-11-23T21:22:37.00 dow=1 dev=+0 status=0x00". Arrays show
// at most 32 items.
func (d Data) String() string {
	var sb strings.Builder
	d.format(&sb)
	return sb.String()
}

func (d Data) format(sb *strings.Builder) {
	sb.WriteString(d.Tag.String())
	switch d.Tag {
	case TagNull, TagDontCare:
	case TagBoolean:
		if d.bits != 0 {
			sb.WriteString(" true")
		} else {
			sb.WriteString(" false")
		}
	case TagInt8, TagInt16, TagInt32, TagInt64:
		sb.WriteByte(' ')
		sb.WriteString(strconv.FormatInt(int64(d.bits), 10))
	case TagUint8, TagUint16, TagUint32, TagUint64, TagEnum:
		sb.WriteByte(' ')
		sb.WriteString(strconv.FormatUint(d.bits, 10))
	case TagBCD:
		sb.WriteString(" 0x")
		sb.WriteString(hex.EncodeToString([]byte{byte(d.bits)}))
	case TagFloat32:
		sb.WriteByte(' ')
		sb.WriteString(strconv.FormatFloat(float64(math.Float32frombits(uint32(d.bits))), 'g', -1, 32))
	case TagFloat64:
		sb.WriteByte(' ')
		sb.WriteString(strconv.FormatFloat(math.Float64frombits(d.bits), 'g', -1, 64))
	case TagOctetString:
		sb.WriteString(" 0x")
		sb.WriteString(strings.ToUpper(hex.EncodeToString(d.Bytes)))
	case TagVisibleString, TagUTF8String:
		sb.WriteByte(' ')
		sb.WriteString(strconv.Quote(string(d.Bytes)))
	case TagBitString:
		sb.WriteString(" 0b")
		for i := 0; i < int(d.bits); i++ {
			bit := byte('0')
			if i/8 < len(d.Bytes) && d.Bytes[i/8]&(0x80>>(i%8)) != 0 {
				bit = '1'
			}
			sb.WriteByte(bit)
		}
	case TagDateTime:
		sb.WriteByte(' ')
		if dt, err := ParseDateTime(d.Bytes); err == nil {
			sb.WriteString(dt.String())
		} else {
			sb.WriteString("0x" + strings.ToUpper(hex.EncodeToString(d.Bytes)))
		}
	case TagDate:
		sb.WriteByte(' ')
		if v, err := ParseDate(d.Bytes); err == nil {
			sb.WriteString(v.String())
		} else {
			sb.WriteString("0x" + strings.ToUpper(hex.EncodeToString(d.Bytes)))
		}
	case TagTime:
		sb.WriteByte(' ')
		if v, err := ParseTime(d.Bytes); err == nil {
			sb.WriteString(v.String())
		} else {
			sb.WriteString("0x" + strings.ToUpper(hex.EncodeToString(d.Bytes)))
		}
	case TagArray, TagStructure, TagCompactArray:
		if d.Tag != TagStructure {
			sb.WriteByte('[')
			sb.WriteString(itoa(len(d.Items)))
			sb.WriteByte(']')
		}
		if d.Tag == TagCompactArray {
			sb.WriteString(" of ")
			d.compactDesc().format(sb)
		}
		sb.WriteByte('{')
		for i := range d.Items {
			if i == maxShownItems && d.Tag != TagStructure {
				sb.WriteString(", ...")
				break
			}
			if i > 0 {
				sb.WriteString(", ")
			}
			d.Items[i].format(sb)
		}
		sb.WriteByte('}')
	}
}
