package server

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/obis"
)

// Signing is a device's trust in signed requests: general-signing APDUs
// (suite 1, ECDSA P-256 over SHA-256) from an originator whose public
// key the device was provisioned with. A request that verifies is served
// with cosem.ProtSigned in its Caller; the requests Required names are
// refused without it.
type Signing struct {
	// Keys returns the public keys trusted now. Replacing the set revokes
	// the keys left out: their signatures no longer verify.
	Keys func() []*ecdsa.PublicKey
	// Accept is given the originator counter (the transaction-id) of a
	// request whose signature verified. It refuses, wrapping
	// ErrSignedReplay, a counter not strictly above the last one it
	// accepted, and otherwise stores it durably before returning nil.
	Accept func(counter uint64) error
	// Required reports whether a method (action true) or attribute write
	// of an object must arrive signed; nil requires nothing.
	Required func(classID uint16, ln obis.Code, action bool, index int8) bool
}

// ErrSignedReplay is wrapped by Signing.Accept for a counter at or below
// the last one accepted.
var ErrSignedReplay = errors.New("server: originator counter not above the last accepted")

// TransactionIDSize is the size of the originator counter carried as the
// transaction-id of a signed request.
const TransactionIDSize = 8

// Security events of signed requests.
const (
	// EventUnsigned: a request that must be signed arrived without a
	// valid signature.
	EventUnsigned SecurityEvent = iota + 64
	// EventSignatureInvalid: a general-signing APDU did not verify under
	// any trusted key, or was malformed or addressed to another device.
	EventSignatureInvalid
	// EventSignedReplay: a signed request's originator counter was not
	// above the last one accepted.
	EventSignedReplay
)

var signingEventNames = map[SecurityEvent]string{
	EventUnsigned:         "unsigned-request",
	EventSignatureInvalid: "signature-invalid",
	EventSignedReplay:     "signed-replay",
}

// signed is the outcome of a verified general-signing APDU.
type signed struct {
	counter uint64
}

// verifySigned checks a general-signing APDU and returns its content. A
// non-nil response means the request is refused with it, its event
// raised.
func (s *session) verifySigned(in []byte) ([]byte, *signed, []byte, error) {
	sg := s.d.Signing
	refuse := func(ev SecurityEvent, why error) ([]byte, *signed, []byte, error) {
		s.d.log().Debug("signed request refused", "err", why, "client_sap", s.sap)
		s.d.event(ev, s.sap)
		resp, err := s.exception(apdu.StateServiceNotAllowed, apdu.ServiceDecipheringError)
		return nil, nil, resp, err
	}
	if sg == nil || sg.Keys == nil {
		// Not provisioned: nothing to verify with.
		resp, err := s.exception(apdu.StateServiceUnknown, apdu.ServiceNotSupported)
		return nil, nil, resp, err
	}
	g, err := security.ParseGeneralSigning(in)
	if err != nil {
		return refuse(EventSignatureInvalid, err)
	}
	switch {
	case len(g.TransactionID) != TransactionIDSize:
		return refuse(EventSignatureInvalid, fmt.Errorf("transaction-id of %d bytes, want %d", len(g.TransactionID), TransactionIDSize))
	case !bytes.Equal(g.Recipient, s.d.SystemTitle):
		return refuse(EventSignatureInvalid, fmt.Errorf("recipient system title % X is not this device's", g.Recipient))
	case s.clientST != nil && !bytes.Equal(g.Originator, s.clientST):
		return refuse(EventSignatureInvalid, fmt.Errorf("originator system title % X is not the client's", g.Originator))
	case len(g.Content) == 0 || g.Content[0] == security.TagGeneralSigning:
		return refuse(EventSignatureInvalid, errors.New("empty or nested signed content"))
	}
	verified := false
	data := g.SignedData()
	for _, k := range sg.Keys() {
		if security.Verify(k, data, g.Signature) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return refuse(EventSignatureInvalid, errors.New("signature verifies under no trusted key"))
	}
	n := binary.BigEndian.Uint64(g.TransactionID)
	if sg.Accept != nil {
		if err := sg.Accept(n); err != nil {
			ev := EventSignedReplay
			if !errors.Is(err, ErrSignedReplay) {
				// Not stored durably: refuse rather than risk a reuse.
				s.d.log().Error("storing originator counter", "err", err, "client_sap", s.sap)
				ev = EventSignatureInvalid
			}
			s.d.log().Debug("signed request refused", "err", err, "client_sap", s.sap)
			s.d.event(ev, s.sap)
			resp, rerr := s.exception(apdu.StateServiceNotAllowed, apdu.ServiceOperationNotPossible)
			return nil, nil, resp, rerr
		}
	}
	return g.Content, &signed{counter: n}, nil, nil
}

// unsigned reports whether a request must be refused for want of a
// signature, raising the event when it is.
func (s *session) unsigned(c cosem.Caller, classID uint16, ln [6]byte, action bool, index int8) bool {
	sg := s.d.Signing
	if sg == nil || sg.Required == nil || c.Signed() || !sg.Required(classID, obis.Code(ln), action, index) {
		return false
	}
	s.d.event(EventUnsigned, s.sap)
	return true
}
