package objects

import (
	"context"
	"sync"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// Transport services of send_destination_and_method.
const (
	TransportTCP    uint8 = 0
	TransportUDP    uint8 = 1
	TransportFTP    uint8 = 2
	TransportSMTP   uint8 = 3
	TransportSMS    uint8 = 4
	TransportHDLC   uint8 = 5
	TransportMBUS   uint8 = 6
	TransportZigBee uint8 = 7
)

// Message types of send_destination_and_method.
const (
	MessageAXDR uint8 = 0 // A-XDR encoded xDLMS APDU
	MessageXML  uint8 = 1 // XML encoded xDLMS APDU
)

// SendDestination is send_destination_and_method.
type SendDestination struct {
	Transport   uint8
	Destination []byte // e.g. "10.0.0.1:4059" for TCP
	Message     uint8
}

// Data returns the structure{enum, octet-string, enum}.
func (s SendDestination) Data() axdr.Data {
	return axdr.Structure(axdr.Enum(s.Transport), axdr.OctetString(append([]byte(nil), s.Destination...)), axdr.Enum(s.Message))
}

var sendDestShape = structOf(enumShape, anyOctets, enumShape)

// PushFunc sends a push: values is a structure with one item per push
// object, in push_object_list order.
type PushFunc func(ctx context.Context, dest SendDestination, values axdr.Data) error

// PushSetup is a Push setup object (class 40, version 0).
type PushSetup struct {
	sync.Mutex
	Header
	PushObjects []cosem.CaptureObject
	Destination SendDestination
	// CommunicationWindow is an array of structure{start, end} date-times.
	CommunicationWindow        axdr.Data
	RandomisationStartInterval uint16 // s
	NumberOfRetries            uint8
	RepetitionDelay            uint16 // s
	// Source resolves the push objects; Push sends.
	Source *Tree
	Push   PushFunc
	OnSet  SetHook
}

// NewPushSetup returns a push setup sending the objects to dest.
func NewPushSetup(ln obis.Code, objs []cosem.CaptureObject, dest SendDestination, src *Tree, push PushFunc) *PushSetup {
	return &PushSetup{Header: Header{Class: cosem.ClassPushSetup, LN: ln}, PushObjects: objs, Destination: dest,
		CommunicationWindow: axdr.Array(), Source: src, Push: push}
}

func (o *PushSetup) fields() []field {
	return []field{
		{get: func() axdr.Data { return cosem.CaptureObjectsData(o.PushObjects) }, want: "array of object definitions",
			check: arrayOf(structOf(u16Shape, lnShape, i8Shape, u16Shape)),
			store: func(v axdr.Data) { o.PushObjects, _ = cosem.ParseCaptureObjects(v) }},
		{get: o.Destination.Data, want: "structure{enum, octet-string, enum}", check: sendDestShape,
			store: func(v axdr.Data) {
				t, _ := v.Items[0].Uint()
				m, _ := v.Items[2].Uint()
				o.Destination = SendDestination{Transport: uint8(t), Destination: append([]byte(nil), v.Items[1].Bytes...), Message: uint8(m)}
			}},
		dataField(&o.CommunicationWindow, arrayOf(structOf(dateTimeShape, dateTimeShape)), "array of structure{date-time, date-time}", true),
		u16Field(&o.RandomisationStartInterval, true),
		u8Field(&o.NumberOfRetries, true),
		u16Field(&o.RepetitionDelay, true),
	}
}

// Get implements Object.
func (o *PushSetup) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	return tableGet(&o.Header, &o.Mutex, o.fields, req)
}

// Set implements Object.
func (o *PushSetup) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	return tableSet(ctx, &o.Header, &o.Mutex, o.fields, req, v, o.OnSet)
}

// Values reads the push objects from Source into the structure a push
// carries; unreadable ones become null-data.
func (o *PushSetup) Values(ctx context.Context) axdr.Data {
	o.Lock()
	objs, src := o.PushObjects, o.Source
	o.Unlock()
	items := make([]axdr.Data, len(objs))
	for i, c := range objs {
		if src == nil {
			continue
		}
		items[i] = captureValue(ctx, src, c)
	}
	return axdr.Structure(items...)
}

// Action implements Object: method 1 push (integer 0) reads the push
// objects and calls Push.
func (o *PushSetup) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	if req.Method != 1 {
		return axdr.Data{}, o.undefinedMethod(req.Method)
	}
	if err := checkResetParam(&o.Header, p); err != nil {
		return axdr.Data{}, err
	}
	o.Lock()
	push, dest := o.Push, o.Destination
	o.Unlock()
	if push == nil {
		return axdr.Data{}, cosem.Errorf(cosem.ResultObjectUnavailable, o.methodName(1)+": no push channel")
	}
	if err := push(ctx, dest, o.Values(ctx)); err != nil {
		return axdr.Data{}, cosem.Wrap(cosem.ResultTemporaryFailure, o.methodName(1), err)
	}
	return axdr.Null(), nil
}
