package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

func init() {
	auth.Argon2Params.MemoryKiB, auth.Argon2Params.Time, auth.Argon2Params.Threads = 1024, 1, 1
}

type authRig struct {
	srv  *httptest.Server
	st   store.Store
	auth *auth.Service
	clk  *fakeClock
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

const pw = "a password long enough"

// newAuthRig serves the API behind authentication, with two households
// (up-1 with meter m1, up-2 with m2) and a user of every role.
func newAuthRig(t *testing.T) *authRig {
	t.Helper()
	st, _ := storetest.OpenSQLite(t)
	ctx := context.Background()
	clk := &fakeClock{t: time.Now()}
	svc, err := auth.New(st.(store.Users), auth.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutUsagePoints(ctx, cim.UsagePoint{MRID: "up-1", TimeZone: "UTC"}, cim.UsagePoint{MRID: "up-2", TimeZone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMeters(ctx, cim.Meter{MRID: "m1", UsagePointID: "up-1"}, cim.Meter{MRID: "m2", UsagePointID: "up-2"}); err != nil {
		t.Fatal(err)
	}
	date := cim.DateOf(time.Now(), time.UTC).AddDays(-1)
	var days []interval.Day
	for _, m := range []string{"m1", "m2"} {
		d := interval.Day{MeterID: m, Channel: "A+15m", Date: date, Start: date.Start(time.UTC), Interval: 15 * time.Minute,
			Values: make([]int64, 96), Quality: make([]cim.Quality, 96)}
		for i := range d.Values {
			d.Values[i] = 40
		}
		days = append(days, d)
	}
	if _, err := st.PutDays(ctx, days); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		name string
		role auth.Role
		ups  []string
	}{{"admin", auth.Admin, nil}, {"olga", auth.Operator, nil}, {"etl", auth.Integrator, nil}, {"anna", auth.Consumer, []string{"up-1"}}, {"bert", auth.Consumer, []string{"up-2"}}} {
		if _, err := svc.CreateUser(ctx, u.name, pw, u.role, u.ups); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(New(Deps{Store: st, Auth: svc, MaxBodyBytes: 4096}))
	t.Cleanup(srv.Close)
	return &authRig{srv: srv, st: st, auth: svc, clk: clk}
}

type session struct {
	t     *testing.T
	base  string
	c     *http.Client
	csrf  string
	token string
}

func (r *authRig) login(t *testing.T, user string) *session {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &session{t: t, base: r.srv.URL, c: &http.Client{Jar: jar}}
	code, m, _ := s.call("POST", "/api/v1/session", `{"user":"`+user+`","password":"`+pw+`"}`)
	if code != 201 {
		t.Fatalf("login %s: %d %v", user, code, m)
	}
	s.csrf = m["csrf"].(string)
	return s
}

func (r *authRig) withToken(t *testing.T, user string, ttl time.Duration) *session {
	t.Helper()
	tok, _, err := r.auth.IssueToken(context.Background(), user, "test", ttl)
	if err != nil {
		t.Fatal(err)
	}
	return &session{t: t, base: r.srv.URL, c: http.DefaultClient, token: tok}
}

func (s *session) call(method, path, body string) (int, map[string]any, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if s.csrf != "" {
		req.Header.Set("X-CSRF-Token", s.csrf)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	if resp.StatusCode == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		s.t.Errorf("%s %s: 401 without a WWW-Authenticate challenge", method, path)
	}
	if resp.StatusCode >= 400 && m["error"] == nil {
		s.t.Errorf("%s %s: %d without the JSON error: %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, m, string(b)
}

func authErrCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// TestConsumersSeeOnlyTheirOwnData: one household cannot read another's
// meter, usage point or export, by any route.
func TestConsumersSeeOnlyTheirOwnData(t *testing.T) {
	r := newAuthRig(t)
	anna := r.login(t, "anna")
	day := cim.DateOf(time.Now(), time.UTC).AddDays(-1).String()
	own := []string{
		"/api/v1/meters/m1", "/api/v1/meters/m1/readings?from=" + day + "&to=" + day, "/api/v1/meters/m1/totals?from=" + day + "&to=" + day,
		"/api/v1/meters/m1/registers/latest", "/api/v1/usage-points/up-1/summary", "/api/v1/usage-points/up-1/export?format=csv&from=" + day + "&to=" + day,
	}
	for _, p := range own {
		if code, m, _ := anna.call("GET", p, ""); code != 200 {
			t.Errorf("anna, own %s: %d %v", p, code, m)
		}
	}
	for _, p := range own {
		other := strings.NewReplacer("m1", "m2", "up-1", "up-2").Replace(p)
		if code, m, body := anna.call("GET", other, ""); code != 403 || strings.Contains(body, "m2\"") && code == 200 {
			t.Errorf("anna, bert's %s: %d %v", other, code, m)
		}
	}
	for _, p := range []string{"/api/v1/meters", "/api/v1/events", "/api/v1/exceptions", "/api/v1/meters/m1/days/A+15m/" + day + "/versions", "/api/v1/users"} {
		if code, m, _ := anna.call("GET", p, ""); code != 403 || authErrCode(m) != "forbidden" {
			t.Errorf("anna, fleet route %s: %d %v", p, code, m)
		}
	}
	_, _, csv := anna.call("GET", "/api/v1/usage-points/up-1/export?format=csv&from="+day+"&to="+day, "")
	if !strings.Contains(csv, "up-1,m1,A+15m") || strings.Contains(csv, "m2") {
		t.Errorf("anna's CSV: %.200s", csv)
	}
	if code, m, _ := anna.call("GET", "/api/v1/me", ""); code != 200 || m["role"] != "consumer" || m["usagePoints"].([]any)[0] != "up-1" {
		t.Errorf("me: %d %v", code, m)
	}
}

func TestRolesAndCredentials(t *testing.T) {
	r := newAuthRig(t)
	anon := &session{t: t, base: r.srv.URL, c: http.DefaultClient}
	if code, m, _ := anon.call("GET", "/api/v1/meters", ""); code != 401 || authErrCode(m) != "unauthenticated" {
		t.Fatalf("anonymous: %d %v", code, m)
	}
	for _, p := range []string{"/healthz", "/api/v1/openapi.json"} {
		if code, _, _ := anon.call("GET", p, ""); code != 200 {
			t.Errorf("public %s: %d", p, code)
		}
	}
	etl := r.withToken(t, "etl", time.Hour)
	if code, m, _ := etl.call("GET", "/api/v1/meters", ""); code != 200 || m["total"].(float64) != 2 {
		t.Fatalf("integrator reads: %d %v", code, m)
	}
	day := cim.DateOf(time.Now(), time.UTC).AddDays(-1).String()
	if code, m, _ := etl.call("POST", "/api/v1/meters/m1/vee", `{"from":"`+day+`","to":"`+day+`"}`); code != 403 || !strings.Contains(m["error"].(map[string]any)["message"].(string), "edit-data") {
		t.Fatalf("integrator edits: %d %v", code, m)
	}
	r.clk.t = r.clk.t.Add(2 * time.Hour)
	if code, m, _ := etl.call("GET", "/api/v1/meters", ""); code != 401 || !strings.Contains(m["error"].(map[string]any)["message"].(string), "expired") {
		t.Fatalf("expired token: %d %v", code, m)
	}
	r.clk.t = time.Now()

	olga := r.login(t, "olga")
	csrf := olga.csrf
	olga.csrf = ""
	body := `{"user":"mallory","reason":"read off the display","values":{"5":12}}`
	if code, m, _ := olga.call("POST", "/api/v1/meters/m1/days/A+15m/"+day+"/edits", body); code != 403 || authErrCode(m) != "csrf" {
		t.Fatalf("edit without CSRF: %d %v", code, m)
	}
	olga.csrf = csrf
	code, m, _ := olga.call("POST", "/api/v1/meters/m1/days/A+15m/"+day+"/edits", body)
	if code != 201 || m["user"] != "olga" {
		t.Fatalf("edit: %d %v (the signed-in user, not the body's, must be recorded)", code, m)
	}
	if code, m, _ := olga.call("POST", "/api/v1/users", `{"name":"eve","password":"`+pw+`","role":"admin"}`); code != 403 {
		t.Fatalf("operator creating users: %d %v", code, m)
	}
	admin := r.login(t, "admin")
	if code, m, _ := admin.call("POST", "/api/v1/users", `{"name":"eve","password":"short","role":"operator"}`); code != 422 || !strings.Contains(m["error"].(map[string]any)["message"].(string), "too short") {
		t.Fatalf("short password: %d %v", code, m)
	}
	if code, m, _ := admin.call("POST", "/api/v1/users", `{"name":"eve","password":"`+pw+`","role":"engineer"}`); code != 201 || m["role"] != "engineer" || m["passwordHash"] != nil {
		t.Fatalf("create user: %d %v", code, m)
	}
	if code, _, _ := admin.call("POST", "/api/v1/users", `{"name":"eve","password":"`+pw+`","role":"engineer"}`); code != 409 {
		t.Fatalf("duplicate user: %d", code)
	}
	code, m, _ = admin.call("POST", "/api/v1/tokens", `{"label":"ci","ttl":"1h"}`)
	if code != 201 || !strings.HasPrefix(m["token"].(string), "amg_") {
		t.Fatalf("token: %d %v", code, m)
	}
	id := m["info"].(map[string]any)["id"].(string)
	if code, _, _ := olga.call("DELETE", "/api/v1/tokens/"+id, ""); code != 403 {
		t.Fatalf("revoking another's token: %d", code)
	}
	if code, _, _ := admin.call("DELETE", "/api/v1/tokens/"+id, ""); code != 204 {
		t.Fatalf("revoke: %d", code)
	}
	if code, _, _ := admin.call("POST", "/api/v1/tokens", `{"ttl":"soon"}`); code != 422 {
		t.Fatalf("bad ttl: %d", code)
	}
	if code, _, _ := admin.call("POST", "/api/v1/users", strings.Repeat("x", 5000)); code != 413 && code != 400 {
		t.Fatalf("oversized body: %d", code)
	}
}
