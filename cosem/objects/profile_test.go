package objects

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/dlmstrace"
)

var bgTime = time.Date(2026, 11, 23, 21, 22, 49, 0, time.UTC)

// loadTrace returns the steps of one shared trace.
func loadTrace(t *testing.T, name string) []dlmstrace.Step {
	t.Helper()
	return dlmstrace.Load(t, name).Steps
}

func apdu(t *testing.T, s dlmstrace.Step) []byte {
	t.Helper()
	return s.APDU()
}

// findStep returns the first step whose APDU starts with prefix (hex).
func findStep(t *testing.T, steps []dlmstrace.Step, prefix string) []byte {
	t.Helper()
	for _, s := range steps {
		if strings.HasPrefix(s.APDUHex, prefix) {
			return apdu(t, s)
		}
	}
	t.Fatalf("no APDU starting %s", prefix)
	return nil
}

// GET-request-normal of 1.0.99.1.0.255 attr 2 with access selection:
// C0 01 C1, class 0007, instance, attr 02, access 01, then selector.
const getBufferPrefix = "C001C100070100630100FF0201"

// datablocks concatenates the raw-data of every GET-response-with-datablock.
func datablocks(t *testing.T, steps []dlmstrace.Step) []byte {
	t.Helper()
	var raw []byte
	for _, s := range steps {
		if !strings.HasPrefix(s.APDUHex, "C402") {
			continue
		}
		b := apdu(t, s)
		// C4 02 invoke last-block block-number(4) result-choice(00 raw-data).
		n, k, err := axdr.DecodeLength(b[9:])
		if err != nil || b[8] != 0 {
			t.Fatalf("datablock %x: %v", b[:9], err)
		}
		raw = append(raw, b[9+k:9+k+n]...)
	}
	return raw
}

var loadProfileCols = []cosem.CaptureObject{
	{ClassID: 8, LogicalName: mustLN("0.0.1.0.0.255"), Attribute: 2},
	{ClassID: 3, LogicalName: mustLN("1.1.21.25.0.255"), Attribute: 2},
}

