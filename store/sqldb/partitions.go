package sqldb

// In PostgreSQL interval_days is partitioned by month of its day column,
// so that a month past the retention goes as one DROP TABLE instead of
// millions of deleted rows (and the vacuum they would leave), and so that
// a query over a few days reads only their months' indexes. SQLite keeps
// one plain table and deletes expired rows.
//
// Every month has its own partition, interval_days_yYYYYmMM, bounded
// [YYYY-MM-01, first of next month); interval_days_default catches any
// row whose month has no partition yet, so a write never fails for want
// of one. Maintain makes the coming months ahead of time and moves what
// the default caught into its month's partition.

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/store"
)

const (
	// daysDefault is the catch-all partition.
	daysDefault = "interval_days_default"
	// monthsAhead is how many months after the current one are made ahead
	// of their readings, so that a maintenance run missed for a while
	// still leaves the default partition empty.
	monthsAhead = 3
	// partitionLock is an advisory-lock key that keeps two nodes from
	// maintaining the partitions at once.
	partitionLock = 0x616d69676f01
	// dayRowCols is interval_days' every column, in the order the table
	// declares them.
	dayRowCols = `meter_id, channel, day, version, start_us, interval_s, n, data, source, reason, user_name, created_us`
	// wellFormedDay matches the days a month partition can hold; anything
	// else stays in the default partition.
	wellFormedDay = `'^[0-9]{4}-[0-9]{2}-[0-9]{2}$'`
)

// The day column compares byte by byte (COLLATE "C"): its values are
// ISO dates, whose byte order is their time order, and a partition's
// bounds hold only under the collation the queries compare with.
const partitionedDaysDDL = `CREATE TABLE interval_days (
	meter_id TEXT NOT NULL,
	channel TEXT NOT NULL,
	day TEXT COLLATE "C" NOT NULL,
	version INTEGER NOT NULL,
	start_us BIGINT NOT NULL,
	interval_s INTEGER NOT NULL,
	n INTEGER NOT NULL,
	data BYTEA NOT NULL,
	source TEXT NOT NULL,
	reason TEXT NOT NULL DEFAULT '',
	user_name TEXT NOT NULL DEFAULT '',
	created_us BIGINT NOT NULL,
	PRIMARY KEY (meter_id, channel, day, version)
) PARTITION BY RANGE (day)`

// partitionDays is the migration that turns a plain interval_days into
// the partitioned one, keeping every row, in the migration's transaction.
// It does nothing on SQLite or on a table already partitioned.
func partitionDays(ctx context.Context, s *DB, tx *sql.Tx) error {
	if s.d.Name != "postgres" {
		return nil
	}
	done, err := daysPartitioned(ctx, tx)
	if err != nil || done {
		return err
	}
	// The new table takes the old one's name, and its primary key index
	// the old index's name.
	for _, stmt := range []string{
		`ALTER TABLE interval_days RENAME TO interval_days_unpartitioned`,
		`ALTER INDEX interval_days_pkey RENAME TO interval_days_unpartitioned_pkey`,
		partitionedDaysDDL,
		`CREATE TABLE ` + daysDefault + ` PARTITION OF interval_days DEFAULT`,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("partition interval days: %w", err)
		}
	}
	months, err := queryMonths(ctx, tx, `SELECT DISTINCT substr(day, 1, 7) FROM interval_days_unpartitioned WHERE day ~ `+wellFormedDay)
	if err != nil {
		return fmt.Errorf("partition interval days: months present: %w", err)
	}
	months = append(months, comingMonths(time.Now())...)
	slices.Sort(months)
	for _, m := range slices.Compact(months) {
		lo, hi, err := monthBounds(m)
		if err != nil {
			continue // not a month: its rows stay in the default partition
		}
		// The default partition is empty yet: each month is made in place.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE %s PARTITION OF interval_days FOR VALUES FROM ('%s') TO ('%s')`,
			partitionName(m), lo, hi)); err != nil {
			return fmt.Errorf("partition interval days: month %s: %w", m, err)
		}
	}
	for _, stmt := range []string{
		`INSERT INTO interval_days(` + dayRowCols + `) SELECT ` + dayRowCols + ` FROM interval_days_unpartitioned`,
		`DROP TABLE interval_days_unpartitioned`,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("partition interval days: %w", err)
		}
	}
	return nil
}

