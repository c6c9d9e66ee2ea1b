package sqldb_test

import (
	"context"
	"database/sql"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store/postgres"
	"github.com/amigo-ami/amigo/store/sqldb"
	"github.com/amigo-ami/amigo/store/storetest"
)

func testDay(meter string, date cim.Date, base int64) interval.Day {
	n := date.Intervals(time.UTC, 15*time.Minute)
	d := interval.Day{MeterID: meter, Channel: "A+15m", Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute, Source: interval.SourceMeter,
		Values: make([]int64, n), Quality: make([]cim.Quality, n)}
	for i := range d.Values {
		d.Values[i] = base + int64(i%7)
	}
	return d
}

// partitions lists interval_days' partitions by name, and whether the
// table is partitioned at all.
func partitions(t *testing.T, db *sql.DB) (names []string, partitioned bool) {
	t.Helper()
	ctx := context.Background()
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass('interval_days'))`).Scan(&partitioned); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = to_regclass('interval_days') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	return names, partitioned
}

func count(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDaysPartitionedInPlace: a database the release before partitioning
// made, with its interval days in one plain table, is converted when the
// new binary opens it, every row kept; opening it again changes nothing.
func TestDaysPartitionedInPlace(t *testing.T) {
	ctx := context.Background()
	_, restore := sqldb.MigrateOnlyThrough("outages")
	st, where := storetest.OpenPostgres(t)
	old := st.(*sqldb.DB)
	if _, partitioned := partitions(t, old.SQL()); partitioned {
		t.Fatal("the old schema is already partitioned")
	}
	dates := []cim.Date{{Year: 2025, Month: 3, Day: 31}, {Year: 2026, Month: 6, Day: 1}, {Year: 2026, Month: 6, Day: 30}, {Year: 2040, Month: 1, Day: 1}}
	var days []interval.Day
	for i, d := range dates {
		for _, m := range []string{"m1", "m2", "m3"} {
			days = append(days, testDay(m, d, int64(10*i)))
		}
	}
	if _, err := old.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}
	edit := testDay("m1", dates[1], 99)
	edit.Source, edit.User, edit.Reason = interval.SourceEdit, "alice", "meter swap"
	if _, err := old.PutDays(ctx, []interval.Day{edit}); err != nil {
		t.Fatal(err)
	}
	rows := count(t, old.SQL(), "interval_days")
	st.Close()
	restore()

	s, err := postgres.Open(ctx, where)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	names, partitioned := partitions(t, s.SQL())
	if !partitioned {
		t.Fatal("interval_days is not partitioned after the migration")
	}
	for _, want := range []string{"interval_days_default", "interval_days_y2025m03", "interval_days_y2026m06", "interval_days_y2040m01",
		"interval_days_y" + time.Now().UTC().Format("2006m01")} {
		if !slices.Contains(names, want) {
			t.Errorf("no partition %s among %v", want, names)
		}
	}
	if got := count(t, s.SQL(), "interval_days"); got != rows {
		t.Fatalf("%d rows after the migration, %d before", got, rows)
	}
	if n := count(t, s.SQL(), "interval_days_default"); n != 0 {
		t.Fatalf("%d rows left in the default partition", n)
	}
	if n := count(t, s.SQL(), "interval_days_y2026m06"); n != 7 {
		t.Fatalf("June 2026 holds %d rows, want 7 (two days of three meters, and an edit)", n)
	}
	for _, d := range days {
		got, err := s.Day(ctx, d.MeterID, d.Channel, d.Date)
		if err != nil {
			t.Fatal(err)
		}
		want := d
		if d.MeterID == "m1" && d.Date == dates[1] {
			want = edit
		}
		if !reflect.DeepEqual(got.Values, want.Values) || got.Source != want.Source || !got.Start.Equal(want.Start) {
			t.Fatalf("meter %s %v: read %+v after the migration", d.MeterID, d.Date, got)
		}
	}
	if vs, err := s.DayVersions(ctx, "m1", "A+15m", dates[1]); err != nil || len(vs) != 2 {
		t.Fatalf("versions after the migration: %d, %v", len(vs), err)
	}
	v, _ := s.SchemaVersion(ctx)
	s.Close()

	// Again: nothing to do.
	s2, err := postgres.Open(ctx, where)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if v2, _ := s2.SchemaVersion(ctx); v2 != v {
		t.Fatalf("schema version %d on reopening, %d before", v2, v)
	}
	if names2, _ := partitions(t, s2.SQL()); !slices.Equal(names2, names) {
		t.Fatalf("partitions changed on reopening: %v, then %v", names, names2)
	}
	if got := count(t, s2.SQL(), "interval_days"); got != rows {
		t.Fatalf("%d rows on reopening, %d before", got, rows)
	}
}

// TestDefaultPartitionEmptied: a day whose month has no partition yet is
// taken by the default partition, and maintenance moves it to a month of
// its own; a query over a few days reads only their months.
func TestDefaultPartitionEmptied(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.OpenPostgres(t)
	s := st.(*sqldb.DB)
	far := cim.Date{Year: 2044, Month: 2, Day: 29}
	if _, err := s.PutDays(ctx, []interval.Day{testDay("m1", far, 1), testDay("m2", far, 2)}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s.SQL(), "interval_days_default"); n != 2 {
		t.Fatalf("default partition holds %d rows, want 2", n)
	}
	rep, err := s.Maintain(ctx, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rep.Created, "2044-02") || rep.Moved != 2 {
		t.Fatalf("maintenance: %+v, want February 2044 made and 2 rows moved", rep)
	}
	if n := count(t, s.SQL(), "interval_days_default"); n != 0 {
		t.Fatalf("default partition still holds %d rows", n)
	}
	if n := count(t, s.SQL(), "interval_days_y2044m02"); n != 2 {
		t.Fatalf("February 2044 holds %d rows, want 2", n)
	}
	if d, err := s.Day(ctx, "m2", "A+15m", far); err != nil || d.Values[0] != 2 {
		t.Fatalf("moved day: %+v, %v", d, err)
	}
	// Pruning holds only if the bounds compare as the queries do.
	var plan strings.Builder
	rows, err := s.SQL().QueryContext(ctx, `EXPLAIN SELECT meter_id FROM interval_days WHERE meter_id = 'm1' AND channel = 'A+15m' AND day >= '2044-02-01' AND day <= '2044-02-29'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if p := plan.String(); !strings.Contains(p, "interval_days_y2044m02") || strings.Contains(p, "interval_days_default") ||
		strings.Contains(p, "interval_days_y"+time.Now().UTC().Format("2006m01")) {
		t.Fatalf("a query over one month reads others:\n%s", p)
	}
}

