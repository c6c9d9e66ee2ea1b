package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/store"
)

func testUsers(t *testing.T, o Opener) {
	s, _ := o.Open(t)
	us, ok := s.(store.Users)
	if !ok {
		t.Fatal("the store keeps no users")
	}
	u := store.User{Name: "alice", DisplayName: "Alice <Ops>", PasswordHash: "$argon2id$v=19$x", Role: "operator"}
	if err := us.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := us.CreateUser(ctx, u); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second create: %v, want conflict", err)
	}
	if err := us.CreateUser(ctx, store.User{Name: "Bob", Role: "x"}); err == nil {
		t.Fatal("a name with capitals was stored as is")
	}
	got, err := us.User(ctx, "ALICE")
	if err != nil || got.DisplayName != u.DisplayName || got.PasswordHash != u.PasswordHash || got.Role != "operator" || got.CreatedAt.IsZero() {
		t.Fatalf("user %+v %v", got, err)
	}
	got.UsagePoints, got.Role = []string{"up-2", "up-1"}, "consumer"
	if err := us.UpdateUser(ctx, got); err != nil {
		t.Fatal(err)
	}
	got, _ = us.User(ctx, "alice")
	if got.Role != "consumer" || len(got.UsagePoints) != 2 || got.UsagePoints[0] != "up-1" {
		t.Fatalf("updated %+v", got)
	}
	if err := us.UpdateUser(ctx, store.User{Name: "nobody", Role: "operator"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a missing user: %v", err)
	}
	if _, err := us.User(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing user: %v", err)
	}
	for _, n := range []string{"carol", "dave", "erin"} {
		if err := us.CreateUser(ctx, store.User{Name: n, Role: "integrator"}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := us.Users(ctx, "alice", 2)
	if err != nil || len(page) != 2 || page[0].Name != "carol" || page[1].Name != "dave" {
		t.Fatalf("page %+v %v", page, err)
	}
	if n, err := us.CountUsers(ctx); err != nil || n != 4 {
		t.Fatalf("count %d %v", n, err)
	}
	all, err := us.Users(ctx, "", 0)
	if err != nil || len(all) != 4 || all[0].Name != "alice" || all[3].Name != "erin" || len(all[0].UsagePoints) != 2 || all[0].PasswordHash == "" {
		t.Fatalf("all users %+v %v", all, err)
	}
	if rest, err := us.Users(ctx, "erin", 10); err != nil || len(rest) != 0 {
		t.Fatalf("after the last: %+v %v", rest, err)
	}
	home := store.User{Name: "home-12", Role: "consumer", UsagePoints: []string{"up-9", "up-8"}, Disabled: true}
	if err := us.CreateUser(ctx, home); err != nil {
		t.Fatal(err)
	}
	if got, err := us.User(ctx, "Home-12"); err != nil || !got.Disabled || len(got.UsagePoints) != 2 || got.UsagePoints[0] != "up-8" {
		t.Fatalf("consumer %+v %v", got, err)
	}
	if err := us.CreateUser(ctx, store.User{Name: "carol", Role: "operator"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create over an existing user: %v", err)
	}
	if got, _ := us.User(ctx, "carol"); got.Role != "integrator" {
		t.Fatalf("a refused create changed the user: %+v", got)
	}

	now := time.Now().UTC().Truncate(time.Microsecond)
	tok := store.APIToken{ID: "tk1", User: "carol", Hash: []byte{1, 2, 3}, Label: "billing export", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := us.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := us.PutToken(ctx, tok); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("token twice: %v", err)
	}
	if err := us.TouchToken(ctx, "tk1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	gt, err := us.Token(ctx, "tk1")
	if err != nil || !bytes.Equal(gt.Hash, tok.Hash) || !gt.ExpiresAt.Equal(tok.ExpiresAt) || !gt.LastUsedAt.Equal(now.Add(time.Minute)) || gt.Revoked {
		t.Fatalf("token %+v %v", gt, err)
	}
	if err := us.RevokeToken(ctx, "tk1"); err != nil {
		t.Fatal(err)
	}
	if ts, _ := us.Tokens(ctx, "carol"); len(ts) != 1 || !ts[0].Revoked {
		t.Fatalf("tokens %+v", ts)
	}
	if err := us.RevokeToken(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke missing: %v", err)
	}
	if _, err := us.Token(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing token: %v", err)
	}
	forever := store.APIToken{ID: "tk2", User: "carol", Hash: []byte{4}, CreatedAt: now.Add(time.Second)}
	if err := us.PutToken(ctx, forever); err != nil {
		t.Fatal(err)
	}
	ts, err := us.Tokens(ctx, "CAROL")
	if err != nil || len(ts) != 2 || ts[0].ID != "tk1" || ts[1].ID != "tk2" || !ts[1].ExpiresAt.IsZero() || !ts[1].LastUsedAt.IsZero() || ts[1].Revoked {
		t.Fatalf("tokens %+v %v", ts, err)
	}
	if ts, err := us.Tokens(ctx, "dave"); err != nil || len(ts) != 0 {
		t.Fatalf("tokens of a user without any: %+v %v", ts, err)
	}

	live := store.Session{IDHash: []byte("h-live"), User: "alice", CSRF: "c1", CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}
	old := store.Session{IDHash: []byte("h-old"), User: "alice", CSRF: "c2", CreatedAt: now, ExpiresAt: now.Add(-time.Second), LastSeenAt: now}
	for _, se := range []store.Session{live, old} {
		if err := us.PutSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := us.DeleteExpiredSessions(ctx, now); err != nil || n != 1 {
		t.Fatalf("expired %d %v", n, err)
	}
	gs, err := us.Session(ctx, []byte("h-live"))
	if err != nil || gs.CSRF != "c1" || gs.User != "alice" {
		t.Fatalf("session %+v %v", gs, err)
	}
	if _, err := us.Session(ctx, []byte("h-old")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	if err := us.TouchSession(ctx, []byte("h-live"), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if gs, _ := us.Session(ctx, []byte("h-live")); !gs.LastSeenAt.Equal(now.Add(time.Minute)) || !gs.ExpiresAt.Equal(live.ExpiresAt) {
		t.Fatalf("touched session %+v", gs)
	}
	other := store.Session{IDHash: []byte("h-dave"), User: "dave", CSRF: "c3", CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}
	gone := store.Session{IDHash: []byte("h-gone"), User: "dave", CSRF: "c4", CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}
	for _, se := range []store.Session{other, gone} {
		if err := us.PutSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	if err := us.DeleteSession(ctx, gone.IDHash); err != nil {
		t.Fatal(err)
	}
	if _, err := us.Session(ctx, gone.IDHash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted session: %v", err)
	}
	if err := us.DeleteUserSessions(ctx, "ALICE"); err != nil {
		t.Fatal(err)
	}
	if _, err := us.Session(ctx, []byte("h-live")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session after sign-out everywhere: %v", err)
	}
	if _, err := us.Session(ctx, other.IDHash); err != nil {
		t.Fatalf("another user's session went too: %v", err)
	}
}
