package axdr

import (
	"encoding/hex"
	"fmt"
	"math"
	"time"
)

// JSONValue renders d for encoding/json: numbers as numbers, strings as
// text, date-times (and octet strings that hold one) as RFC 3339 times,
// other octet strings as hex, arrays and structures as lists.
func JSONValue(d Data) any {
	switch d.Tag {
	case TagNull, TagDontCare:
		return nil
	case TagBoolean:
		v, _ := d.Bool()
		return v
	case TagFloat32, TagFloat64:
		v, _ := d.Float()
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprint(v)
		}
		return v
	case TagUint64:
		v, _ := d.Uint()
		return v
	case TagArray, TagStructure, TagCompactArray:
		out := make([]any, len(d.Items))
		for i, it := range d.Items {
			out[i] = JSONValue(it)
		}
		return out
	case TagVisibleString, TagUTF8String:
		return string(d.Bytes)
	case TagOctetString, TagDateTime:
		if dt, ok := d.DateTime(); ok {
			if t, err := dt.Time(); err == nil {
				return t.Format(time.RFC3339Nano)
			}
			return dt.String()
		}
		return hex.EncodeToString(d.Bytes)
	case TagBitString:
		return fmt.Sprintf("%x/%d", d.Bytes, d.BitLen())
	}
	if v, ok := d.Int(); ok {
		return v
	}
	return d.String()
}
