package sim_test

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
	"github.com/amigo-ami/amigo/sim"
)

// TestGasAndWaterThroughMBus reads a gas meter through its electricity
// meter's M-Bus client objects: the volume register equals the model's,
// the hourly profile adds up to the register's move, and closing the valve
// over DLMS stops the flow.
func TestGasAndWaterThroughMBus(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	model := meter.NewFleet(7, ams, start)
	model.Faults = meter.Faults{}
	clk := &sim.Clock{Start: start}
	f, err := sim.NewFleet(sim.Config{Meters: 3, Seed: 7, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clk.Now, Model: model,
		Gas: 1, Water: 1})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.Serve(ctx, ln) }()
	defer func() { cancel(); wg.Wait() }()

	var buf bytes.Buffer
	if err := sim.WriteManifest(&buf, f); err != nil {
		t.Fatal(err)
	}
	rows, bad, err := manifest.Read(&buf)
	if err != nil || len(bad) != 0 || len(rows) != 9 {
		t.Fatalf("manifest: %d rows, %v %v", len(rows), bad, err)
	}
	if rows[1].Kind != "gas" || rows[1].Parent != rows[0].MeterID || rows[1].Fields["mbus_channel"] != "1" || rows[2].Kind != "water" || rows[2].Fields["mbus_channel"] != "2" {
		t.Fatalf("sub-meter rows %+v %+v", rows[1], rows[2])
	}

	subs, err := f.SubMeters(0)
	if err != nil || len(subs) != 2 {
		t.Fatalf("sub-meters %v %v", subs, err)
	}
	gas := subs[0]
	r := rows[0]
	c := dial(t, r, hlsOptions(t, r))
	defer c.Release(context.Background())
	volLN := obis.Code{0, 1, 24, 2, 1, 255}
	v, err := c.Get(ctx, attr(4, volLN, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	su, _ := c.Get(ctx, attr(4, volLN, 3), nil)
	if p, err := axdr.ParseScalerUnit(su); err != nil || p.Unit != axdr.UnitCubicMetre || p.Scaler != -3 {
		t.Fatalf("scaler_unit %v %v", su, err)
	}
	f.Lock(0).Lock()
	want := gas.RegistersAt(start).Import
	f.Lock(0).Unlock()
	if got, _ := v.Uint(); int64(got) != want {
		t.Fatalf("gas volume over DLMS %d L, model %d L", got, want)
	}
	typ, err := c.Get(ctx, attr(72, obis.Code{0, 2, 24, 1, 0, 255}, 9), nil)
	if n, _ := typ.Uint(); err != nil || n != 0x07 {
		t.Fatalf("channel 2 device type %v %v, want water (7)", typ, err)
	}
	rows24, _, err := c.ReadProfile(ctx, obis.Code{0, 1, 24, 3, 0, 255}, start.Add(-24*time.Hour), start.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows24) < 23 {
		t.Fatalf("%d hourly entries in a day", len(rows24))
	}
	first, _ := rows24[0].Items[2].Uint()
	last, _ := rows24[len(rows24)-1].Items[2].Uint()
	t0, _ := cosemTime(rows24[0].Items[0])
	t1, _ := cosemTime(rows24[len(rows24)-1].Items[0])
	f.Lock(0).Lock()
	moved := gas.RegistersAt(t1).Import - gas.RegistersAt(t0).Import
	f.Lock(0).Unlock()
	if int64(last-first) != moved {
		t.Errorf("hourly profile moved %d L, the register %d L", last-first, moved)
	}
	if _, err := c.Action(ctx, dlms.Method{Class: 70, OBIS: obis.Code{0, 1, 24, 4, 0, 255}, Method: 1}, axdr.Int8(0)); err != nil {
		t.Fatal(err)
	}
	f.Lock(0).Lock()
	a, b := gas.RegistersAt(start.Add(time.Hour)), gas.RegistersAt(start.Add(30*time.Hour))
	st, _ := gas.Relay()
	f.Lock(0).Unlock()
	if st != meter.Disconnected || a.Import != b.Import {
		t.Errorf("valve %v; gas flowed %d L with the valve closed", st, b.Import-a.Import)
	}
}

func cosemTime(d axdr.Data) (time.Time, bool) {
	dt, ok := d.DateTime()
	if !ok {
		return time.Time{}, false
	}
	t, err := dt.TimeIn(ams)
	return t, err == nil
}
