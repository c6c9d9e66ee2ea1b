package dlmsdriver_test

import (
	"context"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
)

// TestCollectSubsAlone: an on-demand read of one sub-meter reads it alone
// through its parent's session, from its own cursors, as the model keeps
// it.
func TestCollectSubsAlone(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 31, 10, 0, 0, 0, ams)}
	f := startMBusFleet(t, 1, clk)
	d := dlmsdriver.New(dlmsdriver.Config{})
	tg := target(t, f, 0, clk)
	rows, err := f.SubRows(0)
	if err != nil || len(rows) != 2 {
		t.Fatalf("sub rows %+v %v", rows, err)
	}
	models, err := f.SubMeters(0)
	if err != nil {
		t.Fatal(err)
	}
	k := 1 // the water meter
	row, m := rows[k], models[k]
	tg.SubMeters = []headend.SubMeter{subMeter(t, row)}
	ctx := context.Background()
	cursor := time.Date(2026, 3, 31, 3, 0, 0, 0, ams)
	name := "profile:0." + row.Fields["mbus_channel"] + ".24.3.0.255"
	s := open(t, d, tg)
	defer s.Close(ctx)
	sc, ok := s.(headend.SubCollector)
	if !ok {
		t.Fatal("the DLMS session reads no sub-meter alone")
	}
	subs, err := sc.CollectSubs(ctx, headend.Plan{Backfill: cursor.Add(-48 * time.Hour), Until: clk.Now(),
		SubSince: map[string]map[string]time.Time{row.Serial: {name: cursor}}})
	if err != nil || len(subs) != 1 {
		t.Fatalf("%d sub collections, %v", len(subs), err)
	}
	got := subs[0]
	if got.Err != nil || got.MeterID != row.Serial || len(got.Blocks) != 1 || len(got.Problems) != 0 {
		t.Fatalf("water meter: %+v", got)
	}
	lk := f.Lock(0)
	lk.Lock()
	want := m.ProfileRange(clk.Now(), cursor.Add(time.Hour), clk.Now())
	lk.Unlock()
	b := got.Blocks[0]
	if b.ReadingType.ID != "W60me-3" || len(b.Readings) != len(want) || len(want) != 7 {
		t.Fatalf("water block %s: %d readings, the model's %d", b.ReadingType.ID, len(b.Readings), len(want))
	}
	for j, r := range b.Readings {
		if r.Value != want[j].Import || !r.End.Equal(want[j].Stamp) {
			t.Fatalf("hour %d: %d L at %v, the model %d L at %v", j, r.Value, r.End, want[j].Import, want[j].Stamp)
		}
	}
	if !got.Cursors[name].Equal(want[len(want)-1].Stamp) {
		t.Fatalf("cursor %v, the last hour %v", got.Cursors[name], want[len(want)-1].Stamp)
	}
	found := false
	for _, r := range got.Registers {
		if r.ReadingType != "We-3" {
			continue
		}
		lk.Lock()
		model := m.RegistersAt(r.TimeStamp).Import
		lk.Unlock()
		if r.Value != model || r.MeterID != row.Serial {
			t.Fatalf("index %+v, the model's %d", r, model)
		}
		found = true
	}
	if !found {
		t.Fatalf("no index in %+v", got.Registers)
	}
}
