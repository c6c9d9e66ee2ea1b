package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

func init() {
	for k, v := range map[string]string{
		"putSecret": `INSERT INTO meter_secrets(meter_id, sealed, updated_us) VALUES (?, ?, ?)
			ON CONFLICT (meter_id) DO UPDATE SET sealed = excluded.sealed, updated_us = excluded.updated_us`,
		"getSecret": `SELECT sealed FROM meter_secrets WHERE meter_id = ?`,
		// RETURNING on an upsert makes the reservation one atomic statement
		// on both engines.
		"reserveCounter": `INSERT INTO counters(meter_id, name, value) VALUES (?, ?, ?)
			ON CONFLICT (meter_id, name) DO UPDATE SET value = counters.value + excluded.value
			RETURNING value`,
		"advanceCounter": `INSERT INTO counters(meter_id, name, value) VALUES (?, ?, ?)
			ON CONFLICT (meter_id, name) DO UPDATE SET value = excluded.value WHERE counters.value < excluded.value`,
		"getCursor":  `SELECT at_us FROM cursors WHERE meter_id = ? AND name = ?`,
		"getCursors": `SELECT name, at_us FROM cursors WHERE meter_id = ? ORDER BY name`,
		"putCursor": `INSERT INTO cursors(meter_id, name, at_us) VALUES (?, ?, ?)
			ON CONFLICT (meter_id, name) DO UPDATE SET at_us = excluded.at_us WHERE cursors.at_us < excluded.at_us`,
		"getRegisterDay": `SELECT data, rev FROM register_days WHERE meter_id = ? AND day = ?`,
		// Written over the revision read only: see putRegisterDays.
		"putRegisterDay": `INSERT INTO register_days(meter_id, day, data, rev) VALUES (?, ?, ?, ?)
			ON CONFLICT (meter_id, day) DO UPDATE SET data = excluded.data, rev = excluded.rev WHERE register_days.rev = ?`,
		"registerDays": `SELECT day, data FROM register_days WHERE meter_id = ? AND day >= ? AND day <= ? ORDER BY day`,
		// Runs of one day add up: a second run of a complete day, which
		// reads nothing, or fails to reach the meter, keeps what the first
		// one collected.
		"putResult": `INSERT INTO collection_results(day, meter_id, segment, outcome, attempts, readings, complete, error, problems, at_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (day, meter_id) DO UPDATE SET segment = excluded.segment,
			attempts = collection_results.attempts + excluded.attempts,
			readings = collection_results.readings + excluded.readings,
			complete = CASE WHEN collection_results.complete <> 0 OR excluded.complete <> 0 THEN 1 ELSE 0 END,
			outcome = CASE WHEN collection_results.complete <> 0 AND excluded.outcome <> 'ok' THEN collection_results.outcome ELSE excluded.outcome END,
			error = CASE WHEN collection_results.complete <> 0 AND excluded.outcome <> 'ok' THEN collection_results.error ELSE excluded.error END,
			problems = CASE WHEN collection_results.complete <> 0 AND excluded.outcome <> 'ok' THEN collection_results.problems ELSE excluded.problems END,
			at_us = CASE WHEN collection_results.complete <> 0 AND excluded.outcome <> 'ok' THEN collection_results.at_us ELSE excluded.at_us END`,
		"insertControl": `INSERT INTO controls(` + controlCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (correlation_id) DO NOTHING`,
		"controlByCorrelation": `SELECT ` + controlCols + ` FROM controls WHERE correlation_id = ?`,
		"getControl":           `SELECT ` + controlCols + ` FROM controls WHERE mrid = ?`,
		"dueControls": `SELECT ` + controlCols + ` FROM controls WHERE status = 'queued' AND scheduled_us <= ?
			ORDER BY priority DESC, scheduled_us, created_us, mrid LIMIT ?`,
		// A decision names its user; a transition of the head-end's own
		// keeps the decider already recorded.
		"transition": `UPDATE controls SET status = ?, reason = ?, updated_us = ?,
			approved_by = CASE WHEN ? = '' THEN approved_by ELSE ? END WHERE mrid = ? AND status = ?`,
		"nextStep":   `SELECT COALESCE(MAX(seq), 0) + 1 FROM control_steps WHERE mrid = ?`,
		"insertStep": `INSERT INTO control_steps(mrid, seq, status, reason, at_us, actor) VALUES (?, ?, ?, ?, ?, ?)`,
		"steps":      `SELECT status, reason, at_us, actor FROM control_steps WHERE mrid = ? ORDER BY seq`,
	} {
		queries[k] = v
	}
}

const controlCols = "mrid, correlation_id, meter_id, type, priority, scheduled_us, expires_us, status, reason, parameters, created_us, updated_us, issued_by, approved_by, override_reason"

func needIDs(what string, ids ...string) error {
	for _, id := range ids {
		if id == "" {
			return fmt.Errorf("%s: meter and name are required", what)
		}
	}
	return nil
}

// PutMeterSecret implements store.HeadEnd.
func (s *DB) PutMeterSecret(ctx context.Context, meterID string, sealed []byte) error {
	if meterID == "" || len(sealed) == 0 {
		return errors.New("meter secret: meter and sealed bytes are required")
	}
	_, err := s.db.ExecContext(ctx, s.q["putSecret"], meterID, sealed, time.Now().UnixMicro())
	if err != nil {
		return fmt.Errorf("meter %s: storing secret: %w", meterID, err)
	}
	return nil
}

// MeterSecret implements store.HeadEnd.
func (s *DB) MeterSecret(ctx context.Context, meterID string) ([]byte, error) {
	var b []byte
	err := s.queryRow(ctx, s.q["getSecret"], meterID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("meter %s: secret: %w", meterID, store.ErrNotFound)
	}
	return b, err
}

// ReserveCounter implements store.HeadEnd.
// One reservation is one autocommitted statement, not a transaction: eight
// writers at once then queue on the write lock for microseconds, not for
// a BEGIN IMMEDIATE each.
func (s *DB) ReserveCounter(ctx context.Context, meterID, name string, n uint32) (uint64, error) {
	if err := needIDs("counter", meterID, name); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, errors.New("counter: reserve at least one value")
	}
	var v int64
	if err := s.queryRow(ctx, s.q["reserveCounter"], meterID, name, int64(n)).Scan(&v); err != nil {
		return 0, fmt.Errorf("meter %s: counter %s: %w", meterID, name, err)
	}
	return uint64(v) - uint64(n), nil
}

// ReserveCounters implements store.HeadEnd.
func (s *DB) ReserveCounters(ctx context.Context, rs []store.CounterReservation) ([]uint64, error) {
	for _, r := range rs {
		if err := needIDs("counter", r.MeterID, r.Name); err != nil {
			return nil, err
		}
		if r.N == 0 {
			return nil, fmt.Errorf("meter %s: counter %s: reserve at least one value", r.MeterID, r.Name)
		}
	}
	out := make([]uint64, len(rs))
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := s.txStmt(ctx, tx, s.q["reserveCounter"])
		if err != nil {
			return err
		}
		defer st.Close()
		for i, r := range rs {
			var v int64
			if err := st.QueryRowContext(rowContext(ctx), r.MeterID, r.Name, int64(r.N)).Scan(&v); err != nil {
				return fmt.Errorf("meter %s: counter %s: %w", r.MeterID, r.Name, err)
			}
			out[i] = uint64(v) - uint64(r.N)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AdvanceCounter implements store.HeadEnd.
func (s *DB) AdvanceCounter(ctx context.Context, meterID, name string, v uint64) (bool, error) {
	if err := needIDs("counter", meterID, name); err != nil {
		return false, err
	}
	if v > 1<<63-1 {
		return false, fmt.Errorf("meter %s: counter %s: value %d out of range", meterID, name, v)
	}
	res, err := s.db.ExecContext(ctx, s.q["advanceCounter"], meterID, name, int64(v))
	if err != nil {
		return false, fmt.Errorf("meter %s: counter %s: %w", meterID, name, err)
	}
	k, err := res.RowsAffected()
	return k > 0, err
}

// Cursor implements store.HeadEnd.
func (s *DB) Cursor(ctx context.Context, meterID, name string) (time.Time, error) {
	var us int64
	err := s.queryRow(ctx, s.q["getCursor"], meterID, name).Scan(&us)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMicro(us).UTC(), nil
}

// Cursors implements store.HeadEnd.
func (s *DB) Cursors(ctx context.Context, meterID string) ([]store.Cursor, error) {
	return queryAll(ctx, s, func(sc interface{ Scan(...any) error }) (store.Cursor, error) {
		c := store.Cursor{MeterID: meterID}
		var us int64
		err := sc.Scan(&c.Name, &us)
		c.At = time.UnixMicro(us).UTC()
		return c, err
	}, s.q["getCursors"], meterID)
}

// PutCursors implements store.HeadEnd.
func (s *DB) PutCursors(ctx context.Context, cs []store.Cursor) error {
	for _, c := range cs {
		if err := needIDs("cursor", c.MeterID, c.Name); err != nil {
			return err
		}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := s.txStmt(ctx, tx, s.q["putCursor"])
		if err != nil {
			return err
		}
		defer st.Close()
		for _, c := range cs {
			if _, err := st.ExecContext(rowContext(ctx), c.MeterID, c.Name, c.At.UnixMicro()); err != nil {
				return fmt.Errorf("meter %s: cursor %s: %w", c.MeterID, c.Name, err)
			}
		}
		return nil
	})
}

// PutRegisterReads implements store.HeadEnd.
func (s *DB) PutRegisterReads(ctx context.Context, rs []store.RegisterRead) (int, error) {
	for _, r := range rs {
		if r.MeterID == "" || r.ReadingType == "" || r.TimeStamp.IsZero() {
			return 0, errors.New("register read: meter, reading type and time are required")
		}
	}
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.putRegisterDays(ctx, tx, rs, false)
		return err
	})
	return n, err
}

// RegisterReads implements store.HeadEnd.
func (s *DB) RegisterReads(ctx context.Context, meterID, readingType string, from, to time.Time) ([]store.RegisterRead, error) {
	fromUS, toUS := from.UnixMicro(), to.UnixMicro()
	if toUS <= fromUS {
		return nil, nil
	}
	rows, err := s.QueryContext(ctx, s.q["registerDays"], meterID, registerDayOf(fromUS), registerDayOf(toUS-1))
	if err != nil {
		return nil, fmt.Errorf("meter %s: register reads: %w", meterID, err)
	}
	defer rows.Close()
	var out []store.RegisterRead
	var es []regEntry
	for rows.Next() {
		var day int64
		var blob []byte
		if err := rows.Scan(&day, &blob); err != nil {
			return nil, fmt.Errorf("meter %s: register reads: %w", meterID, err)
		}
		if es, err = decodeRegisterDay(es[:0], blob); err != nil {
			return nil, fmt.Errorf("meter %s: register reads: %w", meterID, err)
		}
		out = regDayReads(out, meterID, day, es, readingType, fromUS, toUS)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meter %s: register reads: %w", meterID, err)
	}
	// Days come in key order, each in order of time then type.
	return out, nil
}

// PutCollectionResults implements store.HeadEnd.
func (s *DB) PutCollectionResults(ctx context.Context, rs []store.CollectionResult) error {
	for _, r := range rs {
		if r.MeterID == "" || r.Day.IsZero() || r.Outcome == "" {
			return errors.New("collection result: day, meter and outcome are required")
		}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := s.txStmt(ctx, tx, s.q["putResult"])
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range rs {
			complete := 0
			if r.Complete {
				complete = 1
			}
			if _, err := st.ExecContext(rowContext(ctx), r.Day.String(), r.MeterID, r.Segment, r.Outcome, r.Attempts, r.Readings, complete,
				r.Error, r.Problems, r.At.UnixMicro()); err != nil {
				return fmt.Errorf("meter %s: collection result: %w", r.MeterID, err)
			}
		}
		return nil
	})
}

// CollectionSummary implements store.HeadEnd.
func (s *DB) CollectionSummary(ctx context.Context, day cim.Date, segment string) ([]store.CollectionSummary, error) {
	q := "SELECT segment, outcome, COUNT(*), SUM(complete), SUM(readings) FROM collection_results WHERE day = ?"
	args := []any{day.String()}
	if segment != "" {
		q += " AND segment = ?"
		args = append(args, segment)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(q+" GROUP BY segment, outcome ORDER BY segment, outcome"), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.CollectionSummary
	for rows.Next() {
		var seg, outcome string
		var n, complete, readings int64
		if err := rows.Scan(&seg, &outcome, &n, &complete, &readings); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Segment != seg {
			out = append(out, store.CollectionSummary{Segment: seg, Failed: map[string]int{}})
		}
		c := &out[len(out)-1]
		c.Total += int(n)
		c.Complete += int(complete)
		c.Readings += int(readings)
		if outcome == store.OutcomeOK {
			c.OK += int(n)
		} else {
			c.Failed[outcome] += int(n)
		}
	}
	return out, rows.Err()
}

// CollectionResults implements store.HeadEnd.
func (s *DB) CollectionResults(ctx context.Context, day cim.Date, segment, outcome, after string, limit int) ([]store.CollectionResult, error) {
	q := "SELECT meter_id, segment, outcome, attempts, readings, complete, error, problems, at_us FROM collection_results WHERE day = ? AND meter_id > ?"
	args := []any{day.String(), after}
	if segment != "" {
		q += " AND segment = ?"
		args = append(args, segment)
	}
	if outcome != "" {
		q += " AND outcome = ?"
		args = append(args, outcome)
	}
	if limit <= 0 {
		limit = 100
	}
	return queryAll(ctx, s.db, func(sc interface{ Scan(...any) error }) (store.CollectionResult, error) {
		r := store.CollectionResult{Day: day}
		var complete int
		var us int64
		err := sc.Scan(&r.MeterID, &r.Segment, &r.Outcome, &r.Attempts, &r.Readings, &complete, &r.Error, &r.Problems, &us)
		r.Complete, r.At = complete != 0, time.UnixMicro(us).UTC()
		return r, err
	}, s.rebind(q+" ORDER BY meter_id LIMIT "+strconv.Itoa(limit)), args...)
}

func scanControl(sc interface{ Scan(...any) error }) (cim.EndDeviceControl, error) {
	var c cim.EndDeviceControl
	var typ, status, params string
	var sched, exp, created, updated int64
	if err := sc.Scan(&c.MRID, &c.CorrelationID, &c.MeterID, &typ, &c.Priority, &sched, &exp, &status, &c.Reason, &params,
		&created, &updated, &c.IssuedBy, &c.ApprovedBy, &c.Override); err != nil {
		return c, err
	}
	c.Type, c.Status = cim.EndDeviceControlType(typ), cim.ControlStatus(status)
	c.ScheduledAt = time.UnixMicro(sched).UTC()
	if exp != 0 {
		c.ExpiresAt = time.UnixMicro(exp).UTC()
	}
	c.UpdatedAt = time.UnixMicro(updated).UTC()
	if params != "" && params != "null" {
		if err := json.Unmarshal([]byte(params), &c.Parameters); err != nil {
			return c, fmt.Errorf("command %s: parameters: %w", c.MRID, err)
		}
	}
	return c, nil
}

// IssueControl implements store.HeadEnd. A command issued without a
// scheduled time is due from its creation, which is stored as its
// scheduled time.
func (s *DB) IssueControl(ctx context.Context, c cim.EndDeviceControl) (cim.EndDeviceControl, bool, error) {
	if c.MRID == "" || c.CorrelationID == "" || c.MeterID == "" || c.Type == "" {
		return c, false, errors.New("command: mRID, correlation id, meter and type are required")
	}
	if c.Status == "" {
		c.Status = cim.ControlQueued
	}
	now := time.Now()
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = now
	}
	if c.ScheduledAt.IsZero() {
		c.ScheduledAt = c.UpdatedAt
	}
	params, err := json.Marshal(c.Parameters)
	if err != nil {
		return c, false, err
	}
	var exp int64
	if !c.ExpiresAt.IsZero() {
		exp = c.ExpiresAt.UnixMicro()
	}
	created := false
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q["insertControl"], c.MRID, c.CorrelationID, c.MeterID, string(c.Type), c.Priority,
			c.ScheduledAt.UnixMicro(), exp, string(c.Status), c.Reason, string(params), c.UpdatedAt.UnixMicro(), c.UpdatedAt.UnixMicro(),
			c.IssuedBy, c.ApprovedBy, c.Override)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return nil
		}
		created = true
		reason := "issued"
		if c.Reason != "" {
			reason = c.Reason
		}
		_, err = tx.ExecContext(ctx, s.q["insertStep"], c.MRID, 1, string(c.Status), reason, c.UpdatedAt.UnixMicro(), c.IssuedBy)
		return err
	})
	if err != nil && s.d.IsConflict != nil && s.d.IsConflict(err) {
		err, created = nil, false // the same mRID or correlation id raced in
	}
	if err != nil {
		return c, false, fmt.Errorf("command %s: %w", c.CorrelationID, err)
	}
	if created {
		got, err := s.Control(ctx, c.MRID)
		return got, err == nil, err
	}
	got, err := scanControl(s.db.QueryRowContext(ctx, s.q["controlByCorrelation"], c.CorrelationID))
	if err != nil {
		return c, false, fmt.Errorf("command %s: %w", c.CorrelationID, err)
	}
	return got, false, nil
}

// Control implements store.HeadEnd.
func (s *DB) Control(ctx context.Context, mrid string) (cim.EndDeviceControl, error) {
	c, err := scanControl(s.db.QueryRowContext(ctx, s.q["getControl"], mrid))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("command %s: %w", mrid, store.ErrNotFound)
	}
	return c, err
}

// Controls implements store.HeadEnd.
func (s *DB) Controls(ctx context.Context, q store.ControlQuery) ([]cim.EndDeviceControl, error) {
	var conds []string
	var args []any
	if q.MeterID != "" {
		conds = append(conds, "meter_id = ?")
		args = append(args, q.MeterID)
	}
	if q.Status != "" {
		conds = append(conds, "status = ?")
		args = append(args, string(q.Status))
	}
	where := ""
	if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	order := " ORDER BY created_us DESC, mrid"
	if q.OldestFirst {
		order = " ORDER BY created_us, mrid"
	}
	return queryAll(ctx, s.db, scanControl, s.rebind("SELECT "+controlCols+" FROM controls"+where+order+" LIMIT "+strconv.Itoa(limit)), args...)
}

// DueControls implements store.HeadEnd.
func (s *DB) DueControls(ctx context.Context, now time.Time, limit int) ([]cim.EndDeviceControl, error) {
	if limit <= 0 {
		limit = 100
	}
	return queryAll(ctx, s.db, scanControl, s.q["dueControls"], now.UnixMicro(), limit)
}

// TransitionControl implements store.HeadEnd.
func (s *DB) TransitionControl(ctx context.Context, mrid string, from, to cim.ControlStatus, reason string, at time.Time) error {
	return s.transitionControl(ctx, mrid, from, to, reason, "", at)
}

// DecideControl implements store.HeadEnd.
func (s *DB) DecideControl(ctx context.Context, mrid string, from, to cim.ControlStatus, by, reason string, at time.Time) error {
	if by == "" {
		return errors.New("command decision: the deciding user is required")
	}
	return s.transitionControl(ctx, mrid, from, to, reason, by, at)
}

func (s *DB) transitionControl(ctx context.Context, mrid string, from, to cim.ControlStatus, reason, actor string, at time.Time) error {
	if mrid == "" || to == "" {
		return errors.New("command transition: mRID and status are required")
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q["transition"], string(to), reason, at.UnixMicro(), actor, actor, mrid, string(from))
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			var st string
			err := tx.QueryRowContext(ctx, s.rebind("SELECT status FROM controls WHERE mrid = ?"), mrid).Scan(&st)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("command %s: %w", mrid, store.ErrNotFound)
			}
			if err != nil {
				return err
			}
			return fmt.Errorf("command %s is %s, not %s: %w", mrid, st, from, store.ErrConflict)
		}
		var seq int
		if err := tx.QueryRowContext(ctx, s.q["nextStep"], mrid).Scan(&seq); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q["insertStep"], mrid, seq, string(to), reason, at.UnixMicro(), actor)
		return err
	})
	return err
}

// ControlSteps implements store.HeadEnd.
func (s *DB) ControlSteps(ctx context.Context, mrid string) ([]store.ControlStep, error) {
	return queryAll(ctx, s.db, func(sc interface{ Scan(...any) error }) (store.ControlStep, error) {
		var st store.ControlStep
		var status string
		var us int64
		err := sc.Scan(&status, &st.Reason, &us, &st.Actor)
		st.Status, st.At = cim.ControlStatus(status), time.UnixMicro(us).UTC()
		return st, err
	}, s.q["steps"], mrid)
}
