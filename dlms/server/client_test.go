package server

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/obis"
)

// testClient is a minimal DLMS client built from the codecs, enough to
// drive a Device: AARQ, HLS passes 3/4, GET with block transfer, SET,
// ACTION, release.
type testClient struct {
	t Transport

	mech     security.Mechanism
	secret   []byte
	policy   security.Policy
	keys     security.Keys
	title    []byte
	ic       uint32
	maxPDU   uint16
	ctos     []byte
	signer   *ecdsa.PrivateKey
	serverPK *ecdsa.PublicKey

	// dedicated, when set, is proposed in the InitiateRequest.
	dedicated []byte

	serverTitle []byte
	stoc        []byte
	lastWire    []byte // the last request as sent
}

var errRefused = errors.New("association refused")

// roundTrip sends a plain request, ciphered per the client's policy, and
// returns the plain answer.
func (c *testClient) roundTrip(ctx context.Context, plain []byte) ([]byte, error) {
	req := plain
	if c.policy != security.PolicyNone {
		c.ic++
		var err error
		req, err = security.WrapGeneral(nil, security.Global, security.NewSecurityControl(0, c.policy.Control()), c.keys, c.title, c.ic, plain)
		if err != nil {
			return nil, err
		}
	}
	c.lastWire = req
	return c.send(ctx, req)
}

// send sends raw bytes and deciphers the answer if needed.
func (c *testClient) send(ctx context.Context, req []byte) ([]byte, error) {
	if err := c.t.Send(ctx, req); err != nil {
		return nil, err
	}
	resp, err := c.t.Recv(ctx)
	if err != nil {
		return nil, err
	}
	if len(resp) > 0 && security.IsCiphered(resp[0]) {
		p, _, err := security.Unwrap(nil, c.keys, c.serverTitle, resp)
		return p, err
	}
	return resp, nil
}

func (c *testClient) associate(ctx context.Context) (*apdu.AARE, error) {
	ir := &apdu.InitiateRequest{DLMSVersion: 6, Conformance: 0x401E5D, ClientMaxReceivePDUSize: c.maxPDU, DedicatedKey: c.dedicated}
	if c.maxPDU == 0 {
		ir.ClientMaxReceivePDUSize = 0xFFFF
	}
	ui, err := ir.Append(nil)
	if err != nil {
		return nil, err
	}
	q := &apdu.AARQ{ApplicationContext: apdu.ContextLN}
	if c.policy != security.PolicyNone {
		q.ApplicationContext = apdu.ContextLNCiphered
		c.ic++
		if ui, err = security.Wrap(nil, security.Global, security.NewSecurityControl(0, c.policy.Control()), c.keys, c.title, c.ic, ui); err != nil {
			return nil, err
		}
	}
	if c.policy != security.PolicyNone || c.mech.IsHLS() {
		q.CallingAPTitle = c.title
	}
	if c.mech != security.MechanismNone {
		q.SenderACSERequirements = apdu.AuthenticationRequirement()
		q.HasMechanismName, q.MechanismName = true, apdu.Mechanism(c.mech)
		q.CallingAuthenticationValue = c.secret
		if c.mech.IsHLS() {
			if c.ctos == nil {
				c.ctos = mustHex("0102030405060708090A0B0C0D0E0F10")
			}
			q.CallingAuthenticationValue = c.ctos
		}
	}
	q.UserInformation = ui
	b, err := q.Append(nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, b)
	if err != nil {
		return nil, err
	}
	a, err := apdu.Decode(resp)
	if err != nil {
		return nil, fmt.Errorf("AARE % X: %w", resp, err)
	}
	aare, ok := a.(*apdu.AARE)
	if !ok {
		return nil, fmt.Errorf("answer to AARQ is %s", a.Kind())
	}
	if aare.Result != apdu.ResultAccepted {
		return aare, fmt.Errorf("%w: result %v diagnostic %d", errRefused, aare.Result, aare.Diagnostic.Value)
	}
	c.serverTitle, c.stoc = aare.RespondingAPTitle, aare.RespondingAuthenticationValue
	if !c.mech.IsHLS() {
		return aare, nil
	}
	return aare, c.hls(ctx)
}

