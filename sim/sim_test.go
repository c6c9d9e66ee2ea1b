package sim_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

var (
	ams   = mustLoc("Europe/Amsterdam")
	start = time.Date(2026, 3, 10, 12, 0, 0, 0, ams)
)

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		return time.FixedZone("CET", 3600)
	}
	return l
}

// startFleet serves n meters on a free port with the clock frozen at start;
// faults adjusts the model's fault mix (nil: none at all).
func startFleet(tb testing.TB, n int, faults *meter.Faults) *sim.Fleet {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	model := meter.NewFleet(7, ams, start)
	model.Faults = meter.Faults{}
	if faults != nil {
		model.Faults = *faults
	}
	clock := &sim.Clock{Start: start}
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 7, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clock.Now, Model: model})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.Serve(ctx, ln) }()
	tb.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

func fleetManifest(t *testing.T, f *sim.Fleet) []manifest.Row {
	t.Helper()
	var buf bytes.Buffer
	if err := sim.WriteManifest(&buf, f); err != nil {
		t.Fatal(err)
	}
	rows, _, err := manifest.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != f.Len() {
		t.Fatalf("manifest has %d rows, want %d", len(rows), f.Len())
	}
	return rows
}

func hlsOptions(tb testing.TB, r manifest.Row) dlms.Options {
	tb.Helper()
	ek, err := security.NewKey(hexField(tb, r, "ek"))
	if err != nil {
		tb.Fatal(err)
	}
	ak, err := security.NewKey(hexField(tb, r, "ak"))
	if err != nil {
		tb.Fatal(err)
	}
	return dlms.Options{ClientSAP: sim.ManagementClient, Authentication: security.MechanismHLSGMAC,
		Policy: security.PolicyAuthenticatedEncrypted, Keys: security.Keys{Unicast: ek, Authentication: ak},
		SystemTitle: []byte("HEADEND1"), Timeout: 5 * time.Second}
}

