// Package sqldb owns the SQL that SQLite and PostgreSQL share: the schema
// and its versioned migrations, and the queries behind store.Store, written
// once in the common dialect of both and adapted by a small Dialect.
package sqldb

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
)

// Dialect is what differs between the engines.
type Dialect struct {
	Name string
	// Dollar placeholders ($1) instead of question marks.
	Dollar bool
	// Types substitutes the {{name}} type markers in the schema.
	Types map[string]string
	// IsConflict reports a unique-key violation.
	IsConflict func(error) bool
	// Lock serialises migrations across processes, where the engine needs
	// it; it returns the unlock function.
	Lock func(ctx context.Context, tx *sql.Tx) error
}

// DB is store.Store over database/sql.
type DB struct {
	db *sql.DB
	d  Dialect
	// Statements rebound once for the dialect.
	q map[string]string
	// stmts holds the statements prepared once: a query that runs
	// for every day ingested spent as long in the parser as in the lookup.
	stmts sync.Map // query → *sql.Stmt
	// topo keeps the grid version read last, decoded.
	topo topoCache
}

// stmt returns the prepared form of a query, preparing it on first use.
func (s *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// txStmt is query's prepared statement bound to tx: writes in a
// transaction skip the parser too.
//
// A statement not prepared yet is prepared on the transaction's own
// connection, not the database's: that would need a second connection
// while the transaction holds the write lock, and under load every other
// connection is held by a writer waiting for that very lock, which
// would give one up only when its wait timed out (SQLITE_BUSY after the
// busy timeout, seen as a store stalled for that long). The database's
// copy, for the transactions after this one, is prepared beside it once
// a connection is free.
func (s *DB) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt)), nil
	}
	// A failure here only means it is prepared again next time.
	go s.stmt(context.WithoutCancel(ctx), query)
	return tx.PrepareContext(ctx, query)
}

// rowContext is the context of one row's statement in a many-row write
// transaction. The SQLite driver watches a cancellable context with a
// goroutine per statement, and starting them was 5 % of a collection
// day's CPU; the transaction stays bound to the caller's context, and the
// loops check it between rows (rowContext does that too).
func rowContext(ctx context.Context) context.Context {
	if ctx.Err() != nil {
		return ctx // ended: the statement fails at once
	}
	return context.WithoutCancel(ctx)
}

// QueryContext runs a read query through its prepared statement.
func (s *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow is QueryRowContext through the prepared statement.
func (s *DB) queryRow(ctx context.Context, query string, args ...any) rowScanner {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return errRow{err}
	}
	// Every caller looks one row up by its key: too short to cancel.
	return st.QueryRowContext(rowContext(ctx), args...)
}

type rowScanner interface{ Scan(...any) error }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// querier is what queryAll reads through: the database, a transaction, or
// DB's statement cache.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// New wraps an open database and migrates it to the latest schema.
func New(ctx context.Context, db *sql.DB, d Dialect) (*DB, error) {
	s := &DB{db: db, d: d, q: map[string]string{}}
	for k, v := range queries {
		s.q[k] = s.rebind(v)
	}
	mctx, cancel := migrateContext(ctx)
	defer cancel()
	if err := s.migrate(mctx); err != nil {
		return nil, err
	}
	return s, nil
}

// MigrateTimeout bounds a schema migration. It is far longer than a
// connect timeout on purpose: the caller's deadline is for reaching the
// database, and a migration cut short by it on a loaded machine would
// leave a binary that cannot start at all, although nothing is wrong.
var MigrateTimeout = 30 * time.Minute

// migrateContext detaches a migration from the caller's deadline while
// keeping its cancellation, so that an operator's interrupt still stops it
// (the transaction then rolls back).
func migrateContext(ctx context.Context) (context.Context, context.CancelFunc) {
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), MigrateTimeout)
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.Canceled) {
			cancel()
		}
	})
	return mctx, func() { stop(); cancel() }
}

