package sim

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/server"
	"github.com/amigo-ami/amigo/firmware"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
)

// ImageTransferLN is the Image transfer object (class 18) of a meter whose
// fleet trusts a firmware key.
var ImageTransferLN = obis.MustParse("0.0.44.0.0.255")

// ImageBlockSize is a simulated meter's image_block_size: one block and
// its action request fit one APDU of any association.
const ImageBlockSize = 200

// ErrImageDropped ends the session of a meter with FaultImageDrop half-way
// through the first transfer of an image.
var ErrImageDropped = errors.New("sim: the meter dropped the session in the middle of an image transfer")

// untrustedKey is the key a meter with FaultImageUntrusted trusts: one no
// image is signed with.
var untrustedKey = sync.OnceValue(func() *ecdsa.PublicKey {
	k, err := firmware.GenerateKey()
	if err != nil {
		panic("sim: generating a P-256 key: " + err.Error())
	}
	return &k.PublicKey
})

// MeterImage is one meter's firmware: the image transfer in progress,
// which outlasts a connection so that a head-end resumes it in the next,
// and the firmware the meter runs. The image is checked at verification
// against the firmware key the meter trusts; refusal and activation are
// events in the meter's standard event log.
type MeterImage struct {
	xfer    *objects.ImageTransfer
	m       *meter.Meter
	lock    sync.Locker // the meter model's
	now     func() time.Time
	trusted *ecdsa.PublicKey
	faults  Fault

	mu       sync.Mutex
	active   string
	dropped  map[string]bool // images whose transfer this meter dropped once
	received int             // blocks received since the last initiate
	current  string          // the identifier of that initiate
}

// NewMeterImage returns the firmware of meter m, running active and
// trusting images signed by the key of trusted. lock guards m.
func NewMeterImage(m *meter.Meter, lock sync.Locker, now func() time.Time, trusted *ecdsa.PublicKey, active string, faults Fault) *MeterImage {
	mi := &MeterImage{m: m, lock: lock, now: now, trusted: trusted, faults: faults, active: active, dropped: map[string]bool{}}
	if faults.Has(FaultImageUntrusted) {
		mi.trusted = untrustedKey()
	}
	mi.xfer = objects.NewImageTransfer(ImageTransferLN, ImageBlockSize)
	mi.xfer.Verify = mi.verify
	mi.xfer.Activate = mi.activate
	return mi
}

// Active returns the identifier of the firmware the meter runs.
func (mi *MeterImage) Active() string {
	mi.mu.Lock()
	defer mi.mu.Unlock()
	return mi.active
}

// Status returns the image transfer's status.
func (mi *MeterImage) Status() objects.ImageTransferStatus { return mi.xfer.Status() }

func (mi *MeterImage) event(code meter.EventCode) {
	mi.lock.Lock()
	defer mi.lock.Unlock()
	mi.m.LogFirmwareEvent(mi.now(), code)
}

// check decodes and verifies the assembled image for the identifier it
// was initiated under.
func (mi *MeterImage) check(id, b []byte) (firmware.Image, error) {
	if mi.faults.Has(FaultImageCorrupt) && len(b) > 0 {
		// One block came in spoiled: the flash holds a flipped byte in
		// the middle of the image.
		b = append([]byte(nil), b...)
		b[len(b)/2] ^= 0x5A
	}
	img, err := firmware.Check(b, mi.trusted)
	if err != nil {
		return img, err
	}
	if img.Identifier() != string(id) {
		return img, fmt.Errorf("image %s initiated as %q", img.Identifier(), id)
	}
	return img, nil
}

func (mi *MeterImage) verify(ctx context.Context, id, b []byte) error {
	_, err := mi.check(id, b)
	switch {
	case errors.Is(err, firmware.ErrSignature):
		mi.event(meter.EventFirmwareRefused)
	case err == nil:
		mi.event(meter.EventFirmwareReady)
	}
	return err
}

func (mi *MeterImage) activate(ctx context.Context, id, b []byte) error {
	img, err := mi.check(id, b)
	if err != nil {
		return err
	}
	mi.mu.Lock()
	mi.active = img.Identifier()
	mi.mu.Unlock()
	mi.event(meter.EventFirmwareActivated)
	return nil
}

// request sees every request before it is served: it counts the blocks
// of a transfer and, on a meter with FaultImageDrop, ends the session
// half-way through the first transfer of each image.
func (mi *MeterImage) request(r apdu.APDU) error {
	a, ok := r.(*apdu.ActionRequestNormal)
	if !ok || a.Method.ClassID != cosem.ClassImageTransfer || obis.Code(a.Method.InstanceID) != ImageTransferLN || a.Parameters == nil {
		return nil
	}
	mi.mu.Lock()
	defer mi.mu.Unlock()
	switch a.Method.MethodID {
	case 1:
		if p := *a.Parameters; p.Tag == axdr.TagStructure && len(p.Items) == 2 {
			mi.current, mi.received = string(p.Items[0].Bytes), 0
		}
	case 2:
		mi.received++
		if !mi.faults.Has(FaultImageDrop) || mi.dropped[mi.current] {
			return nil
		}
		st := mi.xfer.Status()
		if st != objects.ImageInitiated {
			return nil
		}
		if blocks := mi.blocks(); blocks > 1 && mi.received > blocks/2 {
			mi.dropped[mi.current] = true
			return ErrImageDropped
		}
	}
	return nil
}

// blocks is the number of blocks of the transfer in progress.
func (mi *MeterImage) blocks() int {
	d, err := mi.xfer.Get(context.Background(), &cosem.AttributeRequest{Attribute: 3})
	if err != nil {
		return 0
	}
	return d.BitLen()
}

// objects returns what the meter serves of its firmware: the image
// transfer and the active firmware identifier.
func (mi *MeterImage) objects() []cosem.Object {
	active := objects.NewData(FirmwareLN, axdr.VisibleString(""))
	active.Read = func(context.Context) (axdr.Data, error) { return axdr.VisibleString(mi.Active()), nil }
	return []cosem.Object{mi.xfer, active}
}

// imageObjects returns the firmware objects of a device whose meter has
// image transfer, else none.
func (d *Device) imageObjects() []cosem.Object {
	if d.cfg.Image == nil {
		return nil
	}
	return d.cfg.Image.objects()
}

// imageQuirk puts the image transfer's request hook before the quirks'.
func (d *Device) imageQuirk(q *server.Quirks) {
	mi := d.cfg.Image
	if mi == nil {
		return
	}
	next := q.Request
	q.Request = func(r apdu.APDU) error {
		if err := mi.request(r); err != nil {
			return err
		}
		if next != nil {
			return next(r)
		}
		return nil
	}
}

// image returns meter i's firmware when the fleet trusts a firmware key
// and the meter's model has image transfer (the IDIS model), else nil.
func (f *Fleet) image(i int, m *meter.Meter) *MeterImage {
	if f.firmwareKey == nil || f.ModelOf(i) != ModelIDIS {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.images == nil {
		f.images = map[int]*MeterImage{}
	}
	mi := f.images[i]
	if mi == nil {
		mi = NewMeterImage(m, f.Lock(i), f.now, f.firmwareKey, MakeOf(ModelIDIS).Firmware, f.FaultsOf(i))
		f.images[i] = mi
	}
	return mi
}

// Image returns meter i's firmware, or nil when it has no image transfer.
func (f *Fleet) Image(i int) *MeterImage {
	m, err := f.Meter(i)
	if err != nil {
		return nil
	}
	return f.image(i, m)
}
