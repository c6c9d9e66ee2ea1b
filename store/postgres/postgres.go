// Package postgres is the shared, scaled store engine: PostgreSQL through
// pgx, for deployments where several amigo nodes share one database. It
// registers with store.Open the schemes postgres and postgresql.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/sqldb"
)

func init() {
	store.Register("postgres", openURL)
	store.Register("postgresql", openURL)
}

func openURL(ctx context.Context, url string) (store.Store, error) {
	db, err := Open(ctx, url)
	if err != nil {
		// Not db: a nil *DB in a Store is not a nil Store.
		return nil, err
	}
	return db, nil
}

// migrationLock is an arbitrary advisory-lock key that serialises schema
// migrations when several nodes start at once.
const migrationLock = 0x616d69676f

// Open connects to the database at url and migrates it. It fails fast,
// within ctx, when the server does not answer.
func Open(ctx context.Context, url string) (*sqldb.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: bad url: %s", firstLine(err))
	}
	where := net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)) + "/" + cfg.Database
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	// database/sql keeps only two idle connections by default: under load
	// the others were closed after each use and reopened, each reopening
	// paying for the connection setup and re-preparing its statements.
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres %s: %s", where, firstLine(err))
	}
	s, err := sqldb.New(ctx, db, sqldb.Dialect{
		Name:       "postgres",
		Dollar:     true,
		Types:      map[string]string{"blob": "BYTEA", "serial": "BIGSERIAL"},
		IsConflict: isConflict,
		Lock: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock)
			return err
		},
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres %s: %w", where, err)
	}
	return s, nil
}

func isConflict(err error) bool {
	var pe *pgconn.PgError
	// 23505 unique_violation; 40001 serialization_failure.
	return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "40001")
}

// firstLine keeps errors to one line and drops the URL pgx may echo back,
// which can carry a password.
func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, "://"); i >= 0 {
		if j := strings.LastIndex(s[:i], " "); j >= 0 {
			s = s[:j] + " …"
		}
	}
	return s
}
