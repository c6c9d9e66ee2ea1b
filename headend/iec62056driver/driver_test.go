package iec62056driver_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/iec62056driver"
	"github.com/amigo-ami/amigo/iec62056"
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

// startFleet serves n readout meters (all of them: fraction 1) on a free
// port.
func startFleet(t testing.TB, n int, clk *clock) *sim.Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(5, ams, clk.Now())
	model.HistoryDays = 3
	model.Install = clk.Now().AddDate(0, 0, -3)
	model.Faults = meter.Faults{}
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 5, Now: clk.Now, Model: model, Readout: 1,
		ReadoutPort: uint16(ln.Addr().(*net.TCPAddr).Port), ReadoutReaction: -1})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.ServeReadout(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

func target(t testing.TB, d *iec62056driver.Driver, f *sim.Fleet, i int, clk *clock) headend.Target {
	t.Helper()
	r, err := f.Row(i)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := d.Register(r)
	if err != nil {
		t.Fatal(err)
	}
	return headend.Target{Meter: cim.Meter{MRID: r.Serial, Protocol: r.Protocol, Address: "tcp://" + r.Address.String()},
		Credentials: reg.Credentials, Location: ams, Now: clk.Now}
}

func withMode(t testing.TB, f *sim.Fleet, m iec62056.Mode) int {
	for i := range f.Len() {
		if f.ReadoutMode(i) == m {
			return i
		}
	}
	t.Fatalf("no mode %s meter", m)
	return 0
}

// modelRegisters is what the collection of meter i must hold, by reading
// type id.
func modelRegisters(f *sim.Fleet, i int, now time.Time) (map[string]int64, time.Time) {
	m, _ := f.Meter(i)
	f.Lock(i).Lock()
	defer f.Lock(i).Unlock()
	regs := m.RegistersAt(now)
	want := map[string]int64{"A+": regs.Import, "A-": regs.Export, "R+": regs.ImportVarh, "R-": regs.ExportVarh,
		"MD+": m.MaxDemand(now).MaxW}
	for k := range 4 {
		want["A+T"+strconv.Itoa(k+1)] = regs.ImportRate[k]
		want["A-T"+strconv.Itoa(k+1)] = regs.ExportRate[k]
	}
	return want, m.Clock(now)
}

func TestCollectEveryMode(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 31, 10, 0, 0, 0, ams)}
	f := startFleet(t, 40, clk)
	d := iec62056driver.New(iec62056driver.Config{})
	for _, mode := range []iec62056.Mode{iec62056.ModeA, iec62056.ModeB, iec62056.ModeC, iec62056.ModeD} {
		t.Run(mode.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			i := withMode(t, f, mode)
			tg := target(t, d, f, i, clk)
			s, err := d.Open(ctx, tg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)
			col, err := s.Collect(ctx, headend.Plan{})
			if err != nil {
				t.Fatal(err)
			}
			want, mt := modelRegisters(f, i, clk.Now())
			got := map[string]int64{}
			for _, r := range col.Registers {
				if r.MeterID != tg.Meter.MRID {
					t.Errorf("reading of %s", r.MeterID)
				}
				got[r.ReadingType] = r.Value
			}
			for id, w := range want {
				if g, ok := got[id]; !ok || g != w {
					t.Errorf("%s = %d (read %v), model %d", id, g, ok, w)
				}
			}
			if len(got) != len(want) {
				t.Errorf("read %v, want %v", got, want)
			}
			if mode == iec62056.ModeC {
				// The load profile from the start of its history.
				if len(col.Blocks) != 2 || col.Blocks[0].ReadingType != cim.EnergyImport15m || col.Blocks[1].ReadingType != cim.EnergyExport15m ||
					len(col.Blocks[0].Readings) < 2*96 || col.Cursors["profile"].IsZero() {
					t.Errorf("profile blocks %d, cursors %v", len(col.Blocks), col.Cursors)
				}
			} else if len(col.Blocks) != 0 {
				t.Errorf("a mode %s meter has no profile; read %d blocks", mode, len(col.Blocks))
			}
			if !col.MeterTime.Equal(mt) || !col.Complete || len(col.Problems) != 0 {
				t.Errorf("meter time %v (model %v), complete %v, problems %v", col.MeterTime, mt, col.Complete, col.Problems)
			}
			if _, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlDisconnect}); !errors.Is(err, headend.ErrUnsupported) {
				t.Errorf("execute: %v", err)
			}
			err = s.SetClock(ctx, clk.Now())
			if mode == iec62056.ModeC {
				if err != nil {
					t.Errorf("set clock: %v", err)
				}
			} else if !errors.Is(err, headend.ErrUnsupported) {
				t.Errorf("set clock in mode %s: %v", mode, err)
			}
		})
	}
}

