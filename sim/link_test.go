package sim_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// TestSlowLinkShapesSession: a meter on a slow link class answers no
// sooner than its round trips and bytes allow; a cancelled read ends
// during the delay.
func TestSlowLinkShapesSession(t *testing.T) {
	slow := meter.LinkClass{Name: "slow", Latency: 40 * time.Millisecond, BytesPerSecond: 4000}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	model := meter.NewFleet(7, ams, start)
	model.Faults = meter.Faults{Links: []meter.LinkShare{{Class: slow, Weight: 1}}}
	f, err := sim.NewFleet(sim.Config{Meters: 2, Seed: 7, Port: uint16(ln.Addr().(*net.TCPAddr).Port),
		Now: (&sim.Clock{Start: start}).Now, Model: model, Links: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.Serve(ctx, ln) }()
	defer func() { cancel(); wg.Wait() }()
	r := fleetManifest(t, f)[0]
	t0 := time.Now()
	c := dial(t, r, hlsOptions(t, r))
	// AARQ/AARE and the HLS pass: two exchanges.
	if took := time.Since(t0); took < 4*slow.Latency {
		t.Errorf("association over the slow link took %v, at least %v expected", took, 4*slow.Latency)
	}
	t1 := time.Now()
	if _, _, err := c.ReadProfile(context.Background(), sim.LoadProfileLN, start.Add(-24*time.Hour), start); err != nil {
		t.Fatal(err)
	}
	// 96 entries of about 30 bytes each must cross at 4000 B/s.
	if took := time.Since(t1); took < 96*30*time.Second/4000 {
		t.Errorf("a day of profile took %v over a 4000 B/s link", took)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if _, err := c.Get(short, attr(8, sim.ClockLN, 2), nil); err == nil {
		t.Error("read finished before its deadline on a 40 ms link")
	} else if !errors.Is(err, dlms.ErrTimeout) {
		t.Errorf("deadline: %v, want a timeout", err)
	}
}
