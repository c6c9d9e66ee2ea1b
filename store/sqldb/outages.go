package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/amigo-ami/amigo/outage"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/topology"
)

const outageCols = `id, level, device, feeder, region, state, start_us, end_us, detected_us, confirmed_us, verified_us,
	customers, confidence, parent, planned, last_gasps, pings_failed, pings_ok`

func init() {
	queries["putOutage"] = `INSERT INTO outages(` + outageCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET level = excluded.level, device = excluded.device, feeder = excluded.feeder,
		region = excluded.region, state = excluded.state, start_us = excluded.start_us, end_us = excluded.end_us,
		detected_us = excluded.detected_us, confirmed_us = excluded.confirmed_us, verified_us = excluded.verified_us,
		customers = excluded.customers, confidence = excluded.confidence, parent = excluded.parent, planned = excluded.planned,
		last_gasps = excluded.last_gasps, pings_failed = excluded.pings_failed, pings_ok = excluded.pings_ok`
	queries["getOutage"] = `SELECT ` + outageCols + ` FROM outages WHERE id = ?`
	// The states arrive as one ",a,b," list so that one statement serves
	// any number of them on both engines.
	queries["listOutages"] = `SELECT ` + outageCols + ` FROM outages
		WHERE start_us < ? AND (end_us = 0 OR end_us > ?)
		AND (CAST(? AS TEXT) = '' OR device = ?) AND (CAST(? AS TEXT) = '' OR feeder = ?) AND (CAST(? AS TEXT) = '' OR region = ?)
		AND (CAST(? AS TEXT) = '' OR CAST(? AS TEXT) LIKE '%,' || state || ',%')
		AND (? = 0 OR end_us = 0)
		ORDER BY start_us DESC, id LIMIT ?`
}

// PutOutage implements store.Outages.
func (s *DB) PutOutage(ctx context.Context, e outage.Event) error {
	if e.ID == "" || e.Device == "" || e.State == "" || e.Start.IsZero() {
		return fmt.Errorf("outage %q: an id, a device, a state and a start are required", e.ID)
	}
	if !e.End.IsZero() && e.End.Before(e.Start) {
		return fmt.Errorf("outage %s of %s: ends at %s, before its start %s", e.ID, e.Device, e.End, e.Start)
	}
	if strings.Contains(string(e.State), ",") {
		return fmt.Errorf("outage %s: state %q has a comma", e.ID, e.State)
	}
	_, err := s.db.ExecContext(ctx, s.q["putOutage"], e.ID, string(e.Level), e.Device, e.Feeder, e.Region, string(e.State),
		us(e.Start), us(e.End), us(e.DetectedAt), us(e.ConfirmedAt), us(e.VerifiedAt),
		e.Customers, e.Confidence, e.Parent, b2i(e.Planned), e.LastGasps, e.PingsFailed, e.PingsOK)
	if err != nil {
		return fmt.Errorf("outage %s of %s: %w", e.ID, e.Device, err)
	}
	return nil
}

func scanOutage(r interface{ Scan(...any) error }) (outage.Event, error) {
	var e outage.Event
	var level, state string
	var start, end, detected, confirmed, verified int64
	var planned int
	if err := r.Scan(&e.ID, &level, &e.Device, &e.Feeder, &e.Region, &state, &start, &end, &detected, &confirmed, &verified,
		&e.Customers, &e.Confidence, &e.Parent, &planned, &e.LastGasps, &e.PingsFailed, &e.PingsOK); err != nil {
		return e, err
	}
	e.Level, e.State, e.Planned = topology.Level(level), outage.State(state), planned != 0
	e.Start, e.End, e.DetectedAt, e.ConfirmedAt, e.VerifiedAt = fromUS(start), fromUS(end), fromUS(detected), fromUS(confirmed), fromUS(verified)
	return e, nil
}

// Outage implements store.Outages.
func (s *DB) Outage(ctx context.Context, id string) (outage.Event, error) {
	e, err := scanOutage(s.queryRow(ctx, s.q["getOutage"], id))
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("outage %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("outage %s: %w", id, err)
	}
	return e, nil
}

// Outages implements store.Outages.
func (s *DB) Outages(ctx context.Context, q store.OutageQuery) ([]outage.Event, error) {
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if !q.From.IsZero() {
		from = q.From.UnixMicro()
	}
	if !q.To.IsZero() {
		to = q.To.UnixMicro()
	}
	states := ""
	if len(q.States) > 0 {
		var b strings.Builder
		b.WriteByte(',')
		for _, st := range q.States {
			b.WriteString(string(st))
			b.WriteByte(',')
		}
		states = b.String()
	}
	limit := int64(math.MaxInt32)
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	out, err := queryAll(ctx, s, scanOutage, s.q["listOutages"], to, from, q.Device, q.Device, q.Feeder, q.Feeder,
		q.Region, q.Region, states, states, b2i(q.Open), limit)
	if err != nil {
		return nil, fmt.Errorf("outages: %w", err)
	}
	return out, nil
}
