package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/store"
)

func init() {
	queries["insertUser"] = `INSERT INTO users(name, display_name, password_hash, role, disabled, created_us, updated_us) VALUES (?, ?, ?, ?, ?, ?, ?)`
	queries["updateUser"] = `UPDATE users SET display_name = ?, password_hash = ?, role = ?, disabled = ?, updated_us = ? WHERE name = ?`
	queries["getUser"] = `SELECT name, display_name, password_hash, role, disabled, created_us, updated_us FROM users WHERE name = ?`
	queries["userUsagePoints"] = `SELECT usage_point FROM user_usage_points WHERE user_name = ? ORDER BY usage_point`
	queries["insertToken"] = `INSERT INTO api_tokens(id, user_name, hash, label, created_us, expires_us, last_used_us, revoked) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	queries["getToken"] = `SELECT id, user_name, hash, label, created_us, expires_us, last_used_us, revoked FROM api_tokens WHERE id = ?`
	queries["userTokens"] = `SELECT id, user_name, hash, label, created_us, expires_us, last_used_us, revoked FROM api_tokens WHERE user_name = ? ORDER BY created_us, id`
	queries["insertSession"] = `INSERT INTO sessions(id_hash, user_name, csrf, created_us, expires_us, last_seen_us) VALUES (?, ?, ?, ?, ?, ?)`
	queries["getSession"] = `SELECT id_hash, user_name, csrf, created_us, expires_us, last_seen_us FROM sessions WHERE id_hash = ?`
}

func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func checkUser(u store.User) error {
	if u.Name == "" || u.Name != strings.ToLower(u.Name) || u.Role == "" {
		return errors.New("user: a lower-case name and a role are required")
	}
	return nil
}

// CreateUser implements store.Users.
func (s *DB) CreateUser(ctx context.Context, u store.User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixMicro()
		if _, err := tx.ExecContext(ctx, s.q["insertUser"], u.Name, u.DisplayName, u.PasswordHash, u.Role, b2i(u.Disabled), now, now); err != nil {
			if s.d.IsConflict(err) {
				return fmt.Errorf("user %s: %w", u.Name, store.ErrConflict)
			}
			return fmt.Errorf("user %s: %w", u.Name, err)
		}
		return s.putUsagePoints(ctx, tx, u)
	})
}

func (s *DB) putUsagePoints(ctx context.Context, tx *sql.Tx, u store.User) error {
	if _, err := tx.ExecContext(ctx, s.rebind("DELETE FROM user_usage_points WHERE user_name = ?"), u.Name); err != nil {
		return err
	}
	for _, up := range u.UsagePoints {
		if _, err := tx.ExecContext(ctx, s.rebind("INSERT INTO user_usage_points(user_name, usage_point) VALUES (?, ?) ON CONFLICT DO NOTHING"), u.Name, up); err != nil {
			return fmt.Errorf("user %s: usage point %s: %w", u.Name, up, err)
		}
	}
	return nil
}

// UpdateUser implements store.Users.
func (s *DB) UpdateUser(ctx context.Context, u store.User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q["updateUser"], u.DisplayName, u.PasswordHash, u.Role, b2i(u.Disabled), time.Now().UnixMicro(), u.Name)
		if err != nil {
			return fmt.Errorf("user %s: %w", u.Name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("user %s: %w", u.Name, store.ErrNotFound)
		}
		return s.putUsagePoints(ctx, tx, u)
	})
}

func scanUser(sc rowScanner) (store.User, error) {
	var u store.User
	var disabled int
	var c, m int64
	err := sc.Scan(&u.Name, &u.DisplayName, &u.PasswordHash, &u.Role, &disabled, &c, &m)
	u.Disabled, u.CreatedAt, u.UpdatedAt = disabled != 0, fromUS(c), fromUS(m)
	return u, err
}

// User implements store.Users.
func (s *DB) User(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(s.queryRow(ctx, s.q["getUser"], strings.ToLower(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("user %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return u, err
	}
	u.UsagePoints, err = queryAll(ctx, s, func(sc interface{ Scan(...any) error }) (string, error) {
		var v string
		return v, sc.Scan(&v)
	}, s.q["userUsagePoints"], u.Name)
	return u, err
}

// Users implements store.Users.
func (s *DB) Users(ctx context.Context, after string, limit int) ([]store.User, error) {
	if limit <= 0 {
		limit = 100
	}
	us, err := queryAll(ctx, s, func(sc interface{ Scan(...any) error }) (store.User, error) { return scanUser(sc) },
		s.rebind(`SELECT name, display_name, password_hash, role, disabled, created_us, updated_us FROM users WHERE name > ? ORDER BY name LIMIT ?`), after, limit)
	if err != nil {
		return nil, err
	}
	for i := range us {
		if us[i].UsagePoints, err = queryAll(ctx, s, func(sc interface{ Scan(...any) error }) (string, error) {
			var v string
			return v, sc.Scan(&v)
		}, s.q["userUsagePoints"], us[i].Name); err != nil {
			return nil, err
		}
	}
	return us, nil
}

// CountUsers implements store.Users.
func (s *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, "SELECT COUNT(*) FROM users").Scan(&n)
	return n, err
}

// PutToken implements store.Users.
func (s *DB) PutToken(ctx context.Context, t store.APIToken) error {
	if t.ID == "" || t.User == "" || len(t.Hash) == 0 {
		return errors.New("token: id, user and hash are required")
	}
	_, err := s.db.ExecContext(ctx, s.q["insertToken"], t.ID, t.User, t.Hash, t.Label, us(t.CreatedAt), us(t.ExpiresAt), us(t.LastUsedAt), b2i(t.Revoked))
	if err != nil && s.d.IsConflict(err) {
		return fmt.Errorf("token %s: %w", t.ID, store.ErrConflict)
	}
	return err
}

func scanToken(sc interface{ Scan(...any) error }) (store.APIToken, error) {
	var t store.APIToken
	var c, e, l int64
	var revoked int
	err := sc.Scan(&t.ID, &t.User, &t.Hash, &t.Label, &c, &e, &l, &revoked)
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.Revoked = fromUS(c), fromUS(e), fromUS(l), revoked != 0
	return t, err
}

// Token implements store.Users.
func (s *DB) Token(ctx context.Context, id string) (store.APIToken, error) {
	t, err := scanToken(s.queryRow(ctx, s.q["getToken"], id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("token %s: %w", id, store.ErrNotFound)
	}
	return t, err
}

// Tokens implements store.Users.
func (s *DB) Tokens(ctx context.Context, user string) ([]store.APIToken, error) {
	return queryAll(ctx, s, scanToken, s.q["userTokens"], strings.ToLower(user))
}

// RevokeToken implements store.Users.
func (s *DB) RevokeToken(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, s.rebind("UPDATE api_tokens SET revoked = 1 WHERE id = ?"), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// TouchToken implements store.Users.
func (s *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, s.rebind("UPDATE api_tokens SET last_used_us = ? WHERE id = ?"), us(at), id)
	return err
}

// PutSession implements store.Users.
func (s *DB) PutSession(ctx context.Context, se store.Session) error {
	if len(se.IDHash) == 0 || se.User == "" || se.CSRF == "" {
		return errors.New("session: id, user and CSRF token are required")
	}
	_, err := s.db.ExecContext(ctx, s.q["insertSession"], se.IDHash, se.User, se.CSRF, us(se.CreatedAt), us(se.ExpiresAt), us(se.LastSeenAt))
	return err
}

// Session implements store.Users.
func (s *DB) Session(ctx context.Context, idHash []byte) (store.Session, error) {
	var se store.Session
	var c, e, l int64
	err := s.queryRow(ctx, s.q["getSession"], idHash).Scan(&se.IDHash, &se.User, &se.CSRF, &c, &e, &l)
	if errors.Is(err, sql.ErrNoRows) {
		return se, fmt.Errorf("session: %w", store.ErrNotFound)
	}
	se.CreatedAt, se.ExpiresAt, se.LastSeenAt = fromUS(c), fromUS(e), fromUS(l)
	return se, err
}

// TouchSession implements store.Users.
func (s *DB) TouchSession(ctx context.Context, idHash []byte, at time.Time) error {
	_, err := s.db.ExecContext(ctx, s.rebind("UPDATE sessions SET last_seen_us = ? WHERE id_hash = ?"), us(at), idHash)
	return err
}

// DeleteSession implements store.Users.
func (s *DB) DeleteSession(ctx context.Context, idHash []byte) error {
	_, err := s.db.ExecContext(ctx, s.rebind("DELETE FROM sessions WHERE id_hash = ?"), idHash)
	return err
}

// DeleteUserSessions implements store.Users.
func (s *DB) DeleteUserSessions(ctx context.Context, user string) error {
	_, err := s.db.ExecContext(ctx, s.rebind("DELETE FROM sessions WHERE user_name = ?"), strings.ToLower(user))
	return err
}

// DeleteExpiredSessions implements store.Users.
func (s *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.rebind("DELETE FROM sessions WHERE expires_us <= ?"), now.UnixMicro())
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
