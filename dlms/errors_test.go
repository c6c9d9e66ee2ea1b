package dlms

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/hdlc"
)

// script is a Transport whose answers come from a function of the request,
// for exchanges no trace recorded.
type script struct {
	mu      sync.Mutex
	serve   func(req []byte) ([]byte, error)
	sent    [][]byte
	pending [][]byte
	disc    int
}

func (s *script) Send(_ context.Context, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, bytes.Clone(b))
	resp, err := s.serve(b)
	if err != nil {
		return err
	}
	s.pending = append(s.pending, resp)
	return nil
}

func (s *script) Recv(context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) == 0 {
		return nil, io.EOF
	}
	r := s.pending[0]
	s.pending = s.pending[1:]
	return r, nil
}

func (s *script) Close() error { return nil }

func (s *script) Disconnect(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disc++
	return nil
}

func enc(t testing.TB, a apdu.APDU) []byte {
	t.Helper()
	b, err := apdu.Append(nil, a)
	if err != nil {
		t.Fatalf("encode %s: %v", a.Kind(), err)
	}
	return b
}

// plainAARE accepts an unciphered association with the given server
// conformance and receive PDU size.
func plainAARE(t testing.TB, conf apdu.Conformance, maxPDU uint16) []byte {
	ir := enc(t, &apdu.InitiateResponse{DLMSVersion: 6, Conformance: conf, ServerMaxReceivePDUSize: maxPDU, VAAName: apdu.VAANameLN})
	return enc(t, &apdu.AARE{ApplicationContext: apdu.ContextLN, Result: apdu.ResultAccepted, UserInformation: ir})
}

const serverConformance = apdu.Conformance(0x001E1D)

// associated returns a public client associated over s, whose first
// answer (to the AARQ) is an AARE with server PDU size maxPDU.
func associated(t *testing.T, s *script, maxPDU uint16, o Options) *Client {
	t.Helper()
	serve := s.serve
	first := true
	s.serve = func(req []byte) ([]byte, error) {
		if first {
			first = false
			return plainAARE(t, serverConformance, maxPDU), nil
		}
		return serve(req)
	}
	c, err := NewClient(s, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Associate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func getResult(r apdu.GetDataResult) []byte {
	b, _ := apdu.Append(nil, &apdu.GetResponseNormal{InvokeID: 0xC1, Result: r})
	return b
}

func TestDataAccessErrors(t *testing.T) {
	cases := []struct {
		result    apdu.DataAccessResult
		sentinel  error
		otherwise error
	}{
		{apdu.ReadWriteDenied, ErrAccessDenied, ErrObjectUndefined},
		{apdu.ScopeOfAccessViolated, ErrAccessDenied, ErrObjectUndefined},
		{apdu.ObjectUndefined, ErrObjectUndefined, ErrAccessDenied},
		{apdu.ObjectClassInconsistent, ErrObjectUndefined, ErrAccessDenied},
		{apdu.TemporaryFailure, nil, ErrAccessDenied},
	}
	for _, tc := range cases {
		t.Run(tc.result.String(), func(t *testing.T) {
			s := &script{serve: func([]byte) ([]byte, error) { return getResult(apdu.ResultError(tc.result)), nil }}
			c := associated(t, s, 512, Options{Name: "10.0.0.7:4059"})
			_, err := c.Get(context.Background(), registerValue, nil)
			var dae *DataAccessError
			if !errors.As(err, &dae) || dae.Result != tc.result || dae.Attr != registerValue {
				t.Fatalf("error %v, want DataAccessError %s", err, tc.result)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("%v does not match %v", err, tc.sentinel)
			}
			if errors.Is(err, tc.otherwise) {
				t.Errorf("%v matches %v", err, tc.otherwise)
			}
			for _, part := range []string{"10.0.0.7:4059", "1.1.21.25.0.255", "/2", tc.result.String()} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("%q does not name %q", err, part)
				}
			}
		})
	}
}

