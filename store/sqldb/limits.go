package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/store"
)

// A bucket is kept as one number, its theoretical arrival time (the
// generic cell rate algorithm): the time at which it would be full again.
// A take moves it one period on from max(tat, now), and is granted when
// that lands no further than burst periods past now. One number per bucket
// lets a single upsert decide and charge, so that nodes taking from the
// same bucket at once are ordered by the row's lock and never both
// granted the last token. A bucket whose tat is past is full, and its row
// can go.
func init() {
	queries["takeToken"] = `INSERT INTO rate_buckets(bucket, tat_us) VALUES (?, ?)
		ON CONFLICT (bucket) DO UPDATE SET tat_us = (CASE WHEN rate_buckets.tat_us > ? THEN rate_buckets.tat_us ELSE ? END) + ?
		WHERE (CASE WHEN rate_buckets.tat_us > ? THEN rate_buckets.tat_us ELSE ? END) + ? <= ?
		RETURNING tat_us`
	queries["bucketTAT"] = `SELECT tat_us FROM rate_buckets WHERE bucket = ?`
	queries["returnToken"] = `UPDATE rate_buckets SET tat_us = CASE WHEN tat_us - ? < ? THEN ? ELSE tat_us - ? END WHERE bucket = ?`
	queries["forgetBuckets"] = `DELETE FROM rate_buckets WHERE tat_us <= ?`
	queries["countBuckets"] = `SELECT COUNT(*) FROM rate_buckets`
	queries["trust"] = `INSERT INTO signin_trust(pair, at_us) VALUES (?, ?)
		ON CONFLICT (pair) DO UPDATE SET at_us = excluded.at_us WHERE excluded.at_us > signin_trust.at_us`
	queries["trustedAt"] = `SELECT at_us FROM signin_trust WHERE pair = ?`
	queries["forgetTrust"] = `DELETE FROM signin_trust WHERE at_us < ?`
}

func checkBuckets(buckets []store.Bucket) error {
	for _, b := range buckets {
		if b.Key == "" || b.Every < time.Microsecond || b.Burst < 1 {
			return fmt.Errorf("rate bucket %q: want a key, a period of at least 1µs and a burst of at least 1 (period %v, burst %d)", b.Key, b.Every, b.Burst)
		}
	}
	return nil
}

// byKey orders buckets by key: every node locks rows in the same order,
// so two takes over the same buckets cannot deadlock.
func byKey(buckets []store.Bucket) []store.Bucket {
	sorted := slices.Clone(buckets)
	slices.SortFunc(sorted, func(a, b store.Bucket) int { return strings.Compare(a.Key, b.Key) })
	return slices.CompactFunc(sorted, func(a, b store.Bucket) bool { return a.Key == b.Key })
}

// TakeTokens implements store.Limits.
func (s *DB) TakeTokens(ctx context.Context, now time.Time, buckets ...store.Bucket) (bool, time.Time, error) {
	if err := checkBuckets(buckets); err != nil {
		return false, time.Time{}, err
	}
	if len(buckets) == 0 {
		return true, time.Time{}, nil
	}
	n := now.UnixMicro()
	granted, next := false, time.Time{}
	errRefused := errors.New("refused")
	err := s.inTxRetry(ctx, func(tx *sql.Tx) error {
		for _, b := range byKey(buckets) {
			t := b.Every.Microseconds()
			limit := n + int64(b.Burst)*t
			var tat int64
			err := tx.QueryRowContext(ctx, s.q["takeToken"], b.Key, n+t, n, n, t, n, n, t, limit).Scan(&tat)
			if errors.Is(err, sql.ErrNoRows) {
				if err := tx.QueryRowContext(ctx, s.q["bucketTAT"], b.Key).Scan(&tat); err != nil {
					return fmt.Errorf("rate bucket %q: %w", b.Key, err)
				}
				next = time.UnixMicro(tat - int64(b.Burst-1)*t).UTC()
				// Rolls back the tokens taken from the buckets before it.
				return errRefused
			}
			if err != nil {
				return fmt.Errorf("rate bucket %q: %w", b.Key, err)
			}
		}
		granted = true
		return nil
	})
	if errors.Is(err, errRefused) {
		return false, next, nil
	}
	if err != nil {
		return false, time.Time{}, err
	}
	return granted, time.Time{}, nil
}

// ReturnTokens implements store.Limits.
func (s *DB) ReturnTokens(ctx context.Context, now time.Time, buckets ...store.Bucket) error {
	if err := checkBuckets(buckets); err != nil {
		return err
	}
	if len(buckets) == 0 {
		return nil
	}
	n := now.UnixMicro()
	return s.inTxRetry(ctx, func(tx *sql.Tx) error {
		for _, b := range byKey(buckets) {
			t := b.Every.Microseconds()
			if _, err := tx.ExecContext(ctx, s.q["returnToken"], t, n, n, t, b.Key); err != nil {
				return fmt.Errorf("rate bucket %q: %w", b.Key, err)
			}
		}
		return nil
	})
}

// Trust implements store.Limits.
func (s *DB) Trust(ctx context.Context, key string, at time.Time) error {
	if key == "" {
		return errors.New("trust: empty key")
	}
	if _, err := s.db.ExecContext(ctx, s.q["trust"], key, at.UnixMicro()); err != nil {
		return fmt.Errorf("trust %q: %w", key, err)
	}
	return nil
}

// TrustedAt implements store.Limits.
func (s *DB) TrustedAt(ctx context.Context, key string) (time.Time, error) {
	var at int64
	err := s.queryRow(ctx, s.q["trustedAt"], key).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("trust %q: %w", key, err)
	}
	return time.UnixMicro(at).UTC(), nil
}

// ForgetLimits implements store.Limits.
func (s *DB) ForgetLimits(ctx context.Context, now, trustedBefore time.Time) (int, error) {
	r, err := s.db.ExecContext(ctx, s.q["forgetBuckets"], now.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("forgetting rate buckets: %w", err)
	}
	nb, _ := r.RowsAffected()
	r, err = s.db.ExecContext(ctx, s.q["forgetTrust"], trustedBefore.UnixMicro())
	if err != nil {
		return int(nb), fmt.Errorf("forgetting trusted sign-in sources: %w", err)
	}
	nt, _ := r.RowsAffected()
	return int(nb + nt), nil
}

// CountBuckets implements store.Limits.
func (s *DB) CountBuckets(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, s.q["countBuckets"]).Scan(&n)
	return n, err
}
