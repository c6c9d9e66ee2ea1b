package sim_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

func startMeshFleet(tb testing.TB, n int, mesh sim.Mesh) *sim.Fleet {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	model := meter.NewFleet(7, ams, start)
	model.Faults = meter.Faults{}
	clock := &sim.Clock{Start: start}
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 7, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clock.Now, Model: model, Mesh: &mesh})
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

// The mesh is the seed's: the same fleet twice has the same collectors
// and hops; each meter's manifest segment is its collector; rural meters
// are further away.
func TestMeshDeterministicAndInManifest(t *testing.T) {
	mesh := sim.Mesh{Collectors: 8, Rural: 0.5}
	a := startMeshFleet(t, 800, mesh)
	b := startMeshFleet(t, 800, mesh)
	rows := fleetManifest(t, a)
	perCollector := map[string]int{}
	maxHops := map[string]int{}
	for i := range a.Len() {
		if a.Collector(i) != b.Collector(i) || a.Hops(i) != b.Hops(i) {
			t.Fatalf("meter %d: collector %s/%s, hops %d/%d from the same seed", i, a.Collector(i), b.Collector(i), a.Hops(i), b.Hops(i))
		}
		if rows[i].Segment != a.Collector(i) {
			t.Fatalf("meter %d: manifest segment %q, collector %q", i, rows[i].Segment, a.Collector(i))
		}
		if h := a.Hops(i); h < 1 || h > 8 {
			t.Fatalf("meter %d: %d hops", i, h)
		}
		perCollector[a.Collector(i)]++
		maxHops[a.Collector(i)] = max(maxHops[a.Collector(i)], a.Hops(i))
	}
	if len(perCollector) != 8 {
		t.Fatalf("meters behind %d collectors, want 8: %v", len(perCollector), perCollector)
	}
	var urban, rural int
	for c, h := range maxHops {
		if perCollector[c] != 100 {
			t.Errorf("collector %s serves %d meters, want 100", c, perCollector[c])
		}
		if h > 4 {
			rural++
		} else {
			urban++
		}
	}
	if urban == 0 || rural == 0 {
		t.Fatalf("%d urban and %d rural collectors at a rural fraction of 0.5", urban, rural)
	}
}

// A down collector's meters refuse the head-end; back in service, they
// answer. A session counts on its collector until its release.
func TestMeshCollectorDownAndSessions(t *testing.T) {
	f := startMeshFleet(t, 20, sim.Mesh{Collectors: 2, Hop: sim.HopClass{Latency: time.Millisecond}, Capacity: 4})
	rows := fleetManifest(t, f)
	col := f.Collector(0)
	if err := f.SetCollectorDown(col, true); err != nil {
		t.Fatal(err)
	}
	if got := f.CollectorsDown(); len(got) != 1 || got[0] != col {
		t.Fatalf("collectors down %v, want [%s]", got, col)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := dlms.Dial(ctx, rows[0].Address.String(), hlsOptions(t, rows[0])); err == nil {
		c.Close()
		t.Fatal("a meter behind a down collector answered")
	}
	other := f.Len() - 1
	if f.Collector(other) == col {
		t.Fatal("the last meter is behind the first collector")
	}
	c := dial(t, rows[other], hlsOptions(t, rows[other]))
	if got := f.InFlight()[f.Collector(other)]; got != 1 {
		t.Fatalf("%d sessions on %s during one, want 1", got, f.Collector(other))
	}
	if err := c.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.InFlight()[f.Collector(other)]; got != 0 {
		t.Fatalf("%d sessions on %s after the release, want 0", got, f.Collector(other))
	}
	if err := f.SetCollectorDown(col, false); err != nil {
		t.Fatal(err)
	}
	dial(t, rows[0], hlsOptions(t, rows[0]))
	if err := f.SetCollectorDown("col-9999", true); err == nil {
		t.Fatal("an unknown collector was switched")
	}
}
