package c1222

import (
	"errors"
	"fmt"

	"github.com/amigo-ami/amigo/psem"
)

// The request codes C12.22 adds to PSEM for its network.
const (
	ReqDeregister = 0x24
	ReqResolve    = 0x25
	ReqTrace      = 0x26
	ReqRegister   = 0x27
)

// Node types of the registration service.
const (
	NodeRelay              = 0x01
	NodeMasterRelay        = 0x02
	NodeHost               = 0x04
	NodeNotificationHost   = 0x08
	NodeAuthenticationHost = 0x10
	NodeEndDevice          = 0x20
)

// Connection types of the registration service.
const (
	ConnBroadcast            = 0x01
	ConnAcceptanceWindow     = 0x02
	ConnPlaybackRejection    = 0x04
	ConnConnectionless       = 0x10
	ConnAcceptConnectionless = 0x20
	ConnConnectionMode       = 0x40
	ConnAcceptConnections    = 0x80
)

// Registration is a node's registration request: what it is, how it is
// reached, and how often it renews.
type Registration struct {
	NodeType       byte
	ConnectionType byte
	DeviceClass    []byte  // the device class, 4 octets
	ApTitle        ApTitle // the node's ApTitle
	SerialNumber   ApTitle // its electronic serial number, an object identifier
	NativeAddress  []byte  // its address on its own network (at most 255 octets)
	Period         uint32  // seconds between renewals, 24 bits
}

// Marshal encodes the request, code first.
func (r Registration) Marshal() ([]byte, error) {
	if len(r.DeviceClass) != EDClassSize {
		return nil, fmt.Errorf("c1222: registration device class of %d octets, want %d", len(r.DeviceClass), EDClassSize)
	}
	for _, c := range r.DeviceClass {
		if c&0x80 != 0 {
			return nil, errors.New("c1222: registration device class octets must have bit 7 clear")
		}
	}
	if r.ApTitle.IsZero() || r.SerialNumber.IsZero() {
		return nil, errors.New("c1222: registration without an ApTitle or serial number")
	}
	if len(r.NativeAddress) > 255 || r.Period > 0xFFFFFF {
		return nil, errors.New("c1222: registration address or period out of range")
	}
	b := []byte{ReqRegister, r.NodeType &^ 0x80, r.ConnectionType}
	b = append(b, r.DeviceClass...)
	b = append(b, r.ApTitle.element()...)
	b = append(b, r.SerialNumber.element()...)
	b = append(b, byte(len(r.NativeAddress)))
	b = append(b, r.NativeAddress...)
	return append(b, byte(r.Period>>16), byte(r.Period>>8), byte(r.Period)), nil
}

// readID decodes an ApTitle-like identifier carried in a service: tag
// 0x06 (absolute) or 0x80 (relative), length, content.
func readID(b []byte) (ApTitle, []byte, error) {
	e, rest, err := readTLV(b)
	if err != nil {
		return ApTitle{}, nil, err
	}
	switch e.tag {
	case 0x06:
		a, err := parseArcs(e.content, false)
		return a, rest, err
	case 0x80:
		a, err := parseArcs(e.content, true)
		return a, rest, err
	}
	return ApTitle{}, nil, fmt.Errorf("identifier tag 0x%02X", e.tag)
}

// ParseRegistration decodes a registration request, code first.
func ParseRegistration(b []byte) (Registration, error) {
	var r Registration
	if len(b) < 3 || b[0] != ReqRegister {
		return r, errors.New("c1222: not a registration request")
	}
	r.NodeType, r.ConnectionType = b[1], b[2]
	b = b[3:]
	// The device class runs in groups of four octets until one whose
	// octets all have bit 7 clear.
	for {
		if len(b) < EDClassSize {
			return r, errors.New("c1222: registration device class truncated")
		}
		g := b[:EDClassSize]
		r.DeviceClass = append(r.DeviceClass, g...)
		b = b[EDClassSize:]
		if g[0]|g[1]|g[2]|g[3] < 0x80 {
			break
		}
		if len(r.DeviceClass) > 64 {
			return r, errors.New("c1222: registration device class too long")
		}
	}
	var err error
	if r.ApTitle, b, err = readID(b); err != nil {
		return r, fmt.Errorf("c1222: registration ApTitle: %w", err)
	}
	if r.SerialNumber, b, err = readID(b); err != nil {
		return r, fmt.Errorf("c1222: registration serial number: %w", err)
	}
	if len(b) < 1 || len(b) < 1+int(b[0])+3 {
		return r, errors.New("c1222: registration address or period truncated")
	}
	n := int(b[0])
	r.NativeAddress = append([]byte(nil), b[1:1+n]...)
	p := b[1+n:]
	r.Period = uint32(p[0])<<16 | uint32(p[1])<<8 | uint32(p[2])
	if r.NodeType&0x80 == 0 && len(p) != 3 {
		return r, fmt.Errorf("c1222: %d octets after the registration period", len(p)-3)
	}
	return r, nil
}

// Registered is the ok response to a registration.
type Registered struct {
	ApTitle ApTitle // the ApTitle the node is registered under
	Delay   uint16  // seconds before the node may register again
	Period  uint32  // seconds within which the node renews, 24 bits
	Info    byte    // the relay's connection type
}

// Marshal encodes the response, response code (ok) first.
func (r Registered) Marshal() []byte {
	b := []byte{0x00}
	b = append(b, r.ApTitle.element()...)
	return append(b, byte(r.Delay>>8), byte(r.Delay), byte(r.Period>>16), byte(r.Period>>8), byte(r.Period), r.Info)
}

// ParseRegistered decodes the response to a registration; a refusal is
// its psem.Code as an error.
func ParseRegistered(b []byte) (Registered, error) {
	var r Registered
	if len(b) == 0 {
		return r, errors.New("c1222: empty registration response")
	}
	if b[0] != 0 {
		return r, codeError(b[0])
	}
	a, rest, err := readID(b[1:])
	if err != nil {
		return r, fmt.Errorf("c1222: registration response ApTitle: %w", err)
	}
	if len(rest) != 6 {
		return r, fmt.Errorf("c1222: registration response of %d octets after the ApTitle, want 6", len(rest))
	}
	r.ApTitle = a
	r.Delay = uint16(rest[0])<<8 | uint16(rest[1])
	r.Period = uint32(rest[2])<<16 | uint32(rest[3])<<8 | uint32(rest[4])
	r.Info = rest[5]
	return r, nil
}

// IDRequest encodes a deregister or resolve request: code, then ApTitle.
func IDRequest(code byte, a ApTitle) []byte {
	return append([]byte{code}, a.element()...)
}

func codeError(c byte) error { return psem.Code(c) }
