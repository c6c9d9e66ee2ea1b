package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/campaign"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

func meters(n int) []string {
	ms := make([]string, n)
	for i := range ms {
		ms[i] = fmt.Sprintf("m%04d", i)
	}
	return ms
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func status(t *testing.T, e *campaign.Engine, id string, want store.CampaignStatus) func() bool {
	return func() bool {
		c, err := e.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return c.Status == want
	}
}

func run(t *testing.T, e *campaign.Engine) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func TestThresholdStopsAndReleaseCompletes(t *testing.T) {
	for _, eng := range []struct {
		name string
		open func(testing.TB) (store.Store, string)
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(eng.name, func(t *testing.T) {
			st, _ := eng.open(t)
			ctx := context.Background()
			// 2 % of the meters fail, spread through the fleet.
			bad := func(m string) bool { var n int; fmt.Sscanf(m, "m%d", &n); return n%50 == 7 }
			var inflight, most atomic.Int32
			step := func(ctx context.Context, c campaign.Campaign, m string) (string, error) {
				if n := inflight.Add(1); n > most.Load() {
					most.Store(n)
				}
				defer inflight.Add(-1)
				if bad(m) {
					return "", errors.New("image verification failed")
				}
				return "updated", nil
			}
			e := campaign.New(st, campaign.Options{Steps: map[string]campaign.Step{"firmware": step}, Node: "n1", Poll: 20 * time.Millisecond})
			c, err := e.Create(ctx, campaign.Spec{Name: "fw 2.1", Kind: "firmware", CreatedBy: "ann", Meters: meters(250), Pilot: 20,
				MaxFailureRate: 0.01, MinFinished: 60, Concurrency: 8})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Approve(ctx, c.ID, "ann"); !errors.Is(err, campaign.ErrSelfApproval) {
				t.Fatalf("self-approval: %v", err)
			}
			run(t, e)
			if got, _ := e.Get(ctx, c.ID); got.Counts.Running+got.Counts.Done+got.Counts.Failed != 0 {
				t.Fatalf("an unapproved campaign ran: %+v", got.Counts)
			}
			if err := e.Approve(ctx, c.ID, "bob"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the threshold to stop the campaign", time.Minute, status(t, e, c.ID, store.CampaignStopped))
			got, _ := e.Get(ctx, c.ID)
			if !strings.Contains(got.Reason, "threshold") || got.Counts.Pending == 0 {
				t.Fatalf("stopped: %q, counts %+v", got.Reason, got.Counts)
			}
			if err := e.Release(ctx, c.ID, "carol", 0.05); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the campaign to complete", time.Minute, status(t, e, c.ID, store.CampaignCompleted))
			r, err := e.Report(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if r.Campaign.Counts.Done != 245 || r.Campaign.Counts.Failed != 5 || len(r.Failures) != 1 ||
				r.Failures[0].Count != 5 || r.Failures[0].Error != "image verification failed" {
				t.Fatalf("report %+v", r)
			}
			if most.Load() > 8 {
				t.Fatalf("%d items in flight, concurrency 8", most.Load())
			}
		})
	}
}

func TestPilotMustPassBeforeTheRest(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	var mu sync.Mutex
	ran := map[string]bool{}
	step := func(ctx context.Context, c campaign.Campaign, m string) (string, error) {
		mu.Lock()
		ran[m] = true
		mu.Unlock()
		if m < "m0003" {
			return "", errors.New("no answer")
		}
		return "ok", nil
	}
	e := campaign.New(st, campaign.Options{Steps: map[string]campaign.Step{"key-rotation": step}, Poll: 20 * time.Millisecond})
	c, err := e.Create(ctx, campaign.Spec{Kind: "key-rotation", CreatedBy: "ann", Meters: meters(100), Pilot: 10, MaxFailureRate: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	run(t, e)
	if err := e.Approve(ctx, c.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pilot to stop the campaign", time.Minute, status(t, e, c.ID, store.CampaignStopped))
	got, _ := e.Get(ctx, c.ID)
	mu.Lock()
	defer mu.Unlock()
	if !strings.HasPrefix(got.Reason, "pilot failed: 3 of 10") || len(ran) != 10 || got.Counts.Pending != 90 {
		t.Fatalf("reason %q, %d meters ran, counts %+v", got.Reason, len(ran), got.Counts)
	}
}

func TestANodeThatStopsIsTakenOver(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	var calls sync.Map
	block := make(chan struct{})
	slow := func(ctx context.Context, c campaign.Campaign, m string) (string, error) {
		n, _ := calls.LoadOrStore(m, new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		if m >= "m0030" {
			select {
			case <-block:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return "ok", nil
	}
	a := campaign.New(st, campaign.Options{Steps: map[string]campaign.Step{"key-rotation": slow}, Node: "node-a", Poll: 20 * time.Millisecond})
	c, err := a.Create(ctx, campaign.Spec{Kind: "key-rotation", CreatedBy: "ann", Meters: meters(60), Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Approve(ctx, c.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	stopA := run(t, a)
	waitFor(t, "node a to hold items it cannot finish", time.Minute, func() bool {
		got, _ := a.Get(ctx, c.ID)
		return got.Counts.Done == 30 && got.Counts.Running == 4
	})
	stopA() // as if killed: its items stay running in the store
	if got, _ := a.Get(ctx, c.ID); got.Counts.Running != 4 {
		t.Fatalf("after the stop: %+v", got.Counts)
	}
	close(block)
	// The same node started again takes its items back at once.
	b := campaign.New(st, campaign.Options{Steps: map[string]campaign.Step{"key-rotation": slow}, Node: "node-a", Poll: 20 * time.Millisecond})
	run(t, b)
	waitFor(t, "the campaign to complete", time.Minute, status(t, b, c.ID, store.CampaignCompleted))
	got, _ := b.Get(ctx, c.ID)
	if got.Counts.Done != 60 {
		t.Fatalf("counts %+v", got.Counts)
	}
	for i, m := range meters(30) {
		if n, _ := calls.Load(m); n.(*atomic.Int32).Load() != 1 {
			t.Fatalf("meter %d finished before the stop ran %d times", i, n.(*atomic.Int32).Load())
		}
	}
}

func TestBadSpecs(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	e := campaign.New(st, campaign.Options{Steps: map[string]campaign.Step{"k": func(context.Context, campaign.Campaign, string) (string, error) { return "", nil }}})
	for name, s := range map[string]campaign.Spec{
		"unknown kind": {Kind: "x", Meters: meters(1)},
		"no meters":    {Kind: "k"},
		"twice":        {Kind: "k", Meters: []string{"a", "a"}},
		"big pilot":    {Kind: "k", Meters: meters(2), Pilot: 3},
		"rate":         {Kind: "k", Meters: meters(2), MaxFailureRate: 1.5},
	} {
		if _, err := e.Create(context.Background(), s); !errors.Is(err, campaign.ErrBadSpec) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
