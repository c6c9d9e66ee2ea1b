package openadr

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Fingerprint is the 2.0b fingerprint of a certificate (its DER bytes):
// the last 10 bytes of its SHA-256 hash, in upper-case hex, colon
// separated. A VEN's id is the fingerprint of its certificate, so that the
// TLS handshake already says which VEN is talking.
func Fingerprint(der []byte) string {
	h := sha256.Sum256(der)
	var b strings.Builder
	for i, c := range h[len(h)-10:] {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{c})))
	}
	return b.String()
}

// SameFingerprint compares two fingerprints as 2.0b does: hex digits in
// either case.
func SameFingerprint(a, b string) bool {
	return a != "" && strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// peerFingerprint is the fingerprint of the verified client certificate
// of a request; "" when the request came without one (plain HTTP, or a
// TLS server that did not verify it).
func peerFingerprint(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return ""
	}
	return Fingerprint(r.TLS.VerifiedChains[0][0].Raw)
}

// ServerTLS is the TLS a VTN is served with: its certificate, and VENs'
// client certificates required and verified against the CAs of
// clientCAFile (PEM).
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("openadr: VTN certificate %s, key %s: %w", certFile, keyFile, err)
	}
	pool, err := loadPool(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("openadr: VENs' CA: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12, // 2.0b asks for TLS 1.2 at least
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}, nil
}

// ClientTLS is the TLS a VEN connects with: its certificate and key, and
// the CAs (PEM) its VTN's certificate is verified against (empty: the
// system's). It returns the certificate's fingerprint too, the VEN's id
// unless one is configured.
func ClientTLS(certFile, keyFile, caFile string) (*tls.Config, string, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, "", fmt.Errorf("openadr: VEN certificate %s, key %s: %w", certFile, keyFile, err)
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if caFile != "" {
		if c.RootCAs, err = loadPool(caFile); err != nil {
			return nil, "", fmt.Errorf("openadr: VTN's CA: %w", err)
		}
	}
	return c, Fingerprint(cert.Certificate[0]), nil
}

func loadPool(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, errors.New("no CA file")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// CanonicalVENID writes a VEN id that is a fingerprint in upper case, so
// that a VEN writing its id in lower case is the same VEN; other ids are
// returned as they are.
func CanonicalVENID(id string) string {
	if len(id) != 29 {
		return id
	}
	for i, c := range id {
		switch {
		case i%3 == 2:
			if c != ':' {
				return id
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return id
		}
	}
	return strings.ToUpper(id)
}

// mayUse says whether the holder of the certificate fp may speak as
// venID: the id bound to it by Fingerprints, or its own fingerprint.
func (v *VTN) mayUse(venID, fp string) bool {
	if bound, ok := v.Fingerprints[venID]; ok {
		return SameFingerprint(bound, fp)
	}
	return SameFingerprint(venID, fp)
}

// idOf is the VEN id a certificate registers as when it names none: the
// name bound to it, else its fingerprint.
func (v *VTN) idOf(fp string) string {
	for name, bound := range v.Fingerprints {
		if SameFingerprint(bound, fp) {
			return name
		}
	}
	return fp
}

// authorize refuses a message that speaks for a VEN other than the one of
// the client certificate, before anything of it is acted on. The refusal
// is 452 (invalid ID): the VEN id, or the registration, is not one this
// client may use.
func (v *VTN) authorize(m Message, fp string) Message {
	venID, regID, requestID := claims(m)
	if venID == "" && regID != "" {
		v.mu.Lock()
		venID = v.byReg[regID]
		v.mu.Unlock()
	}
	if venID == "" || v.mayUse(venID, fp) {
		return nil
	}
	v.logf("openadr: VEN id refused for its certificate", "vtn", v.ID, "ven", venID, "certificate", fp, "message", m.oadrName())
	return errResponse(requestID, CodeInvalidID, fmt.Sprintf("VEN %q is not the VEN of this client certificate (fingerprint %s)", venID, fp), "")
}

// claims is the VEN id, registration id and request id a message names.
func claims(m Message) (venID, regID, requestID string) {
	switch m := m.(type) {
	case *CreatePartyRegistration:
		return m.VENID, m.RegistrationID, m.RequestID
	case *CancelPartyRegistration:
		return m.VENID, m.RegistrationID, m.RequestID
	case *CanceledPartyRegistration:
		return m.VENID, m.RegistrationID, m.Response.RequestID
	case *Poll:
		return m.VENID, "", ""
	case *RequestEvent:
		return m.Request.VENID, "", m.Request.RequestID
	case *CreatedEvent:
		return m.Created.VENID, "", m.Created.Response.RequestID
	case *CreateOpt:
		return m.VENID, "", m.RequestID
	case *CancelOpt:
		return m.VENID, "", m.RequestID
	case *RegisterReport:
		return m.VENID, "", m.RequestID
	case *UpdateReport:
		return m.VENID, "", m.RequestID
	case *CreatedReport:
		return m.VENID, "", ""
	case *RegisteredReport:
		return m.VENID, "", ""
	case *CanceledReport:
		return m.VENID, "", ""
	case *Response:
		return m.VENID, "", ""
	}
	return "", "", ""
}