func TestSetAndActionErrors(t *testing.T) {
	s := &script{serve: func(req []byte) ([]byte, error) {
		switch req[0] {
		case apdu.TagSetRequest:
			return enc(t, &apdu.SetResponseNormal{InvokeID: 0xC1, Result: apdu.ReadWriteDenied}), nil
		case apdu.TagActionRequest:
			return enc(t, &apdu.ActionResponseNormal{InvokeID: 0xC1, ActionResponseResult: apdu.ActionResponseResult{Result: apdu.ActionObjectUndefined}}), nil
		}
		return enc(t, &apdu.ExceptionResponse{StateError: apdu.StateServiceNotAllowed, ServiceError: apdu.ServiceNotSupported}), nil
	}}
	c := associated(t, s, 512, Options{})
	ctx := context.Background()
	err := c.Set(ctx, clockTime, axdr.OctetString(make([]byte, 12)))
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "0.0.1.0.0.255") {
		t.Errorf("set: %v", err)
	}
	m := Method{Class: 70, OBIS: disconnectLN, Method: 1}
	_, err = c.Action(ctx, m, axdr.Int8(0))
	var ae *ActionError
	if !errors.As(err, &ae) || ae.Method != m || !errors.Is(err, ErrObjectUndefined) || !strings.Contains(err.Error(), "0.0.96.3.10.255") {
		t.Errorf("action: %v", err)
	}
	_, err = c.GetList(ctx, []Attr{clockTime, registerValue})
	var ee *ExceptionError
	if !errors.As(err, &ee) || ee.ServiceError != apdu.ServiceNotSupported {
		t.Errorf("get list: %v", err)
	}
}

func TestAssociationRejected(t *testing.T) {
	cases := []struct {
		diag apdu.Diagnostic
		auth bool
	}{
		{apdu.Diagnostic{Source: apdu.DiagnosticServiceUser, Value: apdu.DiagnosticAuthenticationFailure}, true},
		{apdu.Diagnostic{Source: apdu.DiagnosticServiceUser, Value: apdu.DiagnosticApplicationContextNameNotSupported}, false},
		{apdu.Diagnostic{Source: apdu.DiagnosticServiceProvider, Value: 2}, false},
	}
	for _, tc := range cases {
		aare := enc(t, &apdu.AARE{ApplicationContext: apdu.ContextLN, Result: apdu.ResultRejectedPermanent, Diagnostic: tc.diag})
		s := &script{serve: func([]byte) ([]byte, error) { return aare, nil }}
		c, err := NewClient(s, Options{ClientSAP: 17, Authentication: security.MechanismLLS, Password: NewSecret([]byte("wrong")), Name: "m1"})
		if err != nil {
			t.Fatal(err)
		}
		err = c.Associate(context.Background())
		var ae *AssociationError
		if !errors.As(err, &ae) || !errors.Is(err, ErrAssociationRejected) || errors.Is(err, ErrAuthenticationFailed) != tc.auth {
			t.Errorf("diagnostic %+v: %v", tc.diag, err)
		}
		if _, err := c.Get(context.Background(), clockTime, nil); !errors.Is(err, ErrNotAssociated) {
			t.Errorf("get after rejection: %v", err)
		}
	}
	// An InitiateRequest refused inside an accepted-looking AARE.
	cse := enc(t, &apdu.ConfirmedServiceError{Service: apdu.ServiceInitiateError, ErrorType: apdu.ErrorTypeInitiate, Value: apdu.InitiatePDUSizeTooShort})
	aare := enc(t, &apdu.AARE{ApplicationContext: apdu.ContextLN, Result: apdu.ResultAccepted, UserInformation: cse})
	c, _ := NewClient(&script{serve: func([]byte) ([]byte, error) { return aare, nil }}, Options{})
	var ce *ConfirmedServiceError
	if err := c.Associate(context.Background()); !errors.As(err, &ce) || ce.Value != apdu.InitiatePDUSizeTooShort || !errors.Is(err, ErrAssociationRejected) {
		t.Errorf("confirmed-service-error: %v", err)
	}
}

