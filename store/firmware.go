package store

import (
	"context"
	"time"
)

// FirmwareImage is a signed firmware image as stored: the bytes in the
// firmware package's layout and the header fields read from them. Whoever
// stores an image has checked its signature against the trusted firmware
// key; whoever sends it checks again.
type FirmwareImage struct {
	ID      string // the image identifier (its version)
	Vendor  string
	Model   string
	Version string
	Size    int64  // payload bytes
	SHA256  string // payload digest, hex
	Image   []byte // the whole signed image
	AddedBy string
	AddedAt time.Time
}

// FirmwareImages keeps the signed images firmware campaigns send.
type FirmwareImages interface {
	// PutFirmwareImage stores an image. The same image stored again is a
	// no-op; other bytes under an id already stored are refused with
	// ErrConflict, so that a campaign's image never changes under it.
	PutFirmwareImage(ctx context.Context, im FirmwareImage) error
	// FirmwareImage returns the image id, or ErrNotFound.
	FirmwareImage(ctx context.Context, id string) (FirmwareImage, error)
	// FirmwareImageList returns every image, without its bytes, by id.
	FirmwareImageList(ctx context.Context) ([]FirmwareImage, error)
}
