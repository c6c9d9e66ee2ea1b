package api

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	neturl "net/url"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/auth"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// apiNode is one API node: its own store handle and auth service over a
// database it shares with the others.
type apiNode struct {
	srv  *httptest.Server
	auth *auth.Service
}

func newAPINode(t *testing.T, where string) apiNode {
	t.Helper()
	st := storetest.Reopen(t, where)
	svc, err := auth.New(st.(store.Users), auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Store: st, Auth: svc, MaxBodyBytes: 4096}))
	t.Cleanup(srv.Close)
	return apiNode{srv: srv, auth: svc}
}

// Two API nodes on one PostgreSQL database, as behind a load balancer that
// sends a browser's requests to either: what one node does with a
// session, a token or a failed sign-in, the other knows.
func TestAPINodesShareSessionsTokensAndLimits(t *testing.T) {
	url := storetest.PostgresSchema(t)
	a, b := newAPINode(t, url), newAPINode(t, url)
	ctx := context.Background()
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"olga", auth.Operator}, {"pia", auth.Operator}, {"admin", auth.Admin}} {
		if _, err := a.auth.CreateUser(ctx, u.name, pw, u.role, nil); err != nil {
			t.Fatal(err)
		}
	}
	on := func(n apiNode, s *session) *session {
		return &session{t: t, base: n.srv.URL, c: s.c, csrf: s.csrf, token: s.token}
	}
	signIn := func(n apiNode, user, password string) (int, *session) {
		jar, _ := cookiejar.New(nil)
		s := &session{t: t, base: n.srv.URL, c: &http.Client{Jar: jar}}
		code, m, _ := s.call("POST", "/api/v1/session", `{"user":"`+user+`","password":"`+password+`"}`)
		if code == 201 {
			s.csrf, _ = m["csrf"].(string)
		}
		return code, s
	}

	// A session made on A works on B, with the same CSRF token for its
	// unsafe requests.
	code, olgaA := signIn(a, "olga", pw)
	if code != 201 {
		t.Fatalf("sign-in on A: %d", code)
	}
	olgaB := on(b, olgaA)
	aURL, _ := neturl.Parse(a.srv.URL)
	cookies := olgaA.c.Jar.Cookies(aURL)
	if len(cookies) == 0 {
		t.Fatal("no session cookie from A")
	}
	if code, m, _ := olgaB.call("GET", "/api/v1/me", ""); code != 200 || m["user"] != "olga" || m["csrf"] != olgaA.csrf {
		t.Fatalf("A's session on B: %d %v", code, m)
	}
	// A token issued through A works on B, and revoked on B it is refused
	// on A.
	code, m, _ := olgaA.call("POST", "/api/v1/tokens", `{"label":"etl","ttl":"1h"}`)
	if code != 201 {
		t.Fatalf("token on A: %d %v", code, m)
	}
	tok, _ := m["token"].(string)
	id, _ := m["info"].(map[string]any)["id"].(string)
	tokB := &session{t: t, base: b.srv.URL, c: http.DefaultClient, token: tok}
	if code, m, _ := tokB.call("GET", "/api/v1/me", ""); code != 200 || m["user"] != "olga" || m["tokenId"] != id {
		t.Fatalf("A's token on B: %d %v", code, m)
	}
	if code, _, _ := olgaB.call("DELETE", "/api/v1/tokens/"+id, ""); code != 204 {
		t.Fatalf("revoking on B with A's session: %d", code)
	}
	if code, _, _ := on(a, tokB).call("GET", "/api/v1/me", ""); code != 401 {
		t.Fatalf("token revoked on B, used on A: %d", code)
	}
	// Signing out on B ends the session on A.
	if code, _, _ := olgaB.call("DELETE", "/api/v1/session", ""); code != 204 {
		t.Fatalf("sign-out on B: %d", code)
	}
	// B cleared the cookie in the browser (the jar keys cookies by host,
	// not port); A is sent the value it had, as by a copy of it.
	if code := withCookies(t, a, cookies, "/api/v1/me"); code != 401 {
		t.Fatalf("session ended on B, used on A: %d", code)
	}

	// Failed sign-ins: how many one node lets a user at a source fail
	// before refusing, and then the same spread over A and B.
	one := failuresUntilRefused(t, []apiNode{a}, "olga")
	spread := failuresUntilRefused(t, []apiNode{a, b}, "pia")
	t.Logf("%d failures before refusal on one node, %d over two", one, spread)
	if one < 1 || spread != one {
		t.Fatalf("%d failures before refusal spread over two nodes, %d on one", spread, one)
	}
	// Refused on B too, now, even with the right password: the source has
	// spent its attempts on both nodes together.
	if code, _ := signIn(b, "admin", pw); code != http.StatusTooManyRequests {
		t.Fatalf("the source's own limit on B after failures on A and B: %d", code)
	}
}

// withCookies calls path on n with the cookies given and no jar, as a
// browser that kept a copy of its cookie would.
func withCookies(t *testing.T, n apiNode, cookies []*http.Cookie, path string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", n.srv.URL+path, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// failuresUntilRefused signs in as user with a wrong password, taking the
// nodes in turn, and returns how many failed before the first refusal.
func failuresUntilRefused(t *testing.T, nodes []apiNode, user string) int {
	t.Helper()
	for i := range 50 {
		n := nodes[i%len(nodes)]
		s := &session{t: t, base: n.srv.URL, c: http.DefaultClient}
		code, _, _ := s.call("POST", "/api/v1/session", `{"user":"`+user+`","password":"`+strings.Repeat("x", 16)+`"}`)
		switch code {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			return i
		default:
			t.Fatalf("sign-in %d of %s: %d", i, user, code)
		}
	}
	t.Fatalf("%s never refused", user)
	return 0
}