// TestReplayedResponse answers the second GET with the first GET's
// protected response again.
func TestReplayedResponse(t *testing.T) {
	tr := loadTrace(t, "04")
	// Association 1 (6 APDUs: AARE, IC, RLRE), association 2: AARE,
	// action response, then the clock response twice.
	answers := append([][]byte{}, tr.sc[:5]...)
	answers = append(answers, tr.sc[5], tr.sc[5])
	c, err := NewClient(newReplay(answers...), tr.options(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Associate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, clockTime, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(ctx, registerValue, nil)
	if !errors.Is(err, ErrReplay) || !strings.Contains(err.Error(), "1.1.21.25.0.255") {
		t.Errorf("replayed response: %v", err)
	}
}

// TestWrongServerHLSResponse changes CtoS, so the recorded f(CtoS) no
// longer verifies.
func TestWrongServerHLSResponse(t *testing.T) {
	tr := loadTrace(t, "04")
	o := tr.options(t)
	o.Challenge = bytes.Repeat([]byte{0x5A}, 16)
	c, err := NewClient(newReplay(tr.sc...), o)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Associate(context.Background())
	if !errors.Is(err, ErrAuthenticationFailed) || !strings.Contains(err.Error(), "0.0.40.0.0.255") {
		t.Fatalf("associate: %v", err)
	}
	if _, err := c.Get(context.Background(), clockTime, nil); !errors.Is(err, ErrNotAssociated) {
		t.Errorf("get after failed HLS: %v", err)
	}
}

func TestTimeoutAndPeerClosed(t *testing.T) {
	tr := loadTrace(t, "01")
	associated := func() (*Client, *replay) {
		t.Helper()
		rp := newReplay(tr.sc[0])
		c, err := NewClient(rp, tr.options(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Associate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return c, rp
	}
	c, rp := associated()
	rp.mu.Lock()
	rp.block = true
	rp.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err := c.Get(ctx, clockTime, nil)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrPeerClosed) || !errors.Is(err, ErrLinkDropped) {
		t.Errorf("deadline: %v", err)
	}
	// A late answer must not be taken for the next request's: the client
	// refuses to go on without sending anything.
	rp.mu.Lock()
	rp.block = false
	sent := len(rp.sent)
	rp.mu.Unlock()
	if _, err = c.Get(context.Background(), clockTime, nil); !errors.Is(err, ErrLinkDropped) || len(rp.sent) != sent {
		t.Errorf("after a time-out: %v, %d more requests sent", err, len(rp.sent)-sent)
	}
	if err := c.Release(context.Background()); err != nil || len(rp.sent) != sent {
		t.Errorf("release after a time-out: %v, %d more requests sent", err, len(rp.sent)-sent)
	}

	c, _ = associated()
	_, err = c.Get(context.Background(), clockTime, nil)
	if !errors.Is(err, ErrPeerClosed) || !errors.Is(err, io.EOF) || !errors.Is(err, ErrLinkDropped) || !strings.Contains(err.Error(), "0.0.1.0.0.255") {
		t.Errorf("EOF: %v", err)
	}
	c, rp = associated()
	rp.recvErr = fmt.Errorf("link: %w", hdlc.ErrDM)
	if _, err = c.Get(context.Background(), clockTime, nil); !errors.Is(err, ErrPeerClosed) {
		t.Errorf("DM: %v", err)
	}
	// A timeout from the client's own bound, not the caller's context.
	c, rp = associated()
	c.o.Timeout = time.Millisecond
	rp.block = true
	if _, err = c.Get(context.Background(), clockTime, nil); !errors.Is(err, ErrTimeout) {
		t.Errorf("option timeout: %v", err)
	}
	// A refusal is not a dropped link.
	if errors.Is(&DataAccessError{Result: apdu.ReadWriteDenied}, ErrLinkDropped) || errors.Is(&ExceptionError{}, ErrLinkDropped) {
		t.Error("a refusal matches ErrLinkDropped")
	}
}

func block(n uint32, last bool, raw []byte) []byte {
	b, _ := apdu.Append(nil, &apdu.GetResponseWithDataBlock{InvokeID: 0xC1, Block: apdu.DataBlockG{LastBlock: last, BlockNumber: n, Raw: raw}})
	return b
}

// TestBlockNumberSkip: block 1 then block 3 fails, and the next GET starts
// a fresh transfer whose block 1 is accepted again.
func TestBlockNumberSkip(t *testing.T) {
	value := axdr.Encode(axdr.OctetString(bytes.Repeat([]byte{7}, 40)))
	var answers [][]byte
	answers = append(answers, block(1, false, value[:20]), block(3, true, value[20:]))
	answers = append(answers, block(1, false, value[:20]), block(2, true, value[20:]))
	s := &script{serve: func([]byte) ([]byte, error) {
		a := answers[0]
		answers = answers[1:]
		return a, nil
	}}
	c := associated(t, s, 512, Options{})
	ctx := context.Background()
	_, err := c.Get(ctx, registerValue, nil)
	if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "block number 3, expected 2") {
		t.Fatalf("skipped block: %v", err)
	}
	d, err := c.Get(ctx, registerValue, nil)
	if err != nil || len(d.Bytes) != 40 {
		t.Fatalf("next get: %v %s", err, d)
	}
	// The second transfer asked for block 1 after block 1 only.
	next := s.sent[len(s.sent)-1]
	if !bytes.Equal(next, []byte{0xC0, 0x02, 0xC1, 0, 0, 0, 1}) {
		t.Errorf("GET-request-next %X", next)
	}
}

// TestLongSet sends a value longer than the server PDU size in blocks.
func TestLongSet(t *testing.T) {
	const maxPDU = 64
	value := axdr.OctetString(bytes.Repeat([]byte{0xA5}, 200))
	var raw []byte
	var blocks int
	s := &script{}
	s.serve = func(req []byte) ([]byte, error) {
		if len(req) > maxPDU {
			t.Errorf("request of %d bytes over the server PDU size", len(req))
		}
		a, err := apdu.Decode(req)
		if err != nil {
			return nil, err
		}
		var b apdu.DataBlockSA
		switch r := a.(type) {
		case *apdu.SetRequestWithFirstDataBlock:
			if r.Attribute.InstanceID != clockLN {
				t.Errorf("first block for %v", r.Attribute)
			}
			b = r.Block
		case *apdu.SetRequestWithDataBlock:
			b = r.Block
		default:
			t.Fatalf("unexpected %s", a.Kind())
		}
		blocks++
		if b.BlockNumber != uint32(blocks) {
			t.Errorf("block %d numbered %d", blocks, b.BlockNumber)
		}
		raw = append(raw, b.Raw...)
		if b.LastBlock {
			return enc(t, &apdu.SetResponseLastDataBlock{InvokeID: 0xC1, Result: apdu.Success, BlockNumber: b.BlockNumber}), nil
		}
		return enc(t, &apdu.SetResponseDataBlock{InvokeID: 0xC1, BlockNumber: b.BlockNumber}), nil
	}
	c := associated(t, s, maxPDU, Options{})
	if err := c.Set(context.Background(), clockTime, value); err != nil {
		t.Fatal(err)
	}
	if blocks < 4 || !bytes.Equal(raw, axdr.Encode(value)) {
		t.Errorf("%d blocks reassembled to %X", blocks, raw)
	}
}

// TestLongAction sends a long parameter in pblocks and fetches a long
// answer with ACTION-request-next-pblock.
func TestLongAction(t *testing.T) {
	const maxPDU = 80
	param := axdr.OctetString(bytes.Repeat([]byte{1}, 150))
	ret := axdr.Encode(axdr.OctetString(bytes.Repeat([]byte{2}, 100)))
	var raw []byte
	s := &script{}
	s.serve = func(req []byte) ([]byte, error) {
		a, err := apdu.Decode(req)
		if err != nil {
			return nil, err
		}
		var b apdu.DataBlockSA
		switch r := a.(type) {
		case *apdu.ActionRequestWithFirstPBlock:
			b = r.Block
		case *apdu.ActionRequestWithPBlock:
			b = r.Block
		case *apdu.ActionRequestNextPBlock:
			return enc(t, &apdu.ActionResponseWithPBlock{InvokeID: 0xC1, Block: apdu.DataBlockSA{LastBlock: true, BlockNumber: r.BlockNumber + 1, Raw: ret[50:]}}), nil
		default:
			t.Fatalf("unexpected %s", a.Kind())
		}
		raw = append(raw, b.Raw...)
		if b.LastBlock {
			return enc(t, &apdu.ActionResponseWithPBlock{InvokeID: 0xC1, Block: apdu.DataBlockSA{BlockNumber: 1, Raw: ret[:50]}}), nil
		}
		return enc(t, &apdu.ActionResponseNextPBlock{InvokeID: 0xC1, BlockNumber: b.BlockNumber}), nil
	}
	c := associated(t, s, maxPDU, Options{})
	d, err := c.Action(context.Background(), Method{Class: 18, OBIS: [6]byte{0, 0, 44, 0, 0, 255}, Method: 2}, param)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, axdr.Encode(param)) || !bytes.Equal(axdr.Encode(d), ret) {
		t.Errorf("parameter %X, return %s", raw, d)
	}
}

func TestGetListAndSetList(t *testing.T) {
	s := &script{}
	s.serve = func(req []byte) ([]byte, error) {
		a, err := apdu.Decode(req)
		if err != nil {
			return nil, err
		}
		switch r := a.(type) {
		case *apdu.GetRequestWithList:
			if len(r.Attributes) != 2 {
				t.Errorf("%d attributes", len(r.Attributes))
			}
			// Answer as a long GET, to exercise the result list parser.
			raw := []byte{2, 0, 0x12, 0, 9, 1, byte(apdu.ObjectUndefined)}
			return block(1, true, raw), nil
		case *apdu.SetRequestWithList:
			return enc(t, &apdu.SetResponseWithList{InvokeID: 0xC1, Results: []apdu.DataAccessResult{apdu.Success, apdu.ReadWriteDenied}}), nil
		case *apdu.RLRQ:
			return enc(t, &apdu.RLRE{Reason: apdu.ReleaseNormal, HasReason: true}), nil
		}
		return nil, fmt.Errorf("unexpected %s", a.Kind())
	}
	c := associated(t, s, 512, Options{Link: LinkWrapper})
	ctx := context.Background()
	res, err := c.GetList(ctx, []Attr{registerValue, clockTime})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := res[0].Data.Uint(); v != 9 || res[0].Err != nil || !errors.Is(res[1].Err, ErrObjectUndefined) {
		t.Errorf("results %+v", res)
	}
	errs, err := c.SetList(ctx, []Attr{registerValue, clockTime}, []axdr.Data{axdr.Uint16(1), axdr.Uint16(2)})
	if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrAccessDenied) {
		t.Errorf("set list: %v %v", errs, err)
	}
	if err := c.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if s.disc != 0 {
		t.Errorf("wrapper release disconnected the link")
	}
	if _, err := c.Get(ctx, clockTime, nil); !errors.Is(err, ErrNotAssociated) {
		t.Errorf("get after release: %v", err)
	}
}

