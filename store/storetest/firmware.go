package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/amigo-ami/amigo/store"
)

func testFirmwareImages(t *testing.T, o Opener) {
	s, where := o.Open(t)
	if _, err := s.FirmwareImage(ctx, "AMG-IDIS-2.5.0"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing image: %v", err)
	}
	im := store.FirmwareImage{ID: "AMG-IDIS-2.5.0", Vendor: "AMG", Model: "AMG-E1", Version: "AMG-IDIS-2.5.0", Size: 3,
		SHA256: "039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81", Image: []byte("AMFW\x01image"), AddedBy: "alice"}
	for range 2 { // the same image again is a no-op
		if err := s.PutFirmwareImage(ctx, im); err != nil {
			t.Fatal(err)
		}
	}
	other := im
	other.Image = []byte("AMFW\x01other")
	if err := s.PutFirmwareImage(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("other bytes under a stored id: %v, want ErrConflict", err)
	}
	for _, bad := range []store.FirmwareImage{{}, {ID: "x", Version: "x"}, {ID: "x", Image: []byte{1}}} {
		if err := s.PutFirmwareImage(ctx, bad); err == nil {
			t.Errorf("image %+v accepted", bad)
		}
	}
	s.Close()
	s2 := o.Reopen(t, where)
	got, err := s2.FirmwareImage(ctx, im.ID)
	if err != nil || !bytes.Equal(got.Image, im.Image) || got.Vendor != "AMG" || got.Size != 3 || got.SHA256 != im.SHA256 ||
		got.AddedBy != "alice" || got.AddedAt.IsZero() {
		t.Fatalf("image after reopen %+v %v", got, err)
	}
	list, err := s2.FirmwareImageList(ctx)
	if err != nil || len(list) != 1 || list[0].ID != im.ID || list[0].Image != nil {
		t.Fatalf("list %+v %v", list, err)
	}
}
