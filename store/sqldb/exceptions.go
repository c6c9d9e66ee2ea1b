package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

func init() {
	queries["putException"] = `INSERT INTO vee_exceptions(meter_id, channel, day, version, rule, interval_ix, intervals, n_intervals, unit, reason, open, created_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
		ON CONFLICT (meter_id, channel, day, version, rule, interval_ix) DO NOTHING`
	queries["latestException"] = `SELECT id, version, open FROM vee_exceptions WHERE meter_id = ? AND channel = ? AND day = ? AND rule = ?
		ORDER BY version DESC, id DESC LIMIT 1`
	queries["replaceException"] = `UPDATE vee_exceptions SET version = ?, interval_ix = ?, intervals = ?, n_intervals = ?, unit = ?, reason = ?, created_us = ?
		WHERE id = ? AND open = 1`
	queries["settleExceptions"] = `UPDATE vee_exceptions SET open = 0, resolved_by = ?, resolution = ?, resolved_us = ?
		WHERE meter_id = ? AND channel = ? AND day = ? AND version < ? AND open = 1`
	queries["resolveException"] = `UPDATE vee_exceptions SET open = 0, resolved_by = ?, resolution = ?, resolved_us = ? WHERE id = ? AND open = 1`
}

// PutExceptions implements store.Exceptions.
func (s *DB) PutExceptions(ctx context.Context, es []store.Exception) (int, error) {
	for _, e := range es {
		if e.MeterID == "" || e.Channel == "" || e.Date.IsZero() || e.Rule == "" {
			return 0, errors.New("exception: meter, channel, day and rule are required")
		}
	}
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		var sts [3]*sql.Stmt
		for i, q := range []string{"latestException", "replaceException", "putException"} {
			st, err := s.txStmt(ctx, tx, s.q[q])
			if err != nil {
				return err
			}
			defer st.Close()
			sts[i] = st
		}
		latest, replace, insert := sts[0], sts[1], sts[2]
		now := time.Now().UnixMicro()
		for _, e := range es {
			at := now
			if !e.CreatedAt.IsZero() {
				at = e.CreatedAt.UnixMicro()
			}
			fail := func(err error) error {
				return fmt.Errorf("meter %s %s %s: exception %s: %w", e.MeterID, e.Channel, e.Date, e.Rule, err)
			}
			idx, count := encodeIndexes(e)
			var id int64
			var version, open int
			err := latest.QueryRowContext(rowContext(ctx), e.MeterID, e.Channel, e.Date.String(), e.Rule).Scan(&id, &version, &open)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return fail(err)
			case version >= e.Version:
				// Recorded for this version already, or a later version
				// of the day was validated meanwhile: its verdict stands.
				continue
			case open != 0:
				// The day changed and still fails the rule: the open
				// exception follows it, so the queue holds one.
				res, err := replace.ExecContext(rowContext(ctx), e.Version, e.Interval, idx, count, e.Unit, e.Reason, at, id)
				if err != nil {
					return fail(err)
				}
				if k, _ := res.RowsAffected(); k > 0 {
					n++
					continue
				}
			}
			res, err := insert.ExecContext(rowContext(ctx), e.MeterID, e.Channel, e.Date.String(), e.Version, e.Rule, e.Interval, idx, count, e.Unit, e.Reason, at)
			if err != nil {
				return fail(err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

// SettleExceptions implements store.Exceptions.
func (s *DB) SettleExceptions(ctx context.Context, days []store.DayVersion, at time.Time) (int, error) {
	// A first version has no earlier one to have raised an exception: a
	// bulk ingest of new days costs nothing here.
	var later []store.DayVersion
	for _, d := range days {
		if d.Version > 1 {
			later = append(later, d)
		}
	}
	if len(later) == 0 {
		return 0, nil
	}
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		st, err := s.txStmt(ctx, tx, s.q["settleExceptions"])
		if err != nil {
			return err
		}
		defer st.Close()
		for _, d := range later {
			res, err := st.ExecContext(rowContext(ctx), store.SettledBy, fmt.Sprintf("version %d of the day passes the rule", d.Version),
				at.UnixMicro(), d.MeterID, d.Channel, d.Date.String(), d.Version)
			if err != nil {
				return fmt.Errorf("meter %s %s %s: settling exceptions: %w", d.MeterID, d.Channel, d.Date, err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

// encodeIndexes writes the intervals an exception covers as runs, "2,4-7",
// so a day missing entirely takes a few bytes, and says how many.
func encodeIndexes(e store.Exception) (string, int) {
	ix := e.Indexes
	if len(ix) == 0 && e.Interval >= 0 && e.Intervals <= 1 {
		ix = []int{e.Interval}
	}
	var b strings.Builder
	for k := 0; k < len(ix); {
		j := k
		for j+1 < len(ix) && ix[j+1] == ix[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(ix[k]))
		if j > k {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(ix[j]))
		}
		k = j + 1
	}
	n := len(ix)
	if len(e.Indexes) == 0 && e.Intervals > n {
		n = e.Intervals
	}
	return b.String(), n
}

// decodeIndexes reads encodeIndexes. Rows from before exceptions covered
// several intervals (n < 0) cover their one interval.
func decodeIndexes(s string, n, interval int) ([]int, int, error) {
	if n < 0 {
		if interval < 0 {
			return nil, 0, nil
		}
		return []int{interval}, 1, nil
	}
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		if part == "" {
			continue
		}
		lo, hi, isRun := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, 0, fmt.Errorf("intervals %q: %w", s, err)
		}
		b := a
		if isRun {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, 0, fmt.Errorf("intervals %q: bad run %q", s, part)
			}
		}
		if a < 0 || len(out)+b-a >= maxIndexes {
			return nil, 0, fmt.Errorf("intervals %q: out of range", s)
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, n, nil
}

// maxIndexes bounds what one stored list may expand to: a day of
// one-minute intervals is 1,500.
const maxIndexes = 10_000

// exceptionFilter is the WHERE clause of a query's filters.
func exceptionFilter(q store.ExceptionQuery) ([]string, []any) {
	var conds []string
	var args []any
	if q.MeterID != "" {
		conds = append(conds, "meter_id = ?")
		args = append(args, q.MeterID)
	}
	if q.Rule != "" {
		conds = append(conds, "rule = ?")
		args = append(args, q.Rule)
	}
	if q.OpenOnly {
		conds = append(conds, "open = 1")
	}
	// Days are stored as YYYY-MM-DD, which sorts as the dates do.
	if !q.From.IsZero() {
		conds = append(conds, "day >= ?")
		args = append(args, q.From.String())
	}
	if !q.To.IsZero() {
		conds = append(conds, "day <= ?")
		args = append(args, q.To.String())
	}
	return conds, args
}

// ListExceptions implements store.Exceptions.
func (s *DB) ListExceptions(ctx context.Context, q store.ExceptionQuery) ([]store.Exception, error) {
	conds, args := exceptionFilter(q)
	conds = append([]string{"id > ?"}, conds...)
	args = append([]any{q.After}, args...)
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	query := "SELECT id, meter_id, channel, day, version, rule, interval_ix, intervals, n_intervals, unit, reason, open, created_us, resolved_by, resolution FROM vee_exceptions WHERE " +
		strings.Join(conds, " AND ") + " ORDER BY id LIMIT " + strconv.Itoa(limit)
	return queryAll(ctx, s.db, func(sc interface{ Scan(...any) error }) (store.Exception, error) {
		var e store.Exception
		var day, idx string
		var open, n int
		var us int64
		if err := sc.Scan(&e.ID, &e.MeterID, &e.Channel, &day, &e.Version, &e.Rule, &e.Interval, &idx, &n, &e.Unit, &e.Reason, &open, &us, &e.ResolvedBy, &e.Resolution); err != nil {
			return e, err
		}
		d, err := cim.ParseDate(day)
		if err != nil {
			return e, fmt.Errorf("exception %d: %w", e.ID, err)
		}
		if e.Indexes, e.Intervals, err = decodeIndexes(idx, n, e.Interval); err != nil {
			return e, fmt.Errorf("exception %d: %w", e.ID, err)
		}
		e.Date, e.Open, e.CreatedAt = d, open != 0, time.UnixMicro(us).UTC()
		return e, nil
	}, s.rebind(query), args...)
}

// CountExceptions implements store.Exceptions.
func (s *DB) CountExceptions(ctx context.Context, q store.ExceptionQuery) (int, error) {
	conds, args := exceptionFilter(q)
	query := "SELECT COUNT(*) FROM vee_exceptions"
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	var n int
	if err := s.db.QueryRowContext(ctx, s.rebind(query), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting exceptions: %w", err)
	}
	return n, nil
}

// ResolveException implements store.Exceptions.
func (s *DB) ResolveException(ctx context.Context, id int64, user, resolution string, at time.Time) error {
	if user == "" || resolution == "" {
		return errors.New("resolving an exception needs a user and a resolution")
	}
	res, err := s.db.ExecContext(ctx, s.q["resolveException"], user, resolution, at.UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("exception %d: %w", id, err)
	}
	if k, _ := res.RowsAffected(); k == 0 {
		var open int
		err := s.db.QueryRowContext(ctx, s.rebind("SELECT open FROM vee_exceptions WHERE id = ?"), id).Scan(&open)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("exception %d: %w", id, store.ErrNotFound)
		}
		return fmt.Errorf("exception %d is already resolved: %w", id, store.ErrConflict)
	}
	return nil
}
