package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
)

// dlmsVersion is the only xDLMS version served.
const dlmsVersion = 6

// minClientPDU is the smallest client-max-receive-pdu-size accepted.
const minClientPDU = 64

// aarq answers an association request. Whatever the outcome, the previous
// association of the connection is gone.
func (s *session) aarq(ctx context.Context, in []byte) ([]byte, error) {
	s.reset()
	dec, err := apdu.Decode(in)
	if err != nil {
		// Not even the application context can be read back: there is no
		// AARE to build.
		s.d.log().Debug("undecodable AARQ", "err", err)
		return nil, fmt.Errorf("%w: %w", errAbort, err)
	}
	q := dec.(*apdu.AARQ)
	sap := s.peer.sap()
	a := s.d.association(sap)
	aare := &apdu.AARE{ApplicationContext: q.ApplicationContext}
	if a == nil {
		return s.reject(aare, apdu.ResultRejectedPermanent, apdu.DiagnosticNoReasonGiven, nil)
	}
	want := apdu.ContextLN
	if a.ciphered() {
		want = apdu.ContextLNCiphered
	}
	if q.ApplicationContext != want {
		aare.ApplicationContext = want
		return s.reject(aare, apdu.ResultRejectedPermanent, apdu.DiagnosticApplicationContextNameNotSupported, nil)
	}
	var mech security.Mechanism
	if q.HasMechanismName {
		mech = security.Mechanism(q.MechanismName)
	}
	if mech != a.Authentication {
		diag := uint8(apdu.DiagnosticAuthenticationMechanismNameNotRecognised)
		if !q.HasMechanismName {
			diag = apdu.DiagnosticAuthenticationMechanismNameRequired
		}
		return s.reject(aare, apdu.ResultRejectedPermanent, diag, nil)
	}
	if a.Authentication == security.MechanismLLS && s.d.lockedOut(sap) {
		s.d.event(EventLockedOut, sap)
		return s.reject(aare, apdu.ResultRejectedTransient, apdu.DiagnosticAuthenticationFailure, nil)
	}
	// From here on the session knows whom it talks to: ciphering the
	// InitiateRequest needs the client's keys and title.
	s.a, s.sap, s.keys = a, sap, a.Keys
	if a.ciphered() || a.Authentication.IsHLS() {
		if len(q.CallingAPTitle) != security.SystemTitleSize {
			return s.reject(aare, apdu.ResultRejectedPermanent, apdu.DiagnosticCallingAPTitleNotRecognized, nil)
		}
		s.clientST = append([]byte(nil), q.CallingAPTitle...)
	}

	ir, prot, resp, err := s.openInitiate(q.UserInformation, aare)
	if resp != nil || err != nil {
		return resp, err
	}
	if a.ciphered() && !prot.ciphered {
		// The InitiateRequest may carry a dedicated key; it never
		// travels in clear under a ciphering policy.
		return s.reject(aare, apdu.ResultRejectedPermanent, apdu.DiagnosticNoReasonGiven, nil)
	}
	if ir.DedicatedKey != nil {
		k, err := security.NewKey(ir.DedicatedKey)
		if err != nil || !prot.ciphered {
			return s.rejectInitiate(aare, apdu.InitiateOther, prot)
		}
		s.keys.Dedicated = k
		s.dedicated = true
	}
	if ir.DLMSVersion < dlmsVersion {
		return s.rejectInitiate(aare, apdu.InitiateDLMSVersionTooLow, prot)
	}
	conf := ir.Conformance & a.conformance()
	if conf == 0 {
		return s.rejectInitiate(aare, apdu.InitiateIncompatibleConformance, prot)
	}
	clientMax := int(ir.ClientMaxReceivePDUSize)
	if clientMax == 0 {
		clientMax = 0xFFFF
	}
	if clientMax < minClientPDU {
		return s.rejectInitiate(aare, apdu.InitiatePDUSizeTooShort, prot)
	}

	switch a.Authentication {
	case security.MechanismLLS:
		if !security.VerifyLLS(s.d.secret(a), q.CallingAuthenticationValue) {
			s.d.passwordFailed(sap)
			return s.reject(aare, apdu.ResultRejectedPermanent, apdu.DiagnosticAuthenticationFailure, nil)
		}
		s.d.passwordOK(sap)
	case security.MechanismHLSGMAC, security.MechanismHLSSHA256, security.MechanismHLSECDSA:
		ctos := q.CallingAuthenticationValue
		if len(ctos) < security.MinChallenge || len(ctos) > security.MaxChallenge {
			s.d.event(EventHLSFailure, sap)
			return s.reject(aare, apdu.ResultRejectedPermanent, apdu.DiagnosticAuthenticationFailure, nil)
		}
		n := 16
		if a.Authentication == security.MechanismHLSECDSA {
			n = 32
		}
		stoc, err := s.d.challenge(n)
		if err != nil {
			return nil, err
		}
		s.ctos, s.stoc = append([]byte(nil), ctos...), stoc
	}

	s.conf = conf
	s.limit = min(clientMax, int(a.maxPDU()))
	// Answers never exceed the limit (long ones go in blocks), so the
	// buffers are sized once per association.
	if n := s.limit + generalOverhead; cap(s.out) < n {
		s.out, s.wire = make([]byte, 0, n), make([]byte, 0, n+security.TagSize)
	}
	ui, err := s.initiateResponse(prot)
	if err != nil {
		return nil, err
	}
	aare.Result = apdu.ResultAccepted
	aare.UserInformation = ui
	if a.ciphered() || a.Authentication.IsHLS() {
		aare.RespondingAPTitle = s.d.SystemTitle
	}
	s.st = stAssociated
	if a.Authentication.IsHLS() {
		aare.Diagnostic.Value = apdu.DiagnosticAuthenticationRequired
		aare.ResponderACSERequirements = apdu.AuthenticationRequirement()
		aare.HasMechanismName, aare.MechanismName = true, apdu.Mechanism(a.Authentication)
		aare.RespondingAuthenticationValue = s.stoc
		s.st = stPending
	}
	s.current = s.currentAssociation(clientMax)
	return s.encodePlain(aare)
}

