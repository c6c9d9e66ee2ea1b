package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// testApprovals: a command keeps who issued it; a person's decision
// records who decided, on the command and on its step; the head-end's
// own transitions after it keep that name; commands are counted per
// issuer, type and parameter; a queue lists oldest first.
func testApprovals(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	now := time.Date(2026, 3, 29, 12, 0, 0, 0, time.UTC)
	mk := func(id, by string, typ cim.EndDeviceControlType, at time.Time, params map[string]string) cim.EndDeviceControl {
		return cim.EndDeviceControl{MRID: id, CorrelationID: id, MeterID: "m1", Type: typ, Status: cim.ControlAwaitingApproval,
			Reason: "awaiting approval", UpdatedAt: at, IssuedBy: by, Parameters: params}
	}
	for _, c := range []cim.EndDeviceControl{
		mk("a1", "olga", cim.ControlDisconnect, now, nil),
		mk("a2", "olga", cim.ControlDisconnect, now.Add(time.Minute), nil),
		mk("a3", "piet", cim.ControlSetCalendar, now.Add(2*time.Minute), map[string]string{"calendar": "FLAT3"}),
		mk("a4", "olga", cim.ControlSetCalendar, now.Add(3*time.Minute), map[string]string{"calendar": "FLAT3"}),
		mk("a5", "olga", cim.ControlSetCalendar, now.Add(4*time.Minute), map[string]string{"calendar": "TOU2"}),
		mk("a6", "olga", cim.ControlSetCalendar, now.Add(-25*time.Hour), map[string]string{"calendar": "FLAT3"}),
	} {
		if _, _, err := s.IssueControl(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Control(ctx, "a1")
	if err != nil || got.IssuedBy != "olga" || got.ApprovedBy != "" || got.Status != cim.ControlAwaitingApproval {
		t.Fatalf("issued: %+v %v", got, err)
	}
	if err := s.DecideControl(ctx, "a1", cim.ControlAwaitingApproval, cim.ControlQueued, "", "approved", now); err == nil {
		t.Fatal("a decision without a user was stored")
	}
	if err := s.DecideControl(ctx, "a1", cim.ControlAwaitingApproval, cim.ControlQueued, "sam", "approved by sam", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// Decided once: a second decision is a conflict.
	if err := s.DecideControl(ctx, "a1", cim.ControlAwaitingApproval, cim.ControlRejected, "trudy", "no", now); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second decision: %v", err)
	}
	if err := s.DecideControl(ctx, "nope", cim.ControlAwaitingApproval, cim.ControlQueued, "sam", "", now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown command: %v", err)
	}
	// The head-end's own transition keeps the decider.
	if err := s.TransitionControl(ctx, "a1", cim.ControlQueued, cim.ControlSent, "sent to the meter", now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Control(ctx, "a1")
	if got.ApprovedBy != "sam" || got.IssuedBy != "olga" || got.Status != cim.ControlSent {
		t.Fatalf("after sending: %+v", got)
	}
	steps, err := s.ControlSteps(ctx, "a1")
	if err != nil || len(steps) != 3 || steps[0].Actor != "olga" || steps[0].Status != cim.ControlAwaitingApproval ||
		steps[1].Actor != "sam" || steps[1].Reason != "approved by sam" || steps[2].Actor != "" {
		t.Fatalf("steps %+v %v", steps, err)
	}
	if err := s.DecideControl(ctx, "a2", cim.ControlAwaitingApproval, cim.ControlRejected, "sam", "rejected by sam: wrong meter", now); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Control(ctx, "a2"); got.Status != cim.ControlRejected || got.ApprovedBy != "sam" {
		t.Fatalf("rejected: %+v", got)
	}

	// The queue, oldest first; the default listing, newest first.
	q, err := s.Controls(ctx, store.ControlQuery{Status: cim.ControlAwaitingApproval, OldestFirst: true, Limit: 2})
	if err != nil || len(q) != 2 || q[0].MRID != "a6" || q[1].MRID != "a3" {
		t.Fatalf("oldest first: %+v %v", q, err)
	}
	if l, _ := s.Controls(ctx, store.ControlQuery{Status: cim.ControlAwaitingApproval, Limit: 1}); len(l) != 1 || l[0].MRID != "a5" {
		t.Fatalf("newest first: %+v", l)
	}

	since := now.Add(-24 * time.Hour)
	for _, c := range []struct {
		q    store.IssuedQuery
		want int
	}{
		{store.IssuedQuery{IssuedBy: "olga", Type: cim.ControlSetCalendar, Since: since, Param: "calendar", Value: "FLAT3"}, 1},
		{store.IssuedQuery{IssuedBy: "olga", Type: cim.ControlSetCalendar, Since: since.Add(-2 * time.Hour), Param: "calendar", Value: "FLAT3"}, 2},
		{store.IssuedQuery{IssuedBy: "olga", Type: cim.ControlSetCalendar, Since: since}, 2},
		{store.IssuedQuery{IssuedBy: "olga", Since: since}, 4},
		{store.IssuedQuery{IssuedBy: "piet", Type: cim.ControlSetCalendar, Since: since, Param: "calendar", Value: "FLAT3"}, 1},
		{store.IssuedQuery{IssuedBy: "olga", Type: cim.ControlDisconnect, Since: since, Param: "calendar", Value: "FLAT3"}, 0},
		{store.IssuedQuery{IssuedBy: "nobody", Since: since}, 0},
	} {
		if n, err := s.CountIssued(ctx, c.q); err != nil || n != c.want {
			t.Errorf("%+v: %d %v, want %d", c.q, n, err, c.want)
		}
	}
}
