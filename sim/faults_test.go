package sim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
	"github.com/amigo-ami/amigo/sim"
)

// faultyMeter serves two IDIS-like meters, the first with fault f, and
// returns the first's manifest row.
func faultyMeter(t *testing.T, f sim.Fault, set func(*sim.Config)) (*sim.Fleet, manifest.Row) {
	t.Helper()
	fl := startFleetWith(t, 2, func(c *sim.Config) {
		c.FaultsOf = func(i int) sim.Fault {
			if i == 0 {
				return f
			}
			return 0
		}
		if set != nil {
			set(c)
		}
	})
	if got := fl.FaultsOf(0); got != f {
		t.Fatalf("meter 0 has faults %s, want %s", got, f)
	}
	return fl, fleetManifest(t, fl)[0]
}

// resync associates above the counter the meter last accepted, as a
// client that keeps no state does.
func resync(t *testing.T, r manifest.Row) *dlms.Client {
	t.Helper()
	o := hlsOptions(t, r)
	o.ReadInvocationCounter = true
	return dial(t, r, o)
}

var absentLN = obis.Code{1, 0, 99, 99, 9, 255}

// TestFaultListDrop: a GET-with-list closes the link; single reads on a
// new connection work.
func TestFaultListDrop(t *testing.T) {
	_, r := faultyMeter(t, sim.FaultListDrop, nil)
	ctx := context.Background()
	c := dial(t, r, hlsOptions(t, r))
	_, err := c.GetList(ctx, []dlms.Attr{attr(8, sim.ClockLN, 2), attr(3, sim.ImportLN, 2)})
	if !errors.Is(err, dlms.ErrPeerClosed) {
		t.Fatalf("GET-with-list answered %v, want the link closed", err)
	}
	c.Close()
	c = resync(t, r)
	if _, err := c.Get(ctx, attr(3, sim.ImportLN, 2), nil); err != nil {
		t.Fatalf("a single GET after the drop: %v", err)
	}
}

// TestFaultCounterAhead: the meter expects its management client's
// counter above CounterAhead: an association from 1 is refused, the public
// client reads the meter's counter object, and one above it associates.
func TestFaultCounterAhead(t *testing.T) {
	_, r := faultyMeter(t, sim.FaultCounterAhead, nil)
	ctx := context.Background()
	o := hlsOptions(t, r)
	o.InvocationCounter = 1
	if c, err := dlms.Dial(ctx, r.Address.String(), o); err == nil {
		c.Close()
		t.Fatal("an association with counter 1 was accepted")
	}
	pub := dial(t, r, dlms.Options{Timeout: 5 * time.Second})
	v, err := pub.Get(ctx, attr(1, sim.InvocationCounterLN, 2), nil)
	pub.Close()
	if n, _ := v.Uint(); err != nil || n != sim.CounterAhead {
		t.Fatalf("invocation counter object %v %v, want %d", v, err, sim.CounterAhead)
	}
	o.InvocationCounter = sim.CounterAhead + 1
	c := dial(t, r, o)
	if _, err := c.Get(ctx, attr(3, sim.ImportLN, 2), nil); err != nil {
		t.Fatalf("after resynchronising: %v", err)
	}
}

// TestFaultListAbsent: after the first item that fails, every later item
// of a list answers object-undefined, objects the meter has included; a
// list without a failing item is answered in full.
func TestFaultListAbsent(t *testing.T) {
	_, r := faultyMeter(t, sim.FaultListAbsent, nil)
	ctx := context.Background()
	c := dial(t, r, hlsOptions(t, r))
	res, err := c.GetList(ctx, []dlms.Attr{attr(3, sim.ImportLN, 2), attr(1, absentLN, 2), attr(3, sim.ExportLN, 2), attr(1, sim.SerialLN, 2)})
	if err != nil {
		t.Fatal(err)
	}
	want := []apdu.DataAccessResult{0, apdu.ObjectUndefined, apdu.ObjectUndefined, apdu.ObjectUndefined}
	for i, w := range want {
		var de *dlms.DataAccessError
		switch {
		case w == 0 && res[i].Err != nil:
			t.Errorf("item %d: %v", i, res[i].Err)
		case w != 0 && (!errors.As(res[i].Err, &de) || de.Result != w):
			t.Errorf("item %d: %v, want %v", i, res[i].Err, w)
		}
	}
	res, err = c.GetList(ctx, []dlms.Attr{attr(3, sim.ExportLN, 2), attr(1, sim.SerialLN, 2)})
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("a list of present objects: %+v %v", res, err)
	}
	if _, err := c.Get(ctx, attr(3, sim.ExportLN, 2), nil); err != nil {
		t.Fatal(err)
	}
}

