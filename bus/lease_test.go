package bus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/amigo-ami/amigo/testenv"
)

const testTTL = 1500 * time.Millisecond

// syncBuffer is a log sink several goroutines write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// leaseNode is one node's leases running in the background.
type leaseNode struct {
	l      *Leases
	reg    *prometheus.Registry
	log    *syncBuffer
	cancel context.CancelFunc
	done   chan struct{}
}

func startLeases(t *testing.T, b *Bus, node string) *leaseNode {
	t.Helper()
	n := &leaseNode{reg: prometheus.NewRegistry(), log: &syncBuffer{}, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := b.Leases(ctx, LeaseConfig{Node: node, Shards: 64, TTL: testTTL, Metrics: n.reg,
		Logger: slog.New(slog.NewTextHandler(n.log, nil))})
	if err != nil {
		t.Fatalf("leases of %s: %v", node, err)
	}
	n.l = l
	rctx, rcancel := context.WithCancel(context.Background())
	n.cancel = rcancel
	go func() {
		defer close(n.done)
		l.Run(rctx)
	}()
	t.Cleanup(n.stop)
	return n
}

func (n *leaseNode) stop() {
	n.cancel()
	<-n.done
}

// crash ends the node's renewals without releasing, as a killed process.
func (n *leaseNode) crash() {
	n.l.noRelease = true
	n.stop()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; %s", what, within, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// split reports whether the nodes' shards are disjoint, cover all 64 and
// each count is within [lo, hi].
func split(nodes []*leaseNode, lo, hi int) (bool, string) {
	seen := map[int]string{}
	var counts []string
	ok := true
	for _, n := range nodes {
		held := n.l.Held()
		counts = append(counts, fmt.Sprintf("%s=%d", n.l.Node(), len(held)))
		if len(held) < lo || len(held) > hi {
			ok = false
		}
		for _, s := range held {
			if other, dup := seen[s]; dup {
				return false, fmt.Sprintf("shard %d held by %s and %s", s, other, n.l.Node())
			}
			seen[s] = n.l.Node()
		}
	}
	return ok && len(seen) == 64, strings.Join(counts, " ")
}

// leaseScenario runs the lease life cycle over buses, one per node (the
// same bus may repeat).
func leaseScenario(t *testing.T, buses [3]*Bus) {
	a := startLeases(t, buses[0], "node-a")
	b := startLeases(t, buses[1], "node-b")
	waitFor(t, 20*testTTL, "two nodes split 32/32", func() (bool, string) { return split([]*leaseNode{a, b}, 32, 32) })
	// Each learns the other's membership at its own next round.
	waitFor(t, 4*testTTL, "both nodes seen by each", func() (bool, string) {
		return a.l.Nodes() == 2 && b.l.Nodes() == 2, fmt.Sprintf("nodes seen: a %d, b %d", a.l.Nodes(), b.l.Nodes())
	})
	// a learns b's shards at its next round.
	waitFor(t, 4*testTTL, "a names every holder", func() (bool, string) {
		for s := range 64 {
			if h := a.l.Holder(s); h == "" || (h == "node-a") != a.l.Holds(s) {
				return false, fmt.Sprintf("shard %d: a sees holder %q, holds %v", s, h, a.l.Holds(s))
			}
		}
		return true, ""
	})

	c := startLeases(t, buses[2], "node-c")
	waitFor(t, 20*testTTL, "a third node takes about a third", func() (bool, string) { return split([]*leaseNode{a, b, c}, 20, 22) })

	// A graceful stop hands over without a takeover: the keys are gone
	// at once, nobody waits for them to expire.
	c.stop()
	if got := c.l.Held(); len(got) != 0 {
		t.Fatalf("c still holds %v after its Run ended", got)
	}
	waitFor(t, 20*testTTL, "a and b take c's shards", func() (bool, string) { return split([]*leaseNode{a, b}, 32, 32) })
	for _, n := range []*leaseNode{a, b} {
		if v := gathered(t, n.reg, "amigo_lease_takeovers_total"); v != 0 {
			t.Fatalf("%s counted %v takeovers of released shards", n.l.Node(), v)
		}
	}

	// A node that stops renewing loses its shards once they expire.
	bHeld := b.l.Held()
	b.crash()
	waitFor(t, 20*testTTL, "a takes over b's shards", func() (bool, string) { return split([]*leaseNode{a}, 64, 64) })
	if v := gathered(t, a.reg, "amigo_lease_takeovers_total"); v != float64(len(bHeld)) {
		t.Fatalf("a counted %v takeovers, b held %d shards", v, len(bHeld))
	}
	if n := gathered(t, a.reg, "amigo_lease_takeover_seconds"); n != float64(len(bHeld)) {
		t.Fatalf("takeover histogram counted %v, b held %d shards", n, len(bHeld))
	}
	if v := gathered(t, a.reg, "amigo_lease_shards_held"); v != 64 {
		t.Fatalf("a's held gauge is %v", v)
	}
	log := a.log.String()
	if !strings.Contains(log, `msg="lease taken over"`) || !strings.Contains(log, "from=node-b") {
		t.Fatalf("takeover not logged:\n%s", log)
	}

	// b restarted under its name takes back shards and balance returns.
	b2 := startLeases(t, buses[1], "node-b")
	waitFor(t, 20*testTTL, "restarted b takes its share back", func() (bool, string) { return split([]*leaseNode{a, b2}, 32, 32) })
}

func TestLeasesEmbedded(t *testing.T) {
	b := open(t, Options{Dir: t.TempDir(), Namespace: namespace()})
	defer b.Close(context.Background())
	leaseScenario(t, [3]*Bus{b, b, b})
}

func TestLeasesPausedNodeStopsHolding(t *testing.T) {
	b := open(t, Options{Dir: t.TempDir(), Namespace: namespace()})
	defer b.Close(context.Background())
	a := startLeases(t, b, "node-a")
	waitFor(t, 20*testTTL, "a holds every shard", func() (bool, string) { return split([]*leaseNode{a}, 64, 64) })
	// Renewals stop (a crash or a pause); Holds turns false by itself.
	a.crash()
	waitFor(t, 4*testTTL, "a stops holding", func() (bool, string) {
		return len(a.l.Held()) == 0 && !a.l.Holds(0), fmt.Sprint(a.l.Held())
	})
}

// After an outage of the bus that every node sees at once, all leases
// look lapsed: each node takes back its own, none grabs the others', and
// no takeover is counted.
func TestLeasesOutageSeenByAllTakesNothing(t *testing.T) {
	b := open(t, Options{Dir: t.TempDir(), Namespace: namespace()})
	defer b.Close(context.Background())
	a, c := startLeases(t, b, "node-a"), startLeases(t, b, "node-c")
	waitFor(t, 20*testTTL, "two nodes split 32/32", func() (bool, string) { return split([]*leaseNode{a, c}, 32, 32) })
	waitFor(t, 4*testTTL, "both nodes seen by each", func() (bool, string) {
		return a.l.Nodes() == 2 && c.l.Nodes() == 2, fmt.Sprintf("nodes seen: a %d, c %d", a.l.Nodes(), c.l.Nodes())
	})
	aHeld, cHeld := a.l.Held(), c.l.Held()
	a.l.blind.Store(true)
	c.l.blind.Store(true)
	waitFor(t, 4*testTTL, "both nodes' leases lapse", func() (bool, string) {
		return len(a.l.Held()) == 0 && len(c.l.Held()) == 0, fmt.Sprintf("a %v, c %v", a.l.Held(), c.l.Held())
	})
	// The outage goes on until the bucket has dropped the entries too.
	waitFor(t, 10*testTTL, "the bucket drops the lapsed leases", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, errA := a.l.kv.Get(ctx, shardKey(aHeld[0]))
		_, errC := a.l.kv.Get(ctx, shardKey(cHeld[0]))
		return errors.Is(errA, jetstream.ErrKeyNotFound) && errors.Is(errC, jetstream.ErrKeyNotFound), fmt.Sprintf("a's shard: %v, c's: %v", errA, errC)
	})
	a.l.blind.Store(false)
	c.l.blind.Store(false)
	waitFor(t, 20*testTTL, "each node holds its own again", func() (bool, string) {
		return slices.Equal(a.l.Held(), aHeld) && slices.Equal(c.l.Held(), cHeld), fmt.Sprintf("a %v, c %v", a.l.Held(), c.l.Held())
	})
	// Nothing moves in the rounds after: each node renews its shards a
	// second time past its first TTL of rounds seen whole, when it may take
	// what looks lapsed.
	back := time.Now()
	waitFor(t, 20*testTTL, "every shard renewed a TTL after the outage", func() (bool, string) {
		for _, n := range []*leaseNode{a, c} {
			n.l.mu.Lock()
			for s, h := range n.l.held {
				if h.at.Sub(back) < testTTL+n.l.period {
					n.l.mu.Unlock()
					return false, fmt.Sprintf("%s's shard %d renewed %s after", n.l.Node(), s, h.at.Sub(back))
				}
			}
			n.l.mu.Unlock()
		}
		return true, ""
	})
	if !slices.Equal(a.l.Held(), aHeld) || !slices.Equal(c.l.Held(), cHeld) {
		t.Fatalf("shards moved after the outage: a %v, c %v", a.l.Held(), c.l.Held())
	}
	for _, n := range []*leaseNode{a, c} {
		if v := gathered(t, n.reg, "amigo_lease_takeovers_total"); v != 0 {
			t.Fatalf("%s counted %v takeovers after an outage both nodes saw:\n%s", n.l.Node(), v, n.log.String())
		}
	}
}

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// natsCluster starts three nats-server processes in one JetStream
// cluster and returns their client URLs.
func natsCluster(t *testing.T) []string {
	t.Helper()
	const bin = "/usr/sbin/nats-server"
	if _, err := os.Stat(bin); err != nil {
		testenv.Service(t, "nats-server binary", err)
	}
	var client, route [3]int
	for i := range 3 {
		client[i], route[i] = freePort(t), freePort(t)
	}
	var routes []string
	for _, p := range route {
		routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(p))
	}
	var urls []string
	for i := range 3 {
		dir := t.TempDir()
		cmd := exec.Command(bin, "-js", "-sd", filepath.Join(dir, "js"), "-a", "127.0.0.1", "-p", strconv.Itoa(client[i]),
			"-n", fmt.Sprintf("n%d", i), "--cluster_name", "leasetest", "--cluster", routes[i], "--routes", strings.Join(routes, ","))
		cmd.Stdout, cmd.Stderr = nil, nil
		if err := cmd.Start(); err != nil {
			testenv.Service(t, "nats-server", err)
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
		urls = append(urls, "nats://127.0.0.1:"+strconv.Itoa(client[i]))
	}
	return urls
}

// openClustered opens a bus on one server of the cluster with replicated
// streams, retrying while the cluster elects its leaders.
func openClustered(t *testing.T, url, ns string) *Bus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		b, err := Open(ctx, Options{URL: url, Namespace: ns, Replicas: 3})
		cancel()
		if err == nil {
			t.Cleanup(func() { b.Close(context.Background()) })
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("bus on cluster server %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestLeasesNATSCluster(t *testing.T) {
	urls := natsCluster(t)
	ns := namespace()
	var buses [3]*Bus
	for i, u := range urls {
		buses[i] = openClustered(t, u, ns)
	}
	leaseScenario(t, buses)
}

// gathered is a metric's value in reg: a counter's or gauge's value, a
// histogram's sample count.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