// daysPartitioned reports whether interval_days, as the search path finds
// it, is a partitioned table.
func daysPartitioned(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (bool, error) {
	var ok bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass('interval_days'))`).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("interval days: is it partitioned: %w", err)
	}
	return ok, nil
}

// Maintain implements store.Retention.
func (s *DB) Maintain(ctx context.Context, now time.Time, keepMonths int) (store.MaintainReport, error) {
	if keepMonths < 0 {
		return store.MaintainReport{}, fmt.Errorf("maintain interval days: retention of %d months", keepMonths)
	}
	if s.d.Name == "postgres" {
		return s.maintainPartitions(ctx, now, keepMonths)
	}
	return s.deleteExpiredDays(ctx, now, keepMonths)
}

// deleteExpiredDays is SQLite's retention: expired rows go in batches, so
// that the write lock is given up between them and ingest goes on.
func (s *DB) deleteExpiredDays(ctx context.Context, now time.Time, keepMonths int) (store.MaintainReport, error) {
	var r store.MaintainReport
	if keepMonths == 0 {
		return r, nil
	}
	cutoff := store.RetentionCutoff(now, keepMonths)
	for {
		var n int64
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM interval_days WHERE rowid IN
				(SELECT rowid FROM interval_days WHERE day < ? LIMIT 5000)`), cutoff)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return r, fmt.Errorf("maintain interval days: delete before %s: %w", cutoff, err)
		}
		r.Deleted += n
		if n == 0 {
			return r, nil
		}
	}
}

