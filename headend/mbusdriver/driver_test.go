package mbusdriver_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/mbusdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/mbus"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
)

var ams = func() *time.Location {
	l, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		panic(err)
	}
	return l
}()

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// fleet serves n converters, each with its standalone meters.
func fleet(t *testing.T, n int, clk *clock) (*sim.Fleet, []manifest.Row) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(5, ams, clk.Now())
	model.HistoryDays = 5
	model.Install = clk.Now().AddDate(0, 0, -5)
	model.Faults = meter.Faults{}
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 5, Now: clk.Now, Model: model,
		MBus: 1, MBusPort: uint16(ln.Addr().(*net.TCPAddr).Port)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = f.ServeMBus(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	var rows []manifest.Row
	for i := range n {
		rs, err := f.MBusRows(i)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rs...)
	}
	return f, rows
}

func target(t *testing.T, d *mbusdriver.Driver, r manifest.Row, clk *clock) headend.Target {
	t.Helper()
	reg, err := d.Register(r)
	if err != nil {
		t.Fatal(err)
	}
	return headend.Target{Meter: cim.Meter{MRID: r.Serial, Protocol: "mbus", Address: "tcp://" + r.Address.String(), Kind: r.Kind},
		Credentials: reg.Credentials, Location: ams, Now: clk.Now}
}

