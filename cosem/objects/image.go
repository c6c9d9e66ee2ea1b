package objects

import (
	"context"
	"strconv"
	"sync"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// ImageTransferStatus is image_transfer_status.
type ImageTransferStatus uint8

// Image transfer states.
const (
	ImageNotInitiated          ImageTransferStatus = 0
	ImageInitiated             ImageTransferStatus = 1
	ImageVerificationInitiated ImageTransferStatus = 2
	ImageVerificationOK        ImageTransferStatus = 3
	ImageVerificationFailed    ImageTransferStatus = 4
	ImageActivationInitiated   ImageTransferStatus = 5
	ImageActivationOK          ImageTransferStatus = 6
	ImageActivationFailed      ImageTransferStatus = 7
)

// DefaultMaxImageSize bounds the image an ImageTransfer accepts when
// MaxImageSize is zero.
const DefaultMaxImageSize = 16 << 20

// ImageTransfer is an Image transfer object (class 18) that assembles the
// image in memory and hands it to Verify and Activate.
type ImageTransfer struct {
	sync.Mutex
	Header
	BlockSize uint32
	Enabled   bool
	// MaxImageSize bounds image_size in initiate (0: DefaultMaxImageSize).
	MaxImageSize uint32
	// Verify checks a complete image; nil accepts any complete image.
	Verify func(ctx context.Context, id, image []byte) error
	// Activate installs a verified image.
	Activate func(ctx context.Context, id, image []byte) error

	status ImageTransferStatus
	id     []byte
	image  []byte
	got    []byte // transferred-blocks bit-string, MSB first
	blocks uint32
}

// NewImageTransfer returns an enabled image transfer with the given block
// size.
func NewImageTransfer(ln obis.Code, blockSize uint32) *ImageTransfer {
	return &ImageTransfer{Header: Header{Class: cosem.ClassImageTransfer, LN: ln}, BlockSize: blockSize, Enabled: true}
}

// Status returns image_transfer_status.
func (o *ImageTransfer) Status() ImageTransferStatus {
	o.Lock()
	defer o.Unlock()
	return o.status
}

func (o *ImageTransfer) firstMissingLocked() uint32 {
	for i := uint32(0); i < o.blocks; i++ {
		if o.got[i/8]&(0x80>>(i%8)) == 0 {
			return i
		}
	}
	return o.blocks
}

// Get implements Object.
func (o *ImageTransfer) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	if err := o.noSelective(req); err != nil {
		return axdr.Data{}, err
	}
	o.Lock()
	defer o.Unlock()
	switch req.Attribute {
	case 1:
		return cosem.LogicalNameData(o.LN), nil
	case 2:
		return axdr.Uint32(o.BlockSize), nil
	case 3:
		b := make([]byte, len(o.got))
		copy(b, o.got)
		return axdr.BitString(b, int(o.blocks)), nil
	case 4:
		return axdr.Uint32(o.firstMissingLocked()), nil
	case 5:
		return axdr.Bool(o.Enabled), nil
	case 6:
		return axdr.Enum(uint8(o.status)), nil
	case 7:
		if o.status < ImageVerificationOK || o.status == ImageVerificationFailed {
			return axdr.Array(), nil
		}
		id := append([]byte(nil), o.id...)
		return axdr.Array(axdr.Structure(axdr.Uint32(uint32(len(o.image))), axdr.OctetString(id), axdr.OctetString(nil))), nil
	}
	return axdr.Data{}, o.undefinedAttr(req.Attribute)
}

// Set implements Object: only image_transfer_enabled is writable.
func (o *ImageTransfer) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	if err := o.noSelective(req); err != nil {
		return err
	}
	switch req.Attribute {
	case 5:
		b, ok := v.Bool()
		if !ok {
			return o.typeErr(5, "boolean", v)
		}
		o.Lock()
		o.Enabled = b
		o.Unlock()
		return nil
	case 1, 2, 3, 4, 6, 7:
		return o.denied(req.Attribute)
	}
	return o.undefinedAttr(req.Attribute)
}

// Action implements Object: 1 image_transfer_initiate {identifier,
// size}, 2 image_block_transfer {block number, block}, 3 image_verify,
// 4 image_activate.
func (o *ImageTransfer) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	switch req.Method {
	case 1:
		return axdr.Null(), o.initiate(p)
	case 2:
		return axdr.Null(), o.block(p)
	case 3:
		return axdr.Null(), o.verify(ctx)
	case 4:
		return axdr.Null(), o.activate(ctx)
	}
	return axdr.Data{}, o.undefinedMethod(req.Method)
}

