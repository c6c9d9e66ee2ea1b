package objects

import (
	"context"
	"sync"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// noMethod answers an ACTION on a class without methods.
func (h *Header) noMethod(req *cosem.MethodRequest) (axdr.Data, error) {
	return axdr.Data{}, h.undefinedMethod(req.Method)
}

// Communication speeds of IEC HDLC setup (comm_speed).
const (
	Baud300    uint8 = 0
	Baud600    uint8 = 1
	Baud1200   uint8 = 2
	Baud2400   uint8 = 3
	Baud4800   uint8 = 4
	Baud9600   uint8 = 5
	Baud19200  uint8 = 6
	Baud38400  uint8 = 7
	Baud57600  uint8 = 8
	Baud115200 uint8 = 9
)

// IECHDLCSetup is an IEC HDLC setup object (class 23, version 1). All
// attributes are writable; OnSet, if set, may refuse a change (for
// instance to apply it to the HDLC layer first).
type IECHDLCSetup struct {
	sync.Mutex
	Header
	CommSpeed                  uint8
	WindowSizeTransmit         uint8
	WindowSizeReceive          uint8
	MaxInfoFieldLengthTransmit uint16
	MaxInfoFieldLengthReceive  uint16
	InterOctetTimeout          uint16 // ms
	InactivityTimeout          uint16 // s
	DeviceAddress              uint16
	OnSet                      SetHook
}

// NewIECHDLCSetup returns the Blue Book defaults: 9600 Bd, window 1,
// 128-byte information fields, 25 ms inter-octet and 120 s inactivity
// timeouts.
func NewIECHDLCSetup(ln obis.Code, deviceAddress uint16) *IECHDLCSetup {
	return &IECHDLCSetup{Header: Header{Class: cosem.ClassIECHDLCSetup, Ver: 1, LN: ln}, CommSpeed: Baud9600,
		WindowSizeTransmit: 1, WindowSizeReceive: 1, MaxInfoFieldLengthTransmit: 128, MaxInfoFieldLengthReceive: 128,
		InterOctetTimeout: 25, InactivityTimeout: 120, DeviceAddress: deviceAddress}
}

func (o *IECHDLCSetup) fields() []field {
	return []field{
		enumField(&o.CommSpeed, true),
		u8Field(&o.WindowSizeTransmit, true),
		u8Field(&o.WindowSizeReceive, true),
		u16Field(&o.MaxInfoFieldLengthTransmit, true),
		u16Field(&o.MaxInfoFieldLengthReceive, true),
		u16Field(&o.InterOctetTimeout, true),
		u16Field(&o.InactivityTimeout, true),
		u16Field(&o.DeviceAddress, true),
	}
}

// Get implements Object.
func (o *IECHDLCSetup) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	return tableGet(&o.Header, &o.Mutex, o.fields, req)
}

// Set implements Object.
func (o *IECHDLCSetup) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	return tableSet(ctx, &o.Header, &o.Mutex, o.fields, req, v, o.OnSet)
}

// Action implements Object: the class has no methods.
func (o *IECHDLCSetup) Action(ctx context.Context, req *cosem.MethodRequest, _ axdr.Data) (axdr.Data, error) {
	return o.noMethod(req)
}

// TCPUDPSetup is a TCP-UDP setup object (class 41).
type TCPUDPSetup struct {
	sync.Mutex
	Header
	Port              uint16
	IPReference       obis.Code // the IPv4/IPv6 setup object
	MSS               uint16
	MaxConnections    uint8
	InactivityTimeout uint16 // s
	OnSet             SetHook
}

// NewTCPUDPSetup returns a setup on port (4059 is the IANA DLMS port).
func NewTCPUDPSetup(ln obis.Code, port uint16, ipRef obis.Code) *TCPUDPSetup {
	return &TCPUDPSetup{Header: Header{Class: cosem.ClassTCPUDPSetup, LN: ln}, Port: port, IPReference: ipRef, MSS: 576,
		MaxConnections: 1, InactivityTimeout: 180}
}

func (o *TCPUDPSetup) fields() []field {
	return []field{
		u16Field(&o.Port, true),
		{get: func() axdr.Data { return cosem.LogicalNameData(o.IPReference) }, check: lnShape, want: "octet-string(6)",
			store: func(v axdr.Data) { copy(o.IPReference[:], v.Bytes) }},
		u16Field(&o.MSS, true),
		u8Field(&o.MaxConnections, true),
		u16Field(&o.InactivityTimeout, true),
	}
}

// Get implements Object.
func (o *TCPUDPSetup) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	return tableGet(&o.Header, &o.Mutex, o.fields, req)
}

// Set implements Object.
func (o *TCPUDPSetup) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	return tableSet(ctx, &o.Header, &o.Mutex, o.fields, req, v, o.OnSet)
}

// Action implements Object: the class has no methods.
func (o *TCPUDPSetup) Action(ctx context.Context, req *cosem.MethodRequest, _ axdr.Data) (axdr.Data, error) {
	return o.noMethod(req)
}
