package server

import (
	"context"
	"errors"
	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/store"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/store/storetest"
)

func testConfig(dir string) config.Config {
	c := config.Default()
	c.Data = dir
	c.HTTP.Addr = "127.0.0.1:0"
	c.HeadEnd.PushAddr = "127.0.0.1:0"
	c.HeadEnd.C1222PushAddr = "127.0.0.1:0"
	return c
}

// token is an operator's API token on the server the tests started last.
var token string

func start(t *testing.T, c config.Config) *Server {
	t.Helper()
	s, err := Start(context.Background(), c, slog.New(slog.DiscardHandler), "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Auth.CreateUser(ctx, "olga", "an operator's password", auth.Operator, nil); err != nil && !errors.Is(err, store.ErrConflict) {
		t.Fatal(err)
	}
	if token, _, err = s.Auth.IssueToken(ctx, "olga", "tests", time.Hour); err != nil {
		t.Fatal(err)
	}
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRestartKeepsStoreAndBus(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s := start(t, testConfig(dir))
	base := "http://" + s.Addr()
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/api/v1"} {
		if code, body := get(t, base+p); code != 200 {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	if _, body := get(t, base+"/metrics"); !strings.Contains(body, "amigo_build_info") || !strings.Contains(body, "go_goroutines") {
		t.Fatal("metrics lack amigo_build_info or Go runtime metrics")
	}
	if err := s.Store.PutMeters(ctx, cim.Meter{MRID: "m1", Segment: "cell-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Bus.Publish(ctx, bus.Event{MRID: "m1/ev/1", MeterID: "m1"}); err != nil {
		t.Fatal(err)
	}
	// A second server on the same directory refuses to start.
	if _, err := Start(ctx, testConfig(dir), slog.New(slog.DiscardHandler), "test"); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second server on one directory: %v", err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := start(t, testConfig(dir))
	defer s2.Shutdown(ctx)
	if code, body := get(t, "http://"+s2.Addr()+"/api/v1/meters/m1"); code != 200 || !strings.Contains(body, "cell-1") {
		t.Fatalf("meter lost across restart: %d %s", code, body)
	}
	if dup, err := s2.Bus.Publish(ctx, bus.Event{MRID: "m1/ev/1", MeterID: "m1"}); err != nil || !dup {
		t.Fatalf("bus forgot the stored message: dup=%v err=%v", dup, err)
	}
}

func TestReadyzReportsAFailedPart(t *testing.T) {
	s := start(t, testConfig(t.TempDir()))
	defer s.Shutdown(context.Background())
	s.Store.Close() // the store goes away under a running server
	code, body := get(t, "http://"+s.Addr()+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, `"store"`) || !strings.Contains(body, `"ready":false`) {
		t.Fatalf("readyz with a closed store: %d %s", code, body)
	}
}

func TestPostgresStore(t *testing.T) {
	c := testConfig(t.TempDir())
	c.Store.URL = storetest.PostgresSchema(t)
	s := start(t, c)
	defer s.Shutdown(context.Background())
	if s.Store.Kind() != "postgres" {
		t.Fatalf("store kind %s", s.Store.Kind())
	}
	if code, _ := get(t, "http://"+s.Addr()+"/readyz"); code != 200 {
		t.Fatal("not ready on PostgreSQL")
	}
}

func TestStartFailuresAreClearAndReleaseEverything(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := testConfig(dir)
	c.HTTP.Addr = ln.Addr().String()
	_, err = Start(context.Background(), c, slog.New(slog.DiscardHandler), "test")
	if err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("port in use: %v", err)
	}
	// The failed start released the directory lock and the store.
	s := start(t, testConfig(dir))
	s.Shutdown(context.Background())

	c = testConfig(t.TempDir())
	c.Store.URL = "postgres://amigo:hunter2@127.0.0.1:1/amigo"
	c.Store.ConnectTimeout = 3 * time.Second
	_, err = Start(context.Background(), c, slog.New(slog.DiscardHandler), "test")
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("unreachable postgres: %v", err)
	}
	var nerr *net.OpError
	_ = errors.As(err, &nerr)
}

// TestSlowClientsAreCutOff: a client that trickles its request headers
// (slowloris) is disconnected after the header timeout, and one that
// sends a body over the limit gets 413, while the server keeps serving.
func TestSlowClientsAreCutOff(t *testing.T) {
	c := testConfig(t.TempDir())
	c.HTTP.ReadHeaderTimeout = 300 * time.Millisecond
	c.HTTP.MaxBodyBytes = 1024
	s := start(t, c)
	defer s.Shutdown(context.Background())
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 512)
	n, err := conn.Read(buf)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept a trickling client's connection open for 10 s")
	}
	if n > 0 && !strings.Contains(string(buf[:n]), "408") {
		t.Fatalf("answer to a trickling client: %q", buf[:n])
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.Addr()+"/api/v1/session", strings.NewReader(`{"user":"`+strings.Repeat("x", 8000)+`"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", resp.StatusCode)
	}
	if code, _ := get(t, "http://"+s.Addr()+"/healthz"); code != 200 {
		t.Fatalf("healthz after the slow client: %d", code)
	}
}
