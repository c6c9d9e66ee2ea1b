package sqldb

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
)

// The batch reads join the table to the list of ranges, sent as a VALUES
// table whose first column is each range's index: one statement answers
// hundreds of ranges, where a query per range spent most of its time in
// the round trip and the driver, not in the lookup. The ranges are the
// outer loop (CROSS JOIN keeps SQLite from choosing otherwise), each a
// walk of the table's key. Days and register reads are put in order in
// Go, where a range's rows mostly come in order already: an ORDER BY
// copied every day's blob through a sorter.

// rangesPerQuery bounds a statement's ranges, and so its parameters, well
// below both engines' limits.
const rangesPerQuery = 400

// batchWorkers is how many of a read's statements run at once: SQLite
// reads on as many connections in parallel, and decoding the rows is
// most of the work.
const batchWorkers = 4

// paddedRanges is the size class of a statement of n ranges: the
// smallest of a few sizes that holds them, the rest padded with ranges
// that match nothing, so that a kept statement has only a few texts.
func paddedRanges(n int) int {
	for _, c := range []int{16, 64, 128, 256} {
		if n <= c {
			return c
		}
	}
	return rangesPerQuery
}

// valuesList is the VALUES rows of ranges [from, from+n): each row the
// range's index, then cols placeholders of which those in ints are cast to
// a 64-bit integer (a VALUES column's type is text to PostgreSQL
// otherwise).
func valuesList(from, n, cols int, ints map[int]bool) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		b.WriteString(strconv.Itoa(from + i))
		for c := range cols {
			if ints[c] {
				b.WriteString(", CAST(? AS BIGINT)")
			} else {
				b.WriteString(", ?")
			}
		}
		b.WriteString(")")
	}
	return b.String()
}

// batchRead answers n ranges: build returns the statement and arguments
// of the ranges [from, to), and scan reads one row, its range's index
// first. The ranges are split into statements of at most rangesPerQuery,
// and into batchWorkers of them when there are enough ranges to share.
// With keep, build's text depends only on the number of ranges, padded
// to a size class (paddedRanges), and its indices count from from: the
// statement is kept prepared.
func batchRead[T any](ctx context.Context, s *DB, n int, keep bool, build func(from, to int) (string, []any),
	scan func(sc interface{ Scan(...any) error }) (int, T, error)) ([][]T, error) {
	out := make([][]T, n)
	size := min(rangesPerQuery, max(64, (n+batchWorkers-1)/batchWorkers))
	chunks := (n + size - 1) / size
	errs := make([]error, chunks)
	read := func(c int) {
		from, to := c*size, min((c+1)*size, n)
		q, args := build(from, to)
		var rows *sql.Rows
		var err error
		base := 0
		if keep {
			// Parsing a statement of hundreds of ranges was most of a
			// read's time; its text comes back read after read.
			base = from
			var st *sql.Stmt
			if st, err = s.stmt(ctx, s.rebind(q)); err == nil {
				rows, err = st.QueryContext(ctx, args...)
			}
		} else {
			rows, err = s.db.QueryContext(ctx, s.rebind(q), args...)
		}
		if err != nil {
			errs[c] = err
			return
		}
		defer rows.Close()
		for rows.Next() {
			i, v, err := scan(rows)
			if err != nil {
				errs[c] = err
				return
			}
			i += base
			if i < from || i >= to {
				errs[c] = fmt.Errorf("a row of range %d in the ranges %d–%d", i, from, to-1)
				return
			}
			out[i] = append(out[i], v)
		}
		errs[c] = rows.Err()
	}
	if chunks == 1 {
		read(0)
	} else {
		var wg sync.WaitGroup
		sem := make(chan struct{}, batchWorkers)
		for c := range chunks {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				read(c)
			})
		}
		wg.Wait()
	}
	return out, errors.Join(errs...)
}

// indexed scans a leading range index into i, then the rest as the
// wrapped scanner's caller asks.
type indexed struct {
	sc interface{ Scan(...any) error }
	i  *int
}

func (x indexed) Scan(dest ...any) error {
	return x.sc.Scan(append([]any{x.i}, dest...)...)
}

// DaysOfMeters implements store.Readings.
func (s *DB) DaysOfMeters(ctx context.Context, ranges []store.DayRange) ([][]interval.Day, error) {
	out, err := batchRead(ctx, s, len(ranges), true, func(from, to int) (string, []any) {
		m := paddedRanges(to - from)
		args := make([]any, 0, 4*m)
		for _, r := range ranges[from:to] {
			args = append(args, r.MeterID, r.Channel, r.From.String(), r.To.String())
		}
		for range m - (to - from) {
			args = append(args, "", "", "", "") // no day is on or before ""
		}
		// The latest version by a second walk of the key, not by reading
		// every version and keeping the last: that was a quarter faster
		// where a day has one version, but a day collected intraday has
		// one per collection, each with its blob.
		return `WITH k(i, meter_id, channel, first_day, last_day) AS (VALUES ` + valuesList(0, m, 4, nil) + `)
			SELECT k.i, d.meter_id, d.channel, d.day, d.version, d.start_us, d.interval_s, d.data, d.source, d.reason, d.user_name, d.created_us
			FROM k CROSS JOIN interval_days d
			WHERE d.meter_id = k.meter_id AND d.channel = k.channel AND d.day >= k.first_day AND d.day <= k.last_day
			AND d.version = (SELECT MAX(version) FROM interval_days x WHERE x.meter_id = d.meter_id AND x.channel = d.channel AND x.day = d.day)`, args
	}, func(sc interface{ Scan(...any) error }) (int, interval.Day, error) {
		var i int
		d, err := scanDay(indexed{sc, &i})
		return i, d, err
	})
	if err != nil {
		return nil, fmt.Errorf("days of %d ranges (first meter %s): %w", len(ranges), ranges[0].MeterID, err)
	}
	for _, ds := range out {
		slices.SortFunc(ds, func(a, b interval.Day) int {
			return cmp.Or(cmp.Compare(a.Date.Year, b.Date.Year), cmp.Compare(a.Date.Month, b.Date.Month), cmp.Compare(a.Date.Day, b.Date.Day))
		})
	}
	return out, nil
}

