package dlmsdriver_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// startMBusFleet is startFleet with a gas and a water meter behind every
// electricity meter.
func startMBusFleet(t testing.TB, n int, clk *clock) *sim.Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(11, ams, clk.Now())
	model.HistoryDays = 10
	model.Install = clk.Now().AddDate(0, 0, -10)
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 11, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clk.Now, Model: model,
		Gas: 1, Water: 1, Models: []sim.ModelShare{{Model: sim.ModelDSMR5, Weight: 1}}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

func subMeter(t testing.TB, r manifest.Row) headend.SubMeter {
	return headend.SubMeter{Meter: cim.Meter{MRID: r.Serial, SerialNumber: r.Serial, Kind: r.Kind, Protocol: "dlms"},
		Credentials: register(t, r), Location: ams}
}

// TestSubMetersReadThroughParent: a session reads the gas and water
// meters on its M-Bus channels under their own ids, as the model keeps
// them, from their own cursors; the parent's reads leave their channels
// out.
func TestSubMetersReadThroughParent(t *testing.T) {
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
	for _, r := range rows {
		tg.SubMeters = append(tg.SubMeters, subMeter(t, r))
	}
	ctx := context.Background()
	backfill := time.Date(2026, 3, 30, 0, 0, 0, 0, ams)
	until := time.Date(2026, 3, 31, 0, 0, 0, 0, ams)
	s := open(t, d, tg)
	col, err := s.Collect(ctx, headend.Plan{Backfill: backfill, Until: until})
	s.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range col.Blocks {
		if b.ReadingType.Commodity != cim.CommodityElectricity && b.ReadingType.Commodity != 0 || strings.HasPrefix(b.ReadingType.ID, "MB") {
			t.Errorf("parent block %s", b.ReadingType.ID)
		}
	}
	for _, r := range col.Registers {
		if strings.HasPrefix(r.ReadingType, "MB") || r.MeterID != tg.Meter.MRID {
			t.Errorf("parent register %+v", r)
		}
	}
	if len(col.Subs) != 2 {
		t.Fatalf("%d sub collections", len(col.Subs))
	}
	lk := f.Lock(0)
	since := map[string]map[string]time.Time{}
	for k, sc := range col.Subs {
		row, m := rows[k], models[k]
		id, v := row.Serial, map[string]string{"gas": "G", "water": "W"}[row.Kind]
		if sc.Err != nil || sc.MeterID != id || !sc.Complete || len(sc.Problems) != 0 {
			t.Fatalf("%s meter %s: %+v", row.Kind, id, sc)
		}
		if len(sc.Blocks) != 1 {
			t.Fatalf("%s meter: %d blocks", row.Kind, len(sc.Blocks))
		}
		b := sc.Blocks[0]
		lk.Lock()
		want := m.ProfileRange(clk.Now(), backfill.Add(time.Hour), clk.Now())
		lk.Unlock()
		wantCommodity := map[string]cim.Commodity{"gas": cim.CommodityGas, "water": cim.CommodityWater}[row.Kind]
		if b.MeterID != id || b.ReadingType.ID != v+"60me-3" || b.ReadingType.Unit != cim.UnitM3 || b.ReadingType.Commodity != wantCommodity ||
			len(b.Readings) != len(want) {
			t.Fatalf("%s block %+v, %d readings for the model's %d", row.Kind, b.ReadingType, len(b.Readings), len(want))
		}
		for j, r := range b.Readings {
			if r.Value != want[j].Import || !r.End.Equal(want[j].Stamp) {
				t.Fatalf("%s hour %d: %d L at %v, the model %d L at %v", row.Kind, j, r.Value, r.End, want[j].Import, want[j].Stamp)
			}
		}
		var index, daily int
		for _, r := range sc.Registers {
			lk.Lock()
			model := m.RegistersAt(r.TimeStamp).Import
			lk.Unlock()
			switch {
			case r.MeterID != id:
				t.Fatalf("register under %s: %+v", r.MeterID, r)
			case r.ReadingType == v+"e-3":
				index++
			case r.ReadingType == v+"e-3/daily":
				daily++
			default:
				t.Fatalf("%s register %+v", row.Kind, r)
			}
			if r.Value != model {
				t.Fatalf("%s %s at %v: %d, the model %d", row.Kind, r.ReadingType, r.TimeStamp, r.Value, model)
			}
		}
		if index != 1 || daily < 1 {
			t.Fatalf("%s: %d index reads, %d daily", row.Kind, index, daily)
		}
		cur := "profile:0." + row.Fields["mbus_channel"] + ".24.3.0.255"
		if !sc.Cursors[cur].Equal(clk.Now()) {
			t.Fatalf("%s cursors %v, want %s at %v", row.Kind, sc.Cursors, cur, clk.Now())
		}
		since[id] = sc.Cursors
	}

	// Two hours later each reads on from its own cursors.
	clk.Add(2 * time.Hour)
	s = open(t, d, tg)
	col, err = s.Collect(ctx, headend.Plan{Since: col.Cursors, SubSince: since, Backfill: backfill, Until: until})
	s.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range col.Subs {
		if sc.Err != nil || len(sc.Blocks) != 1 || len(sc.Blocks[0].Readings) != 2 {
			t.Fatalf("resumed %s: %+v", sc.MeterID, sc)
		}
	}
}

