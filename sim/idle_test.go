package sim_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// TestIdleClientDoesNotHoldTheMeter: a meter takes one session at a time,
// as its modem does. A connection that never speaks, and then an
// association that falls silent, each hold it only until the inactivity
// timeout: the next head-end connection, waiting for the session, is
// served instead of reset.
func TestIdleClientDoesNotHoldTheMeter(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(7, ams, start)
	model.Faults = meter.Faults{}
	clock := &sim.Clock{Start: start}
	f, err := sim.NewFleet(sim.Config{Meters: 1, Seed: 7, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clock.Now, Model: model,
		InactivityTimeout: 300 * time.Millisecond})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.Serve(ctx, ln) }()
	defer func() { cancel(); wg.Wait() }()
	r := fleetManifest(t, f)[0]

	silent, err := net.Dial("tcp", r.Address.String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	o := hlsOptions(t, r)
	quiet := dial(t, r, o) // waits for the silent one to be dropped
	if _, err := quiet.Get(context.Background(), attr(1, sim.SerialLN, 2), nil); err != nil {
		t.Fatal(err)
	}
	// quiet now says nothing; the next client gets the meter.
	o.InvocationCounter = 1000 // above every counter quiet used
	next := dial(t, r, o)
	v, err := next.Get(context.Background(), attr(1, sim.SerialLN, 2), nil)
	if err != nil || string(v.Bytes) != r.Serial {
		t.Fatalf("serial %q, %v; want %q", v.Bytes, err, r.Serial)
	}
	if _, err := quiet.Get(context.Background(), attr(1, sim.SerialLN, 2), nil); err == nil {
		t.Fatal("the silent association still holds the meter")
	}
	silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, silent); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the connection that never spoke is still open")
	}
}
