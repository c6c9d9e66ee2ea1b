package reliability

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/distribution"
	"github.com/amigo-ami/amigo/outage"
	"github.com/amigo-ami/amigo/store/storetest"
)

// BenchmarkReport is a month's report over a simulated network of 20 000
// customers kept in SQLite with its outages: the topology loads and the
// expansion dominate.
func BenchmarkReport(b *testing.B) {
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := distribution.DefaultConfig(3, 20000, start)
	n, err := distribution.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	st, _ := storetest.OpenSQLite(b)
	if _, err := st.PutTopology(ctx, start.AddDate(-1, 0, 0), n.Topology()); err != nil {
		b.Fatal(err)
	}
	end := start.AddDate(0, 0, cfg.Days)
	outs := n.Outages(start, end)
	for _, o := range outs {
		st0 := outage.Verified
		if o.Kind == distribution.Momentary {
			st0 = outage.Momentary
		}
		e := outage.Event{ID: fmt.Sprintf("%s@%d", o.Device, o.Start.Unix()), Level: o.Level, Device: o.Device, State: st0,
			Start: o.Start, End: o.End, DetectedAt: o.Start, Customers: o.Customers, Planned: o.Kind == distribution.Planned}
		if err := st.PutOutage(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	svc := &Service{Outages: st, Topology: st, Now: func() time.Time { return end.AddDate(0, 1, 0) }}
	b.ResetTimer()
	for range b.N {
		r, err := svc.Report(ctx, Request{From: start, To: end, ExcludeMED: true})
		if err != nil {
			b.Fatal(err)
		}
		if r.Total.Served != cfg.Meters {
			b.Fatalf("served %d", r.Total.Served)
		}
	}
	b.ReportMetric(float64(len(outs)), "outages")
}