// hls runs passes 3 and 4.
func (c *testClient) hls(ctx context.Context) error {
	ex := security.Exchange{ClientSystemTitle: c.title, ServerSystemTitle: c.serverTitle, CtoS: c.ctos, StoC: c.stoc}
	var f []byte
	var err error
	switch c.mech {
	case security.MechanismHLSGMAC:
		c.ic++
		f, err = ex.GMACResponse(security.Client, 0, c.keys, c.ic)
	case security.MechanismHLSSHA256:
		f, err = ex.SHA256Response(security.Client, c.secret)
	case security.MechanismHLSECDSA:
		f, err = ex.ECDSAResponse(security.Client, c.signer)
	}
	if err != nil {
		return err
	}
	p := axdr.OctetString(f)
	req := &apdu.ActionRequestNormal{InvokeID: 0xC1, Parameters: &p,
		Method: apdu.MethodDescriptor{ClassID: cosem.ClassAssociationLN, InstanceID: cosem.CurrentAssociation, MethodID: 1}}
	resp, err := c.roundTrip(ctx, mustAppendErr(req))
	if err != nil {
		return err
	}
	a, err := apdu.Decode(resp)
	if err != nil {
		return err
	}
	ar, ok := a.(*apdu.ActionResponseNormal)
	if !ok || ar.Result != apdu.ActionSuccess || ar.ReturnParameters == nil {
		return fmt.Errorf("%w: HLS reply answered % X", errRefused, resp)
	}
	fc := ar.ReturnParameters.Data.Bytes
	switch c.mech {
	case security.MechanismHLSGMAC:
		_, err = ex.VerifyGMACResponse(security.Server, c.keys, fc)
	case security.MechanismHLSSHA256:
		err = ex.VerifySHA256Response(security.Server, c.secret, fc)
	case security.MechanismHLSECDSA:
		err = ex.VerifyECDSAResponse(security.Server, c.serverPK, fc)
	}
	return err
}

func mustAppendErr(a apdu.APDU) []byte {
	b, err := a.Append(nil)
	if err != nil {
		panic(err)
	}
	return b
}

// get reads one attribute, pulling blocks; it reports how many blocks the
// answer came in (0: a normal response).
func (c *testClient) get(ctx context.Context, class uint16, ln obis.Code, attr int8, sel *apdu.SelectiveAccess) (axdr.Data, int, error) {
	req := &apdu.GetRequestNormal{InvokeID: 0xC1, Attribute: apdu.AttributeDescriptor{ClassID: class, InstanceID: ln, AttributeID: attr}, Access: sel}
	resp, err := c.roundTrip(ctx, mustAppendErr(req))
	if err != nil {
		return axdr.Data{}, 0, err
	}
	var raw []byte
	blocks := 0
	for {
		a, err := apdu.Decode(resp)
		if err != nil {
			return axdr.Data{}, blocks, fmt.Errorf("answer % X: %w", resp, err)
		}
		switch a := a.(type) {
		case *apdu.GetResponseNormal:
			if a.Result.IsAccessResult {
				return axdr.Data{}, blocks, fmt.Errorf("GET: %v", a.Result.AccessResult)
			}
			return a.Result.Data.Clone(), blocks, nil
		case *apdu.GetResponseWithDataBlock:
			if a.Block.IsAccessResult {
				return axdr.Data{}, blocks, fmt.Errorf("GET block: %v", a.Block.AccessResult)
			}
			blocks++
			raw = append(raw, a.Block.Raw...)
			if a.Block.LastBlock {
				d, n, err := axdr.Decode(raw)
				if err != nil || n != len(raw) {
					return axdr.Data{}, blocks, fmt.Errorf("reassembled value: %v (%d of %d bytes)", err, n, len(raw))
				}
				return d, blocks, nil
			}
			next := &apdu.GetRequestNext{InvokeID: a.InvokeID, BlockNumber: a.Block.BlockNumber}
			if resp, err = c.roundTrip(ctx, mustAppendErr(next)); err != nil {
				return axdr.Data{}, blocks, err
			}
		case *apdu.ExceptionResponse:
			return axdr.Data{}, blocks, fmt.Errorf("exception %v/%v ic %d", a.StateError, a.ServiceError, a.InvocationCounter)
		default:
			return axdr.Data{}, blocks, fmt.Errorf("answer to GET is %s", a.Kind())
		}
	}
}

func (c *testClient) release(ctx context.Context) (apdu.APDU, error) {
	resp, err := c.send(ctx, mustAppendErr(&apdu.RLRQ{HasReason: true}))
	if err != nil {
		return nil, err
	}
	return apdu.Decode(resp)
}
