package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/store/sqlite"
	"github.com/amigo-ami/amigo/store/storetest"
)

func TestSuite(t *testing.T) {
	storetest.Run(t, storetest.Opener{
		Open:   storetest.OpenSQLite,
		Reopen: storetest.Reopen,
	})
}

func TestWAL(t *testing.T) {
	s, path := storetest.OpenSQLite(t)
	var mode string
	if err := s.(interface{ SQL() *sql.DB }).SQL().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q, %v", mode, err)
	}
	_ = path
}

func TestUnwritableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		// root writes anywhere; use a path under a regular file instead.
		f := filepath.Join(t.TempDir(), "file")
		os.WriteFile(f, nil, 0o600)
		_, err := sqlite.Open(context.Background(), filepath.Join(f, "amigo.db"))
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Fatalf("err %v does not name the path", err)
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	_, err := sqlite.Open(context.Background(), filepath.Join(dir, "amigo.db"))
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("err %v does not name the path", err)
	}
}
