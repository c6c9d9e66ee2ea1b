package meter

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/loadshape"
)

// New special days apply from now to the calendar in force and to a
// pending one (with the day profiles each has); earlier days keep theirs.
func TestSetSpecialDays(t *testing.T) {
	w := dstWindows(t)[0]
	f := testFleet(t, 5, w, Faults{})
	f.Tariff = NewTariff(TwoRateCalendar())
	m := newMeter(t, f, idFor(f, loadshape.Family, 0), Electricity1P)
	now := w.start.Add(-6 * 24 * time.Hour)
	before := m.RegistersAt(now)
	act := now.Add(48 * time.Hour)
	if err := m.SetPassiveCalendar(now, FourRateCalendar(), act); err != nil {
		t.Fatal(err)
	}
	loc := f.Location
	y, mo, d := now.In(loc).Date()
	tomorrow := time.Date(y, mo, d+1, 0, 0, 0, 0, loc)
	yesterday := time.Date(y, mo, d-1, 0, 0, 0, 0, loc)
	sd := []SpecialDay{
		{Year: yesterday.Year(), Month: yesterday.Month(), Day: yesterday.Day(), Profile: 1},
		{Year: tomorrow.Year(), Month: tomorrow.Month(), Day: tomorrow.Day(), Profile: 1},
		{Month: time.May, Day: 5, Profile: 2}, // only the four-rate calendar has profile 2
	}
	if err := m.SetSpecialDays(now, sd); err != nil {
		t.Fatal(err)
	}
	if got := m.RegistersAt(now); got != before {
		t.Errorf("registers at now changed: %+v, were %+v", got, before)
	}
	tr := m.Tariff()
	cur := tr.At(now)
	if len(cur.Special) != 2 || cur.Name != "two-rate" {
		t.Errorf("calendar in force: %s with %+v", cur.Name, cur.Special)
	}
	if r := cur.Rate(tomorrow.Add(12 * time.Hour)); r != 1 {
		t.Errorf("tomorrow's noon on rate %d, want the holiday's 1", r)
	}
	if old := tr.At(now.Add(-time.Hour)); len(old.Special) != 1 {
		t.Errorf("calendar before now: %+v", old.Special)
	}
	p, at, ok := tr.Passive(now)
	if !ok || !at.Equal(act) || p.Name != "four-rate" || len(p.Special) != 3 {
		t.Fatalf("pending calendar %v at %s: %+v", ok, at, p)
	}
	if FourRateCalendar().Special[0].Day != 25 {
		t.Error("the shared calendar was changed")
	}
}
