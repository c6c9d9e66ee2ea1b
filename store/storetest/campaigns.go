package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/store"
)

// testCampaigns checks a campaign's lifecycle in the store: its items in
// order with the pilot first, claims that never hand one item to two
// nodes, outcomes, counts, status changes guarded by their from-status,
// the threshold's rebase, and requeueing a stopped node's items.
func testCampaigns(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	at := time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)
	meters := make([]string, 50)
	for i := range meters {
		meters[i] = fmt.Sprintf("cm%03d", i)
	}
	c := store.Campaign{ID: "c1", Name: "rotate", Kind: "key-rotation", CreatedBy: "ann", Status: store.CampaignAwaitingApproval,
		Pilot: 5, MaxFailureRate: 0.02, MinFinished: 10, Concurrency: 4, Params: map[string]string{"x": "y"}, CreatedAt: at}
	if err := s.CreateCampaign(ctx, c, meters); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateCampaign(ctx, c, meters); err == nil {
		t.Fatal("a campaign id stored twice")
	}
	got, err := s.Campaign(ctx, "c1")
	if err != nil || got.Counts.Pending != 50 || got.Counts.PilotLeft != 5 || got.Params["x"] != "y" || got.MaxFailureRate != 0.02 {
		t.Fatalf("campaign %+v, %v", got, err)
	}
	if _, err := s.Campaign(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown campaign: %v", err)
	}
	err = s.ChangeCampaign(ctx, "c1", store.CampaignChange{From: store.CampaignRunning, To: store.CampaignPaused, At: at})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a change from the wrong status: %v", err)
	}
	if err := s.ChangeCampaign(ctx, "c1", store.CampaignChange{From: store.CampaignAwaitingApproval, To: store.CampaignRunning, ApprovedBy: "bob", At: at}); err != nil {
		t.Fatal(err)
	}
	pilot, err := s.ClaimItems(ctx, "c1", "n1", true, 10, at)
	if err != nil || len(pilot) != 5 {
		t.Fatalf("pilot claim: %d items, %v", len(pilot), err)
	}
	for i, it := range pilot {
		if it.MeterID != meters[i] || !it.Pilot || it.Status != store.ItemRunning || it.Node != "n1" || it.Attempts != 1 {
			t.Fatalf("pilot item %d: %+v", i, it)
		}
	}
	var outs []store.ItemOutcome
	for i, it := range pilot {
		o := store.ItemOutcome{MeterID: it.MeterID, Status: store.ItemDone, Result: "ok"}
		if i == 0 {
			o.Status, o.Error = store.ItemFailed, "boom"
		}
		outs = append(outs, o)
	}
	if n, err := s.FinishItems(ctx, "c1", outs, at); err != nil || n != 5 {
		t.Fatalf("finishing the pilot: %d, %v", n, err)
	}
	if n, err := s.FinishItems(ctx, "c1", outs[1:2], at); err != nil || n != 0 {
		t.Fatalf("finishing an item twice: %d, %v", n, err)
	}
	// Nodes racing for the rest each get distinct items.
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for n := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := fmt.Sprintf("node%d", n)
			for {
				items, err := s.ClaimItems(ctx, "c1", node, false, 3, at)
				if err != nil {
					t.Error(err)
					return
				}
				if len(items) == 0 {
					return
				}
				mu.Lock()
				for _, it := range items {
					if prev, ok := seen[it.MeterID]; ok {
						t.Errorf("meter %s claimed by %s and %s", it.MeterID, prev, node)
					}
					seen[it.MeterID] = node
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 45 {
		t.Fatalf("claimed %d of the 45 items left", len(seen))
	}
	n, err := s.RequeueItems(ctx, "c1", "node0", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = s.Campaign(ctx, "c1")
	if got.Counts.Pending != n || got.Counts.Running != 45-n || got.Counts.Done != 4 || got.Counts.Failed != 1 ||
		got.Counts.PilotDone != 4 || got.Counts.PilotFailed != 1 || got.Counts.PilotLeft != 0 {
		t.Fatalf("after requeueing %d: counts %+v", n, got.Counts)
	}
	if k, err := s.RequeueItems(ctx, "c1", "", at.Add(time.Second)); err != nil || k != 45-n {
		t.Fatalf("requeueing stale items: %d, %v", k, err)
	}
	if err := s.ChangeCampaign(ctx, "c1", store.CampaignChange{From: store.CampaignRunning, To: store.CampaignStopped, Reason: "threshold", At: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.ChangeCampaign(ctx, "c1", store.CampaignChange{From: store.CampaignStopped, To: store.CampaignRunning, Rebase: true, MaxFailureRate: 0.1, At: at}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Campaign(ctx, "c1")
	if got.BaseDone != 4 || got.BaseFailed != 1 || got.MaxFailureRate != 0.1 || got.ApprovedBy != "bob" || got.Status != store.CampaignRunning {
		t.Fatalf("after release: %+v", got)
	}
	failed, err := s.CampaignItems(ctx, "c1", store.ItemFailed, -1, 10)
	if err != nil || len(failed) != 1 || failed[0].MeterID != meters[0] || failed[0].Error != "boom" {
		t.Fatalf("failed items %+v, %v", failed, err)
	}
	list, err := s.CampaignList(ctx, store.CampaignRunning, 10)
	if err != nil || len(list) != 1 || list[0].ID != "c1" {
		t.Fatalf("running campaigns %+v, %v", list, err)
	}
}
