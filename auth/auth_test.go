package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

func init() {
	// Real argon2id, at costs that keep the suite quick.
	Argon2Params.MemoryKiB, Argon2Params.Time, Argon2Params.Threads = 1024, 1, 1
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newService(t *testing.T) (*Service, *clock) {
	t.Helper()
	st, _ := storetest.OpenSQLite(t)
	clk := &clock{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	s, err := New(st.(store.Users), Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s, clk
}

func TestPasswordHashing(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := VerifyPassword(h, "correct horse battery"); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, err := VerifyPassword(h, "correct horse batterY"); ok || err != nil {
		t.Fatalf("wrong password: %v %v", ok, err)
	}
	h2, _ := HashPassword("correct horse battery")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=1024,t=1,p=1$!!$aGFzaA",
		"$argon2id$v=19$m=1024,t=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		if ok, err := VerifyPassword(bad, "x"); ok || err == nil {
			t.Errorf("malformed hash %q: %v %v", bad, ok, err)
		}
	}
	if err := CheckPassword("short"); err == nil {
		t.Fatal("a short password passed")
	}
}

func TestNoUserWithoutAPassword(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "admin", "", Admin, nil); err == nil {
		t.Fatal("an administrator without a password")
	}
	if _, err := s.CreateUser(ctx, "home", "a long enough secret", Consumer, nil); err == nil {
		t.Fatal("a consumer without a usage point")
	}
	if _, err := s.CreateUser(ctx, "x", "a long enough secret", Role("root"), nil); err == nil || !strings.Contains(err.Error(), "roles:") {
		t.Fatalf("unknown role: %v", err)
	}
	if _, err := s.CreateUser(ctx, "etl", "", Integrator, nil); err != nil {
		t.Fatalf("an integrator signs in by token only: %v", err)
	}
}

// server puts a protected echo behind the middleware, with the login,
// logout and whoami handlers.
func server(t *testing.T, s *Service) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("POST /session", s.LoginHandler())
	mux.Handle("DELETE /session", s.LogoutHandler())
	mux.Handle("GET /me", s.WhoAmIHandler())
	mux.Handle("POST /command", Require(Command, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })))
	mux.Handle("GET /fleet", Require(ReadFleet, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })))
	public := func(r *http.Request) bool { return r.URL.Path == "/session" && r.Method == http.MethodPost }
	srv := httptest.NewServer(s.Middleware(public, mux))
	t.Cleanup(srv.Close)
	return srv
}

type client struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
	tok  string
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, c: &http.Client{Jar: jar}}
}

