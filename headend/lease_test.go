package headend_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/prometheus/client_golang/prometheus"
)

// leaseTable is who holds each shard, shared by fake nodes.
type leaseTable struct {
	mu     sync.Mutex
	holder [headend.Shards]string
	nodes  map[string]*fakeLeases
}

// fakeLeases is one node's view of a leaseTable.
type fakeLeases struct {
	t       *leaseTable
	name    string
	changed chan struct{}
}

func newLeaseTable() *leaseTable { return &leaseTable{nodes: map[string]*fakeLeases{}} }

func (t *leaseTable) node(name string) *fakeLeases {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := &fakeLeases{t: t, name: name, changed: make(chan struct{}, 1)}
	t.nodes[name] = l
	return l
}

// give moves shards [from, to) to node and tells every node.
func (t *leaseTable) give(node string, from, to int) {
	t.mu.Lock()
	for s := from; s < to; s++ {
		t.holder[s] = node
	}
	nodes := t.nodes
	t.mu.Unlock()
	for _, l := range nodes {
		select {
		case l.changed <- struct{}{}:
		default:
		}
	}
}

// lapse leaves shards [from, to) to nobody and tells no node, as a
// lease renewed too late behind a frozen bus server looks.
func (t *leaseTable) lapse(from, to int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for s := from; s < to; s++ {
		t.holder[s] = ""
	}
}

func (l *fakeLeases) Node() string { return l.name }
func (l *fakeLeases) Holds(s int) bool {
	return l.Holder(s) == l.name
}
func (l *fakeLeases) Held() []int {
	var out []int
	for s := range headend.Shards {
		if l.Holds(s) {
			out = append(out, s)
		}
	}
	return out
}
func (l *fakeLeases) Holder(s int) string {
	l.t.mu.Lock()
	defer l.t.mu.Unlock()
	return l.t.holder[s]
}
func (l *fakeLeases) Nodes() int {
	l.t.mu.Lock()
	defer l.t.mu.Unlock()
	return len(l.t.nodes)
}
func (l *fakeLeases) Changed() <-chan struct{} { return l.changed }

