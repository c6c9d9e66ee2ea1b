package dlmsdriver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/obis"
)

// imageTransferLN is the Image transfer object (class 18, IEC 62056-6-2).
var imageTransferLN = obis.Code{0, 0, 44, 0, 0, 255}

// image_transfer_status values (class 18, attribute 6).
const (
	imageInitiated          = 1
	imageVerifying          = 2
	imageVerified           = 3
	imageVerificationFailed = 4
	imageActivated          = 6
)

// verifyPoll paces the reads of a meter that verifies in the background
// (image_verify answered temporary-failure, status verification-initiated).
const verifyPoll = 500 * time.Millisecond

func imageAttr(n int8) dlms.Attr {
	return dlms.Attr{Class: cosem.ClassImageTransfer, OBIS: imageTransferLN, Attribute: n}
}

func imageMethod(n int8) dlms.Method {
	return dlms.Method{Class: cosem.ClassImageTransfer, OBIS: imageTransferLN, Method: n}
}

func (s *session) imageStatus(ctx context.Context) (uint64, error) {
	d, err := s.c.Get(ctx, imageAttr(6), nil)
	if err != nil {
		return 0, err
	}
	v, ok := d.Uint()
	if !ok {
		return 0, fmt.Errorf("meter %s: image_transfer_status %s is not an enum", s.t.Meter.MRID, d)
	}
	return v, nil
}

// imageToActivate reads image_to_activate_info: the identifier and size
// of the image the meter verified, "" when it holds none.
func (s *session) imageToActivate(ctx context.Context) (string, uint64, error) {
	d, err := s.c.Get(ctx, imageAttr(7), nil)
	if err != nil {
		return "", 0, err
	}
	if d.Tag != axdr.TagArray || len(d.Items) == 0 {
		return "", 0, nil
	}
	e := d.Items[0]
	if e.Tag != axdr.TagStructure || len(e.Items) < 2 {
		return "", 0, fmt.Errorf("meter %s: image_to_activate_info %s is not a structure", s.t.Meter.MRID, d)
	}
	size, _ := e.Items[0].Uint()
	return string(e.Items[1].Bytes), size, nil
}

// TransferImage implements headend.ImageSession: enable, block size,
// initiate (unless the meter holds part of this image already), the blocks
// its transferred_blocks_status lacks, verify, and the status. A resumed
// transfer that fails verification may have been another image's of the
// same block count: it is done once more from the start.
func (s *session) TransferImage(ctx context.Context, id string, image []byte) (headend.ImageTransfer, error) {
	x, err := s.transferImage(ctx, id, image, false)
	if !x.Resumed || !errors.Is(err, headend.ErrImageVerification) {
		return x, err
	}
	y, err := s.transferImage(ctx, id, image, true)
	y.Sent += x.Sent
	y.Resumed = true
	return y, err
}

// transferImage is one pass of TransferImage; afresh initiates whatever
// the meter holds.
func (s *session) transferImage(ctx context.Context, id string, image []byte, afresh bool) (headend.ImageTransfer, error) {
	var x headend.ImageTransfer
	mrid := s.t.Meter.MRID
	en, err := s.c.Get(ctx, imageAttr(5), nil)
	if errors.Is(err, dlms.ErrObjectUndefined) {
		return x, fmt.Errorf("meter %s has no image transfer object: %w", mrid, headend.ErrUnsupported)
	}
	if err != nil {
		return x, err
	}
	if on, _ := en.Bool(); !on {
		if err := s.c.Set(ctx, imageAttr(5), axdr.Bool(true)); err != nil {
			return x, fmt.Errorf("meter %s: enabling image transfer: %w", mrid, err)
		}
	}
	d, err := s.c.Get(ctx, imageAttr(2), nil)
	if err != nil {
		return x, err
	}
	bs, ok := d.Uint()
	if !ok || bs == 0 {
		return x, fmt.Errorf("meter %s: image_block_size %s", mrid, d)
	}
	x.Blocks = int((uint64(len(image)) + bs - 1) / bs)
	st, err := s.imageStatus(ctx)
	if err != nil {
		return x, err
	}
	if !afresh && (st == imageVerified || st == imageActivated) {
		if got, size, err := s.imageToActivate(ctx); err == nil && got == id && size == uint64(len(image)) {
			x.Resumed = true
			return x, nil
		}
	}
	// A transfer under way with this image's block count is taken to be
	// ours (class 18 does not say the identifier before verification):
	// verification catches a mistaken resume, and the next attempt
	// initiates afresh.
	var have axdr.Data
	if st == imageInitiated && !afresh {
		if have, err = s.c.Get(ctx, imageAttr(3), nil); err != nil {
			return x, err
		}
		x.Resumed = have.Tag == axdr.TagBitString && have.BitLen() == x.Blocks
	}
	if !x.Resumed {
		p := axdr.Structure(axdr.OctetString([]byte(id)), axdr.Uint32(uint32(len(image))))
		if _, err := s.c.Action(ctx, imageMethod(1), p); err != nil {
			return x, fmt.Errorf("meter %s: image_transfer_initiate: %w", mrid, err)
		}
		have = axdr.BitString(make([]byte, (x.Blocks+7)/8), x.Blocks)
	} else if d, err := s.c.Get(ctx, imageAttr(4), nil); err == nil {
		// The first block missing: a meter that keeps no block status
		// (all zero) still says how far it got.
		if first, ok := d.Uint(); ok {
			for n := 0; n < int(min(first, uint64(x.Blocks))); n++ {
				have.Bytes[n/8] |= 0x80 >> (n % 8)
			}
		}
	}
	for n := 0; n < x.Blocks; n++ {
		if n/8 < len(have.Bytes) && have.Bytes[n/8]&(0x80>>(n%8)) != 0 {
			continue
		}
		from := uint64(n) * bs
		to := min(from+bs, uint64(len(image)))
		p := axdr.Structure(axdr.Uint32(uint32(n)), axdr.OctetString(image[from:to]))
		if _, err := s.c.Action(ctx, imageMethod(2), p); err != nil {
			return x, fmt.Errorf("meter %s: image block %d of %d: %w", mrid, n, x.Blocks, err)
		}
		x.Sent++
	}
	_, verr := s.c.Action(ctx, imageMethod(3), axdr.Int8(0))
	for {
		if errors.Is(verr, dlms.ErrLinkDropped) {
			return x, verr
		}
		st, err = s.imageStatus(ctx)
		if err != nil {
			return x, err
		}
		if st != imageVerifying {
			break
		}
		select {
		case <-ctx.Done():
			return x, ctx.Err()
		case <-time.After(verifyPoll):
		}
	}
	switch {
	case st == imageVerified || st == imageActivated:
		return x, nil
	case st == imageVerificationFailed && s.refusedSignature(ctx):
		return x, fmt.Errorf("meter %s: %w: %w", mrid, headend.ErrImageVerification, headend.ErrImageSignature)
	case st == imageVerificationFailed:
		return x, fmt.Errorf("meter %s: %w (image_transfer_status %d): %v", mrid, headend.ErrImageVerification, st, verr)
	}
	return x, fmt.Errorf("meter %s: image_transfer_status %d after image_verify: %v", mrid, st, verr)
}

