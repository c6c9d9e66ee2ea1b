package headend_test

import (
	"context"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/store"
)

// BenchmarkCollectFleet collects one day (HLS-GMAC, authenticated
// encryption, two-channel 15-minute profile, registers, billing profile,
// event logs) from 1,000 simulated meters sharing this machine, through
// the bus; one op is the whole run. Reported: meters/s and readings/s.
// The MDM ingest is not running, so the figure is the head-end's alone.
func BenchmarkCollectFleet(b *testing.B) {
	const n = 1000
	var total time.Duration
	var readings int
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := newFleetRigIngest(b, n, meter.Faults{}, headend.CollectionConfig{Concurrency: 64, PerSegment: 64, BackfillDays: 1}, false)
		if _, err := headend.Import(context.Background(), r.st, r.keys, dlmsDrivers, r.rows); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		if err := r.h.CollectDay(context.Background(), cim.Date{Year: 2026, Month: 3, Day: 30}, store.MeterQuery{}); err != nil {
			b.Fatal(err)
		}
		total += time.Since(t0)
		readings += r.h.Progress().Readings
		b.StopTimer()
		r.stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "meters/s")
	b.ReportMetric(float64(readings)/total.Seconds(), "readings/s")
}
