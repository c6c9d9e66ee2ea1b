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
	queries["putTemplate"] = `INSERT INTO object_templates(key, model, updated_us) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET model = excluded.model, updated_us = excluded.updated_us`
	queries["getTemplate"] = `SELECT model FROM object_templates WHERE key = ?`
	queries["putMeterTemplate"] = `INSERT INTO meter_templates(meter_id, template_key, updated_us) VALUES (?, ?, ?)
		ON CONFLICT (meter_id) DO UPDATE SET template_key = excluded.template_key, updated_us = excluded.updated_us`
	queries["getMeterTemplate"] = `SELECT template_key FROM meter_templates WHERE meter_id = ?`
}

// maxTemplate bounds a template: a meter's object model with every
// profile's columns and every register's scaler is a few tens of KiB; a
// bigger blob is a bug, not a meter.
const maxTemplate = 4 << 20

// PutTemplate implements store.ObjectModels.
func (s *DB) PutTemplate(ctx context.Context, key string, model []byte) error {
	if key == "" || len(model) == 0 {
		return errors.New("object template: key and model are required")
	}
	if len(model) > maxTemplate {
		return fmt.Errorf("object template %s: %d bytes, at most %d", key, len(model), maxTemplate)
	}
	if _, err := s.db.ExecContext(ctx, s.q["putTemplate"], key, model, time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("object template %s: %w", key, err)
	}
	return nil
}

// Template implements store.ObjectModels.
func (s *DB) Template(ctx context.Context, key string) ([]byte, error) {
	var b []byte
	err := s.queryRow(ctx, s.q["getTemplate"], key).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("object template %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("object template %s: %w", key, err)
	}
	return b, nil
}

// SetMeterTemplate implements store.ObjectModels.
func (s *DB) SetMeterTemplate(ctx context.Context, meterID, key string) error {
	if err := needIDs("meter template", meterID, key); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.q["putMeterTemplate"], meterID, key, time.Now().UnixMicro()); err != nil {
		return fmt.Errorf("meter %s: template: %w", meterID, err)
	}
	return nil
}

// MeterTemplate implements store.ObjectModels.
func (s *DB) MeterTemplate(ctx context.Context, meterID string) (string, error) {
	var k string
	err := s.queryRow(ctx, s.q["getMeterTemplate"], meterID).Scan(&k)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("meter %s: template: %w", meterID, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("meter %s: template: %w", meterID, err)
	}
	return k, nil
}

var _ store.ObjectModels = (*DB)(nil)
