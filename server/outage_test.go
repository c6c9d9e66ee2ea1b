package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/outage"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/topology"
)

// TestOutageManagementRunsInTheServer: with a topology stored, last gasps
// published on the bus by meters of one transformer become a stored
// transformer outage (the silent meters are unknown to the head-end, so
// their pings fail, while every meter gasped).
func TestOutageManagementRunsInTheServer(t *testing.T) {
	c := testConfig(t.TempDir())
	c.Outage.Window = time.Second
	s := start(t, c)
	defer s.Shutdown(context.Background())
	ctx := context.Background()
	nodes := []topology.Node{{ID: "SS", Level: topology.Substation}, {ID: "FD", Level: topology.Feeder, Parent: "SS"},
		{ID: "TR-1", Level: topology.Transformer, Parent: "FD"}, {ID: "TR-2", Level: topology.Transformer, Parent: "FD"}}
	var ms []cim.Meter
	for i, tr := range []string{"TR-1", "TR-1", "TR-1", "TR-2"} {
		up := "UP" + string(rune('0'+i))
		nodes = append(nodes, topology.Node{ID: up, Level: topology.Service, Parent: tr})
		ms = append(ms, cim.Meter{MRID: "m" + up, UsagePointID: up, Protocol: "dlms", Segment: "s", Status: "active"})
	}
	g, err := topology.New(nodes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.PutTopology(ctx, time.Now().Add(-time.Hour), g); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.PutMeters(ctx, ms...); err != nil {
		t.Fatal(err)
	}
	down := time.Now().UTC().Truncate(time.Second)
	deadline := time.Now().Add(90 * time.Second)
	for round := 0; ; {
		// Outage management may still be waiting for its topology, and
		// its consumer starts at what is published after it: the gasps
		// are sent again until it has them.
		round++
		for _, up := range []string{"UP0", "UP1", "UP2"} {
			if _, err := s.Bus.Publish(ctx, bus.Event{MRID: fmt.Sprintf("gasp/%s/%d", up, round), MeterID: "m" + up, Type: cim.EventPowerOff, CreatedAt: down,
				Details: map[string]string{"source": "push"}}); err != nil {
				t.Fatal(err)
			}
		}
		evs, err := s.Store.Outages(ctx, store.OutageQuery{Device: "TR-1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			if e := evs[0]; e.Level != topology.Transformer || e.Customers != 3 || !e.Start.Equal(down) || e.State != outage.Confirmed {
				t.Fatalf("stored %+v", e)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no outage stored")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
