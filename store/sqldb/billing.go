package sqldb

import (
	"bytes"
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

const (
	runCols  = `id, account_group, from_day, to_day, status, run_cursor, billed, skipped, held, flagged, failed, error, started_us, finished_us`
	billCols = `id, run_id, account, usage_point, from_day, to_day, seq, status, currency, total, carry_out, peak_w, doc, supersedes, reason, adjustment, created_us`
)

func init() {
	queries["getTariffVersion"] = `SELECT doc FROM tariff_versions WHERE id = ? AND version = ?`
	queries["putTariffVersion"] = `INSERT INTO tariff_versions(id, version, effective_from, doc, created_us) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id, version) DO NOTHING`
	queries["tariffVersions"] = `SELECT id, version, effective_from, doc, created_us FROM tariff_versions WHERE id = ? ORDER BY version`
	queries["usagePointsOnTariff"] = `SELECT u.mrid FROM usage_points u
		WHERE (u.tariff_id = ? OR u.mrid IN (SELECT usage_point FROM tariff_assignments WHERE tariff_id = ?))
		AND COALESCE((SELECT a.tariff_id FROM tariff_assignments a WHERE a.usage_point = u.mrid AND a.from_day <= ? ORDER BY a.from_day DESC LIMIT 1), u.tariff_id) = ?
		ORDER BY u.mrid`
	queries["assignTariff"] = `INSERT INTO tariff_assignments(usage_point, from_day, tariff_id) VALUES (?, ?, ?)
		ON CONFLICT (usage_point, from_day) DO UPDATE SET tariff_id = excluded.tariff_id`
	queries["putAccount"] = `INSERT INTO accounts(id, usage_point, account_group, cycle_day) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET usage_point = excluded.usage_point, account_group = excluded.account_group, cycle_day = excluded.cycle_day`
	queries["getAccount"] = `SELECT id, usage_point, account_group, cycle_day FROM accounts WHERE id = ?`
	// One statement per filter: an "(? = '' OR account_group = ?)" keeps
	// SQLite off the group's index, and a run's every page walked the
	// group from its start.
	queries["listAccounts"] = `SELECT id, usage_point, account_group, cycle_day FROM accounts WHERE id > ? ORDER BY id LIMIT ?`
	queries["listAccountsOfGroup"] = `SELECT id, usage_point, account_group, cycle_day FROM accounts
		WHERE account_group = ? AND id > ? ORDER BY account_group, id LIMIT ?`
	queries["listAccountsOfUsagePoint"] = `SELECT id, usage_point, account_group, cycle_day FROM accounts
		WHERE usage_point = ? AND (? = '' OR account_group = ?) AND id > ? ORDER BY id LIMIT ?`
	queries["putPrice"] = `INSERT INTO price_feeds(feed, at_us, price) VALUES (?, ?, ?)
		ON CONFLICT (feed, at_us) DO UPDATE SET price = excluded.price`
	queries["prices"] = `SELECT feed, at_us, price FROM price_feeds WHERE feed = ? AND at_us >= ? AND at_us < ? ORDER BY at_us`
	queries["putCriticalPeak"] = `INSERT INTO critical_peaks(tariff_id, start_us, end_us) VALUES (?, ?, ?)
		ON CONFLICT (tariff_id, start_us) DO UPDATE SET end_us = excluded.end_us`
	queries["criticalPeaks"] = `SELECT tariff_id, start_us, end_us FROM critical_peaks WHERE tariff_id = ? AND start_us < ? AND end_us > ? ORDER BY start_us`
	queries["insertBillRun"] = `INSERT INTO bill_runs(account_group, from_day, to_day, status, started_us) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account_group, from_day, to_day) DO NOTHING`
	queries["findBillRun"] = `SELECT ` + runCols + ` FROM bill_runs WHERE account_group = ? AND from_day = ? AND to_day = ?`
	queries["getBillRun"] = `SELECT ` + runCols + ` FROM bill_runs WHERE id = ?`
	queries["listBillRuns"] = `SELECT ` + runCols + ` FROM bill_runs WHERE (? = '' OR account_group = ?) ORDER BY id DESC LIMIT ?`
	queries["advanceBillRun"] = `UPDATE bill_runs SET run_cursor = ?, billed = billed + ?, skipped = skipped + ?, held = held + ?,
		flagged = flagged + ?, failed = failed + ?, status = ? WHERE id = ?`
	queries["finishBillRun"] = `UPDATE bill_runs SET status = ?, error = ?, finished_us = ? WHERE id = ?`
	queries["insertBill"] = `INSERT INTO bills(run_id, account, usage_point, from_day, to_day, seq, is_latest, status, currency, total, carry_out, peak_w,
		doc, supersedes, reason, adjustment, created_us) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account, from_day, to_day, seq) DO NOTHING RETURNING id`
	for _, n := range billInsertRows {
		queries[billInsertKey(n)] = `INSERT INTO bills(run_id, account, usage_point, from_day, to_day, seq, is_latest, status, currency, total, carry_out, peak_w,
		doc, supersedes, reason, adjustment, created_us) VALUES ` + strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), `, n), ", ") + `
		ON CONFLICT (account, from_day, to_day, seq) DO NOTHING RETURNING status`
	}
	queries["getBill"] = `SELECT ` + billCols + ` FROM bills WHERE id = ?`
	queries["listBills"] = `SELECT ` + billCols + ` FROM bills
		WHERE (? = '' OR account = ?) AND (? = '' OR usage_point = ?) AND (? = 0 OR run_id = ?)
		AND (? = '' OR from_day = ?) AND (? = '' OR to_day = ?) AND (? = 0 OR is_latest = 1) AND id > ? ORDER BY id LIMIT ?`
	queries["retireBill"] = `UPDATE bills SET is_latest = 0 WHERE id = ? AND is_latest = 1`
}

// billInsertRows are the sizes of the multi-row inserts a batch's bills
// are written by, largest first: a few fixed sizes, so that each is a
// statement prepared once. One statement a bill was most of a batch
// commit's time.
var billInsertRows = []int{64, 16, 4, 1}

func billInsertKey(n int) string { return "insertBills" + strconv.Itoa(n) }

// PutTariffVersion implements store.Tariffs.
func (s *DB) PutTariffVersion(ctx context.Context, v store.TariffVersion) error {
	if v.ID == "" || v.Version < 1 || v.EffectiveFrom.IsZero() || len(v.Document) == 0 {
		return errors.New("tariff version: an id, a version of 1 or more, an effective date and a document are required")
	}
	if v.CreatedAt.IsZero() {
		v.CreatedAt = time.Now()
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q["putTariffVersion"], v.ID, v.Version, v.EffectiveFrom.String(), v.Document, v.CreatedAt.UnixMicro()); err != nil {
			return fmt.Errorf("tariff %s version %d: %w", v.ID, v.Version, err)
		}
		var doc []byte
		if err := tx.QueryRowContext(ctx, s.q["getTariffVersion"], v.ID, v.Version).Scan(&doc); err != nil {
			return fmt.Errorf("tariff %s version %d: %w", v.ID, v.Version, err)
		}
		if !bytes.Equal(doc, v.Document) {
			return fmt.Errorf("tariff %s version %d is stored with another document; file a new version: %w", v.ID, v.Version, store.ErrConflict)
		}
		return nil
	})
}

// TariffVersions implements store.Tariffs.
func (s *DB) TariffVersions(ctx context.Context, id string) ([]store.TariffVersion, error) {
	out, err := queryAll(ctx, s, func(r interface{ Scan(...any) error }) (store.TariffVersion, error) {
		var v store.TariffVersion
		var from string
		var us int64
		if err := r.Scan(&v.ID, &v.Version, &from, &v.Document, &us); err != nil {
			return v, err
		}
		var err error
		v.EffectiveFrom, err = cim.ParseDate(from)
		v.CreatedAt = time.UnixMicro(us).UTC()
		return v, err
	}, s.q["tariffVersions"], id)
	if err != nil {
		return nil, fmt.Errorf("versions of tariff %s: %w", id, err)
	}
	return out, nil
}

// AssignTariff implements store.Tariffs.
func (s *DB) AssignTariff(ctx context.Context, a store.TariffAssignment) error {
	if a.UsagePointID == "" || a.TariffID == "" || a.From.IsZero() {
		return errors.New("tariff assignment: a usage point, a tariff and a from date are required")
	}
	if _, err := s.db.ExecContext(ctx, s.q["assignTariff"], a.UsagePointID, a.From.String(), a.TariffID); err != nil {
		return fmt.Errorf("tariff %s to usage point %s from %s: %w", a.TariffID, a.UsagePointID, a.From, err)
	}
	return nil
}

// inList runs query once per chunk of keys, with "(?, ?, …)" in place of
// the marker {{in}}, the chunk's keys after args.
func inList(ctx context.Context, s *DB, query string, keys []string, args []any, row func(r interface{ Scan(...any) error }) error) error {
	const chunk = 500
	for from := 0; from < len(keys); from += chunk {
		part := keys[from:min(from+chunk, len(keys))]
		q := strings.Replace(query, "{{in}}", "("+strings.TrimSuffix(strings.Repeat("?, ", len(part)), ", ")+")", 1)
		a := append(append([]any(nil), args...), anys(part)...)
		var rows *sql.Rows
		var err error
		if len(part) == chunk {
			// A full chunk, as a bill run's batches mostly are: the
			// same text every batch, kept prepared rather than parsed
			// again.
			var st *sql.Stmt
			if st, err = s.stmt(ctx, s.rebind(q)); err == nil {
				rows, err = st.QueryContext(ctx, a...)
			}
		} else {
			rows, err = s.db.QueryContext(ctx, s.rebind(q), a...)
		}
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := row(rows); err != nil {
				rows.Close()
				return err
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// TariffAssignments implements store.Tariffs.
func (s *DB) TariffAssignments(ctx context.Context, usagePoints []string) ([][]store.TariffAssignment, error) {
	at := make(map[string][]store.TariffAssignment, len(usagePoints))
	err := inList(ctx, s, `SELECT usage_point, from_day, tariff_id FROM tariff_assignments WHERE usage_point IN {{in}} ORDER BY usage_point, from_day`,
		usagePoints, nil, func(r interface{ Scan(...any) error }) error {
			var a store.TariffAssignment
			var from string
			if err := r.Scan(&a.UsagePointID, &from, &a.TariffID); err != nil {
				return err
			}
			var err error
			a.From, err = cim.ParseDate(from)
			at[a.UsagePointID] = append(at[a.UsagePointID], a)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("tariff assignments of %d usage points: %w", len(usagePoints), err)
	}
	out := make([][]store.TariffAssignment, len(usagePoints))
	for i, up := range usagePoints {
		out[i] = at[up]
	}
	return out, nil
}

// UsagePointsOnTariff implements store.Tariffs. The candidates are the
// usage points registered on the tariff or ever assigned to it; each is
// kept when the tariff is the one in force on the date.
func (s *DB) UsagePointsOnTariff(ctx context.Context, tariffID string, on cim.Date) ([]string, error) {
	out, err := queryAll(ctx, s, func(r interface{ Scan(...any) error }) (string, error) {
		var id string
		return id, r.Scan(&id)
	}, s.q["usagePointsOnTariff"], tariffID, tariffID, on.String(), tariffID)
	if err != nil {
		return nil, fmt.Errorf("usage points on tariff %s on %s: %w", tariffID, on, err)
	}
	return out, nil
}

// PutAccounts implements store.Accounts.
func (s *DB) PutAccounts(ctx context.Context, as ...store.Account) error {
	for _, a := range as {
		if a.ID == "" || a.UsagePointID == "" {
			return fmt.Errorf("account %q: an id and a usage point are required", a.ID)
		}
		if a.CycleDay < 1 || a.CycleDay > 28 {
			return fmt.Errorf("account %s: cycle day %d, want 1..28", a.ID, a.CycleDay)
		}
	}
	if len(as) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := s.txStmt(ctx, tx, s.q["putAccount"])
		if err != nil {
			return err
		}
		defer st.Close()
		for _, a := range as {
			if _, err := st.ExecContext(rowContext(ctx), a.ID, a.UsagePointID, a.Group, a.CycleDay); err != nil {
				return fmt.Errorf("account %s: %w", a.ID, err)
			}
		}
		return nil
	})
}

func scanAccount(r interface{ Scan(...any) error }) (store.Account, error) {
	var a store.Account
	err := r.Scan(&a.ID, &a.UsagePointID, &a.Group, &a.CycleDay)
	return a, err
}

// Account implements store.Accounts.
func (s *DB) Account(ctx context.Context, id string) (store.Account, error) {
	a, err := scanAccount(s.queryRow(ctx, s.q["getAccount"], id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("account %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("account %s: %w", id, err)
	}
	return a, nil
}

// Accounts implements store.Accounts.
func (s *DB) Accounts(ctx context.Context, q store.AccountQuery) ([]store.Account, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	var out []store.Account
	var err error
	switch {
	case q.UsagePointID != "":
		out, err = queryAll(ctx, s, scanAccount, s.q["listAccountsOfUsagePoint"], q.UsagePointID, q.Group, q.Group, q.After, q.Limit)
	case q.Group != "":
		out, err = queryAll(ctx, s, scanAccount, s.q["listAccountsOfGroup"], q.Group, q.After, q.Limit)
	default:
		out, err = queryAll(ctx, s, scanAccount, s.q["listAccounts"], q.After, q.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("accounts of group %q after %q: %w", q.Group, q.After, err)
	}
	return out, nil
}

// BillingPoints implements store.Accounts. Usage points and meters are
// read apart: joined, SQLite took the meters through their parent's index
// (every electricity meter has an empty parent) and walked them all for each
// usage point.
func (s *DB) BillingPoints(ctx context.Context, usagePoints []string) (map[string]store.BillingPoint, error) {
	out := make(map[string]store.BillingPoint, len(usagePoints))
	err := inList(ctx, s, `SELECT mrid, name, service_category, time_zone, tariff_id, protection FROM usage_points WHERE mrid IN {{in}}`,
		usagePoints, nil, func(r interface{ Scan(...any) error }) error {
			var p store.BillingPoint
			var cat int
			if err := r.Scan(&p.UsagePoint.MRID, &p.UsagePoint.Name, &cat, &p.UsagePoint.TimeZone, &p.UsagePoint.TariffID, &p.UsagePoint.Protection); err != nil {
				return err
			}
			p.UsagePoint.ServiceCategory = cim.Commodity(cat)
			out[p.UsagePoint.MRID] = p
			return nil
		})
	if err == nil {
		err = inList(ctx, s, `SELECT usage_point, mrid, region, kind, parent FROM meters WHERE usage_point IN {{in}}`,
			usagePoints, nil, func(r interface{ Scan(...any) error }) error {
				var up, mrid, region, kind, parent string
				if err := r.Scan(&up, &mrid, &region, &kind, &parent); err != nil {
					return err
				}
				p, ok := out[up]
				if !ok || parent != "" || kind != "" && !strings.HasPrefix(kind, "electricity") || p.MeterID != "" && p.MeterID < mrid {
					return nil
				}
				p.MeterID, p.Region = mrid, region
				out[up] = p
				return nil
			})
	}
	if err != nil {
		return nil, fmt.Errorf("usage points of %d accounts: %w", len(usagePoints), err)
	}
	return out, nil
}

// PutPrices implements store.PriceFeeds. The batch commits whole or not
// at all.
func (s *DB) PutPrices(ctx context.Context, ps []store.HourPrice) (int, error) {
	for _, p := range ps {
		if p.Feed == "" || p.At.IsZero() {
			return 0, errors.New("price feed: a price needs a feed and an hour")
		}
		if !p.At.Equal(p.At.Truncate(time.Hour)) {
			return 0, fmt.Errorf("price feed %s: %s is not the start of an hour", p.Feed, p.At.UTC().Format(time.RFC3339))
		}
	}
	if len(ps) == 0 {
		return 0, nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := s.txStmt(ctx, tx, s.q["putPrice"])
		if err != nil {
			return err
		}
		defer st.Close()
		for _, p := range ps {
			if _, err := st.ExecContext(rowContext(ctx), p.Feed, p.At.UnixMicro(), p.Price); err != nil {
				return fmt.Errorf("price feed %s at %s: %w", p.Feed, p.At.UTC().Format(time.RFC3339), err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(ps), nil
}

// Prices implements store.PriceFeeds.
func (s *DB) Prices(ctx context.Context, feed string, from, to time.Time) ([]store.HourPrice, error) {
	out, err := queryAll(ctx, s, func(r interface{ Scan(...any) error }) (store.HourPrice, error) {
		var p store.HourPrice
		var us int64
		err := r.Scan(&p.Feed, &us, &p.Price)
		p.At = time.UnixMicro(us).UTC()
		return p, err
	}, s.q["prices"], feed, from.UnixMicro(), to.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("prices of feed %s: %w", feed, err)
	}
	return out, nil
}

// PutCriticalPeaks implements store.PriceFeeds.
func (s *DB) PutCriticalPeaks(ctx context.Context, es []store.CriticalPeakEvent) error {
	for _, e := range es {
		if e.TariffID == "" || e.Start.IsZero() || !e.End.After(e.Start) {
			return fmt.Errorf("critical peak of tariff %q: a tariff and a start before the end are required", e.TariffID)
		}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, e := range es {
			if _, err := tx.ExecContext(ctx, s.q["putCriticalPeak"], e.TariffID, e.Start.UnixMicro(), e.End.UnixMicro()); err != nil {
				return fmt.Errorf("critical peak of tariff %s at %s: %w", e.TariffID, e.Start.UTC().Format(time.RFC3339), err)
			}
		}
		return nil
	})
}

// CriticalPeaks implements store.PriceFeeds.
func (s *DB) CriticalPeaks(ctx context.Context, tariffID string, from, to time.Time) ([]store.CriticalPeakEvent, error) {
	out, err := queryAll(ctx, s, func(r interface{ Scan(...any) error }) (store.CriticalPeakEvent, error) {
		var e store.CriticalPeakEvent
		var a, b int64
		err := r.Scan(&e.TariffID, &a, &b)
		e.Start, e.End = time.UnixMicro(a).UTC(), time.UnixMicro(b).UTC()
		return e, err
	}, s.q["criticalPeaks"], tariffID, to.UnixMicro(), from.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("critical peaks of tariff %s: %w", tariffID, err)
	}
	return out, nil
}

func scanRun(r interface{ Scan(...any) error }) (store.BillRun, error) {
	var b store.BillRun
	var from, to string
	var started, finished int64
	if err := r.Scan(&b.ID, &b.Group, &from, &to, &b.Status, &b.Cursor, &b.Billed, &b.Skipped, &b.Held, &b.Flagged, &b.Failed,
		&b.Error, &started, &finished); err != nil {
		return b, err
	}
	var err error
	if b.From, err = cim.ParseDate(from); err != nil {
		return b, err
	}
	if b.To, err = cim.ParseDate(to); err != nil {
		return b, err
	}
	b.Started = time.UnixMicro(started).UTC()
	if finished != 0 {
		b.Finished = time.UnixMicro(finished).UTC()
	}
	return b, nil
}

// StartBillRun implements store.BillRuns.
func (s *DB) StartBillRun(ctx context.Context, r store.BillRun) (store.BillRun, bool, error) {
	if r.From.IsZero() || r.To.IsZero() || !r.From.Before(r.To) {
		return r, false, fmt.Errorf("bill run of group %q: the period [%s, %s) is empty", r.Group, r.From, r.To)
	}
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	res, err := s.db.ExecContext(ctx, s.q["insertBillRun"], r.Group, r.From.String(), r.To.String(), store.RunRunning, r.Started.UnixMicro())
	if err != nil {
		return r, false, fmt.Errorf("bill run of group %q, %s to %s: %w", r.Group, r.From, r.To, err)
	}
	n, _ := res.RowsAffected()
	got, err := scanRun(s.queryRow(ctx, s.q["findBillRun"], r.Group, r.From.String(), r.To.String()))
	if err != nil {
		return r, false, fmt.Errorf("bill run of group %q, %s to %s: %w", r.Group, r.From, r.To, err)
	}
	return got, n == 1, nil
}

// BillRun implements store.BillRuns.
func (s *DB) BillRun(ctx context.Context, id int64) (store.BillRun, error) {
	r, err := scanRun(s.queryRow(ctx, s.q["getBillRun"], id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("bill run %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("bill run %d: %w", id, err)
	}
	return r, nil
}

// BillRuns implements store.BillRuns.
func (s *DB) BillRuns(ctx context.Context, group string, limit int) ([]store.BillRun, error) {
	if limit <= 0 {
		limit = 100
	}
	out, err := queryAll(ctx, s, scanRun, s.q["listBillRuns"], group, group, limit)
	if err != nil {
		return nil, fmt.Errorf("bill runs of group %q: %w", group, err)
	}
	return out, nil
}

// CommitBillBatch implements store.BillRuns.
func (s *DB) CommitBillBatch(ctx context.Context, b store.BillBatch) (store.BillRun, error) {
	now := time.Now().UnixMicro()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, s.rebind(`SELECT status FROM bill_runs WHERE id = ?`), b.RunID).Scan(&status); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("bill run %d: %w", b.RunID, store.ErrNotFound)
			}
			return fmt.Errorf("bill run %d: %w", b.RunID, err)
		}
		billed, held, flagged, skipped := 0, 0, 0, b.Skipped
		args := make([]any, 0, 15*billInsertRows[0])
		for rest := b.Bills; len(rest) > 0; {
			n := billInsertRows[len(billInsertRows)-1]
			for _, k := range billInsertRows {
				if k <= len(rest) {
					n = k
					break
				}
			}
			part := rest[:n]
			rest = rest[n:]
			args = args[:0]
			for _, r := range part {
				if r.Sequence == 0 {
					r.Sequence = 1
				}
				args = append(args, b.RunID, r.AccountID, r.UsagePointID, r.From.String(), r.To.String(), r.Sequence,
					r.Status, r.Currency, r.Total, r.CarryOut, r.PeakW, r.Document, r.Supersedes, r.Reason, r.Adjustment, now)
			}
			st, err := s.txStmt(ctx, tx, s.q[billInsertKey(n)])
			if err != nil {
				return fmt.Errorf("bill run %d: %w", b.RunID, err)
			}
			// The rows inserted come back; a bill not inserted was billed
			// before, by this run or another.
			rows, err := st.QueryContext(rowContext(ctx), args...)
			if err != nil {
				st.Close()
				return fmt.Errorf("bills of accounts %s to %s, %s to %s: %w", part[0].AccountID, part[n-1].AccountID, part[0].From, part[0].To, err)
			}
			inserted := 0
			for err == nil && rows.Next() {
				var status string
				if err = rows.Scan(&status); err != nil {
					break
				}
				inserted++
				switch status {
				case "held":
					held++
				case "flagged":
					flagged++
				}
			}
			if err == nil {
				err = rows.Err()
			}
			rows.Close()
			st.Close()
			if err != nil {
				return fmt.Errorf("bills of accounts %s to %s, %s to %s: %w", part[0].AccountID, part[n-1].AccountID, part[0].From, part[0].To, err)
			}
			billed += inserted
			skipped += n - inserted
		}
		if _, err := tx.ExecContext(ctx, s.q["advanceBillRun"], b.Cursor, billed, skipped, held, flagged, b.Failed, store.RunRunning, b.RunID); err != nil {
			return fmt.Errorf("bill run %d: cursor: %w", b.RunID, err)
		}
		return nil
	})
	if err != nil {
		return store.BillRun{}, err
	}
	return s.BillRun(ctx, b.RunID)
}

// FinishBillRun implements store.BillRuns.
func (s *DB) FinishBillRun(ctx context.Context, id int64, status, errText string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q["finishBillRun"], status, errText, at.UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("bill run %d: finish: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("bill run %d: %w", id, store.ErrNotFound)
	}
	return nil
}

// BilledAccounts implements store.BillRuns.
func (s *DB) BilledAccounts(ctx context.Context, accounts []string, from, to cim.Date) (map[string]bool, error) {
	out := make(map[string]bool)
	err := inList(ctx, s, `SELECT DISTINCT account FROM bills WHERE from_day = ? AND to_day = ? AND account IN {{in}}`,
		accounts, []any{from.String(), to.String()}, func(r interface{ Scan(...any) error }) error {
			var a string
			err := r.Scan(&a)
			out[a] = true
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("billed accounts of %s to %s: %w", from, to, err)
	}
	return out, nil
}

func scanBill(r interface{ Scan(...any) error }) (store.BillRecord, error) {
	var b store.BillRecord
	var from, to string
	var created int64
	if err := r.Scan(&b.ID, &b.RunID, &b.AccountID, &b.UsagePointID, &from, &to, &b.Sequence, &b.Status, &b.Currency, &b.Total,
		&b.CarryOut, &b.PeakW, &b.Document, &b.Supersedes, &b.Reason, &b.Adjustment, &created); err != nil {
		return b, err
	}
	var err error
	if b.From, err = cim.ParseDate(from); err != nil {
		return b, err
	}
	if b.To, err = cim.ParseDate(to); err != nil {
		return b, err
	}
	b.CreatedAt = time.UnixMicro(created).UTC()
	return b, nil
}

// Bill implements store.BillRuns.
func (s *DB) Bill(ctx context.Context, id int64) (store.BillRecord, error) {
	b, err := scanBill(s.queryRow(ctx, s.q["getBill"], id))
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("bill %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return b, fmt.Errorf("bill %d: %w", id, err)
	}
	return b, nil
}

// Bills implements store.BillRuns.
func (s *DB) Bills(ctx context.Context, q store.BillQuery) ([]store.BillRecord, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	var from, to string
	if !q.From.IsZero() {
		from = q.From.String()
	}
	if !q.To.IsZero() {
		to = q.To.String()
	}
	latest := 0
	if q.LatestOnly {
		latest = 1
	}
	out, err := queryAll(ctx, s, scanBill, s.q["listBills"], q.AccountID, q.AccountID, q.UsagePointID, q.UsagePointID, q.RunID, q.RunID,
		from, from, to, to, latest, q.After, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("bills of account %q run %d: %w", q.AccountID, q.RunID, err)
	}
	return out, nil
}

// LastBills implements store.BillRuns.
func (s *DB) LastBills(ctx context.Context, accounts []string, before cim.Date) (map[string]store.BillRecord, error) {
	out := make(map[string]store.BillRecord)
	err := inList(ctx, s, `SELECT `+billCols+` FROM bills WHERE is_latest = 1 AND to_day <= ? AND account IN {{in}}`,
		accounts, []any{before.String()}, func(r interface{ Scan(...any) error }) error {
			b, err := scanBill(r)
			if err != nil {
				return err
			}
			if prev, ok := out[b.AccountID]; !ok || prev.To.Before(b.To) {
				out[b.AccountID] = b
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("last bills before %s: %w", before, err)
	}
	return out, nil
}

// PeakDemands implements store.BillRuns.
func (s *DB) PeakDemands(ctx context.Context, accounts []string, since, before cim.Date) (map[string]int64, error) {
	out := make(map[string]int64)
	err := inList(ctx, s, `SELECT account, MAX(peak_w) FROM bills WHERE is_latest = 1 AND to_day > ? AND to_day <= ? AND account IN {{in}} GROUP BY account`,
		accounts, []any{since.String(), before.String()}, func(r interface{ Scan(...any) error }) error {
			var a string
			var w int64
			err := r.Scan(&a, &w)
			out[a] = w
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("peak demands from %s to %s: %w", since, before, err)
	}
	return out, nil
}

// SupersedeBill implements store.BillRuns.
func (s *DB) SupersedeBill(ctx context.Context, old int64, b store.BillRecord) (store.BillRecord, error) {
	prev, err := s.Bill(ctx, old)
	if err != nil {
		return b, err
	}
	b.Supersedes, b.Sequence = old, prev.Sequence+1
	b.AccountID, b.UsagePointID, b.From, b.To = prev.AccountID, prev.UsagePointID, prev.From, prev.To
	if b.RunID == 0 {
		b.RunID = prev.RunID
	}
	now := time.Now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q["retireBill"], old)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("bill %d of account %s was superseded already: %w", old, prev.AccountID, store.ErrConflict)
		}
		err = tx.QueryRowContext(ctx, s.q["insertBill"], b.RunID, b.AccountID, b.UsagePointID, b.From.String(), b.To.String(), b.Sequence,
			b.Status, b.Currency, b.Total, b.CarryOut, b.PeakW, b.Document, b.Supersedes, b.Reason, b.Adjustment, now.UnixMicro()).Scan(&b.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("bill %d of account %s: sequence %d exists: %w", old, prev.AccountID, b.Sequence, store.ErrConflict)
		}
		return err
	})
	if err != nil {
		return b, fmt.Errorf("rebill of bill %d: %w", old, err)
	}
	b.CreatedAt = time.UnixMicro(now.UnixMicro()).UTC()
	return b, nil
}

var (
	_ store.Tariffs    = (*DB)(nil)
	_ store.Accounts   = (*DB)(nil)
	_ store.PriceFeeds = (*DB)(nil)
	_ store.BillRuns   = (*DB)(nil)
)