// TestSubMeterOtherDevice: a channel holding another device than the
// registered one (another identification, a water meter where gas is
// registered) is an event and an error of the sub-meter's, not its data;
// a channel without an M-Bus client is an error too; the parent's
// collection stands.
func TestSubMeterOtherDevice(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 31, 10, 0, 0, 0, ams)}
	f := startMBusFleet(t, 1, clk)
	d := dlmsdriver.New(dlmsdriver.Config{})
	tg := target(t, f, 0, clk)
	rows, err := f.SubRows(0)
	if err != nil || len(rows) != 2 {
		t.Fatalf("sub rows %+v %v", rows, err)
	}
	other := rows[0]
	other.Serial = other.Serial[:len(other.Serial)-1] + "9"
	if strings.HasSuffix(rows[0].Serial, "9") {
		other.Serial = other.Serial[:len(other.Serial)-1] + "8"
	}
	water := rows[1]
	water.Fields = map[string]string{}
	for k, v := range rows[1].Fields {
		water.Fields[k] = v
	}
	water.Fields["mbus_channel"] = "1" // the gas meter's channel
	none := rows[1]
	none.Serial, none.Fields = none.Serial+"X", map[string]string{}
	for k, v := range rows[1].Fields {
		none.Fields[k] = v
	}
	none.Fields["mbus_channel"] = "3"
	for _, r := range []manifest.Row{other, water, none} {
		tg.SubMeters = append(tg.SubMeters, subMeter(t, r))
	}
	ctx := context.Background()
	s := open(t, d, tg)
	col, err := s.Collect(ctx, headend.Plan{Backfill: time.Date(2026, 3, 30, 0, 0, 0, 0, ams), Until: time.Date(2026, 3, 31, 0, 0, 0, 0, ams)})
	s.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !col.Complete || len(col.Blocks) == 0 || len(col.Subs) != 3 {
		t.Fatalf("parent complete %v, %d blocks, %d subs", col.Complete, len(col.Blocks), len(col.Subs))
	}
	for k, sc := range col.Subs {
		if sc.Err == nil || len(sc.Blocks) != 0 || len(sc.Registers) != 0 {
			t.Fatalf("sub %d: %+v", k, sc)
		}
	}
	for k, why := range []string{"not " + other.Serial[len(other.Serial)-8:], "not a water meter"} {
		sc := col.Subs[k]
		if d.Cause(sc.Err) != headend.OutcomeWrongDevice || !strings.Contains(sc.Err.Error(), why) {
			t.Fatalf("sub %d: %v (cause %s), want %q", k, sc.Err, d.Cause(sc.Err), why)
		}
		if len(sc.Events) != 1 || sc.Events[0].Type != dlmsdriver.EventMBusDevice || sc.Events[0].MeterID != sc.MeterID ||
			sc.Events[0].Details["manufacturer"] != sim.Manufacturer {
			t.Fatalf("sub %d events %+v", k, sc.Events)
		}
	}
	if sc := col.Subs[2]; d.Cause(sc.Err) != "" || errors.Is(sc.Err, context.Canceled) || !strings.Contains(sc.Err.Error(), "channel 3") {
		t.Fatalf("sub on an empty channel: %v", sc.Err)
	}
}
