package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
)

var traceClock = time.Date(2026, 11, 23, 21, 22, 37, 0, time.UTC)

// clockOctets is how the device reports traceClock.
var clockOctets = mustHex("07EA0B170115162500000000")

// serve runs d.Serve on a pipe for the duration of the test.
func serve(t *testing.T, d *Device, sap uint16) *pipeTransport {
	t.Helper()
	p := newPipe()
	done := make(chan error, 1)
	go func() { done <- d.Serve(context.Background(), p, ClientInfo{ClientSAP: sap}) }()
	t.Cleanup(func() {
		p.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return p
}

func attr(class uint16, ln [6]byte, a int8) apdu.AttributeDescriptor {
	return apdu.AttributeDescriptor{ClassID: class, InstanceID: ln, AttributeID: a}
}

func method(class uint16, ln [6]byte, m int8) apdu.MethodDescriptor {
	return apdu.MethodDescriptor{ClassID: class, InstanceID: ln, MethodID: m}
}

func plainDevice(t *testing.T, maxPDU uint16) *Device {
	return &Device{
		Tree:          newTestTree(t, treeValues{clock: traceClock, register: axdr.Uint16(1234), rows: profileRows(clockOctets, 60)}),
		Address:       1,
		Associations:  []Association{{ClientSAP: 16, MaxPDU: maxPDU}},
		MaxReassembly: 64,
	}
}

func TestServices(t *testing.T) {
	d := plainDevice(t, 128)
	p := serve(t, d, 16)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clockData := axdr.OctetString(clockOctets)
	zero := axdr.Int8(0)
	clockRaw := clockData.Append(nil)

	type step struct {
		name  string
		req   apdu.APDU
		raw   []byte // sent instead of req when set
		want  apdu.APDU
		check func(t *testing.T, resp []byte)
	}
	steps := []step{
		{name: "get before association", req: &apdu.GetRequestNormal{InvokeID: 0xC1, Attribute: attr(8, lnClock, 2)},
			want: &apdu.ExceptionResponse{StateError: apdu.StateServiceNotAllowed, ServiceError: apdu.ServiceOperationNotPossible}},
		{name: "aarq", req: &apdu.AARQ{ApplicationContext: apdu.ContextLN,
			UserInformation: mustAppend(t, &apdu.InitiateRequest{DLMSVersion: 6, Conformance: 0x401E5D, ClientMaxReceivePDUSize: 0xFFFF})},
			want: &apdu.AARE{ApplicationContext: apdu.ContextLN, Result: apdu.ResultAccepted,
				UserInformation: mustAppend(t, &apdu.InitiateResponse{DLMSVersion: 6, Conformance: 0x401E1D, ServerMaxReceivePDUSize: 128, VAAName: 7})}},
		{name: "get with list", req: &apdu.GetRequestWithList{InvokeID: 0xC2, Attributes: []apdu.AttributeRequest{
			{Attribute: attr(8, lnClock, 2)}, {Attribute: attr(3, lnRegister, 2)}, {Attribute: attr(3, lnClock, 2)}, {Attribute: attr(1, [6]byte{9, 9, 9, 9, 9, 9}, 2)}}},
			want: &apdu.GetResponseWithList{InvokeID: 0xC2, Results: []apdu.GetDataResult{apdu.ResultData(clockData),
				apdu.ResultData(axdr.Uint16(1234)), apdu.ResultError(apdu.ObjectClassInconsistent), apdu.ResultError(apdu.ObjectUndefined)}}},
		{name: "set", req: &apdu.SetRequestNormal{InvokeID: 0xC1, Attribute: attr(8, lnClock, 2), Value: clockData},
			want: &apdu.SetResponseNormal{InvokeID: 0xC1}},
		{name: "set scaler refused", req: &apdu.SetRequestNormal{InvokeID: 0xC1, Attribute: attr(3, lnRegister, 3), Value: axdr.Uint8(1)},
			check: func(t *testing.T, resp []byte) {
				if a, err := apdu.Decode(resp); err != nil || a.(*apdu.SetResponseNormal).Result == apdu.Success {
					t.Fatalf("answer % X", resp)
				}
			}},
		{name: "set first block", req: &apdu.SetRequestWithFirstDataBlock{InvokeID: 0xC3, Attribute: attr(8, lnClock, 2),
			Block: apdu.DataBlockSA{BlockNumber: 1, Raw: clockRaw[:7]}},
			want: &apdu.SetResponseDataBlock{InvokeID: 0xC3, BlockNumber: 1}},
		{name: "set last block", req: &apdu.SetRequestWithDataBlock{InvokeID: 0xC3, Block: apdu.DataBlockSA{LastBlock: true, BlockNumber: 2, Raw: clockRaw[7:]}},
			want: &apdu.SetResponseLastDataBlock{InvokeID: 0xC3, BlockNumber: 2}},
		{name: "set block without transfer", req: &apdu.SetRequestWithDataBlock{InvokeID: 0xC3, Block: apdu.DataBlockSA{BlockNumber: 5, Raw: []byte{0}}},
			want: &apdu.SetResponseLastDataBlock{InvokeID: 0xC3, Result: apdu.NoLongSetInProgress, BlockNumber: 5}},
		{name: "set wrong block number", req: &apdu.SetRequestWithFirstDataBlock{InvokeID: 0xC3, Attribute: attr(8, lnClock, 2),
			Block: apdu.DataBlockSA{BlockNumber: 2, Raw: clockRaw[:7]}},
			want: &apdu.SetResponseLastDataBlock{InvokeID: 0xC3, Result: apdu.DataBlockNumberInvalid, BlockNumber: 2}},
		{name: "set over reassembly bound", req: &apdu.SetRequestWithListAndFirstDataBlock{InvokeID: 0xC4,
			Attributes: []apdu.AttributeRequest{{Attribute: attr(8, lnClock, 2)}}, Block: apdu.DataBlockSA{BlockNumber: 1, Raw: make([]byte, 65)}},
			want: &apdu.SetResponseLastDataBlockWithList{InvokeID: 0xC4, Results: []apdu.DataAccessResult{apdu.LongSetAborted}, BlockNumber: 1}},
		{name: "set with list", req: &apdu.SetRequestWithList{InvokeID: 0xC5, Attributes: []apdu.AttributeRequest{
			{Attribute: attr(8, lnClock, 2)}, {Attribute: attr(8, lnClock, 2)}}, Values: []axdr.Data{clockData, axdr.Uint8(3)}},
			want: &apdu.SetResponseWithList{InvokeID: 0xC5, Results: []apdu.DataAccessResult{apdu.Success, apdu.TypeUnmatched}}},
		{name: "action first pblock", req: &apdu.ActionRequestWithFirstPBlock{InvokeID: 0xC6, Method: method(70, lnDisconnect, 2),
			Block: apdu.DataBlockSA{BlockNumber: 1, Raw: []byte{0x0F}}},
			want: &apdu.ActionResponseNextPBlock{InvokeID: 0xC6, BlockNumber: 1}},
		{name: "action last pblock", req: &apdu.ActionRequestWithPBlock{InvokeID: 0xC6, Block: apdu.DataBlockSA{LastBlock: true, BlockNumber: 2, Raw: []byte{0x00}}},
			want: &apdu.ActionResponseNormal{InvokeID: 0xC6}},
		{name: "disconnect state", req: &apdu.GetRequestNormal{InvokeID: 0xC1, Attribute: attr(70, lnDisconnect, 3)},
			want: &apdu.GetResponseNormal{InvokeID: 0xC1, Result: apdu.ResultData(axdr.Enum(1))}},
		{name: "action with list", req: &apdu.ActionRequestWithList{InvokeID: 0xC7,
			Methods: []apdu.MethodDescriptor{method(70, lnDisconnect, 1), method(70, lnDisconnect, 9)}, Parameters: []axdr.Data{zero, zero}},
			check: func(t *testing.T, resp []byte) {
				a, err := apdu.Decode(resp)
				r, ok := a.(*apdu.ActionResponseWithList)
				if err != nil || !ok || len(r.Results) != 2 || r.Results[0].Result != apdu.ActionSuccess || r.Results[1].Result == apdu.ActionSuccess {
					t.Fatalf("answer % X", resp)
				}
			}},
		{name: "next without long get", req: &apdu.GetRequestNext{InvokeID: 0xC1, BlockNumber: 3},
			want: &apdu.GetResponseWithDataBlock{InvokeID: 0xC1, Block: apdu.DataBlockG{LastBlock: true, BlockNumber: 3,
				IsAccessResult: true, AccessResult: apdu.NoLongGetInProgress}}},
		{name: "long get", req: &apdu.GetRequestNormal{InvokeID: 0xC1, Attribute: attr(7, lnProfile, 2)},
			check: func(t *testing.T, resp []byte) {
				a, err := apdu.Decode(resp)
				b, ok := a.(*apdu.GetResponseWithDataBlock)
				if err != nil || !ok || b.Block.LastBlock || b.Block.BlockNumber != 1 || len(resp) > 128 {
					t.Fatalf("first block % X", resp)
				}
			}},
		{name: "next wrong number", req: &apdu.GetRequestNext{InvokeID: 0xC1, BlockNumber: 7},
			want: &apdu.GetResponseWithDataBlock{InvokeID: 0xC1, Block: apdu.DataBlockG{LastBlock: true, BlockNumber: 7,
				IsAccessResult: true, AccessResult: apdu.DataBlockNumberInvalid}}},
		{name: "unknown tag", raw: []byte{0xFF, 0x01},
			want: &apdu.ExceptionResponse{StateError: apdu.StateServiceUnknown, ServiceError: apdu.ServiceNotSupported}},
		{name: "response as request", req: &apdu.GetResponseNormal{InvokeID: 0xC1, Result: apdu.ResultData(zero)},
			want: &apdu.ExceptionResponse{StateError: apdu.StateServiceNotAllowed, ServiceError: apdu.ServiceNotSupported}},
		{name: "ciphered in plain context", raw: mustHex("C81E30000003EB438F161121B0846A4D5683B334B2E2ABC28EEEECD47B925AB9"),
			want: &apdu.ExceptionResponse{StateError: apdu.StateServiceNotAllowed, ServiceError: apdu.ServiceOperationNotPossible}},
		{name: "release", req: &apdu.RLRQ{HasReason: true}, want: &apdu.RLRE{HasReason: true}},
		{name: "get after release", req: &apdu.GetRequestNormal{InvokeID: 0xC1, Attribute: attr(8, lnClock, 2)},
			want: &apdu.ExceptionResponse{StateError: apdu.StateServiceNotAllowed, ServiceError: apdu.ServiceOperationNotPossible}},
	}
	for _, s := range steps {
		req := s.raw
		if req == nil {
			req = mustAppend(t, s.req)
		}
		resp, err := p.exchange(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.check != nil {
			s.check(t, resp)
			continue
		}
		if want := mustAppend(t, s.want); !bytes.Equal(resp, want) {
			t.Fatalf("%s:\n got  % X\n want % X", s.name, resp, want)
		}
	}
}

// TestAssociationRefusals checks the AARE diagnostics.
func TestAssociationRefusals(t *testing.T) {
	d := &Device{
		Tree: newTestTree(t, treeValues{}), Address: 1, SystemTitle: serverTitle,
		Associations: []Association{
			{ClientSAP: 16},
			{ClientSAP: 17, Authentication: security.MechanismLLS, Secret: testPassword},
			{ClientSAP: 1, Authentication: security.MechanismHLSGMAC, Policy: security.PolicyAuthenticatedEncrypted, Keys: testKeys()},
		},
	}
	ir := func(v uint8, conf apdu.Conformance, pdu uint16) []byte {
		return mustAppend(t, &apdu.InitiateRequest{DLMSVersion: v, Conformance: conf, ClientMaxReceivePDUSize: pdu})
	}
	okIR := ir(6, 0x401E5D, 0xFFFF)
	cases := []struct {
		name   string
		sap    uint16
		aarq   *apdu.AARQ
		result apdu.AssociationResult
		diag   uint8
		cse    uint8 // ConfirmedServiceError value expected in user-information, 0xFF: none
	}{
		{"unknown SAP", 99, &apdu.AARQ{ApplicationContext: apdu.ContextLN, UserInformation: okIR}, apdu.ResultRejectedPermanent, apdu.DiagnosticNoReasonGiven, 0xFF},
		{"short-name context", 16, &apdu.AARQ{ApplicationContext: apdu.ContextSN, UserInformation: okIR}, apdu.ResultRejectedPermanent, apdu.DiagnosticApplicationContextNameNotSupported, 0xFF},
		{"ciphered context for plain policy", 16, &apdu.AARQ{ApplicationContext: apdu.ContextLNCiphered, UserInformation: okIR}, apdu.ResultRejectedPermanent, apdu.DiagnosticApplicationContextNameNotSupported, 0xFF},
		{"plain context for ciphered policy", 1, &apdu.AARQ{ApplicationContext: apdu.ContextLN, UserInformation: okIR}, apdu.ResultRejectedPermanent, apdu.DiagnosticApplicationContextNameNotSupported, 0xFF},
		{"mechanism missing", 17, &apdu.AARQ{ApplicationContext: apdu.ContextLN, UserInformation: okIR}, apdu.ResultRejectedPermanent, apdu.DiagnosticAuthenticationMechanismNameRequired, 0xFF},
		{"wrong mechanism", 17, &apdu.AARQ{ApplicationContext: apdu.ContextLN, HasMechanismName: true, MechanismName: apdu.MechanismHLSMD5, UserInformation: okIR}, apdu.ResultRejectedPermanent, apdu.DiagnosticAuthenticationMechanismNameNotRecognised, 0xFF},
		{"no calling AP title", 1, &apdu.AARQ{ApplicationContext: apdu.ContextLNCiphered, HasMechanismName: true, MechanismName: apdu.MechanismHLSGMAC, CallingAuthenticationValue: make([]byte, 16), UserInformation: okIR}, apdu.ResultRejectedPermanent, apdu.DiagnosticCallingAPTitleNotRecognized, 0xFF},
		{"plain initiate under ciphering policy", 1, &apdu.AARQ{ApplicationContext: apdu.ContextLNCiphered, CallingAPTitle: clientTitle, HasMechanismName: true, MechanismName: apdu.MechanismHLSGMAC, CallingAuthenticationValue: make([]byte, 16), UserInformation: okIR}, apdu.ResultRejectedPermanent, apdu.DiagnosticNoReasonGiven, 0xFF},
		{"no user-information", 16, &apdu.AARQ{ApplicationContext: apdu.ContextLN}, apdu.ResultRejectedPermanent, apdu.DiagnosticNoReasonGiven, 0xFF},
		{"old DLMS version", 16, &apdu.AARQ{ApplicationContext: apdu.ContextLN, UserInformation: ir(5, 0x401E5D, 0xFFFF)}, apdu.ResultRejectedPermanent, apdu.DiagnosticNoReasonGiven, apdu.InitiateDLMSVersionTooLow},
		{"no common conformance", 16, &apdu.AARQ{ApplicationContext: apdu.ContextLN, UserInformation: ir(6, apdu.ConformanceReservedZero, 0xFFFF)}, apdu.ResultRejectedPermanent, apdu.DiagnosticNoReasonGiven, apdu.InitiateIncompatibleConformance},
		{"PDU too short", 16, &apdu.AARQ{ApplicationContext: apdu.ContextLN, UserInformation: ir(6, 0x401E5D, 11)}, apdu.ResultRejectedPermanent, apdu.DiagnosticNoReasonGiven, apdu.InitiatePDUSizeTooShort},
		{"user-information not an InitiateRequest", 16, &apdu.AARQ{ApplicationContext: apdu.ContextLN, UserInformation: []byte{0xC0, 1}}, apdu.ResultRejectedPermanent, apdu.DiagnosticNoReasonGiven, apdu.InitiateOther},
		{"short CtoS", 1, &apdu.AARQ{ApplicationContext: apdu.ContextLNCiphered, CallingAPTitle: clientTitle, HasMechanismName: true, MechanismName: apdu.MechanismHLSGMAC, CallingAuthenticationValue: make([]byte, 4),
			UserInformation: mustWrap(t, okIR)}, apdu.ResultRejectedPermanent, apdu.DiagnosticAuthenticationFailure, 0xFF},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := serve(t, d, c.sap)
			resp, err := p.exchange(ctx, mustAppend(t, c.aarq))
			if err != nil {
				t.Fatal(err)
			}
			a, err := apdu.Decode(resp)
			if err != nil {
				t.Fatal(err)
			}
			aare := a.(*apdu.AARE)
			if aare.Result != c.result || aare.Diagnostic.Value != c.diag {
				t.Fatalf("result %v diagnostic %d, want %v %d", aare.Result, aare.Diagnostic.Value, c.result, c.diag)
			}
			switch {
			case c.cse == 0xFF && aare.UserInformation != nil:
				t.Fatalf("unexpected user-information % X", aare.UserInformation)
			case c.cse != 0xFF:
				u, err := apdu.Decode(aare.UserInformation)
				if cse, ok := u.(*apdu.ConfirmedServiceError); err != nil || !ok || cse.Value != c.cse {
					t.Fatalf("user-information % X, want confirmed-service-error %d", aare.UserInformation, c.cse)
				}
			}
		})
	}
}

func mustWrap(t *testing.T, plain []byte) []byte {
	w, err := security.Wrap(nil, security.Global, 0x30, testKeys(), clientTitle, 1, plain)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestHLSMechanisms associates with each HLS mechanism, checks that only
// the HLS reply is served while pending, and that a wrong reply ends the
// association.
func TestHLSMechanisms(t *testing.T) {
	clientKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serverKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	events := &eventLog{}
	d := &Device{
		Tree: newTestTree(t, treeValues{register: axdr.Uint16(7)}), Address: 1, SystemTitle: serverTitle,
		Associations: []Association{
			{ClientSAP: 1, Authentication: security.MechanismHLSGMAC, Policy: security.PolicyAuthenticatedEncrypted, Keys: testKeys()},
			{ClientSAP: 2, Authentication: security.MechanismHLSSHA256, Secret: []byte("sha-secret")},
			{ClientSAP: 3, Authentication: security.MechanismHLSECDSA, Policy: security.PolicyAuthenticated, Suite: security.Suite1, Keys: testKeys(),
				ClientPublicKey: &clientKey.PublicKey, SigningKey: serverKey},
			{ClientSAP: 4, Authentication: security.MechanismHLSGMAC, Policy: security.PolicyAuthenticatedEncrypted, Keys: testKeys()},
		},
		OnSecurityEvent: events.add,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	clients := map[uint16]func(tr Transport) *testClient{
		1: func(tr Transport) *testClient { return hlsClient(tr) },
		2: func(tr Transport) *testClient {
			return &testClient{t: tr, mech: security.MechanismHLSSHA256, secret: []byte("sha-secret"), title: clientTitle}
		},
		3: func(tr Transport) *testClient {
			return &testClient{t: tr, mech: security.MechanismHLSECDSA, policy: security.PolicyAuthenticated, keys: testKeys(), title: clientTitle,
				signer: clientKey, serverPK: &serverKey.PublicKey, ctos: bytes.Repeat([]byte{7}, 32)}
		},
	}
	for sap, mk := range clients {
		t.Run(d.Associations[sap-1].Authentication.String(), func(t *testing.T) {
			c := mk(serve(t, d, sap).client())
			if _, err := c.associate(ctx); err != nil {
				t.Fatal(err)
			}
			v, _, err := c.get(ctx, cosem.ClassRegister, lnRegister, 2, nil)
			if err != nil || !v.Equal(axdr.Uint16(7)) {
				t.Fatalf("GET: %v %v", v, err)
			}
			// The current association reports itself as associated.
			if st, _, err := c.get(ctx, cosem.ClassAssociationLN, cosem.CurrentAssociation, 8, nil); err != nil || !st.Equal(axdr.Enum(cosem.Associated)) {
				t.Fatalf("association_status %v %v", st, err)
			}
		})
	}

	t.Run("pending and wrong reply", func(t *testing.T) {
		c := hlsClient(serve(t, d, 4).client())
		ctos := mustHex("0102030405060708090A0B0C0D0E0F10")
		c.ctos = ctos
		// Build the AARQ by hand to stop before pass 3.
		c.ic++
		ui := mustWrap(t, mustAppend(t, &apdu.InitiateRequest{DLMSVersion: 6, Conformance: 0x401E5D, ClientMaxReceivePDUSize: 0xFFFF}))
		resp, err := c.send(ctx, mustAppend(t, &apdu.AARQ{ApplicationContext: apdu.ContextLNCiphered, CallingAPTitle: clientTitle,
			SenderACSERequirements: apdu.AuthenticationRequirement(), HasMechanismName: true, MechanismName: apdu.MechanismHLSGMAC,
			CallingAuthenticationValue: ctos, UserInformation: ui}))
		if err != nil {
			t.Fatal(err)
		}
		a, _ := apdu.Decode(resp)
		if aare := a.(*apdu.AARE); aare.Diagnostic.Value != apdu.DiagnosticAuthenticationRequired || len(aare.RespondingAuthenticationValue) != 16 {
			t.Fatalf("AARE % X", resp)
		}
		if _, _, err := c.get(ctx, cosem.ClassRegister, lnRegister, 2, nil); err == nil {
			t.Fatal("GET served before HLS completed")
		}
		wrong := axdr.OctetString(make([]byte, 17))
		resp, err = c.roundTrip(ctx, mustAppend(t, &apdu.ActionRequestNormal{InvokeID: 0xC1,
			Method: method(cosem.ClassAssociationLN, cosem.CurrentAssociation, 1), Parameters: &wrong}))
		if err != nil {
			t.Fatal(err)
		}
		if a, err := apdu.Decode(resp); err != nil || a.(*apdu.ActionResponseNormal).Result != apdu.ActionReadWriteDenied {
			t.Fatalf("wrong HLS reply answered % X", resp)
		}
		if events.count(EventHLSFailure, 4) != 1 {
			t.Fatal("HLS failure not reported")
		}
		if _, _, err := c.get(ctx, cosem.ClassRegister, lnRegister, 2, nil); err == nil {
			t.Fatal("GET served after a failed HLS")
		}
	})

	t.Run("dedicated key", func(t *testing.T) {
		p := serve(t, d, 4)
		c := hlsClient(p.client())
		c.dedicated = mustHex("00112233445566778899AABBCCDDEEFF")
		c.keys.Dedicated = security.MustKey(c.dedicated)
		c.ic = 5000 // SAP 4 was used before: its replay guard remembers
		if _, err := c.associate(ctx); err != nil {
			t.Fatal(err)
		}
		req := mustAppend(t, &apdu.GetRequestNormal{InvokeID: 0xC1, Attribute: attr(3, lnRegister, 2)})
		c.ic++
		w, err := security.Wrap(nil, security.Dedicated, 0x30, c.keys, clientTitle, c.ic, req)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := p.exchange(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		if resp[0] != security.TagDedGetResponse {
			t.Fatalf("answer to ded-get-request % X", resp)
		}
		plain, _, err := security.Unwrap(nil, c.keys, serverTitle, resp)
		if err != nil || !bytes.Equal(plain, mustHex("C401C100120007")) {
			t.Fatalf("ded-get-response % X: %v", plain, err)
		}
	})

	t.Run("policy", func(t *testing.T) {
		c := hlsClient(serve(t, d, 1).client())
		c.ic = 1000 // above what the first GMAC association used: the guard remembers
		if _, err := c.associate(ctx); err != nil {
			t.Fatal(err)
		}
		// A plain GET, and an authenticated-only one, fall short of
		// authenticated-encrypted.
		for _, pol := range []security.Policy{security.PolicyNone, security.PolicyAuthenticated} {
			c.policy = pol
			if _, _, err := c.get(ctx, cosem.ClassRegister, lnRegister, 2, nil); err == nil {
				t.Fatalf("GET under policy %v served", pol)
			}
		}
		if events.count(EventUnprotected, 1) != 2 {
			t.Fatal("unprotected requests not reported")
		}
		// A plain RLRQ is refused like the reference meter does; a
		// protected one releases.
		c.policy = security.PolicyAuthenticatedEncrypted
		if a, err := c.release(ctx); err != nil || a.Kind() != "exception-response" {
			t.Fatalf("plain release: %v %v", a, err)
		}
		c.ic++
		ui, _ := security.Wrap(nil, security.Global, 0x30, testKeys(), clientTitle, c.ic,
			mustAppend(t, &apdu.InitiateRequest{DLMSVersion: 6, Conformance: 0x401E5D, ClientMaxReceivePDUSize: 0xFFFF}))
		resp, err := c.send(ctx, mustAppend(t, &apdu.RLRQ{HasReason: true, UserInformation: ui}))
		if err != nil {
			t.Fatal(err)
		}
		a, err := apdu.Decode(resp)
		if err != nil || a.(*apdu.RLRE).UserInformation == nil {
			t.Fatalf("protected release answered % X", resp)
		}
	})
}

func TestDeviceConfig(t *testing.T) {
	tree := newTestTree(t, treeValues{})
	bad := []*Device{
		{},
		{Tree: tree, Associations: []Association{{ClientSAP: 1}, {ClientSAP: 1}}},
		{Tree: tree, Associations: []Association{{ClientSAP: 1, Authentication: 3}}},
		{Tree: tree, Associations: []Association{{ClientSAP: 1, Authentication: security.MechanismLLS}}},
		{Tree: tree, Associations: []Association{{ClientSAP: 1, Policy: security.PolicyAuthenticated}}},
		{Tree: tree, SystemTitle: []byte{1}, Associations: []Association{{ClientSAP: 1, Authentication: security.MechanismHLSGMAC, Keys: testKeys()}}},
		{Tree: tree, Associations: []Association{{ClientSAP: 1, Authentication: security.MechanismHLSECDSA, SigningKey: nil}}},
	}
	for i, d := range bad {
		if err := d.init(); !errors.Is(err, ErrConfig) {
			t.Errorf("device %d: %v, want ErrConfig", i, err)
		}
	}
	if _, err := NewServer(&Device{Tree: tree, Address: 1}, &Device{Tree: tree, Address: 1}); !errors.Is(err, ErrConfig) {
		t.Errorf("duplicate addresses: %v", err)
	}
}

func TestPush(t *testing.T) {
	d := &Device{Tree: newTestTree(t, treeValues{}), Address: 1, SystemTitle: serverTitle,
		Counter: security.NewCounter(500, nil)}
	body := axdr.Structure(axdr.OctetString([]byte("last gasp")), axdr.Uint16(3))
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ctx := context.Background()
	cases := []struct {
		name  string
		pol   PushPolicy
		n     apdu.APDU
		outer byte
	}{
		{"plain data-notification", PushPolicy{}, DataNotification(7, at, body), apdu.TagDataNotification},
		{"ciphered data-notification", PushPolicy{Policy: security.PolicyAuthenticatedEncrypted, Keys: testKeys()}, DataNotification(8, time.Time{}, body), security.TagGeneralGloCiphering},
		{"ciphered event-notification", PushPolicy{Policy: security.PolicyAuthenticated, Keys: testKeys()},
			&apdu.EventNotificationRequest{Attribute: attr(70, lnDisconnect, 2), Value: axdr.Bool(false)}, security.TagGloEventNotification},
	}
	for _, c := range cases {
		var got []byte
		tr := &memTransport{sent: func(b []byte) { got = append([]byte(nil), b...) }}
		if err := d.Push(ctx, tr, c.pol, c.n); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got[0] != c.outer {
			t.Fatalf("%s: tag %02X, want %02X", c.name, got[0], c.outer)
		}
		plain := got
		if security.IsCiphered(got[0]) {
			var err error
			if plain, _, err = security.Unwrap(nil, testKeys(), serverTitle, got); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		}
		if want := mustAppend(t, c.n); !bytes.Equal(plain, want) {
			t.Fatalf("%s: % X, want % X", c.name, plain, want)
		}
	}
	if err := d.Push(ctx, &memTransport{sent: func([]byte) {}}, PushPolicy{}, &apdu.GetRequestNext{}); err == nil {
		t.Fatal("a GET request pushed")
	}
}
