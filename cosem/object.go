package cosem

import (
	"context"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/obis"
)

// Protection says which protection the xDLMS APDU that carried a request
// had. Access modes that demand authenticated requests check it.
type Protection uint8

// Protection bits.
const (
	ProtAuthenticated Protection = 1 << iota
	ProtEncrypted
	ProtSigned
)

// Caller says who is calling: the DLMS server fills it in from the
// association and the APDU, and objects or an access policy decide on it.
type Caller struct {
	// ClientSAP is the client's address: the wrapper port or the HDLC
	// client address (16 public client, 1 management, ...).
	ClientSAP uint16
	// ServerSAP is the logical device addressed.
	ServerSAP uint16
	// Mechanism is the authentication mechanism the association used.
	Mechanism security.Mechanism
	// Authenticated is true once the association's authentication
	// completed (for HLS, after reply_to_HLS_authentication succeeded).
	Authenticated bool
	// Protection is the protection of the APDU carrying this request.
	Protection Protection
}

// AccessSelection is the selective access a client asked for.
type AccessSelection struct {
	Selector   uint8
	Parameters axdr.Data
}

// AttributeRequest is one GET or SET of an attribute.
type AttributeRequest struct {
	Caller Caller
	// Attribute is the attribute index (1 = logical_name).
	Attribute int8
	// Access is the selective access asked for, or nil.
	Access *AccessSelection
}

// MethodRequest is one ACTION.
type MethodRequest struct {
	Caller Caller
	// Method is the method index.
	Method int8
}

// Object is a COSEM interface object as the DLMS server sees it. All
// methods must be safe for concurrent use: one meter serves many
// associations.
//
// Errors should be, or wrap, an *AccessError (see the Err* sentinels);
// ResultOf turns any error into the result code to answer with.
type Object interface {
	ClassID() uint16
	Version() uint8
	LogicalName() obis.Code
	// Get returns the value of an attribute.
	Get(ctx context.Context, req *AttributeRequest) (axdr.Data, error)
	// Set writes an attribute. A value of the wrong type fails with
	// ErrTypeUnmatched, an attribute that cannot be written with
	// ErrReadWriteDenied.
	Set(ctx context.Context, req *AttributeRequest, value axdr.Data) error
	// Action invokes a method and returns its return parameters
	// (null-data when it has none).
	Action(ctx context.Context, req *MethodRequest, param axdr.Data) (axdr.Data, error)
}

// LogicalNameData returns the logical_name attribute value of ln.
func LogicalNameData(ln obis.Code) axdr.Data {
	b := make([]byte, 6)
	copy(b, ln[:])
	return axdr.OctetString(b)
}
