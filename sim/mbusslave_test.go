package sim_test

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/mbus"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// mbusFleet serves a fleet where every address has an M-Bus converter.
func mbusFleet(t *testing.T, meters int) *sim.Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	model := meter.NewFleet(11, ams, start)
	model.Faults = meter.Faults{}
	clk := &sim.Clock{Start: start}
	f, err := sim.NewFleet(sim.Config{Meters: meters, Seed: 11, Now: clk.Now, Model: model,
		MBus: 1, MBusPort: uint16(ln.Addr().(*net.TCPAddr).Port)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = f.ServeMBus(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

// TestStandaloneMBusMeters reads every standalone meter of a few
// converters by primary and by secondary address: the volume, the
// midnight value and every stored hour equal the model's.
func TestStandaloneMBusMeters(t *testing.T) {
	f := mbusFleet(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	seenWater, scanned := false, false
	for i := range f.Len() {
		mms := f.MBusMeters(i)
		if len(mms) == 0 || mms[0].Kind != meter.Gas {
			t.Fatalf("converter %d: meters %+v", i, mms)
		}
		conn, err := mbus.DialTCP(ctx, f.MBusAddr(i).String())
		if err != nil {
			t.Fatal(err)
		}
		m := mbus.NewMaster(conn)
		// Silence answers most probes of the scan below; on loopback it
		// need not be long.
		m.Timeout = 100 * time.Millisecond
		for k, mm := range mms {
			seenWater = seenWater || mm.Kind == meter.Water
			var tgs []mbus.Telegram
			if k == 0 {
				tgs, err = m.Read(ctx, mm.Primary, nil)
			} else {
				tgs, err = m.ReadSecondary(ctx, mbus.Exact(mm.Address), nil)
			}
			if err != nil {
				t.Fatalf("meter %d: %v", mm.ID, err)
			}
			checkMBusModel(t, f, mm, tgs)
		}
		if len(mms) > 1 && !scanned {
			// Consecutive ids collide down to the last digit.
			scanned = true
			found, err := m.Scan(ctx)
			if err != nil || len(found) != len(mms) || found[0] != mms[0].Address || found[1] != mms[1].Address {
				t.Fatalf("converter %d: scan found %v, %v; has %+v", i, found, err, mms)
			}
		}
		conn.Close()
	}
	if !seenWater {
		t.Fatal("no converter of the fleet has a water meter")
	}
}

func checkMBusModel(t *testing.T, f *sim.Fleet, mm sim.MBusMeter, tgs []mbus.Telegram) {
	t.Helper()
	model, err := f.MBusModel(mm)
	if err != nil {
		t.Fatal(err)
	}
	now := f.Now()
	want := model.RegistersAt(now).Import
	midnight := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, ams)
	bs := model.DailyBilling(now, midnight, midnight)
	es := model.ProfileRange(now, now.Add(-sim.DefaultMBusHistory), now)
	byStamp := map[time.Time]int64{}
	for _, e := range es {
		byStamp[e.Stamp.UTC()] = e.CumImport
	}
	var newest time.Time
	var interval time.Duration
	stored := map[uint64]int64{}
	got := map[string]bool{}
	for _, tg := range tgs {
		if tg.Header.Address() != mm.Address {
			t.Fatalf("header %+v, want %v", tg.Header, mm.Address)
		}
		for _, r := range tg.Records {
			switch {
			case r.Quantity == mbus.Volume && r.Subunit == 0 && r.Storage == 0:
				got["volume"] = true
				if r.Value.Int != want || r.Exponent != -3 || r.Unit != "m³" {
					t.Errorf("meter %d volume %d e%d %s, model %d l", mm.ID, r.Value.Int, r.Exponent, r.Unit, want)
				}
			case r.Quantity == mbus.Volume && r.Subunit == 0 && r.Storage == 1:
				got["midnight"] = true
				if len(bs) != 1 || r.Value.Int != bs[0].Registers.Import {
					t.Errorf("meter %d midnight volume %d, model %+v", mm.ID, r.Value.Int, bs)
				}
			case r.Quantity == mbus.Date && r.Storage == 1:
				if d := r.Value.Time; d.Year() != midnight.Year() || d.YearDay() != midnight.YearDay() {
					t.Errorf("midnight date %v", d)
				}
			case r.Quantity == mbus.DateTime && r.Subunit == 0:
				wall := now.In(ams)
				if r.Value.Time.Hour() != wall.Hour() || r.Value.Time.Minute() != wall.Minute() || r.Value.Summer != wall.IsDST() {
					t.Errorf("clock %v, model %v", r.Value, wall)
				}
			case r.Quantity == mbus.DateTime && r.Subunit == 1:
				v := r.Value.Time
				newest = time.Date(v.Year(), v.Month(), v.Day(), v.Hour(), v.Minute(), v.Second(), 0, ams)
			case r.Quantity == mbus.StorageInterval:
				interval = time.Duration(r.Value.Int) * time.Minute
			case r.Quantity == mbus.Volume && r.Subunit == 1:
				stored[r.Storage] = r.Value.Int
			}
		}
	}
	if !got["volume"] || !got["midnight"] || interval != time.Hour || newest.IsZero() {
		t.Fatalf("meter %d: records incomplete: %v interval %v newest %v", mm.ID, got, interval, newest)
	}
	if len(stored) != int(sim.DefaultMBusHistory/time.Hour) {
		t.Errorf("meter %d: %d stored hours", mm.ID, len(stored))
	}
	for s, v := range stored {
		at := newest.Add(-time.Duration(s-1) * interval).UTC()
		if w, ok := byStamp[at]; !ok || w != v {
			t.Errorf("meter %d storage %d (%v): %d, model %d (%v)", mm.ID, s, at, v, w, ok)
		}
	}
}

// The manifest lists the standalone meters with protocol mbus, no parent,
// and their addresses; it reads back.
func TestStandaloneMBusManifest(t *testing.T) {
	f := mbusFleet(t, 3)
	var buf bytes.Buffer
	if err := sim.WriteManifest(&buf, f); err != nil {
		t.Fatal(err)
	}
	rows, bad, err := manifest.Read(&buf)
	if err != nil || len(bad) != 0 {
		t.Fatalf("manifest: %v %v", bad, err)
	}
	n := 0
	for _, r := range rows {
		if r.Protocol != "mbus" {
			continue
		}
		n++
		if r.Parent != 0 || r.SubMeter() || r.Address.Port() != f.MBusAddr(0).Port() {
			t.Errorf("row %+v", r)
		}
		if _, err := mbus.ParseSecondary(r.Fields["mbus_secondary"]); err != nil || r.Fields["mbus_primary"] == "" {
			t.Errorf("row %+v: %v", r, err)
		}
	}
	want := 0
	for i := range f.Len() {
		want += len(f.MBusMeters(i))
	}
	if n != want {
		t.Fatalf("%d mbus rows, want %d", n, want)
	}
}

// A converter whose meter the fleet's faults put offline refuses
// connections, as a dead converter does.
func TestOfflineConverterRefuses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	model := meter.NewFleet(11, ams, start)
	model.Faults = meter.Faults{Offline: 1}
	clk := &sim.Clock{Start: start}
	f, err := sim.NewFleet(sim.Config{Meters: 1, Seed: 11, Now: clk.Now, Model: model, MBus: 1, MBusPort: uint16(ln.Addr().(*net.TCPAddr).Port)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = f.ServeMBus(ctx, ln) }()
	defer func() { cancel(); wg.Wait() }()
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	conn, err := mbus.DialTCP(rctx, f.MBusAddr(0).String())
	if err != nil {
		// The reset may come before the dial returns.
		return
	}
	defer conn.Close()
	m := mbus.NewMaster(conn)
	m.Timeout = 200 * time.Millisecond
	if _, err := m.Read(rctx, 1, nil); err == nil {
		t.Fatal("an offline converter answered")
	}
}
