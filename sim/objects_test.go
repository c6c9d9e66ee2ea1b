package sim_test

import (
	"context"
	"testing"
	"time"

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
