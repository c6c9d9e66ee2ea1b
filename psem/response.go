package psem

import (
	"encoding/binary"
	"fmt"
)

// Standards an ident response names in <std>.
const (
	StdC1218 = 0x00
	StdC1221 = 0x02
	StdC1222 = 0x03
)

// Feature codes of the ident response's feature list. C12.21 announces its
// authentication service, with or without a ticket; C12.22 adds the
// security mechanism, session control, device class and identity.
const (
	FeatureEnd               = 0x00
	FeatureAuth              = 0x01 // <auth-type><alg-id>
	FeatureAuthTicket        = 0x02 // <auth-type><alg-id><ticket-len><ticket>
	FeatureSecurityMechanism = 0x04 // <universal-id>
	FeatureSessionCtrl       = 0x05 // <session-ctrl>
	FeatureDeviceClass       = 0x06 // <universal-id>
	FeatureDeviceIdentity    = 0x07 // <id-len><identity>
)

// C12.21 authentication: the algorithm ids, and the auth-type bit saying
// the meter authenticates.
const (
	AlgDES       = 0x00
	AlgAES       = 0xFF // AES-128 tickets, not implemented here
	AuthTypeAuth = 0x01
)

// Ident is the identification service's answer.
type Ident struct {
	Std, Ver, Rev byte
	Features      []Feature
}

// Feature is one entry of the ident feature list; Value is what follows
// its code.
type Feature struct {
	Code  byte
	Value []byte
}

// Auth returns the C12.21 authentication feature: the algorithm id and the
// ticket (nil without one), and whether the meter offers it.
func (id Ident) Auth() (alg byte, ticket []byte, ok bool) {
	for _, f := range id.Features {
		switch f.Code {
		case FeatureAuth:
			if len(f.Value) == 2 && f.Value[0]&AuthTypeAuth != 0 {
				return f.Value[1], nil, true
			}
		case FeatureAuthTicket:
			if len(f.Value) >= 3 && int(f.Value[2]) == len(f.Value)-3 && f.Value[0]&AuthTypeAuth != 0 {
				return f.Value[1], f.Value[3:], true
			}
		}
	}
	return 0, nil, false
}

// AuthTicketFeature is the feature announcing DES authentication with a
// ticket.
func AuthTicketFeature(ticket []byte) Feature {
	return Feature{Code: FeatureAuthTicket, Value: append([]byte{AuthTypeAuth, AlgDES, byte(len(ticket))}, ticket...)}
}

// Marshal encodes the ident response, <ok> first and the end of list
// last.
func (id Ident) Marshal() []byte {
	b := []byte{byte(OK), id.Std, id.Ver, id.Rev}
	for _, f := range id.Features {
		b = append(b, f.Code)
		b = append(b, f.Value...)
	}
	return append(b, FeatureEnd)
}

// responseCode splits off the response code; a non-OK code is returned
// as the error.
func responseCode(b []byte, service string) ([]byte, error) {
	if len(b) == 0 {
		return nil, malformed("%s response: empty", service)
	}
	if c := Code(b[0]); c != OK {
		return nil, c
	}
	return b[1:], nil
}

// universalIDLen is the length of a BER-encoded universal id at the start
// of b (tag, length, value), or -1.
func universalIDLen(b []byte) int {
	if len(b) < 2 || b[1] >= 0x80 || 2+int(b[1]) > len(b) {
		return -1
	}
	return 2 + int(b[1])
}

// ParseIdent decodes an ident response.
func ParseIdent(b []byte) (Ident, error) {
	p, err := responseCode(b, "ident")
	if err != nil {
		return Ident{}, err
	}
	if len(p) < 4 {
		return Ident{}, malformed("ident response: %d octets, too short", len(b))
	}
	id := Ident{Std: p[0], Ver: p[1], Rev: p[2]}
	p = p[3:]
	for {
		if len(p) == 0 {
			return id, malformed("ident response: feature list without its end")
		}
		code := p[0]
		p = p[1:]
		n := -1
		switch code {
		case FeatureEnd:
			if len(p) != 0 {
				return id, malformed("ident response: %d octets after the end of the feature list", len(p))
			}
			return id, nil
		case FeatureSessionCtrl:
			n = 1
		case FeatureAuth:
			n = 2
		case FeatureAuthTicket:
			if len(p) >= 3 {
				n = 3 + int(p[2])
			}
		case FeatureSecurityMechanism, FeatureDeviceClass:
			n = universalIDLen(p)
		case FeatureDeviceIdentity:
			if len(p) >= 1 {
				n = 1 + int(p[0])
			}
		default:
			return id, malformed("ident response: unknown feature 0x%02X", code)
		}
		if n < 0 || n > len(p) {
			return id, malformed("ident response: feature 0x%02X cut short", code)
		}
		id.Features = append(id.Features, Feature{Code: code, Value: append([]byte(nil), p[:n]...)})
		p = p[n:]
	}
}

