package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/store"
)

func testDemandResponse(t *testing.T, o Opener) {
	s, where := o.Open(t)
	t0 := time.Date(2026, 12, 7, 16, 0, 0, 0, time.UTC)
	p := store.DRProgram{ID: "peak", Name: "Winter peak", Kind: "load-limit", Notice: 2 * time.Hour, Randomize: 300 * time.Second,
		Baseline: "10of10", Adjust: true, Incentive: 50, Currency: "EUR", FloorW: 1500, Approval: true, CreatedAt: t0}
	if err := s.PutDRProgram(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.PutDRProgram(ctx, store.DRProgram{ID: "cheap", Name: "Price", Kind: "price", Baseline: "like-day", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.DRProgram(ctx, "peak"); err != nil || got != p {
		t.Fatalf("program: %+v %v, want %+v", got, err, p)
	}
	if _, err := s.DRProgram(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing program: %v", err)
	}
	p.Name = "Winter peak 2"
	if err := s.PutDRProgram(ctx, p); err != nil {
		t.Fatal(err)
	}
	if ps, err := s.DRPrograms(ctx); err != nil || len(ps) != 2 || ps[0].ID != "cheap" || ps[1].Name != "Winter peak 2" {
		t.Fatalf("programs: %+v %v", ps, err)
	}

	for _, e := range []store.DREnrolment{
		{ProgramID: "peak", UsagePointID: "UP2", MeterID: "M2", From: t0.Add(-48 * time.Hour)},
		{ProgramID: "peak", UsagePointID: "UP1", MeterID: "M1", From: t0.Add(-48 * time.Hour), Until: t0.Add(720 * time.Hour)},
		{ProgramID: "cheap", UsagePointID: "UP1", MeterID: "M1", From: t0},
	} {
		if err := s.PutDREnrolment(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutDREnrolment(ctx, store.DREnrolment{ProgramID: "peak", UsagePointID: "UP3"}); err == nil {
		t.Fatal("an enrolment without a meter was taken")
	}
	// Enrolling again replaces: UP2 leaves at t0.
	if err := s.PutDREnrolment(ctx, store.DREnrolment{ProgramID: "peak", UsagePointID: "UP2", MeterID: "M2", From: t0.Add(-48 * time.Hour), Until: t0}); err != nil {
		t.Fatal(err)
	}
	es, err := s.DREnrolments(ctx, "peak")
	if err != nil || len(es) != 2 || es[0].UsagePointID != "UP1" || !es[0].Until.Equal(t0.Add(720*time.Hour)) || !es[1].Until.Equal(t0) {
		t.Fatalf("enrolments: %+v %v", es, err)
	}

	ev := store.DREvent{ID: "E1", ProgramID: "peak", Start: t0.Add(3 * time.Hour), End: t0.Add(5 * time.Hour), ThresholdW: 2000,
		Status: "awaiting-approval", Source: "amigo", CreatedBy: "olga", CreatedAt: t0, UpdatedAt: t0}
	parts := []store.DRParticipation{
		{EventID: "E1", UsagePointID: "UP1", MeterID: "M1", StartOffset: 1500 * time.Millisecond, EndOffset: 299 * time.Second},
		{EventID: "E1", UsagePointID: "UP2", MeterID: "M2"},
	}
	got, created, err := s.CreateDREvent(ctx, ev, parts)
	if err != nil || !created || got != ev {
		t.Fatalf("create: %+v %v %v", got, created, err)
	}
	// Created again under its id: the first one, and no new participants.
	again := ev
	again.ThresholdW = 1
	if got, created, err := s.CreateDREvent(ctx, again, parts[:1]); err != nil || created || got != ev {
		t.Fatalf("create again: %+v %v %v", got, created, err)
	}
	if _, _, err := s.CreateDREvent(ctx, store.DREvent{ID: "E9"}, nil); err == nil {
		t.Fatal("an event without program and status was taken")
	}
	ev2 := store.DREvent{ID: "E2", ProgramID: "cheap", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour), Price: 900000, Currency: "EUR",
		Status: "scheduled", Source: "vtn-1", CreatedAt: t0, UpdatedAt: t0}
	if _, _, err := s.CreateDREvent(ctx, ev2, []store.DRParticipation{{EventID: "E2", UsagePointID: "UP1", MeterID: "M1"}}); err != nil {
		t.Fatal(err)
	}
	if l, err := s.DREvents(ctx, store.DREventQuery{}); err != nil || len(l) != 2 || l[0].ID != "E2" {
		t.Fatalf("events: %+v %v", l, err)
	}
	if l, err := s.DREvents(ctx, store.DREventQuery{ProgramID: "peak"}); err != nil || len(l) != 1 || l[0].ID != "E1" {
		t.Fatalf("events of peak: %+v %v", l, err)
	}
	if l, err := s.DREvents(ctx, store.DREventQuery{Status: "scheduled", From: t0, Until: t0.Add(2 * time.Hour)}); err != nil || len(l) != 1 || l[0].ID != "E2" {
		t.Fatalf("scheduled events: %+v %v", l, err)
	}
	if l, err := s.DREvents(ctx, store.DREventQuery{From: t0.Add(time.Hour + time.Microsecond)}); err != nil || len(l) != 1 || l[0].ID != "E1" {
		t.Fatalf("events from: %+v %v", l, err)
	}

	// Approval moves it by compare-and-swap; a second move from the old
	// status conflicts.
	moved, err := s.MoveDREvent(ctx, "E1", "awaiting-approval", "scheduled", "vera", "approved", t0.Add(time.Minute))
	if err != nil || moved.Status != "scheduled" || moved.ApprovedBy != "vera" || moved.Reason != "approved" || !moved.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("approve: %+v %v", moved, err)
	}
	if _, err := s.MoveDREvent(ctx, "E1", "awaiting-approval", "scheduled", "walt", "", t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("approve twice: %v", err)
	}
	if moved, err := s.MoveDREvent(ctx, "E1", "scheduled", "notified", "", "", t0.Add(2*time.Minute)); err != nil || moved.ApprovedBy != "vera" {
		t.Fatalf("notify keeps the approver: %+v %v", moved, err)
	}
	if _, err := s.MoveDREvent(ctx, "E404", "scheduled", "notified", "", "", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("move of a missing event: %v", err)
	}

	ps, err := s.DRParticipations(ctx, "E1")
	if err != nil || len(ps) != 2 || ps[0] != parts[0] || ps[1] != parts[1] {
		t.Fatalf("participations: %+v %v", ps, err)
	}
	set, err := s.StampDRParticipations(ctx, "E1", store.DRNotified, t0.Add(time.Minute), []string{"UP1", "UP2", "UP9"})
	if err != nil || !slices.Equal(set, []string{"UP1", "UP2"}) {
		t.Fatalf("notify: %v %v", set, err)
	}
	// Each time is set once.
	if set, err := s.StampDRParticipations(ctx, "E1", store.DRNotified, t0.Add(time.Hour), []string{"UP1"}); err != nil || len(set) != 0 {
		t.Fatalf("notify again: %v %v", set, err)
	}
	if set, err := s.StampDRParticipations(ctx, "E1", store.DROptedOut, t0.Add(2*time.Minute), []string{"UP2"}); err != nil || len(set) != 1 {
		t.Fatalf("opt out: %v %v", set, err)
	}
	if _, err := s.StampDRParticipations(ctx, "E1", "bogus", t0, []string{"UP1"}); err == nil {
		t.Fatal("an unknown stamp was taken")
	}
	for _, st := range []store.DRStamp{store.DRDispatched, store.DRCountermanded} {
		if _, err := s.StampDRParticipations(ctx, "E1", st, t0.Add(3*time.Minute), []string{"UP1"}); err != nil {
			t.Fatal(err)
		}
	}

	// Reopened, everything is there.
	s2 := o.Reopen(t, where)
	ps, err = s2.DRParticipations(ctx, "E1")
	if err != nil || len(ps) != 2 {
		t.Fatalf("participations after reopen: %+v %v", ps, err)
	}
	if p := ps[0]; !p.NotifiedAt.Equal(t0.Add(time.Minute)) || !p.OptedOutAt.IsZero() || !p.DispatchedAt.Equal(t0.Add(3*time.Minute)) || !p.CountermandedAt.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("UP1: %+v", p)
	}
	if p := ps[1]; !p.OptedOutAt.Equal(t0.Add(2*time.Minute)) || !p.DispatchedAt.IsZero() {
		t.Fatalf("UP2: %+v", p)
	}
	of, err := s2.DRParticipationsOf(ctx, "UP1", 10)
	if err != nil || len(of) != 2 || of[0].EventID != "E1" || of[1].EventID != "E2" {
		t.Fatalf("participations of UP1: %+v %v", of, err)
	}
}
