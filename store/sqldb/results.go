package sqldb

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// maxResultDays bounds MeterResults: each day is one probe per meter.
const maxResultDays = 62

// MeterResults implements store.HeadEnd. The results table is keyed by
// (day, meter), so the days are listed too: every (day, meter) pair is
// then one primary-key probe, however large the fleet or its history.
func (s *DB) MeterResults(ctx context.Context, meterIDs []string, from, to cim.Date) ([]store.CollectionResult, error) {
	if len(meterIDs) == 0 || to.Before(from) {
		return nil, nil
	}
	if len(meterIDs) > 1000 {
		return nil, errors.New("meter results: at most 1000 meters at once")
	}
	var days []any
	for d := to; !d.Before(from); d = d.AddDays(-1) {
		if len(days) == maxResultDays {
			return nil, errors.New("meter results: at most 62 days at once")
		}
		days = append(days, d.String())
	}
	args := append([]any{}, days...)
	for _, m := range meterIDs {
		args = append(args, m)
	}
	q := "SELECT day, meter_id, segment, outcome, attempts, readings, complete, error, problems, at_us FROM collection_results WHERE day IN (?" +
		strings.Repeat(", ?", len(days)-1) + ") AND meter_id IN (?" + strings.Repeat(", ?", len(meterIDs)-1) + ") ORDER BY meter_id, day DESC"
	// Not through the statement cache: the lists make a new text for
	// every page size.
	rows, err := s.db.QueryContext(ctx, s.rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.CollectionResult
	for rows.Next() {
		var r store.CollectionResult
		var day string
		var complete int
		var us int64
		if err := rows.Scan(&day, &r.MeterID, &r.Segment, &r.Outcome, &r.Attempts, &r.Readings, &complete, &r.Error, &r.Problems, &us); err != nil {
			return nil, err
		}
		if r.Day, err = cim.ParseDate(day); err != nil {
			return nil, err
		}
		r.Complete, r.At = complete != 0, time.UnixMicro(us).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
