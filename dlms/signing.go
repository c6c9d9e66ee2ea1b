package dlms

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/dlms/security"
)

// SignFunc returns the ECDSA P-256 signature r || s (64 bytes) of
// SHA-256(data) under the originator's command-signing key. The key need
// not be in this process: an HSM or a signing service may hold it.
type SignFunc func(ctx context.Context, data []byte) ([]byte, error)

// Signing is how one request is signed: it travels in a general-signing
// APDU (suite 1) around the request, ciphered first as the association
// ciphers every request.
type Signing struct {
	// Counter is the originator counter, sent as the 8-byte
	// transaction-id. The meter accepts it only strictly above the last
	// one it accepted, so the caller reserves it durably before use.
	Counter uint64
	// Sign signs the APDU.
	Sign SignFunc
	// At is the date-time field (zero: the time of sending).
	At time.Time
}

// ErrSignedTooLong is returned for a signed request that does not fit one
// APDU: a signature covers one APDU, and a command split into blocks
// would be executed on the strength of its first block.
var ErrSignedTooLong = errors.New("dlms: signed request does not fit one APDU")

// ActionSigned is Action with the request signed (general-signing).
func (c *Client) ActionSigned(ctx context.Context, m Method, param axdr.Data, s Signing) (axdr.Data, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return axdr.Data{}, c.opErr("signed action", m.String(), err)
	}
	if err := s.check(); err != nil {
		return axdr.Data{}, c.opErr("signed action", m.String(), err)
	}
	c.signing = &s
	defer func() { c.signing = nil }()
	return c.action(ctx, m, param)
}

// SetSigned is Set with the request signed (general-signing).
func (c *Client) SetSigned(ctx context.Context, a Attr, v axdr.Data, s Signing) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ready(); err != nil {
		return c.opErr("signed set", a.String(), err)
	}
	if err := s.check(); err != nil {
		return c.opErr("signed set", a.String(), err)
	}
	c.signing = &s
	defer func() { c.signing = nil }()
	return c.set(ctx, a, v)
}

func (s *Signing) check() error {
	if s.Sign == nil {
		return errors.New("dlms: signed request without a signing function")
	}
	return nil
}

// signRequest wraps a request, as the association protected it, in
// general-signing: transaction-id the originator counter, the client's and
// the meter's system titles, the date-time, and the signature over
// everything from the tag to the content.
func (c *Client) signRequest(ctx context.Context, wire []byte) ([]byte, error) {
	s := c.signing
	if len(c.o.SystemTitle) != security.SystemTitleSize {
		return nil, fmt.Errorf("dlms: a signed request needs the client's 8-byte system title, have %d bytes", len(c.o.SystemTitle))
	}
	if len(c.serverST) != security.SystemTitleSize {
		return nil, fmt.Errorf("dlms: a signed request needs the meter's system title, have %d bytes", len(c.serverST))
	}
	at := s.At
	if at.IsZero() {
		at = time.Now()
	}
	g := security.GeneralSigning{
		TransactionID: binary.BigEndian.AppendUint64(nil, s.Counter),
		Originator:    c.o.SystemTitle,
		Recipient:     c.serverST,
		DateTime:      axdr.FromTime(at.UTC(), 0).Bytes(),
		Content:       wire,
	}
	sig, err := s.Sign(ctx, g.SignedData())
	if err != nil {
		return nil, fmt.Errorf("dlms: signing request: %w", err)
	}
	if len(sig) != security.SignatureSize {
		return nil, fmt.Errorf("dlms: signing request: signature of %d bytes, want %d", len(sig), security.SignatureSize)
	}
	g.Signature = sig
	out := g.Append(nil)
	if m := int(c.neg.MaxPDU); m > 0 && len(out) > m {
		return nil, fmt.Errorf("%w: %d bytes signed, meter takes %d", ErrSignedTooLong, len(out), m)
	}
	return out, nil
}
