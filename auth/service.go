package auth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

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
	Now    func() time.Time
	Logger *slog.Logger
}

// Service authenticates and authorises.
type Service struct {
	st  store.Users
	o   Options
	log *slog.Logger

	mu       sync.Mutex
	limiters map[string]*limiter // by "user:NAME" and "ip:ADDR"
	// dummy is a hash verified when the user is unknown, so that a wrong
	// name takes as long as a wrong password.
	dummy string
}

type limiter struct {
	l    *rate.Limiter
	seen time.Time
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
	pw, err := randomString(18)
	if err != nil {
		return nil, err
	}
	dummy, err := HashPassword(pw)
	if err != nil {
		return nil, err
	}
	return &Service{st: st, o: o, log: o.Logger.With("component", "auth"), limiters: map[string]*limiter{}, dummy: dummy}, nil
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
	if name == "" || len(name) > 64 || strings.ContainsAny(name, " \t\r\n/:") {
		return store.User{}, InputError{fmt.Errorf("user name %q: want 1 to 64 characters without spaces, '/' or ':'", name)}
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
		h, err := HashPassword(password)
		if err != nil {
			return store.User{}, err
		}
		u.PasswordHash = h
	}
	if err := s.st.CreateUser(ctx, u); err != nil {
		return store.User{}, err
	}
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
	if u.PasswordHash, err = HashPassword(password); err != nil {
		return err
	}
	if err := s.st.UpdateUser(ctx, u); err != nil {
		return err
	}
	return s.st.DeleteUserSessions(ctx, u.Name)
}

// allow takes one sign-in attempt from the named bucket: five at once,
// then one every twelve seconds.
func (s *Service) allow(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.o.Now()
	l := s.limiters[key]
	if l == nil {
		if len(s.limiters) > 10000 {
			for k, v := range s.limiters {
				if now.Sub(v.seen) > time.Hour {
					delete(s.limiters, k)
				}
			}
		}
		l = &limiter{l: rate.NewLimiter(rate.Every(12*time.Second), 5)}
		s.limiters[key] = l
	}
	l.seen = now
	return l.l.AllowN(now, 1)
}

// ErrTooMany says sign-in attempts are being refused for a while.
var ErrTooMany = errors.New("too many sign-in attempts; wait a minute")

// Login checks a password and opens a session. It returns the cookie
// value (to be set once) and the principal. Unknown users and wrong
// passwords fail alike and take alike.
func (s *Service) Login(ctx context.Context, name, password, remote string) (string, Principal, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if !s.allow("user:"+name) || !s.allow("ip:"+remote) {
		return "", Principal{}, ErrTooMany
	}
	u, err := s.st.User(ctx, name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", Principal{}, err
	}
	hash := u.PasswordHash
	if err != nil || hash == "" {
		hash = s.dummy
	}
	ok, verr := VerifyPassword(hash, password)
	if err != nil || u.PasswordHash == "" || verr != nil || !ok {
		if verr != nil && err == nil && u.PasswordHash != "" {
			s.log.Error("stored password hash is malformed", "user", name, "err", verr)
		}
		return "", Principal{}, ErrBadCredentials
	}
	if u.Disabled {
		return "", Principal{}, ErrBadCredentials
	}
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
			Unauthorized(w, err.Error())
			return
		}
		if p.Session && unsafe(r.Method) {
			got := r.Header.Get("X-CSRF-Token")
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.CSRF)) != 1 {
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

// LoginHandler signs in with a JSON {"user", "password"} and sets the
// session cookie; it answers the principal with its CSRF token.
func (s *Service) LoginHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req loginRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
				writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body over %d bytes", mbe.Limit))
				return
			}
			writeError(w, http.StatusBadRequest, "bad_body", "body: "+err.Error())
			return
		}
		if _, err := dec.Token(); err != io.EOF {
			writeError(w, http.StatusBadRequest, "bad_body", "body: trailing data after the JSON value")
			return
		}
		remote, _, _ := net.SplitHostPort(r.RemoteAddr)
		cookie, p, err := s.Login(r.Context(), req.User, req.Password, remote)
		switch {
		case errors.Is(err, ErrTooMany):
			w.Header().Set("Retry-After", "60")
			writeError(w, http.StatusTooManyRequests, "too_many", err.Error())
			return
		case errors.Is(err, ErrBadCredentials):
			Unauthorized(w, err.Error())
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

// LogoutHandler ends the request's session; it expects the principal in
// the context (behind Middleware).
func (s *Service) LogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
			if err := s.st.DeleteSession(r.Context(), hashOf(c.Value)); err != nil {
				s.log.Error("signing out", "err", err)
			}
		}
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