// SQL exposes the underlying database to the engine package, for engine-
// specific fast paths.
func (s *DB) SQL() *sql.DB { return s.db }

func (s *DB) rebind(q string) string {
	if !s.d.Dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Kind implements store.Store.
func (s *DB) Kind() string { return s.d.Name }

// Ping implements store.Store.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close implements store.Store.
func (s *DB) Close() error { return s.db.Close() }

// SchemaVersion implements store.Store.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v)
	return int(v.Int64), err
}

func (s *DB) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if s.d.Lock != nil {
		if err := s.d.Lock(ctx, tx); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_us BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var cur sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&cur); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if int(cur.Int64) > len(migrations) {
		return fmt.Errorf("migrate: database schema %d is newer than this binary knows (%d); upgrade amigo", cur.Int64, len(migrations))
	}
	for i, m := range migrations[cur.Int64:] {
		v := int(cur.Int64) + i + 1
		for _, stmt := range strings.Split(m.sql, ";\n") {
			stmt = strings.TrimSpace(s.types(stmt))
			if stmt == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migrate %d (%s): %w", v, m.name, err)
			}
		}
		if m.data != nil {
			if err := m.data(ctx, s, tx); err != nil {
				return fmt.Errorf("migrate %d (%s): %w", v, m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.rebind("INSERT INTO schema_migrations(version, name, applied_us) VALUES (?, ?, ?)"),
			v, m.name, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("migrate %d: %w", v, err)
		}
	}
	return tx.Commit()
}

func (s *DB) types(stmt string) string {
	for k, v := range s.d.Types {
		stmt = strings.ReplaceAll(stmt, "{{"+k+"}}", v)
	}
	return stmt
}

// PutUsagePoints implements store.Store.
func (s *DB) PutUsagePoints(ctx context.Context, ups ...cim.UsagePoint) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.writeUsagePoints(ctx, tx, ups) })
}

func (s *DB) writeUsagePoints(ctx context.Context, tx *sql.Tx, ups []cim.UsagePoint) error {
	if len(ups) == 0 {
		return nil
	}
	st, err := s.txStmt(ctx, tx, s.q["putUsagePoint"])
	if err != nil {
		return err
	}
	defer st.Close()
	for _, u := range ups {
		if u.MRID == "" {
			return errors.New("usage point without mRID")
		}
		if _, err := u.Location(); err != nil {
			return err
		}
		if _, err := st.ExecContext(rowContext(ctx), u.MRID, u.Name, int(u.ServiceCategory), u.TimeZone, u.TariffID, u.Protection); err != nil {
			return fmt.Errorf("usage point %s: %w", u.MRID, err)
		}
	}
	return nil
}

// UsagePoint implements store.Store.
func (s *DB) UsagePoint(ctx context.Context, mrid string) (cim.UsagePoint, error) {
	var u cim.UsagePoint
	var cat int
	err := s.queryRow(ctx, s.q["getUsagePoint"], mrid).Scan(&u.MRID, &u.Name, &cat, &u.TimeZone, &u.TariffID, &u.Protection)
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("usage point %s: %w", mrid, store.ErrNotFound)
	}
	u.ServiceCategory = cim.Commodity(cat)
	return u, err
}

// PutMeters implements store.Store.
func (s *DB) PutMeters(ctx context.Context, ms ...cim.Meter) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return s.writeMeters(ctx, tx, ms) })
}

func (s *DB) writeMeters(ctx context.Context, tx *sql.Tx, ms []cim.Meter) error {
	if len(ms) == 0 {
		return nil
	}
	now := time.Now().UnixMicro()
	st, err := s.txStmt(ctx, tx, s.q["putMeter"])
	if err != nil {
		return err
	}
	defer st.Close()
	for _, m := range ms {
		if m.MRID == "" {
			return errors.New("meter without mRID")
		}
		tags, err := json.Marshal(m.Tags)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(rowContext(ctx), m.MRID, m.SerialNumber, m.UsagePointID, m.Manufacturer, m.Model,
			m.Protocol, m.Address, m.Segment, m.Region, string(tags), m.Status, m.Kind, m.Archetype, m.Parent,
			m.PushID, m.ManifestID, m.Exposure, now); err != nil {
			return fmt.Errorf("meter %s: %w", m.MRID, err)
		}
	}
	return nil
}

