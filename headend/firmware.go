package headend

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/campaign"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/firmware"
	"github.com/amigo-ami/amigo/retry"
	"github.com/amigo-ami/amigo/store"
)

// ImageSession is implemented by a Session whose protocol transfers
// firmware images to meters.
type ImageSession interface {
	// TransferImage brings a signed image (firmware's layout) to the meter
	// under identifier id and has the meter verify it. A transfer the meter
	// already holds part of is resumed: only the missing blocks are sent.
	// A link lost mid-way returns its error; the next session resumes. A
	// meter that refuses the image returns an error wrapping
	// ErrImageVerification.
	TransferImage(ctx context.Context, id string, image []byte) (ImageTransfer, error)
	// ActiveFirmware reads the identifier of the firmware the meter runs.
	ActiveFirmware(ctx context.Context) (string, error)
}

// ImageTransfer is what one TransferImage did.
type ImageTransfer struct {
	Blocks int // blocks of the image
	Sent   int // blocks sent in this session
	// Resumed is true when the meter already held part of the image.
	Resumed bool
	// Running is true when the meter runs the image already: nothing was
	// sent.
	Running bool
}

// ErrImageVerification is wrapped by TransferImage when the meter refused
// the image at verification.
var ErrImageVerification = errors.New("image verification failed at the meter")

// ErrImageSignature is wrapped with ErrImageVerification when the meter
// says (in its event log) that it refused the image's signature.
var ErrImageSignature = errors.New("image signature refused by the meter")

// ErrImageRefused is wrapped for an image the head-end refuses to send:
// not signed by the trusted firmware key, or malformed.
var ErrImageRefused = errors.New("firmware image refused")

// EventFirmwareRefused is the event of an image refused for its signature
// (domain 11, firmware), by the head-end before sending or by the meter.
const EventFirmwareRefused cim.EndDeviceEventType = "3.11.0.35"

// imageSession opens a session to meter m that transfers images.
func (h *HeadEnd) withImageSession(ctx context.Context, meterID, op string, fn func(context.Context, ImageSession) error) error {
	m, err := h.st.Meter(ctx, meterID)
	if err != nil {
		return fmt.Errorf("meter %s: %w", meterID, err)
	}
	if m.Parent != "" {
		return behindParent(m, op)
	}
	t, drv, err := h.target(ctx, m)
	if err != nil {
		return err
	}
	return h.withSession(ctx, m, t, drv, op, func(ctx context.Context, s Session) error {
		is, ok := s.(ImageSession)
		if !ok {
			return fmt.Errorf("meter %s: %s driver has no image transfer: %w", meterID, m.Protocol, ErrUnsupported)
		}
		return fn(ctx, is)
	})
}

// ActiveFirmware reads the identifier of the firmware meter meterID runs.
func (h *HeadEnd) ActiveFirmware(ctx context.Context, meterID string) (string, error) {
	var v string
	err := h.withImageSession(ctx, meterID, "firmware-read", func(ctx context.Context, s ImageSession) error {
		var err error
		v, err = s.ActiveFirmware(ctx)
		return err
	})
	return v, err
}

// TransferImage checks a signed image against the trusted firmware key and
// brings it to the meter, verified there, unless the meter runs it
// already. A session that drops is followed by another that resumes where
// the meter stands, up to the command attempts; a refused image is never
// sent.
func (h *HeadEnd) TransferImage(ctx context.Context, meterID string, image []byte, trusted *ecdsa.PublicKey) (ImageTransfer, error) {
	img, err := firmware.Check(image, trusted)
	if err != nil {
		h.refuseImage(ctx, meterID, img.Version, err)
		return ImageTransfer{}, fmt.Errorf("meter %s: %w: %w", meterID, ErrImageRefused, err)
	}
	var total ImageTransfer
	for n := 1; ; n++ {
		var got ImageTransfer
		err = h.withImageSession(ctx, meterID, "firmware-transfer", func(ctx context.Context, s ImageSession) error {
			active, err := s.ActiveFirmware(ctx)
			if err != nil {
				return fmt.Errorf("reading the active firmware: %w", err)
			}
			if active == img.Identifier() {
				got.Running = true
				return nil
			}
			got, err = s.TransferImage(ctx, img.Identifier(), image)
			return err
		})
		total.Blocks = got.Blocks
		total.Sent += got.Sent
		total.Resumed = total.Resumed || got.Resumed || n > 1
		total.Running = got.Running
		if err == nil || errors.Is(err, ErrImageVerification) || errors.Is(err, ErrUnsupported) || n >= h.kcfg.Attempts || ctx.Err() != nil {
			break
		}
		if retry.Wait(ctx, retry.Backoff(h.ccfg.RetryBase, h.ccfg.RetryMax, n)) != nil {
			break
		}
	}
	if err != nil {
		return total, fmt.Errorf("meter %s: image %s: %w", meterID, img.Identifier(), err)
	}
	return total, nil
}

