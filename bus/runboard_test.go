package bus

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// Two nodes on one NATS server: a run asked for through either reaches
// both, once each, and one that starts watching later does not replay
// it; each node's progress is read back by any.
func TestRunBoardCarriesRequestsAndProgressBetweenNodes(t *testing.T) {
	ns := namespace()
	a := open(t, Options{URL: externalURL(), Namespace: ns})
	b := open(t, Options{URL: externalURL(), Namespace: ns})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t.Cleanup(func() {
		for _, k := range Kinds {
			a.DeleteStream(context.Background(), k)
		}
		a.js.DeleteKeyValue(context.Background(), a.bucketName("runs"))
		a.js.DeleteKeyValue(context.Background(), a.bucketName("progress"))
		a.Close(context.Background())
		b.Close(context.Background())
	})
	ra, err := a.RunBoard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.RunBoard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := ra.Progress(ctx); err != nil || len(p) != 0 {
		t.Fatalf("empty board: %v, %v", p, err)
	}
	wa, err := ra.Requests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := rb.Requests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	day, _ := cim.ParseDate("2026-12-06")
	if err := rb.Request(ctx, RunRequest{ID: "r1", Day: day, Spread: true, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan RunRequest{"a": wa, "b": wb} {
		select {
		case r := <-ch:
			if r.ID != "r1" || r.Day != day || !r.Spread {
				t.Fatalf("node %s got %+v", name, r)
			}
		case <-ctx.Done():
			t.Fatalf("node %s never saw the request", name)
		}
	}
	// A node that starts watching now sees only what comes after.
	late, err := a.RunBoard(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lctx, lcancel := context.WithCancel(ctx)
	wl, err := late.Requests(lctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ra.Request(ctx, RunRequest{ID: "r2", Day: day, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-wl:
		if r.ID != "r2" {
			t.Fatalf("a late watcher replayed %+v", r)
		}
	case <-ctx.Done():
		t.Fatal("the late watcher never saw r2")
	}
	lcancel()
	for range wl {
	}

	type prog struct{ Done int }
	if err := ra.PutProgress(ctx, "he-1", prog{3}); err != nil {
		t.Fatal(err)
	}
	if err := rb.PutProgress(ctx, "he.2", prog{4}); err != nil {
		t.Fatal(err)
	}
	got, err := rb.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, raw := range got {
		var p prog
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		sum += p.Done
	}
	if len(got) != 2 || sum != 7 {
		t.Fatalf("progress %v", got)
	}
}