// TestFaultRangeRefused: a profile read by range answers other-reason;
// by entry it reads.
func TestFaultRangeRefused(t *testing.T) {
	_, r := faultyMeter(t, sim.FaultRangeRefused, nil)
	ctx := context.Background()
	c := dial(t, r, hlsOptions(t, r))
	_, _, err := c.ReadProfile(ctx, sim.LoadProfileLN, start.Add(-time.Hour), start)
	var de *dlms.DataAccessError
	if !errors.As(err, &de) || de.Result != apdu.OtherReason {
		t.Fatalf("by range: %v, want other-reason", err)
	}
	rows, _, err := c.ReadProfileEntries(ctx, sim.LoadProfileLN, 1, 4)
	if err != nil || len(rows) != 4 {
		t.Fatalf("by entry: %d rows, %v", len(rows), err)
	}
}

// TestFaultOffGrid: a day of the load profile holds one more entry,
// stamped 07:07:30 with the clock-adjusted bit, between its neighbours
// and registers that never decrease.
func TestFaultOffGrid(t *testing.T) {
	_, r := faultyMeter(t, sim.FaultOffGrid, nil)
	ctx := context.Background()
	c := dial(t, r, hlsOptions(t, r))
	day := time.Date(2026, 3, 9, 0, 0, 0, 0, ams)
	rows, _, err := c.ReadProfile(ctx, sim.LoadProfileLN, day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 98 {
		t.Fatalf("%d rows for a day, want 97 on the grid and 1 off it", len(rows))
	}
	off := 0
	var last uint64
	for i, row := range rows {
		at, ok := cosem.TimeOf(row.Items[0])
		if !ok {
			t.Fatalf("row %d clock %v", i, row.Items[0])
		}
		imp, _ := row.Items[2].Uint()
		if imp < last {
			t.Fatalf("row %d at %s: A+ %d after %d", i, at, imp, last)
		}
		last = imp
		if at.Sub(day)%(15*time.Minute) == 0 {
			continue
		}
		off++
		st, _ := row.Items[1].Uint()
		if h, m, s := at.In(ams).Clock(); h != 7 || m != 7 || s != 30 || meter.Status(st)&meter.StatusClockAdjusted == 0 {
			t.Fatalf("off-grid row at %s status %#x", at, st)
		}
	}
	if off != 1 {
		t.Fatalf("%d off-grid rows", off)
	}
	// A range that ends before 07:07:30 does not hold it.
	rows, _, err = c.ReadProfile(ctx, sim.LoadProfileLN, day, day.Add(7*time.Hour))
	if err != nil || len(rows) != 29 {
		t.Fatalf("midnight to 07:00: %d rows, %v", len(rows), err)
	}
}

// TestFaultListClock: inside a list the clock's date-time comes back
// wrapped twice; read alone it is a plain date-time.
func TestFaultListClock(t *testing.T) {
	_, r := faultyMeter(t, sim.FaultListClock, nil)
	ctx := context.Background()
	c := dial(t, r, hlsOptions(t, r))
	res, err := c.GetList(ctx, []dlms.Attr{attr(8, sim.ClockLN, 2), attr(3, sim.ImportLN, 2)})
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("%+v %v", res, err)
	}
	v := res[0].Data
	if v.Tag != axdr.TagOctetString || len(v.Bytes) != 14 || v.Bytes[0] != byte(axdr.TagOctetString) || v.Bytes[1] != 12 {
		t.Fatalf("clock in a list %v, want an octet-string holding the date-time octet-string", v)
	}
	inner, _, err := axdr.Decode(v.Bytes)
	if _, ok := cosem.TimeOf(inner); err != nil || !ok {
		t.Fatalf("inner value %v %v", inner, err)
	}
	alone, err := c.Get(ctx, attr(8, sim.ClockLN, 2), nil)
	if _, ok := cosem.TimeOf(alone); err != nil || !ok || len(alone.Bytes) != 12 {
		t.Fatalf("clock alone %v %v", alone, err)
	}
}

