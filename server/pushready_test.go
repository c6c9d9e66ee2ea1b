package server

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// levels records the level and message of every log record.
type levels struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *levels) Enabled(context.Context, slog.Level) bool { return true }
func (l *levels) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *levels) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *levels) WithGroup(string) slog.Handler      { return l }

func (l *levels) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if r.Level >= slog.LevelError {
			out = append(out, r.Message)
		}
	}
	return out
}

// TestCleanStopLogsNoError: a node started and stopped cleanly, push
// listener included, logs nothing at error level.
func TestCleanStopLogsNoError(t *testing.T) {
	var l levels
	s, err := Start(context.Background(), testConfig(t.TempDir()), slog.New(&l), "test")
	if err != nil {
		t.Fatal(err)
	}
	if s.PushAddr == "" {
		t.Fatal("no push listener")
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if errs := l.errors(); len(errs) > 0 {
		t.Fatalf("a clean stop logged errors: %q", errs)
	}
}

// TestReadyzReportsADeadPushListener: /readyz answers 200 while the push
// listener accepts, and 503 naming it once it has stopped for good.
func TestReadyzReportsADeadPushListener(t *testing.T) {
	s := start(t, testConfig(t.TempDir()))
	defer s.Shutdown(context.Background())
	if code, body := get(t, "http://"+s.Addr()+"/readyz"); code != 200 || !strings.Contains(body, `"push":"ok"`) {
		t.Fatalf("readyz %d %s, want 200 with the push listener ok", code, body)
	}
	s.pushes[0].ln.Close() // what a listener failing for good looks like to Serve
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, "http://"+s.Addr()+"/readyz")
		if code == 503 && strings.Contains(body, "push listener stopped") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz %d %s after the push listener died", code, body)
		}
		<-time.After(20 * time.Millisecond)
	}
}
