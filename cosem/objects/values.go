package objects

import (
	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/obis"
)

// uintOf returns the value of d if it has exactly tag.
func uintOf(d axdr.Data, tag axdr.Tag) (uint64, bool) {
	if d.Tag != tag {
		return 0, false
	}
	return d.Uint()
}

// intOf returns the value of d if it has exactly tag.
func intOf(d axdr.Data, tag axdr.Tag) (int64, bool) {
	if d.Tag != tag {
		return 0, false
	}
	return d.Int()
}

func obisOf(d axdr.Data) (obis.Code, bool) {
	var c obis.Code
	if d.Tag != axdr.TagOctetString || len(d.Bytes) != 6 {
		return c, false
	}
	copy(c[:], d.Bytes)
	return c, true
}

func isStruct(d axdr.Data, n int) bool { return d.Tag == axdr.TagStructure && len(d.Items) == n }

// isDateTime accepts the two forms a COSEM date-time travels in: an
// octet-string of 12 octets or the date-time type.
func isDateTime(d axdr.Data) bool {
	return (d.Tag == axdr.TagOctetString || d.Tag == axdr.TagDateTime) && len(d.Bytes) == 12
}

// isSimple accepts the CHOICE of a register value: anything but arrays,
// structures and compact arrays.
func isSimple(d axdr.Data) bool {
	switch d.Tag {
	case axdr.TagArray, axdr.TagStructure, axdr.TagCompactArray:
		return false
	}
	return true
}

// sameType reports whether v may replace cur: same tag, unless cur is
// null (not yet typed).
func sameType(cur, v axdr.Data) bool { return cur.Tag == axdr.TagNull || cur.Tag == v.Tag }
