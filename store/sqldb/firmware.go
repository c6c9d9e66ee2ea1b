package sqldb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/store"
)

func init() {
	queries["putFirmwareImage"] = `INSERT INTO firmware_images(id, vendor, model, version, size, sha256, image, added_by, added_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`
	queries["getFirmwareImage"] = `SELECT id, vendor, model, version, size, sha256, image, added_by, added_us FROM firmware_images WHERE id = ?`
	queries["listFirmwareImages"] = `SELECT id, vendor, model, version, size, sha256, added_by, added_us FROM firmware_images ORDER BY id`
}

// maxFirmwareImage bounds an image: meters' flash holds a few MiB.
const maxFirmwareImage = 64 << 20

// PutFirmwareImage implements store.FirmwareImages.
func (s *DB) PutFirmwareImage(ctx context.Context, im store.FirmwareImage) error {
	switch {
	case im.ID == "" || im.Version == "" || len(im.Image) == 0:
		return errors.New("firmware image: id, version and image are required")
	case len(im.Image) > maxFirmwareImage:
		return fmt.Errorf("firmware image %s: %d bytes, at most %d", im.ID, len(im.Image), maxFirmwareImage)
	}
	at := im.AddedAt
	if at.IsZero() {
		at = time.Now()
	}
	res, err := s.db.ExecContext(ctx, s.q["putFirmwareImage"], im.ID, im.Vendor, im.Model, im.Version, im.Size, im.SHA256,
		im.Image, im.AddedBy, at.UnixMicro())
	if err != nil {
		return fmt.Errorf("firmware image %s: %w", im.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return nil
	}
	had, err := s.FirmwareImage(ctx, im.ID)
	if err != nil {
		return err
	}
	if !bytes.Equal(had.Image, im.Image) {
		return fmt.Errorf("firmware image %s: other bytes stored under this id: %w", im.ID, store.ErrConflict)
	}
	return nil
}

// FirmwareImage implements store.FirmwareImages.
func (s *DB) FirmwareImage(ctx context.Context, id string) (store.FirmwareImage, error) {
	var im store.FirmwareImage
	var us int64
	err := s.queryRow(ctx, s.q["getFirmwareImage"], id).Scan(&im.ID, &im.Vendor, &im.Model, &im.Version, &im.Size, &im.SHA256,
		&im.Image, &im.AddedBy, &us)
	if errors.Is(err, sql.ErrNoRows) {
		return im, fmt.Errorf("firmware image %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return im, fmt.Errorf("firmware image %s: %w", id, err)
	}
	im.AddedAt = time.UnixMicro(us).UTC()
	return im, nil
}

// FirmwareImageList implements store.FirmwareImages.
func (s *DB) FirmwareImageList(ctx context.Context) ([]store.FirmwareImage, error) {
	rows, err := s.db.QueryContext(ctx, s.q["listFirmwareImages"])
	if err != nil {
		return nil, fmt.Errorf("firmware images: %w", err)
	}
	defer rows.Close()
	var out []store.FirmwareImage
	for rows.Next() {
		var im store.FirmwareImage
		var us int64
		if err := rows.Scan(&im.ID, &im.Vendor, &im.Model, &im.Version, &im.Size, &im.SHA256, &im.AddedBy, &us); err != nil {
			return nil, fmt.Errorf("firmware images: %w", err)
		}
		im.AddedAt = time.UnixMicro(us).UTC()
		out = append(out, im)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("firmware images: %w", err)
	}
	return out, nil
}

var _ store.FirmwareImages = (*DB)(nil)