// TestHeadEndCollectsStandaloneMBus: the head-end, with the M-Bus driver,
// collects a day of a few converters' gas and water meters; the stored
// hourly volumes equal the model's profile, add up to what its register
// moved, and the stored register reads equal the model's registers.
func TestHeadEndCollectsStandaloneMBus(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 31, 2, 0, 0, 0, ams)}
	f, rows := fleet(t, 3, clk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, _ := storetest.OpenSQLite(t)
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	v, err := vault.New("test", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys := vault.NewKeyring(v)
	drivers := []headend.Driver{mbusdriver.New(mbusdriver.Config{Timeout: 2 * time.Second})}
	h, err := headend.New(headend.Options{Store: st, Bus: b, Secrets: keys, Now: clk.Now, Drivers: drivers,
		Collection: headend.CollectionConfig{Concurrency: 4, Attempts: 3, JobTimeout: 30 * time.Second, BackfillDays: 1,
			RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := mdm.New(mdm.Options{Store: st, Bus: b, Batch: 64, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); in.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	rep, err := headend.Import(ctx, st, keys, drivers, rows)
	if err != nil || rep.Created != len(rows) {
		t.Fatalf("import %d rows: %+v %v", len(rows), rep, err)
	}
	day := cim.Date{Year: 2026, Month: 3, Day: 30}
	if err := h.CollectDay(ctx, day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	res, err := st.CollectionResults(ctx, day, "", "", "", 100)
	if err != nil || len(res) != len(rows) {
		t.Fatalf("%d results for %d meters: %v", len(res), len(rows), err)
	}
	for _, x := range res {
		if !x.Complete || x.Outcome != headend.OutcomeOK {
			t.Fatalf("meter %s: %+v", x.MeterID, x)
		}
	}
	settle(t, b)
	for _, r := range rows {
		mm := mbusMeterOf(t, f, r)
		model, err := f.MBusModel(mm)
		if err != nil {
			t.Fatal(err)
		}
		ch := "G60me-3"
		if r.Kind == "water" {
			ch = "W60me-3"
		}
		id := headend.MeterID(r)
		got, err := st.DayVersions(ctx, id, ch, day)
		if err != nil || len(got) != 1 {
			t.Fatalf("meter %s %s %s: %d versions, %v", id, ch, day, len(got), err)
		}
		lk := f.Lock(mm.Index)
		lk.Lock()
		start, end := day.Start(ams), day.AddDays(1).Start(ams)
		es := model.ProfileRange(clk.Now(), start.Add(time.Hour), end)
		moved := model.RegistersAt(end).Import - model.RegistersAt(start).Import
		now := model.RegistersAt(clk.Now()).Import
		lk.Unlock()
		if len(got[0].Values) != 24 || len(es) != 24 {
			t.Fatalf("meter %s: %d stored hours, the model has %d", id, len(got[0].Values), len(es))
		}
		var sum int64
		for k, v := range got[0].Values {
			if got[0].Quality[k] != 0 || v != es[k].Import {
				t.Errorf("meter %s hour %d: %d (%s), model %d l", id, k, v, got[0].Quality[k], es[k].Import)
			}
			sum += v
		}
		if sum != moved {
			t.Errorf("meter %s: the hours add up to %d l, the register moved %d l", id, sum, moved)
		}
		reads, err := st.RegisterReads(ctx, id, ch[:1]+"e-3", start, clk.Now().Add(time.Hour))
		if err != nil || len(reads) != 1 || reads[0].Value != now {
			t.Errorf("meter %s register reads %+v (%v), model %d l", id, reads, err, now)
		}
	}
}

func mbusMeterOf(t *testing.T, f *sim.Fleet, r manifest.Row) sim.MBusMeter {
	t.Helper()
	for i := range f.Len() {
		for _, mm := range f.MBusMeters(i) {
			if mm.ID == r.MeterID {
				return mm
			}
		}
	}
	t.Fatalf("no M-Bus meter %d", r.MeterID)
	return sim.MBusMeter{}
}

// settle waits until the ingest has acknowledged everything on the bus.
func settle(t *testing.T, b *bus.Bus) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		done := true
		for _, kind := range []string{bus.Readings, bus.Events} {
			info, err := b.ConsumerStatus(ctx, kind, "mdm-ingest")
			if errors.Is(err, bus.ErrNoConsumer) {
				done = false
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Pending > 0 || info.AckPending > 0 {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("ingest did not catch up")
		}
		<-tick.C
	}
}

// A second collection two hours later reads only the new hours: the
// cursor ends the multi-telegram read early.
func TestCollectResumesFromCursor(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 31, 2, 0, 0, 0, ams)}
	f, rows := fleet(t, 1, clk)
	d := mbusdriver.New(mbusdriver.Config{Timeout: 2 * time.Second})
	ctx := context.Background()
	for _, r := range rows {
		tg := target(t, d, r, clk)
		s, err := d.Open(ctx, tg)
		if err != nil {
			t.Fatal(err)
		}
		backfill := time.Date(2026, 3, 30, 0, 0, 0, 0, ams)
		col, err := s.Collect(ctx, headend.Plan{Backfill: backfill, Until: clk.Now()})
		if err != nil {
			t.Fatal(err)
		}
		s.Close(ctx)
		if hours := int(clk.Now().Sub(backfill) / time.Hour); !col.Complete || len(col.Blocks) != 1 || len(col.Blocks[0].Readings) != hours {
			t.Fatalf("first read: complete %v, %+v", col.Complete, col.Blocks)
		}
		if !col.MeterTime.Equal(clk.Now()) {
			t.Errorf("meter time %v, now %v", col.MeterTime, clk.Now())
		}
		cursors := col.Cursors
		clk.Set(clk.Now().Add(2 * time.Hour))
		if s, err = d.Open(ctx, tg); err != nil {
			t.Fatal(err)
		}
		col, err = s.Collect(ctx, headend.Plan{Since: cursors, Backfill: backfill, Until: clk.Now()})
		if err != nil {
			t.Fatal(err)
		}
		got := col.Blocks[0].Readings
		if len(got) != 2 || !got[0].End.Equal(cursors["profile"].Add(time.Hour)) {
			t.Fatalf("resumed read: %+v after cursor %v", got, cursors["profile"])
		}
		mm := mbusMeterOf(t, f, r)
		model, _ := f.MBusModel(mm)
		f.Lock(mm.Index).Lock()
		es := model.ProfileRange(clk.Now(), got[0].End, got[1].End)
		f.Lock(mm.Index).Unlock()
		if len(es) != 2 || es[0].Import != got[0].Value || es[1].Import != got[1].Value {
			t.Errorf("resumed hours %+v, model %+v", got, es)
		}
		mt, err := s.Clock(ctx)
		if err != nil || !mt.Equal(clk.Now()) {
			t.Errorf("clock %v %v", mt, err)
		}
		if err := s.SetClock(ctx, clk.Now()); !errors.Is(err, headend.ErrUnsupported) {
			t.Errorf("set clock: %v", err)
		}
		if _, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlDisconnect}); !errors.Is(err, headend.ErrUnsupported) {
			t.Errorf("execute: %v", err)
		}
		s.Close(ctx)
	}
}

func TestRegisterRefuses(t *testing.T) {
	d := mbusdriver.New(mbusdriver.Config{})
	base := manifest.Row{Line: 7, MeterID: 1, Serial: "S1", Kind: "gas", Protocol: "mbus",
		Fields: map[string]string{"mbus_primary": "1", "mbus_secondary": "30000001A7050103"}}
	if _, err := d.Register(base); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		kind, primary, secondary, column string
	}{
		"electricity": {"electricity-1p", "1", "", "kind"},
		"primary 0":   {"gas", "0", "", "mbus_primary"},
		"primary 251": {"gas", "251", "", "mbus_primary"},
		"wildcard":    {"gas", "", "3000FFFFA7050103", "mbus_secondary"},
		"short":       {"gas", "", "30000001", "mbus_secondary"},
		"neither":     {"water", "", "", "mbus_secondary"},
	} {
		r := base
		r.Kind, r.Fields = c.kind, map[string]string{"mbus_primary": c.primary, "mbus_secondary": c.secondary}
		_, err := d.Register(r)
		var re *manifest.RowError
		if !errors.As(err, &re) || re.Line != 7 || re.Column != c.column {
			t.Errorf("%s: %v, want a row error at line 7, column %s", name, err, c.column)
		}
	}
}

func TestCause(t *testing.T) {
	d := mbusdriver.New(mbusdriver.Config{})
	for err, want := range map[error]string{
		mbus.ErrNoReply:          headend.OutcomeTimeout,
		mbus.ErrChecksum:         headend.OutcomeProtocol,
		mbus.ErrCollision:        headend.OutcomeProtocol,
		context.DeadlineExceeded: headend.OutcomeTimeout,
	} {
		if got := d.Cause(errors.Join(errors.New("meter x"), err)); got != want {
			t.Errorf("%v: %q, want %q", err, got, want)
		}
	}
	// A converter that is not there is refused.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	clk := &clock{t: time.Now()}
	r := manifest.Row{Serial: "S", Kind: "gas", Protocol: "mbus", Fields: map[string]string{"mbus_primary": "1"}}
	tg := target(t, d, r, clk)
	tg.Meter.Address = "tcp://" + addr
	_, err := d.Open(context.Background(), tg)
	if got := d.Cause(err); got != headend.OutcomeRefused {
		t.Errorf("refused converter: %q (%v)", got, err)
	}
}
