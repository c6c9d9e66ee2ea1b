package outage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/topology"
)

// testGrid builds subs substations of feeders feeders of trs transformers
// of svcs services. Services are UP%010d, numbered in tree order.
func testGrid(t testing.TB, subs, feeders, trs, svcs int) *topology.Grid {
	t.Helper()
	var nodes []topology.Node
	i := 0
	for s := range subs {
		sid := fmt.Sprintf("SS-%d", s)
		nodes = append(nodes, topology.Node{ID: sid, Level: topology.Substation, Region: fmt.Sprintf("region-%d", s)})
		for f := range feeders {
			fid := fmt.Sprintf("FD-%d-%d", s, f)
			nodes = append(nodes, topology.Node{ID: fid, Level: topology.Feeder, Parent: sid})
			for r := range trs {
				tid := fmt.Sprintf("TR-%d-%d-%03d", s, f, r)
				nodes = append(nodes, topology.Node{ID: tid, Level: topology.Transformer, Parent: fid})
				for range svcs {
					nodes = append(nodes, topology.Node{ID: fmt.Sprintf("UP%010d", i), Level: topology.Service, Parent: tid})
					i++
				}
			}
		}
	}
	g, err := topology.New(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// world is the supply as it really is: the services without power.
type world struct {
	mu   sync.Mutex
	dark map[string]bool
}

func (w *world) Ping(_ context.Context, t Target) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.dark[t.UsagePoint], nil
}

type rig struct {
	t   *testing.T
	g   *topology.Grid
	w   *world
	e   *Engine
	now time.Time
	evs []Event
}

func newRig(t *testing.T) *rig {
	g := testGrid(t, 1, 2, 4, 10)
	w := &world{dark: map[string]bool{}}
	return &rig{t: t, g: g, w: w, e: NewEngine(Config{}, g, w), now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

// cut takes power from the services under dev; gasp says which of them
// get their last gasp out.
func (r *rig) cut(dev string, gasp func(i int) bool) {
	for i, s := range r.g.Services(dev) {
		r.w.dark[s] = true
		if gasp(i) {
			r.observe(Signal{UsagePoint: s, Kind: LastGasp, At: r.now})
		}
	}
}

func (r *rig) restore(dev string) {
	for _, s := range r.g.Services(dev) {
		if r.w.dark[s] {
			delete(r.w.dark, s)
			r.observe(Signal{UsagePoint: s, Kind: PowerRestored, At: r.now})
		}
	}
}

func (r *rig) observe(s Signal) {
	r.t.Helper()
	if err := r.e.Observe(s); err != nil {
		r.t.Fatal(err)
	}
}

// run advances the clock by d in 10 s steps, keeping the changes.
func (r *rig) run(d time.Duration) {
	for end := r.now.Add(d); r.now.Before(end); {
		r.now = r.now.Add(10 * time.Second)
		r.evs = append(r.evs, r.e.Advance(context.Background(), r.now)...)
	}
}

func (r *rig) last(dev string) Event {
	r.t.Helper()
	for i := len(r.evs) - 1; i >= 0; i-- {
		if r.evs[i].Device == dev {
			return r.evs[i]
		}
	}
	r.t.Fatalf("no event for %s in %+v", dev, r.evs)
	return Event{}
}

func everyFifthLost(i int) bool { return i%5 != 0 }

func TestTransformerOutageFoundConfirmedRestoredVerified(t *testing.T) {
	r := newRig(t)
	start := r.now
	r.cut("TR-0-0-001", everyFifthLost)
	r.run(time.Minute)
	ev := r.last("TR-0-0-001")
	if ev.State != Confirmed || ev.Level != topology.Transformer || !ev.Start.Equal(start) || ev.Customers != 10 || ev.Feeder != "FD-0-0" {
		t.Fatalf("after the window: %+v", ev)
	}
	if ev.LastGasps != 8 || ev.Confidence < 0.8 {
		t.Errorf("evidence: %d gasps, confidence %.2f", ev.LastGasps, ev.Confidence)
	}
	if len(r.e.Open()) != 1 {
		t.Fatalf("open: %+v", r.e.Open())
	}
	r.run(time.Hour)
	back := r.now
	r.restore("TR-0-0-001")
	r.run(time.Minute)
	ev = r.last("TR-0-0-001")
	if ev.State != Verified || !ev.End.Equal(back) || ev.VerifiedAt.Sub(back) > time.Minute {
		t.Fatalf("after restoration: %+v", ev)
	}
	if len(r.e.Open()) != 0 {
		t.Fatalf("still open: %+v", r.e.Open())
	}
}

func TestFalseGaspDismissedByAnsweringPing(t *testing.T) {
	r := newRig(t)
	r.observe(Signal{UsagePoint: "UP0000000013", Meter: "M13", Kind: LastGasp, At: r.now})
	r.run(time.Minute)
	ev := r.last("UP0000000013")
	if ev.State != Dismissed || len(r.e.Open()) != 0 {
		t.Fatalf("false gasp: %+v, open %+v", ev, r.e.Open())
	}
}

func TestServiceOutageWithLostGaspFoundByMissedRead(t *testing.T) {
	r := newRig(t)
	down := r.now
	r.w.dark["UP0000000042"] = true
	r.run(time.Hour)
	r.observe(Signal{UsagePoint: "UP0000000042", Kind: ReadMissed, At: r.now})
	r.run(time.Minute)
	ev := r.last("UP0000000042")
	if ev.State != Confirmed || ev.Level != topology.Service || ev.Customers != 1 {
		t.Fatalf("missed read: %+v", ev)
	}
	r.run(time.Hour)
	back := r.now
	r.restore("UP0000000042")
	r.run(time.Minute)
	if ev = r.last("UP0000000042"); ev.State != Verified || !ev.End.Equal(back) {
		t.Fatalf("restored: %+v", ev)
	}
	// The event log, read later, tells when power really went.
	r.run(time.Hour)
	r.observe(Signal{UsagePoint: "UP0000000042", Kind: PowerRestored, At: back, DownSince: down})
	r.run(time.Minute)
	if ev = r.last("UP0000000042"); !ev.Start.Equal(down) || ev.State != Verified {
		t.Fatalf("amended by the log: %+v", ev)
	}
	if len(r.e.Open()) != 0 {
		t.Fatalf("open: %+v", r.e.Open())
	}
}

func TestFeederRestoredTransformerStaysOutNested(t *testing.T) {
	r := newRig(t)
	start := r.now
	r.cut("FD-0-1", everyFifthLost)
	r.run(time.Minute)
	fd := r.last("FD-0-1")
	if fd.State != Confirmed || fd.Level != topology.Feeder || fd.Customers != 40 {
		t.Fatalf("feeder: %+v", fd)
	}
	for _, ev := range r.evs {
		if ev.Level == topology.Transformer {
			t.Fatalf("a transformer event under the feeder's: %+v", ev)
		}
	}
	r.run(30 * time.Minute)
	back := r.now
	// The feeder's breaker closes; one transformer's fuse stays blown.
	for _, tr := range r.g.Children("FD-0-1") {
		if tr != "TR-0-1-002" {
			r.restore(tr)
		}
	}
	r.run(time.Minute)
	fd = r.last("FD-0-1")
	if fd.State != Verified || !fd.End.Equal(back) {
		t.Fatalf("feeder restored: %+v", fd)
	}
	tr := r.last("TR-0-1-002")
	if tr.State != Confirmed || tr.Parent != fd.ID || !tr.Start.Equal(start) {
		t.Fatalf("nested transformer: %+v (feeder %s)", tr, fd.ID)
	}
	r.run(time.Hour)
	r.restore("TR-0-1-002")
	r.run(time.Minute)
	if tr = r.last("TR-0-1-002"); tr.State != Verified || tr.Duration(r.now) < 90*time.Minute {
		t.Fatalf("nested restored: %+v", tr)
	}
}

func TestMomentaryInsideTheWindow(t *testing.T) {
	r := newRig(t)
	r.cut("FD-0-0", everyFifthLost)
	r.now = r.now.Add(10 * time.Second)
	r.restore("FD-0-0")
	r.run(2 * time.Minute)
	ev := r.last("FD-0-0")
	if ev.State != Momentary || ev.Duration(r.now) != 10*time.Second {
		t.Fatalf("momentary: %+v", ev)
	}
	if len(r.e.Open()) != 0 {
		t.Fatalf("open: %+v", r.e.Open())
	}
}

func TestReloadedOutageFollowedToRestoration(t *testing.T) {
	r := newRig(t)
	r.cut("TR-0-1-003", everyFifthLost)
	r.run(time.Minute)
	saved := r.e.Open()
	e2 := NewEngine(Config{}, r.g, r.w)
	e2.Load(saved)
	r.e = e2
	r.run(10 * time.Minute)
	r.restore("TR-0-1-003")
	r.run(time.Minute)
	if ev := r.last("TR-0-1-003"); ev.State != Verified || ev.ID != saved[0].ID {
		t.Fatalf("after reload: %+v", ev)
	}
}

func TestObserveRefusesBadSignals(t *testing.T) {
	r := newRig(t)
	for _, s := range []Signal{
		{Kind: LastGasp, At: r.now},
		{UsagePoint: "UP0000000001", Kind: 9, At: r.now},
		{UsagePoint: "UP0000000001", Kind: LastGasp},
		{UsagePoint: "TR-0-0-001", Kind: LastGasp, At: r.now},
	} {
		if err := r.e.Observe(s); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	if err := r.e.Observe(Signal{UsagePoint: "UP9", Meter: "M9", Kind: LastGasp, At: r.now}); !errors.Is(err, ErrUnknownService) {
		t.Errorf("unknown service: %v", err)
	}
}

// TestLatePushAmendsTheEnd: a re-ping finds the power back before any
// restoration push arrives, so the outage first ends at the ping; the
// pushes that come after tell when power really came back, and the end
// moves there.
func TestLatePushAmendsTheEnd(t *testing.T) {
	r := newRig(t)
	r.cut("TR-0-0-002", everyFifthLost)
	r.run(time.Minute)
	r.run(time.Hour)
	back := r.now
	for _, s := range r.g.Services("TR-0-0-002") {
		delete(r.w.dark, s) // power back, every push still on its way
	}
	r.run(20 * time.Minute) // the re-ping finds it
	ev := r.last("TR-0-0-002")
	if ev.End.IsZero() || !ev.End.After(back) {
		t.Fatalf("after the re-ping: %+v", ev)
	}
	for _, s := range r.g.Services("TR-0-0-002") {
		r.observe(Signal{UsagePoint: s, Kind: PowerRestored, At: back.Add(5 * time.Second)})
		break
	}
	r.run(10 * time.Second)
	if ev = r.last("TR-0-0-002"); !ev.End.Equal(back.Add(5*time.Second)) || ev.State != Verified {
		t.Fatalf("after the late push: %+v, power back at %s", ev, back)
	}
}
