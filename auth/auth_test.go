package auth

import (
	"context"
	"encoding/json"
	"fmt"
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

func TestMalformedHashCosts(t *testing.T) {
	const tail = "$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
	for _, costs := range []string{"m=+1024,t=1,p=1", "m=01024,t=1,p=1", "m=1024,t=1,p=1,k=1", "t=1,m=1024,p=1",
		"m=1024,t=1,p=1x", "m= 1024,t=1,p=1", "m=1024,t=0,p=1", "m=1024,t=1,p=0", "m=4194304,t=1,p=1", "m=1024,t=11,p=1",
		"m=1024,t=1,p=256", "m=99999999999,t=1,p=1", "m=,t=1,p=1"} {
		if ok, err := VerifyPassword("$argon2id$v=19$"+costs+tail, "x"); ok || err != ErrBadHash {
			t.Errorf("costs %q: %v %v", costs, ok, err)
		}
	}
	// The same hash with sane costs is well formed (and does not match).
	if ok, err := VerifyPassword("$argon2id$v=19$m=1024,t=1,p=1"+tail, "x"); ok || err != nil {
		t.Fatalf("well formed: %v %v", ok, err)
	}
}

func TestLoginForm(t *testing.T) {
	s, _ := newService(t)
	if _, err := s.CreateUser(context.Background(), "olga", "operator password 1", Operator, nil); err != nil {
		t.Fatal(err)
	}
	srv := server(t, s)
	post := func(ct, body string, hdr ...string) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/session", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp, m
	}
	resp, m := post("application/x-www-form-urlencoded", "user=Olga&password=operator+password+1")
	if resp.StatusCode != 201 || m["user"] != "olga" || m["csrf"] == "" {
		t.Fatalf("form sign-in: %d %v", resp.StatusCode, m)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure || len(cookie.Value) < 43 {
		t.Fatalf("cookie %+v", cookie)
	}
	if resp, _ := post("application/json; charset=utf-8", `{"user":"olga","password":"operator password 1"}`); resp.StatusCode != 201 {
		t.Fatalf("JSON with a charset: %d", resp.StatusCode)
	}
	if resp, m := post("application/x-www-form-urlencoded", "user=olga&password=operator+password+1&admin=1"); resp.StatusCode != 400 {
		t.Fatalf("form with an unknown field: %d %v", resp.StatusCode, m)
	}
	// A page of another site posting the form (or JSON as text/plain)
	// would sign the visitor in as someone else.
	if resp, m := post("text/plain", `{"user":"olga","password":"operator password 1"}`); resp.StatusCode != 415 {
		t.Fatalf("text/plain: %d %v", resp.StatusCode, m)
	}
	if resp, m := post("application/x-www-form-urlencoded", "user=olga&password=operator+password+1", "Sec-Fetch-Site", "cross-site"); resp.StatusCode != 403 || m["error"].(map[string]any)["code"] != "cross_origin" {
		t.Fatalf("cross-site: %d %v", resp.StatusCode, m)
	}
	if resp, _ := post("application/json", `{"user":"olga","password":"operator password 1"}`, "Origin", "https://evil.example"); resp.StatusCode != 403 {
		t.Fatalf("foreign origin: %d", resp.StatusCode)
	}
	if resp, _ := post("application/json", `{"user":"olga","password":"operator password 1"}`, "Sec-Fetch-Site", "same-origin"); resp.StatusCode != 201 {
		t.Fatalf("same origin: %d", resp.StatusCode)
	}
	if resp, m := post("application/json", `{"user":"`+strings.Repeat("x", 5000)+`"}`); resp.StatusCode != 413 {
		t.Fatalf("oversized body: %d %v", resp.StatusCode, m)
	}
}

func TestSuccessfulSignInsAreNotLimited(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "olga", "operator password 1", Operator, nil); err != nil {
		t.Fatal(err)
	}
	// A shift signing in from behind one address.
	for i := range 20 {
		if _, _, err := s.Login(ctx, "olga", "operator password 1", "192.0.2.7"); err != nil {
			t.Fatalf("sign-in %d: %v", i, err)
		}
	}
	// Guessing names from one address is stopped by the address's limit,
	// and the names tried after that leave nothing behind.
	refused := 0
	for i := range 50 {
		_, _, err := s.Login(ctx, fmt.Sprintf("guess%d", i), "some password!", "198.51.100.9")
		if err == ErrTooMany {
			refused++
		} else if err != ErrBadCredentials {
			t.Fatal(err)
		}
	}
	if refused != 50-sourceBurst {
		t.Fatalf("%d of 50 guesses refused, want %d", refused, 50-sourceBurst)
	}
	n := buckets(t, s)
	// Two addresses; olga, alone and at her address; each name guessed
	// before the limit, alone and at the guessing address.
	if n != 2+2+2*sourceBurst {
		t.Fatalf("%d rate-limit buckets", n)
	}
	// The guessing address did not lock olga out from elsewhere.
	if _, _, err := s.Login(ctx, "olga", "operator password 1", "192.0.2.8"); err != nil {
		t.Fatal(err)
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":              "ip:192.0.2.1",
		"::ffff:192.0.2.1":       "ip:192.0.2.1",
		"2001:db8:1:2:3:4:5:6":   "ip:2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":   "ip:2001:db8:1:2::/64",
		"fe80::1%eth0":           "ip:fe80::/64",
		"not an address, a pipe": "ip:not an address, a pipe",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSessionLifetimeAndDisabledUsers(t *testing.T) {
	s, clk := newService(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "olga", "operator password 1", Operator, nil); err != nil {
		t.Fatal(err)
	}
	srv := server(t, s)
	c := newClient(t, srv.URL)
	if code, _ := c.do("POST", "/session", `{"user":"olga","password":"operator password 1"}`); code != 201 {
		t.Fatal(code)
	}
	// Busy all day: never idle, yet the session ends after 12 hours.
	for range 12*3 - 1 {
		clk.Add(20 * time.Minute)
		if code, _ := c.do("GET", "/me", ""); code != 200 {
			t.Fatalf("active session at %s: %d", clk.Now(), code)
		}
	}
	clk.Add(20 * time.Minute)
	if code, m := c.do("GET", "/me", ""); code != 401 || message(m) != ErrSessionEnded.Error() {
		t.Fatalf("after the lifetime: %d %v", code, m)
	}
	// A disabled user's session and tokens stop working, and signing in
	// fails as a wrong password does.
	if code, _ := c.do("POST", "/session", `{"user":"olga","password":"operator password 1"}`); code != 201 {
		t.Fatal(code)
	}
	tok, _, err := s.IssueToken(ctx, "olga", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := s.Store().User(ctx, "olga")
	u.Disabled = true
	if err := s.Store().UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if code, m := c.do("GET", "/me", ""); code != 401 || message(m) != ErrUserDisabled.Error() {
		t.Fatalf("disabled user's session: %d %v", code, m)
	}
	tc := newClient(t, srv.URL)
	tc.tok = tok
	if code, _ := tc.do("GET", "/me", ""); code != 401 {
		t.Fatalf("disabled user's token: %d", code)
	}
	if _, _, err := s.Login(ctx, "olga", "operator password 1", "192.0.2.1"); err != ErrBadCredentials {
		t.Fatalf("disabled user signing in: %v", err)
	}
}

func TestLogoutAndPasswordChange(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "olga", "operator password 1", Operator, nil); err != nil {
		t.Fatal(err)
	}
	c1, _, err := s.Login(ctx, "olga", "operator password 1", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	c2, _, _ := s.Login(ctx, "olga", "operator password 1", "192.0.2.1")
	req := func(cookie string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: CookieName, Value: cookie})
		return r
	}
	if err := s.Logout(ctx, c1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(req(c1)); err != ErrSessionEnded {
		t.Fatalf("after logout: %v", err)
	}
	if p, err := s.Authenticate(req(c2)); err != nil || p.User != "olga" || !p.Session || p.CSRF == "" {
		t.Fatalf("the other session: %+v %v", p, err)
	}
	if err := s.SetPassword(ctx, "olga", "short"); err == nil {
		t.Fatal("a short new password")
	}
	if err := s.SetPassword(ctx, "OLGA", "operator password 2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(req(c2)); err != ErrSessionEnded {
		t.Fatalf("a session survived a password change: %v", err)
	}
	if _, _, err := s.Login(ctx, "olga", "operator password 1", "192.0.2.1"); err != ErrBadCredentials {
		t.Fatalf("old password: %v", err)
	}
	if _, _, err := s.Login(ctx, "olga", "operator password 2", "192.0.2.1"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	// A stored session holds a hash of the cookie, never the cookie.
	if _, err := s.Store().Session(ctx, []byte(c2)); err == nil {
		t.Fatal("a session found by its cookie value")
	}
}

func TestBearerScheme(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "etl", "", Integrator, nil); err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.IssueToken(ctx, "etl", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]error{
		"Bearer " + tok:       nil,
		"bearer " + tok:       nil,
		"Basic " + tok:        ErrNoCredentials,
		"Bearer":              ErrNoCredentials,
		"Bearer amg_":         ErrTokenUnknown,
		"Bearer " + tok + "x": ErrTokenUnknown,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", h)
		p, err := s.Authenticate(r)
		if err != want || (err == nil && (p.User != "etl" || p.Session || p.TokenID == "")) {
			t.Errorf("%q: %+v %v, want %v", h, p, err, want)
		}
	}
}

func TestRoleTable(t *testing.T) {
	for _, r := range Roles() {
		if !Admin.Can(ManageUsers) || (r != Admin && r.Can(ManageUsers)) {
			t.Errorf("%s and managing users", r)
		}
		if got, err := ParseRole(" " + strings.ToUpper(string(r)) + " "); err != nil || got != r {
			t.Errorf("ParseRole(%s): %v %v", r, got, err)
		}
	}
	if Integrator.Can(Command) || Integrator.Can(EditData) || !Integrator.Can(ReadData) {
		t.Error("an integrator reads only")
	}
	if Consumer.Can(ReadFleet) || !Consumer.Can(ReadOwnData) {
		t.Error("a consumer sees only their own data")
	}
	if !SecurityOfficer.Can(ManageKeys) || !SecurityOfficer.Can(Approve) || SecurityOfficer.Can(Command) {
		t.Error("the security officer holds keys and approves, and does not command")
	}
	if _, err := ParseRole("root"); err == nil || !strings.Contains(err.Error(), "security-officer") {
		t.Errorf("unknown role: %v", err)
	}
}

// buckets is how many sign-in limit buckets the store remembers.
func buckets(t *testing.T, s *Service) int {
	t.Helper()
	n, err := s.limits.CountBuckets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}
