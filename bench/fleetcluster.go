package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cluster"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/vault"
)

// clusterNodes is how many amigo nodes the cluster suite runs, each a
// head-end and an MDM: on a small machine more processes only share the
// same cores.
const clusterNodes = 2

// runFleetCluster is the fleet-day on a cluster of processes on this
// machine: the simulated fleet, a three-node NATS JetStream cluster with
// streams replicated three times, and amigo nodes running the head-end
// and the MDM against PostgreSQL, sharing the fleet by leases. The fleet's
// clocks run in real time, so the day collected is yesterday, read up to
// now; readings per meter say how much that was.
func runFleetCluster(ctx context.Context, o Options) ([]Result, error) {
	if o.Postgres == "" {
		return nil, errors.New("the fleet-cluster suite needs PostgreSQL: --postgres URL or AMIGO_BENCH_POSTGRES")
	}
	n := o.Meters
	if n <= 0 {
		n = 100_000
	}
	if o.Tiny {
		n = 50
	}
	dir := filepath.Join(o.Dir, "fleet-cluster")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	t0 := time.Now()
	simArgs := []string{"--meters", fmt.Sprint(n), "--manifest", filepath.Join(dir, "fleet.csv"), "--history", "2", "--tz", "UTC",
		"--offline", "0", "--intermittent", "0", "--garbage", "0", "--outages", "0", "--gas", "0", "--water", "0", "--log-format", "json"}
	if o.SimCPUProfile != "" {
		simArgs = append(simArgs, "--cpuprofile", o.SimCPUProfile)
	}
	sim, err := cluster.StartSim(ctx, o.Exe, simArgs...)
	if err != nil {
		return nil, err
	}
	defer sim.Close()
	simUp := time.Since(t0)
	nats, err := cluster.StartNATS(ctx, filepath.Join(dir, "nats"), 3)
	if err != nil {
		return nil, err
	}
	defer nats.Close()
	storeURL, drop, err := pgSchemaURL(ctx, o.Postgres, "cluster")
	if err != nil {
		return nil, err
	}
	defer drop()

	// The manifest goes in from here, as an operator's import would, with
	// the key every node opens it with.
	var key [32]byte
	rand.Read(key[:])
	master := hex.EncodeToString(key[:])
	v, _, err := vault.Load(func(k string) string {
		if k == "AMIGO_MASTER_KEY" {
			return master
		}
		return ""
	}, "", false)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, storeURL)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	t1 := time.Now()
	if _, err := headend.Import(ctx, st, vault.NewKeyring(v), []headend.Driver{dlmsdriver.New(dlmsdriver.Config{})}, sim.Rows); err != nil {
		return nil, err
	}
	imported := time.Since(t1)
	sim.Rows = nil // the harness's copy; the nodes have the store's
	var nodes []*cluster.Node
	defer func() {
		for _, nd := range nodes {
			nd.Close()
		}
	}()
	for i := range clusterNodes {
		nd, err := cluster.StartNode(ctx, o.Exe, cluster.NodeConfig{Name: fmt.Sprintf("bench-%d", i+1), Roles: []string{"headend", "mdm"},
			Dir: filepath.Join(dir, fmt.Sprintf("node-%d", i+1)), Store: storeURL, Bus: nats.URLs(), MasterKey: master,
			Concurrency: 256 / clusterNodes, PerSegment: 256, Attempts: 3, JobTimeout: time.Minute, DailyAt: -1, BackfillDays: 1})
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, nd)
	}
	b, err := bus.Open(ctx, bus.Options{URL: nats.URLs(), Replicas: 3})
	if err != nil {
		return nil, err
	}
	defer b.Close(context.Background())
	board, err := b.RunBoard(ctx)
	if err != nil {
		return nil, err
	}
	// Every node holds its share of the leases before the run is asked
	// for: a node still taking shards would leave them to a takeover.
	if err := waitLeases(ctx, nodes); err != nil {
		return nil, err
	}

	day := cim.DateOf(time.Now(), time.UTC).AddDays(-1)
	cpu0 := clusterCPU(nodes, nats, sim)
	t2 := time.Now()
	if err := board.Request(ctx, bus.RunRequest{ID: fmt.Sprintf("bench-%d", t2.UnixNano()), Day: day, By: "bench", At: t2}); err != nil {
		return nil, err
	}
	p, err := waitClusterRun(ctx, o, board, day, n, t2)
	if err != nil {
		return nil, err
	}
	collected := time.Since(t2)
	if err := waitIdle(ctx, b); err != nil {
		return nil, err
	}
	wall := time.Since(t2)
	cpu1 := clusterCPU(nodes, nats, sim)
	var amigoRSS, natsRSS float64
	for _, nd := range nodes {
		amigoRSS = max(amigoRSS, peakRSS(nd.Pid()))
	}
	for i := range nats.Len() {
		natsRSS = max(natsRSS, peakRSS(nats.Node(i).Pid()))
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(max(p.Total, 1)) }
	note := fmt.Sprintf("%d meters on %d amigo nodes (head-end + MDM) and 3 NATS nodes (R3) over PostgreSQL; simulator start %s, manifest import %s, collection %s, ingest caught up %s later; %.0f readings per meter",
		n, clusterNodes, simUp.Round(time.Millisecond), imported.Round(time.Millisecond), collected.Round(time.Millisecond), (wall - collected).Round(time.Millisecond),
		float64(p.Readings)/float64(max(p.Total, 1)))
	return []Result{
		{Metric: "wall time, collect + validate + store", Value: wall.Seconds(), Unit: "s", Note: note},
		{Metric: "meters per second", Value: float64(p.Total) / wall.Seconds(), Unit: "meters/s"},
		{Metric: "readings per second", Value: float64(p.Readings) / wall.Seconds(), Unit: "readings/s"},
		{Metric: "read success", Value: 100 * float64(p.OK) / float64(max(p.Total, 1)), Unit: "%"},
		{Metric: "amigo nodes' CPU per meter", Value: per(cpu1.amigo - cpu0.amigo), Unit: "µs",
			Baseline: "simulator CPU per meter", BaselineValue: per(cpu1.sim - cpu0.sim)},
		{Metric: "NATS cluster CPU per meter", Value: per(cpu1.nats - cpu0.nats), Unit: "µs"},
		{Metric: "peak memory, largest amigo node", Value: amigoRSS, Unit: "MiB"},
		{Metric: "peak memory, largest NATS node", Value: natsRSS, Unit: "MiB"},
		{Metric: "peak memory, simulator process", Value: peakRSS(sim.Pid()), Unit: "MiB"},
	}, nil
}

