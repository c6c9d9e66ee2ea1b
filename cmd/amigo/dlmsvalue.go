package main

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/obis"
)

// target is one OBIS[:ATTR] argument, optionally prefixed by its class id
// as CLASS/OBIS[:ATTR]. Class 0 means "look it up in the object list".
type target struct {
	Class uint16
	OBIS  obis.Code
	Index int8 // attribute or method
}

func (t target) String() string {
	if t.Class == 0 {
		return fmt.Sprintf("%s:%d", t.OBIS, t.Index)
	}
	return fmt.Sprintf("%d/%s:%d", t.Class, t.OBIS, t.Index)
}

// parseTarget reads CLASS/OBIS:INDEX, OBIS:INDEX or OBIS (index def).
// OBIS may be written 1.0.1.8.0.255 or 1-0:1.8.0*255; in the second form the
// colon belongs to the code, so the index separator is the last colon
// after the '*' or the fifth group.
func parseTarget(s string, def int8) (target, error) {
	var t target
	t.Index = def
	if i := strings.IndexByte(s, '/'); i >= 0 {
		c, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return t, fmt.Errorf("%q: class id %q is not a number", s, s[:i])
		}
		t.Class = uint16(c)
		s = s[i+1:]
	}
	code := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[i+1:], ".") {
		// "1-0:1.8.0" has a colon too, but what follows it has dots.
		idx, err := strconv.ParseInt(s[i+1:], 10, 8)
		if err != nil {
			return t, fmt.Errorf("%q: index %q is not a number from -128 to 127", s, s[i+1:])
		}
		t.Index = int8(idx)
		code = s[:i]
	}
	c, err := obis.Parse(code)
	if err != nil {
		return t, err
	}
	t.OBIS = c
	return t, nil
}

// parseValue reads TYPE:VALUE into A-XDR data, e.g. uint32:5, bool:true,
// octets:0102ff, string:abc, datetime:2026-01-01T00:00:00Z, enum:1, null.
func parseValue(s string) (axdr.Data, error) {
	typ, val, _ := strings.Cut(s, ":")
	bad := func(err error) (axdr.Data, error) {
		return axdr.Data{}, fmt.Errorf("value %q: %v", s, err)
	}
	intOf := func(bits int) (int64, error) { return strconv.ParseInt(val, 0, bits) }
	uintOf := func(bits int) (uint64, error) { return strconv.ParseUint(val, 0, bits) }
	switch typ {
	case "null":
		return axdr.Null(), nil
	case "bool":
		v, err := strconv.ParseBool(val)
		if err != nil {
			return bad(err)
		}
		return axdr.Bool(v), nil
	case "int8", "int16", "int32", "int64":
		bits, _ := strconv.Atoi(typ[3:])
		v, err := intOf(bits)
		if err != nil {
			return bad(err)
		}
		switch bits {
		case 8:
			return axdr.Int8(int8(v)), nil
		case 16:
			return axdr.Int16(int16(v)), nil
		case 32:
			return axdr.Int32(int32(v)), nil
		}
		return axdr.Int64(v), nil
	case "uint8", "uint16", "uint32", "uint64", "enum":
		bits := 8
		if typ != "enum" {
			bits, _ = strconv.Atoi(typ[4:])
		}
		v, err := uintOf(bits)
		if err != nil {
			return bad(err)
		}
		switch {
		case typ == "enum":
			return axdr.Enum(uint8(v)), nil
		case bits == 8:
			return axdr.Uint8(uint8(v)), nil
		case bits == 16:
			return axdr.Uint16(uint16(v)), nil
		case bits == 32:
			return axdr.Uint32(uint32(v)), nil
		}
		return axdr.Uint64(v), nil
	case "float32", "float64":
		bits, _ := strconv.Atoi(typ[5:])
		v, err := strconv.ParseFloat(val, bits)
		if err != nil {
			return bad(err)
		}
		if bits == 32 {
			return axdr.Float32(float32(v)), nil
		}
		return axdr.Float64(v), nil
	case "octets":
		b, err := hex.DecodeString(strings.ReplaceAll(val, " ", ""))
		if err != nil {
			return bad(err)
		}
		return axdr.OctetString(b), nil
	case "string":
		return axdr.VisibleString(val), nil
	case "utf8":
		return axdr.UTF8String(val), nil
	case "datetime":
		// A meter's clock attribute is a 12-octet octet-string.
		t := time.Now()
		if val != "now" {
			var err error
			if t, err = time.Parse(time.RFC3339, val); err != nil {
				return bad(fmt.Errorf("want RFC 3339, e.g. 2026-01-01T00:00:00+01:00, or now"))
			}
		}
		return axdr.DateTimeOctets(axdr.FromTime(t, 0)), nil
	}
	return axdr.Data{}, fmt.Errorf("value %q: unknown type %q; want null, bool, int8..int64, uint8..uint64, enum, float32, float64, octets, string, utf8 or datetime", s, typ)
}

func jsonValue(d axdr.Data) any { return axdr.JSONValue(d) }

// textValue renders a value for a person: scaled with its unit when the
// scaler_unit is known, date-times as times, strings as text.
func textValue(d axdr.Data, su *axdr.ScalerUnit) string {
	if su != nil {
		if v, ok := su.Value(d); ok {
			return strings.TrimSpace(strconv.FormatFloat(v, 'f', -1, 64) + " " + su.Unit.String())
		}
	}
	switch d.Tag {
	case axdr.TagVisibleString, axdr.TagUTF8String:
		return strconv.Quote(string(d.Bytes))
	case axdr.TagOctetString, axdr.TagDateTime:
		if dt, ok := d.DateTime(); ok {
			if t, err := dt.Time(); err == nil {
				return t.Format(time.RFC3339)
			}
		}
	}
	return d.String()
}