// PutRegistry implements store.Store.
func (s *DB) PutRegistry(ctx context.Context, b store.RegistryBatch) error {
	for _, x := range b.Secrets {
		if x.MeterID == "" || len(x.Sealed) == 0 {
			return errors.New("meter secret: meter and sealed bytes are required")
		}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.writeUsagePoints(ctx, tx, b.UsagePoints); err != nil {
			return err
		}
		if err := s.writeMeters(ctx, tx, b.Meters); err != nil {
			return err
		}
		if len(b.Secrets) == 0 {
			return nil
		}
		st, err := s.txStmt(ctx, tx, s.q["putSecret"])
		if err != nil {
			return err
		}
		defer st.Close()
		now := time.Now().UnixMicro()
		for _, x := range b.Secrets {
			if _, err := st.ExecContext(rowContext(ctx), x.MeterID, x.Sealed, now); err != nil {
				return fmt.Errorf("meter %s: storing secret: %w", x.MeterID, err)
			}
		}
		return nil
	})
}

const meterCols = "mrid, serial, usage_point, manufacturer, model, protocol, address, segment, region, tags, status, " +
	"kind, archetype, parent, push_id, manifest_id, exposure"

func scanMeter(sc interface{ Scan(...any) error }) (cim.Meter, error) {
	var m cim.Meter
	var tags string
	if err := sc.Scan(&m.MRID, &m.SerialNumber, &m.UsagePointID, &m.Manufacturer, &m.Model, &m.Protocol,
		&m.Address, &m.Segment, &m.Region, &tags, &m.Status, &m.Kind, &m.Archetype, &m.Parent, &m.PushID,
		&m.ManifestID, &m.Exposure); err != nil {
		return m, err
	}
	if tags != "" && tags != "null" {
		if err := json.Unmarshal([]byte(tags), &m.Tags); err != nil {
			return m, fmt.Errorf("meter %s: tags: %w", m.MRID, err)
		}
	}
	return m, nil
}

// schemaTags are the tags a head-end once wrote a meter's schema into,
// by the column each moved to; parent_meter_id and mbus_channel were the
// DLMS driver's and are its credentials' now.
var schemaTags = map[string]string{"kind": "kind", "archetype": "archetype", "parent": "parent",
	"system_title": "push_id", "meter_id": "manifest_id", "parent_meter_id": "", "mbus_channel": ""}

