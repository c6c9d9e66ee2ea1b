package sim_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// TestPressButton: the fleet's button connects an armed meter, and says
// why a press on any other does nothing.
func TestPressButton(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f, err := sim.NewFleet(sim.Config{Meters: 2, Seed: 3, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := f.Meter(0)
	f.Lock(0).Lock()
	m.Control(now, meter.RemoteDisconnect)
	m.Control(now, meter.RemoteReconnect)
	f.Lock(0).Unlock()
	if st, err := f.PressButton(0); err != nil || st != meter.Connected {
		t.Fatalf("press on an armed meter: %v %v", st, err)
	}
	var te *meter.TransitionError
	if st, err := f.PressButton(0); st != meter.Connected || !errors.As(err, &te) {
		t.Fatalf("press on a connected meter: %v %v", st, err)
	}
	if _, err := f.PressButton(2); err == nil {
		t.Fatal("press on a meter the fleet does not have")
	}
}
