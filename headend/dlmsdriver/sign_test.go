package dlmsdriver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/vault"
)

// trustingFleet serves n meters provisioned with trust (nil: none).
func trustingFleet(t testing.TB, n int, trust *sim.Trust, clk *clock) *sim.Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(11, ams, clk.Now())
	model.HistoryDays = 2
	model.Install = clk.Now().AddDate(0, 0, -2)
	model.Faults = meter.Faults{}
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 11, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clk.Now, Model: model, Trust: trust})
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

func newSigner(t testing.TB) *vault.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := vault.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// failingCounters is a store that cannot reserve originator counters.
type failingCounters struct{ *memCounters }

func (f failingCounters) Reserve(ctx context.Context, name string, n uint32) (uint64, error) {
	if name == headend.CommandCounter {
		return 0, errors.New("store unavailable")
	}
	return f.memCounters.Reserve(ctx, name, n)
}

// TestSignedCommandsReachTheMeter: with a signer the driver signs a
// disconnect and a relay mode change under counters reserved from the
// store, and the provisioned meter executes them; without one the meter
// refuses the disconnect, and the head-end collects the meter's event.
func TestSignedCommandsReachTheMeter(t *testing.T) {
	clk := &clock{t: time.Date(2026, 6, 15, 12, 0, 0, 0, ams)}
	signer := newSigner(t)
	f := trustingFleet(t, 1, sim.NewTrust(signer.PublicKey()), clk)
	d := dlmsdriver.New(dlmsdriver.Config{})
	ctx := context.Background()
	m, _ := f.Meter(0)
	relay := func() (meter.ControlState, meter.ControlMode, uint64) {
		f.Lock(0).Lock()
		defer f.Lock(0).Unlock()
		st, mode := m.Relay()
		return st, mode, m.Counters().Command
	}
	tg := target(t, f, 0, clk)
	counters := tg.Counters.(*memCounters)

	// Unsigned: refused, relay as it was, nothing counted.
	s := open(t, d, tg)
	if _, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlDisconnect}); err == nil {
		t.Fatal("an unsigned disconnect was executed by a provisioned meter")
	}
	if st, _, n := relay(); st != meter.Connected || n != 0 {
		t.Fatalf("after an unsigned disconnect: relay %s, counter %d", st, n)
	}
	s.Close(ctx)

	// Signed: executed, under the counter the store handed out.
	tg.Signer = signer
	s = open(t, d, tg)
	if _, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlDisconnect}); err != nil {
		t.Fatalf("signed disconnect: %v", err)
	}
	if _, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlRelayMode, Parameters: map[string]string{"mode": "1"}}); err != nil {
		t.Fatalf("signed relay mode change: %v", err)
	}
	st, mode, n := relay()
	if st != meter.Disconnected || mode != 1 || n != 2 {
		t.Fatalf("after signed commands: relay %s, mode %d, meter's counter %d; want disconnected, 1, 2", st, mode, n)
	}
	if got := counters.v[headend.CommandCounter]; got != 2 {
		t.Fatalf("store reserved %d originator counters, want 2", got)
	}
	s.Close(ctx)

	// A counter the store cannot reserve is never signed or sent.
	tg.Counters = failingCounters{counters}
	s = open(t, d, tg)
	if _, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlRelayMode, Parameters: map[string]string{"mode": "2"}}); err == nil {
		t.Fatal("a command was sent without a reserved counter")
	}
	if _, mode, n := relay(); mode != 1 || n != 2 {
		t.Fatalf("mode %d, counter %d after a failed reservation", mode, n)
	}

	// The refusal is in the events the head-end collects, named.
	col, err := s.Collect(ctx, headend.Plan{Backfill: clk.Now().Add(-24 * time.Hour), Until: clk.Now()})
	s.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range col.Events {
		if e.Code == int(meter.EventCommandUnsigned) {
			found = true
			if e.Reason != "critical command refused: unsigned" || e.Severity != "major" {
				t.Errorf("event %+v", e)
			}
		}
	}
	if !found {
		t.Fatalf("no unsigned-command event among %d collected", len(col.Events))
	}
}

// BenchmarkSignedDisconnect: the same disconnect to a simulated meter over
// loopback, unsigned (to a meter not provisioned) and signed (to one
// provisioned), in one run, and the signing alone.
func BenchmarkSignedDisconnect(b *testing.B) {
	clk := &clock{t: time.Date(2026, 6, 15, 12, 0, 0, 0, ams)}
	signer := newSigner(b)
	plain := trustingFleet(b, 1, nil, clk)
	trusting := trustingFleet(b, 1, sim.NewTrust(signer.PublicKey()), clk)
	d := dlmsdriver.New(dlmsdriver.Config{})
	ctx := context.Background()
	tu := target(b, plain, 0, clk)
	ts := target(b, trusting, 0, clk)
	ts.Signer = signer
	su, ss := open(b, d, tu), open(b, d, ts)
	defer su.Close(ctx)
	defer ss.Close(ctx)
	disc := cim.EndDeviceControl{Type: cim.ControlDisconnect}
	data := make([]byte, 120) // a signed disconnect's signed data
	var unsigned, signed, signing time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if _, err := su.Execute(ctx, disc); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := ss.Execute(ctx, disc); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := signer.Sign(ctx, data); err != nil {
			b.Fatal(err)
		}
		unsigned, signed, signing = unsigned+t1.Sub(t0), signed+t2.Sub(t1), signing+time.Since(t2)
	}
	n := float64(b.N)
	b.ReportMetric(float64(unsigned.Nanoseconds())/n, "unsigned-ns/cmd")
	b.ReportMetric(float64(signed.Nanoseconds())/n, "signed-ns/cmd")
	b.ReportMetric(float64(signing.Nanoseconds())/n, "sign-ns")
	b.ReportMetric(float64(signed)/float64(unsigned), "signed/unsigned")
}
