package objects

import (
	"context"
	"sync"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// Encryption key states of M-Bus client (encryption_key_status).
const (
	MBusKeyNone           uint8 = 0
	MBusKeySet            uint8 = 1
	MBusKeyTransferred    uint8 = 2
	MBusKeySetTransferred uint8 = 3
	MBusKeyInUse          uint8 = 4
)

// MBusClient is an M-Bus client object (class 72, version 1): the meter's
// view of one M-Bus slave device.
type MBusClient struct {
	sync.Mutex
	Header
	PortReference obis.Code
	// CaptureDefinition is an array of structure{data_information_block
	// octet-string, value_information_block octet-string}.
	CaptureDefinition    axdr.Data
	CapturePeriod        uint32
	PrimaryAddress       uint8
	IdentificationNumber uint32
	ManufacturerID       uint16
	DeviceVersion        uint8
	DeviceType           uint8
	AccessNumber         uint8
	Status               uint8
	Alarm                uint8
	Configuration        uint16
	EncryptionKeyStatus  uint8

	// Bus drives the M-Bus for every method after the object updated its
	// own state; its result is the method's return value. nil makes the
	// methods act on the object state only.
	Bus   func(ctx context.Context, method int8, param axdr.Data) (axdr.Data, error)
	OnSet SetHook
}

// NewMBusClient returns an M-Bus client on the given M-Bus port setup.
func NewMBusClient(ln obis.Code, port obis.Code) *MBusClient {
	return &MBusClient{Header: Header{Class: cosem.ClassMBusClient, Ver: 1, LN: ln}, PortReference: port, CaptureDefinition: axdr.Array()}
}

func (o *MBusClient) fields() []field {
	return []field{
		{get: func() axdr.Data { return cosem.LogicalNameData(o.PortReference) }, check: lnShape, want: "octet-string(6)",
			store: func(v axdr.Data) { copy(o.PortReference[:], v.Bytes) }},
		dataField(&o.CaptureDefinition, arrayOf(structOf(anyOctets, anyOctets)), "array of structure{octet-string, octet-string}", true),
		u32Field(&o.CapturePeriod, true),
		u8Field(&o.PrimaryAddress, true),
		u32Field(&o.IdentificationNumber, false),
		u16Field(&o.ManufacturerID, false),
		u8Field(&o.DeviceVersion, false),
		u8Field(&o.DeviceType, false),
		u8Field(&o.AccessNumber, false),
		u8Field(&o.Status, false),
		u8Field(&o.Alarm, false),
		u16Field(&o.Configuration, true),
		enumField(&o.EncryptionKeyStatus, false),
	}
}

// Get implements Object.
func (o *MBusClient) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	return tableGet(&o.Header, &o.Mutex, o.fields, req)
}

// Set implements Object.
func (o *MBusClient) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	return tableSet(ctx, &o.Header, &o.Mutex, o.fields, req, v, o.OnSet)
}

// Action implements Object: 1 slave_install (unsigned primary address), 2
// slave_deinstall, 3 capture, 4 reset_alarm, 5 synchronize_clock (integer
// 0), 6 data_send (array of structure{DIB, VIB, data}), 7
// set_encryption_key and 8 transfer_key (octet-string).
func (o *MBusClient) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	m := req.Method
	switch m {
	case 1:
		if p.Tag != axdr.TagUint8 {
			return axdr.Data{}, o.paramErr(1, "unsigned", p)
		}
	case 2, 3, 4, 5:
		if err := checkResetParam(&o.Header, p); err != nil {
			return axdr.Data{}, o.paramErr(m, "integer", p)
		}
	case 6:
		if !arrayOf(structOf(anyOctets, anyOctets, anyShape))(p) {
			return axdr.Data{}, o.paramErr(6, "array of structure{octet-string, octet-string, data}", p)
		}
	case 7, 8:
		if p.Tag != axdr.TagOctetString {
			return axdr.Data{}, o.paramErr(m, "octet-string", p)
		}
	default:
		return axdr.Data{}, o.undefinedMethod(m)
	}
	o.Lock()
	bus := o.Bus
	o.Unlock()
	if bus != nil {
		ret, err := bus(ctx, m, p)
		if err != nil {
			return axdr.Data{}, err
		}
		o.apply(m, p)
		return ret, nil
	}
	o.apply(m, p)
	return axdr.Null(), nil
}

// apply updates the object's own state after a method succeeded.
func (o *MBusClient) apply(m int8, p axdr.Data) {
	o.Lock()
	defer o.Unlock()
	switch m {
	case 1:
		a, _ := p.Uint()
		o.PrimaryAddress = uint8(a)
	case 2:
		o.PrimaryAddress = 0
		o.IdentificationNumber, o.ManufacturerID, o.DeviceVersion, o.DeviceType = 0, 0, 0, 0
		o.AccessNumber, o.Status, o.Alarm = 0, 0, 0
		o.EncryptionKeyStatus = MBusKeyNone
	case 4:
		o.Alarm = 0
	case 7:
		switch {
		case len(p.Bytes) == 0:
			o.EncryptionKeyStatus = MBusKeyNone
		case o.EncryptionKeyStatus == MBusKeyTransferred:
			o.EncryptionKeyStatus = MBusKeySetTransferred
		default:
			o.EncryptionKeyStatus = MBusKeySet
		}
	case 8:
		if o.EncryptionKeyStatus == MBusKeySet {
			o.EncryptionKeyStatus = MBusKeySetTransferred
		} else {
			o.EncryptionKeyStatus = MBusKeyTransferred
		}
	}
}
