package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/store"
)

const (
	drProgramCols = `id, name, kind, notice_s, randomize_s, baseline, adjust, incentive, currency, floor_w, approval, created_us`
	drEventCols   = `id, program_id, start_us, end_us, threshold_w, price, currency, relay, status, source, created_by, approved_by, reason, created_us, updated_us`
	drPartCols    = `event_id, usage_point, meter_id, start_offset_ms, end_offset_ms, notified_us, opted_out_us, dispatched_us, countermanded_us`
)

// drStampCols are the columns of the participation times, by stamp.
var drStampCols = map[store.DRStamp]string{
	store.DRNotified:      "notified_us",
	store.DROptedOut:      "opted_out_us",
	store.DRDispatched:    "dispatched_us",
	store.DRCountermanded: "countermanded_us",
}

func init() {
	queries["putDRProgram"] = `INSERT INTO dr_programs(` + drProgramCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, notice_s = excluded.notice_s,
		randomize_s = excluded.randomize_s, baseline = excluded.baseline, adjust = excluded.adjust, incentive = excluded.incentive,
		currency = excluded.currency, floor_w = excluded.floor_w, approval = excluded.approval`
	queries["getDRProgram"] = `SELECT ` + drProgramCols + ` FROM dr_programs WHERE id = ?`
	queries["listDRPrograms"] = `SELECT ` + drProgramCols + ` FROM dr_programs ORDER BY id`
	queries["putDREnrolment"] = `INSERT INTO dr_enrolments(program_id, usage_point, meter_id, from_us, until_us) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (program_id, usage_point) DO UPDATE SET meter_id = excluded.meter_id, from_us = excluded.from_us, until_us = excluded.until_us`
	queries["listDREnrolments"] = `SELECT program_id, usage_point, meter_id, from_us, until_us FROM dr_enrolments WHERE program_id = ? ORDER BY usage_point`
	queries["insertDREvent"] = `INSERT INTO dr_events(` + drEventCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`
	queries["insertDRPart"] = `INSERT INTO dr_participations(` + drPartCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (event_id, usage_point) DO NOTHING`
	queries["getDREvent"] = `SELECT ` + drEventCols + ` FROM dr_events WHERE id = ?`
	queries["listDREvents"] = `SELECT ` + drEventCols + ` FROM dr_events
		WHERE (? = '' OR program_id = ?) AND (? = '' OR status = ?) AND start_us >= ? AND start_us < ?
		ORDER BY start_us, id LIMIT ?`
	queries["moveDREvent"] = `UPDATE dr_events SET status = ?, approved_by = CASE WHEN ? = '' THEN approved_by ELSE ? END,
		reason = ?, updated_us = ? WHERE id = ? AND status = ?`
	queries["listDRParts"] = `SELECT ` + drPartCols + ` FROM dr_participations WHERE event_id = ? ORDER BY usage_point`
	queries["listDRPartsOf"] = `SELECT p.event_id, p.usage_point, p.meter_id, p.start_offset_ms, p.end_offset_ms, p.notified_us, p.opted_out_us,
		p.dispatched_us, p.countermanded_us FROM dr_participations p JOIN dr_events e ON e.id = p.event_id
		WHERE p.usage_point = ? ORDER BY e.start_us DESC, e.id LIMIT ?`
	for stamp, col := range drStampCols {
		queries["stampDRPart/"+string(stamp)] = `UPDATE dr_participations SET ` + col + ` = ? WHERE event_id = ? AND usage_point = ? AND ` + col + ` = 0`
	}
}

// PutDRProgram implements store.DemandResponse.
func (s *DB) PutDRProgram(ctx context.Context, p store.DRProgram) error {
	if p.ID == "" {
		return errors.New("dr program: an id is required")
	}
	_, err := s.db.ExecContext(ctx, s.q["putDRProgram"], p.ID, p.Name, p.Kind, int64(p.Notice/time.Second), int64(p.Randomize/time.Second),
		p.Baseline, b2i(p.Adjust), p.Incentive, p.Currency, p.FloorW, b2i(p.Approval), us(p.CreatedAt))
	if err != nil {
		return fmt.Errorf("dr program %s: %w", p.ID, err)
	}
	return nil
}

func scanDRProgram(r interface{ Scan(...any) error }) (store.DRProgram, error) {
	var p store.DRProgram
	var notice, rnd, created int64
	var adjust, approval int
	if err := r.Scan(&p.ID, &p.Name, &p.Kind, &notice, &rnd, &p.Baseline, &adjust, &p.Incentive, &p.Currency, &p.FloorW, &approval, &created); err != nil {
		return p, err
	}
	p.Notice, p.Randomize = time.Duration(notice)*time.Second, time.Duration(rnd)*time.Second
	p.Adjust, p.Approval, p.CreatedAt = adjust != 0, approval != 0, fromUS(created)
	return p, nil
}

// DRProgram implements store.DemandResponse.
func (s *DB) DRProgram(ctx context.Context, id string) (store.DRProgram, error) {
	p, err := scanDRProgram(s.queryRow(ctx, s.q["getDRProgram"], id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("dr program %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("dr program %s: %w", id, err)
	}
	return p, nil
}

// DRPrograms implements store.DemandResponse.
func (s *DB) DRPrograms(ctx context.Context) ([]store.DRProgram, error) {
	out, err := queryAll(ctx, s, scanDRProgram, s.q["listDRPrograms"])
	if err != nil {
		return nil, fmt.Errorf("dr programs: %w", err)
	}
	return out, nil
}

// PutDREnrolment implements store.DemandResponse.
func (s *DB) PutDREnrolment(ctx context.Context, e store.DREnrolment) error {
	if e.ProgramID == "" || e.UsagePointID == "" || e.MeterID == "" {
		return errors.New("dr enrolment: a program, a usage point and a meter are required")
	}
	if _, err := s.db.ExecContext(ctx, s.q["putDREnrolment"], e.ProgramID, e.UsagePointID, e.MeterID, us(e.From), us(e.Until)); err != nil {
		return fmt.Errorf("dr enrolment of usage point %s in program %s: %w", e.UsagePointID, e.ProgramID, err)
	}
	return nil
}

// DREnrolments implements store.DemandResponse.
func (s *DB) DREnrolments(ctx context.Context, programID string) ([]store.DREnrolment, error) {
	out, err := queryAll(ctx, s, func(r interface{ Scan(...any) error }) (store.DREnrolment, error) {
		var e store.DREnrolment
		var from, until int64
		err := r.Scan(&e.ProgramID, &e.UsagePointID, &e.MeterID, &from, &until)
		e.From, e.Until = fromUS(from), fromUS(until)
		return e, err
	}, s.q["listDREnrolments"], programID)
	if err != nil {
		return nil, fmt.Errorf("dr enrolments of program %s: %w", programID, err)
	}
	return out, nil
}

// CreateDREvent implements store.DemandResponse.
func (s *DB) CreateDREvent(ctx context.Context, e store.DREvent, parts []store.DRParticipation) (store.DREvent, bool, error) {
	if e.ID == "" || e.ProgramID == "" || e.Status == "" {
		return e, false, errors.New("dr event: an id, a program and a status are required")
	}
	created := false
	err := s.inTxRetry(ctx, func(tx *sql.Tx) error {
		st, err := s.txStmt(ctx, tx, s.q["insertDREvent"])
		if err != nil {
			return err
		}
		res, err := st.ExecContext(ctx, e.ID, e.ProgramID, us(e.Start), us(e.End), e.ThresholdW, e.Price, e.Currency, e.Relay,
			e.Status, e.Source, e.CreatedBy, e.ApprovedBy, e.Reason, us(e.CreatedAt), us(e.UpdatedAt))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if created = n == 1; !created {
			return nil
		}
		ps, err := s.txStmt(ctx, tx, s.q["insertDRPart"])
		if err != nil {
			return err
		}
		for _, p := range parts {
			if _, err := ps.ExecContext(rowContext(ctx), e.ID, p.UsagePointID, p.MeterID, p.StartOffset.Milliseconds(), p.EndOffset.Milliseconds(),
				us(p.NotifiedAt), us(p.OptedOutAt), us(p.DispatchedAt), us(p.CountermandedAt)); err != nil {
				return fmt.Errorf("usage point %s: %w", p.UsagePointID, err)
			}
		}
		return nil
	})
	if err != nil {
		return e, false, fmt.Errorf("dr event %s: %w", e.ID, err)
	}
	got, err := s.DREvent(ctx, e.ID)
	return got, created, err
}

func scanDREvent(r interface{ Scan(...any) error }) (store.DREvent, error) {
	var e store.DREvent
	var start, end, created, updated int64
	err := r.Scan(&e.ID, &e.ProgramID, &start, &end, &e.ThresholdW, &e.Price, &e.Currency, &e.Relay, &e.Status, &e.Source,
		&e.CreatedBy, &e.ApprovedBy, &e.Reason, &created, &updated)
	e.Start, e.End, e.CreatedAt, e.UpdatedAt = fromUS(start), fromUS(end), fromUS(created), fromUS(updated)
	return e, err
}

// DREvent implements store.DemandResponse.
func (s *DB) DREvent(ctx context.Context, id string) (store.DREvent, error) {
	e, err := scanDREvent(s.queryRow(ctx, s.q["getDREvent"], id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("dr event %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("dr event %s: %w", id, err)
	}
	return e, nil
}

// DREvents implements store.DemandResponse.
func (s *DB) DREvents(ctx context.Context, q store.DREventQuery) ([]store.DREvent, error) {
	from, until := int64(-1<<62), int64(1<<62)
	if !q.From.IsZero() {
		from = q.From.UnixMicro()
	}
	if !q.Until.IsZero() {
		until = q.Until.UnixMicro()
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 1 << 30
	}
	out, err := queryAll(ctx, s, scanDREvent, s.q["listDREvents"], q.ProgramID, q.ProgramID, q.Status, q.Status, from, until, limit)
	if err != nil {
		return nil, fmt.Errorf("dr events: %w", err)
	}
	return out, nil
}

// MoveDREvent implements store.DemandResponse.
func (s *DB) MoveDREvent(ctx context.Context, id, from, to, approvedBy, reason string, at time.Time) (store.DREvent, error) {
	res, err := s.db.ExecContext(ctx, s.q["moveDREvent"], to, approvedBy, approvedBy, reason, us(at), id, from)
	if err != nil {
		return store.DREvent{}, fmt.Errorf("dr event %s: %s to %s: %w", id, from, to, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return store.DREvent{}, fmt.Errorf("dr event %s: %s to %s: %w", id, from, to, err)
	}
	e, err := s.DREvent(ctx, id)
	if err != nil {
		return e, err
	}
	if n == 0 {
		return e, fmt.Errorf("dr event %s is %s, not %s: %w", id, e.Status, from, store.ErrConflict)
	}
	return e, nil
}

func scanDRPart(r interface{ Scan(...any) error }) (store.DRParticipation, error) {
	var p store.DRParticipation
	var so, eo, n, o, d, c int64
	err := r.Scan(&p.EventID, &p.UsagePointID, &p.MeterID, &so, &eo, &n, &o, &d, &c)
	p.StartOffset, p.EndOffset = time.Duration(so)*time.Millisecond, time.Duration(eo)*time.Millisecond
	p.NotifiedAt, p.OptedOutAt, p.DispatchedAt, p.CountermandedAt = fromUS(n), fromUS(o), fromUS(d), fromUS(c)
	return p, err
}

// DRParticipations implements store.DemandResponse.
func (s *DB) DRParticipations(ctx context.Context, eventID string) ([]store.DRParticipation, error) {
	out, err := queryAll(ctx, s, scanDRPart, s.q["listDRParts"], eventID)
	if err != nil {
		return nil, fmt.Errorf("dr participations of event %s: %w", eventID, err)
	}
	return out, nil
}

// DRParticipationsOf implements store.DemandResponse.
func (s *DB) DRParticipationsOf(ctx context.Context, usagePoint string, limit int) ([]store.DRParticipation, error) {
	if limit <= 0 {
		limit = 100
	}
	out, err := queryAll(ctx, s, scanDRPart, s.q["listDRPartsOf"], usagePoint, limit)
	if err != nil {
		return nil, fmt.Errorf("dr participations of usage point %s: %w", usagePoint, err)
	}
	return out, nil
}

// StampDRParticipations implements store.DemandResponse.
func (s *DB) StampDRParticipations(ctx context.Context, eventID string, stamp store.DRStamp, at time.Time, usagePoints []string) ([]string, error) {
	q, ok := s.q["stampDRPart/"+string(stamp)]
	if !ok {
		return nil, fmt.Errorf("dr participations of event %s: unknown stamp %q", eventID, stamp)
	}
	if at.IsZero() {
		return nil, fmt.Errorf("dr participations of event %s: %s without a time", eventID, stamp)
	}
	var set []string
	err := s.inTxRetry(ctx, func(tx *sql.Tx) error {
		set = set[:0]
		st, err := s.txStmt(ctx, tx, q)
		if err != nil {
			return err
		}
		for _, up := range usagePoints {
			res, err := st.ExecContext(rowContext(ctx), us(at), eventID, up)
			if err != nil {
				return fmt.Errorf("usage point %s: %w", up, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				set = append(set, up)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dr participations of event %s: %s: %w", eventID, stamp, err)
	}
	return set, nil
}

var _ store.DemandResponse = (*DB)(nil)
