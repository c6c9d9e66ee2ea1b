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
	for k, v := range map[string]string{
		"stageSecret":   `UPDATE meter_secrets SET pending = ?, updated_us = ? WHERE meter_id = ?`,
		"pendingSecret": `SELECT pending FROM meter_secrets WHERE meter_id = ? AND pending IS NOT NULL`,
		// One statement, so no reader ever sees the meter without a
		// current secret or with the pending one twice.
		"promoteSecret": `UPDATE meter_secrets SET sealed = pending, pending = NULL, updated_us = ? WHERE meter_id = ? AND pending IS NOT NULL`,
		"dropPending":   `UPDATE meter_secrets SET pending = NULL, updated_us = ? WHERE meter_id = ? AND pending IS NOT NULL`,
	} {
		queries[k] = v
	}
}

// StageMeterSecret implements store.KeyStaging.
func (s *DB) StageMeterSecret(ctx context.Context, meterID string, sealed []byte) error {
	if meterID == "" || len(sealed) == 0 {
		return errors.New("pending meter secret: meter and sealed bytes are required")
	}
	res, err := s.db.ExecContext(ctx, s.q["stageSecret"], sealed, time.Now().UnixMicro(), meterID)
	if err != nil {
		return fmt.Errorf("meter %s: staging secret: %w", meterID, err)
	}
	if k, err := res.RowsAffected(); err == nil && k == 0 {
		return fmt.Errorf("meter %s: staging secret: no current secret: %w", meterID, store.ErrNotFound)
	}
	return nil
}

// PendingMeterSecret implements store.KeyStaging.
func (s *DB) PendingMeterSecret(ctx context.Context, meterID string) ([]byte, error) {
	var b []byte
	err := s.queryRow(ctx, s.q["pendingSecret"], meterID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("meter %s: pending secret: %w", meterID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("meter %s: pending secret: %w", meterID, err)
	}
	return b, nil
}

// PromoteMeterSecret implements store.KeyStaging.
func (s *DB) PromoteMeterSecret(ctx context.Context, meterID string) error {
	res, err := s.db.ExecContext(ctx, s.q["promoteSecret"], time.Now().UnixMicro(), meterID)
	if err != nil {
		return fmt.Errorf("meter %s: promoting pending secret: %w", meterID, err)
	}
	if k, err := res.RowsAffected(); err == nil && k == 0 {
		return fmt.Errorf("meter %s: promoting pending secret: none pending: %w", meterID, store.ErrNotFound)
	}
	return nil
}

// DropPendingMeterSecret implements store.KeyStaging.
func (s *DB) DropPendingMeterSecret(ctx context.Context, meterID string) error {
	if _, err := s.db.ExecContext(ctx, s.q["dropPending"], time.Now().UnixMicro(), meterID); err != nil {
		return fmt.Errorf("meter %s: dropping pending secret: %w", meterID, err)
	}
	return nil
}
