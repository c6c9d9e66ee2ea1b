package store

import (
	"context"
	"time"
)

// Retention is the upkeep of the interval days over time: the months
// ahead made ready for the readings to come, and, when a retention is
// set, the months past it removed. Both engines implement it; a caller
// that holds a Store asserts it.
type Retention interface {
	// Maintain makes the coming months ready and, when keepMonths > 0,
	// removes the interval days of every month that ended more than
	// keepMonths months before now's month began (with keepMonths 1, on
	// any day of December the whole of October and before goes, November
	// and December stay). keepMonths 0 keeps every reading. Several nodes
	// may call it at once: one does the work, the others wait for it and
	// then find nothing left to do.
	Maintain(ctx context.Context, now time.Time, keepMonths int) (MaintainReport, error)
}

// MaintainReport says what one Maintain call changed.
type MaintainReport struct {
	// Created names the monthly partitions made ("2026-12"); PostgreSQL
	// only.
	Created []string
	// Moved counts the rows taken out of the catch-all partition into
	// their month's own; PostgreSQL only.
	Moved int64
	// Dropped names the months removed whole ("2025-01").
	Dropped []string
	// Deleted counts the day rows removed one by one: every expired row
	// in SQLite, and in PostgreSQL those the catch-all partition held.
	Deleted int64
}

// Empty is true when the call changed nothing.
func (r MaintainReport) Empty() bool {
	return len(r.Created) == 0 && r.Moved == 0 && len(r.Dropped) == 0 && r.Deleted == 0
}

// RetentionCutoff is the first day (YYYY-MM-DD, UTC calendar) of the
// oldest month kept with keepMonths of retention at now; every day before
// it goes. keepMonths must be positive.
func RetentionCutoff(now time.Time, keepMonths int) string {
	y, m, _ := now.Date()
	return time.Date(y, m-time.Month(keepMonths), 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}
