package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

func testQuarantine(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	dis := cim.ControlDisconnect
	counters := func(user string) []store.CommandCounter {
		return []store.CommandCounter{{Type: dis, Scope: "user", Key: user}, {Type: dis, Scope: "segment", Key: "seg-1"}, {Type: dis, Scope: "fleet"}}
	}

	// Counted from many writers at once (as from several head-end nodes),
	// every command sees its own place in the fleet's count: none is
	// lost, none counted twice.
	const writers, each = 8, 25
	var mu sync.Mutex
	var seen []int
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for range each {
				got, err := s.CountCommand(ctx, counters(fmt.Sprintf("u%d", w)), 1000, []int64{990, 700})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen = append(seen, got[2][0])
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(seen)
	for i, n := range seen {
		if n != i+1 {
			t.Fatalf("fleet counts %v…: want 1 to %d, each once", seen[:min(len(seen), 20)], writers*each)
		}
	}
	// Older buckets count in the longer window only.
	if _, err := s.CountCommand(ctx, counters("u0"), 800, []int64{790, 700}); err != nil {
		t.Fatal(err)
	}
	got, err := s.CountCommand(ctx, counters("u0"), 1001, []int64{990, 700})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]int{{each + 1, each + 2}, {writers*each + 1, writers*each + 2}, {writers*each + 1, writers*each + 2}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("counts %v, want %v", got, want)
	}
	if err := s.PruneCommandCounts(ctx, 900); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.CountCommand(ctx, counters("u0"), 1001, []int64{990, 700}); got[0][1] != each+2 {
		t.Errorf("after pruning, u0 counts %v over the day, want %d", got[0], each+2)
	}

	// Peaks come from the commands kept, not from the quarantined ones.
	if err := s.PutMeters(ctx, cim.Meter{MRID: "qm1", Segment: "seg-a"}, cim.Meter{MRID: "qm2", Segment: "seg-b"}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 29, 10, 0, 0, 0, time.UTC)
	issue := func(id, meter, user string, when time.Time, st cim.ControlStatus) {
		t.Helper()
		if _, _, err := s.IssueControl(ctx, cim.EndDeviceControl{MRID: id, CorrelationID: id, MeterID: meter, Type: dis,
			Status: st, UpdatedAt: when, IssuedBy: user}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		issue(fmt.Sprintf("p%d", i), "qm1", "alice", at.Add(time.Duration(i)*time.Minute), cim.ControlQueued)
	}
	issue("p3", "qm2", "alice", at.Add(2*time.Hour), cim.ControlQueued)
	for i := range 5 {
		issue(fmt.Sprintf("q%d", i), "qm2", "mallory", at.Add(time.Duration(i)*time.Second), cim.ControlQuarantined)
	}
	peaks, err := s.CommandPeaks(ctx, at.Add(-time.Hour), at.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"hour/user/alice": 3, "day/user/alice": 4, "hour/segment/seg-a": 3, "hour/segment/seg-b": 1,
		"day/segment/seg-b": 1, "hour/fleet/": 3, "day/fleet/": 4}
	have := map[string]int{}
	for _, p := range peaks {
		if p.Type != dis {
			t.Errorf("peak of type %s", p.Type)
		}
		have[p.Window+"/"+p.Scope+"/"+p.Key] = p.Count
	}
	for k, n := range want {
		if have[k] != n {
			t.Errorf("peak %s %d, want %d (all: %v)", k, have[k], n, have)
		}
	}
	if _, ok := have["hour/user/mallory"]; ok {
		t.Error("quarantined commands taught a peak")
	}

	if c, err := s.ControlByCorrelation(ctx, "q1"); err != nil || c.MRID != "q1" {
		t.Errorf("by correlation id: %+v %v", c, err)
	}
	if _, err := s.ControlByCorrelation(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown correlation id: %v", err)
	}
	// The quarantine: held commands by meter, groups, pages, decisions.
	held, err := s.HeldControl(ctx, "qm2", dis, at)
	if err != nil || held.IssuedBy != "mallory" || held.Status != cim.ControlQuarantined {
		t.Fatalf("held: %+v %v", held, err)
	}
	if _, err := s.HeldControl(ctx, "qm1", dis, at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("meter without a held command: %v", err)
	}
	gs, err := s.QuarantineGroups(ctx, store.QuarantineQuery{})
	if err != nil || len(gs) != 1 || gs[0].IssuedBy != "mallory" || gs[0].Count != 5 || !gs[0].First.Equal(at) {
		t.Fatalf("groups %+v %v", gs, err)
	}
	var all []string
	for after := ""; ; {
		page, err := s.QuarantinedControls(ctx, store.QuarantineQuery{IssuedBy: "mallory", After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			all = append(all, c.MRID)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].MRID
	}
	if !slices.Equal(all, []string{"q0", "q1", "q2", "q3", "q4"}) {
		t.Fatalf("pages %v", all)
	}
	if cs, _ := s.QuarantinedControls(ctx, store.QuarantineQuery{From: at.Add(3 * time.Second)}); len(cs) != 2 {
		t.Errorf("from a time: %d commands, want 2", len(cs))
	}
	moved, err := s.DecideControls(ctx, []string{"q0", "q1", "p0", "nobody"}, cim.ControlQuarantined, cim.ControlQueued, "sec", "released", at)
	if err != nil || !slices.Equal(moved, []string{"q0", "q1"}) {
		t.Fatalf("decided %v %v", moved, err)
	}
	c, _ := s.Control(ctx, "q0")
	steps, _ := s.ControlSteps(ctx, "q0")
	if c.Status != cim.ControlQueued || c.ApprovedBy != "sec" || len(steps) != 2 || steps[1].Actor != "sec" || steps[1].Status != cim.ControlQueued {
		t.Errorf("released command %+v, steps %+v", c, steps)
	}
	if _, err := s.DecideControls(ctx, []string{"q2"}, cim.ControlQuarantined, cim.ControlDiscarded, "", "", at); err == nil {
		t.Error("a decision without its user")
	}
	if _, err := s.DecideControls(ctx, []string{"q2", "q3", "q4"}, cim.ControlQuarantined, cim.ControlDiscarded, "sec", "discarded", at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A command discarded lately still holds its meter's next one.
	if held, err := s.HeldControl(ctx, "qm2", dis, at); err != nil || held.Status != cim.ControlDiscarded {
		t.Errorf("recently discarded: %+v %v", held, err)
	}
	if _, err := s.HeldControl(ctx, "qm2", dis, at.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("long discarded still held: %v", err)
	}
}