// RegisterReadsOfMeters implements store.HeadEnd.
func (s *DB) RegisterReadsOfMeters(ctx context.Context, ranges []store.ReadRange) ([][]store.RegisterRead, error) {
	for _, r := range ranges {
		if r.MeterID == "" || r.ReadingType == "" {
			return nil, errors.New("register reads: each range needs a meter and a reading type")
		}
	}
	// Each range reads the day rows it touches, and keeps the reads of its
	// type and span; a day row is decoded once per range that reads it.
	type dayRow struct {
		meter string
		day   int64
		data  []byte
	}
	rows, err := batchRead(ctx, s, len(ranges), false, func(from, to int) (string, []any) {
		args := make([]any, 0, 3*(to-from))
		for _, r := range ranges[from:to] {
			fromUS, toUS := r.From.UnixMicro(), r.To.UnixMicro()
			if toUS <= fromUS {
				toUS = fromUS + 1 // matches no read, and no day beyond the first
			}
			args = append(args, r.MeterID, registerDayOf(fromUS), registerDayOf(toUS-1))
		}
		return `WITH k(i, meter_id, from_day, to_day) AS (VALUES ` + valuesList(from, to-from, 3, map[int]bool{1: true, 2: true}) + `)
			SELECT k.i, r.meter_id, r.day, r.data
			FROM k CROSS JOIN register_days r
			WHERE r.meter_id = k.meter_id AND r.day >= k.from_day AND r.day <= k.to_day`, args
	}, func(sc interface{ Scan(...any) error }) (int, dayRow, error) {
		var i int
		var d dayRow
		err := sc.Scan(&i, &d.meter, &d.day, &d.data)
		return i, d, err
	})
	if err != nil {
		return nil, fmt.Errorf("register reads of %d ranges (first meter %s): %w", len(ranges), ranges[0].MeterID, err)
	}
	out := make([][]store.RegisterRead, len(ranges))
	var es []regEntry
	for i, ds := range rows {
		r := ranges[i]
		slices.SortFunc(ds, func(a, b dayRow) int { return cmp.Compare(a.day, b.day) })
		for _, d := range ds {
			if es, err = decodeRegisterDay(es[:0], d.data); err != nil {
				return nil, fmt.Errorf("meter %s: register reads: %w", d.meter, err)
			}
			out[i] = regDayReads(out[i], d.meter, d.day, es, r.ReadingType, r.From.UnixMicro(), r.To.UnixMicro())
		}
	}
	return out, nil
}

// EventsOfMeters implements store.EventLog.
func (s *DB) EventsOfMeters(ctx context.Context, types []cim.EndDeviceEventType, ranges []store.EventRange) ([][]cim.EndDeviceEvent, error) {
	bound := func(t time.Time, open int64) int64 {
		if t.IsZero() {
			return open
		}
		return t.UnixMicro()
	}
	out, err := batchRead(ctx, s, len(ranges), false, func(from, to int) (string, []any) {
		args := make([]any, 0, 3*(to-from)+len(types))
		for _, r := range ranges[from:to] {
			args = append(args, r.MeterID, bound(r.From, math.MinInt64), bound(r.To, math.MaxInt64))
		}
		typed := ""
		if len(types) > 0 {
			typed = " AND e.type IN (?" + strings.Repeat(", ?", len(types)-1) + ")"
			for _, t := range types {
				args = append(args, string(t))
			}
		}
		// Relay events are few: the engine sorts them, in its collation
		// as Events does.
		return `WITH k(i, meter_id, from_us, to_us) AS (VALUES ` + valuesList(from, to-from, 3, map[int]bool{1: true, 2: true}) + `)
			SELECT k.i, e.mrid, e.meter_id, e.type, e.created_us, e.code, e.reason, e.severity, e.details
			FROM k CROSS JOIN events e
			WHERE e.meter_id = k.meter_id AND e.created_us >= k.from_us AND e.created_us < k.to_us` + typed + `
			ORDER BY k.i, e.created_us DESC, e.mrid`, args
	}, func(sc interface{ Scan(...any) error }) (int, cim.EndDeviceEvent, error) {
		var i int
		e, err := scanEvent(indexed{sc, &i})
		return i, e, err
	})
	if err != nil {
		return nil, fmt.Errorf("events of %d ranges (first meter %s): %w", len(ranges), ranges[0].MeterID, err)
	}
	for i, r := range ranges {
		if r.Limit > 0 && len(out[i]) > r.Limit {
			out[i] = out[i][:r.Limit:r.Limit]
		}
	}
	return out, nil
}

// scanEvent reads the columns mrid, meter_id, type, created_us, code,
// reason, severity, details.
func scanEvent(sc interface{ Scan(...any) error }) (cim.EndDeviceEvent, error) {
	var e cim.EndDeviceEvent
	var typ, det string
	var us int64
	if err := sc.Scan(&e.MRID, &e.MeterID, &typ, &us, &e.Code, &e.Reason, &e.Severity, &det); err != nil {
		return e, err
	}
	e.Type = cim.EndDeviceEventType(typ)
	e.CreatedAt = time.UnixMicro(us).UTC()
	if det != "" && det != "null" {
		if err := json.Unmarshal([]byte(det), &e.Details); err != nil {
			return e, fmt.Errorf("event %s: details: %w", e.MRID, err)
		}
	}
	return e, nil
}
