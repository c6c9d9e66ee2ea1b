package axdr

import "encoding/binary"

// Encode returns the A-XDR encoding of d in a buffer of exactly the right
// size.
func Encode(d Data) []byte {
	return d.Append(make([]byte, 0, d.EncodedLen()))
}

// Append appends the A-XDR encoding of d to b.
//
// Append cannot fail, so it writes malformed values in the nearest
// well-formed way: an unknown tag becomes null-data, date/time octets of
// the wrong length are cut or padded with 0xFF (not specified), and a
// bit-string with fewer bytes than bits is padded with zero bits. A
// compact array is written with its Desc (or, if nil, a description of its
// first item); its items must match that description.
func (d Data) Append(b []byte) []byte {
	switch d.Tag {
	case TagArray, TagStructure:
		b = append(b, byte(d.Tag))
		b = AppendLength(b, len(d.Items))
		for i := range d.Items {
			b = d.Items[i].Append(b)
		}
		return b
	case TagCompactArray:
		b = append(b, byte(TagCompactArray))
		b = d.compactDesc().Append(b)
		n := 0
		for i := range d.Items {
			n += d.Items[i].contentLen()
		}
		b = AppendLength(b, n)
		for i := range d.Items {
			b = d.Items[i].appendContent(b)
		}
		return b
	}
	if scalarSize(d.Tag) < -1 {
		return append(b, byte(TagNull))
	}
	return d.appendBody(append(b, byte(d.Tag)))
}

// EncodedLen returns the number of bytes Append writes for d.
func (d Data) EncodedLen() int {
	switch d.Tag {
	case TagArray, TagStructure:
		n := 1 + lengthSize(len(d.Items))
		for i := range d.Items {
			n += d.Items[i].EncodedLen()
		}
		return n
	case TagCompactArray:
		c := 0
		for i := range d.Items {
			c += d.Items[i].contentLen()
		}
		return 1 + d.compactDesc().EncodedLen() + lengthSize(c) + c
	}
	if scalarSize(d.Tag) < -1 {
		return 1
	}
	return 1 + d.bodyLen()
}

// appendBody writes a simple value without its tag.
func (d Data) appendBody(b []byte) []byte {
	switch d.Tag {
	case TagBoolean, TagInt8, TagUint8, TagEnum, TagBCD:
		return append(b, byte(d.bits))
	case TagInt16, TagUint16:
		return binary.BigEndian.AppendUint16(b, uint16(d.bits))
	case TagInt32, TagUint32, TagFloat32:
		return binary.BigEndian.AppendUint32(b, uint32(d.bits))
	case TagInt64, TagUint64, TagFloat64:
		return binary.BigEndian.AppendUint64(b, d.bits)
	case TagOctetString, TagVisibleString, TagUTF8String:
		b = AppendLength(b, len(d.Bytes))
		return append(b, d.Bytes...)
	case TagBitString:
		b = AppendLength(b, int(d.bits))
		n := (int(d.bits) + 7) / 8
		if len(d.Bytes) >= n {
			return append(b, d.Bytes[:n]...)
		}
		b = append(b, d.Bytes...)
		for i := len(d.Bytes); i < n; i++ {
			b = append(b, 0)
		}
		return b
	case TagDateTime, TagDate, TagTime:
		n := scalarSize(d.Tag)
		if len(d.Bytes) >= n {
			return append(b, d.Bytes[:n]...)
		}
		b = append(b, d.Bytes...)
		for i := len(d.Bytes); i < n; i++ {
			b = append(b, 0xFF)
		}
		return b
	}
	return b
}

func (d Data) bodyLen() int {
	switch d.Tag {
	case TagOctetString, TagVisibleString, TagUTF8String:
		return lengthSize(len(d.Bytes)) + len(d.Bytes)
	case TagBitString:
		return lengthSize(int(d.bits)) + (int(d.bits)+7)/8
	}
	if n := scalarSize(d.Tag); n > 0 {
		return n
	}
	return 0
}

// appendContent writes d as an element of compact-array contents: no
// tags, and no counts for arrays and structures (the description has
// them).
func (d Data) appendContent(b []byte) []byte {
	switch d.Tag {
	case TagArray, TagStructure, TagCompactArray:
		for i := range d.Items {
			b = d.Items[i].appendContent(b)
		}
		return b
	}
	return d.appendBody(b)
}

func (d Data) contentLen() int {
	switch d.Tag {
	case TagArray, TagStructure, TagCompactArray:
		n := 0
		for i := range d.Items {
			n += d.Items[i].contentLen()
		}
		return n
	}
	return d.bodyLen()
}
