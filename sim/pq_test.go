package sim_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// startPQFleet is startFleet with the voltage profile served.
func startPQFleet(t *testing.T, n int, pq bool) *sim.Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(7, ams, start)
	model.Faults = meter.Faults{PowerQualityPerYear: 365 * 3}
	clock := &sim.Clock{Start: start}
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 7, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clock.Now, Model: model, PQProfile: pq})
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

// TestVoltageProfileOverTCP: with the option, a meter serves its voltage
// profile as the model computes it, and its power quality log carries
// each event's duration in milliseconds and its residual voltage; without
// it, the meter has no voltage profile.
func TestVoltageProfileOverTCP(t *testing.T) {
	f := startPQFleet(t, 2, true)
	r := fleetManifest(t, f)[0]
	m, _ := f.Meter(0)
	from, to := start.Add(-3*time.Hour), start
	f.Lock(0).Lock()
	want := m.VoltageProfile(start, from, to)
	evs := m.Events(start, meter.LogPowerQuality)
	f.Lock(0).Unlock()
	c := dial(t, r, hlsOptions(t, r))
	defer c.Release(context.Background())
	rows, cols, err := c.ReadProfile(context.Background(), sim.VoltageProfileLN, from, to)
	if err != nil {
		t.Fatal(err)
	}
	phases := m.Phases()
	if len(cols) != 1+3*phases || cols[1].LogicalName != sim.VoltageAvgLN[0] || len(rows) != len(want) || len(want) != 19 {
		t.Fatalf("%d rows of %d columns, the model has %d entries", len(rows), len(cols), len(want))
	}
	for i, row := range rows {
		for p := range phases {
			avg, _ := row.Items[1+3*p].Uint()
			lo, _ := row.Items[2+3*p].Uint()
			hi, _ := row.Items[3+3*p].Uint()
			if int32(avg) != want[i].Avg[p] || int32(lo) != want[i].Min[p] || int32(hi) != want[i].Max[p] {
				t.Fatalf("entry %d phase %d: %d/%d/%d over DLMS, the model says %+v", i, p+1, avg, lo, hi, want[i])
			}
		}
	}
	if len(evs) == 0 {
		t.Fatal("no power quality event in the meter's log")
	}
	last := evs[len(evs)-1]
	logRows, logCols, err := c.ReadProfile(context.Background(), sim.PowerQualityLogLN, last.Time.Add(-time.Second), last.Time.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(logCols) != 4 || len(logRows) != 1 {
		t.Fatalf("power quality log: %d rows of %d columns", len(logRows), len(logCols))
	}
	code, _ := logRows[0].Items[1].Uint()
	ms, _ := logRows[0].Items[2].Uint()
	res, _ := logRows[0].Items[3].Uint()
	if meter.EventCode(code) != last.Code || time.Duration(ms)*time.Millisecond != last.Duration.Truncate(time.Millisecond) ||
		int64(res) != (1000+int64(last.DepthPM)+5)/10 || last.DepthPM == 0 {
		t.Errorf("log entry %d, %d ms, %d %%; the model logged %+v", code, ms, res, last)
	}

	plain := startPQFleet(t, 1, false)
	pr := fleetManifest(t, plain)[0]
	pc := dial(t, pr, hlsOptions(t, pr))
	defer pc.Release(context.Background())
	if _, _, err := pc.ReadProfile(context.Background(), sim.VoltageProfileLN, from, to); err == nil {
		t.Error("a meter without the option serves a voltage profile")
	}
}
