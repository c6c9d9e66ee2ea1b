package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/store"
)

func testConsents(t *testing.T, o Opener) {
	s, where := o.Open(t)
	hn := store.ConsentHomeNetwork
	t0 := time.Date(2026, 12, 7, 5, 0, 0, 123456000, time.UTC)
	if ok, err := s.HasConsent(ctx, "UP1", hn); err != nil || ok {
		t.Fatalf("before any grant: %v %v", ok, err)
	}
	got, err := s.GrantConsent(ctx, store.Consent{UsagePoint: "UP1", Purpose: hn, GrantedBy: "alice", GrantedAt: t0})
	if err != nil || got.UsagePoint != "UP1" || got.Purpose != hn || got.GrantedBy != "alice" || !got.GrantedAt.Equal(t0) {
		t.Fatalf("grant: %+v %v", got, err)
	}
	// Granting again keeps the first grant.
	again, err := s.GrantConsent(ctx, store.Consent{UsagePoint: "UP1", Purpose: hn, GrantedBy: "bob", GrantedAt: t0.Add(time.Hour)})
	if err != nil || again != got {
		t.Fatalf("grant again: %+v %v, want %+v", again, err, got)
	}
	if _, err := s.GrantConsent(ctx, store.Consent{UsagePoint: "UP2", Purpose: hn, GrantedBy: "carol", GrantedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GrantConsent(ctx, store.Consent{UsagePoint: "UP2", Purpose: "other", GrantedBy: "carol", GrantedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []store.Consent{{Purpose: hn, GrantedAt: t0}, {UsagePoint: "UP3", GrantedAt: t0}, {UsagePoint: "UP3", Purpose: hn}} {
		if _, err := s.GrantConsent(ctx, bad); err == nil {
			t.Errorf("bad consent %+v accepted", bad)
		}
	}
	if ok, err := s.HasConsent(ctx, "UP1", hn); err != nil || !ok {
		t.Fatalf("after grant: %v %v", ok, err)
	}
	if ok, err := s.HasConsent(ctx, "UP1", "other"); err != nil || ok {
		t.Fatalf("another purpose: %v %v", ok, err)
	}
	list, err := s.ListConsents(ctx, store.ConsentQuery{Purpose: hn})
	if err != nil || len(list) != 2 || list[0].UsagePoint != "UP1" || list[1].UsagePoint != "UP2" {
		t.Fatalf("list by purpose: %+v %v", list, err)
	}
	list, err = s.ListConsents(ctx, store.ConsentQuery{UsagePoint: "UP2"})
	if err != nil || len(list) != 2 || list[0].Purpose != hn || list[1].Purpose != "other" {
		t.Fatalf("list by usage point: %+v %v", list, err)
	}
	if all, err := s.ListConsents(ctx, store.ConsentQuery{}); err != nil || len(all) != 3 {
		t.Fatalf("list all: %+v %v", all, err)
	}

	if err := s.RevokeConsent(ctx, "UP1", hn); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeConsent(ctx, "UP1", hn); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke twice: %v, want not found", err)
	}
	if ok, err := s.HasConsent(ctx, "UP1", hn); err != nil || ok {
		t.Fatalf("after revoke: %v %v", ok, err)
	}
	s.Close()
	s2 := o.Reopen(t, where)
	list, err = s2.ListConsents(ctx, store.ConsentQuery{Purpose: hn})
	if err != nil || len(list) != 1 || list[0].UsagePoint != "UP2" || list[0].GrantedBy != "carol" || !list[0].GrantedAt.Equal(t0) {
		t.Fatalf("after reopen: %+v %v", list, err)
	}
}
