package sqlite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store/storetest"
)

// BenchmarkMonthOfOneMeter reads a month of 15-minute data of one meter
// (latest versions, with quality) from a store holding 200 meters.
func BenchmarkMonthOfOneMeter(b *testing.B) {
	st, _ := storetest.OpenSQLite(b)
	ctx := context.Background()
	first := cim.Date{Year: 2026, Month: 5, Day: 1}
	for m := range 200 {
		var days []interval.Day
		for k := range 31 {
			date := first.AddDays(k)
			d := interval.Day{MeterID: fmt.Sprintf("m%03d", m), Channel: "A+15m", Date: date, Start: date.Start(time.UTC),
				Interval: 15 * time.Minute, Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
			for i := range d.Values {
				d.Values[i] = int64(i*7+m) % 400
			}
			days = append(days, d)
		}
		if _, err := st.PutDays(ctx, days); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		days, err := st.Days(ctx, "m117", "A+15m", first, first.AddDays(30))
		if err != nil || len(days) != 31 {
			b.Fatalf("%d days, %v", len(days), err)
		}
	}
}
