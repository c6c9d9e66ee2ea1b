package cosem

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
)

var bgTime = time.Date(2026, 11, 23, 21, 22, 49, 0, time.UTC)

var loadProfileCols = []CaptureObject{
	{ClassID: 8, LogicalName: mustLN("0.0.1.0.0.255"), Attribute: 2},
	{ClassID: 3, LogicalName: mustLN("1.1.21.25.0.255"), Attribute: 2},
}

// profileRows builds n quarter-hourly rows from 00:00 UTC: clock, energy
// (i*10), power (i).
func profileRows(n int) ([]axdr.Data, []CaptureObject) {
	cols := []CaptureObject{
		{ClassID: 8, LogicalName: mustLN("0.0.1.0.0.255"), Attribute: 2},
		{ClassID: 3, LogicalName: mustLN("1.0.1.8.0.255"), Attribute: 2},
		{ClassID: 3, LogicalName: mustLN("1.0.1.7.0.255"), Attribute: 2},
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]axdr.Data, n)
	for i := range rows {
		rows[i] = axdr.Structure(DateTimeData(t0.Add(time.Duration(i)*15*time.Minute), 0), axdr.Uint32(uint32(i*10)), axdr.Uint16(uint16(i)))
	}
	return rows, cols
}

func TestSelectionApply(t *testing.T) {
	rows, cols := profileRows(8) // 00:00 .. 01:45
	at := func(h, m int) axdr.Data { return DateTimeData(time.Date(2026, 1, 1, h, m, 0, 0, time.UTC), 0) }
	// A range bound in another zone names the same instant.
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		sel  Selection
		// want lists row indexes and the power column is checked as the
		// last column; wantCols is the number of columns.
		want     []int
		wantCols int
		err      Result
	}{
		{"whole buffer", Selection{}, []int{0, 1, 2, 3, 4, 5, 6, 7}, 3, 0},
		{"range inclusive", Selection{Range: &RangeDescriptor{RestrictingObject: cols[0], From: at(0, 30), To: at(1, 0)}}, []int{2, 3, 4}, 3, 0},
		{"range other zone", Selection{Range: &RangeDescriptor{RestrictingObject: cols[0],
			From: DateTimeData(time.Date(2026, 1, 1, 1, 30, 0, 0, cet), 0), To: DateTimeData(time.Date(2026, 1, 1, 1, 45, 0, 0, cet), 0)}}, []int{2, 3}, 3, 0},
		{"range columns", Selection{Range: &RangeDescriptor{RestrictingObject: cols[0], From: at(1, 0), To: at(23, 0),
			SelectedValues: []CaptureObject{cols[0], cols[2]}}}, []int{4, 5, 6, 7}, 2, 0},
		{"range empty", Selection{Range: &RangeDescriptor{RestrictingObject: cols[0], From: at(5, 0), To: at(6, 0)}}, nil, 3, 0},
		{"range on value column", Selection{Range: &RangeDescriptor{RestrictingObject: cols[1], From: axdr.Uint32(15), To: axdr.Uint32(40)}}, []int{2, 3, 4}, 3, 0},
		{"range unknown column", Selection{Range: &RangeDescriptor{RestrictingObject: CaptureObject{ClassID: 1, Attribute: 2}, From: at(0, 0), To: at(1, 0)}}, nil, 0, ResultScopeOfAccessViolated},
		{"range unknown selected", Selection{Range: &RangeDescriptor{RestrictingObject: cols[0], From: at(0, 0), To: at(1, 0),
			SelectedValues: []CaptureObject{{ClassID: 1}}}}, nil, 0, ResultScopeOfAccessViolated},
		{"entry all", Selection{Entry: &EntryDescriptor{FromEntry: 1}}, []int{0, 1, 2, 3, 4, 5, 6, 7}, 3, 0},
		{"entry 0 to 0", Selection{Entry: &EntryDescriptor{}}, []int{0, 1, 2, 3, 4, 5, 6, 7}, 3, 0},
		{"entry 3..5", Selection{Entry: &EntryDescriptor{FromEntry: 3, ToEntry: 5}}, []int{2, 3, 4}, 3, 0},
		{"entry 7..highest", Selection{Entry: &EntryDescriptor{FromEntry: 7, ToEntry: 0}}, []int{6, 7}, 3, 0},
		{"entry beyond", Selection{Entry: &EntryDescriptor{FromEntry: 9, ToEntry: 20}}, nil, 3, 0},
		{"entry to beyond", Selection{Entry: &EntryDescriptor{FromEntry: 8, ToEntry: 20}}, []int{7}, 3, 0},
		{"entry columns 2..3", Selection{Entry: &EntryDescriptor{FromEntry: 1, ToEntry: 2, FromSelectedValue: 2, ToSelectedValue: 3}}, []int{0, 1}, 2, 0},
		{"entry column 3..last", Selection{Entry: &EntryDescriptor{FromEntry: 2, ToEntry: 2, FromSelectedValue: 3}}, []int{1}, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.sel.Apply(rows, cols)
			wantResult(t, "apply", err, tt.err)
			if err != nil {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d rows, want %d", len(got), len(tt.want))
			}
			for i, r := range got {
				if len(r.Items) != tt.wantCols {
					t.Fatalf("row %d has %d columns, want %d", i, len(r.Items), tt.wantCols)
				}
				if p, _ := r.Items[len(r.Items)-1].Uint(); int(p) != tt.want[i] {
					t.Errorf("row %d is source row %d, want %d", i, p, tt.want[i])
				}
			}
		})
	}
}

func TestParseSelectiveAccessErrors(t *testing.T) {
	co := loadProfileCols[0].Data()
	dt := DateTimeData(bgTime, 0)
	tests := []struct {
		name string
		sel  uint8
		p    axdr.Data
		want Result
	}{
		{"selector 3", 3, axdr.Null(), ResultScopeOfAccessViolated},
		{"range not structure", 1, axdr.Array(), ResultTypeUnmatched},
		{"range 3 fields", 1, axdr.Structure(co, dt, dt), ResultTypeUnmatched},
		{"range bad restricting", 1, axdr.Structure(axdr.Uint16(8), dt, dt, axdr.Array()), ResultTypeUnmatched},
		{"range short obis", 1, axdr.Structure(axdr.Structure(axdr.Uint16(8), axdr.OctetString([]byte{1, 2}), axdr.Int8(2), axdr.Uint16(0)), dt, dt, axdr.Array()), ResultTypeUnmatched},
		{"range from array", 1, axdr.Structure(co, axdr.Array(), dt, axdr.Array()), ResultTypeUnmatched},
		{"range selected not array", 1, axdr.Structure(co, dt, dt, axdr.Null()), ResultTypeUnmatched},
		{"entry int32", 2, axdr.Structure(axdr.Int32(1), axdr.Uint32(0), axdr.Uint16(1), axdr.Uint16(0)), ResultTypeUnmatched},
		{"entry short", 2, axdr.Structure(axdr.Uint32(1), axdr.Uint32(0)), ResultTypeUnmatched},
	}
	for _, tt := range tests {
		_, err := ParseSelectiveAccess(tt.sel, tt.p)
		wantResult(t, tt.name, err, tt.want)
	}
}