func (s *DB) maintainPartitions(ctx context.Context, now time.Time, keepMonths int) (store.MaintainReport, error) {
	var r store.MaintainReport
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return r, fmt.Errorf("maintain interval days: %w", err)
	}
	defer tx.Rollback()
	fail := func(what string, err error) (store.MaintainReport, error) {
		return store.MaintainReport{}, fmt.Errorf("maintain interval days: %s: %w", what, err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(partitionLock)); err != nil {
		return fail("lock", err)
	}
	// Waiting long for a table lock would queue every writer behind this
	// call; failing lets the next day's run try again.
	if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = '1min'`); err != nil {
		return fail("lock timeout", err)
	}
	if ok, err := daysPartitioned(ctx, tx); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("interval_days is not partitioned")
		}
		return fail("partitions", err)
	}
	have, err := queryMonths(ctx, tx, `SELECT substr(c.relname, 16, 4) || '-' || substr(c.relname, 21, 2)
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = to_regclass('interval_days') AND c.relname ~ '^interval_days_y[0-9]{4}m[0-9]{2}$'`)
	if err != nil {
		return fail("partitions present", err)
	}
	cutoff := ""
	if keepMonths > 0 {
		cutoff = store.RetentionCutoff(now, keepMonths)[:7]
	}
	var drop []string
	for _, m := range have {
		if cutoff != "" && m < cutoff {
			drop = append(drop, m)
		}
	}
	// Locks are taken parent first, as every writer takes them, so that
	// this call and a writer never wait on each other in a circle.
	// Dropping a partition needs the whole table to itself; attaching one
	// lets writers on.
	parentLock := "SHARE UPDATE EXCLUSIVE"
	if len(drop) > 0 {
		parentLock = "ACCESS EXCLUSIVE"
	}
	if _, err := tx.ExecContext(ctx, `LOCK TABLE interval_days IN `+parentLock+` MODE`); err != nil {
		return fail("lock interval_days", err)
	}
	if _, err := tx.ExecContext(ctx, `LOCK TABLE `+daysDefault+` IN ACCESS EXCLUSIVE MODE`); err != nil {
		return fail("lock "+daysDefault, err)
	}
	for _, m := range drop {
		if _, err := tx.ExecContext(ctx, `DROP TABLE `+partitionName(m)); err != nil {
			return fail("drop month "+m, err)
		}
		r.Dropped = append(r.Dropped, m)
	}
	if cutoff != "" {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+daysDefault+` WHERE day < $1`, cutoff+"-01")
		if err != nil {
			return fail("delete expired from "+daysDefault, err)
		}
		r.Deleted, _ = res.RowsAffected()
	}
	caught, err := queryMonths(ctx, tx, `SELECT DISTINCT substr(day, 1, 7) FROM `+daysDefault+` WHERE day ~ `+wellFormedDay)
	if err != nil {
		return fail("months in "+daysDefault, err)
	}
	want := append(caught, comingMonths(now)...)
	slices.Sort(want)
	for _, m := range slices.Compact(want) {
		if slices.Contains(have, m) || (cutoff != "" && m < cutoff) {
			continue
		}
		if _, _, err := monthBounds(m); err != nil {
			continue // not a month: its rows stay in the default partition
		}
		moved, err := addMonth(ctx, tx, m)
		if err != nil {
			return fail("month "+m, err)
		}
		r.Created = append(r.Created, m)
		r.Moved += moved
	}
	if err := tx.Commit(); err != nil {
		return fail("commit", err)
	}
	return r, nil
}

// addMonth makes month m's partition beside the table, moves into it the
// rows of m the default partition caught, and attaches it. (Made in
// place, it would fail while the default holds rows of its range.)
func addMonth(ctx context.Context, tx *sql.Tx, m string) (int64, error) {
	lo, hi, err := monthBounds(m)
	if err != nil {
		return 0, err
	}
	name := partitionName(m)
	if _, err := tx.ExecContext(ctx, `CREATE TABLE `+name+` (LIKE interval_days INCLUDING DEFAULTS)`); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `WITH moved AS (DELETE FROM `+daysDefault+` WHERE day >= $1 AND day < $2 RETURNING `+dayRowCols+`)
		INSERT INTO `+name+`(`+dayRowCols+`) SELECT `+dayRowCols+` FROM moved`, lo, hi)
	if err != nil {
		return 0, err
	}
	moved, _ := res.RowsAffected()
	// The check matches the partition's bounds, so attaching need not scan
	// the rows to prove them.
	for _, stmt := range []string{
		fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT %s_month CHECK (day >= '%s' AND day < '%s')`, name, name, lo, hi),
		fmt.Sprintf(`ALTER TABLE interval_days ATTACH PARTITION %s FOR VALUES FROM ('%s') TO ('%s')`, name, lo, hi),
		fmt.Sprintf(`ALTER TABLE %s DROP CONSTRAINT %s_month`, name, name),
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return 0, err
		}
	}
	return moved, nil
}

func queryMonths(ctx context.Context, tx *sql.Tx, q string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ms []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, rows.Err()
}

// comingMonths is now's month and the monthsAhead after it, as YYYY-MM.
func comingMonths(now time.Time) []string {
	y, m, _ := now.Date()
	ms := make([]string, 0, monthsAhead+1)
	for i := 0; i <= monthsAhead; i++ {
		ms = append(ms, time.Date(y, m+time.Month(i), 1, 0, 0, 0, 0, time.UTC).Format("2006-01"))
	}
	return ms
}

// monthBounds is the range of days of month m (YYYY-MM): its first day,
// and the next month's first.
func monthBounds(m string) (lo, hi string, err error) {
	t, err := time.Parse("2006-01", m)
	if err != nil {
		return "", "", fmt.Errorf("month %q: %w", m, err)
	}
	return t.Format(time.DateOnly), t.AddDate(0, 1, 0).Format(time.DateOnly), nil
}

// partitionName is month m's partition; m is YYYY-MM, checked by the
// caller, so the name is safe in SQL.
func partitionName(m string) string {
	return "interval_days_y" + strings.Replace(m, "-", "m", 1)
}
