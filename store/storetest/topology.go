package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/topology"
)

// topoGrid builds a small tree: substation S1 with feeders F1 and F2, a
// transformer on each (T1 on F1, T2 on F2 unless t1Feeder moves T1) and
// two services under each transformer.
func topoGrid(t *testing.T, t1Feeder string) *topology.Grid {
	t.Helper()
	g, err := topology.New([]topology.Node{
		{ID: "S1", Level: topology.Substation},
		{ID: "F1", Level: topology.Feeder, Parent: "S1"},
		{ID: "F2", Level: topology.Feeder, Parent: "S1"},
		{ID: "T1", Level: topology.Transformer, Parent: t1Feeder, DistanceM: 1200},
		{ID: "T2", Level: topology.Transformer, Parent: "F2"},
		{ID: "UP1", Level: topology.Service, Parent: "T1", Region: "north", Lat: 52.1, Lon: 5.1, Phase: 2, DistanceM: 40},
		{ID: "UP2", Level: topology.Service, Parent: "T1", Region: "north"},
		{ID: "UP3", Level: topology.Service, Parent: "T2", Region: "south"},
		{ID: "UP4", Level: topology.Service, Parent: "T2", Region: "south"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func testTopology(t *testing.T, o Opener) {
	t.Run("ConcurrentPuts", func(t *testing.T) { testTopologyConcurrentPuts(t, o) })
	s, where := o.Open(t)
	d1 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	d2 := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.TopologyAt(ctx, d1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty store: %v, want not found", err)
	}
	if vs, err := s.TopologyVersions(ctx); err != nil || len(vs) != 0 {
		t.Fatalf("empty store versions %v, %v", vs, err)
	}
	if _, err := s.PutTopology(ctx, d1, nil); err == nil {
		t.Fatal("a nil grid was stored")
	}
	v1, err := s.PutTopology(ctx, d1, topoGrid(t, "F1"))
	if err != nil {
		t.Fatal(err)
	}
	// T1 is switched to F2 from April.
	v2, err := s.PutTopology(ctx, d2, topoGrid(t, "F2"))
	if err != nil {
		t.Fatal(err)
	}
	if v2 <= v1 {
		t.Fatalf("versions %d then %d: not increasing", v1, v2)
	}
	if _, err := s.TopologyAt(ctx, d1.Add(-time.Microsecond)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before the first version: %v, want not found", err)
	}
	feederOf := func(at time.Time, id string) (string, int) {
		t.Helper()
		g, err := s.TopologyAt(ctx, at)
		if err != nil {
			t.Fatalf("at %s: %v", at, err)
		}
		f, ok := g.Ancestor(id, topology.Feeder)
		if !ok {
			t.Fatalf("at %s: %s has no feeder", at, id)
		}
		return f.ID, g.Version
	}
	for _, c := range []struct {
		at      time.Time
		feeder  string
		version int
	}{
		{d1, "F1", v1},
		{d2.Add(-time.Second), "F1", v1},
		{d2, "F2", v2},
		{d2.AddDate(1, 0, 0), "F2", v2},
	} {
		if f, v := feederOf(c.at, "UP1"); f != c.feeder || v != c.version {
			t.Errorf("UP1 at %s: feeder %s version %d, want %s version %d", c.at, f, v, c.feeder, c.version)
		}
	}
	// The stored grid is the grid put: nodes, their attributes, counts.
	g, err := s.TopologyAt(ctx, d1)
	if err != nil {
		t.Fatal(err)
	}
	if !g.EffectiveFrom.Equal(d1) || g.Len() != 9 || g.Total() != 4 || g.Customers("F1") != 2 {
		t.Fatalf("grid at %s: effective %s, %d nodes, %d services, F1 %d", d1, g.EffectiveFrom, g.Len(), g.Total(), g.Customers("F1"))
	}
	if n, _ := g.Node("UP1"); n.Lat != 52.1 || n.Lon != 5.1 || n.Phase != 2 || n.DistanceM != 40 || n.Region != "north" {
		t.Fatalf("UP1 came back as %+v", n)
	}
	if n, _ := g.Node("T1"); n.DistanceM != 1200 {
		t.Fatalf("T1 came back as %+v", n)
	}

	// A second version of one date wins over the first from that date on.
	g3, err := topology.New([]topology.Node{
		{ID: "S1", Level: topology.Substation},
		{ID: "F9", Level: topology.Feeder, Parent: "S1"},
		{ID: "T1", Level: topology.Transformer, Parent: "F9"},
		{ID: "UP1", Level: topology.Service, Parent: "T1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	v3, err := s.PutTopology(ctx, d2, g3)
	if err != nil {
		t.Fatal(err)
	}
	if f, v := feederOf(d2, "UP1"); f != "F9" || v != v3 {
		t.Fatalf("after a correction of %s: UP1 on %s version %d, want F9 version %d", d2, f, v, v3)
	}
	if f, v := feederOf(d1, "UP1"); f != "F1" || v != v1 {
		t.Fatalf("March after the correction: UP1 on %s version %d", f, v)
	}

	// An older date put later still applies from its own date only.
	d0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v4, err := s.PutTopology(ctx, d0, topoGrid(t, "F2"))
	if err != nil {
		t.Fatal(err)
	}
	if f, v := feederOf(d0.AddDate(0, 1, 0), "UP1"); f != "F2" || v != v4 {
		t.Fatalf("February: UP1 on %s version %d, want F2 version %d", f, v, v4)
	}
	if _, v := feederOf(d1, "UP1"); v != v1 {
		t.Fatalf("March after a back-dated version: version %d, want %d", v, v1)
	}

	s.Close()
	s = o.Reopen(t, where)
	vs, err := s.TopologyVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tv := func(v int, d time.Time, n int) store.TopologyVersion {
		return store.TopologyVersion{Version: v, EffectiveFrom: d, Nodes: n}
	}
	want := []store.TopologyVersion{tv(v1, d1, 9), tv(v2, d2, 9), tv(v3, d2, 4), tv(v4, d0, 9)}
	if len(vs) != len(want) {
		t.Fatalf("versions %+v, want %+v", vs, want)
	}
	for i := range want {
		if vs[i].Version != want[i].Version || !vs[i].EffectiveFrom.Equal(want[i].EffectiveFrom) || vs[i].Nodes != want[i].Nodes {
			t.Errorf("version %d: %+v, want %+v", i, vs[i], want[i])
		}
	}
}

// testTopologyConcurrentPuts: versions stored at once, as two nodes
// importing manifests would, each get a number of their own.
func testTopologyConcurrentPuts(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	d := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	const n = 6
	got := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g, err := topology.New([]topology.Node{{ID: "S1", Level: topology.Substation}})
			if err != nil {
				errs[i] = err
				return
			}
			got[i], errs[i] = s.PutTopology(ctx, d.AddDate(0, 0, i), g)
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("put %d: %v", i, errs[i])
		}
		if seen[got[i]] || got[i] < 1 {
			t.Fatalf("versions %v: not distinct", got)
		}
		seen[got[i]] = true
	}
	vs, err := s.TopologyVersions(ctx)
	if err != nil || len(vs) != n {
		t.Fatalf("%d versions (%v), want %d", len(vs), err, n)
	}
}
