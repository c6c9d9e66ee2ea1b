package headend_test

import (
	"context"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
)

// TestRunAskedOnAnyNodeRunsOnEveryHeadEnd: a run started by hand on a
// node that does not collect (an API node) reaches every head-end node
// through the run board, and the progress any node reports is the sum of
// theirs, node by node.
func TestRunAskedOnAnyNodeRunsOnEveryHeadEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, _ := storetest.OpenSQLite(t)
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	keys := vault.NewKeyring(testKeys(t, "k1", 1))
	if _, err := headend.Import(ctx, st, keys, dlmsDrivers, shipment(10)); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 30, 2, 0, 0, 0, time.UTC)
	drv := newFakeDriver()
	node := func(name string) *headend.HeadEnd {
		board, err := b.RunBoard(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h, err := headend.New(headend.Options{Store: st, Bus: b, Safeguards: noSafeguards, Secrets: keys,
			Drivers: []headend.Driver{dlmsFake{drv}}, Now: func() time.Time { return now }, Node: name, Board: board,
			Collection: headend.CollectionConfig{RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond, Window: time.Hour}})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	he1, he2, api := node("he-1"), node("he-2"), node("api-1")
	done := make(chan error, 2)
	for _, h := range []*headend.HeadEnd{he1, he2} {
		go func() { done <- h.Run(ctx, headend.ScheduleConfig{At: -1}) }()
	}
	day := cim.Date{Year: 2026, Month: 3, Day: 29}
	// The head-end nodes follow the board from their start: ask until
	// both have taken the run (a request before a node watches is not
	// replayed to it, by design).
	var p headend.Progress
	waitUntil(t, "both nodes to run the day asked for on the API node", func() bool {
		p = api.Progress()
		if len(p.Nodes) < 2 || p.Nodes[0].Day != day || p.Nodes[1].Day != day {
			if err := api.StartRun(day, headend.RunOptions{}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			return false
		}
		return p.Day == day && !p.Running && p.Done == p.Total && p.Total > 0
	})
	// Without leases each node reads every meter: the sum is twice the
	// fleet, each node's share is the fleet.
	if p.Total != 2*10 || p.OK != 2*10 || p.Kind != headend.RunManual || len(p.Nodes) != 2 {
		t.Fatalf("cluster progress %+v", p)
	}
	for i, want := range []string{"he-1", "he-2"} {
		if n := p.Nodes[i]; n.Node != want || n.Total != 10 || n.OK != 10 || n.Day != day {
			t.Fatalf("node %d: %+v", i, n)
		}
	}
	if own := he1.Progress(); own.Total != p.Total {
		t.Fatalf("a head-end node's Progress is the cluster's too: %+v", own)
	}
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestImportOnAnyNodeIsReadByTheHolders: meters imported through a node
// that does not collect are read at once, each by the head-end node
// holding its shard, and by that node alone.
func TestImportOnAnyNodeIsReadByTheHolders(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, _ := storetest.OpenSQLite(t)
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	keys := vault.NewKeyring(testKeys(t, "k1", 1))
	now := time.Date(2026, 3, 30, 2, 0, 0, 0, time.UTC)
	drv := newFakeDriver()
	table := newLeaseTable()
	node := func(name string, l headend.Leases) *headend.HeadEnd {
		board, err := b.RunBoard(ctx)
		if err != nil {
			t.Fatal(err)
		}
		h, err := headend.New(headend.Options{Store: st, Bus: b, Safeguards: noSafeguards, Secrets: keys,
			Drivers: []headend.Driver{dlmsFake{drv}}, Now: func() time.Time { return now }, Node: name, Board: board, Leases: l,
			Collection: headend.CollectionConfig{RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond, Window: time.Hour,
				CatchUpWindow: 10 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	he1, he2 := node("he-1", table.node("he-1")), node("he-2", table.node("he-2"))
	table.give("he-1", 0, headend.Shards/2)
	table.give("he-2", headend.Shards/2, headend.Shards)
	api := node("api-1", nil)
	runNodes(t, he1, he2)
	// Each head-end node follows the board once its Run has started;
	// the run board reports a node's progress from then on.
	waitUntil(t, "both head-end nodes on the board", func() bool { return len(api.Progress().Nodes) == 2 })
	rows := shipment(30)
	rep, err := api.Import(ctx, rows)
	if err != nil || len(rep.New) == 0 {
		t.Fatalf("import %+v %v", rep, err)
	}
	day := cim.Date{Year: 2026, Month: 3, Day: 29}
	waitUntil(t, "every imported meter read", func() bool {
		sum := daySummary(t, st, day)
		return sum.Total == 30 && sum.OK == 30
	})
	drv.mu.Lock()
	defer drv.mu.Unlock()
	for _, row := range rows {
		if n := drv.opens[headend.MeterID(row)]; !row.SubMeter() && n != 1 {
			t.Errorf("meter %s read %d times, want once", headend.MeterID(row), n)
		}
	}
}
