package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/store"
)

func testObjectModels(t *testing.T, o Opener) {
	s, where := o.Open(t)
	om, ok := s.(store.ObjectModels)
	if !ok {
		t.Fatalf("%s store keeps no object models", s.Kind())
	}
	if _, err := om.Template(ctx, "AMG/E1/1.0"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing template: %v", err)
	}
	if _, err := om.MeterTemplate(ctx, "m1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing meter template: %v", err)
	}
	for _, b := range []string{`{"objects":1}`, `{"objects":2,"quirks":{"lists":"broken"}}`} {
		if err := om.PutTemplate(ctx, "AMG/E1/1.0", []byte(b)); err != nil {
			t.Fatal(err)
		}
		got, err := om.Template(ctx, "AMG/E1/1.0")
		if err != nil || string(got) != b {
			t.Fatalf("template %s %v, want %s", got, err, b)
		}
	}
	for _, k := range []string{"AMG/E1/1.0", "AMG/E1/1.1"} {
		if err := om.SetMeterTemplate(ctx, "m1", k); err != nil {
			t.Fatal(err)
		}
		if got, err := om.MeterTemplate(ctx, "m1"); err != nil || got != k {
			t.Fatalf("meter template %q %v, want %q", got, err, k)
		}
	}
	// Bad input is refused and loses nothing stored.
	if err := om.PutTemplate(ctx, "", []byte("x")); err == nil {
		t.Error("template without a key accepted")
	}
	if err := om.PutTemplate(ctx, "AMG/E1/1.0", nil); err == nil {
		t.Error("empty template accepted")
	}
	if err := om.PutTemplate(ctx, "AMG/E1/1.0", []byte(strings.Repeat("x", 5<<20))); err == nil {
		t.Error("5 MiB template accepted")
	}
	if err := om.SetMeterTemplate(ctx, "m1", ""); err == nil {
		t.Error("empty template key accepted")
	}
	s.Close()
	s2 := o.Reopen(t, where)
	om = s2.(store.ObjectModels)
	if got, err := om.Template(ctx, "AMG/E1/1.0"); err != nil || !strings.Contains(string(got), "broken") {
		t.Fatalf("template after reopen %s %v", got, err)
	}
	if got, err := om.MeterTemplate(ctx, "m1"); err != nil || got != "AMG/E1/1.1" {
		t.Fatalf("meter template after reopen %q %v", got, err)
	}
}
