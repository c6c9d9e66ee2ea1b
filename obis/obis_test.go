package obis_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/obis"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want obis.Code
	}{
		{"1.0.1.8.0.255", obis.ActiveEnergyImport},
		{"1-0:1.8.0*255", obis.ActiveEnergyImport},
		{"1-0:1.8.0.255", obis.ActiveEnergyImport},
		{"1-0:1.8.0", obis.ActiveEnergyImport},
		{"0.0.1.0.0.255", obis.Clock},
		{"0-0:96.3.10*255", obis.DisconnectControl},
		{"1.1.21.25.0.255", obis.Code{1, 1, 21, 25, 0, 255}},
		{"1-0:1.8.0*101", obis.Code{1, 0, 1, 8, 0, 101}},
		{"0.0.0.0.0.0", obis.Code{}},
		{"255.255.255.255.255.255", obis.Code{255, 255, 255, 255, 255, 255}},
		{"001.000.001.008.000.255", obis.ActiveEnergyImport},
	}
	for _, tc := range tests {
		got, err := obis.Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in  string
		err error
	}{
		{"", obis.ErrSyntax},
		{"1.8.0", obis.ErrSyntax},
		{"1.0.1.8.0", obis.ErrSyntax},
		{"1.0.1.8.0.255.1", obis.ErrSyntax},
		{"1.0.1.8.0.256", obis.ErrRange},
		{"1.0.1.8.0.1000", obis.ErrRange},
		{"1.0.1.8.0.-1", obis.ErrSyntax},
		{"1.0.1.8..255", obis.ErrSyntax},
		{" 1.0.1.8.0.255", obis.ErrSyntax},
		{"1.0.1.8.0.255 ", obis.ErrSyntax},
		{"1-0:1.8", obis.ErrSyntax},
		{"1-0:1.8.0*", obis.ErrSyntax},
		{"1-0:1.8.0&255", obis.ErrSyntax},
		{"1-0.1.8.0.255", obis.ErrSyntax},
		{"1:0-1.8.0*255", obis.ErrSyntax},
		{"1-0:1.8.0*255*1", obis.ErrSyntax},
		{"a.b.c.d.e.f", obis.ErrSyntax},
	}
	for _, tc := range tests {
		_, err := obis.Parse(tc.in)
		if !errors.Is(err, tc.err) {
			t.Errorf("Parse(%q) err = %v, want %v", tc.in, err, tc.err)
		}
		var pe *obis.ParseError
		if !errors.As(err, &pe) || pe.Input != tc.in {
			t.Errorf("Parse(%q) err %v is not a *ParseError with the input", tc.in, err)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		c                 obis.Code
		str, iec, reduced string
	}{
		{obis.ActiveEnergyImport, "1.0.1.8.0.255", "1-0:1.8.0*255", "1-0:1.8.0"},
		{obis.Code{1, 0, 1, 8, 0, 101}, "1.0.1.8.0.101", "1-0:1.8.0*101", "1-0:1.8.0*101"},
		{obis.InvocationCounter, "0.0.43.1.0.255", "0-0:43.1.0*255", "0-0:43.1.0"},
	}
	for _, tc := range tests {
		if s := tc.c.String(); s != tc.str {
			t.Errorf("String = %q, want %q", s, tc.str)
		}
		if s := tc.c.IEC(); s != tc.iec {
			t.Errorf("IEC = %q, want %q", s, tc.iec)
		}
		if s := tc.c.Reduced(); s != tc.reduced {
			t.Errorf("Reduced = %q, want %q", s, tc.reduced)
		}
		for _, s := range []string{tc.str, tc.iec, tc.reduced} {
			if back, err := obis.Parse(s); err != nil || back != tc.c {
				t.Errorf("Parse(%q) = %v, %v", s, back, err)
			}
		}
	}
}

func TestWellKnown(t *testing.T) {
	tests := map[string]obis.Code{
		"0.0.1.0.0.255":   obis.Clock,
		"0.0.42.0.0.255":  obis.LogicalDeviceName,
		"0.0.40.0.0.255":  obis.CurrentAssociation,
		"0.0.43.1.0.255":  obis.InvocationCounter,
		"1.0.1.8.0.255":   obis.ActiveEnergyImport,
		"1.0.2.8.0.255":   obis.ActiveEnergyExport,
		"1.0.99.1.0.255":  obis.LoadProfile1,
		"1.0.98.1.0.255":  obis.DailyBillingProfile,
		"0.0.96.3.10.255": obis.DisconnectControl,
		"0.0.99.98.0.255": obis.StandardEventLog,
	}
	for s, c := range tests {
		if obis.MustParse(s) != c {
			t.Errorf("%s = %v", s, c)
		}
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse did not panic")
		}
	}()
	obis.MustParse("1.8.0")
}

func TestText(t *testing.T) {
	type cfg struct {
		Objects []obis.Code `json:"objects"`
	}
	var c cfg
	if err := json.Unmarshal([]byte(`{"objects":["1-0:1.8.0*255","0.0.1.0.0.255","1-0:2.8.0"]}`), &c); err != nil {
		t.Fatal(err)
	}
	want := []obis.Code{obis.ActiveEnergyImport, obis.Clock, obis.ActiveEnergyExport}
	for i := range want {
		if c.Objects[i] != want[i] {
			t.Errorf("object %d = %v, want %v", i, c.Objects[i], want[i])
		}
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"objects":["1.0.1.8.0.255","0.0.1.0.0.255","1.0.2.8.0.255"]}` {
		t.Errorf("Marshal = %s", out)
	}
	if err := json.Unmarshal([]byte(`{"objects":["1.8.0"]}`), &c); !errors.Is(err, obis.ErrSyntax) {
		t.Errorf("bad code in JSON: %v", err)
	}
}

func TestWire(t *testing.T) {
	// The trace 06 capture-object definition carries 0.0.1.0.0.255 as 09 06 0000010000FF.
	d, _, err := axdr.Decode([]byte{0x09, 0x06, 0, 0, 1, 0, 0, 0xFF})
	if err != nil {
		t.Fatal(err)
	}
	c, err := obis.FromData(d)
	if err != nil || c != obis.Clock {
		t.Errorf("FromData = %v, %v", c, err)
	}
	if got := axdr.Encode(obis.LoadProfile1.Data()); string(got) != "\x09\x06\x01\x00\x63\x01\x00\xFF" {
		t.Errorf("Data encodes to % X", got)
	}
	for _, bad := range []axdr.Data{axdr.OctetString([]byte{1, 2, 3}), axdr.Uint32(1)} {
		if _, err := obis.FromData(bad); !errors.Is(err, obis.ErrSize) {
			t.Errorf("FromData(%v) err = %v", bad, err)
		}
	}
	if obis.Clock.Compare(obis.ActiveEnergyImport) >= 0 || obis.Clock.Compare(obis.Clock) != 0 {
		t.Error("Compare wrong")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"1.0.1.8.0.255", "1-0:1.8.0*255", "1-0:1.8.0.255", "1-0:1.8.0", "0.0.96.3.10.255",
		"255.255.255.255.255.255", "1.8.0", "1-0:1.8.0*256", "1-0:1.8.0*", "", "001.2.3.4.5.6",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := obis.Parse(s)
		if err != nil {
			return
		}
		for _, form := range []string{c.String(), c.IEC(), c.Reduced()} {
			back, err := obis.Parse(form)
			if err != nil || back != c {
				t.Fatalf("Parse(%q) -> %v; Parse(%q) = %v, %v", s, c, form, back, err)
			}
		}
	})
}
