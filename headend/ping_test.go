package headend_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/store"
)

// TestPingAnswersWithoutACommandRecord: a powered meter answers, a dark one
// (its connection refused, or hanging past the caller's deadline) does
// not, an unknown meter is an error naming it, and no ping leaves a
// command behind.
func TestPingAnswersWithoutACommandRecord(t *testing.T) {
	r := newRig(t, 3, 1, headend.CollectionConfig{Attempts: 3})
	r.drv.mu.Lock()
	r.drv.behaviour["m00001"] = "refused"
	r.drv.behaviour["m00002"] = "hang"
	r.drv.mu.Unlock()
	ctx := context.Background()
	if err := r.h.Ping(ctx, "m00000"); err != nil {
		t.Fatalf("powered meter: %v", err)
	}
	if err := r.h.Ping(ctx, "m00001"); err == nil {
		t.Fatal("a refusing meter answered")
	}
	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := r.h.Ping(dctx, "m00002"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hanging meter: %v", err)
	}
	if err := r.h.Ping(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown meter: %v", err)
	}
	r.drv.mu.Lock()
	opens := r.drv.opens["m00001"]
	r.drv.mu.Unlock()
	if opens != 1 {
		t.Errorf("a ping retried: %d sessions opened", opens)
	}
	cs, err := r.st.Controls(ctx, store.ControlQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 0 {
		t.Errorf("pings left %d commands", len(cs))
	}
}
