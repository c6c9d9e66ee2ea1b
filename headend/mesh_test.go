package headend_test

import (
	"context"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/api"
	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
)

// meshRig is a fleet behind a radio mesh on loopback and a head-end that
// keeps to each collector's capacity; no ingest, so the run's cost is
// the sessions'.
type meshRig struct {
	clk   *simClock
	fleet *sim.Fleet
	st    store.Store
	keys  *vault.Keyring
	h     *headend.HeadEnd
}

func newMeshRig(t *testing.T, n int, mesh sim.Mesh, cfg headend.CollectionConfig) *meshRig {
	t.Helper()
	r := &meshRig{clk: &simClock{t: time.Date(2026, 3, 31, 2, 0, 0, 0, ams)}}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(7, ams, r.clk.Now())
	model.HistoryDays = 2
	model.Install = r.clk.Now().AddDate(0, 0, -2)
	model.Faults = meter.Faults{}
	r.fleet, err = sim.NewFleet(sim.Config{Meters: n, Seed: 7, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: r.clk.Now,
		Model: model, Mesh: &mesh})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r.st, _ = storetest.OpenSQLite(t)
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir()})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	v, err := vault.New("test", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	r.keys = vault.NewKeyring(v)
	r.h, err = headend.New(headend.Options{Store: r.st, Bus: b, Secrets: r.keys, Now: r.clk.Now,
		Drivers: []headend.Driver{dlmsdriver.New(dlmsdriver.Config{})}, Collection: cfg, Safeguards: noSafeguards})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.fleet.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		b.Close(context.Background())
	})
	rows := make([]manifest.Row, 0, n)
	for i := range n {
		row, err := r.fleet.Row(i)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	if rep, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, rows); err != nil || rep.Created != n {
		t.Fatalf("import: %+v %v", rep, err)
	}
	return r
}

// TestFleetMeshCollectorView is the mesh's acceptance run: a fleet behind 20
// radio collectors, one of them down, with per-hop loss the link layer
// mostly hides and now and then an exchange lost end to end, is collected
// by the head-end over loopback. No collector ever carries more sessions
// than its capacity, and the collector view served by the API shows the
// failed collector at 0 % and every other at 99.5 % or better.
func TestFleetMeshCollectorView(t *testing.T) {
	if testing.Short() {
		t.Skip("a fleet run")
	}
	n := fleetSize
	const collectors, capacity = 20, 16
	down := sim.CollectorID(7)
	mesh := sim.Mesh{Collectors: collectors, Rural: 0.3, Hop: sim.HopClass{Latency: 100 * time.Microsecond, BytesPerSecond: 20_000_000},
		HopLoss: 0.04, Retries: 3, LostAfter: 2 * time.Second, Down: []string{down}, Capacity: capacity}
	caps := map[string]int{}
	for c := range collectors {
		caps[sim.CollectorID(c)] = capacity
	}
	r := newMeshRig(t, n, mesh, headend.CollectionConfig{Concurrency: 400, PerSegment: 64, SegmentCapacity: caps, Attempts: 3,
		JobTimeout: time.Minute, BackfillDays: 1, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond})

	behind := map[string]int{}
	for i := range n {
		behind[r.fleet.Collector(i)]++
	}
	if len(behind) != collectors {
		t.Fatalf("meters behind %d collectors, want %d", len(behind), collectors)
	}

	ctx := context.Background()
	day := cim.Date{Year: 2026, Month: 3, Day: 30}
	t0 := time.Now()
	if err := r.h.CollectDay(ctx, day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d meters behind %d collectors in %v", n, collectors, time.Since(t0).Round(time.Millisecond))

	full := 0
	for c, most := range r.fleet.MaxSessions() {
		if most > capacity {
			t.Errorf("collector %s carried %d sessions at once, capacity %d", c, most, capacity)
		}
		if c != down && most == capacity {
			full++
		}
	}
	// Hundreds of meters per collector and a generous global limit: the
	// collectors' own capacity is what held them, at least somewhere. (A
	// loaded machine, or the race detector, may leave some collectors'
	// sessions too slow to start to ever fill them all.)
	if full == 0 {
		t.Errorf("no collector reached its capacity of %d: the limit was not exercised", capacity)
	}

	srv := httptest.NewServer(api.New(api.Deps{Store: r.st, HeadEnd: r.h}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/collectors?day=" + day.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/collectors: %s", resp.Status)
	}
	var view struct {
		Collectors []headend.Collector `json:"collectors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&view); err != nil {
		t.Fatal(err)
	}
	if len(view.Collectors) != collectors {
		t.Fatalf("%d collectors in the view, want %d", len(view.Collectors), collectors)
	}
	if first := view.Collectors[0]; first.Segment != down || first.Success != 0 || first.Meters != behind[down] || first.Healthy {
		t.Fatalf("the view's first collector is %+v, want %s at 0 %% of %d meters", first, down, behind[down])
	}
	var lost int
	for _, c := range view.Collectors[1:] {
		if c.Meters != behind[c.Segment] || c.Success < headend.HealthyRate || !c.Healthy {
			t.Errorf("collector %s: %d of %d meters read (%.2f %%), failures %v", c.Segment, c.OK, c.Meters, 100*c.Success, c.Failed)
		}
		if c.Sessions == 0 || c.MedianMs <= 0 || c.P95Ms < c.MedianMs || c.Capacity != capacity {
			t.Errorf("collector %s: %d sessions timed, median %.1f ms, p95 %.1f ms, capacity %d", c.Segment, c.Sessions, c.MedianMs, c.P95Ms, c.Capacity)
		}
		lost += c.Sessions - c.OK
	}
	lo, hi := p95Range(view.Collectors[1:])
	t.Logf("view: %s %.1f %% (%v); the others' p95 session %.1f to %.1f ms; %d sessions beyond one per meter",
		view.Collectors[0].Segment, 100*view.Collectors[0].Success, view.Collectors[0].Failed, lo, hi, lost)
}

func p95Range(cs []headend.Collector) (lo, hi float64) {
	lo = math.Inf(1)
	for _, c := range cs {
		lo, hi = min(lo, c.P95Ms), max(hi, c.P95Ms)
	}
	return lo, hi
}