func (o *ImageTransfer) initiate(p axdr.Data) error {
	if !isStruct(p, 2) || p.Items[0].Tag != axdr.TagOctetString {
		return o.paramErr(1, "structure{octet-string, double-long-unsigned}", p)
	}
	size, ok := cosem.UintOf(p.Items[1], axdr.TagUint32)
	if !ok {
		return o.paramErr(1, "structure{octet-string, double-long-unsigned}", p)
	}
	o.Lock()
	defer o.Unlock()
	if !o.Enabled {
		return cosem.Errorf(cosem.ResultReadWriteDenied, o.methodName(1)+": image transfer disabled")
	}
	max := o.MaxImageSize
	if max == 0 {
		max = DefaultMaxImageSize
	}
	if size > uint64(max) {
		return cosem.Errorf(cosem.ResultOtherReason, o.methodName(1)+": image of "+strconv.FormatUint(size, 10)+" bytes exceeds the limit")
	}
	if o.BlockSize == 0 {
		return cosem.Errorf(cosem.ResultOtherReason, o.methodName(1)+": block size 0")
	}
	o.id = append([]byte(nil), p.Items[0].Bytes...)
	o.image = make([]byte, size)
	o.blocks = uint32((size + uint64(o.BlockSize) - 1) / uint64(o.BlockSize))
	o.got = make([]byte, (o.blocks+7)/8)
	o.status = ImageInitiated
	return nil
}

func (o *ImageTransfer) block(p axdr.Data) error {
	if !isStruct(p, 2) || p.Items[1].Tag != axdr.TagOctetString {
		return o.paramErr(2, "structure{double-long-unsigned, octet-string}", p)
	}
	n, ok := cosem.UintOf(p.Items[0], axdr.TagUint32)
	if !ok {
		return o.paramErr(2, "structure{double-long-unsigned, octet-string}", p)
	}
	o.Lock()
	defer o.Unlock()
	if o.status != ImageInitiated {
		return cosem.Errorf(cosem.ResultReadWriteDenied, o.methodName(2)+": transfer not initiated")
	}
	if n >= uint64(o.blocks) {
		return cosem.Errorf(cosem.ResultOtherReason, o.methodName(2)+": block "+strconv.FormatUint(n, 10)+" beyond the image")
	}
	start := n * uint64(o.BlockSize)
	want := uint64(o.BlockSize)
	if rest := uint64(len(o.image)) - start; rest < want {
		want = rest
	}
	if uint64(len(p.Items[1].Bytes)) != want {
		return cosem.Errorf(cosem.ResultOtherReason, o.methodName(2)+": block "+strconv.FormatUint(n, 10)+" has "+
			strconv.Itoa(len(p.Items[1].Bytes))+" bytes, want "+strconv.FormatUint(want, 10))
	}
	copy(o.image[start:], p.Items[1].Bytes)
	o.got[n/8] |= 0x80 >> (n % 8)
	return nil
}

func (o *ImageTransfer) verify(ctx context.Context) error {
	o.Lock()
	switch o.status {
	case ImageNotInitiated:
		o.Unlock()
		return cosem.Errorf(cosem.ResultReadWriteDenied, o.methodName(3)+": transfer not initiated")
	case ImageVerificationOK, ImageActivationOK:
		o.Unlock()
		return nil
	}
	if missing := o.firstMissingLocked(); missing < o.blocks {
		o.status = ImageVerificationFailed
		o.Unlock()
		return cosem.Errorf(cosem.ResultOtherReason, o.methodName(3)+": block "+strconv.FormatUint(uint64(missing), 10)+" missing")
	}
	o.status = ImageVerificationInitiated
	id, img, f := o.id, o.image, o.Verify
	o.Unlock()
	var err error
	if f != nil {
		err = f(ctx, id, img)
	}
	o.Lock()
	defer o.Unlock()
	if err != nil {
		o.status = ImageVerificationFailed
		return cosem.Wrap(cosem.ResultOtherReason, o.methodName(3), err)
	}
	o.status = ImageVerificationOK
	return nil
}

func (o *ImageTransfer) activate(ctx context.Context) error {
	o.Lock()
	st := o.status
	o.Unlock()
	if st != ImageVerificationOK {
		if err := o.verify(ctx); err != nil {
			return err
		}
	}
	o.Lock()
	o.status = ImageActivationInitiated
	id, img, f := o.id, o.image, o.Activate
	o.Unlock()
	var err error
	if f != nil {
		err = f(ctx, id, img)
	}
	o.Lock()
	defer o.Unlock()
	if err != nil {
		o.status = ImageActivationFailed
		return cosem.Wrap(cosem.ResultOtherReason, o.methodName(4), err)
	}
	o.status = ImageActivationOK
	return nil
}
