package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/store"
)

func init() {
	queries["grantConsent"] = `INSERT INTO consents(usage_point, purpose, granted_by, granted_us) VALUES (?, ?, ?, ?)
		ON CONFLICT (usage_point, purpose) DO NOTHING`
	queries["getConsent"] = `SELECT usage_point, purpose, granted_by, granted_us FROM consents WHERE usage_point = ? AND purpose = ?`
	queries["revokeConsent"] = `DELETE FROM consents WHERE usage_point = ? AND purpose = ?`
	queries["listConsents"] = `SELECT usage_point, purpose, granted_by, granted_us FROM consents
		WHERE (? = '' OR usage_point = ?) AND (? = '' OR purpose = ?) ORDER BY usage_point, purpose`
}

// GrantConsent implements store.Consents.
func (s *DB) GrantConsent(ctx context.Context, c store.Consent) (store.Consent, error) {
	if c.UsagePoint == "" || c.Purpose == "" {
		return store.Consent{}, errors.New("consent: a usage point and a purpose are required")
	}
	if c.GrantedAt.IsZero() {
		return store.Consent{}, fmt.Errorf("consent %s of usage point %s: no time granted", c.Purpose, c.UsagePoint)
	}
	if _, err := s.db.ExecContext(ctx, s.q["grantConsent"], c.UsagePoint, c.Purpose, c.GrantedBy, c.GrantedAt.UnixMicro()); err != nil {
		return store.Consent{}, fmt.Errorf("consent %s of usage point %s: %w", c.Purpose, c.UsagePoint, err)
	}
	got, err := scanConsent(s.queryRow(ctx, s.q["getConsent"], c.UsagePoint, c.Purpose))
	if err != nil {
		return store.Consent{}, fmt.Errorf("consent %s of usage point %s: %w", c.Purpose, c.UsagePoint, err)
	}
	return got, nil
}

// RevokeConsent implements store.Consents.
func (s *DB) RevokeConsent(ctx context.Context, usagePoint, purpose string) error {
	res, err := s.db.ExecContext(ctx, s.q["revokeConsent"], usagePoint, purpose)
	if err != nil {
		return fmt.Errorf("consent %s of usage point %s: revoke: %w", purpose, usagePoint, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("consent %s of usage point %s: %w", purpose, usagePoint, store.ErrNotFound)
	}
	return nil
}

// HasConsent implements store.Consents.
func (s *DB) HasConsent(ctx context.Context, usagePoint, purpose string) (bool, error) {
	_, err := scanConsent(s.queryRow(ctx, s.q["getConsent"], usagePoint, purpose))
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("consent %s of usage point %s: %w", purpose, usagePoint, err)
	}
	return true, nil
}

// ListConsents implements store.Consents.
func (s *DB) ListConsents(ctx context.Context, q store.ConsentQuery) ([]store.Consent, error) {
	rows, err := s.QueryContext(ctx, s.q["listConsents"], q.UsagePoint, q.UsagePoint, q.Purpose, q.Purpose)
	if err != nil {
		return nil, fmt.Errorf("consents: %w", err)
	}
	defer rows.Close()
	var out []store.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("consents: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("consents: %w", err)
	}
	return out, nil
}

func scanConsent(r rowScanner) (store.Consent, error) {
	var c store.Consent
	var us int64
	if err := r.Scan(&c.UsagePoint, &c.Purpose, &c.GrantedBy, &us); err != nil {
		return store.Consent{}, err
	}
	c.GrantedAt = time.UnixMicro(us).UTC()
	return c, nil
}

var _ store.Consents = (*DB)(nil)