func TestTraceCaptureObjects(t *testing.T) {
	steps := loadTrace(t, "06-wrapper-lls-profile-range.json")
	resp := findStep(t, steps, "C401C100")
	// GET-response-normal: C4 01 C1, result choice 00 (data), then Data.
	raw := resp[4:]
	cols, err := cosem.ParseCaptureObjects(dec(t, hex.EncodeToString(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != 2 || cols[0] != loadProfileCols[0] || cols[1] != loadProfileCols[1] {
		t.Fatalf("capture objects %v", cols)
	}
	pg := NewProfileGeneric(mustLN("1.0.99.1.0.255"), cols, 60, 1000, nil)
	if got := axdr.Encode(get(t, pg, 3)); hex.EncodeToString(got) != hex.EncodeToString(raw) {
		t.Fatalf("capture_objects encode\n got %X\nwant %X", got, raw)
	}
}

func TestTraceRangeDescriptor(t *testing.T) {
	steps := loadTrace(t, "06-wrapper-lls-profile-range.json")
	req := findStep(t, steps, getBufferPrefix)
	if req[len(getBufferPrefix)/2] != cosem.SelectorRange {
		t.Fatalf("selector %d", req[len(getBufferPrefix)/2])
	}
	params := req[len(getBufferPrefix)/2+1:]
	from := axdr.DateTime{Year: 2026, Month: 11, Day: 23, DayOfWeek: 0xFF, Hour: 20, Minute: 22}
	to := from
	to.Hour = 22
	rd := cosem.RangeDescriptor{RestrictingObject: loadProfileCols[0], From: axdr.DateTimeOctets(from), To: axdr.DateTimeOctets(to)}
	if got := axdr.Encode(rd.Access().Parameters); hex.EncodeToString(got) != hex.EncodeToString(params) {
		t.Fatalf("range descriptor\n got %X\nwant %X", got, params)
	}
	sel, err := cosem.ParseSelectiveAccess(cosem.SelectorRange, dec(t, hex.EncodeToString(params)))
	if err != nil || sel.Range == nil {
		t.Fatalf("parse: %v", err)
	}
	if sel.Range.RestrictingObject != loadProfileCols[0] || !sel.Range.From.Equal(rd.From) || !sel.Range.To.Equal(rd.To) || len(sel.Range.SelectedValues) != 0 {
		t.Fatalf("parsed %+v", sel.Range)
	}

	// The server answered with all 60 rows (captured at 21:22:49, inside
	// the range); serving the same rows through our profile gives the
	// same bytes.
	raw := datablocks(t, steps)
	all := dec(t, hex.EncodeToString(raw))
	if len(all.Items) != 60 {
		t.Fatalf("%d rows", len(all.Items))
	}
	pg := NewProfileGeneric(mustLN("1.0.99.1.0.255"), loadProfileCols, 60, 1000, nil)
	pg.Rows = all.Items
	v, err := pg.Get(bg, &cosem.AttributeRequest{Attribute: 2, Access: &cosem.AccessSelection{Selector: cosem.SelectorRange, Parameters: sel.Range.Data()}})
	if err != nil {
		t.Fatal(err)
	}
	if got := axdr.Encode(v); hex.EncodeToString(got) != hex.EncodeToString(raw) {
		t.Fatalf("buffer differs from the trace")
	}
}

func TestTraceEntryDescriptor(t *testing.T) {
	steps := loadTrace(t, "12-wrapper-lls-profile-entry.json")
	req := findStep(t, steps, getBufferPrefix)
	if req[len(getBufferPrefix)/2] != cosem.SelectorEntry {
		t.Fatalf("selector %d", req[len(getBufferPrefix)/2])
	}
	params := req[len(getBufferPrefix)/2+1:]
	ed := cosem.EntryDescriptor{FromEntry: 1, ToEntry: 10, FromSelectedValue: 1, ToSelectedValue: 0}
	if got := axdr.Encode(ed.Access().Parameters); hex.EncodeToString(got) != hex.EncodeToString(params) {
		t.Fatalf("entry descriptor\n got %X\nwant %X", got, params)
	}
	sel, err := cosem.ParseSelectiveAccess(cosem.SelectorEntry, dec(t, hex.EncodeToString(params)))
	if err != nil || sel.Entry == nil || *sel.Entry != ed {
		t.Fatalf("parse: %+v %v", sel.Entry, err)
	}
	// The first block holds the 10 rows; the second is empty.
	raw := datablocks(t, steps)
	want := dec(t, hex.EncodeToString(raw))
	if len(want.Items) != 10 {
		t.Fatalf("%d rows", len(want.Items))
	}
	// Serve them from a 60-row buffer whose first 10 rows are the trace's.
	rows := append([]axdr.Data(nil), want.Items...)
	for i := 10; i < 60; i++ {
		rows = append(rows, axdr.Structure(cosem.DateTimeData(bgTime, 0), axdr.Uint16(uint16(i))))
	}
	pg := NewProfileGeneric(mustLN("1.0.99.1.0.255"), loadProfileCols, 60, 1000, nil)
	pg.Rows = rows
	v, err := pg.Get(bg, &cosem.AttributeRequest{Attribute: 2, Access: ed.Access()})
	if err != nil {
		t.Fatal(err)
	}
	if got := axdr.Encode(v); hex.EncodeToString(got) != hex.EncodeToString(raw) {
		t.Fatalf("buffer\n got %X\nwant %X", got, raw)
	}
}

func TestProfileGeneric(t *testing.T) {
	tree, _ := NewTree()
	clk := NewClock(mustLN("0.0.1.0.0.255"), 0)
	now := bgTime
	clk.Now = func() time.Time { return now }
	energy := NewRegister(mustLN("1.0.1.8.0.255"), axdr.Uint32(100), axdr.ScalerUnit{Unit: axdr.Unit(30)})
	for _, o := range []cosem.Object{clk, energy} {
		if err := tree.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	cols := []cosem.CaptureObject{
		{ClassID: 8, LogicalName: clk.LN, Attribute: 2},
		{ClassID: 3, LogicalName: energy.LN, Attribute: 2},
		{ClassID: 3, LogicalName: energy.LN, Attribute: 3, DataIndex: 2},  // unit only
		{ClassID: 1, LogicalName: mustLN("0.0.96.1.0.255"), Attribute: 2}, // missing
	}
	pg := NewProfileGeneric(mustLN("1.0.99.1.0.255"), cols, 900, 3, tree)
	for i := 0; i < 5; i++ {
		energy.Lock()
		energy.Value = axdr.Uint32(uint32(100 + i))
		energy.Unlock()
		if _, err := act(pg, 2, axdr.Int8(0)); err != nil {
			t.Fatal(err)
		}
		now = now.Add(15 * time.Minute)
	}
	if n, _ := get(t, pg, 7).Uint(); n != 3 {
		t.Fatalf("entries_in_use %d, want 3 (profile_entries)", n)
	}
	buf := get(t, pg, 2)
	if len(buf.Items) != 3 {
		t.Fatalf("%d rows", len(buf.Items))
	}
	first := buf.Items[0]
	if v, _ := first.Items[1].Uint(); v != 102 {
		t.Errorf("oldest kept row has energy %d, want 102", v)
	}
	if u, _ := first.Items[2].Uint(); first.Items[2].Tag != axdr.TagEnum || u != 30 {
		t.Errorf("data index column %v", first.Items[2])
	}
	if first.Items[3].Tag != axdr.TagNull {
		t.Errorf("missing object column %v", first.Items[3])
	}
	if ts, ok := cosem.TimeOf(first.Items[0]); !ok || !ts.Equal(bgTime.Add(30*time.Minute)) {
		t.Errorf("clock column %v", first.Items[0])
	}
	// Selective access by entry through Get.
	v, err := pg.Get(bg, &cosem.AttributeRequest{Attribute: 2, Access: (&cosem.EntryDescriptor{FromEntry: 2, ToEntry: 0, FromSelectedValue: 2, ToSelectedValue: 2}).Access()})
	if err != nil {
		t.Fatal(err)
	}
	if enc(v) != "0102"+"020106"+"00000067"+"020106"+"00000068" {
		t.Errorf("entry selection %s", enc(v))
	}
	// Selective access on a non-buffer attribute is refused.
	_, err = pg.Get(bg, &cosem.AttributeRequest{Attribute: 3, Access: (&cosem.EntryDescriptor{}).Access()})
	wantResult(t, "selective on attr 3", err, cosem.ResultScopeOfAccessViolated)
	_, err = pg.Get(bg, &cosem.AttributeRequest{Attribute: 2, Access: &cosem.AccessSelection{Selector: 2, Parameters: axdr.Uint8(1)}})
	wantResult(t, "bad entry descriptor", err, cosem.ResultTypeUnmatched)

	// Shrinking profile_entries drops the oldest; changing capture objects
	// empties the buffer; reset empties it too.
	if err := set(pg, 8, axdr.Uint32(2)); err != nil {
		t.Fatal(err)
	}
	if buf := get(t, pg, 2); len(buf.Items) != 2 {
		t.Fatalf("%d rows after shrinking", len(buf.Items))
	} else if v, _ := buf.Items[0].Items[1].Uint(); v != 103 {
		t.Errorf("oldest row after shrinking has %d", v)
	}
	wantResult(t, "set entries_in_use", set(pg, 7, axdr.Uint32(0)), cosem.ResultReadWriteDenied)
	wantResult(t, "set capture_period int", set(pg, 4, axdr.Int32(1)), cosem.ResultTypeUnmatched)
	wantResult(t, "set sort_method 9", set(pg, 5, axdr.Enum(9)), cosem.ResultOtherReason)
	wantResult(t, "set capture_objects wrong", set(pg, 3, axdr.Array(axdr.Uint8(1))), cosem.ResultTypeUnmatched)
	if err := set(pg, 3, cosem.CaptureObjectsData(cols[:2])); err != nil {
		t.Fatal(err)
	}
	if n, _ := get(t, pg, 7).Uint(); n != 0 {
		t.Fatalf("entries_in_use %d after capture_objects change", n)
	}
	if got := enc(get(t, pg, 3)); got != enc(cosem.CaptureObjectsData(cols[:2])) {
		t.Errorf("capture_objects %s", got)
	}
	act(pg, 2, axdr.Int8(0))
	if _, err := act(pg, 1, axdr.Int8(0)); err != nil {
		t.Fatal(err)
	}
	if n, _ := get(t, pg, 7).Uint(); n != 0 {
		t.Fatalf("entries_in_use %d after reset", n)
	}

	// With a Buffer callback, the callback receives the parsed selection.
	var seen cosem.Selection
	pg.Buffer = func(_ context.Context, sel cosem.Selection) ([]axdr.Data, error) {
		seen = sel
		return []axdr.Data{axdr.Structure(axdr.Uint8(1))}, nil
	}
	rd := &cosem.RangeDescriptor{RestrictingObject: cols[0], From: cosem.DateTimeData(bgTime, 0), To: cosem.DateTimeData(bgTime, 0)}
	v, err = pg.Get(bg, &cosem.AttributeRequest{Attribute: 2, Access: rd.Access()})
	if err != nil || len(v.Items) != 1 || seen.Range == nil || seen.Range.RestrictingObject != cols[0] {
		t.Fatalf("callback buffer: %v %v %+v", v, err, seen)
	}
}
