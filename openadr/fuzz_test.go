package openadr

import (
	"testing"
	"time"
)

// FuzzDecode feeds payloads to the decoder: anything it accepts encodes
// again and decodes to a message of the same kind, and the events in it
// read or fail cleanly.
func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages() {
		b, err := Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		if d, ok := m.(*DistributeEvent); ok {
			for _, o := range d.Events {
				if e, err := EventFromEi(o); err == nil {
					_ = e.Ei()
				}
			}
		}
		if u, ok := m.(*UpdateReport); ok {
			_ = checkReports(u.Reports)
		}
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("decoded %s does not encode: %v", m.oadrName(), err)
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", m.oadrName(), err)
		}
		if back.oadrName() != m.oadrName() {
			t.Fatalf("%s came back as %s", m.oadrName(), back.oadrName())
		}
	})
}

// FuzzParseDuration: an accepted duration prints and parses back to
// itself (to the microsecond: printing goes through seconds as a float).
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"PT1H", "PT10M", "PT0S", "P1D", "-PT5M", "P1W", "PT0.5S", "P0Y0M1DT2H3M4.25S", "PT", "P", "P1M", "PT1H1H", "1H"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		p := FormatDuration(d)
		back, err := ParseDuration(p)
		if err != nil {
			t.Fatalf("%q parsed to %v, printed %q, which does not parse: %v", s, d, p, err)
		}
		if diff := back - d; diff > time.Microsecond || diff < -time.Microsecond {
			t.Fatalf("%q: %v printed %q parsed %v", s, d, p, back)
		}
	})
}

// FuzzParseDateTime: an accepted date-time prints and parses back to the
// same instant.
func FuzzParseDateTime(f *testing.F) {
	for _, s := range []string{"2026-12-08T17:00:00Z", "2026-12-08T17:00:00.123456Z", "2026-12-08T18:00:00+01:00", "2026-12-08T17:00:00", "2026-13-01T00:00:00Z", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseDateTime(s)
		if err != nil {
			return
		}
		p := FormatDateTime(tm)
		back, err := ParseDateTime(p)
		if err != nil || !back.Equal(tm) {
			t.Fatalf("%q parsed to %v, printed %q, parsed back %v, %v", s, tm, p, back, err)
		}
	})
}
