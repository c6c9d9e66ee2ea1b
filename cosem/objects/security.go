package objects

import (
	"context"
	"sync"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/obis"
)

// Security policy bits of Security setup version 1.
const (
	PolicyAuthenticatedRequest  uint8 = 1 << 2
	PolicyEncryptedRequest      uint8 = 1 << 3
	PolicySignedRequest         uint8 = 1 << 4
	PolicyAuthenticatedResponse uint8 = 1 << 5
	PolicyEncryptedResponse     uint8 = 1 << 6
	PolicySignedResponse        uint8 = 1 << 7
)

// Key ids of key_transfer (Green Book key_id enum).
const (
	KeyGlobalUnicast   uint8 = 0
	KeyGlobalBroadcast uint8 = 1
	KeyAuthentication  uint8 = 2
	KeyMaster          uint8 = 3
)

// WrappedKey is one key_data of key_transfer or key_agreement. Data is
// still wrapped (AES key wrap with the master key) or ciphered; opening
// it is the security layer's job.
type WrappedKey struct {
	ID   uint8
	Data []byte
}

// SecuritySetup is a Security setup object (class 64, version 1).
type SecuritySetup struct {
	sync.Mutex
	Header
	Policy            uint8
	Suite             uint8
	ClientSystemTitle []byte
	ServerSystemTitle []byte
	// Certificates is an array of certificate_info structures.
	Certificates axdr.Data

	// Activate is told about security_activate before Policy changes.
	Activate func(ctx context.Context, policy uint8) error
	// TransferKeys receives the wrapped keys of key_transfer.
	TransferKeys func(ctx context.Context, keys []WrappedKey) error
	// Other serves methods 3 to 8 (key_agreement, generate_key_pair,
	// generate_certificate_request, import_certificate,
	// export_certificate, remove_certificate) after their parameter types
	// were checked.
	Other func(ctx context.Context, method int8, param axdr.Data) (axdr.Data, error)
}

// NewSecuritySetup returns a security setup for suite with the server's
// system title.
func NewSecuritySetup(ln obis.Code, suite uint8, serverTitle []byte) *SecuritySetup {
	return &SecuritySetup{Header: Header{Class: cosem.ClassSecuritySetup, Ver: 1, LN: ln}, Suite: suite,
		ServerSystemTitle: serverTitle, Certificates: axdr.Array()}
}

func (o *SecuritySetup) fields() []field {
	return []field{
		enumField(&o.Policy, false),
		enumField(&o.Suite, false),
		bytesField(&o.ClientSystemTitle, 8, false),
		bytesField(&o.ServerSystemTitle, 8, false),
		dataField(&o.Certificates, anyShape, "array", false),
	}
}

// Get implements Object.
func (o *SecuritySetup) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	return tableGet(&o.Header, &o.Mutex, o.fields, req)
}

// Set implements Object: all attributes change only through methods.
func (o *SecuritySetup) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	return tableSet(ctx, &o.Header, &o.Mutex, o.fields, req, v, nil)
}

// ParseKeyData reads the array of structure{key_id enum, key octet-string}
// of key_transfer and key_agreement.
func ParseKeyData(p axdr.Data) ([]WrappedKey, bool) {
	if p.Tag != axdr.TagArray || len(p.Items) == 0 {
		return nil, false
	}
	keys := make([]WrappedKey, 0, len(p.Items))
	for _, it := range p.Items {
		if !isStruct(it, 2) || it.Items[1].Tag != axdr.TagOctetString {
			return nil, false
		}
		id, ok := cosem.UintOf(it.Items[0], axdr.TagEnum)
		if !ok {
			return nil, false
		}
		keys = append(keys, WrappedKey{ID: uint8(id), Data: append([]byte(nil), it.Items[1].Bytes...)})
	}
	return keys, true
}

var securityParamShapes = map[int8]shape{
	3: arrayOf(structOf(enumShape, anyOctets)), // key_agreement
	4: enumShape,                               // generate_key_pair
	5: enumShape,                               // generate_certificate_request
	6: anyOctets,                               // import_certificate
	7: structOf(enumShape, anyShape),           // export_certificate
	8: structOf(enumShape, anyShape),           // remove_certificate
}

// Action implements Object.
func (o *SecuritySetup) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	o.Lock()
	activate, transfer, other, cur := o.Activate, o.TransferKeys, o.Other, o.Policy
	o.Unlock()
	switch req.Method {
	case 1:
		n, ok := cosem.UintOf(p, axdr.TagEnum)
		if !ok {
			return axdr.Data{}, o.paramErr(1, "enum", p)
		}
		// Version 1: a policy may only be strengthened.
		if uint8(n)&cur != cur {
			return axdr.Data{}, cosem.Errorf(cosem.ResultReadWriteDenied, o.methodName(1)+": policy may not be weakened")
		}
		if activate != nil {
			if err := activate(ctx, uint8(n)); err != nil {
				return axdr.Data{}, err
			}
		}
		o.Lock()
		o.Policy = uint8(n)
		o.Unlock()
		return axdr.Null(), nil
	case 2:
		keys, ok := ParseKeyData(p)
		if !ok {
			return axdr.Data{}, o.paramErr(2, "array of structure{enum, octet-string}", p)
		}
		if transfer == nil {
			return axdr.Data{}, cosem.Errorf(cosem.ResultReadWriteDenied, o.methodName(2)+": not supported")
		}
		return axdr.Null(), transfer(ctx, keys)
	}
	s, ok := securityParamShapes[req.Method]
	if !ok {
		return axdr.Data{}, o.undefinedMethod(req.Method)
	}
	if !s(p) {
		return axdr.Data{}, o.paramErr(req.Method, "the Blue Book parameter type", p)
	}
	if other == nil {
		return axdr.Data{}, cosem.Errorf(cosem.ResultReadWriteDenied, o.methodName(req.Method)+": not supported")
	}
	return other(ctx, req.Method, p)
}
