package outage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/outage"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/topology"
	"github.com/amigo-ami/amigo/vault"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type tables struct{ st store.Store }

func (s tables) PutOutage(ctx context.Context, e outage.Event) error { return s.st.PutOutage(ctx, e) }
func (s tables) OpenOutages(ctx context.Context) ([]outage.Event, error) {
	return s.st.Outages(ctx, store.OutageQuery{Open: true})
}

func (s tables) Overlapping(ctx context.Context, from, to time.Time) ([]outage.Event, error) {
	return s.st.Outages(ctx, store.OutageQuery{From: from, To: to})
}

type registry struct{ st store.Store }

func (r registry) UsagePointOf(ctx context.Context, id string) (string, error) {
	m, err := r.st.Meter(ctx, id)
	return m.UsagePointID, err
}

func (r registry) MeterAt(ctx context.Context, up string) (string, error) {
	ms, err := r.st.Meters(ctx, store.MeterQuery{UsagePointID: up, Limit: 1})
	if err != nil || len(ms) == 0 {
		return "", fmt.Errorf("usage point %s: no meter (%v)", up, err)
	}
	return ms[0].MRID, nil
}

// TestEndToEndOverLoopback: simulated meters on loopback lose power under
// one transformer; their last gasps reach the head-end's push listener and
// the bus, the service confirms the outage at the transformer by real
// pings (the silent meters do not answer, the other transformer's do),
// the power-restored pushes and the pings that answer restore and verify
// it, and every change is on the outages topic and in the store.
func TestEndToEndOverLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("a fleet on loopback")
	}
	clk := &clock{t: time.Date(2026, 4, 14, 10, 0, 0, 0, time.UTC)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var closers []func()
	defer func() {
		cancel()
		wg.Wait()
		for _, c := range closers {
			c()
		}
	}()

	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	model := meter.NewFleet(3, time.UTC, clk.Now())
	model.HistoryDays = 2
	model.Install = clk.Now().AddDate(0, 0, -2)
	const n = 20
	fleet, err := sim.NewFleet(sim.Config{Meters: n, Seed: 3, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clk.Now, Model: model})
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); fleet.Serve(ctx, ln) }()

	st, _ := storetest.OpenSQLite(t)
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	closers = append(closers, func() { b.Close(context.Background()) })
	v, err := vault.New("test", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys := vault.NewKeyring(v)
	drv := dlmsdriver.New(dlmsdriver.Config{})
	h, err := headend.New(headend.Options{Store: st, Bus: b, Secrets: keys, Now: clk.Now, Drivers: []headend.Driver{drv},
		Safeguards: &headend.SafeguardConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	nodes := []topology.Node{{ID: "SS-1", Level: topology.Substation}, {ID: "FD-1", Level: topology.Feeder, Parent: "SS-1"},
		{ID: "TR-A", Level: topology.Transformer, Parent: "FD-1"}, {ID: "TR-B", Level: topology.Transformer, Parent: "FD-1"}}
	for i := range n {
		row, err := fleet.Row(i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := headend.Import(ctx, st, keys, []headend.Driver{drv}, []manifest.Row{row}); err != nil {
			t.Fatal(err)
		}
		tr := "TR-A"
		if i >= n/2 {
			tr = "TR-B"
		}
		nodes = append(nodes, topology.Node{ID: row.UsagePointID, Level: topology.Service, Parent: tr})
	}
	g, err := topology.New(nodes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutTopology(ctx, clk.Now().AddDate(0, 0, -30), g); err != nil {
		t.Fatal(err)
	}

	pl := h.NewPushListener(dlmsdriver.New(dlmsdriver.Config{}), headend.PushConfig{})
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); pl.Serve(ctx, pln) }()

	// TR-A's fuse blows a minute from now and is replaced two hours later.
	cutAt, upAt := clk.Now().Add(time.Minute), clk.Now().Add(2*time.Hour)
	for i := range n / 2 {
		m, err := fleet.Meter(i)
		if err != nil {
			t.Fatal(err)
		}
		lk := fleet.Lock(i)
		lk.Lock()
		m.PowerCut(cutAt, upAt)
		lk.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		fleet.RunPushes(ctx, sim.PushConfig{Destination: pln.Addr().String(), From: clk.Now()}, nil)
	}()

	svc, err := outage.NewService(outage.ServiceOptions{Store: tables{st}, Topology: st, Meters: registry{st}, Pings: h, Bus: b,
		Now: clk.Now, Tick: 50 * time.Millisecond, PingTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); svc.Run(ctx) }()

	watch, err := b.Consumer(ctx, bus.ConsumerConfig{Durable: "e2e", Stream: bus.Outages, Topic: bus.TopicOutage})
	if err != nil {
		t.Fatal(err)
	}
	var seen []outage.Event
	// until advances the simulated clock in 5 s steps while waiting for
	// an outage in state on the bus.
	until := func(state outage.State, stopAt time.Time) outage.Event {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			for _, e := range seen {
				if e.State == state {
					return e
				}
			}
			if clk.Now().Before(stopAt) {
				clk.Add(5 * time.Second)
			}
			ds, _ := watch.Fetch(ctx, 10, 20*time.Millisecond)
			for _, d := range ds {
				m, err := d.Decode()
				if err != nil {
					t.Fatal(err)
				}
				var e outage.Event
				if err := json.Unmarshal(m.(bus.Outage).JSON, &e); err != nil {
					t.Fatal(err)
				}
				seen = append(seen, e)
				d.Ack()
			}
		}
		t.Fatalf("no %s outage on the bus by %s; seen %+v", state, clk.Now(), seen)
		return outage.Event{}
	}

	ev := until(outage.Confirmed, upAt.Add(-time.Hour))
	if ev.Device != "TR-A" || ev.Level != topology.Transformer || ev.Customers != n/2 || ev.Start.Sub(cutAt).Abs() > time.Second {
		t.Fatalf("confirmed: %+v (cut at %s)", ev, cutAt)
	}
	if ev.PingsFailed == 0 || ev.LastGasps == 0 {
		t.Errorf("confirmed without evidence: %+v", ev)
	}
	if got, err := st.Outage(ctx, ev.ID); err != nil || got.State != outage.Confirmed {
		t.Fatalf("stored: %+v %v", got, err)
	}

	clk.Set(upAt.Add(time.Second))
	ev = until(outage.Verified, upAt.Add(10*time.Minute))
	if ev.Device != "TR-A" || ev.PingsOK == 0 {
		t.Fatalf("verified: %+v (power back at %s)", ev, upAt)
	}
	// A re-ping may find the power back before the meters' restoration
	// pushes arrive (the simulated clock runs far ahead of a loaded
	// machine); the outage then ends when the pushes say power came back.
	deadline := time.Now().Add(30 * time.Second)
	for ev.End.Sub(upAt).Abs() > time.Second && time.Now().Before(deadline) {
		ds, _ := watch.Fetch(ctx, 10, 50*time.Millisecond)
		for _, d := range ds {
			m, err := d.Decode()
			if err != nil {
				t.Fatal(err)
			}
			var e outage.Event
			if err := json.Unmarshal(m.(bus.Outage).JSON, &e); err != nil {
				t.Fatal(err)
			}
			seen = append(seen, e)
			if e.ID == ev.ID {
				ev = e
			}
			d.Ack()
		}
	}
	if ev.End.Sub(upAt).Abs() > time.Second {
		t.Fatalf("verified outage ends %s, power back at %s: %+v", ev.End, upAt, ev)
	}
	if lag := ev.VerifiedAt.Sub(upAt); lag > time.Minute {
		t.Errorf("verified %s after power came back", lag)
	}
	if got, err := st.Outage(ctx, ev.ID); err != nil || got.State != outage.Verified {
		t.Fatalf("stored: %+v %v", got, err)
	}
	for _, e := range seen {
		if e.Device != "TR-A" {
			t.Errorf("an outage of %s: %+v", e.Device, e)
		}
	}
}
