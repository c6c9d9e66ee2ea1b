package server

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// TestRetentionLoop: the upkeep runs as soon as the node starts, and
// removes the months past store.retention_months.
func TestRetentionLoop(t *testing.T) {
	st, _ := storetest.OpenSQLite(t)
	old, kept := cim.Date{Year: 2026, Month: 3, Day: 1}, cim.Date{Year: 2026, Month: 11, Day: 15}
	var days []interval.Day
	for _, d := range []cim.Date{old, kept} {
		n := d.Intervals(time.UTC, time.Hour)
		days = append(days, interval.Day{MeterID: "m1", Channel: "A+60m", Date: d, Start: d.Start(time.UTC), Interval: time.Hour,
			Values: make([]int64, n), Quality: make([]cim.Quality, n)})
	}
	if _, err := st.PutDays(context.Background(), days); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Store.RetentionMonths = 2
	s := &Server{cfg: cfg, log: slog.New(slog.DiscardHandler), Store: st,
		now: func() time.Time { return time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.runRetention(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := st.Day(context.Background(), "m1", "A+60m", old)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the expired day is still there (%v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := st.Day(context.Background(), "m1", "A+60m", kept); err != nil {
		t.Fatalf("a day within the retention: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("retention loop ended with %v", err)
	}
}