// openInitiate reads the xDLMS InitiateRequest of an AARQ or RLRQ, plain or
// ciphered. A non-nil response is the rejection to send.
func (s *session) openInitiate(ui []byte, aare *apdu.AARE) (*apdu.InitiateRequest, protection, []byte, error) {
	if len(ui) == 0 {
		resp, err := s.reject(aare, apdu.ResultRejectedPermanent, apdu.DiagnosticNoReasonGiven, nil)
		return nil, protection{}, resp, err
	}
	plain, prot := ui, protection{}
	if security.IsCiphered(ui[0]) {
		if !s.a.ciphered() {
			resp, err := s.reject(aare, apdu.ResultRejectedPermanent, apdu.DiagnosticApplicationContextNameNotSupported, nil)
			return nil, protection{}, resp, err
		}
		out, u, err := s.d.guard(s.a).Unwrap(s.in[:0], s.keys, s.clientST, ui)
		s.in = out[:0]
		if err == nil && u.Kind != security.Global {
			err = fmt.Errorf("%w: InitiateRequest under the dedicated key", security.ErrUnknownTag)
		}
		if err != nil {
			s.d.log().Debug("InitiateRequest refused", "err", err, "client_sap", s.sap)
			ev := EventDecipherFailure
			if errors.Is(err, security.ErrReplay) {
				ev = EventReplay
			}
			s.d.event(ev, s.sap)
			resp, err := s.rejectInitiate(aare, apdu.InitiateOther, protection{})
			return nil, protection{}, resp, err
		}
		s.persistIC(u.Header.IC)
		plain = out
		prot = protection{ciphered: true, kind: u.Kind, sc: u.Header.SC,
			general: u.Tag == security.TagGeneralGloCiphering}
	}
	dec, err := apdu.Decode(plain)
	ir, ok := dec.(*apdu.InitiateRequest)
	if err != nil || !ok {
		resp, err := s.rejectInitiate(aare, apdu.InitiateOther, prot)
		return nil, protection{}, resp, err
	}
	if need := s.a.Policy.Control(); prot.sc&need != need {
		s.d.event(EventUnprotected, s.sap)
		resp, err := s.reject(aare, apdu.ResultRejectedPermanent, apdu.DiagnosticNoReasonGiven, nil)
		return nil, protection{}, resp, err
	}
	return ir, prot, nil, nil
}

