package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
	_ "github.com/amigo-ami/amigo/store/engines"
	"github.com/amigo-ami/amigo/store/storetest"
)

// openAt opens url, checks the engine, and closes the store when the test
// ends.
func openAt(t *testing.T, url, kind string) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	if s.Kind() != kind {
		t.Fatalf("open %s: a %s store, want %s", url, s.Kind(), kind)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("ping %s: %v", url, err)
	}
	return s
}

// TestOpenSQLite: every form of a SQLite URL opens the same file.
func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	// A colon in a directory name does not make the path a URL.
	path := filepath.Join(t.TempDir(), "at:12", "amigo.db")
	first := openAt(t, "sqlite:"+path, "sqlite")
	if err := first.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up-1", TimeZone: "Europe/Amsterdam"}); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no file where the url points: %v", err)
	}
	for _, url := range []string{path, "sqlite://" + path, "SQLite:" + path, "file:" + path, "file://" + path} {
		s := openAt(t, url, "sqlite")
		if up, err := s.UsagePoint(ctx, "up-1"); err != nil || up.TimeZone != "Europe/Amsterdam" {
			t.Errorf("%s: usage point %+v, %v: not the file written through sqlite:PATH", url, up, err)
		}
		s.Close()
	}
}

// TestOpenSQLiteRelative: sqlite://PATH, the configuration's form, keeps
// a relative path relative.
func TestOpenSQLiteRelative(t *testing.T) {
	t.Chdir(t.TempDir())
	openAt(t, "sqlite://rel.db", "sqlite").Close()
	if _, err := os.Stat("rel.db"); err != nil {
		t.Fatalf("sqlite://rel.db: %v", err)
	}
	if _, err := store.Open(context.Background(), "sqlite:"); err == nil || !strings.Contains(err.Error(), "names no file") {
		t.Fatalf("sqlite: without a path: %v", err)
	}
}

func TestOpenPostgres(t *testing.T) {
	ctx := context.Background()
	url := storetest.PostgresSchema(t)
	first := openAt(t, url, "postgres")
	if err := first.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up-1", TimeZone: "Europe/Amsterdam"}); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	scheme, rest, _ := strings.Cut(url, "://")
	for _, other := range []string{"postgresql", "PostgreSQL", scheme} {
		s := openAt(t, other+"://"+rest, "postgres")
		if up, err := s.UsagePoint(ctx, "up-1"); err != nil || up.TimeZone != "Europe/Amsterdam" {
			t.Errorf("%s://: usage point %+v, %v", other, up, err)
		}
		s.Close()
	}
}

func TestOpenUnknownScheme(t *testing.T) {
	_, err := store.Open(context.Background(), "mysql://amigo:hunter2@db.example:3306/amigo")
	if err == nil {
		t.Fatal("opened a mysql url")
	}
	msg := err.Error()
	for _, want := range []string{`"mysql"`, "postgres", "postgresql", "sqlite", "file"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %s", msg, want)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("error %q shows the password", msg)
	}
	if _, err := store.Open(context.Background(), ""); err == nil {
		t.Error("opened an empty url")
	}
}

// TestOpenHidesPassword: whatever fails, the error names the server and
// never the password.
func TestOpenHidesPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, url := range []string{
		// Port 1 on loopback refuses at once.
		"postgres://amigo:hunter2@127.0.0.1:1/amigo?connect_timeout=2",
		"postgresql://amigo:hunter2@127.0.0.1:1/amigo?connect_timeout=2",
		"postgres://127.0.0.1:1/amigo?password=hunter2&connect_timeout=2",
		// Unparseable: the parser's error may quote the URL.
		"postgres://amigo:hunter2@127.0.0.1:port/amigo",
	} {
		_, err := store.Open(ctx, url)
		if err == nil {
			t.Errorf("%s: opened", url)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "hunter2") || strings.Contains(msg, "\n") {
			t.Errorf("want one line without the password, got %q", msg)
		}
	}
}

// TestRegister: an opener gets the URL as given but for the scheme's
// case, and a scheme cannot be taken twice.
func TestRegister(t *testing.T) {
	var got string
	want := errors.New("test engine")
	store.Register("amigo-test+x", func(_ context.Context, url string) (store.Store, error) {
		got = url
		return nil, want
	})
	if _, err := store.Open(context.Background(), "Amigo-Test+X://a/b?c=d"); !errors.Is(err, want) || got != "amigo-test+x://a/b?c=d" {
		t.Fatalf("opener got %q, returned %v", got, err)
	}
	for _, scheme := range []string{"sqlite", "", "1x"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", scheme)
				}
			}()
			store.Register(scheme, func(context.Context, string) (store.Store, error) { return nil, nil })
		}()
	}
}
