package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/store"
)

// CookieName is the session cookie.
const CookieName = "amigo_session"

// Options configures a Service.
type Options struct {
	// IdleTimeout ends a session unused that long (30 min when 0);
	// Lifetime ends any session that old (12 h when 0).
	IdleTimeout, Lifetime time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// MaxHashing caps the password hashes computed at once (2 when 0):
	// each holds Argon2Params.MemoryKiB of memory while it runs, and uses
	// Argon2Params.Threads cores. MaxQueued caps the sign-ins waiting for
	// one (8 when 0); more are refused with ErrBusy at once.
	MaxHashing, MaxQueued int
	Logger                *slog.Logger
	// Audit receives sign-ins, sign-outs, tokens issued and revoked, user
	// changes and denied requests (nil: none are kept).
	Audit audit.Appender
	// Limits keeps the sign-in limits and the sources users signed in
	// from (nil: the users' store, which keeps them too). The nodes of a
	// cluster share it, or each would grant the limits anew.
	Limits store.Limits
}

// Service authenticates and authorises. Whatever a second node must agree
// on lives in the store: users, sessions with their CSRF tokens, API
// tokens, the sign-in limits and the sources users signed in from. What is
// kept here guards this process only, and another node keeping its own
// contradicts nothing: the hashing gate (memory and cores are each
// node's), the denied-request trail's flood guard (each node keeps at
// most its own share), and when this node last swept idle limits.
type Service struct {
	st     store.Users
	limits store.Limits
	o      Options
	log    *slog.Logger

	mu        sync.Mutex
	lastSweep time.Time
	// hashing bounds the password hashes computed at once.
	hashing *hashGate
	// dummy is a hash verified when the user is unknown, so that a wrong
	// name takes as long as a wrong password.
	dummy string
	// audit takes every record; denied takes refusals of requests and of
	// sign-ins over the limits, which a flood could make without end.
	audit, denied audit.Appender
}