func dial(t *testing.T, r manifest.Row, o dlms.Options) *dlms.Client {
	t.Helper()
	c, err := dlms.Dial(context.Background(), r.Address.String(), o)
	if err != nil {
		t.Fatalf("meter %d at %s: %v", r.MeterID, r.Address, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func attr(class uint16, ln [6]byte, a int8) dlms.Attr {
	return dlms.Attr{Class: class, OBIS: ln, Attribute: a}
}

func TestManifestMetersAnswerHLS(t *testing.T) {
	f := startFleet(t, 4, nil)
	rows := fleetManifest(t, f)
	for i, want := range []string{"127.0.0.2", "127.0.0.3"} {
		r := rows[i]
		if got := r.Address.Addr().String(); got != want {
			t.Fatalf("meter %d address %s, want %s", i, got, want)
		}
		c := dial(t, r, hlsOptions(t, r))
		v, err := c.Get(context.Background(), attr(1, sim.SerialLN, 2), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(v.Bytes); got != r.Serial {
			t.Errorf("meter at %s: serial %q, want %q", r.Address, got, r.Serial)
		}
		if err := c.Release(context.Background()); err != nil {
			t.Errorf("release: %v", err)
		}
	}
}

func TestRegistersMatchProfile(t *testing.T) {
	f := startFleet(t, 3, nil)
	r := fleetManifest(t, f)[1]
	c := dial(t, r, hlsOptions(t, r))
	ctx := context.Background()
	reg, err := c.Get(ctx, attr(3, sim.ImportLN, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := c.ReadProfile(ctx, sim.LoadProfileLN, start.Add(-48*time.Hour), start)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 190 {
		t.Fatalf("%d profile rows for two days", len(rows))
	}
	first, _ := rows[0].Items[2].Uint()
	var sum uint64
	for k := 1; k < len(rows); k++ {
		a, _ := rows[k-1].Items[2].Uint()
		b, _ := rows[k].Items[2].Uint()
		sum += b - a
	}
	got, _ := reg.Uint()
	if got != first+sum {
		t.Errorf("A+ register %d, first profile entry %d + intervals %d = %d", got, first, sum, first+sum)
	}
	m, _ := f.Meter(1)
	f.Lock(1).Lock()
	want := m.RegistersAt(start).Import
	f.Lock(1).Unlock()
	if int64(got) != want {
		t.Errorf("A+ over DLMS %d, model %d", got, want)
	}
}

func TestOfflineMeterRefuses(t *testing.T) {
	f := startFleet(t, 20, &meter.Faults{Offline: 0.5})
	rows := fleetManifest(t, f)
	var off, on int = -1, -1
	for i := range rows {
		m, _ := f.Meter(i)
		if m.Faults().Offline {
			off = i
		} else {
			on = i
		}
	}
	if off < 0 || on < 0 {
		t.Fatal("the seed gave no offline or no online meter")
	}
	if _, err := dlms.Dial(context.Background(), rows[off].Address.String(), hlsOptions(t, rows[off])); err == nil {
		t.Errorf("offline meter at %s answered", rows[off].Address)
	} else if !errors.Is(err, dlms.ErrPeerClosed) {
		t.Logf("offline meter: %v", err)
	}
	c := dial(t, rows[on], hlsOptions(t, rows[on]))
	c.Release(context.Background())
}

func TestRemoteDisconnect(t *testing.T) {
	f := startFleet(t, 2, nil)
	r := fleetManifest(t, f)[0]
	c := dial(t, r, hlsOptions(t, r))
	ctx := context.Background()
	if _, err := c.Action(ctx, dlms.Method{Class: 70, OBIS: sim.DisconnectLN, Method: 1}, axdr.Int8(0)); err != nil {
		t.Fatal(err)
	}
	m, _ := f.Meter(0)
	f.Lock(0).Lock()
	st, _ := m.Relay()
	f.Lock(0).Unlock()
	if st != meter.Disconnected {
		t.Errorf("relay %s after remote_disconnect", st)
	}
	v, err := c.Get(ctx, attr(70, sim.DisconnectLN, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := v.Bool(); b {
		t.Error("output_state still true")
	}
}

func TestReplayedCounterRejected(t *testing.T) {
	f := startFleet(t, 2, nil)
	r := fleetManifest(t, f)[0]
	o := hlsOptions(t, r)
	o.InvocationCounter = 100
	c := dial(t, r, o)
	if _, err := c.Get(context.Background(), attr(1, sim.SerialLN, 2), nil); err != nil {
		t.Fatal(err)
	}
	c.Release(context.Background())
	c.Close()

	// A new connection, a new Device: the model must remember counter 100+.
	o.InvocationCounter = 5
	if c, err := dlms.Dial(context.Background(), r.Address.String(), o); err == nil {
		_, err = c.Get(context.Background(), attr(1, sim.SerialLN, 2), nil)
		c.Close()
		if err == nil {
			t.Fatal("a replayed invocation counter was accepted")
		}
	}
	// Resuming from the counter object works.
	o.InvocationCounter = 0
	o.ReadInvocationCounter = true
	c = dial(t, r, o)
	if _, err := c.Get(context.Background(), attr(1, sim.SerialLN, 2), nil); err != nil {
		t.Fatal(err)
	}
}

func TestSecondConnectionRefused(t *testing.T) {
	f := startFleet(t, 1, nil)
	r := fleetManifest(t, f)[0]
	c := dial(t, r, hlsOptions(t, r))
	defer c.Close()
	if c2, err := dlms.Dial(context.Background(), r.Address.String(), hlsOptions(t, r)); err == nil {
		c2.Close()
		t.Fatal("a meter took two sessions at once")
	}
}

func BenchmarkFleetIdleMemory(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 1, Now: (&sim.Clock{Start: start}).Now})
		if err != nil {
			b.Fatal(err)
		}
		for i := range n {
			if _, err := f.Meter(i); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "bytes/meter")
		runtime.KeepAlive(f)
	}
}

func BenchmarkServeSession(b *testing.B) {
	f := startFleet(b, 1, nil)
	r, err := f.Row(0)
	if err != nil {
		b.Fatal(err)
	}
	o := hlsOptions(b, r)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		o.InvocationCounter = 0
		o.ReadInvocationCounter = true
		c, err := dlms.Dial(ctx, r.Address.String(), o)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Get(ctx, attr(3, sim.ImportLN, 2), nil); err != nil {
			b.Fatal(err)
		}
		c.Release(ctx)
		c.Close()
	}
	_ = fmt.Sprint
}

// BenchmarkFleetStart is the start-up of a 100,000-meter fleet: the
// fleet, its listener tied to loopback, and the first connection served.
func BenchmarkFleetStart(b *testing.B) {
	const n = 100_000
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 1, Now: (&sim.Clock{Start: start}).Now, Port: 0})
		if err != nil {
			b.Fatal(err)
		}
		ln, err := sim.ListenLoopback(ctx, 0)
		if err != nil {
			b.Fatal(err)
		}
		ln.Close()
		cancel()
		runtime.KeepAlive(f)
	}
}

// hexField decodes a hex column of a DLMS manifest row.
func hexField(tb testing.TB, r manifest.Row, name string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(r.Fields[name])
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
