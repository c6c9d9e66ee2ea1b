package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/sim"
)

// The special days table (class 11) over DLMS is the model's: it starts
// with the calendar's special days, an inserted holiday takes its day
// profile from now on (the past keeps its registers), a deleted one is
// gone, and a date the meter cannot follow is refused.
func TestSpecialDaysTableReachesTheModel(t *testing.T) {
	f := startFleet(t, 1, nil)
	r := fleetManifest(t, f)[0]
	c := dial(t, r, hlsOptions(t, r))
	defer c.Release(context.Background())
	ctx := context.Background()
	table := attr(cosem.ClassSpecialDaysTable, sim.SpecialDaysLN, 2)
	entry := func(ix uint16, date axdr.Date, day uint8) axdr.Data {
		return axdr.Structure(axdr.Uint16(ix), axdr.OctetString(date.Bytes()), axdr.Uint8(day))
	}
	newYear := entry(1, axdr.Date{Year: axdr.YearUnspecified, Month: 1, Day: 1, DayOfWeek: axdr.Unspecified}, 2)
	v, err := c.Get(ctx, table, nil)
	if err != nil || len(v.Items) != 1 || !v.Items[0].Equal(newYear) {
		t.Fatalf("table %v, %v; want the two-rate calendar's New Year", v, err)
	}
	m, _ := f.Meter(0)
	ams := start.Location()
	past := time.Date(2026, 3, 9, 0, 0, 0, 0, ams)
	f.Lock(0).Lock()
	before := m.RegistersAt(past)
	f.Lock(0).Unlock()

	// Thursday 12 March becomes a holiday with the weekend's day (id 2,
	// rate 1 all day); so does Monday 9 March, which is past.
	insert := dlms.Method{Class: cosem.ClassSpecialDaysTable, OBIS: sim.SpecialDaysLN, Method: 1}
	for _, e := range []axdr.Data{
		entry(2, axdr.Date{Year: 2026, Month: 3, Day: 12, DayOfWeek: axdr.Unspecified}, 2),
		entry(3, axdr.Date{Year: 2026, Month: 3, Day: 9, DayOfWeek: axdr.Unspecified}, 2),
	} {
		if _, err := c.Action(ctx, insert, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Action(ctx, dlms.Method{Class: cosem.ClassSpecialDaysTable, OBIS: sim.SpecialDaysLN, Method: 2}, axdr.Uint16(1)); err != nil {
		t.Fatal(err)
	}
	f.Lock(0).Lock()
	cal := m.Tariff().At(start)
	after := m.RegistersAt(past)
	f.Lock(0).Unlock()
	if len(cal.Special) != 2 || cal.Special[0].Day != 12 || cal.Special[0].Year != 2026 || cal.Special[0].Profile != 1 {
		t.Fatalf("model special days %+v", cal.Special)
	}
	if cal.Rate(time.Date(2026, 3, 12, 12, 0, 0, 0, ams)) != 1 || cal.Rate(time.Date(2026, 3, 11, 12, 0, 0, 0, ams)) != 2 {
		t.Error("12 March noon is not on the holiday's rate, or 11 March is")
	}
	if cal.Rate(time.Date(2027, 1, 1, 12, 0, 0, 0, ams)) != 2 {
		t.Error("New Year 2027 (a Friday) still a holiday after its entry was deleted")
	}
	if after != before {
		t.Errorf("registers at %s changed: %+v, were %+v", past, after, before)
	}
	if v, err := c.Get(ctx, table, nil); err != nil || len(v.Items) != 2 {
		t.Fatalf("table after insert and delete: %v, %v", v, err)
	}
	// A wildcard month (DST end) and an unknown day are refused.
	for _, bad := range []axdr.Data{
		entry(4, axdr.Date{Year: axdr.YearUnspecified, Month: 0xFD, Day: 1, DayOfWeek: axdr.Unspecified}, 1),
		entry(4, axdr.Date{Year: axdr.YearUnspecified, Month: 5, Day: 1, DayOfWeek: axdr.Unspecified}, 0),
	} {
		if _, err := c.Action(ctx, insert, bad); err == nil {
			t.Errorf("entry %v accepted", bad)
		}
	}
}
