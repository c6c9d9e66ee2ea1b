package cosem

import (
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/obis"
)

// UintOf returns the value of d if it has exactly tag: an attribute typed
// long-unsigned does not accept an unsigned, however small the number.
func UintOf(d axdr.Data, tag axdr.Tag) (uint64, bool) {
	if d.Tag != tag {
		return 0, false
	}
	return d.Uint()
}

// IntOf returns the value of d if it has exactly tag.
func IntOf(d axdr.Data, tag axdr.Tag) (int64, bool) {
	if d.Tag != tag {
		return 0, false
	}
	return d.Int()
}

// LogicalNameOf reads a logical_name value, the inverse of
// LogicalNameData.
func LogicalNameOf(d axdr.Data) (obis.Code, bool) {
	var c obis.Code
	if d.Tag != axdr.TagOctetString || len(d.Bytes) != 6 {
		return c, false
	}
	copy(c[:], d.Bytes)
	return c, true
}

func isStruct(d axdr.Data, n int) bool { return d.Tag == axdr.TagStructure && len(d.Items) == n }

// IsDateTime accepts the two forms a COSEM date-time travels in: an
// octet-string of 12 octets or the date-time type.
func IsDateTime(d axdr.Data) bool {
	return (d.Tag == axdr.TagOctetString || d.Tag == axdr.TagDateTime) && len(d.Bytes) == 12
}

// IsSimple accepts the CHOICE of a register value: anything but arrays,
// structures and compact arrays.
func IsSimple(d axdr.Data) bool {
	switch d.Tag {
	case axdr.TagArray, axdr.TagStructure, axdr.TagCompactArray:
		return false
	}
	return true
}

// DateTimeData returns t as the 12-octet date-time octet-string of
// COSEM attributes, in t's zone, with clock status status.
func DateTimeData(t time.Time, status axdr.ClockStatus) axdr.Data {
	return axdr.DateTimeOctets(axdr.FromTime(t, status))
}

// TimeOf returns the instant a date-time attribute value names.
func TimeOf(d axdr.Data) (time.Time, bool) {
	dt, ok := d.DateTime()
	if !ok {
		return time.Time{}, false
	}
	t, err := dt.Time()
	return t, err == nil
}