// TestHDLCRelease: an unciphered HDLC association ends with DISC only.
func TestHDLCRelease(t *testing.T) {
	s := &script{serve: func(req []byte) ([]byte, error) { return nil, fmt.Errorf("unexpected %X", req) }}
	c := associated(t, s, 512, Options{Link: LinkHDLC})
	if err := c.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(s.sent) != 1 || s.disc != 1 {
		t.Errorf("sent %d APDUs, %d DISC", len(s.sent), s.disc)
	}
}

func TestOptionsValidate(t *testing.T) {
	cases := []Options{
		{Authentication: security.MechanismLLS},
		{Policy: security.PolicyAuthenticatedEncrypted},
		{Authentication: security.MechanismHLSGMAC, SystemTitle: make([]byte, 8)},
		{Authentication: security.MechanismHLSECDSA, SystemTitle: make([]byte, 8)},
		{Challenge: []byte{1, 2}},
		{Link: LinkHDLC, ClientSAP: 200},
	}
	for i, o := range cases {
		if _, err := NewClient(&script{}, o); err == nil {
			t.Errorf("case %d: accepted", i)
		}
	}
}

func TestSecretRedacted(t *testing.T) {
	o := Options{Password: NewSecret([]byte("Gurux"))}
	for _, s := range []string{fmt.Sprintf("%v", o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o), fmt.Sprintf("%x", o.Password)} {
		if strings.Contains(s, "Gurux") || strings.Contains(s, "4775727578") {
			t.Errorf("secret leaked: %s", s)
		}
	}
	if string(o.Password.Bytes()) != "Gurux" {
		t.Error("Bytes lost the secret")
	}
}

