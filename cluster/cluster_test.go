package cluster_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cluster"
	"github.com/amigo-ami/amigo/testenv"
)

// startNATS starts an n-node JetStream cluster for t, or skips (fails
// where services are required) without nats-server.
func startNATS(t *testing.T, ctx context.Context, n int) *cluster.NATS {
	t.Helper()
	if _, err := os.Stat(cluster.NATSServer); err != nil {
		testenv.Service(t, "nats-server", err)
	}
	c, err := cluster.StartNATS(ctx, t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestNATSClusterForms(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := startNATS(t, ctx, 3)
	leaders := map[string]bool{}
	for i := range c.Len() {
		l, err := c.Node(i).MetaLeader(ctx)
		if err != nil {
			t.Fatal(err)
		}
		leaders[l] = true
	}
	if len(leaders) != 1 {
		t.Fatalf("the nodes name %d meta leaders, want one: %v", len(leaders), leaders)
	}
	// Streams of three replicas need all three nodes in one cluster.
	b, err := bus.Open(ctx, bus.Options{URL: c.URLs(), Replicas: 3, Namespace: "forms"})
	if err != nil {
		t.Fatalf("opening the bus with 3 replicas on %s: %v", c.URLs(), err)
	}
	defer b.Close(ctx)
	if err := b.Ready(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestNATSKillRestartKeepsReplicatedStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := startNATS(t, ctx, 3)
	b, err := bus.Open(ctx, bus.Options{URL: c.URLs(), Replicas: 3, Namespace: "keep"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(ctx)
	publish := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			ev := bus.Event{MRID: fmt.Sprintf("m%d/log/1", i), MeterID: fmt.Sprintf("m%d", i), CreatedAt: time.Unix(1_780_000_000+int64(i), 0).UTC()}
			// A publish during a leader election may time out: retry it,
			// as every publisher of amigo does; the id keeps it single.
			first, said := time.Now(), time.Now()
			for {
				_, err := b.Publish(ctx, ev)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					var tails []string
					for n := range c.Len() {
						tails = append(tails, fmt.Sprintf("--- %s:\n%s", c.Node(n).Name, c.Node(n).LogTail(20)))
					}
					t.Fatalf("publishing event %d: %v (failing for %s)\n%s", i, err, time.Since(first).Round(time.Second), strings.Join(tails, "\n"))
				}
				if time.Since(said) > 10*time.Second {
					t.Logf("event %d not stored for %s: %v", i, time.Since(first).Round(time.Second), err)
					said = time.Now()
				}
				time.Sleep(100 * time.Millisecond) // a retry's pause, not synchronisation
			}
		}
	}
	count := func() int {
		t.Helper()
		n := 0
		if err := b.Stored(ctx, bus.Events, 0, func(uint64, bus.Message, error) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	publish(0, 200)
	t.Logf("published 200")
	victim := c.Node(0)
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	// Two of three replicas are a quorum: the stream takes more.
	publish(200, 300)
	if err := victim.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitReady(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted %s", victim.Name)
	publish(300, 400)
	if n := count(); n != 400 {
		t.Fatalf("the stream holds %d events after a node was killed and restarted, want 400", n)
	}
	// The restarted node holds its replica again: with another node gone
	// the stream still has its quorum and every message.
	if err := c.Node(1).Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		n := -1
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		err := b.Stored(sctx, bus.Events, 0, func(uint64, bus.Message, error) bool { n++; return true })
		scancel()
		if err == nil && n+1 == 400 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the second kill the stream holds %d events (%v), want 400", n+1, err)
		}
		time.Sleep(200 * time.Millisecond) // polling for a leader election
	}
}