// TestMaintainBesideWriters: months made, and rows moved out of the
// default partition, while days are written into it and beside it: no
// writer fails and no row is lost.
func TestMaintainBesideWriters(t *testing.T) {
	ctx := context.Background()
	st, _ := storetest.OpenPostgres(t)
	s := st.(*sqldb.DB)
	const writers, rounds = 4, 12
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		go func() {
			var err error
			for i := 0; i < rounds && err == nil; i++ {
				// Each round a month no partition has yet, and one that has.
				far := cim.Date{Year: 2050 + i, Month: time.Month(1 + w), Day: 10}
				near := cim.Date{Year: time.Now().Year(), Month: time.Now().Month(), Day: 1}
				meter := "w" + string(rune('a'+w))
				_, err = s.PutDays(ctx, []interval.Day{testDay(meter, far, int64(i)), testDay(meter, near, int64(i))})
			}
			errs <- err
		}()
	}
	// Maintenance goes on until every writer is done, then once more.
	finished := 0
	for finished < writers {
		if _, err := s.Maintain(ctx, time.Now(), 0); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errs:
			if err != nil {
				t.Fatalf("writer: %v", err)
			}
			finished++
		default:
		}
	}
	if _, err := s.Maintain(ctx, time.Now(), 0); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s.SQL(), "interval_days_default"); n != 0 {
		t.Fatalf("default partition holds %d rows after the last maintenance", n)
	}
	// Every far day once, and the near day in as many versions as it was
	// written with different values.
	var far int
	if err := s.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM interval_days WHERE day >= '2050-01-01'").Scan(&far); err != nil {
		t.Fatal(err)
	}
	if far != writers*rounds {
		t.Fatalf("%d far days, want %d", far, writers*rounds)
	}
	if n := count(t, s.SQL(), "interval_days"); n != 2*writers*rounds {
		t.Fatalf("%d rows, want %d", n, 2*writers*rounds)
	}
}
