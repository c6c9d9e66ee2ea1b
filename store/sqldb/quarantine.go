package sqldb

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

func init() {
	for k, v := range map[string]string{
		"pruneCounts": `DELETE FROM command_counts WHERE bucket < ?`,
		"heldControl": `SELECT ` + controlCols + ` FROM controls WHERE meter_id = ? AND type = ?
			AND (status = 'quarantined' OR (status = 'discarded' AND updated_us >= ?)) ORDER BY created_us DESC LIMIT 1`,
	} {
		queries[k] = v
	}
}

// CountCommand implements store.Anomalies: one upsert of every counter's
// bucket and one read of their sums, in one transaction. The rows are
// written in one order whatever the caller's, so that two transactions
// counting the same rows never wait on each other crosswise.
func (s *DB) CountCommand(ctx context.Context, counters []store.CommandCounter, bucket int64, since []int64) ([][]int, error) {
	if len(counters) == 0 || len(since) == 0 {
		return nil, errors.New("command count: counters and windows are required")
	}
	sorted := slices.Clone(counters)
	slices.SortFunc(sorted, func(x, y store.CommandCounter) int {
		return cmp.Or(cmp.Compare(x.Type, y.Type), cmp.Compare(x.Scope, y.Scope), cmp.Compare(x.Key, y.Key))
	})
	sorted = slices.Compact(sorted)
	upQ := s.rebind(`INSERT INTO command_counts(type, scope, scope_key, bucket, n) VALUES (?, ?, ?, ?, 1)` +
		strings.Repeat(`, (?, ?, ?, ?, 1)`, len(sorted)-1) +
		` ON CONFLICT (type, scope, scope_key, bucket) DO UPDATE SET n = command_counts.n + 1`)
	upArgs := make([]any, 0, 4*len(sorted))
	for _, c := range sorted {
		upArgs = append(upArgs, string(c.Type), c.Scope, c.Key, bucket)
	}
	var q strings.Builder
	q.WriteString("SELECT type, scope, scope_key")
	sumArgs := make([]any, 0, len(since)+1+3*len(sorted))
	for _, b := range since {
		q.WriteString(", CAST(COALESCE(SUM(CASE WHEN bucket >= ? THEN n ELSE 0 END), 0) AS BIGINT)")
		sumArgs = append(sumArgs, b)
	}
	q.WriteString(" FROM command_counts WHERE bucket >= ? AND (")
	sumArgs = append(sumArgs, slices.Min(since))
	for i, c := range sorted {
		if i > 0 {
			q.WriteString(" OR ")
		}
		q.WriteString("(type = ? AND scope = ? AND scope_key = ?)")
		sumArgs = append(sumArgs, string(c.Type), c.Scope, c.Key)
	}
	q.WriteString(") GROUP BY type, scope, scope_key")
	sumQ := s.rebind(q.String())
	got := map[store.CommandCounter][]int{}
	err := s.inTxRetry(ctx, func(tx *sql.Tx) error {
		clear(got)
		up, err := s.txStmt(ctx, tx, upQ)
		if err != nil {
			return err
		}
		if _, err := up.ExecContext(rowContext(ctx), upArgs...); err != nil {
			return err
		}
		sum, err := s.txStmt(ctx, tx, sumQ)
		if err != nil {
			return err
		}
		rows, err := sum.QueryContext(rowContext(ctx), sumArgs...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c store.CommandCounter
			var typ string
			ns := make([]int64, len(since))
			dst := []any{&typ, &c.Scope, &c.Key}
			for j := range ns {
				dst = append(dst, &ns[j])
			}
			if err := rows.Scan(dst...); err != nil {
				return err
			}
			c.Type = cim.EndDeviceControlType(typ)
			out := make([]int, len(ns))
			for j, n := range ns {
				out[j] = int(n)
			}
			got[c] = out
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("counting a %s command: %w", counters[0].Type, err)
	}
	out := make([][]int, len(counters))
	for i, c := range counters {
		if out[i] = got[c]; out[i] == nil {
			return nil, fmt.Errorf("counting a %s command: no count of %s %q after counting it", c.Type, c.Scope, c.Key)
		}
	}
	return out, nil
}

// PruneCommandCounts implements store.Anomalies.
func (s *DB) PruneCommandCounts(ctx context.Context, before int64) error {
	if _, err := s.db.ExecContext(ctx, s.q["pruneCounts"], before); err != nil {
		return fmt.Errorf("pruning command counts: %w", err)
	}
	return nil
}

// peakWindows are the windows peaks are learnt in, by length in µs.
var peakWindows = []struct {
	name string
	us   int64
}{{"hour", int64(time.Hour / time.Microsecond)}, {"day", int64(24 * time.Hour / time.Microsecond)}}

// CommandPeaks implements store.Anomalies.
func (s *DB) CommandPeaks(ctx context.Context, from, to time.Time) ([]store.CommandPeak, error) {
	scopes := []struct{ name, key, join string }{
		{"user", "c.issued_by", ""},
		{"segment", "m.segment", " JOIN meters m ON m.mrid = c.meter_id"},
		{"fleet", "''", ""},
	}
	var out []store.CommandPeak
	for _, w := range peakWindows {
		bucket := "c.created_us / " + strconv.FormatInt(w.us, 10)
		for _, sc := range scopes {
			group := sc.key + ", "
			if sc.name == "fleet" {
				group = "" // a constant is no grouping (and PostgreSQL refuses it)
			}
			q := s.rebind(`SELECT type, k, MAX(n) FROM (SELECT c.type AS type, ` + sc.key + ` AS k, ` + bucket + ` AS b, COUNT(*) AS n
				FROM controls c` + sc.join + ` WHERE c.created_us >= ? AND c.created_us < ?
				AND c.status NOT IN ('quarantined', 'discarded', 'rejected')
				GROUP BY c.type, ` + group + bucket + `) x GROUP BY type, k`)
			ps, err := queryAll(ctx, s.db, func(sc2 interface{ Scan(...any) error }) (store.CommandPeak, error) {
				var p store.CommandPeak
				var typ string
				var n int64
				err := sc2.Scan(&typ, &p.Key, &n)
				p.Type, p.Scope, p.Window, p.Count = cim.EndDeviceControlType(typ), sc.name, w.name, int(n)
				return p, err
			}, q, from.UnixMicro(), to.UnixMicro())
			if err != nil {
				return nil, fmt.Errorf("command peaks per %s and %s: %w", sc.name, w.name, err)
			}
			out = append(out, ps...)
		}
	}
	return out, nil
}

// HeldControl implements store.Anomalies.
func (s *DB) HeldControl(ctx context.Context, meterID string, typ cim.EndDeviceControlType, discardedSince time.Time) (cim.EndDeviceControl, error) {
	c, err := scanControl(s.queryRow(ctx, s.q["heldControl"], meterID, string(typ), discardedSince.UnixMicro()))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("held %s for meter %s: %w", typ, meterID, store.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("held %s for meter %s: %w", typ, meterID, err)
	}
	return c, nil
}

func quarantineWhere(q store.QuarantineQuery) (string, []any) {
	conds := []string{"status = 'quarantined'"}
	var args []any
	if q.IssuedBy != "" {
		conds = append(conds, "issued_by = ?")
		args = append(args, q.IssuedBy)
	}
	if q.Type != "" {
		conds = append(conds, "type = ?")
		args = append(args, string(q.Type))
	}
	if !q.From.IsZero() {
		conds = append(conds, "created_us >= ?")
		args = append(args, q.From.UnixMicro())
	}
	if !q.To.IsZero() {
		conds = append(conds, "created_us < ?")
		args = append(args, q.To.UnixMicro())
	}
	if len(q.IDs) > 0 {
		conds = append(conds, "mrid IN (?"+strings.Repeat(", ?", len(q.IDs)-1)+")")
		for _, id := range q.IDs {
			args = append(args, id)
		}
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// ControlByCorrelation implements store.Anomalies.
func (s *DB) ControlByCorrelation(ctx context.Context, correlationID string) (cim.EndDeviceControl, error) {
	c, err := scanControl(s.queryRow(ctx, s.q["controlByCorrelation"], correlationID))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("command %s: %w", correlationID, store.ErrNotFound)
	}
	return c, err
}

// QuarantinedControls implements store.Anomalies.
func (s *DB) QuarantinedControls(ctx context.Context, q store.QuarantineQuery) ([]cim.EndDeviceControl, error) {
	where, args := quarantineWhere(q)
	if q.After != "" {
		where += " AND mrid > ?"
		args = append(args, q.After)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	out, err := queryAll(ctx, s.db, scanControl, s.rebind("SELECT "+controlCols+" FROM controls"+where+" ORDER BY mrid LIMIT "+strconv.Itoa(limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("quarantined commands: %w", err)
	}
	return out, nil
}

// QuarantineGroups implements store.Anomalies.
func (s *DB) QuarantineGroups(ctx context.Context, q store.QuarantineQuery) ([]store.QuarantineGroup, error) {
	where, args := quarantineWhere(q)
	out, err := queryAll(ctx, s.db, func(sc interface{ Scan(...any) error }) (store.QuarantineGroup, error) {
		var g store.QuarantineGroup
		var typ string
		var n, first, last int64
		err := sc.Scan(&g.IssuedBy, &typ, &n, &first, &last)
		g.Type, g.Count, g.First, g.Last = cim.EndDeviceControlType(typ), int(n), time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
		return g, err
	}, s.rebind("SELECT issued_by, type, COUNT(*), MIN(created_us), MAX(created_us) FROM controls"+where+
		" GROUP BY issued_by, type ORDER BY COUNT(*) DESC, issued_by, type"), args...)
	if err != nil {
		return nil, fmt.Errorf("quarantine groups: %w", err)
	}
	return out, nil
}

// DecideControls implements store.Anomalies.
func (s *DB) DecideControls(ctx context.Context, mrids []string, from, to cim.ControlStatus, by, reason string, at time.Time) ([]string, error) {
	if by == "" || to == "" {
		return nil, errors.New("command decisions: the deciding user and status are required")
	}
	var moved []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		moved = moved[:0]
		up, err := s.txStmt(ctx, tx, s.q["transition"])
		if err != nil {
			return err
		}
		next, err := s.txStmt(ctx, tx, s.q["nextStep"])
		if err != nil {
			return err
		}
		ins, err := s.txStmt(ctx, tx, s.q["insertStep"])
		if err != nil {
			return err
		}
		for _, id := range mrids {
			rctx := rowContext(ctx)
			res, err := up.ExecContext(rctx, string(to), reason, at.UnixMicro(), by, by, id, string(from))
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k == 0 {
				continue
			}
			var seq int
			if err := next.QueryRowContext(rctx, id).Scan(&seq); err != nil {
				return err
			}
			if _, err := ins.ExecContext(rctx, id, seq, string(to), reason, at.UnixMicro(), by); err != nil {
				return err
			}
			moved = append(moved, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("deciding %d commands %s → %s: %w", len(mrids), from, to, err)
	}
	return moved, nil
}
