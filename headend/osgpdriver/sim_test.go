package osgpdriver_test

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/osgpdriver"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

var ams, _ = time.LoadLocation("Europe/Amsterdam")

type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// osgpFleet serves n simulated meters, all OSGP, half of them on the
// legacy suite.
func osgpFleet(t *testing.T, n int, clk *simClock) *sim.Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(11, ams, clk.Now())
	model.HistoryDays = 3
	// Installed at local midnight: the meters count their profile blocks
	// from there.
	n0 := clk.Now().AddDate(0, 0, -3)
	model.Install = time.Date(n0.Year(), n0.Month(), n0.Day(), 0, 0, 0, 0, ams)
	model.Faults = meter.Faults{}
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 11, Now: clk.Now, Model: model, OSGP: 1, OSGPLegacy: 0.5,
		OSGPPort: uint16(ln.Addr().(*net.TCPAddr).Port)})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = f.ServeOSGP(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

// TestCollectSimulatedMeters: the driver reads the simulated OSGP
// meters on both suites, and what it reads is the model's: the registers
// now, and a day of quarter-hours adding up to the registers' move.
func TestCollectSimulatedMeters(t *testing.T) {
	clk := &simClock{t: time.Date(2026, 3, 31, 10, 2, 0, 0, ams)}
	f := osgpFleet(t, 6, clk)
	d := osgpdriver.New(osgpdriver.Config{})
	seen := map[string]bool{}
	for i := range f.Len() {
		r, err := f.Row(i)
		if err != nil {
			t.Fatal(err)
		}
		if r.Protocol != "osgp" || seen[r.Fields["osgp_security"]] {
			continue
		}
		seen[r.Fields["osgp_security"]] = true
		t.Run(r.Fields["osgp_security"], func(t *testing.T) {
			reg, err := d.Register(r)
			if err != nil {
				t.Fatal(err)
			}
			if (reg.Exposure == osgpdriver.ExposureLegacy) != (r.Fields["osgp_security"] == "legacy") {
				t.Fatalf("exposure %q for %s", reg.Exposure, r.Fields["osgp_security"])
			}
			tg := headend.Target{Meter: cim.Meter{MRID: r.Serial, Protocol: "osgp", Address: "tcp://" + r.Address.String()},
				Credentials: reg.Credentials, Location: ams, Now: clk.Now, Counters: &memCounters{}}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := d.Open(ctx, tg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)
			day := time.Date(2026, 3, 30, 0, 0, 0, 0, ams)
			col, err := s.Collect(ctx, headend.Plan{Backfill: day, Until: day.AddDate(0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			if len(col.Problems) != 0 {
				t.Errorf("problems %v", col.Problems)
			}
			now := clk.Now()
			m, _ := f.Meter(i)
			f.Lock(i).Lock()
			regs := m.RegistersAt(now)
			want := map[string]int64{"A+": regs.Import, "A-": regs.Export, "R+": regs.ImportVarh, "R-": regs.ExportVarh}
			for k := range 4 {
				want["A+T"+strconv.Itoa(k+1)] = regs.ImportRate[k]
				want["A-T"+strconv.Itoa(k+1)] = regs.ExportRate[k]
			}
			move := m.RegistersAt(day.AddDate(0, 0, 1)).Import - m.RegistersAt(day).Import
			mclock := m.Clock(now)
			f.Lock(i).Unlock()
			if !col.MeterTime.Equal(mclock.Truncate(time.Second)) {
				t.Errorf("meter time %v, model %v", col.MeterTime, mclock)
			}
			got := map[string]int64{}
			for _, r := range col.Registers {
				got[r.ReadingType] = r.Value
			}
			for id, w := range want {
				if v, ok := got[id]; !ok || v != w {
					t.Errorf("%s = %d (%v), model %d", id, v, ok, w)
				}
			}
			var sum int64
			var n int
			for _, b := range col.Blocks {
				if b.ReadingType.ID != "A+15m" {
					continue
				}
				for _, r := range b.Readings {
					if r.End.After(day) && !r.End.After(day.AddDate(0, 0, 1)) {
						sum += r.Value
						n++
					}
				}
			}
			if n != 96 || sum != move {
				t.Errorf("A+15m on %s: %d values, %d Wh; model %d Wh", day.Format(time.DateOnly), n, sum, move)
			}
			if got, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlDisconnect}); err != nil || got != "service switch open" {
				t.Errorf("disconnect: %q %v", got, err)
			}
			if got, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlReconnect}); err != nil ||
				(got != "service switch closed" && got != "service switch armed for reconnection") {
				t.Errorf("reconnect: %q %v", got, err)
			}
		})
	}
	if len(seen) != 2 {
		t.Fatalf("suites among the meters: %v", seen)
	}
}