// TestSetClock corrects a meter's clock in programming mode: the model's
// clock shows the time set, and the next readout says so too.
func TestSetClock(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 31, 10, 0, 0, 0, ams)}
	f := startFleet(t, 40, clk)
	d := iec62056driver.New(iec62056driver.Config{})
	i := withMode(t, f, iec62056.ModeC)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := d.Open(ctx, target(t, d, f, i, clk))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	set := time.Date(2026, 3, 30, 23, 59, 58, 0, ams)
	if err := s.SetClock(ctx, set); err != nil {
		t.Fatal(err)
	}
	m, _ := f.Meter(i)
	f.Lock(i).Lock()
	mc := m.Clock(clk.Now())
	f.Lock(i).Unlock()
	if !mc.Equal(set) {
		t.Fatalf("model clock %v, want %v", mc, set)
	}
	if got, err := s.Clock(ctx); err != nil || !got.Equal(set) {
		t.Fatalf("clock read back %v %v", got, err)
	}
}

// TestWrongPassword: the meter refuses the password; the driver says so
// as an authentication failure.
func TestWrongPassword(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 31, 10, 0, 0, 0, ams)}
	f := startFleet(t, 40, clk)
	d := iec62056driver.New(iec62056driver.Config{})
	r, _ := f.Row(withMode(t, f, iec62056.ModeC))
	r.Fields["iec_password"] = "99999999"
	reg, err := d.Register(r)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := d.Open(ctx, headend.Target{Meter: cim.Meter{MRID: r.Serial, Address: "tcp://" + r.Address.String()},
		Credentials: reg.Credentials, Location: ams, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	err = s.SetClock(ctx, clk.Now())
	if !errors.Is(err, iec62056.ErrPassword) || d.Cause(err) != headend.OutcomeAuth {
		t.Fatalf("%v (cause %q)", err, d.Cause(err))
	}
	if d.Faults().Meter != 1 {
		t.Errorf("faults %+v", d.Faults())
	}
}

// badMeter answers one sign-on with identification and the block given.
func badMeter(t *testing.T, block string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		c.Read(buf) // the request
		c.Write([]byte("/AMG5BAD\r\n"))
		c.Read(buf) // the acknowledgement
		c.Write([]byte(block))
		c.Read(buf) // until the driver hangs up
	}()
	return "tcp://" + ln.Addr().String()
}

// TestMissingBCC: a readout without its block check character fails the
// collection as a protocol fault, and is counted.
func TestMissingBCC(t *testing.T) {
	d := iec62056driver.New(iec62056driver.Config{Timeout: 300 * time.Millisecond})
	row := manifest.Row{Serial: "BAD1", Kind: "electricity-1p", Fields: map[string]string{"iec_mode": "C"}}
	reg, err := d.Register(row)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := d.Open(ctx, headend.Target{Meter: cim.Meter{MRID: "BAD1", Address: badMeter(t, "\x021.8.0(000001.000*kWh)\r\n!\r\n\x03")},
		Credentials: reg.Credentials, Location: ams})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	_, err = s.Collect(ctx, headend.Plan{})
	if !errors.Is(err, iec62056.ErrBCC) || d.Cause(err) != headend.OutcomeProtocol {
		t.Fatalf("%v (cause %q)", err, d.Cause(err))
	}
	if f := d.Faults(); f.BCC != 1 {
		t.Fatalf("faults %+v", f)
	}
}

func TestRegisterRefuses(t *testing.T) {
	d := iec62056driver.New(iec62056driver.Config{})
	for _, c := range []struct {
		fields map[string]string
		kind   string
		col    string
	}{
		{map[string]string{}, "electricity-1p", "iec_mode"},
		{map[string]string{"iec_mode": "E"}, "electricity-1p", "iec_mode"},
		{map[string]string{"iec_mode": "C", "iec_address": "a!b"}, "electricity-1p", "iec_address"},
		{map[string]string{"iec_mode": "C", "iec_password": "p(w)"}, "electricity-1p", "iec_password"},
		{map[string]string{"iec_mode": "C"}, "gas", "kind"},
	} {
		_, err := d.Register(manifest.Row{Line: 7, Kind: c.kind, Fields: c.fields})
		var re *manifest.RowError
		if !errors.As(err, &re) || re.Column != c.col || re.Line != 7 {
			t.Errorf("%v: %v, want column %s", c.fields, err, c.col)
		}
	}
}
