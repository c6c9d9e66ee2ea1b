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
	queries["putException"] = `INSERT INTO vee_exceptions(meter_id, channel, day, version, rule, interval_ix, reason, open, created_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)
		ON CONFLICT (meter_id, channel, day, version, rule, interval_ix) DO NOTHING`
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
		st, err := s.txStmt(ctx, tx, s.q["putException"])
		if err != nil {
			return err
		}
		defer st.Close()
		now := time.Now().UnixMicro()
		for _, e := range es {
			at := now
			if !e.CreatedAt.IsZero() {
				at = e.CreatedAt.UnixMicro()
			}
			res, err := st.ExecContext(rowContext(ctx), e.MeterID, e.Channel, e.Date.String(), e.Version, e.Rule, e.Interval, e.Reason, at)
			if err != nil {
				return fmt.Errorf("meter %s %s: exception %s: %w", e.MeterID, e.Date, e.Rule, err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

// ListExceptions implements store.Exceptions.
func (s *DB) ListExceptions(ctx context.Context, q store.ExceptionQuery) ([]store.Exception, error) {
	conds := []string{"id > ?"}
	args := []any{q.After}
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
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	query := "SELECT id, meter_id, channel, day, version, rule, interval_ix, reason, open, created_us, resolved_by, resolution FROM vee_exceptions WHERE " +
		strings.Join(conds, " AND ") + " ORDER BY id LIMIT " + strconv.Itoa(limit)
	return queryAll(ctx, s.db, func(sc interface{ Scan(...any) error }) (store.Exception, error) {
		var e store.Exception
		var day string
		var open int
		var us int64
		if err := sc.Scan(&e.ID, &e.MeterID, &e.Channel, &day, &e.Version, &e.Rule, &e.Interval, &e.Reason, &open, &us, &e.ResolvedBy, &e.Resolution); err != nil {
			return e, err
		}
		d, err := cim.ParseDate(day)
		e.Date, e.Open, e.CreatedAt = d, open != 0, time.UnixMicro(us).UTC()
		return e, err
	}, s.rebind(query), args...)
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
