package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// TestTamperLoggedOverTCP: a meter that saw a cover opening or a magnet
// has the event in its fraud log, read over HLS with the DLMS client at
// the time the model logged it.
func TestTamperLoggedOverTCP(t *testing.T) {
	f := startFleet(t, 40, &meter.Faults{Tampering: 1, TamperPerYear: 300})
	rows := fleetManifest(t, f)
	for i := range rows {
		m, _ := f.Meter(i)
		f.Lock(i).Lock()
		evs := m.Events(start, meter.LogFraud)
		f.Lock(i).Unlock()
		if len(evs) == 0 {
			continue
		}
		want := evs[len(evs)-1]
		c := dial(t, rows[i], hlsOptions(t, rows[i]))
		got, _, err := c.ReadProfile(context.Background(), sim.FraudLogLN, want.Time.Add(-time.Second), want.Time.Add(time.Second))
		c.Release(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range got {
			code, _ := row.Items[1].Uint()
			if meter.EventCode(code) == want.Code {
				return
			}
		}
		t.Fatalf("meter %d: fraud log over DLMS %v does not hold %v at %s", i, got, want.Code, want.Time)
	}
	t.Fatal("no meter of the fleet logged a tamper attempt")
}

// TestLimiterThresholdReachesTheModel: a threshold written over DLMS is
// the model's, and the push setup says where alarms go.
func TestLimiterThresholdReachesTheModel(t *testing.T) {
	f := startFleet(t, 2, nil)
	r := fleetManifest(t, f)[0]
	c := dial(t, r, hlsOptions(t, r))
	defer c.Release(context.Background())
	ctx := context.Background()
	if err := c.Set(ctx, attr(71, sim.LimiterLN, 4), axdr.Uint32(3680)); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, attr(71, sim.LimiterLN, 6), axdr.Uint32(60)); err != nil {
		t.Fatal(err)
	}
	m, _ := f.Meter(0)
	f.Lock(0).Lock()
	w, over := m.Limiter()
	f.Lock(0).Unlock()
	if w != 3680 || over != time.Minute {
		t.Fatalf("model limiter %d W over %v", w, over)
	}
	v, err := c.Get(ctx, attr(71, sim.LimiterLN, 3), nil)
	if n, _ := v.Uint(); err != nil || n != 3680 {
		t.Fatalf("threshold reads back %v %v", v, err)
	}
	if _, err := c.Get(ctx, attr(40, sim.PushSetupLN, 3), nil); err != nil {
		t.Fatalf("push setup destination: %v", err)
	}
}