// standardEventLogLN is the standard event log (IDIS), where a meter
// records firmware events.
var standardEventLogLN = obis.Code{0, 0, 99, 98, 0, 255}

// eventImageRefused is the standard event log's entry of an image refused
// for its signature (see eventKinds).
const eventImageRefused = 21

// refusedSignature reports whether the meter logged, in the last minutes
// of its clock, that it refused an image's signature: class 18 says only
// that verification failed, the log says why. A log that cannot be read
// says nothing.
func (s *session) refusedSignature(ctx context.Context) bool {
	mt, err := s.Clock(ctx)
	if err != nil {
		return false
	}
	rows, _, err := s.c.ReadProfile(ctx, standardEventLogLN, mt.Add(-5*time.Minute), mt.Add(time.Minute))
	if err != nil {
		return false
	}
	for _, r := range rows {
		if len(r.Items) >= 2 {
			if code, ok := r.Items[1].Uint(); ok && code == eventImageRefused {
				return true
			}
		}
	}
	return false
}

// ActiveFirmware implements headend.ImageSession: the active firmware
// identifier (1-0:0.2.0).
func (s *session) ActiveFirmware(ctx context.Context) (string, error) {
	d, err := s.c.Get(ctx, dlms.Attr{Class: cosem.ClassData, OBIS: firmwareLNs[0], Attribute: 2}, nil)
	if err != nil {
		return "", err
	}
	return textOf(d), nil
}

// activateImage carries out a firmware-activate command: the image the
// meter verified must be the one the command names (parameter "image");
// image_activate; then the active firmware identifier must be it.
func (s *session) activateImage(ctx context.Context, c cim.EndDeviceControl) (string, error) {
	mrid := s.t.Meter.MRID
	want := c.Parameters["image"]
	if want == "" {
		return "", fmt.Errorf("%w: firmware-activate needs the image parameter", headend.ErrBadCommand)
	}
	if active, err := s.ActiveFirmware(ctx); err == nil && active == want {
		return "firmware " + want + " already active", nil
	}
	got, _, err := s.imageToActivate(ctx)
	if errors.Is(err, dlms.ErrObjectUndefined) {
		return "", fmt.Errorf("meter %s has no image transfer object: %w", mrid, headend.ErrUnsupported)
	}
	if err != nil {
		return "", err
	}
	if got != want {
		return "", fmt.Errorf("meter %s holds image %q verified, not %q: nothing activated", mrid, got, want)
	}
	if _, err := s.command(ctx, imageMethod(4), axdr.Int8(0)); err != nil {
		return "", fmt.Errorf("meter %s: image_activate: %w", mrid, err)
	}
	active, err := s.ActiveFirmware(ctx)
	if err != nil {
		return "", err
	}
	if active != want {
		return "", fmt.Errorf("meter %s runs %q after activating %q", mrid, active, want)
	}
	return "firmware " + active + " active", nil
}
