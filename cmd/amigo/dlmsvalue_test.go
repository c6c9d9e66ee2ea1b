package main

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/obis"
)

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]target{
		"1.0.1.8.0.255":        {0, obis.MustParse("1.0.1.8.0.255"), 2},
		"1.0.1.8.0.255:3":      {0, obis.MustParse("1.0.1.8.0.255"), 3},
		"3/1-0:1.8.0*255:3":    {3, obis.MustParse("1.0.1.8.0.255"), 3},
		"1-0:1.8.0*255":        {0, obis.MustParse("1.0.1.8.0.255"), 2},
		"1-0:1.8.0":            {0, obis.MustParse("1.0.1.8.0.255"), 2},
		"70/0.0.96.3.10.255:1": {70, obis.MustParse("0.0.96.3.10.255"), 1},
	} {
		got, err := parseTarget(in, 2)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"x/1.0.1.8.0.255", "1.0.1.8.0.255:999", "1.0.1.8", "", "1.0.1.8.0.255:x"} {
		if _, err := parseTarget(in, 2); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestParseValue(t *testing.T) {
	for in, want := range map[string]axdr.Data{
		"uint32:5":      axdr.Uint32(5),
		"int8:-2":       axdr.Int8(-2),
		"enum:3":        axdr.Enum(3),
		"bool:true":     axdr.Bool(true),
		"octets:01ff":   axdr.OctetString([]byte{1, 0xff}),
		"string:Gurux":  axdr.VisibleString("Gurux"),
		"null":          axdr.Null(),
		"float64:1.5":   axdr.Float64(1.5),
		"uint16:0x1234": axdr.Uint16(0x1234),
	} {
		got, err := parseValue(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	dt, err := parseValue("datetime:2026-01-01T00:00:00Z")
	if err != nil || len(dt.Bytes) != 12 {
		t.Fatalf("datetime: %v %v", dt, err)
	}
	if v, ok := dt.DateTime(); !ok || v.Year != 2026 || v.Hour != 0 {
		t.Fatalf("datetime decodes to %+v", v)
	}
	for _, in := range []string{"uint8:256", "int8:x", "octets:zz", "colour:red", "datetime:yesterday"} {
		if _, err := parseValue(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestRenderValues(t *testing.T) {
	su := axdr.ScalerUnit{Scaler: -2, Unit: 30}
	if s := textValue(axdr.Uint32(123456), &su); s != "1234.56 Wh" {
		t.Errorf("scaled value %q", s)
	}
	ts := time.Date(2026, 11, 23, 21, 22, 49, 0, time.UTC)
	dto := axdr.DateTimeOctets(axdr.FromTime(ts, 0))
	if s := textValue(dto, nil); s != "2026-11-23T21:22:49Z" {
		t.Errorf("date-time %q", s)
	}
	j := jsonValue(axdr.Structure(dto, axdr.Uint8(0), axdr.Uint32(7), axdr.VisibleString("x")))
	arr, ok := j.([]any)
	if !ok || len(arr) != 4 || arr[0] != "2026-11-23T21:22:49Z" || arr[2] != int64(7) || arr[3] != "x" {
		t.Errorf("json %#v", j)
	}
}
