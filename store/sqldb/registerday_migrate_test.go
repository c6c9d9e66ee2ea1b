package sqldb_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/postgres"
	"github.com/amigo-ami/amigo/store/sqldb"
	"github.com/amigo-ami/amigo/store/sqlite"
	"github.com/amigo-ami/amigo/store/storetest"
)

// TestRegisterRowsMoveToDays: register reads stored a row each, before
// they were kept a row per meter and day, read the same after the
// migration, across more rows than the migration moves at once, and new
// reads join them.
func TestRegisterRowsMoveToDays(t *testing.T) {
	for _, e := range []struct {
		name   string
		open   func(testing.TB) (store.Store, string)
		reopen func(ctx context.Context, where string) (*sqldb.DB, error)
	}{
		{"sqlite", storetest.OpenSQLite, sqlite.Open},
		{"postgres", storetest.OpenPostgres, postgres.Open},
	} {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			_, restore := sqldb.MigrateOnlyThrough("outages")
			defer restore()
			st, where := e.open(t)
			db := st.(*sqldb.DB).SQL()
			t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			var want []store.RegisterRead
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			ins := "INSERT INTO register_reads(meter_id, reading_type, at_us, value, quality) VALUES ($1, $2, $3, $4, $5)"
			if e.name == "sqlite" {
				ins = "INSERT INTO register_reads(meter_id, reading_type, at_us, value, quality) VALUES (?, ?, ?, ?, ?)"
			}
			// 3 meters × 3,600 instants (15 days of one each 6 minutes) × 2
			// types: 21,600 rows,
			// more than a page of the migration.
			for m := range 3 {
				for k := range 3600 {
					at := t0.Add(time.Duration(k) * 6 * time.Minute)
					for j, typ := range []string{"A+", "A-"} {
						r := store.RegisterRead{MeterID: fmt.Sprintf("m%d", m), ReadingType: typ, TimeStamp: at,
							Value: int64(1000*m + 10*k + j), Quality: cim.Quality(k % 3)}
						if _, err := tx.ExecContext(ctx, ins, r.MeterID, r.ReadingType, at.UnixMicro(), r.Value, int(r.Quality)); err != nil {
							t.Fatal(err)
						}
						if m == 1 && j == 0 {
							want = append(want, r)
						}
					}
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			st.Close()
			restore()
			s2, err := e.reopen(ctx, where)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			got, err := s2.RegisterReads(ctx, "m1", "A+", t0, t0.AddDate(1, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d reads after the migration, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] && !(got[i].TimeStamp.Equal(want[i].TimeStamp) && got[i].Value == want[i].Value &&
					got[i].Quality == want[i].Quality && got[i].ReadingType == want[i].ReadingType && got[i].MeterID == want[i].MeterID) {
					t.Fatalf("read %d: %+v, want %+v", i, got[i], want[i])
				}
			}
			// A read already there is skipped, a new one joins its day.
			n, err := s2.PutRegisterReads(ctx, []store.RegisterRead{want[5], {MeterID: "m1", ReadingType: "A+T1", TimeStamp: want[5].TimeStamp, Value: 7}})
			if err != nil || n != 1 {
				t.Fatalf("put after the migration: %d new, %v", n, err)
			}
			all, err := s2.RegisterReads(ctx, "m1", "", want[5].TimeStamp, want[5].TimeStamp.Add(time.Microsecond))
			if err != nil || len(all) != 3 || all[0].ReadingType != "A+" || all[1].ReadingType != "A+T1" || all[2].ReadingType != "A-" {
				t.Fatalf("reads of one instant: %+v %v", all, err)
			}
			var old int
			if err := s2.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM register_days").Scan(&old); err != nil || old != 45 {
				t.Fatalf("%d day rows, %v; want 45", old, err)
			}
		})
	}
}
