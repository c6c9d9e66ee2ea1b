package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/audit"
)

func init() {
	queries["auditHead"] = `SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1`
	queries["insertAudit"] = `INSERT INTO audit_records(seq, at_us, actor, action, target, outcome, details, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
}

// auditAttempts bounds the appends started again after losing the seq to
// another writer: each loss means another record went in, so running out
// takes that many appends at once on one database.
const auditAttempts = 200

// AppendAudit implements store.AuditLog.
func (s *DB) AppendAudit(ctx context.Context, r audit.Record, seal func(*audit.Record)) (audit.Record, error) {
	var details string
	if len(r.Details) > 0 {
		b, err := json.Marshal(r.Details)
		if err != nil {
			return audit.Record{}, err
		}
		details = string(b)
	}
	for attempt := 0; ; attempt++ {
		out := r
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var last int64
			var prev []byte
			err := tx.QueryRowContext(ctx, s.q["auditHead"]).Scan(&last, &prev)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			out.Seq, out.Prev = last+1, prev
			if out.Prev == nil {
				out.Prev = []byte{}
			}
			seal(&out)
			_, err = tx.ExecContext(ctx, s.q["insertAudit"], out.Seq, out.At.UnixMicro(), out.Actor, string(out.Action),
				out.Target, out.Outcome, details, out.Prev, out.Hash)
			return err
		})
		if err == nil {
			return out, nil
		}
		if !s.d.IsConflict(err) || attempt >= auditAttempts {
			return audit.Record{}, fmt.Errorf("audit record %s: %w", r.Action, err)
		}
		// Another node took the seq: read the new head and go again, after
		// a pause that keeps the losers from colliding again in step.
		select {
		case <-ctx.Done():
			return audit.Record{}, ctx.Err()
		case <-time.After(time.Duration(rand.Int64N(int64(time.Millisecond) * int64(1+min(attempt, 20))))):
		}
	}
}

// AuditRecords implements store.AuditLog.
func (s *DB) AuditRecords(ctx context.Context, q audit.Query) ([]audit.Record, error) {
	var where []string
	var args []any
	cond := func(c string, v any) { where = append(where, c); args = append(args, v) }
	if q.Actor != "" {
		cond("actor = ?", q.Actor)
	}
	if q.Action != "" {
		cond("action = ?", string(q.Action))
	}
	if !q.From.IsZero() {
		cond("at_us >= ?", q.From.UnixMicro())
	}
	if !q.To.IsZero() {
		cond("at_us < ?", q.To.UnixMicro())
	}
	if q.After > 0 {
		cond("seq > ?", q.After)
	}
	if q.Before > 0 {
		cond("seq < ?", q.Before)
	}
	query := "SELECT seq, at_us, actor, action, target, outcome, details, prev, hash FROM audit_records"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	if q.Newest || (q.Before > 0 && q.After == 0) {
		query += " ORDER BY seq DESC"
	} else {
		query += " ORDER BY seq"
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	query += " LIMIT ?"
	args = append(args, limit)
	return queryAll(ctx, s, scanAudit, s.rebind(query), args...)
}

func scanAudit(sc interface{ Scan(...any) error }) (audit.Record, error) {
	var r audit.Record
	var at int64
	var action, details string
	if err := sc.Scan(&r.Seq, &at, &r.Actor, &action, &r.Target, &r.Outcome, &details, &r.Prev, &r.Hash); err != nil {
		return r, err
	}
	r.At, r.Action = time.UnixMicro(at).UTC(), audit.Action(action)
	if details != "" {
		// A details column that is not JSON was edited outside amigo: keep
		// the record, with details that will not hash to its hash, so
		// verification names it.
		if err := json.Unmarshal([]byte(details), &r.Details); err != nil {
			r.Details = map[string]string{"unreadable": details}
		}
	}
	return r, nil
}
