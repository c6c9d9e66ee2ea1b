package headend_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/prometheus/client_golang/prometheus"
)

// lockedBuffer is a log sink the head-end's goroutines write to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCollectionObjectProblems: an object a meter answers in a way the
// session tolerates (a clock wrapped twice inside a list) is logged once
// per meter and run with the meter, object and cause, counted by cause,
// and kept with the meter's result; the other meters' results have none.
func TestCollectionObjectProblems(t *testing.T) {
	var logs lockedBuffer
	reg := prometheus.NewRegistry()
	r := newFleetRigWith(t, 3, meter.Faults{}, headend.CollectionConfig{Concurrency: 4, PerSegment: 4, Attempts: 1,
		JobTimeout: 30 * time.Second, BackfillDays: 1}, rigOptions{
		faultsOf: func(i int) sim.Fault {
			if i == 0 {
				return sim.FaultListClock
			}
			return 0
		},
		logger:  slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		metrics: reg,
	})
	ctx := context.Background()
	if _, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows); err != nil {
		t.Fatal(err)
	}
	odd := headend.MeterID(r.rows[0])
	day := cim.Date{Year: 2026, Month: 3, Day: 30}
	// The first session learns the meter's object model; lists, where the
	// clock comes back wrapped, are the next sessions'.
	var withProblems int
	for d := range 3 {
		r.clk.Set(day.AddDays(d + 1).Start(ams).Add(2 * time.Hour))
		if err := r.h.CollectDay(ctx, day.AddDays(d), store.MeterQuery{}); err != nil {
			t.Fatal(err)
		}
		for id, res := range r.results(t, day.AddDays(d)) {
			if res.Outcome != store.OutcomeOK {
				t.Errorf("day %s meter %s: %+v", day.AddDays(d), id, res)
			}
			if id != odd && res.Problems != "" {
				t.Errorf("meter %s without faults has problems %q", id, res.Problems)
			}
			if id == odd && res.Problems != "" {
				withProblems++
				t.Logf("day %s meter %s: %s", day.AddDays(d), id, res.Problems)
				if !strings.HasPrefix(res.Problems, "1 object read with a warning: ") || !strings.Contains(res.Problems, "0.0.1.0.0.255") ||
					!strings.Contains(res.Problems, "wrapped") {
					t.Errorf("meter %s problems %q", id, res.Problems)
				}
			}
		}
	}
	t.Logf("%d of 3 runs had the wrapped clock", withProblems)
	if withProblems == 0 {
		t.Fatal("the meter with a wrapped clock has no problems in any run")
	}
	// Logged once per run that had them, with the meter and the cause.
	var logged int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] != "meter objects not read" {
			continue
		}
		logged++
		if rec["level"] != "WARN" || rec["meter"] != odd || !strings.Contains(rec["problems"].(string), "0.0.1.0.0.255") {
			t.Errorf("log %v", rec)
		}
	}
	if logged != withProblems {
		t.Errorf("%d problem logs for %d runs with problems", logged, withProblems)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counted := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "amigo_collection_object_problems_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "cause" {
					counted[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	if len(counted) != 1 || int(counted["tolerated"]) != withProblems {
		t.Errorf("problems counted %v, want tolerated %d", counted, withProblems)
	}
}