// TableResponse encodes a read's answer: <ok><count><data><cksum>.
func TableResponse(data []byte) []byte {
	b := make([]byte, 0, len(data)+4)
	b = append(b, byte(OK))
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	b = append(b, data...)
	return append(b, Checksum(data))
}

// ParseTableResponse decodes a read's answer and checks its count and
// data checksum.
func ParseTableResponse(b []byte) ([]byte, error) {
	p, err := responseCode(b, "read")
	if err != nil {
		return nil, err
	}
	if len(p) < 3 {
		return nil, malformed("read response: %d octets, too short", len(b))
	}
	n := int(binary.BigEndian.Uint16(p))
	if len(p) != 2+n+1 {
		return nil, malformed("read response: count %d but %d octets of data and checksum", n, len(p)-2)
	}
	data := p[2 : 2+n]
	if Checksum(data) != p[2+n] {
		return nil, malformed("read response: data checksum 0x%02X, want 0x%02X", p[2+n], Checksum(data))
	}
	return append([]byte(nil), data...), nil
}

// Negotiated is what a negotiate response grants: the packet size, the
// number of packets in a message and the baud rate code (0: unchanged or
// the medium's own).
type Negotiated struct {
	PacketSize uint16
	Packets    uint8
	Baud       byte
}

// Marshal encodes the negotiate response.
func (n Negotiated) Marshal() []byte {
	b := []byte{byte(OK)}
	b = binary.BigEndian.AppendUint16(b, n.PacketSize)
	return append(b, n.Packets, n.Baud)
}

// ParseNegotiated decodes a negotiate response.
func ParseNegotiated(b []byte) (Negotiated, error) {
	p, err := responseCode(b, "negotiate")
	if err != nil {
		return Negotiated{}, err
	}
	if len(p) != 4 {
		return Negotiated{}, malformed("negotiate response: %d octets, want 5", len(b))
	}
	return Negotiated{PacketSize: binary.BigEndian.Uint16(p), Packets: p[2], Baud: p[3]}, nil
}

// Marshal encodes the timing setup response: the timers the meter will
// use.
func (t Timing) Marshal() []byte {
	return []byte{byte(OK), t.Traffic, t.InterChar, t.Response, t.Retries}
}

// ParseTiming decodes a timing setup response.
func ParseTiming(b []byte) (Timing, error) {
	p, err := responseCode(b, "timing setup")
	if err != nil {
		return Timing{}, err
	}
	if len(p) != 4 {
		return Timing{}, malformed("timing setup response: %d octets, want 5", len(b))
	}
	return Timing{p[0], p[1], p[2], p[3]}, nil
}

// AuthenticateResponse encodes the C12.21 authenticate response:
// <ok><auth-len><key-id><value>.
func AuthenticateResponse(keyID uint8, value []byte) []byte {
	return append([]byte{byte(OK), byte(1 + len(value)), keyID}, value...)
}

// ParseAuthenticateResponse decodes an authenticate response into the key
// id and the meter's value.
func ParseAuthenticateResponse(b []byte) (uint8, []byte, error) {
	p, err := responseCode(b, "authenticate")
	if err != nil {
		return 0, nil, err
	}
	if len(p) < 2 || int(p[0]) != len(p)-1 {
		return 0, nil, malformed("authenticate response: length disagrees with %d octets", len(b))
	}
	return p[1], append([]byte(nil), p[2:]...), nil
}

// ParseStatus decodes the answer of a service that returns only a code
// (logon, security, writes, logoff, terminate, wait, disconnect).
func ParseStatus(b []byte, service string) error {
	p, err := responseCode(b, service)
	if err != nil {
		return err
	}
	if len(p) != 0 {
		return malformed("%s response: %d octets after <ok>", service, len(p))
	}
	return nil
}

// ServiceError is a refusal or failure of one service: which service, on
// which table (for reads and writes), and why. A refusal's Err is the
// Code, so errors.As(err, new(psem.Code)) finds it.
type ServiceError struct {
	Service string
	Table   int // -1 when the service names no table
	Err     error
}

func (e *ServiceError) Error() string {
	if e.Table >= 0 {
		return fmt.Sprintf("psem: %s of table %d: %v", e.Service, e.Table, e.Err)
	}
	return fmt.Sprintf("psem: %s: %v", e.Service, e.Err)
}

func (e *ServiceError) Unwrap() error { return e.Err }
