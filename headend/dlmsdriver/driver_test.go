package dlmsdriver_test

import (
	"context"
	"net"
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

var ams = func() *time.Location {
	l, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		panic(err)
	}
	return l
}()

// clock is a settable simulated time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// memCounters keeps invocation counters in memory.
type memCounters struct {
	mu sync.Mutex
	v  map[string]uint64
}

func (m *memCounters) Reserve(_ context.Context, name string, n uint32) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.v == nil {
		m.v = map[string]uint64{}
	}
	f := m.v[name]
	m.v[name] += uint64(n)
	return f, nil
}

func startFleet(t testing.TB, n int, faults meter.Faults, clk *clock) *sim.Fleet {
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
	model.Faults = faults
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 11, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clk.Now, Model: model})
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

func target(t testing.TB, f *sim.Fleet, i int, clk *clock) headend.Target {
	t.Helper()
	r, err := f.Row(i)
	if err != nil {
		t.Fatal(err)
	}
	return headend.Target{
		Meter:       cim.Meter{MRID: r.Serial, Protocol: "dlms", Address: "tcp://" + r.Address.String()},
		Credentials: register(t, r),
		Location:    ams, Counters: &memCounters{}, Now: clk.Now,
	}
}

func open(t testing.TB, d *dlmsdriver.Driver, tg headend.Target) headend.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := d.Open(ctx, tg)
	if err != nil {
		t.Fatalf("open %s: %v", tg.Meter.MRID, err)
	}
	return s
}

func TestCollectReconcilesAndResumes(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 31, 10, 0, 0, 0, ams)} // two days after the spring DST change
	f := startFleet(t, 4, meter.Faults{}, clk)
	d := dlmsdriver.New(dlmsdriver.Config{})
	tg := target(t, f, 0, clk)
	ctx := context.Background()
	backfill := time.Date(2026, 3, 29, 0, 0, 0, 0, ams) // the 23-hour day
	until := time.Date(2026, 3, 31, 0, 0, 0, 0, ams)
	s := open(t, d, tg)
	col, err := s.Collect(ctx, headend.Plan{Backfill: backfill, Until: until})
	if err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	if !col.Complete {
		t.Error("profile not complete up to the end of yesterday")
	}
	var imp cim.IntervalBlock
	for _, b := range col.Blocks {
		if b.ReadingType.ID == "A+15m" {
			imp = b
		}
	}
	// From the backfill midnight to 10:00 today: 92 + 96 + 40 intervals.
	if len(imp.Readings) != 92+96+40 {
		t.Fatalf("%d A+ intervals, want %d", len(imp.Readings), 92+96+40)
	}
	m, _ := f.Meter(0)
	f.Lock(0).Lock()
	r0, r1 := m.RegistersAt(backfill), m.RegistersAt(clk.Now())
	f.Lock(0).Unlock()
	var sum int64
	for _, r := range imp.Readings {
		sum += r.Value
		if r.Quality != 0 {
			t.Errorf("interval ending %s has quality %s", r.End, r.Quality)
		}
	}
	if sum != r1.Import-r0.Import {
		t.Errorf("intervals sum to %d Wh, the A+ register moved %d Wh", sum, r1.Import-r0.Import)
	}
	var regs = map[string]int64{}
	for _, r := range col.Registers {
		regs[r.ReadingType] = r.Value
	}
	if regs["A+"] != r1.Import || regs["A+T1"]+regs["A+T2"]+regs["A+T3"]+regs["A+T4"] != r1.Import {
		t.Errorf("registers %v, model A+ %d", regs, r1.Import)
	}
	if col.MeterTime.IsZero() {
		t.Error("no meter time")
	}
	cursors := col.Cursors
	if !cursors["profile:1.0.99.1.0.255"].Equal(clk.Now()) {
		t.Errorf("profile cursor %v", cursors["profile:1.0.99.1.0.255"])
	}

	// Two hours later only the new entries come.
	clk.Add(2 * time.Hour)
	s = open(t, d, tg)
	col, err = s.Collect(ctx, headend.Plan{Since: cursors, Backfill: backfill, Until: until})
	if err != nil {
		t.Fatal(err)
	}
	s.Close(ctx)
	for _, b := range col.Blocks {
		if b.ReadingType.ID == "A+15m" && (len(b.Readings) != 8 || !b.Readings[0].End.Equal(cursors["profile:1.0.99.1.0.255"].Add(15*time.Minute))) {
			t.Errorf("resumed read: %d readings from %v", len(b.Readings), b.Readings[0].End)
		}
	}
}

