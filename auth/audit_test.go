package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

func newAuditedService(t *testing.T) (*Service, *audit.Log, *clock) {
	t.Helper()
	st, _ := storetest.OpenSQLite(t)
	clk := &clock{t: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	log := audit.New(st)
	s, err := New(st.(store.Users), Options{Now: clk.Now, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	return s, log, clk
}

// summary is the trail in short: actor action target outcome, one a line.
func summary(t *testing.T, log *audit.Log) []string {
	t.Helper()
	recs, err := log.Records(context.Background(), audit.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, strings.TrimSpace(fmt.Sprintf("%s %s %s %s %s", r.Actor, r.Action, r.Target, r.Outcome, r.Details["reason"])))
	}
	return out
}

func TestAuditTrailOfAuth(t *testing.T) {
	s, log, _ := newAuditedService(t)
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, "alice", "correct horse battery", Operator, nil); err != nil {
		t.Fatal(err)
	}
	srv := server(t, s)
	c := newClient(t, srv.URL)
	if code, _ := c.do("POST", "/session", `{"user":"alice","password":"wrong horse battery"}`); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	if code, _ := c.do("POST", "/session", `{"user":"nobody","password":"x"}`); code != 401 {
		t.Fatalf("unknown user: %d", code)
	}
	code, m := c.do("POST", "/session", `{"user":"alice","password":"correct horse battery"}`)
	if code != 201 {
		t.Fatalf("sign-in: %d", code)
	}
	if code, _ := c.do("POST", "/command", ""); code != 403 {
		t.Fatalf("without CSRF: %d", code)
	}
	c.csrf = m["csrf"].(string)
	if code, _ := c.do("DELETE", "/session", ""); code != 204 {
		t.Fatalf("sign-out: %d", code)
	}
	if code, _ := newClient(t, srv.URL).do("GET", "/fleet", ""); code != 401 {
		t.Fatalf("anonymous: %d", code)
	}
	pctx := WithPrincipal(ctx, Principal{User: "root", Role: Admin})
	_, tok, err := s.IssueToken(pctx, "alice", "ci", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(pctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(pctx, "alice", "another horse battery"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetDisabled(pctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"user-change alice ok",
		"alice sign-in alice failed wrong user name or password",
		"nobody sign-in nobody failed wrong user name or password",
		"alice sign-in alice ok",
		"alice denied POST /command refused missing or wrong CSRF token",
		"alice sign-out alice ok",
		"denied GET /fleet refused " + ErrNoCredentials.Error(),
		"root token-issue alice ok",
		"root token-revoke alice ok",
		"root user-change alice ok",
		"root user-change alice ok",
	}
	if got := summary(t, log); !slices.Equal(got, want) {
		t.Fatalf("trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDeniedFloodIsBoundedAndSaysSo(t *testing.T) {
	s, log, _ := newAuditedService(t)
	srv := server(t, s)
	anon := newClient(t, srv.URL)
	const n = deniedBurst + 50
	for range n {
		if code, _ := anon.do("GET", "/fleet", ""); code != 401 {
			t.Fatalf("anonymous: %d", code)
		}
	}
	got := summary(t, log)
	if len(got) >= n || len(got) < deniedBurst {
		t.Fatalf("%d denied requests made %d records", n, len(got))
	}
	if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "suppressed") }) {
		t.Fatal("records were dropped without a word in the trail")
	}
}