// TestHLSMechanisms runs HLS-SHA256 and HLS-ECDSA against a scripted
// server that checks the client's pass 3 and answers pass 4, then once more
// with a server answer that does not verify.
func TestHLSMechanisms(t *testing.T) {
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("hls-secret")
	serverST := []byte("SRV00001")
	stoc := bytes.Repeat([]byte{0x33}, 32)
	for _, auth := range []security.Mechanism{security.MechanismHLSSHA256, security.MechanismHLSECDSA} {
		for _, corrupt := range []bool{false, true} {
			var ex security.Exchange
			s := &script{}
			s.serve = func(req []byte) ([]byte, error) {
				a, err := apdu.Decode(req)
				if err != nil {
					return nil, err
				}
				switch r := a.(type) {
				case *apdu.AARQ:
					ex = security.Exchange{ClientSystemTitle: r.CallingAPTitle, ServerSystemTitle: serverST, CtoS: r.CallingAuthenticationValue, StoC: stoc}
					ir := enc(t, &apdu.InitiateResponse{DLMSVersion: 6, Conformance: serverConformance, ServerMaxReceivePDUSize: 1024, VAAName: apdu.VAANameLN})
					return enc(t, &apdu.AARE{
						ApplicationContext: apdu.ContextLN, Result: apdu.ResultAccepted,
						Diagnostic:        apdu.Diagnostic{Value: apdu.DiagnosticAuthenticationRequired},
						RespondingAPTitle: serverST, ResponderACSERequirements: apdu.AuthenticationRequirement(),
						MechanismName: apdu.Mechanism(auth), HasMechanismName: true,
						RespondingAuthenticationValue: stoc, UserInformation: ir,
					}), nil
				case *apdu.ActionRequestNormal:
					f := r.Parameters.Bytes
					var reply []byte
					if auth == security.MechanismHLSSHA256 {
						if err := ex.VerifySHA256Response(security.Client, secret, f); err != nil {
							t.Errorf("client pass 3: %v", err)
						}
						reply, err = ex.SHA256Response(security.Server, secret)
					} else {
						if err := ex.VerifyECDSAResponse(security.Client, &clientKey.PublicKey, f); err != nil {
							t.Errorf("client pass 3: %v", err)
						}
						reply, err = ex.ECDSAResponse(security.Server, serverKey)
					}
					if err != nil {
						return nil, err
					}
					if corrupt {
						reply[0] ^= 1
					}
					ret := apdu.ResultData(axdr.OctetString(reply))
					return enc(t, &apdu.ActionResponseNormal{InvokeID: 0xC1, ActionResponseResult: apdu.ActionResponseResult{ReturnParameters: &ret}}), nil
				}
				return nil, fmt.Errorf("unexpected %s", a.Kind())
			}
			o := Options{ClientSAP: 1, Authentication: auth, SystemTitle: []byte("CLI00001"),
				Password: NewSecret(secret), SigningKey: clientKey, ServerPublicKey: &serverKey.PublicKey, Suite: security.Suite1}
			c, err := NewClient(s, o)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Associate(context.Background())
			switch {
			case corrupt && !errors.Is(err, ErrAuthenticationFailed):
				t.Errorf("%s with a bad server response: %v", auth, err)
			case !corrupt && err != nil:
				t.Errorf("%s: %v", auth, err)
			}
		}
	}
}