func TestCommandsReachTheModel(t *testing.T) {
	clk := &clock{t: time.Date(2026, 6, 15, 12, 0, 0, 0, ams)}
	f := startFleet(t, 2, meter.Faults{Drifting: 1, MaxDriftPPM: 500}, clk)
	d := dlmsdriver.New(dlmsdriver.Config{})
	tg := target(t, f, 1, clk)
	ctx := context.Background()
	m, _ := f.Meter(1)
	relay := func() meter.ControlState {
		f.Lock(1).Lock()
		defer f.Lock(1).Unlock()
		st, _ := m.Relay()
		return st
	}
	s := open(t, d, tg)
	defer s.Close(ctx)
	if _, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlDisconnect}); err != nil {
		t.Fatal(err)
	}
	if relay() != meter.Disconnected {
		t.Fatalf("relay %v after disconnect", relay())
	}
	if res, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlReconnect}); err != nil {
		t.Fatal(err)
	} else if relay() == meter.Disconnected {
		t.Fatalf("relay still disconnected: %s", res)
	}
	// Ten days of 500 ppm drift is several minutes; a sync puts it right.
	mt, err := s.Clock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if off := mt.Sub(clk.Now()); off > -time.Second && off < time.Second {
		t.Fatalf("meter did not drift (%v); pick another", off)
	}
	if _, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlClockSync}); err != nil {
		t.Fatal(err)
	}
	mt, _ = s.Clock(ctx)
	if off := mt.Sub(clk.Now()); off < -2*time.Second || off > 2*time.Second {
		t.Fatalf("clock off by %v after a sync", off)
	}
	if _, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlDemandReset}); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlPing}); err != nil || r == "" {
		t.Fatalf("ping: %q %v", r, err)
	}
	vals, err := s.(headend.Reader).Read(ctx, []string{"1.0.1.8.0.255", "0.0.96.1.0.255", "9.9.9.9.9.9"})
	if err != nil || len(vals) != 3 || vals[0].Unit != "Wh" || vals[1].Value == nil || vals[2].Error == "" {
		t.Fatalf("read: %+v %v", vals, err)
	}
}

func TestFailuresAreClassified(t *testing.T) {
	clk := &clock{t: time.Date(2026, 6, 15, 12, 0, 0, 0, ams)}
	f := startFleet(t, 30, meter.Faults{Offline: 0.3}, clk)
	d := dlmsdriver.New(dlmsdriver.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	off, on := -1, -1
	for i := range 30 {
		m, _ := f.Meter(i)
		if m.Faults().Offline {
			off = i
		} else {
			on = i
		}
	}
	_, err := d.Open(ctx, target(t, f, off, clk))
	if c := d.Cause(err); c != headend.OutcomeRefused {
		t.Errorf("offline meter: cause %q (%v)", c, err)
	}
	tg := target(t, f, on, clk)
	c, err := dlmsdriver.ParseCredentials(tg.Credentials)
	if err != nil {
		t.Fatal(err)
	}
	c.AK = make([]byte, 16)
	if tg.Credentials, err = c.Marshal(); err != nil {
		t.Fatal(err)
	}
	_, err = d.Open(ctx, tg)
	if c := d.Cause(err); c != headend.OutcomeAuth {
		t.Errorf("wrong key: cause %q (%v)", c, err)
	}
	short, cancel2 := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel2()
	<-short.Done()
	_, err = d.Open(short, target(t, f, on, clk))
	if c := d.Cause(err); c != headend.OutcomeTimeout {
		t.Errorf("expired deadline: cause %q (%v)", c, err)
	}
}

func BenchmarkCollectDay(b *testing.B) {
	clk := &clock{t: time.Date(2026, 6, 15, 12, 0, 0, 0, ams)}
	f := startFleet(b, 1, meter.Faults{}, clk)
	d := dlmsdriver.New(dlmsdriver.Config{})
	tg := target(b, f, 0, clk)
	ctx := context.Background()
	p := headend.Plan{Backfill: time.Date(2026, 6, 14, 12, 0, 0, 0, ams), Until: clk.Now()}
	b.ReportAllocs()
	for b.Loop() {
		s := open(b, d, tg)
		if _, err := s.Collect(ctx, p); err != nil {
			b.Fatal(err)
		}
		s.Close(ctx)
	}
}

// register makes the credentials the head-end seals for a manifest row.
func register(t testing.TB, r manifest.Row) []byte {
	t.Helper()
	reg, err := dlmsdriver.New(dlmsdriver.Config{}).Register(r)
	if err != nil {
		t.Fatal(err)
	}
	return reg.Credentials
}
