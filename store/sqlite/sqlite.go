// Package sqlite is the embedded store engine: one SQLite file in WAL mode
// through a pure-Go driver, so the amigo binary builds and runs without cgo.
// It registers with store.Open the schemes sqlite and file, and bare
// paths.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/sqldb"
)

func init() {
	store.Register("sqlite", openURL)
	store.Register("file", openURL)
}

// openURL opens the file a URL names: sqlite:PATH, sqlite://PATH (the
// form amigo's configuration uses: sqlite:///var/lib/amigo.db),
// file:PATH, file://PATH, or a bare PATH.
func openURL(ctx context.Context, u string) (store.Store, error) {
	path := pathOf(u)
	if path == "" {
		return nil, fmt.Errorf("sqlite: url %q names no file", u)
	}
	db, err := Open(ctx, path)
	if err != nil {
		// Not db: a nil *DB in a Store is not a nil Store.
		return nil, err
	}
	return db, nil
}

// pathOf is the file a sqlite or file URL names, or u itself when it has
// neither scheme. The rest of the URL is the path as written: no query
// is parsed, so "?" and "#" are parts of the file name.
func pathOf(u string) string {
	i := strings.IndexByte(u, ':')
	if i < 0 || !(strings.EqualFold(u[:i], "sqlite") || strings.EqualFold(u[:i], "file")) {
		return u
	}
	p := u[i+1:]
	// "//" opens an authority in a URL; amigo has always read the rest as
	// the path, so sqlite:///abs is /abs and sqlite://rel.db is rel.db.
	return strings.TrimPrefix(p, "//")
}

// busyTimeout is how long a writer waits for the write lock, in this
// process's queue (see gate) or in SQLite's busy handler, before it fails
// with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Open opens (creating if needed) the database file at path and migrates it.
func Open(ctx context.Context, path string) (*sqldb.DB, error) {
	s, _, err := open(ctx, path, busyTimeout)
	return s, err
}

// open is Open with a busy timeout of busy, which tests shorten, and the
// gate its writers queue at, which tests watch.
func open(ctx context.Context, path string, busy time.Duration) (*sqldb.DB, *gate, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	// Probe writability first: the driver's own error for a read-only
	// directory ("out of memory" on some paths) does not say what is wrong.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	f.Close()
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()), "synchronous(NORMAL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	// Writers take the lock at BEGIN, so two writers queue on busy_timeout
	// instead of failing at their first write with SQLITE_BUSY.
	q.Set("_txlock", "immediate")
	g := newGate(busy)
	db := sql.OpenDB(&connector{dsn: "file:" + path + "?" + q.Encode(), drv: &sqlite.Driver{}, gate: g})
	db.SetMaxOpenConns(8)
	// database/sql keeps only two idle connections by default: under load
	// the others were closed after each use and reopened, each reopening
	// paying for the connection setup and re-preparing its statements.
	db.SetMaxIdleConns(8)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	s, err := sqldb.New(ctx, db, sqldb.Dialect{
		Name:       "sqlite",
		Types:      map[string]string{"blob": "BLOB", "serial": "INTEGER"},
		IsConflict: isConflict,
	})
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return s, g, nil
}

func isConflict(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c&0xff == sqlite3.SQLITE_BUSY
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}
