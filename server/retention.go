package server

import (
	"context"
	"time"

	"github.com/amigo-ami/amigo/store"
)

const (
	// retentionEvery spaces the store's upkeep: months are made three
	// ahead, so a day is far more often than needed, and it is when a
	// month past the retention goes.
	retentionEvery = 24 * time.Hour
	// retentionRetry is the wait after an upkeep that failed (a table
	// lock not granted in time, the database away).
	retentionRetry = time.Hour
)

// runRetention keeps the interval days' months: once at start, so that a
// node started after a long stop catches up at once, then daily. Several
// nodes may run it; the store lets one at a time do the work.
func (s *Server) runRetention(ctx context.Context) error {
	r, ok := s.Store.(store.Retention)
	if !ok {
		return nil
	}
	now := s.now
	if now == nil {
		now = time.Now
	}
	keep := s.cfg.Store.RetentionMonths
	for {
		wait := retentionEvery
		t0 := time.Now()
		rep, err := r.Maintain(ctx, now(), keep)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			s.log.Warn("store upkeep failed", "err", err, "retry_in", retentionRetry)
			wait = retentionRetry
		case rep.Empty():
			s.log.Debug("store upkeep: nothing to do", "retention_months", keep)
		default:
			s.log.Info("store upkeep", "retention_months", keep, "months_made", rep.Created, "rows_moved", rep.Moved,
				"months_dropped", rep.Dropped, "rows_deleted", rep.Deleted, "took", time.Since(t0).Round(time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