// initiateResponse encodes the negotiated InitiateResponse, ciphered like
// the request.
func (s *session) initiateResponse(p protection) ([]byte, error) {
	r := &apdu.InitiateResponse{DLMSVersion: dlmsVersion, Conformance: s.conf,
		ServerMaxReceivePDUSize: s.a.maxPDU(), VAAName: apdu.VAANameLN}
	plain, err := r.Append(nil)
	if err != nil {
		return nil, err
	}
	if !p.ciphered {
		return plain, nil
	}
	w, err := s.seal(plain, p)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), w...), nil
}

// reject answers with a refusing AARE and forgets the association.
func (s *session) reject(aare *apdu.AARE, r apdu.AssociationResult, diag uint8, ui []byte) ([]byte, error) {
	aare.Result = r
	aare.Diagnostic = apdu.Diagnostic{Source: apdu.DiagnosticServiceUser, Value: diag}
	aare.UserInformation = ui
	s.reset()
	return s.encodePlain(aare)
}

// rejectInitiate refuses the xDLMS part with a ConfirmedServiceError,
// ciphered like the InitiateRequest was.
func (s *session) rejectInitiate(aare *apdu.AARE, value uint8, p protection) ([]byte, error) {
	cse := &apdu.ConfirmedServiceError{Service: apdu.ServiceInitiateError, ErrorType: apdu.ErrorTypeInitiate, Value: value}
	ui, err := cse.Append(nil)
	if err != nil {
		return nil, err
	}
	if p.ciphered {
		w, err := s.seal(ui, p)
		if err != nil {
			return nil, err
		}
		ui = append([]byte(nil), w...)
	}
	return s.reject(aare, apdu.ResultRejectedPermanent, apdu.DiagnosticNoReasonGiven, ui)
}

// rlrq releases the association, protected (the RLRQ carries a ciphered
// InitiateRequest) or not.
func (s *session) rlrq(in []byte) ([]byte, error) {
	dec, err := apdu.Decode(in)
	if err != nil {
		return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceOtherReason)
	}
	q := dec.(*apdu.RLRQ)
	resp := &apdu.RLRE{HasReason: q.HasReason, Reason: apdu.ReleaseNormal}
	switch {
	case s.st == stIdle:
	case len(q.UserInformation) > 0 && security.IsCiphered(q.UserInformation[0]) && s.a.ciphered():
		aare := &apdu.AARE{ApplicationContext: apdu.ContextLNCiphered}
		_, prot, refused, err := s.openInitiate(q.UserInformation, aare)
		if refused != nil || err != nil {
			// openInitiate dropped the association; tell the client its
			// release request could not be taken apart.
			if err != nil {
				return nil, err
			}
			return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceDecipheringError)
		}
		ui, err := s.initiateResponse(prot)
		if err != nil {
			return nil, err
		}
		resp.UserInformation = ui
	case s.st == stAssociated && s.a.ciphered() && !s.a.AllowPlainRelease:
		return s.exception(apdu.StateServiceNotAllowed, apdu.ServiceNotSupported)
	}
	s.reset()
	return s.encodePlain(resp)
}

