package objects

import (
	"context"
	"crypto/subtle"
	"sync"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/obis"
)

// AssociationLN is an Association LN object (class 15, version 1). One
// instance describes one association (a client SAP's view of the device):
// its object_list is drawn from Tree under Rights, and the DLMS server
// enforces the same rights through RightsFor. The instance named
// CurrentAssociation answers associated_partners_id and
// association_status from the caller.
type AssociationLN struct {
	sync.Mutex
	Header
	Tree   *Tree
	Rights cosem.RightsFunc // nil: FullAccess

	ClientSAP          int8
	ServerSAP          uint16
	ApplicationContext []byte
	Context            cosem.XDLMSContext
	Mechanism          security.Mechanism
	Secret             []byte // LLS password or HLS secret; never readable
	Status             uint8  // for instances other than CurrentAssociation
	SecuritySetup      obis.Code

	// ReplyToHLS answers reply_to_HLS_authentication: it receives the
	// client's f(StoC) and returns f(CtoS), or fails with
	// ErrReadWriteDenied/ErrOtherReason when the check fails. The DLMS
	// session supplies it; nil refuses the method.
	ReplyToHLS func(ctx context.Context, caller cosem.Caller, fStoC []byte) ([]byte, error)
	// ChangeSecret, if set, is told about change_HLS_secret and may
	// refuse it; Secret is updated when it succeeds.
	ChangeSecret func(ctx context.Context, caller cosem.Caller, secret []byte) error
}

// NewAssociationLN returns an association for a client SAP over tree.
func NewAssociationLN(ln obis.Code, tree *Tree, rights cosem.RightsFunc, clientSAP int8, serverSAP uint16, mech security.Mechanism) *AssociationLN {
	return &AssociationLN{Header: Header{Class: cosem.ClassAssociationLN, Ver: 1, LN: ln}, Tree: tree, Rights: rights,
		ClientSAP: clientSAP, ServerSAP: serverSAP, ApplicationContext: security.ContextLN.Name(), Mechanism: mech,
		Context: cosem.XDLMSContext{Conformance: 0x00101D, MaxReceivePDU: 1024, MaxSendPDU: 1024, DLMSVersion: 6}}
}

// RightsFor returns o's rights in this association; false means o is
// not visible (answer object-undefined).
func (o *AssociationLN) RightsFor(obj cosem.Object) (cosem.AccessRights, bool) {
	o.Lock()
	r := o.Rights
	o.Unlock()
	if r == nil {
		return cosem.FullAccess(obj)
	}
	return r(obj)
}

// CheckSecret compares an LLS password with Secret in constant time.
func (o *AssociationLN) CheckSecret(pw []byte) bool {
	o.Lock()
	defer o.Unlock()
	return len(o.Secret) > 0 && subtle.ConstantTimeCompare(pw, o.Secret) == 1
}

// ObjectList returns object_list (attribute 2).
func (o *AssociationLN) ObjectList() axdr.Data {
	o.Lock()
	t, r := o.Tree, o.Rights
	o.Unlock()
	if t == nil {
		return axdr.Array()
	}
	return t.ObjectList(r)
}

// Get implements Object.
func (o *AssociationLN) Get(ctx context.Context, req *cosem.AttributeRequest) (axdr.Data, error) {
	if err := o.noSelective(req); err != nil {
		return axdr.Data{}, err
	}
	if req.Attribute == 2 {
		return o.ObjectList(), nil
	}
	current := o.LN == cosem.CurrentAssociation
	o.Lock()
	defer o.Unlock()
	switch req.Attribute {
	case 1:
		return cosem.LogicalNameData(o.LN), nil
	case 3:
		c, s := o.ClientSAP, o.ServerSAP
		if current {
			c, s = int8(req.Caller.ClientSAP), req.Caller.ServerSAP
		}
		return axdr.Structure(axdr.Int8(c), axdr.Uint16(s)), nil
	case 4:
		return axdr.OctetString(append([]byte(nil), o.ApplicationContext...)), nil
	case 5:
		return o.Context.Data(), nil
	case 6:
		m := o.Mechanism
		if current {
			m = req.Caller.Mechanism
		}
		return axdr.OctetString(m.Name()), nil
	case 7:
		return axdr.Data{}, cosem.Errorf(cosem.ResultReadWriteDenied, o.attrName(7)+" is write-only")
	case 8:
		st := o.Status
		if current {
			st = cosem.AssociationPending
			if req.Caller.Authenticated {
				st = cosem.Associated
			}
		}
		return axdr.Enum(st), nil
	case 9:
		return cosem.LogicalNameData(o.SecuritySetup), nil
	}
	return axdr.Data{}, o.undefinedAttr(req.Attribute)
}

// Set implements Object: only secret (attribute 7) is writable, for LLS
// password changes.
func (o *AssociationLN) Set(ctx context.Context, req *cosem.AttributeRequest, v axdr.Data) error {
	if err := o.noSelective(req); err != nil {
		return err
	}
	switch req.Attribute {
	case 7:
		if v.Tag != axdr.TagOctetString {
			return o.typeErr(7, "octet-string", v)
		}
		o.Lock()
		o.Secret = append([]byte(nil), v.Bytes...)
		o.Unlock()
		return nil
	case 1, 2, 3, 4, 5, 6, 8, 9:
		return o.denied(req.Attribute)
	}
	return o.undefinedAttr(req.Attribute)
}

// Action implements Object: 1 reply_to_HLS_authentication, 2
// change_HLS_secret (octet-string each). add_object and remove_object
// are refused: the object list follows the Tree.
func (o *AssociationLN) Action(ctx context.Context, req *cosem.MethodRequest, p axdr.Data) (axdr.Data, error) {
	switch req.Method {
	case 1:
		if p.Tag != axdr.TagOctetString {
			return axdr.Data{}, o.paramErr(1, "octet-string", p)
		}
		o.Lock()
		f := o.ReplyToHLS
		o.Unlock()
		if f == nil {
			return axdr.Data{}, cosem.Errorf(cosem.ResultReadWriteDenied, o.methodName(1)+": no HLS in this association")
		}
		out, err := f(ctx, req.Caller, p.Bytes)
		if err != nil {
			return axdr.Data{}, err
		}
		return axdr.OctetString(out), nil
	case 2:
		if p.Tag != axdr.TagOctetString {
			return axdr.Data{}, o.paramErr(2, "octet-string", p)
		}
		o.Lock()
		f := o.ChangeSecret
		o.Unlock()
		secret := append([]byte(nil), p.Bytes...)
		if f != nil {
			if err := f(ctx, req.Caller, secret); err != nil {
				return axdr.Data{}, err
			}
		}
		o.Lock()
		o.Secret = secret
		o.Unlock()
		return axdr.Null(), nil
	case 3, 4:
		return axdr.Data{}, cosem.Errorf(cosem.ResultReadWriteDenied, o.methodName(req.Method)+": object list follows the device")
	}
	return axdr.Data{}, o.undefinedMethod(req.Method)
}
