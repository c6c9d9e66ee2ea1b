package sim_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/distribution"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/topology"
)

// TestFleetOnNetwork runs a fleet on a distribution network: the meters
// under a transformer in an outage stop answering and send their last
// gasps, or not, as the network says; a meter elsewhere answers; the
// manifest names each meter's devices.
func TestFleetOnNetwork(t *testing.T) {
	const n = 400
	cfg := distribution.DefaultConfig(7, n, start.Add(-24*time.Hour))
	cfg.Days, cfg.LastGaspLoss, cfg.FalseGaspsPerYear, cfg.SagsPerFeederYear = 40, 0.5, 0, 0
	cfg.Mix.TransformerPerYear = 3
	network, err := distribution.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := network.Topology()
	// A transformer outage after start with no other outage over its
	// meters when it begins.
	var out distribution.TrueOutage
	for _, o := range network.Outages(start.Add(time.Hour), start.AddDate(0, 0, 38)) {
		if o.Level == topology.Transformer && o.Kind != distribution.Momentary && o.Customers >= 6 && calm(network, g, o) {
			out = o
			break
		}
	}
	if out.ID == "" {
		t.Fatal("no transformer outage to test on")
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(7, ams, start)
	model.Faults = meter.Faults{}
	clock := &settableClock{t: start}
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 7, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clock.Now, Model: model, Supply: network})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.Serve(ctx, ln) }()
	defer wg.Wait()
	defer cancel()

	rows := fleetManifest(t, f)
	var under []int // meter indices under the transformer
	for i, r := range rows[:n] {
		tr, _ := g.Ancestor(r.UsagePointID, topology.Transformer)
		fd, _ := g.Ancestor(r.UsagePointID, topology.Feeder)
		ss, _ := g.Ancestor(r.UsagePointID, topology.Substation)
		if r.Fields["transformer"] != tr.ID || r.Fields["feeder"] != fd.ID || r.Fields["substation"] != ss.ID || tr.ID == "" {
			t.Fatalf("manifest row %d: %v, tree %s/%s/%s", i, r.Fields, tr.ID, fd.ID, ss.ID)
		}
		if tr.ID == out.Device {
			under = append(under, i)
		}
	}
	if len(under) != out.Customers {
		t.Fatalf("%d meters under %s, the outage has %d customers", len(under), out.Device, out.Customers)
	}

	// Each meter under it schedules its last gasp at the outage's start
	// exactly when the network lets it out.
	want := map[netip.Addr]bool{}
	for _, i := range under {
		m, err := f.Meter(i)
		if err != nil {
			t.Fatal(err)
		}
		id := uint64(i) + 1
		at, ev := m.NextEvent(out.Start.Add(-time.Second))
		gasp := ev.Kind == meter.EventLastGasp && at.Equal(out.Start)
		if gasp != network.LastGasp(id, out.Start.Unix()) {
			t.Fatalf("meter %d: next event %v at %v; the network says last gasp %v", id, ev.Kind, at, !gasp)
		}
		if gasp {
			want[f.Identity(i).Addr.Addr()] = true
		}
	}
	if len(want) == 0 || len(want) == len(under) {
		t.Fatalf("%d of %d last gasps get out: want some lost, some not", len(want), len(under))
	}

	// The pushes of the outage's first second come from exactly those.
	push, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	var mu sync.Mutex
	from := map[netip.Addr]int{}
	go func() {
		for {
			c, err := push.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			from[c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()]++
			mu.Unlock()
			go func() { defer c.Close(); _, _ = c.Read(make([]byte, 4096)) }()
		}
	}()
	clock.Set(out.Start.Add(time.Second))
	stats := &sim.PushStats{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.RunPushes(ctx, sim.PushConfig{Destination: push.Addr().String(), From: out.Start.Add(-time.Second)}, stats)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		got := len(from)
		mu.Unlock()
		if int(stats.Sent.Load()+stats.Failed.Load()) >= len(want) && got >= len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pushes sent, %d failed, from %d addresses; want %d last gasps", stats.Sent.Load(), stats.Failed.Load(), got, len(want))
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	t.Logf("%s: %d customers, %d last gasps out, pushes from %d addresses", out.ID, len(under), len(want), len(from))
	for a, k := range from {
		if !want[a] || k != 1 {
			t.Errorf("%d pushes from %s; want one from each of %v", k, a, slices.Collect(maps.Keys(want)))
		}
	}
	mu.Unlock()

	// Mid-outage, its meters are dark and a meter elsewhere answers.
	clock.Set(out.Start.Add(out.Duration() / 2))
	r := rows[under[0]]
	if c, err := dlms.Dial(context.Background(), r.Address.String(), hlsOptions(t, r)); err == nil {
		c.Close()
		t.Errorf("meter %d under %s answered during its outage", r.MeterID, out.Device)
	}
	for i := range n {
		m, _ := f.Meter(i)
		f.Lock(i).Lock()
		dark := !m.Reachable(clock.Now())
		f.Lock(i).Unlock()
		if !dark {
			c := dial(t, rows[i], hlsOptions(t, rows[i]))
			c.Release(context.Background())
			break
		}
	}

	// Power back: every meter under the transformer says so, whether
	// its last gasp got out or not.
	clock.Set(out.End.Add(time.Second))
	for {
		mu.Lock()
		done := true
		for _, i := range under {
			a := f.Identity(i).Addr.Addr()
			k := 1
			if want[a] {
				k = 2
			}
			if from[a] < k {
				done = false
			}
		}
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restoration pushes missing: %v", from)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The topology file lists every meter's usage point.
	var b bytes.Buffer
	if err := network.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(recs) != n+1 || recs[1][0] != rows[0].UsagePointID {
		t.Fatalf("topology CSV: %d rows, err %v", len(recs), err)
	}
}

// calm reports whether no other outage touches the outage's meters within
// a minute of its start.
func calm(n *distribution.Network, g *topology.Grid, o distribution.TrueOutage) bool {
	for _, s := range g.Services(o.Device) {
		var id uint64
		for _, c := range s[2:] {
			id = id*10 + uint64(c-'0')
		}
		k := 0
		n.Cuts(id, o.Start.Unix()-60, o.Start.Unix()+60, func(a, b int64) { k++ })
		if k != 1 {
			return false
		}
		clash := false
		n.Cuts(id, o.Start.Unix(), o.Start.Unix()+1, func(a, b int64) { clash = a != o.Start.Unix() })
		if clash {
			return false
		}
	}
	return true
}