// untagMeters moves the schema's tags of every meter into their columns,
// leaving an operator's own tags where they are.
func untagMeters(ctx context.Context, s *DB, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT mrid, tags FROM meters WHERE tags <> '' AND tags <> 'null' AND tags <> '{}'")
	if err != nil {
		return err
	}
	type moved struct {
		mrid, tags string
		cols       map[string]string
	}
	var ms []moved
	for rows.Next() {
		var mrid, raw string
		if err := rows.Scan(&mrid, &raw); err != nil {
			rows.Close()
			return err
		}
		var tags map[string]string
		if err := json.Unmarshal([]byte(raw), &tags); err != nil {
			rows.Close()
			return fmt.Errorf("meter %s: tags: %w", mrid, err)
		}
		m := moved{mrid: mrid, cols: map[string]string{}}
		for k, col := range schemaTags {
			if v, ok := tags[k]; ok {
				if col != "" {
					m.cols[col] = v
				}
				delete(tags, k)
			}
		}
		if len(tags) > 0 {
			b, _ := json.Marshal(tags)
			m.tags = string(b)
		}
		ms = append(ms, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	up := s.rebind("UPDATE meters SET tags = ?, kind = ?, archetype = ?, parent = ?, push_id = ?, manifest_id = ? WHERE mrid = ?")
	for _, m := range ms {
		if _, err := tx.ExecContext(ctx, up, m.tags, m.cols["kind"], m.cols["archetype"], m.cols["parent"],
			m.cols["push_id"], m.cols["manifest_id"], m.mrid); err != nil {
			return fmt.Errorf("meter %s: %w", m.mrid, err)
		}
	}
	return nil
}

// Meter implements store.Store.
func (s *DB) Meter(ctx context.Context, mrid string) (cim.Meter, error) {
	m, err := scanMeter(s.queryRow(ctx, s.q["getMeter"], mrid))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("meter %s: %w", mrid, store.ErrNotFound)
	}
	return m, err
}

func (s *DB) meterWhere(q store.MeterQuery) (string, []any) {
	var conds []string
	var args []any
	add := func(col, v string) {
		if v != "" {
			conds = append(conds, col+" = ?")
			args = append(args, v)
		}
	}
	add("segment", q.Segment)
	add("region", q.Region)
	add("status", q.Status)
	add("usage_point", q.UsagePointID)
	add("protocol", q.Protocol)
	add("parent", q.Parent)
	if q.After != "" {
		conds = append(conds, "mrid > ?")
		args = append(args, q.After)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Meters implements store.Store.
func (s *DB) Meters(ctx context.Context, q store.MeterQuery) ([]cim.Meter, error) {
	where, args := s.meterWhere(q)
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, s.rebind("SELECT "+meterCols+" FROM meters"+where+" ORDER BY mrid LIMIT "+strconv.Itoa(limit)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []cim.Meter
	for rows.Next() {
		m, err := scanMeter(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// CountMeters implements store.Store.
func (s *DB) CountMeters(ctx context.Context, q store.MeterQuery) (int, error) {
	q.After = ""
	where, args := s.meterWhere(q)
	var n int
	err := s.db.QueryRowContext(ctx, s.rebind("SELECT COUNT(*) FROM meters"+where), args...).Scan(&n)
	return n, err
}

// PutDays implements store.Store.
func (s *DB) PutDays(ctx context.Context, days []interval.Day) ([]int, error) {
	ws, err := s.writeDays(ctx, days, nil)
	if err != nil {
		return nil, err
	}
	vs := make([]int, len(ws))
	for i, w := range ws {
		vs[i] = w.Version
	}
	return vs, nil
}

// PutDaysIfLatest implements store.Store.
func (s *DB) PutDaysIfLatest(ctx context.Context, days []interval.Day, bases []int) ([]store.DayWrite, error) {
	if len(bases) != len(days) {
		return nil, fmt.Errorf("put days: %d bases for %d days", len(bases), len(days))
	}
	return s.writeDays(ctx, days, bases)
}

// writeDays writes days as new versions; with bases, only over them.
func (s *DB) writeDays(ctx context.Context, days []interval.Day, bases []int) ([]store.DayWrite, error) {
	for _, d := range days {
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("meter %s channel %s %s: %w", d.MeterID, d.Channel, d.Date, err)
		}
	}
	ws := make([]store.DayWrite, len(days))
	// Rows are written in key order, so that two writers of overlapping
	// batches (MDM nodes sharing a redelivery) wait on each other's unique
	// keys in the same order instead of deadlocking.
	order := make([]int, len(days))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		x, y := days[a], days[b]
		return cmp.Or(cmp.Compare(x.MeterID, y.MeterID), cmp.Compare(x.Channel, y.Channel),
			cmp.Compare(x.Date.Year, y.Date.Year), cmp.Compare(x.Date.Month, y.Date.Month), cmp.Compare(x.Date.Day, y.Date.Day))
	})
	// A concurrent writer of the same day can take the version we chose;
	// the unique key catches it and the whole batch is retried. Each
	// round lets one of the racing writers through, so n writers of one
	// day need up to n rounds; a short random wait keeps them from
	// colliding in step.
	var err error
	for attempt := 0; attempt < 32; attempt++ {
		clear(ws)
		err = s.inTx(ctx, func(tx *sql.Tx) error { return s.putDays(ctx, tx, days, order, bases, ws) })
		if err == nil || s.d.IsConflict == nil || !s.d.IsConflict(err) {
			return ws, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(rand.IntN(1000*(attempt+1))) * time.Microsecond):
		}
	}
	return nil, err
}

// putDays writes days in the order of their indexes in order.
func (s *DB) putDays(ctx context.Context, tx *sql.Tx, days []interval.Day, order []int, bases []int, ws []store.DayWrite) error {
	latest, err := s.txStmt(ctx, tx, s.q["latestDayBlob"])
	if err != nil {
		return err
	}
	defer latest.Close()
	ins, err := s.txStmt(ctx, tx, s.q["insertDay"])
	if err != nil {
		return err
	}
	defer ins.Close()
	now := time.Now().UnixMicro()
	var buf []byte
	for _, i := range order {
		d := days[i]
		buf = interval.EncodeDay(buf[:0], d.Values, d.Quality)
		var v int
		var blob []byte
		var startUS, intervalS int64
		err := latest.QueryRowContext(rowContext(ctx), d.MeterID, d.Channel, d.Date.String()).Scan(&v, &blob, &startUS, &intervalS)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case string(blob) == string(buf) && startUS == d.Start.UnixMicro() && intervalS == int64(d.Interval/time.Second):
			ws[i].Version = v
			continue
		}
		if bases != nil && v != bases[i] {
			ws[i] = store.DayWrite{Version: v, Stale: true}
			continue
		}
		src := d.Source
		if src == "" {
			src = interval.SourceMeter
		}
		if _, err := ins.ExecContext(rowContext(ctx), d.MeterID, d.Channel, d.Date.String(), v+1, d.Start.UnixMicro(),
			int64(d.Interval/time.Second), len(d.Values), buf, string(src), d.Reason, d.User, now); err != nil {
			return err
		}
		ws[i].Version = v + 1
	}
	return nil
}

const dayCols = "meter_id, channel, day, version, start_us, interval_s, data, source, reason, user_name, created_us"

func scanDay(sc interface{ Scan(...any) error }) (interval.Day, error) {
	var d interval.Day
	var day string
	var startUS, intervalS, createdUS int64
	var blob []byte
	var src string
	if err := sc.Scan(&d.MeterID, &d.Channel, &day, &d.Version, &startUS, &intervalS, &blob, &src, &d.Reason, &d.User, &createdUS); err != nil {
		return d, err
	}
	var err error
	if d.Date, err = cim.ParseDate(day); err != nil {
		return d, err
	}
	d.Start = time.UnixMicro(startUS).UTC()
	d.Interval = time.Duration(intervalS) * time.Second
	d.CreatedAt = time.UnixMicro(createdUS).UTC()
	d.Source = interval.Source(src)
	if d.Values, d.Quality, err = interval.DecodeDay(blob); err != nil {
		return d, fmt.Errorf("meter %s channel %s %s v%d: %w", d.MeterID, d.Channel, day, d.Version, err)
	}
	return d, nil
}

// Day implements store.Store.
func (s *DB) Day(ctx context.Context, meterID, channel string, date cim.Date) (interval.Day, error) {
	d, err := scanDay(s.queryRow(ctx, s.q["getDay"], meterID, channel, date.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("meter %s channel %s %s: %w", meterID, channel, date, store.ErrNotFound)
	}
	return d, err
}

// queryAll runs a query and scans every row.
func queryAll[T any](ctx context.Context, db querier, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DayVersions implements store.Store.
func (s *DB) DayVersions(ctx context.Context, meterID, channel string, date cim.Date) ([]interval.Day, error) {
	return queryAll(ctx, s, scanDay, s.q["dayVersions"], meterID, channel, date.String())
}

// Days implements store.Store.
func (s *DB) Days(ctx context.Context, meterID, channel string, from, to cim.Date) ([]interval.Day, error) {
	return queryAll(ctx, s, scanDay, s.q["daysRange"], meterID, channel, from.String(), to.String())
}

// AppendEvents implements store.Store.
func (s *DB) AppendEvents(ctx context.Context, evs []cim.EndDeviceEvent) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		st, err := s.txStmt(ctx, tx, s.q["insertEvent"])
		if err != nil {
			return err
		}
		defer st.Close()
		for _, e := range evs {
			if e.MRID == "" || e.MeterID == "" {
				return errors.New("event needs an mRID and a meter")
			}
			det, err := json.Marshal(e.Details)
			if err != nil {
				return err
			}
			res, err := st.ExecContext(rowContext(ctx), e.MRID, e.MeterID, string(e.Type), e.CreatedAt.UnixMicro(), e.Code, e.Reason, e.Severity, string(det))
			if err != nil {
				return fmt.Errorf("event %s: %w", e.MRID, err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

// eventWhere is the WHERE clause of an event listing's filters; with the
// page cursor too when paged.
func eventWhere(q store.EventQuery, paged bool) (string, []any) {
	var conds []string
	var args []any
	if q.MeterID != "" {
		conds = append(conds, "meter_id = ?")
		args = append(args, q.MeterID)
	}
	if q.Type != "" {
		conds = append(conds, "type = ?")
		args = append(args, string(q.Type))
	}
	if len(q.Types) > 0 {
		conds = append(conds, "type IN (?"+strings.Repeat(", ?", len(q.Types)-1)+")")
		for _, t := range q.Types {
			args = append(args, string(t))
		}
	}
	if q.Severity != "" {
		conds = append(conds, "severity = ?")
		args = append(args, q.Severity)
	}
	if !q.From.IsZero() {
		conds = append(conds, "created_us >= ?")
		args = append(args, q.From.UnixMicro())
	}
	if !q.To.IsZero() {
		conds = append(conds, "created_us < ?")
		args = append(args, q.To.UnixMicro())
	}
	if paged && !q.AfterAt.IsZero() {
		// Spelt out rather than as a row comparison, since the order is
		// descending in time and ascending in mRID; the bare bound on
		// created_us lets the index skip the pages before.
		us := q.AfterAt.UnixMicro()
		conds = append(conds, "created_us <= ? AND (created_us < ? OR mrid > ?)")
		args = append(args, us, us, q.AfterMRID)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Events implements store.Store.
func (s *DB) Events(ctx context.Context, q store.EventQuery) ([]cim.EndDeviceEvent, error) {
	where, args := eventWhere(q, true)
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.QueryContext(ctx, s.rebind("SELECT mrid, meter_id, type, created_us, code, reason, severity, details FROM events"+
		where+" ORDER BY created_us DESC, mrid LIMIT ?"), append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []cim.EndDeviceEvent
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CountEvents implements store.Store.
func (s *DB) CountEvents(ctx context.Context, q store.EventQuery) (int, error) {
	where, args := eventWhere(q, false)
	var n int
	err := s.queryRow(ctx, s.rebind("SELECT COUNT(*) FROM events"+where), args...).Scan(&n)
	return n, err
}

// inTxRetry is inTx, run again when the engine says another writer was
// in the way (a unique key taken, or SQLite's lock held past its busy
// timeout by a queue of writers): the transaction rolled back whole, so
// running it again is safe.
func (s *DB) inTxRetry(ctx context.Context, fn func(*sql.Tx) error) error {
	var err error
	for attempt := 0; attempt < 32; attempt++ {
		err = s.inTx(ctx, fn)
		if err == nil || s.d.IsConflict == nil || !s.d.IsConflict(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(rand.IntN(1000*(attempt+1))) * time.Microsecond):
		}
	}
	return err
}

func (s *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
