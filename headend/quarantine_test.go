package headend_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/anomaly"
	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
	"github.com/prometheus/client_golang/prometheus"
)

// count is how many records of one action the log has (auditLog is in
// approve_test.go).
func (l *auditLog) count(a audit.Action) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.rs {
		if r.Action == a {
			n++
		}
	}
	return n
}

// screenedNode is one more head-end node on the rig's store and bus that
// screens commands by the policy.
func screenedNode(t testing.TB, st store.Store, b *bus.Bus, d headend.Driver, secrets headend.SecretOpener, now func() time.Time, p anomaly.Policy, a audit.Appender) *headend.HeadEnd {
	t.Helper()
	h, err := headend.New(headend.Options{Store: st, Bus: b, Safeguards: noSafeguards, Secrets: secrets, Drivers: []headend.Driver{d}, Now: now,
		Metrics: prometheus.NewRegistry(), Anomaly: p, Audit: a})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// statuses counts the stored commands by status.
func statuses(t testing.TB, st store.Store) map[cim.ControlStatus]int {
	t.Helper()
	out := map[cim.ControlStatus]int{}
	for _, s := range []cim.ControlStatus{cim.ControlQuarantined, cim.ControlQueued, cim.ControlSent, cim.ControlConfirmed, cim.ControlFailed,
		cim.ControlDiscarded, cim.ControlAwaitingApproval} {
		cs, err := st.Controls(context.Background(), store.ControlQuery{Status: s, Limit: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) > 0 {
			out[s] = len(cs)
		}
	}
	return out
}

// TestQuarantineCountsAcrossNodes: one user's burst issued through two
// head-end nodes at once, from many goroutines, lets exactly the limit
// through; the counts are the store's, not a node's.
func TestQuarantineCountsAcrossNodes(t *testing.T) {
	r := newRig(t, 40, 1, headend.CollectionConfig{})
	nodes := []*headend.HeadEnd{
		screenedNode(t, r.st, r.bus, r.drv, plainSecrets{}, func() time.Time { return r.now }, anomaly.Default(), nil),
		screenedNode(t, r.st, r.bus, r.drv, plainSecrets{}, func() time.Time { return r.now }, anomaly.Default(), nil),
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				k := g*5 + i
				if _, _, err := nodes[k%2].Issue(ctx, cim.EndDeviceControl{MeterID: fmt.Sprintf("m%05d", k), Type: cim.ControlDisconnect, IssuedBy: "mallory"}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := statuses(t, r.st)
	if got[cim.ControlQueued]+got[cim.ControlAwaitingApproval] != 10 || got[cim.ControlQuarantined] != 30 {
		t.Fatalf("statuses %v: want 10 past the screen (the user's hourly floor) and 30 quarantined", got)
	}
	// A retried request (its correlation id again) is not counted twice.
	for range 3 {
		c, created, err := nodes[1].Issue(ctx, cim.EndDeviceControl{MeterID: "m00000", Type: cim.ControlReconnect, IssuedBy: "ops", CorrelationID: "retry-1"})
		if err != nil || c.Status != cim.ControlQueued {
			t.Fatalf("retried reconnect: %v %s %v", created, c.Status, err)
		}
	}
	for i := range 19 {
		c, _, err := nodes[0].Issue(ctx, cim.EndDeviceControl{MeterID: fmt.Sprintf("m%05d", i+1), Type: cim.ControlReconnect, IssuedBy: "ops"})
		if err != nil || c.Status != cim.ControlQueued {
			t.Fatalf("reconnect %d of the user's 20 an hour: %s (%s) %v", i+2, c.Status, c.Reason, err)
		}
	}
	// Pings are not limited at all.
	for i := range 40 {
		c, _, err := nodes[0].Issue(ctx, cim.EndDeviceControl{MeterID: fmt.Sprintf("m%05d", i), Type: cim.ControlPing, IssuedBy: "mallory"})
		if err != nil || c.Status != cim.ControlQueued {
			t.Fatalf("ping %d: %s %v", i, c.Status, err)
		}
	}
}

// TestQuarantineLimitIsLearnt: a user who issued 30 disconnects in an
// hour last week may issue 45 (×1.5) in one now; a burst that was held
// back teaches nothing; the next hour starts afresh.
func TestQuarantineLimitIsLearnt(t *testing.T) {
	r := newRig(t, 100, 4, headend.CollectionConfig{})
	ctx := context.Background()
	week := r.now.AddDate(0, 0, -7)
	for i := range 30 {
		id := fmt.Sprintf("old-%d", i)
		if _, _, err := r.st.IssueControl(ctx, cim.EndDeviceControl{MRID: id, CorrelationID: id, MeterID: fmt.Sprintf("m%05d", i),
			Type: cim.ControlDisconnect, Status: cim.ControlConfirmed, UpdatedAt: week.Add(time.Duration(i) * time.Minute), IssuedBy: "alice"}); err != nil {
			t.Fatal(err)
		}
		id = fmt.Sprintf("held-%d", i)
		if _, _, err := r.st.IssueControl(ctx, cim.EndDeviceControl{MRID: id, CorrelationID: id, MeterID: fmt.Sprintf("m%05d", i),
			Type: cim.ControlDisconnect, Status: cim.ControlDiscarded, UpdatedAt: week.Add(time.Duration(i) * time.Minute), IssuedBy: "bob"}); err != nil {
			t.Fatal(err)
		}
	}
	h := screenedNode(t, r.st, r.bus, r.drv, plainSecrets{}, func() time.Time { return r.now }, anomaly.Default(), nil)
	issue := func(user string, n, from int) (queued int, reasons []string) {
		for i := range n {
			c, _, err := h.Issue(ctx, cim.EndDeviceControl{MeterID: fmt.Sprintf("m%05d", from+i), Type: cim.ControlDisconnect, IssuedBy: user})
			if err != nil {
				t.Fatal(err)
			}
			if c.Status != cim.ControlQuarantined {
				queued++
			} else {
				reasons = append(reasons, c.Reason)
			}
		}
		return queued, reasons
	}
	if q, why := issue("alice", 50, 0); q != 45 || !strings.Contains(why[0], `by user "alice", over the limit of 45`) {
		t.Errorf("alice: %d of 50 queued (%v), want 45", q, why)
	}
	if q, _ := issue("bob", 20, 50); q != 10 {
		t.Errorf("bob, whose history was all held back: %d of 20 queued, want his floor of 10", q)
	}
	r.now = r.now.Add(time.Hour)
	if q, _ := issue("bob", 5, 70); q != 5 {
		t.Errorf("bob an hour later: %d of 5 queued", q)
	}
}

// TestReleaseAndDiscard: a security officer releases one user's held
// burst by filter (it is carried out) and discards another's by id; each
// decision is on the bus, in the audit trail and in the command's steps.
// Nobody releases their own commands, and a decision needs a filter.
func TestReleaseAndDiscard(t *testing.T) {
	r := newRig(t, 60, 2, headend.CollectionConfig{})
	r.now = time.Now()
	log := &auditLog{}
	h := screenedNode(t, r.st, r.bus, r.drv, plainSecrets{}, func() time.Time { return r.now }, anomaly.Default(), log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.RunCommands(ctx) }()
	defer func() { cancel(); <-done }()
	var held []cim.EndDeviceControl
	for i := range 30 {
		user := []string{"mallory", "eve"}[i%2]
		c, _, err := h.Issue(ctx, cim.EndDeviceControl{MeterID: fmt.Sprintf("m%05d", i), Type: cim.ControlDisconnect, IssuedBy: user})
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == cim.ControlQuarantined {
			held = append(held, c)
		}
	}
	if len(held) != 10 || log.count(audit.CommandQuarantine) != 10 {
		t.Fatalf("%d held, %d quarantine records; want 10", len(held), log.count(audit.CommandQuarantine))
	}
	if _, err := h.Release(ctx, headend.QuarantineFilter{}, "sec"); !errors.Is(err, headend.ErrNoFilter) {
		t.Errorf("release of everything without a filter: %v", err)
	}
	if d, err := h.Release(ctx, headend.QuarantineFilter{IssuedBy: "mallory"}, "mallory"); err != nil || d.Released != 0 || d.Skipped != 5 {
		t.Errorf("mallory released her own: %+v %v", d, err)
	}
	gs, cs, err := h.Quarantine(ctx, headend.QuarantineFilter{}, "", 3)
	if err != nil || len(gs) != 2 || gs[0].Count != 5 || len(cs) != 3 {
		t.Fatalf("quarantine: %+v, %d commands, %v", gs, len(cs), err)
	}
	d, err := h.Release(ctx, headend.QuarantineFilter{IssuedBy: "mallory", Type: cim.ControlDisconnect}, "sec")
	if err != nil || d.Released+d.AwaitingApproval != 5 {
		t.Fatalf("release: %+v %v", d, err)
	}
	var eveIDs []string
	for _, c := range held {
		if c.IssuedBy == "mallory" {
			got, _ := r.st.Control(ctx, c.MRID)
			if got.Status != cim.ControlAwaitingApproval {
				// Not held for a second person by the approval policy: it
				// goes to its meter.
				got = waitStatus(t, r.st, c.MRID, cim.ControlConfirmed)
			}
			if got.ApprovedBy != "sec" {
				t.Errorf("released command decided by %q", got.ApprovedBy)
			}
		} else {
			eveIDs = append(eveIDs, c.MRID)
		}
	}
	d, err = h.Discard(ctx, headend.QuarantineFilter{IDs: eveIDs[:3]}, "sec", "not planned")
	if err != nil || d.Discarded != 3 {
		t.Fatalf("discard: %+v %v", d, err)
	}
	c, _ := r.st.Control(ctx, eveIDs[0])
	steps, _ := r.st.ControlSteps(ctx, eveIDs[0])
	if c.Status != cim.ControlDiscarded || !strings.Contains(c.Reason, "not planned") || len(steps) != 2 || steps[1].Actor != "sec" {
		t.Errorf("discarded: %+v, steps %+v", c, steps)
	}
	if log.count(audit.CommandRelease) != 5 || log.count(audit.CommandDiscard) != 3 {
		t.Errorf("audit: %d releases, %d discards", log.count(audit.CommandRelease), log.count(audit.CommandDiscard))
	}
	kinds := map[cim.EndDeviceEventType]int{}
	for _, e := range busEvents(t, r.bus) {
		kinds[e.Type]++
	}
	if kinds[anomaly.EventQuarantined] != 2 || kinds[anomaly.EventReleased] != 1 || kinds[anomaly.EventDiscarded] != 1 {
		t.Errorf("events on the bus: %v; want a quarantine alarm per issuer, one release, one discard", kinds)
	}
	r.drv.mu.Lock()
	defer r.drv.mu.Unlock()
	for _, id := range eveIDs {
		c, _ := r.st.Control(ctx, id)
		if r.drv.opens[c.MeterID] != 0 {
			t.Errorf("eve's held command reached meter %s", c.MeterID)
		}
	}
}
