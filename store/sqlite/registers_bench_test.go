package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// BenchmarkPutRegisterReads stores a daily collection's register reads of
// 500 meters, 28 a meter (two days' billing entries of 7 registers at
// midnight and 14 registers at the read), a new day each op, over the
// days already stored: the head-end's register write of one batch.
// readsPerSecond is the figure to compare.
func BenchmarkPutRegisterReads(b *testing.B) {
	st, _ := storetest.OpenSQLite(b)
	ctx := context.Background()
	types := []string{"A+", "A+T1", "A+T2", "A-", "A-T1", "A-T2", "P+max"}
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	day := 0
	batch := func() []store.RegisterRead {
		var rs []store.RegisterRead
		for m := range 500 {
			id := fmt.Sprintf("m%04d", m)
			mid := t0.AddDate(0, 0, day)
			for _, at := range []time.Time{mid.AddDate(0, 0, -1), mid} {
				for i, t := range types {
					rs = append(rs, store.RegisterRead{MeterID: id, ReadingType: t + "/billing", TimeStamp: at, Value: int64(day*100 + i)})
				}
			}
			for _, at := range []time.Time{mid.Add(7 * time.Hour), mid.Add(7*time.Hour + time.Second)} {
				for i, t := range types {
					rs = append(rs, store.RegisterRead{MeterID: id, ReadingType: t, TimeStamp: at, Value: int64(day*100 + i)})
				}
			}
		}
		day++
		return rs
	}
	for range 5 {
		if _, err := st.PutRegisterReads(ctx, batch()); err != nil {
			b.Fatal(err)
		}
	}
	n := 0
	start := time.Now()
	for b.Loop() {
		rs := batch()
		if _, err := st.PutRegisterReads(ctx, rs); err != nil {
			b.Fatal(err)
		}
		n += len(rs)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "reads/s")
}
