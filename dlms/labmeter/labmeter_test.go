package labmeter

import (
	"context"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

var now = time.Date(2026, 11, 23, 21, 7, 0, 0, time.UTC)

func get(t *testing.T, m *Meter, class uint16, ln obis.Code, attr int8, acc *cosem.AccessSelection) axdr.Data {
	t.Helper()
	o, err := m.Tree.Lookup(class, ln)
	if err != nil {
		t.Fatal(err)
	}
	d, err := o.Get(context.Background(), &cosem.AttributeRequest{Attribute: attr, Access: acc})
	if err != nil {
		t.Fatalf("%s attr %d: %v", ln, attr, err)
	}
	return d
}

func TestProfileReconcilesWithRegisters(t *testing.T) {
	m, err := New(Config{Serial: "LAB1", Now: func() time.Time { return now }, Days: 2})
	if err != nil {
		t.Fatal(err)
	}
	rows := get(t, m, 7, LoadProfileLN, 2, nil)
	if len(rows.Items) != 2*96 {
		t.Fatalf("%d rows, want 192", len(rows.Items))
	}
	last := rows.Items[len(rows.Items)-1]
	ts, _ := last.Items[0].DateTime()
	if tt, _ := ts.Time(); !tt.Equal(now.Truncate(15 * time.Minute)) {
		t.Fatalf("last entry stamped %v", tt)
	}
	reg := get(t, m, 3, ImportLN, 2, nil)
	if !reg.Equal(last.Items[2]) {
		t.Fatalf("register %v != last profile entry %v", reg, last.Items[2])
	}
	// Entries are cumulative and never decrease.
	prev := uint64(0)
	for _, r := range rows.Items {
		v, _ := r.Items[2].Uint()
		if v < prev {
			t.Fatal("import register went backwards")
		}
		prev = v
	}
	// A range read by the clock column returns just that window.
	from := now.Add(-2 * time.Hour)
	rd := cosem.RangeDescriptor{
		RestrictingObject: cosem.CaptureObject{ClassID: 8, LogicalName: ClockLN, Attribute: 2},
		From:              axdr.DateTimeOctets(axdr.FromTime(from, 0)),
		To:                axdr.DateTimeOctets(axdr.FromTime(now, 0)),
	}
	part := get(t, m, 7, LoadProfileLN, 2, rd.Access())
	if len(part.Items) < 7 || len(part.Items) > 9 {
		t.Fatalf("two hours gave %d rows", len(part.Items))
	}
}

func TestDeterministicPerSerial(t *testing.T) {
	clock := func() time.Time { return now }
	a, _ := New(Config{Serial: "A", Now: clock})
	a2, _ := New(Config{Serial: "A", Now: clock})
	b, _ := New(Config{Serial: "B", Now: clock})
	ra, ra2, rb := get(t, a, 3, ImportLN, 2, nil), get(t, a2, 3, ImportLN, 2, nil), get(t, b, 3, ImportLN, 2, nil)
	if !ra.Equal(ra2) || ra.Equal(rb) {
		t.Fatalf("A=%v A'=%v B=%v", ra, ra2, rb)
	}
	su := get(t, a, 3, ImportLN, 3, nil)
	if p, err := axdr.ParseScalerUnit(su); err != nil || p.Unit != unitWh {
		t.Fatalf("scaler unit %v %v", p, err)
	}
}