// New returns a service over the store's users.
func New(st store.Users, o Options) (*Service, error) {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.Lifetime <= 0 {
		o.Lifetime = 12 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxHashing <= 0 {
		o.MaxHashing = 2
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = 8
	}
	pw, err := randomString(18)
	if err != nil {
		return nil, err
	}
	dummy, err := HashPassword(pw)
	if err != nil {
		return nil, err
	}
	if o.Audit == nil {
		o.Audit = audit.Nop{}
	}
	if o.Limits == nil {
		l, ok := st.(store.Limits)
		if !ok {
			return nil, errors.New("auth: the users' store keeps no sign-in limits; give Options.Limits")
		}
		o.Limits = l
	}
	return &Service{st: st, limits: o.Limits, o: o, log: o.Logger.With("component", "auth"),
		hashing: newHashGate(o.MaxHashing, o.MaxQueued), dummy: dummy,
		audit: o.Audit, denied: audit.NewLimited(o.Audit, deniedPerSecond, deniedBurst)}, nil
}

// Denied requests are recorded at up to deniedPerSecond a second, in
// bursts of deniedBurst; beyond that they are counted in the trail, not
// kept one by one. The guard is each node's own: it bounds the writes a
// flood makes through this node, and a cluster of n nodes keeps at most n
// times as many, which is still bounded.
const (
	deniedPerSecond = 20
	deniedBurst     = 200
)

// record appends to the audit trail. The action has happened, so a
// record that cannot be kept is logged, not returned.
func (s *Service) record(ctx context.Context, to audit.Appender, r audit.Record) {
	if r.At.IsZero() {
		r.At = s.o.Now()
	}
	if err := to.Append(ctx, r); err != nil {
		s.log.Error("audit record not kept", "action", r.Action, "target", r.Target, "err", err)
	}
}

// actor is who is acting in ctx: the request's principal, or "" for a
// command run on the server's own machine.
func actor(ctx context.Context) string {
	p, _ := FromContext(ctx)
	return p.User
}

// RecordDenied appends a refused request to the trail: route is what was
// asked ("GET /api/v1/users"), who the principal ("" when unknown).
func (s *Service) RecordDenied(ctx context.Context, route, who string, status int, reason string) {
	s.record(ctx, s.denied, audit.Record{Actor: who, Action: audit.Denied, Target: route, Outcome: audit.Refused,
		Details: map[string]string{"status": strconv.Itoa(status), "reason": reason}})
}

// Principal is who made a request.
type Principal struct {
	User        string   `json:"user"`
	Role        Role     `json:"role"`
	UsagePoints []string `json:"usagePoints,omitempty"`
	// Session is true for a browser session, false for an API token.
	Session bool `json:"session"`
	// CSRF is the session's token, which unsafe requests must echo.
	CSRF string `json:"csrf,omitempty"`
	// TokenID is the API token used, if any.
	TokenID string `json:"tokenId,omitempty"`
}

// Can reports whether the principal's role grants p.
func (p Principal) Can(perm Permission) bool { return p.Role.Can(perm) }

// CanSeeUsagePoint reports whether the principal may read the usage
// point's data: every one with ReadData, only their own with ReadOwnData.
func (p Principal) CanSeeUsagePoint(mrid string) bool {
	if p.Can(ReadData) {
		return true
	}
	return p.Can(ReadOwnData) && mrid != "" && slices.Contains(p.UsagePoints, mrid)
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the request's principal.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// Errors of authentication; each answers 401 with its own message.
var (
	ErrNoCredentials  = errors.New("sign in, or send an API token as 'Authorization: Bearer amg_…'")
	ErrBadCredentials = errors.New("wrong user name or password")
	ErrTokenUnknown   = errors.New("the API token is not valid")
	ErrTokenExpired   = errors.New("the API token has expired")
	ErrTokenRevoked   = errors.New("the API token has been revoked")
	ErrSessionEnded   = errors.New("the session has ended; sign in again")
	ErrUserDisabled   = errors.New("the user is disabled")
)

// InputError is a request refused for what it asked, not a failure.
type InputError struct{ Err error }

func (e InputError) Error() string { return e.Err.Error() }
func (e InputError) Unwrap() error { return e.Err }

// CreateUser adds a user. A password is required except for integrators,
// whose programs use tokens; a consumer needs at least one usage point.
func (s *Service) CreateUser(ctx context.Context, name, password string, role Role, usagePoints []string) (store.User, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if !validName(name) {
		return store.User{}, InputError{fmt.Errorf("user name %q: want 1 to %d characters without spaces, control characters, '/' or ':'", name, MaxNameLength)}
	}
	if _, ok := grants[role]; !ok {
		_, err := ParseRole(string(role))
		return store.User{}, InputError{err}
	}
	if role == Consumer && len(usagePoints) == 0 {
		return store.User{}, InputError{errors.New("a consumer needs at least one usage point")}
	}
	u := store.User{Name: name, Role: string(role), UsagePoints: usagePoints}
	if password != "" || role != Integrator {
		if err := CheckPassword(password); err != nil {
			return store.User{}, InputError{err}
		}
		h, err := s.hashPassword(ctx, password)
		if err != nil {
			return store.User{}, err
		}
		u.PasswordHash = h
	}
	if err := s.st.CreateUser(ctx, u); err != nil {
		return store.User{}, err
	}
	s.record(ctx, s.audit, audit.Record{Actor: actor(ctx), Action: audit.UserChange, Target: name, Outcome: audit.OK,
		Details: map[string]string{"change": "create", "role": string(role), "usagePoints": strings.Join(usagePoints, ",")}})
	s.log.Info("user created", "user", name, "role", role)
	return u, nil
}

// SetPassword changes a user's password and ends their sessions.
func (s *Service) SetPassword(ctx context.Context, name, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	u, err := s.st.User(ctx, name)
	if err != nil {
		return err
	}
	if u.PasswordHash, err = s.hashPassword(ctx, password); err != nil {
		return err
	}
	if err := s.st.UpdateUser(ctx, u); err != nil {
		return err
	}
	s.record(ctx, s.audit, audit.Record{Actor: actor(ctx), Action: audit.UserChange, Target: u.Name, Outcome: audit.OK,
		Details: map[string]string{"change": "password"}})
	return s.st.DeleteUserSessions(ctx, u.Name)
}

// SetDisabled disables a user, ending their sessions, or enables them
// again. A disabled user's tokens and sessions are refused.
func (s *Service) SetDisabled(ctx context.Context, name string, disabled bool) error {
	u, err := s.st.User(ctx, name)
	if err != nil {
		return err
	}
	u.Disabled = disabled
	if err := s.st.UpdateUser(ctx, u); err != nil {
		return err
	}
	change := "enable"
	if disabled {
		change = "disable"
	}
	s.record(ctx, s.audit, audit.Record{Actor: actor(ctx), Action: audit.UserChange, Target: u.Name, Outcome: audit.OK,
		Details: map[string]string{"change": change}})
	if disabled {
		return s.st.DeleteUserSessions(ctx, u.Name)
	}
	return nil
}

// RevokeToken revokes an API token for good; by is who revokes it.
func (s *Service) RevokeToken(ctx context.Context, t store.APIToken) error {
	if err := s.st.RevokeToken(ctx, t.ID); err != nil {
		return err
	}
	s.record(ctx, s.audit, audit.Record{Actor: actor(ctx), Action: audit.TokenRevoke, Target: t.User, Outcome: audit.OK,
		Details: map[string]string{"token": t.ID, "label": t.Label}})
	return nil
}

// MaxNameLength is the longest user name, in bytes.
const MaxNameLength = 64

// validName reports whether name (already lower case and trimmed) may
// name a user.
func validName(name string) bool {
	if name == "" || len(name) > MaxNameLength || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' || r == ':' || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// Sign-in limits, each a bucket of failures that refills at one attempt
// per limitEvery; a bucket left alone until full again is forgotten.
//   - A source (an address, or an IPv6 /64) may fail sourceBurst times
//     over any names, so one source cannot try many users' passwords.
//   - A user at a source may fail pairBurst times: a guesser slows down
//     only their own source.
//   - A user may fail userBurst times over all sources, a ceiling on
//     guesses spread over many sources. A source the user signed in from
//     within trustFor is not held to it, so guessers cannot lock the user
//     out of where they work.
//
// The buckets and the trusted sources are kept in the store, so that the
// limits hold for a cluster as a whole, whichever node a request reaches.
const (
	sourceBurst = 10
	pairBurst   = 5
	userBurst   = 100
	limitEvery  = 12 * time.Second
	// sweepEvery is how often a node forgets buckets full again and
	// trust grown old; a full bucket and a missing one take alike, so
	// this only bounds the rows a flood leaves behind.
	sweepEvery = time.Minute
	trustFor   = 30 * 24 * time.Hour
)

func burstOf(key string) int {
	switch {
	case strings.HasPrefix(key, "user:"):
		return userBurst
	case strings.Contains(key, " user:"):
		return pairBurst
	}
	return sourceBurst
}

func bucketOf(key string) store.Bucket {
	return store.Bucket{Key: key, Every: limitEvery, Burst: burstOf(key)}
}

// pairKey names the bucket of a user at a source. Sources start "ip:",
// so it never equals a user's own key, whatever the name.
func pairKey(source, name string) string { return source + " user:" + name }

// attempt is one sign-in attempt charged to its buckets; a successful one
// is given back, so that only failures count.
type attempt struct {
	at time.Time
	bs []store.Bucket
}

// refund gives the attempt back. It is done even when the client has
// gone, since the attempt was not a failure; one that cannot be done is
// logged, and costs the user one attempt.
func (s *Service) refund(ctx context.Context, a attempt) {
	if len(a.bs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.limits.ReturnTokens(ctx, a.at, a.bs...); err != nil {
		s.log.Warn("giving back a sign-in attempt", "buckets", len(a.bs), "err", err)
	}
}

// charge takes one attempt from each named bucket, and none when one of
// them is empty; a refused attempt leaves no bucket behind.
func (s *Service) charge(ctx context.Context, keys ...string) (attempt, bool, error) {
	a := attempt{at: s.o.Now()}
	s.sweep(ctx, a.at)
	for _, k := range keys {
		a.bs = append(a.bs, bucketOf(k))
	}
	ok, _, err := s.limits.TakeTokens(ctx, a.at, a.bs...)
	if err != nil {
		return attempt{}, false, fmt.Errorf("sign-in limits: %w", err)
	}
	if !ok {
		return attempt{}, false, nil
	}
	return a, true, nil
}

// sweep forgets full buckets and old trust, at most once every
// sweepEvery on this node.
func (s *Service) sweep(ctx context.Context, now time.Time) {
	s.mu.Lock()
	due := now.Sub(s.lastSweep) >= sweepEvery
	if due {
		s.lastSweep = now
	}
	s.mu.Unlock()
	if !due {
		return
	}
	if _, err := s.limits.ForgetLimits(ctx, now, now.Add(-trustFor)); err != nil {
		s.log.Warn("forgetting idle sign-in limits", "err", err)
	}
}

// isTrusted reports whether the user signed in from the source lately.
func (s *Service) isTrusted(ctx context.Context, pair string) (bool, error) {
	at, err := s.limits.TrustedAt(ctx, pair)
	if err != nil {
		return false, fmt.Errorf("sign-in limits: %w", err)
	}
	return !at.IsZero() && s.o.Now().Sub(at) <= trustFor, nil
}

// trust remembers a source the user signed in from. The sign-in has
// happened, so a failure is logged: the source is then held to the
// user's ceiling until the next sign-in.
func (s *Service) trust(ctx context.Context, pair string) {
	if err := s.limits.Trust(ctx, pair, s.o.Now()); err != nil {
		s.log.Warn("remembering a sign-in source", "err", err)
	}
}

// clientKey names the rate-limit bucket of a remote address: the address
// itself for IPv4, its /64 for IPv6, where one host holds a whole /64.
func clientKey(remote string) string {
	a, err := netip.ParseAddr(remote)
	if err != nil {
		return "ip:" + remote
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + a.String()
}

// hashPassword hashes in one of the service's hashing slots.
func (s *Service) hashPassword(ctx context.Context, pw string) (string, error) {
	if err := s.hashing.wait(ctx); err != nil {
		return "", err
	}
	defer s.hashing.leave(Argon2Params.MemoryKiB)
	return HashPassword(pw)
}

// signInFailed records a failed sign-in with the name tried, which may be
// nobody's.
func (s *Service) signInFailed(ctx context.Context, to audit.Appender, name, remote, reason string) {
	s.record(ctx, to, audit.Record{Actor: name, Action: audit.SignIn, Target: name, Outcome: audit.Failed,
		Details: map[string]string{"remote": remote, "reason": reason}})
}

// ErrTooMany says sign-in attempts are being refused for a while.
var ErrTooMany = errors.New("too many sign-in attempts; wait a minute")

// Login checks a password and opens a session. It returns the cookie
// value (to be set once) and the principal. Unknown users and wrong
// passwords fail alike and take alike. remote is the client's address,
// for the limit on failed attempts.
func (s *Service) Login(ctx context.Context, name, password, remote string) (string, Principal, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	source := clientKey(remote)
	if !validName(name) {
		// No user can have such a name: nothing to hash, and no bucket
		// for it, only the source's.
		_, ok, err := s.charge(ctx, source)
		if err != nil {
			return "", Principal{}, err
		}
		if !ok {
			s.signInFailed(ctx, s.denied, name, remote, "too many attempts")
			return "", Principal{}, ErrTooMany
		}
		s.log.Info("sign-in failed: not a user name", "remote", remote)
		s.signInFailed(ctx, s.audit, name, remote, "not a user name")
		return "", Principal{}, ErrBadCredentials
	}
	pair := pairKey(source, name)
	keys := []string{source, pair}
	trusted, err := s.isTrusted(ctx, pair)
	if err != nil {
		return "", Principal{}, err
	}
	if !trusted {
		keys = append(keys, "user:"+name)
	}
	a, ok, err := s.charge(ctx, keys...)
	if err != nil {
		return "", Principal{}, err
	}
	if !ok {
		s.log.Warn("sign-in refused: too many attempts", "user", name, "remote", remote)
		s.signInFailed(ctx, s.denied, name, remote, "too many attempts")
		return "", Principal{}, ErrTooMany
	}
	u, err := s.st.User(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.refund(ctx, a)
		return "", Principal{}, err
	}
	hash := u.PasswordHash
	if err != nil || hash == "" {
		hash = s.dummy
	}
	if err := s.hashing.enter(ctx); err != nil {
		// Not tried, so not counted.
		s.refund(ctx, a)
		if errors.Is(err, ErrBusy) {
			s.log.Warn("sign-in refused: too many at once", "user", name, "remote", remote)
		}
		return "", Principal{}, err
	}
	match, verr := VerifyPassword(hash, password)
	s.hashing.leave(hashMemKiB(hash))
	if err != nil || u.PasswordHash == "" || verr != nil || !match || u.Disabled {
		if verr != nil && err == nil && u.PasswordHash != "" {
			s.log.Error("stored password hash is malformed", "user", name, "err", verr)
		}
		s.log.Info("sign-in failed", "user", name, "remote", remote)
		reason := "wrong user name or password"
		if err == nil && u.Disabled && match {
			reason = "user disabled"
		}
		s.signInFailed(ctx, s.audit, name, remote, reason)
		return "", Principal{}, ErrBadCredentials
	}
	s.refund(ctx, a)
	s.trust(ctx, pair)
	cookie, err := randomString(32)
	if err != nil {
		return "", Principal{}, err
	}
	csrf, err := randomString(24)
	if err != nil {
		return "", Principal{}, err
	}
	now := s.o.Now()
	if err := s.st.PutSession(ctx, store.Session{IDHash: hashOf(cookie), User: u.Name, CSRF: csrf, CreatedAt: now,
		ExpiresAt: now.Add(s.o.Lifetime), LastSeenAt: now}); err != nil {
		return "", Principal{}, err
	}
	s.log.Info("signed in", "user", u.Name, "remote", remote)
	s.record(ctx, s.audit, audit.Record{Actor: u.Name, Action: audit.SignIn, Target: u.Name, Outcome: audit.OK,
		Details: map[string]string{"remote": remote}})
	return cookie, Principal{User: u.Name, Role: Role(u.Role), UsagePoints: u.UsagePoints, Session: true, CSRF: csrf}, nil
}

// IssueToken makes an API token for a user; ttl 0 means it does not
// expire. The token is returned once and never stored.
func (s *Service) IssueToken(ctx context.Context, user, label string, ttl time.Duration) (string, store.APIToken, error) {
	u, err := s.st.User(ctx, user)
	if err != nil {
		return "", store.APIToken{}, err
	}
	tok, id, hash, err := newToken()
	if err != nil {
		return "", store.APIToken{}, err
	}
	now := s.o.Now()
	t := store.APIToken{ID: id, User: u.Name, Hash: hash, Label: label, CreatedAt: now}
	if ttl > 0 {
		t.ExpiresAt = now.Add(ttl)
	}
	if err := s.st.PutToken(ctx, t); err != nil {
		return "", store.APIToken{}, err
	}
	s.log.Info("API token issued", "user", u.Name, "token", id, "label", label)
	d := map[string]string{"token": id, "label": label}
	if ttl > 0 {
		d["expires"] = t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	s.record(ctx, s.audit, audit.Record{Actor: actor(ctx), Action: audit.TokenIssue, Target: u.Name, Outcome: audit.OK, Details: d})
	return tok, t, nil
}

// Authenticate finds who sent the request: a bearer token, else the
// session cookie.
func (s *Service) Authenticate(r *http.Request) (Principal, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return Principal{}, ErrNoCredentials
		}
		return s.byToken(ctx, strings.TrimSpace(tok))
	}
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return Principal{}, ErrNoCredentials
	}
	return s.bySession(ctx, c.Value)
}

func (s *Service) byToken(ctx context.Context, tok string) (Principal, error) {
	id, hash, err := ParseToken(tok)
	if err != nil {
		return Principal{}, ErrTokenUnknown
	}
	t, err := s.st.Token(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrTokenUnknown
	}
	if err != nil {
		return Principal{}, err
	}
	if subtle.ConstantTimeCompare(t.Hash, hash) != 1 {
		return Principal{}, ErrTokenUnknown
	}
	now := s.o.Now()
	switch {
	case t.Revoked:
		return Principal{}, ErrTokenRevoked
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return Principal{}, ErrTokenExpired
	}
	u, err := s.user(ctx, t.User)
	if err != nil {
		return Principal{}, err
	}
	// Last use to the minute is enough, and spares a write per request.
	if now.Sub(t.LastUsedAt) > time.Minute {
		if err := s.st.TouchToken(ctx, id, now); err != nil {
			s.log.Warn("recording token use", "token", id, "err", err)
		}
	}
	return Principal{User: u.Name, Role: Role(u.Role), UsagePoints: u.UsagePoints, TokenID: id}, nil
}

func (s *Service) bySession(ctx context.Context, cookie string) (Principal, error) {
	se, err := s.st.Session(ctx, hashOf(cookie))
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrSessionEnded
	}
	if err != nil {
		return Principal{}, err
	}
	now := s.o.Now()
	if !now.Before(se.ExpiresAt) || now.Sub(se.LastSeenAt) >= s.o.IdleTimeout {
		if err := s.st.DeleteSession(ctx, se.IDHash); err != nil {
			s.log.Warn("ending a session", "err", err)
		}
		return Principal{}, ErrSessionEnded
	}
	u, err := s.user(ctx, se.User)
	if err != nil {
		return Principal{}, err
	}
	if now.Sub(se.LastSeenAt) > 10*time.Second {
		if err := s.st.TouchSession(ctx, se.IDHash, now); err != nil {
			s.log.Warn("recording session use", "err", err)
		}
	}
	return Principal{User: u.Name, Role: Role(u.Role), UsagePoints: u.UsagePoints, Session: true, CSRF: se.CSRF}, nil
}

// user loads an enabled user.
func (s *Service) user(ctx context.Context, name string) (store.User, error) {
	u, err := s.st.User(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return u, ErrUserDisabled
	}
	if err != nil {
		return u, err
	}
	if u.Disabled {
		return u, ErrUserDisabled
	}
	return u, nil
}

// isAuthErr tells a refusal from a failure of the store.
func isAuthErr(err error) bool {
	for _, e := range []error{ErrNoCredentials, ErrBadCredentials, ErrTokenUnknown, ErrTokenExpired, ErrTokenRevoked, ErrSessionEnded, ErrUserDisabled} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Middleware authenticates every request it passes on, and holds back a
// browser's unsafe request whose CSRF token does not match its session.
// Paths for which public returns true pass without credentials.
func (s *Service) Middleware(public func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public != nil && public(r) {
			next.ServeHTTP(w, r)
			return
		}
		p, err := s.Authenticate(r)
		if err != nil {
			if !isAuthErr(err) {
				s.log.Error("authenticating", "path", r.URL.Path, "err", err)
				writeError(w, http.StatusInternalServerError, "internal", "internal error")
				return
			}
			s.RecordDenied(r.Context(), r.Method+" "+r.URL.Path, "", http.StatusUnauthorized, err.Error())
			Unauthorized(w, err.Error())
			return
		}
		if p.Session && unsafe(r.Method) {
			got := r.Header.Get("X-CSRF-Token")
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.CSRF)) != 1 {
				s.RecordDenied(r.Context(), r.Method+" "+r.URL.Path, p.User, http.StatusForbidden, "missing or wrong CSRF token")
				writeError(w, http.StatusForbidden, "csrf", "missing or wrong X-CSRF-Token header for this session")
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

func unsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// Unauthorized answers 401 with the API's JSON error.
func Unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="amigo"`)
	writeError(w, http.StatusUnauthorized, "unauthenticated", msg)
}

// Forbidden answers 403 naming what is missing.
func Forbidden(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusForbidden, "forbidden", msg)
}

// Require passes the request on only if its principal has p.
func Require(p Permission, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pr, ok := FromContext(r.Context())
		if !ok {
			Unauthorized(w, ErrNoCredentials.Error())
			return
		}
		if !pr.Can(p) {
			Forbidden(w, fmt.Sprintf("role %s lacks the %s permission", pr.Role, p))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// writeError writes the same JSON error shape as the REST API.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]map[string]string{"error": {"code": code, "message": msg}})
}

type loginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// maxLoginBody caps a sign-in request's body.
const maxLoginBody = 4 << 10

// loginOrigin refuses sign-ins posted by another site's page, which would
// sign a victim's browser into the attacker's account.
var loginOrigin = http.NewCrossOriginProtection()

// readLogin reads a sign-in body: JSON {"user", "password"} (also when no
// Content-Type is sent) or an HTML form with the fields user and password.
// Other fields are refused, as in every JSON body of the API.
func readLogin(w http.ResponseWriter, r *http.Request) (loginRequest, int, error) {
	var req loginRequest
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	tooLarge := func(err error) (loginRequest, int, error) {
		if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
			return req, http.StatusRequestEntityTooLarge, fmt.Errorf("body over %d bytes", mbe.Limit)
		}
		return req, http.StatusBadRequest, fmt.Errorf("body: %w", err)
	}
	mt := ""
	if ct := r.Header.Get("Content-Type"); ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			return req, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: %w", ct, err)
		}
	}
	switch {
	case mt == "application/x-www-form-urlencoded":
		if err := r.ParseForm(); err != nil {
			return tooLarge(err)
		}
		for k, v := range r.PostForm {
			if (k != "user" && k != "password") || len(v) != 1 {
				return req, http.StatusBadRequest, fmt.Errorf("form: unexpected field %q; want user and password once each", k)
			}
		}
		return loginRequest{User: r.PostForm.Get("user"), Password: r.PostForm.Get("password")}, 0, nil
	case mt == "" || mt == "application/json":
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return tooLarge(err)
		}
		if _, err := dec.Token(); err != io.EOF {
			if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
				return tooLarge(err)
			}
			return req, http.StatusBadRequest, errors.New("body: trailing data after the JSON value")
		}
		return req, 0, nil
	}
	return req, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q: send application/json or a form", mt)
}

// LoginHandler signs in with a JSON {"user", "password"} or a form of the
// same fields, and sets the session cookie; it answers the principal with
// its CSRF token. A sign-in posted from another site is refused.
func (s *Service) LoginHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := loginOrigin.Check(r); err != nil {
			s.RecordDenied(r.Context(), r.Method+" "+r.URL.Path, "", http.StatusForbidden, "sign-in from another site's page")
			writeError(w, http.StatusForbidden, "cross_origin", "sign-in from another site's page refused")
			return
		}
		req, status, err := readLogin(w, r)
		if err != nil {
			code := "bad_body"
			switch status {
			case http.StatusRequestEntityTooLarge:
				code = "too_large"
			case http.StatusUnsupportedMediaType:
				code = "unsupported_media_type"
			}
			writeError(w, status, code, err.Error())
			return
		}
		remote, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			remote = r.RemoteAddr
		}
		cookie, p, err := s.Login(r.Context(), req.User, req.Password, remote)
		switch {
		case errors.Is(err, ErrTooMany):
			w.Header().Set("Retry-After", strconv.Itoa(int(limitEvery/time.Second)))
			writeError(w, http.StatusTooManyRequests, "too_many", err.Error())
			return
		case errors.Is(err, ErrBusy):
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "busy", err.Error())
			return
		case errors.Is(err, ErrBadCredentials):
			Unauthorized(w, err.Error())
			return
		case r.Context().Err() != nil:
			// The client has gone; nobody reads the answer.
			writeError(w, http.StatusServiceUnavailable, "unavailable", "request cancelled")
			return
		case err != nil:
			s.log.Error("signing in", "err", err)
			writeError(w, http.StatusInternalServerError, "internal", "internal error")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: cookie, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
			SameSite: http.SameSiteLaxMode, MaxAge: int(s.o.Lifetime / time.Second)})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(p)
	})
}

// Logout ends the session of a cookie value; an unknown one is no error.
func (s *Service) Logout(ctx context.Context, cookie string) error {
	if cookie == "" {
		return nil
	}
	return s.st.DeleteSession(ctx, hashOf(cookie))
}

// LogoutHandler ends the request's session and clears the cookie. Mount it
// behind Middleware, which holds back a cross-site sign-out without the
// session's CSRF token.
func (s *Service) LogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(CookieName); err == nil {
			if err := s.Logout(r.Context(), c.Value); err != nil {
				s.log.Error("signing out", "err", err)
				writeError(w, http.StatusInternalServerError, "internal", "internal error")
				return
			}
		}
		who := actor(r.Context())
		s.record(r.Context(), s.audit, audit.Record{Actor: who, Action: audit.SignOut, Target: who, Outcome: audit.OK})
		http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil,
			SameSite: http.SameSiteLaxMode, MaxAge: -1})
		w.WriteHeader(http.StatusNoContent)
	})
}

// WhoAmIHandler answers the request's principal.
func (s *Service) WhoAmIHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := FromContext(r.Context())
		if !ok {
			Unauthorized(w, ErrNoCredentials.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(p)
	})
}

// Store returns the users store, for the commands that manage users.
func (s *Service) Store() store.Users { return s.st }
