package axdr_test

import (
	"errors"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
)

func TestUnitString(t *testing.T) {
	tests := []struct {
		u    axdr.Unit
		want string
	}{
		{1, "a"}, {7, "s"}, {9, "°C"}, {13, "m³"}, {27, "W"}, {28, "VA"}, {29, "var"}, {30, "Wh"},
		{31, "VAh"}, {32, "varh"}, {33, "A"}, {35, "V"}, {44, "Hz"}, {56, "%"}, {255, ""}, {58, "unit(58)"},
	}
	for _, tc := range tests {
		if got := tc.u.String(); got != tc.want {
			t.Errorf("Unit(%d) = %q, want %q", tc.u, got, tc.want)
		}
	}
	if axdr.Unit(58).Known() || !axdr.UnitVolt.Known() {
		t.Error("Known wrong")
	}
}

func TestScalerUnit(t *testing.T) {
	su := axdr.ScalerUnit{Scaler: -2, Unit: axdr.UnitWattHour}
	if got := axdr.Encode(su.Data()); string(got) != string(mustHex(t, "02020FFE161E")) {
		t.Errorf("Data encodes to %X", got)
	}
	back, err := axdr.ParseScalerUnit(su.Data())
	if err != nil || back != su {
		t.Errorf("ParseScalerUnit = %v, %v", back, err)
	}
	if su.String() != "10^-2 Wh" {
		t.Errorf("String = %q", su.String())
	}
	for _, bad := range []axdr.Data{
		axdr.Structure(axdr.Int8(1)),
		axdr.Structure(axdr.Uint8(1), axdr.Enum(30)),
		axdr.Array(axdr.Int8(1), axdr.Enum(30)),
	} {
		if _, err := axdr.ParseScalerUnit(bad); !errors.Is(err, axdr.ErrScalerUnit) {
			t.Errorf("ParseScalerUnit(%v) err = %v", bad, err)
		}
	}
	apply := []struct {
		scaler int8
		raw    int64
		want   float64
	}{
		{0, 1234, 1234}, {3, 5, 5000}, {-3, 1234, 1.234}, {-2, 9, 0.09}, {-1, -15, -1.5},
	}
	for _, tc := range apply {
		if got := (axdr.ScalerUnit{Scaler: tc.scaler}).Apply(tc.raw); got != tc.want {
			t.Errorf("Apply(%d, 10^%d) = %v, want %v", tc.raw, tc.scaler, got, tc.want)
		}
	}
	values := []struct {
		d    axdr.Data
		want float64
		ok   bool
	}{
		{axdr.Uint32(1234), 12.34, true},
		{axdr.Int16(-500), -5, true},
		{axdr.Float32(2), 0.02, true},
		{axdr.Uint64(1 << 63), float64(1<<63) / 100, true},
		{axdr.OctetString(nil), 0, false},
	}
	for _, tc := range values {
		if got, ok := su.Value(tc.d); got != tc.want || ok != tc.ok {
			t.Errorf("Value(%v) = %v, %v; want %v, %v", tc.d, got, ok, tc.want, tc.ok)
		}
	}
}