// refuseImage records an image the head-end will not send to a meter: an
// audit record and the meter's event.
func (h *HeadEnd) refuseImage(ctx context.Context, meterID, image string, why error) {
	now := h.now()
	h.record(ctx, audit.Record{Action: audit.Firmware, Target: meterID, Outcome: audit.Refused, At: now,
		Details: map[string]string{"step": "transfer", "image": image, "reason": why.Error()}})
	h.emit(ctx, cim.EndDeviceEvent{MRID: meterID + "/firmware-refused/" + strconv.FormatInt(now.UnixNano(), 10), MeterID: meterID,
		Type: EventFirmwareRefused, CreatedAt: now.UTC(), Reason: "firmware image refused by the head-end: " + why.Error(), Severity: "major",
		Details: map[string]string{"image": image, "source": "head-end"}})
}

// FirmwareImages gives the signed images a firmware campaign sends, by id
// (store.FirmwareImages).
type FirmwareImages interface {
	FirmwareImage(ctx context.Context, id string) (store.FirmwareImage, error)
}

// FirmwareUpdate is the firmware campaign's work on one meter: transfer
// and verification, then the activation issued as a firmware-activate
// command scheduled at the campaign's time and approved with the campaign.
type FirmwareUpdate struct {
	HeadEnd *HeadEnd
	Images  FirmwareImages
	// Trusted is the firmware key images must be signed by.
	Trusted *ecdsa.PublicKey
}

// FirmwareKind is the firmware campaign's kind.
const FirmwareKind = "firmware"

// Firmware campaign parameters.
const (
	// FirmwareParamImage names the image (FirmwareImages' id).
	FirmwareParamImage = "image"
	// FirmwareParamActivate is the RFC 3339 time the meters activate it.
	FirmwareParamActivate = "activate"
)

// Step brings meterID to the campaign's image. It is idempotent and
// resumable: a meter that runs the image already is done, a transfer
// under way is resumed, and the activation's correlation id (campaign and
// meter) makes a step run again issue it once.
//
// It is the campaign.Step of FirmwareKind.
func (u *FirmwareUpdate) Step(ctx context.Context, c campaign.Campaign, meterID string) (string, error) {
	h := u.HeadEnd
	id := c.Params[FirmwareParamImage]
	stored, err := u.Images.FirmwareImage(ctx, id)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", id, err)
	}
	image := stored.Image
	at := h.now()
	if s := c.Params[FirmwareParamActivate]; s != "" {
		if at, err = time.Parse(time.RFC3339, s); err != nil {
			return "", fmt.Errorf("%w: activate %q: want an RFC 3339 time", ErrBadCommand, s)
		}
	}
	img, err := firmware.Check(image, u.Trusted)
	if err != nil {
		h.refuseImage(ctx, meterID, id, err)
		return "", fmt.Errorf("%w: %w", ErrImageRefused, err)
	}
	x, err := h.TransferImage(ctx, meterID, image, u.Trusted)
	if err != nil {
		// The reason alone: the campaign's report counts failures by it.
		if errors.Is(err, ErrImageSignature) {
			return "", ErrImageSignature
		}
		if errors.Is(err, ErrImageVerification) {
			return "", ErrImageVerification
		}
		if errors.Is(err, ErrUnsupported) {
			return "", ErrUnsupported
		}
		cause := OutcomeOther
		if m, merr := h.st.Meter(ctx, meterID); merr == nil {
			cause = h.cause(m, err)
		}
		h.log.Warn("firmware transfer failed", "meter", meterID, "image", img.Identifier(), "cause", cause, "err", err)
		return "", fmt.Errorf("image transfer failed (%s)", cause)
	}
	if x.Running {
		return "already runs " + img.Identifier(), nil
	}
	ctl, _, err := h.Issue(ctx, cim.EndDeviceControl{
		Type: cim.ControlFirmwareActivate, MeterID: meterID, ScheduledAt: at,
		CorrelationID: "firmware/" + c.ID + "/" + meterID,
		Parameters:    map[string]string{FirmwareParamImage: img.Identifier()},
		IssuedBy:      c.CreatedBy, ApprovedBy: c.ApprovedBy,
	})
	if err != nil {
		return "", fmt.Errorf("issuing the activation: %w", err)
	}
	h.record(ctx, audit.Record{Actor: c.CreatedBy, Action: audit.Firmware, Target: meterID, Outcome: audit.OK,
		Details: map[string]string{"campaign": c.ID, "image": img.Identifier(), "activation": ctl.MRID,
			"blocks": strconv.Itoa(x.Blocks), "sent": strconv.Itoa(x.Sent)}})
	how := "transferred"
	if x.Resumed {
		how = "resumed"
	}
	return fmt.Sprintf("image %s %s (%d of %d blocks sent) and verified; activation %s %s at %s",
		img.Identifier(), how, x.Sent, x.Blocks, ctl.MRID, ctl.Status, at.UTC().Format(time.RFC3339)), nil
}
