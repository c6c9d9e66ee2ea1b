package axdr_test

import (
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms/dlmstrace"
)

// apdus returns the server APDUs whose hex starts with prefix.
func apdus(steps []dlmstrace.Step, prefix string) [][]byte {
	var out [][]byte
	for _, s := range steps {
		if s.Dir == "S->C" && strings.HasPrefix(strings.ToUpper(s.APDUHex), prefix) {
			out = append(out, s.APDU())
		}
	}
	return out
}

// TestTraceGetResponses decodes the Data of the three GET-response-normal
// APDUs of trace 01 (C4 01 <invoke-id> 00 <Data>).
func TestTraceGetResponses(t *testing.T) {
	resp := apdus(dlmstrace.Load(t, "01-wrapper-none.json").Steps, "C401C100")
	if len(resp) != 3 {
		t.Fatalf("found %d GET responses, want 3", len(resp))
	}

	// Clock: the server appends 18 junk bytes after the Data; Decode must
	// stop at the end of the value.
	clock, n, err := axdr.Decode(resp[0][4:])
	if err != nil {
		t.Fatal(err)
	}
	if n != 14 || len(resp[0][4:])-n != 18 {
		t.Errorf("clock consumed %d, trailing %d; want 14 and 18", n, len(resp[0][4:])-n)
	}
	dt, ok := clock.DateTime()
	if !ok {
		t.Fatalf("clock %v is not a date-time", clock)
	}
	want := axdr.DateTime{Year: 2026, Month: 11, Day: 23, DayOfWeek: 1, Hour: 21, Minute: 22, Second: 37}
	if dt != want {
		t.Errorf("clock = %v, want %v", dt, want)
	}
	tm, err := dt.Time()
	if err != nil || !tm.Equal(time.Date(2026, 11, 23, 21, 22, 37, 0, time.UTC)) {
		t.Errorf("clock Time = %v, %v", tm, err)
	}

	value, _, err := axdr.Decode(resp[1][4:])
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := value.Uint(); !ok || v != 9 || value.Tag != axdr.TagUint16 {
		t.Errorf("register value = %v", value)
	}

	su, _, err := axdr.Decode(resp[2][4:])
	if err != nil {
		t.Fatal(err)
	}
	scaler, err := axdr.ParseScalerUnit(su)
	if err != nil {
		t.Fatal(err)
	}
	if scaler != (axdr.ScalerUnit{Scaler: -2, Unit: axdr.UnitWattHour}) {
		t.Errorf("scaler_unit = %v", scaler)
	}
	if got := scaler.Apply(9); got != 0.09 {
		t.Errorf("Apply(9) = %v, want 0.09", got)
	}
}

// TestTraceProfile reassembles the load profile of trace 06 from its three
// GET-response-with-datablock APDUs and decodes the 60 rows.
func TestTraceProfile(t *testing.T) {
	blocks := apdus(dlmstrace.Load(t, "06-wrapper-lls-profile-range.json").Steps, "C402")
	if len(blocks) != 3 {
		t.Fatalf("found %d blocks, want 3", len(blocks))
	}
	var raw []byte
	for i, b := range blocks {
		// C4 02 <invoke-id> <last-block> <block-number:4> 00 <raw-data>
		if len(b) < 9 || b[8] != 0 {
			t.Fatalf("block %d: unexpected header % X", i, b[:min(len(b), 9)])
		}
		if got := int(b[4])<<24 | int(b[5])<<16 | int(b[6])<<8 | int(b[7]); got != i+1 {
			t.Errorf("block %d has number %d", i, got)
		}
		if last := b[3] != 0; last != (i == 2) {
			t.Errorf("block %d last-block = %v", i, last)
		}
		n, k, err := axdr.DecodeLength(b[9:])
		if err != nil {
			t.Fatal(err)
		}
		if 9+k+n != len(b) {
			t.Fatalf("block %d: raw-data length %d does not end the APDU (%d bytes)", i, n, len(b))
		}
		raw = append(raw, b[9+k:]...)
	}
	if len(raw) != 1142 {
		t.Errorf("raw data is %d bytes, want 1142", len(raw))
	}
	// Each block alone is an incomplete Data.
	if _, err := axdr.Skip(raw[:477]); err == nil {
		t.Error("first block alone decoded")
	}

	prof, n, err := axdr.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(raw) {
		t.Errorf("consumed %d of %d", n, len(raw))
	}
	if prof.Tag != axdr.TagArray || len(prof.Items) != 60 {
		t.Fatalf("profile is %s with %d items, want array of 60", prof.Tag, len(prof.Items))
	}
	wantTime := time.Date(2026, 11, 23, 21, 22, 49, 0, time.UTC)
	for i, row := range prof.Items {
		if row.Tag != axdr.TagStructure || len(row.Items) != 2 {
			t.Fatalf("row %d = %v", i, row)
		}
		dt, ok := row.Items[0].DateTime()
		if !ok {
			t.Fatalf("row %d capture time %v", i, row.Items[0])
		}
		if tm, err := dt.Time(); err != nil || !tm.Equal(wantTime) {
			t.Errorf("row %d time = %v, %v", i, tm, err)
		}
		// The register counts up by 2 per capture: 15, 17, ..., 133.
		if v, ok := row.Items[1].Uint(); !ok || v != uint64(15+2*i) {
			t.Errorf("row %d value = %v", i, row.Items[1])
		}
	}
	if enc := axdr.Encode(prof); string(enc) != string(raw) {
		t.Error("re-encoded profile differs from the trace")
	}
}
