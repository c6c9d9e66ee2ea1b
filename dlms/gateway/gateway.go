// Package gateway is the DLMS/COSEM gateway protocol: the APDUs a data
// concentrator takes from a head-end on its wide area network and
// forwards to a meter on its neighbourhood network by the meter's
// physical address, and the transport that wraps a session's APDUs in
// them.
//
// DLMS UA 1000-2 (Green Book) Ed. 9, the clause on the DLMS/COSEM
// gateway and the COSEMpdu choices gateway-request [230] and
// gateway-response [231] in its xDLMS ASN.1: each carries the network id
// (Unsigned8) and the physical device address (an octet string, its
// length in one byte) in front of the xDLMS APDU it carries, which runs to
// the end of the frame its link delivers.
package gateway

import (
	"context"
	"errors"
	"fmt"
)

// Tags of the gateway APDUs.
const (
	TagRequest  = 0xE6 // gateway-request [230]
	TagResponse = 0xE7 // gateway-response [231]
)

// MaxAddress is the longest physical device address carried. Its length is
// an A-XDR length, one byte below 128 and more above; the addresses in use
// (a system title, an IPv6 address) are far shorter, so only the one-byte
// form is written or read.
const MaxAddress = 127

// PDU is a gateway request or response: where the APDU goes (or came
// from) on the concentrator's network, and the APDU.
type PDU struct {
	Response  bool   // gateway-response; false: gateway-request
	NetworkID uint8  // the concentrator's network the meter is on
	Address   []byte // the meter's physical device address there
	APDU      []byte // the xDLMS APDU carried
}

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("gateway: malformed APDU")

// Append encodes p onto b.
func Append(b []byte, p PDU) ([]byte, error) {
	if len(p.Address) > MaxAddress {
		return b, fmt.Errorf("gateway: physical address of %d bytes: at most %d", len(p.Address), MaxAddress)
	}
	if len(p.APDU) == 0 {
		return b, errors.New("gateway: no APDU to carry")
	}
	tag := byte(TagRequest)
	if p.Response {
		tag = TagResponse
	}
	b = append(b, tag, p.NetworkID, byte(len(p.Address)))
	b = append(b, p.Address...)
	return append(b, p.APDU...), nil
}

// Decode takes a gateway APDU apart. Address and APDU alias b.
func Decode(b []byte) (PDU, error) {
	if len(b) < 3 {
		return PDU{}, fmt.Errorf("%w: %d bytes, want at least 3", ErrMalformed, len(b))
	}
	var p PDU
	switch b[0] {
	case TagRequest:
	case TagResponse:
		p.Response = true
	default:
		return PDU{}, fmt.Errorf("%w: tag 0x%02X, want 0xE6 or 0xE7", ErrMalformed, b[0])
	}
	p.NetworkID = b[1]
	n := int(b[2])
	if n > MaxAddress {
		return PDU{}, fmt.Errorf("%w: physical address length 0x%02X: longer than %d bytes is not carried", ErrMalformed, n, MaxAddress)
	}
	if len(b) < 3+n {
		return PDU{}, fmt.Errorf("%w: physical address of %d bytes in %d left", ErrMalformed, n, len(b)-3)
	}
	p.Address = b[3 : 3+n]
	p.APDU = b[3+n:]
	if len(p.APDU) == 0 {
		return PDU{}, fmt.Errorf("%w: no APDU after the address", ErrMalformed)
	}
	return p, nil
}

// Transport is what a session's APDUs travel on (dlms.Transport and
// server.Transport both fit).
type Transport interface {
	Send(ctx context.Context, apdu []byte) error
	Recv(ctx context.Context) ([]byte, error)
	Close() error
}

// Client is a head-end's session to a meter behind a concentrator: each
// APDU sent goes out in a gateway request to the meter's address, and
// each response must be a gateway response from that address.
type Client struct {
	T         Transport
	NetworkID uint8
	Address   []byte
	buf       []byte
}

// Send wraps apdu in a gateway request.
func (c *Client) Send(ctx context.Context, apdu []byte) error {
	b, err := Append(c.buf[:0], PDU{NetworkID: c.NetworkID, Address: c.Address, APDU: apdu})
	if err != nil {
		return err
	}
	c.buf = b
	return c.T.Send(ctx, b)
}

// Recv unwraps the meter's gateway response.
func (c *Client) Recv(ctx context.Context) ([]byte, error) {
	b, err := c.T.Recv(ctx)
	if err != nil {
		return nil, err
	}
	p, err := Decode(b)
	if err != nil {
		return nil, err
	}
	if !p.Response {
		return nil, fmt.Errorf("%w: a gateway request where a response was due", ErrMalformed)
	}
	if p.NetworkID != c.NetworkID || string(p.Address) != string(c.Address) {
		return nil, fmt.Errorf("gateway: response from network %d address %X, asked network %d address %X",
			p.NetworkID, p.Address, c.NetworkID, c.Address)
	}
	return p.APDU, nil
}

// Close closes the transport under the session.
func (c *Client) Close() error { return c.T.Close() }
