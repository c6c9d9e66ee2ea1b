package sqldb_test

import (
	"context"
	"maps"
	"reflect"
	"strconv"
	"testing"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/postgres"
	"github.com/amigo-ami/amigo/store/sqldb"
	"github.com/amigo-ami/amigo/store/sqlite"
	"github.com/amigo-ami/amigo/store/storetest"
)

// TestMeterTagsMoveToColumns: a registry written when the head-end kept
// a meter's kind, archetype, parent, system title and manifest id in its
// tags reads, after the migration, with them in their fields, and keeps
// an operator's own tags.
func TestMeterTagsMoveToColumns(t *testing.T) {
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
			// The database as the binary that added the columns found it:
			// later migrations come after.
			v, restore := sqldb.MigrateOnlyThrough("registry: a meter's kind, archetype")
			defer restore()
			st, where := e.open(t)
			db := st.(*sqldb.DB).SQL()
			// Written as that binary did: today's statement names later columns.
			if _, err := db.ExecContext(ctx, "INSERT INTO meters(mrid, updated_us) VALUES ('E1', 0), ('G1', 0), ('L1', 0), ('N1', 0)"); err != nil {
				t.Fatal(err)
			}
			// The registry as the head-end wrote it before the migration.
			for _, q := range []string{
				`UPDATE meters SET tags = '{"kind":"electricity-1p","meter_id":"1","archetype":"family","system_title":"414d470000000001"}' WHERE mrid = 'E1'`,
				`UPDATE meters SET tags = '{"kind":"gas","meter_id":"1099511627777","parent":"E1","parent_meter_id":"1","mbus_channel":"1"}' WHERE mrid = 'G1'`,
				`UPDATE meters SET tags = '{"class":"lighting","kind":"electricity"}' WHERE mrid = 'L1'`,
				`UPDATE meters SET tags = 'null' WHERE mrid = 'N1'`,
				"ALTER TABLE meters DROP COLUMN kind",
				"ALTER TABLE meters DROP COLUMN archetype",
				"ALTER TABLE meters DROP COLUMN parent",
				"ALTER TABLE meters DROP COLUMN push_id",
				"ALTER TABLE meters DROP COLUMN manifest_id",
				"DELETE FROM schema_migrations WHERE version = " + strconv.Itoa(v),
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			st.Close()
			restore()
			s2, err := e.reopen(ctx, where)
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			want := map[string]cim.Meter{
				"E1": {MRID: "E1", Kind: "electricity-1p", Archetype: "family", PushID: "414d470000000001", ManifestID: "1"},
				"G1": {MRID: "G1", Kind: "gas", Parent: "E1", ManifestID: "1099511627777"},
				"L1": {MRID: "L1", Kind: "electricity", Tags: map[string]string{"class": "lighting"}},
				"N1": {MRID: "N1"},
			}
			for id, w := range want {
				m, err := s2.Meter(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				tags := m.Tags
				m.Tags, w.Tags = nil, nil
				if !reflect.DeepEqual(m, w) || !maps.Equal(tags, want[id].Tags) {
					t.Errorf("meter %s: %+v tags %v, want %+v tags %v", id, m, tags, w, want[id].Tags)
				}
			}
		})
	}
}