func (c *client) do(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	if c.tok != "" {
		req.Header.Set("Authorization", "Bearer "+c.tok)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	if resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == "" {
		c.t.Errorf("%s %s: 401 without WWW-Authenticate", method, path)
	}
	return resp.StatusCode, m
}

func message(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

func TestSessionsAndCSRF(t *testing.T) {
	s, clk := newService(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "Olga", "operator password 1", Operator, nil); err != nil {
		t.Fatal(err)
	}
	srv := server(t, s)
	c := newClient(t, srv.URL)
	if code, m := c.do("GET", "/fleet", ""); code != 401 || !strings.Contains(message(m), "sign in") {
		t.Fatalf("anonymous: %d %v", code, m)
	}
	// Unknown user and wrong password read the same.
	_, m1 := c.do("POST", "/session", `{"user":"nobody","password":"operator password 1"}`)
	code, m2 := c.do("POST", "/session", `{"user":"olga","password":"operator password 2"}`)
	if code != 401 || message(m1) != message(m2) {
		t.Fatalf("wrong password %d %q vs unknown user %q", code, message(m2), message(m1))
	}
	if code, _ := c.do("POST", "/session", `{"user":"olga","password":"x","admin":true}`); code != 400 {
		t.Fatalf("unknown field: %d", code)
	}
	code, m := c.do("POST", "/session", `{"user":"OLGA","password":"operator password 1"}`)
	if code != 201 || m["user"] != "olga" || m["role"] != "operator" || m["csrf"] == "" {
		t.Fatalf("login %d %v", code, m)
	}
	if code, _ := c.do("GET", "/fleet", ""); code != 200 {
		t.Fatalf("with the session: %d", code)
	}
	if code, m := c.do("POST", "/command", ""); code != 403 || m["error"].(map[string]any)["code"] != "csrf" {
		t.Fatalf("unsafe request without the CSRF token: %d %v", code, m)
	}
	c.csrf = "wrong"
	if code, _ := c.do("POST", "/command", ""); code != 403 {
		t.Fatalf("wrong CSRF token: %d", code)
	}
	c.csrf = m["csrf"].(string)
	if code, _ := c.do("POST", "/command", ""); code != 204 {
		t.Fatalf("with the CSRF token: %d", code)
	}
	// Idle for longer than the idle timeout: the session is over.
	clk.Add(31 * time.Minute)
	if code, m := c.do("GET", "/fleet", ""); code != 401 || !strings.Contains(message(m), "session has ended") {
		t.Fatalf("idle session: %d %v", code, m)
	}
	// Sign in again, then out.
	_, m = c.do("POST", "/session", `{"user":"olga","password":"operator password 1"}`)
	c.csrf = m["csrf"].(string)
	if code, _ := c.do("DELETE", "/session", ""); code != 204 {
		t.Fatalf("logout %d", code)
	}
	if code, _ := c.do("GET", "/me", ""); code != 401 {
		t.Fatalf("after logout: %d", code)
	}
}

func TestTokensAndRoles(t *testing.T) {
	s, clk := newService(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "etl", "", Integrator, nil); err != nil {
		t.Fatal(err)
	}
	tok, rec, err := s.IssueToken(ctx, "etl", "nightly export", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := server(t, s)
	c := newClient(t, srv.URL)
	c.tok = tok
	if code, m := c.do("GET", "/me", ""); code != 200 || m["role"] != "integrator" || m["session"] != false {
		t.Fatalf("token: %d %v", code, m)
	}
	// No CSRF for tokens, but an integrator reads only.
	if code, m := c.do("POST", "/command", ""); code != 403 || !strings.Contains(message(m), "command") {
		t.Fatalf("integrator commanding: %d %v", code, m)
	}
	forged := "A"
	if strings.HasSuffix(tok, forged) {
		forged = "B"
	}
	c.tok = tok[:len(tok)-1] + forged
	if code, m := c.do("GET", "/me", ""); code != 401 || message(m) != ErrTokenUnknown.Error() {
		t.Fatalf("forged secret: %d %v", code, m)
	}
	c.tok = "amg_garbage"
	if code, _ := c.do("GET", "/me", ""); code != 401 {
		t.Fatalf("garbage token: %d", code)
	}
	c.tok = tok
	clk.Add(time.Hour)
	if code, m := c.do("GET", "/me", ""); code != 401 || message(m) != ErrTokenExpired.Error() {
		t.Fatalf("expired: %d %v", code, m)
	}
	tok2, rec2, _ := s.IssueToken(ctx, "etl", "", 0)
	if err := s.Store().RevokeToken(ctx, rec2.ID); err != nil {
		t.Fatal(err)
	}
	c.tok = tok2
	if code, m := c.do("GET", "/me", ""); code != 401 || message(m) != ErrTokenRevoked.Error() {
		t.Fatalf("revoked: %d %v", code, m)
	}
	if rec.ID == rec2.ID || strings.Contains(string(rec.Hash), tok) {
		t.Fatal("token ids collide or the secret is stored")
	}
}

func TestConsumerSeesOnlyOwnUsagePoints(t *testing.T) {
	p := Principal{User: "home", Role: Consumer, UsagePoints: []string{"up-1"}}
	if !p.CanSeeUsagePoint("up-1") || p.CanSeeUsagePoint("up-2") || p.CanSeeUsagePoint("") || p.Can(ReadData) {
		t.Fatal("consumer scope")
	}
	if op := (Principal{Role: Operator}); !op.CanSeeUsagePoint("up-2") {
		t.Fatal("an operator reads every usage point")
	}
	if _, err := ParseRole("Security-Officer"); err != nil {
		t.Fatal(err)
	}
}

func TestLoginRateLimit(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "olga", "operator password 1", Operator, nil); err != nil {
		t.Fatal(err)
	}
	srv := server(t, s)
	c := newClient(t, srv.URL)
	codes := map[int]int{}
	for range 8 {
		code, _ := c.do("POST", "/session", `{"user":"olga","password":"guess guess guess"}`)
		codes[code]++
	}
	if codes[401] != 5 || codes[429] != 3 {
		t.Fatalf("answers to eight guesses: %v, want five 401 and three 429", codes)
	}
	// Even the right password waits now: the limit is on attempts.
	if code, _ := c.do("POST", "/session", `{"user":"olga","password":"operator password 1"}`); code != 429 {
		t.Fatalf("right password under the limit: %d", code)
	}
}
