package testenv

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder stands in for a test to see whether a helper skips or fails.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	r.skipped = true
	r.msg = args[0].(string)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) {
	r.failed = true
	r.msg = args[0].(string)
	runtime.Goexit()
}

// run calls f on a recorder in its own goroutine, as Skip and Fatal end it.
func run(f func(tb testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func TestMissingSharedDataSkipsOnAClone(t *testing.T) {
	t.Setenv("CI", "")
	r := run(func(tb testing.TB) { Shared(tb, "no/such/file.json") })
	if !r.skipped || r.failed {
		t.Fatalf("skipped=%v failed=%v, want a skip", r.skipped, r.failed)
	}
	if !strings.Contains(r.msg, "no/such/file.json") {
		t.Errorf("message %q does not name the file", r.msg)
	}
}

func TestMissingSharedDataFailsUnderCI(t *testing.T) {
	t.Setenv("CI", "true")
	r := run(func(tb testing.TB) { Shared(tb, "no/such/file.json") })
	if !r.failed || r.skipped {
		t.Fatalf("skipped=%v failed=%v, want a failure", r.skipped, r.failed)
	}
}

func TestMissingServiceSkipsOnlyWhenNotRequired(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv(RequireServicesVar, "")
	if r := run(func(tb testing.TB) { Service(tb, "PostgreSQL", errors.New("refused")) }); !r.skipped {
		t.Fatal("a bare go test without the service should skip")
	}
	t.Setenv(RequireServicesVar, "1")
	if r := run(func(tb testing.TB) { Service(tb, "PostgreSQL", errors.New("refused")) }); !r.failed {
		t.Fatal("under scripts/test.sh a missing service should fail")
	}
}

func TestLocateSharedFindsTheDirectoryBesideTheRoot(t *testing.T) {
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	pkg := filepath.Join(repo, "a", "b")
	data := filepath.Join(base, "shared", "testdata", "espi")
	for _, d := range []string{pkg, data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "usage.xsd"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(pkg)
	p, err := LocateShared("espi/usage.xsd")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join("..", "..", "..", "shared", "testdata", "espi", "usage.xsd"); p != want {
		t.Errorf("path %q, want %q", p, want)
	}
	if _, err := LocateShared("espi/other.xsd"); err == nil {
		t.Error("a missing file was found")
	}
}
