package iec62056driver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/headend/iec62056driver"
	"github.com/amigo-ami/amigo/iec62056"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
)

// TestHeadEndCollectsReadoutMeters: a head-end with the DLMS and readout
// drivers imports a sim fleet where some meters are readout meters,
// collects a day, and the register reads the store holds for the
// readout meters equal the model's registers.
func TestHeadEndCollectsReadoutMeters(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 31, 2, 0, 0, 0, ams)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	rln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	model := meter.NewFleet(5, ams, clk.Now())
	model.HistoryDays = 3
	model.Install = clk.Now().AddDate(0, 0, -3)
	model.Faults = meter.Faults{}
	const n = 12
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 5, Now: clk.Now, Model: model, Readout: 0.5,
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ReadoutPort: uint16(rln.Addr().(*net.TCPAddr).Port), ReadoutReaction: -1})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := storetest.OpenSQLite(t)
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New("test", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys := vault.NewKeyring(v)
	h, err := headend.New(headend.Options{Store: st, Bus: b, Secrets: keys, Now: clk.Now,
		Drivers:    []headend.Driver{dlmsdriver.New(dlmsdriver.Config{}), iec62056driver.New(iec62056driver.Config{})},
		Collection: headend.CollectionConfig{Concurrency: 4, PerSegment: 4, Attempts: 2, JobTimeout: 30 * time.Second, BackfillDays: 1, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond},
		Safeguards: &headend.SafeguardConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := mdm.New(mdm.Options{Store: st, Bus: b, Batch: 256, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); f.Serve(ctx, ln) }()
	go func() { defer wg.Done(); f.ServeReadout(ctx, rln) }()
	go func() { defer wg.Done(); in.Run(ctx) }()
	defer func() { cancel(); wg.Wait(); b.Close(context.Background()) }()

	var file bytes.Buffer
	if err := sim.WriteManifest(&file, f); err != nil {
		t.Fatal(err)
	}
	rd, err := manifest.NewReader(&file)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := headend.ImportFrom(ctx, st, keys, h.Drivers(), rd)
	if err != nil || rep.Rejected != 0 {
		t.Fatalf("import %+v %v", rep, err)
	}
	var readout []int
	for i := range n {
		if f.IsReadout(i) {
			readout = append(readout, i)
		}
	}
	if len(readout) < 2 || len(readout) == n {
		t.Fatalf("readout meters %v of %d: want some of each protocol", readout, n)
	}
	// Two clocks an hour fast: the mode C meter's is set right in
	// programming mode, the other's cannot be and is read all the same.
	drifting := map[int]bool{}
	for _, want := range []bool{true, false} {
		for _, i := range readout {
			if (f.ReadoutMode(i) == iec62056.ModeC) == want {
				m, _ := f.Meter(i)
				f.Lock(i).Lock()
				m.SetClock(clk.Now(), clk.Now().Add(time.Hour))
				f.Lock(i).Unlock()
				drifting[i] = true
				break
			}
		}
	}
	if len(drifting) != 2 {
		t.Fatalf("drifting meters %v", drifting)
	}
	day := cim.Date{Year: 2026, Month: 3, Day: 30}
	if err := h.CollectDay(ctx, day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	results, err := st.CollectionResults(ctx, day, "", "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	outcome := map[string]string{}
	problems := map[string]string{}
	for _, x := range results {
		outcome[x.MeterID] = x.Outcome + " " + x.Error
		problems[x.MeterID] = fmt.Sprint(x.Problems)
	}
	now := clk.Now()
	profiles := 0
	for _, i := range readout {
		r, _ := f.Row(i)
		id := headend.MeterID(r)
		if outcome[id] != headend.OutcomeOK+" " {
			t.Errorf("meter %d (%s, mode %s): %q", i, id, r.Fields["iec_mode"], outcome[id])
			continue
		}
		want, mt := modelRegisters(f, i, now)
		switch {
		case drifting[i] && f.ReadoutMode(i) == iec62056.ModeC:
			if !mt.Equal(now) {
				t.Errorf("meter %d: clock %v after the sync, want %v", i, mt, now)
			}
		case drifting[i]:
			if !mt.Equal(now.Add(time.Hour)) || !strings.Contains(problems[id], "clock") {
				t.Errorf("meter %d: clock %v, problems %s", i, mt, problems[id])
			}
		}
		for rt, w := range want {
			var reads []store.RegisterRead
			deadline := time.Now().Add(time.Minute)
			// The ingest stores what the bus delivers: wait for it.
			for {
				reads, err = st.RegisterReads(ctx, id, rt, now.AddDate(0, 0, -10), now.Add(2*time.Hour))
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					t.Fatal(err)
				}
				if len(reads) > 0 || time.Now().After(deadline) {
					break
				}
				select {
				case <-time.After(20 * time.Millisecond):
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				}
			}
			if len(reads) != 1 || reads[0].Value != w {
				t.Errorf("meter %d %s: stored %v, model %d", i, rt, reads, w)
			}
		}
		if r.Fields["iec_mode"] != "C" {
			continue
		}
		// The load profile of the day: 96 quarter-hours adding up to
		// the model's registers over the day.
		m, _ := f.Meter(i)
		f.Lock(i).Lock()
		move := m.RegistersAt(time.Date(2026, 3, 31, 0, 0, 0, 0, ams)).Import - m.RegistersAt(time.Date(2026, 3, 30, 0, 0, 0, 0, ams)).Import
		f.Lock(i).Unlock()
		var n int
		var sum int64
		var err error
		deadline := time.Now().Add(time.Minute)
		for {
			var d interval.Day
			d, err = st.Day(ctx, id, cim.EnergyImport15m.ID, day)
			n, sum = 0, 0
			if err == nil {
				for k, v := range d.Values {
					if d.Quality[k]&cim.QualityMissing == 0 {
						sum += v
						n++
					}
				}
			}
			if (n == 96 && sum == move) || time.Now().After(deadline) {
				break
			}
			select {
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
		}
		if n != 96 || sum != move {
			t.Errorf("meter %d: %d values, %d Wh on %s (%v); model %d Wh", i, n, sum, day, err, move)
		}
		profiles++
	}
	if profiles == 0 {
		t.Error("no mode C meter with a load profile among the readout meters")
	}
}