// TestFaultReadAheadCrash: the capture objects and a range of the same
// profile in one list crash the meter: the link drops, the meter refuses
// connections while it reboots, then answers again; other lists are
// answered.
func TestFaultReadAheadCrash(t *testing.T) {
	f, r := faultyMeter(t, sim.FaultReadAheadCrash, func(c *sim.Config) { c.RebootTime = 500 * time.Millisecond })
	ctx := context.Background()
	c := dial(t, r, hlsOptions(t, r))
	res, err := c.GetList(ctx, []dlms.Attr{attr(8, sim.ClockLN, 2), attr(7, sim.LoadProfileLN, 3)})
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("a harmless list: %+v %v", res, err)
	}
	_, err = c.ReadProfiles(ctx, []dlms.ProfileRange{{LN: sim.LoadProfileLN, From: start.Add(-time.Hour), To: start}})
	if !errors.Is(err, dlms.ErrPeerClosed) {
		t.Fatalf("the read-ahead answered %v, want the link dropped", err)
	}
	c.Close()
	o := hlsOptions(t, r)
	o.ReadInvocationCounter = true
	if c, err := dlms.Dial(ctx, r.Address.String(), o); err == nil {
		c.Close()
		t.Fatal("the meter answered at once after crashing")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := dlms.Dial(ctx, r.Address.String(), o)
		if err == nil {
			_, err = c.Get(ctx, attr(3, sim.ImportLN, 2), nil)
			c.Close()
			if err != nil {
				t.Fatalf("after the reboot: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the meter never came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The other meter of the fleet was never affected.
	if f.FaultsOf(1) != 0 {
		t.Fatal("meter 1 has faults")
	}
}

// TestFaultMix: faults are drawn per meter from the seed, the same in
// every run, each near its fraction; "all" gives each fault.
func TestFaultMix(t *testing.T) {
	mix, err := sim.ParseFaultMix("list-drop=0.1,off-grid=0.5")
	if err != nil {
		t.Fatal(err)
	}
	mk := func() *sim.Fleet {
		f, err := sim.NewFleet(sim.Config{Meters: 2000, Seed: 3, Now: (&sim.Clock{Start: start}).Now, Model: meter.NewFleet(3, ams, start), DLMSFaults: mix})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a, b := mk(), mk()
	n := map[sim.Fault]int{}
	for i := range 2000 {
		if a.FaultsOf(i) != b.FaultsOf(i) {
			t.Fatalf("meter %d: %s then %s", i, a.FaultsOf(i), b.FaultsOf(i))
		}
		for _, f := range sim.Faults() {
			if a.FaultsOf(i).Has(f) {
				n[f]++
			}
		}
	}
	if n[sim.FaultListDrop] < 150 || n[sim.FaultListDrop] > 250 || n[sim.FaultOffGrid] < 900 || n[sim.FaultOffGrid] > 1100 || len(n) != 2 {
		t.Fatalf("faults of 2000 meters: %v", n)
	}
	all, err := sim.ParseFaultMix("all")
	if err != nil || len(all) != len(sim.Faults()) {
		t.Fatalf("all: %v %v", all, err)
	}
	for _, bad := range []string{"nope", "off-grid=2", "list-drop=x"} {
		if _, err := sim.ParseFaultMix(bad); err == nil {
			t.Errorf("ParseFaultMix(%q) accepted", bad)
		}
	}
}