// cpuSplit is the CPU time of the cluster's processes by part.
type cpuSplit struct{ amigo, nats, sim time.Duration }

func clusterCPU(nodes []*cluster.Node, nats *cluster.NATS, sim *cluster.Sim) cpuSplit {
	var c cpuSplit
	for _, nd := range nodes {
		c.amigo += procCPU(nd.Pid())
	}
	for i := range nats.Len() {
		c.nats += procCPU(nats.Node(i).Pid())
	}
	c.sim = procCPU(sim.Pid())
	return c
}

// waitLeases waits until every shard is held by one of the nodes, each
// holding some.
func waitLeases(ctx context.Context, nodes []*cluster.Node) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		total, each := 0.0, true
		for _, nd := range nodes {
			m, err := nd.Metrics(ctx)
			if err != nil {
				return err
			}
			held := cluster.Sum(m, "amigo_lease_shards_held")
			total += held
			each = each && held > 0
		}
		if total == headend.Shards && each {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the nodes hold %v of %d shards after 2 minutes", total, headend.Shards)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitClusterRun waits until the head-end nodes' shares of the run of
// day, started after since, add up to the fleet and have all ended; it
// logs the sum every 30 seconds.
func waitClusterRun(ctx context.Context, o Options, board *bus.RunBoard, day cim.Date, n int, since time.Time) (headend.Progress, error) {
	var sum headend.Progress
	lastLog := time.Now()
	for {
		all, err := board.Progress(ctx)
		if err != nil {
			return sum, err
		}
		sum = headend.Progress{Day: day}
		running := false
		for _, raw := range all {
			var p headend.Progress
			if json.Unmarshal(raw, &p) != nil || p.Day != day || p.StartedAt.Before(since.Add(-time.Minute)) {
				continue
			}
			running = running || p.Running
			sum.Total += p.Total
			sum.Done += p.Done
			sum.OK += p.OK
			sum.Failed += p.Failed
			sum.Readings += p.Readings
		}
		if !running && sum.Done >= n {
			return sum, nil
		}
		if time.Since(lastLog) >= 30*time.Second {
			o.Log.Info("cluster collection", "done", sum.Done, "of", n, "ok", sum.OK, "failed", sum.Failed, "readings", sum.Readings,
				"elapsed", time.Since(since).Round(time.Second))
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return sum, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
