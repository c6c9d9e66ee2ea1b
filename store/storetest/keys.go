package storetest

import (
	"errors"
	"testing"

	"github.com/amigo-ami/amigo/store"
)

func testKeyStaging(t *testing.T, o Opener) {
	s, where := o.Open(t)
	if err := s.StageMeterSecret(ctx, "m1", []byte{9}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("staging beside no current secret: %v", err)
	}
	if err := s.PutMeterSecret(ctx, "m1", []byte{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PendingMeterSecret(ctx, "m1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("nothing pending: %v", err)
	}
	if err := s.PromoteMeterSecret(ctx, "m1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("promoting nothing: %v", err)
	}
	if err := s.StageMeterSecret(ctx, "m1", nil); err == nil {
		t.Fatal("empty pending secret accepted")
	}
	for _, b := range [][]byte{{2}, {3, 3}} {
		if err := s.StageMeterSecret(ctx, "m1", b); err != nil {
			t.Fatal(err)
		}
	}
	if o.Reopen != nil {
		s.Close()
		s = o.Reopen(t, where)
	}
	// Staged, the current secret is still the one sessions open.
	if got, err := s.MeterSecret(ctx, "m1"); err != nil || string(got) != "\x01" {
		t.Fatalf("current %x %v, want 01", got, err)
	}
	if got, err := s.PendingMeterSecret(ctx, "m1"); err != nil || string(got) != "\x03\x03" {
		t.Fatalf("pending %x %v, want 0303", got, err)
	}
	if err := s.PromoteMeterSecret(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.MeterSecret(ctx, "m1"); err != nil || string(got) != "\x03\x03" {
		t.Fatalf("current after promotion %x %v, want 0303", got, err)
	}
	if _, err := s.PendingMeterSecret(ctx, "m1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pending after promotion: %v", err)
	}
	// A promotion repeated after a crash finds nothing and changes nothing.
	if err := s.PromoteMeterSecret(ctx, "m1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second promotion: %v", err)
	}
	// Rolled back: the pending secret goes, the current one stays.
	if err := s.StageMeterSecret(ctx, "m1", []byte{4}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.DropPendingMeterSecret(ctx, "m1"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PendingMeterSecret(ctx, "m1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pending after drop: %v", err)
	}
	if got, err := s.MeterSecret(ctx, "m1"); err != nil || string(got) != "\x03\x03" {
		t.Fatalf("current after drop %x %v, want 0303", got, err)
	}
}