// replyHLS runs passes 3 and 4 of HLS: it checks the client's f(StoC) and
// answers f(CtoS). A wrong response ends the association.
func (s *session) replyHLS(ctx context.Context, r *apdu.ActionRequestNormal, p protection) ([]byte, error) {
	fail := func() ([]byte, error) {
		s.d.event(EventHLSFailure, s.sap)
		resp, err := s.respond(&apdu.ActionResponseNormal{InvokeID: r.InvokeID,
			ActionResponseResult: apdu.ActionResponseResult{Result: apdu.ActionReadWriteDenied}}, p)
		s.reset()
		return resp, err
	}
	if r.Parameters == nil || r.Parameters.Tag != axdr.TagOctetString {
		return fail()
	}
	f := r.Parameters.Bytes
	ex := security.Exchange{ClientSystemTitle: s.clientST, ServerSystemTitle: s.d.SystemTitle, CtoS: s.ctos, StoC: s.stoc}
	var reply []byte
	var err error
	switch s.a.Authentication {
	case security.MechanismHLSGMAC:
		if _, err = ex.VerifyGMACResponse(security.Client, s.keys, f); err == nil {
			var ic uint32
			if ic, err = s.d.counter().Next(); err != nil {
				return nil, fmt.Errorf("server: %w", err)
			}
			reply, err = ex.GMACResponse(security.Server, s.a.Suite, s.keys, ic)
		}
	case security.MechanismHLSSHA256:
		secret := s.d.secret(s.a)
		if err = ex.VerifySHA256Response(security.Client, secret, f); err == nil {
			reply, err = ex.SHA256Response(security.Server, secret)
		}
	case security.MechanismHLSECDSA:
		if err = ex.VerifyECDSAResponse(security.Client, s.a.ClientPublicKey, f); err == nil {
			reply, err = ex.ECDSAResponse(security.Server, s.a.SigningKey)
		}
	default:
		err = errors.New("no HLS mechanism")
	}
	if err != nil {
		s.d.log().Debug("HLS response refused", "err", err, "client_sap", s.sap)
		return fail()
	}
	s.st = stAssociated
	ret := apdu.ResultData(axdr.OctetString(reply))
	return s.respond(&apdu.ActionResponseNormal{InvokeID: r.InvokeID,
		ActionResponseResult: apdu.ActionResponseResult{Result: apdu.ActionSuccess, ReturnParameters: &ret}}, p)
}

// currentAssociation builds the association object 0.0.40.0.0.255 as this
// client sees it.
func (s *session) currentAssociation(clientMax int) *objects.AssociationLN {
	a := s.a
	o := objects.NewAssociationLN(cosem.CurrentAssociation, s.d.Tree, a.rights(), int8(a.ClientSAP), s.d.Address,
		a.Authentication)
	o.ApplicationContext = security.ContextLN.Name()
	if a.ciphered() {
		o.ApplicationContext = security.ContextLNCiphering.Name()
	}
	o.Context = cosem.XDLMSContext{Conformance: uint32(s.conf), MaxReceivePDU: a.maxPDU(),
		MaxSendPDU: uint16(min(clientMax, 0xFFFF)), DLMSVersion: dlmsVersion}
	o.SecuritySetup = a.SecuritySetup
	sap := a.ClientSAP
	o.ChangeSecret = func(ctx context.Context, _ cosem.Caller, secret []byte) error {
		return s.d.changeSecret(ctx, sap, secret)
	}
	return o
}

// changeSecret applies change_HLS_secret or a SET of the LLS secret.
func (d *Device) changeSecret(_ context.Context, sap uint16, secret []byte) error {
	if d.ChangeSecret == nil {
		return cosem.Errorf(cosem.ResultReadWriteDenied, "secret changes are not enabled")
	}
	if len(secret) == 0 {
		return cosem.Errorf(cosem.ResultTypeUnmatched, "empty secret")
	}
	if err := d.ChangeSecret(sap, secret); err != nil {
		return err
	}
	d.setSecret(sap, secret)
	return nil
}