// leasedNode is a head-end node on the rig's store, bus and driver.
func leasedNode(t *testing.T, r *rig, l headend.Leases, cfg headend.CollectionConfig) *headend.HeadEnd {
	t.Helper()
	cfg.RetryBase, cfg.RetryMax = time.Millisecond, 5*time.Millisecond
	h, err := headend.New(headend.Options{Store: r.st, Bus: r.bus, Secrets: plainSecrets{}, Drivers: []headend.Driver{r.drv},
		Now: func() time.Time { return r.now }, Collection: cfg, Metrics: prometheus.NewRegistry(), Safeguards: noSafeguards, Leases: l})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// runNodes runs the nodes' head-ends without a schedule until the test ends.
func runNodes(t *testing.T, hs ...*headend.HeadEnd) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, h := range hs {
		wg.Go(func() { h.Run(ctx, headend.ScheduleConfig{At: -1}) })
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// ended waits for h's run of kind to end.
func ended(t *testing.T, h *headend.HeadEnd, kind string) headend.Progress {
	t.Helper()
	var p headend.Progress
	waitUntil(t, kind+" run", func() bool {
		p = h.Progress()
		return p.Kind == kind && !p.Running && !p.EndedAt.IsZero()
	})
	return p
}

// checkDayOnce checks every meter's day is complete in the store and no
// reading reached the bus twice.
func checkDayOnce(t *testing.T, r *rig, day cim.Date, meters int) {
	t.Helper()
	ctx := context.Background()
	rs, err := r.st.CollectionResults(ctx, day, "", "", "", 10*meters)
	if err != nil {
		t.Fatal(err)
	}
	complete := 0
	for _, res := range rs {
		if res.Complete && res.Outcome == headend.OutcomeOK {
			complete++
		}
	}
	if complete != meters {
		t.Fatalf("%d of %d meters complete for %s", complete, meters, day)
	}
	seen := map[string]bool{}
	err = r.bus.Stored(ctx, bus.Readings, 0, func(_ uint64, m bus.Message, err error) bool {
		if err != nil {
			t.Fatal(err)
		}
		iv := m.(bus.Intervals)
		for _, rd := range iv.Readings {
			k := iv.MeterID + "@" + rd.End.String()
			if seen[k] {
				t.Fatalf("reading %s published twice", k)
			}
			seen[k] = true
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLeasedNodesSplitTheDay(t *testing.T) {
	const n = 300
	r := newRig(t, n, 4, headend.CollectionConfig{})
	tab := newLeaseTable()
	la, lb := tab.node("a"), tab.node("b")
	tab.give("a", 0, 32)
	tab.give("b", 32, 64)
	a := leasedNode(t, r, la, headend.CollectionConfig{})
	b := leasedNode(t, r, lb, headend.CollectionConfig{})
	day := cim.DateOf(r.now, time.UTC).AddDays(-1)
	// Asked for before Run, the runs start first thing.
	if !a.StartCollection(day) || !b.StartCollection(day) {
		t.Fatal("runs not started")
	}
	runNodes(t, a, b)
	pa, pb := ended(t, a, headend.RunDaily), ended(t, b, headend.RunDaily)
	if pa.Node != "a" || pb.Node != "b" || pa.Done+pb.Done != n || pa.Done != pa.Total || pb.Done != pb.Total {
		t.Fatalf("progress: a %+v, b %+v", pa, pb)
	}
	checkDayOnce(t, r, day, n)
	r.drv.mu.Lock()
	defer r.drv.mu.Unlock()
	for i := range n {
		if id := fmt.Sprintf("m%05d", i); r.drv.opens[id] != 1 {
			t.Errorf("meter %s (shard %d) read %d times", id, headend.ShardOf(id), r.drv.opens[id])
		}
	}
	// Each node read exactly its shards' meters.
	want := 0
	for i := range n {
		if headend.ShardOf(fmt.Sprintf("m%05d", i)) < 32 {
			want++
		}
	}
	if pa.Done != want {
		t.Fatalf("a read %d meters, holds shards of %d", pa.Done, want)
	}
}

func TestLeaseLostMidRunIsTakenOver(t *testing.T) {
	const n = 300
	r := newRig(t, n, 4, headend.CollectionConfig{})
	tab := newLeaseTable()
	la, lb := tab.node("a"), tab.node("b")
	tab.give("a", 0, 32)
	tab.give("b", 32, 64)
	// a spreads its run over a while, so that it loses shards halfway.
	a := leasedNode(t, r, la, headend.CollectionConfig{Window: 2 * time.Second})
	b := leasedNode(t, r, lb, headend.CollectionConfig{CatchUpWindow: 100 * time.Millisecond})
	day := cim.DateOf(r.now, time.UTC).AddDays(-1)
	if !b.StartCollection(day) {
		t.Fatal("b's run not started")
	}
	runNodes(t, b)
	ended(t, b, headend.RunDaily)
	if !a.StartCollection(day) {
		t.Fatal("a's run not started")
	}
	runNodes(t, a)
	waitUntil(t, "a halfway", func() bool { p := a.Progress(); return p.Kind == headend.RunDaily && p.Done >= 20 })
	tab.give("b", 0, 16)
	pa := ended(t, a, headend.RunDaily)
	pt := ended(t, b, headend.RunTakeover)
	if pt.Node != "b" || pt.Done == 0 || pt.Done != pt.Total || pt.Failed != 0 {
		t.Fatalf("takeover: %+v", pt)
	}
	if pa.Done != pa.Total {
		t.Fatalf("a's run: %+v", pa)
	}
	checkDayOnce(t, r, day, n)
	// Meters of shards that stayed put were read once. A moved shard's
	// meter a read just before the move may be read again by b, whose
	// takeover saw no result of it yet: from the cursors, so nothing is
	// published twice (checked above).
	r.drv.mu.Lock()
	defer r.drv.mu.Unlock()
	for i := range n {
		id := fmt.Sprintf("m%05d", i)
		moved := headend.ShardOf(id) < 16
		if k := r.drv.opens[id]; k < 1 || (!moved && k != 1) || k > 2 {
			t.Errorf("meter %s (shard %d) read %d times", id, headend.ShardOf(id), k)
		}
	}
}

// A node whose leases lapse mid-run, nobody taking them, leaves those
// shards' meters; when its renewal gets through again, long after the
// run ended, it reads them in a takeover run of its own.
func TestLeaseLapsedMidRunIsReadWhenRenewed(t *testing.T) {
	const n = 300
	r := newRig(t, n, 4, headend.CollectionConfig{})
	tab := newLeaseTable()
	la := tab.node("a")
	tab.give("a", 0, 64)
	a := leasedNode(t, r, la, headend.CollectionConfig{Window: 2 * time.Second, CatchUpWindow: 100 * time.Millisecond})
	day := cim.DateOf(r.now, time.UTC).AddDays(-1)
	if !a.StartCollection(day) {
		t.Fatal("run not started")
	}
	runNodes(t, a)
	waitUntil(t, "a halfway", func() bool { p := a.Progress(); return p.Kind == headend.RunDaily && p.Done >= 20 })
	tab.lapse(0, 16)
	pa := ended(t, a, headend.RunDaily)
	if pa.Total >= n || pa.Done != pa.Total {
		t.Fatalf("a's run read %d of %d meters, %d left to the lapsed shards expected", pa.Done, n, n-pa.Total)
	}
	// While the shards stay lapsed nobody reads them: a few rounds of the
	// head-end's schedule pass with no takeover.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if p := a.Progress(); p.Kind != headend.RunDaily {
			t.Fatalf("a %s run while its leases lapsed: %+v", p.Kind, p)
		}
	}
	tab.give("a", 0, 16)
	pt := ended(t, a, headend.RunTakeover)
	if pt.Done == 0 || pt.Done != pt.Total || pt.Failed != 0 || pa.Total+pt.Total < n {
		t.Fatalf("takeover after the renewal: %+v (the run read %d of %d)", pt, pa.Total, n)
	}
	checkDayOnce(t, r, day, n)
}

func TestLeasedCommandGoesToHolder(t *testing.T) {
	const n = 8
	r := newRig(t, n, 1, headend.CollectionConfig{})
	r.now = time.Now()
	tab := newLeaseTable()
	la, lb := tab.node("a"), tab.node("b")
	tab.give("a", 0, 64)
	a := leasedNode(t, r, la, headend.CollectionConfig{})
	b := leasedNode(t, r, lb, headend.CollectionConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	// Only b fetches commands at first: every meter's shard is a's, so b
	// hands each back until a carries it.
	wg.Go(func() { b.RunCommands(ctx) })
	defer func() { cancel(); wg.Wait() }()
	start := time.Now()
	c, _, err := b.Issue(ctx, cim.EndDeviceControl{MeterID: "m00003", Type: cim.ControlDisconnect, CorrelationID: "op-1",
		IssuedBy: "olga", ApprovedBy: "sam"})
	if err != nil {
		t.Fatal(err)
	}
	// b keeps handing it back: still queued after many offers.
	waitUntil(t, "b to see the command a few times", func() bool {
		got, err := r.st.Control(ctx, c.MRID)
		return err == nil && got.Status == cim.ControlQueued && time.Since(start) > time.Second
	})
	if got, _ := r.st.Control(ctx, c.MRID); got.Status != cim.ControlQueued {
		t.Fatalf("b carried a's command: %s", got.Status)
	}
	wg.Go(func() { a.RunCommands(ctx) })
	waitStatus(t, r.st, c.MRID, cim.ControlConfirmed)
}

func TestLeasedSegmentCapIsShared(t *testing.T) {
	const n = 40
	r := newRig(t, n, 1, headend.CollectionConfig{})
	tab := newLeaseTable()
	la := tab.node("a")
	tab.node("b") // alive, holding nothing: the segment's sessions are halved still
	tab.give("a", 0, 64)
	a := leasedNode(t, r, la, headend.CollectionConfig{PerSegment: 4})
	gate := make(chan struct{})
	r.drv.gate = gate
	day := cim.DateOf(r.now, time.UTC).AddDays(-1)
	if !a.StartCollection(day) {
		t.Fatal("run not started")
	}
	runNodes(t, a)
	waitUntil(t, "two sessions in the segment", func() bool {
		r.drv.mu.Lock()
		defer r.drv.mu.Unlock()
		return r.drv.inSeg["seg-0"] == 2
	})
	close(gate)
	p := ended(t, a, headend.RunDaily)
	if p.Done != n || p.OK != n {
		t.Fatalf("run: %+v", p)
	}
	r.drv.mu.Lock()
	defer r.drv.mu.Unlock()
	if got := r.drv.maxSeg["seg-0"]; got != 2 {
		t.Fatalf("sessions at once in the segment: %d, want 4 shared by 2 nodes = 2", got)
	}
}
