package outage

import (
	"context"
	"testing"
	"time"
)

// FuzzEngine drives the engine with arbitrary signals, clock steps and
// supply: it must never panic, and what it reports must make sense (a
// known state, an end not before the start, a device of the grid).
func FuzzEngine(f *testing.F) {
	f.Add([]byte{1, 3, 0, 1, 4, 0, 1, 5, 0, 0, 0, 9, 2, 3, 0})
	f.Add([]byte{3, 40, 1, 4, 40, 0, 0, 0, 200})
	f.Fuzz(func(t *testing.T, ops []byte) {
		g := testGrid(t, 1, 2, 3, 4)
		svcs := g.At("service")
		w := &world{dark: map[string]bool{}}
		e := NewEngine(Config{}, g, w)
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		valid := map[State]bool{Suspected: true, Confirmed: true, Restored: true, Verified: true, Momentary: true, Dismissed: true}
		for i := 0; i+2 < len(ops) && i < 600; i += 3 {
			kind, arg, step := ops[i]%6, int(ops[i+1]), time.Duration(ops[i+2])*time.Second
			svc := svcs[arg%len(svcs)].ID
			now = now.Add(step)
			switch kind {
			case 0:
				w.dark[svc] = !w.dark[svc]
			default:
				// Kinds 1..4 and an unknown one; refusals are fine.
				e.Observe(Signal{UsagePoint: svc, Kind: SignalKind(kind), At: now.Add(-time.Duration(arg) * time.Second),
					DownSince: now.Add(-time.Duration(arg) * time.Minute)})
			}
			for _, ev := range e.Advance(context.Background(), now) {
				if !valid[ev.State] || ev.ID == "" || (!ev.End.IsZero() && ev.End.Before(ev.Start)) {
					t.Fatalf("event %+v", ev)
				}
				if _, ok := g.Node(ev.Device); !ok {
					t.Fatalf("device %q not in the grid", ev.Device)
				}
			}
		}
	})
}
