package c1222

import (
	"errors"
	"fmt"
)

// SecurityMode is the EPSEM's security mode.
type SecurityMode uint8

// The security modes of C12.22.
const (
	ModeClear         SecurityMode = 0 // cleartext
	ModeAuthenticated SecurityMode = 1 // cleartext with authentication
	ModeCiphertext    SecurityMode = 2 // ciphertext with authentication
)

func (m SecurityMode) String() string {
	switch m {
	case ModeClear:
		return "clear"
	case ModeAuthenticated:
		return "authenticated"
	case ModeCiphertext:
		return "ciphertext"
	}
	return fmt.Sprintf("mode %d", uint8(m))
}

// ResponseControl says when the called node answers.
type ResponseControl uint8

// The response controls of C12.22.
const (
	RespondAlways      ResponseControl = 0
	RespondOnException ResponseControl = 1
	RespondNever       ResponseControl = 2
)

// EPSEM control octet bits.
const (
	ctlReserved = 0x80 // set in every EPSEM C12.22-2008 sends
	ctlRecovery = 0x40
	ctlProxy    = 0x20
	ctlEDClass  = 0x10
)

// EDClassSize is the length of the end device class.
const EDClassSize = 4

// EPSEM is the Extended Protocol Specification for Electronic Metering
// envelope: the control octet, an optional device class, and one or more
// services, each a PSEM request or response.
type EPSEM struct {
	Recovery bool // recovery session
	Proxy    bool // proxy service used
	Mode     SecurityMode
	Response ResponseControl
	EDClass  []byte // 4 octets, or nil when absent
	Services [][]byte
}

// Control encodes the control octet.
func (e *EPSEM) Control() byte {
	c := byte(ctlReserved) | byte(e.Mode&3)<<2 | byte(e.Response&3)
	if e.Recovery {
		c |= ctlRecovery
	}
	if e.Proxy {
		c |= ctlProxy
	}
	if e.EDClass != nil {
		c |= ctlEDClass
	}
	return c
}

// Body encodes what follows the control octet: the device class and the
// services, each after its BER length. This is what mode 2 encrypts.
func (e *EPSEM) Body() ([]byte, error) {
	if e.EDClass != nil && len(e.EDClass) != EDClassSize {
		return nil, fmt.Errorf("c1222: ED_CLASS of %d octets, want %d", len(e.EDClass), EDClassSize)
	}
	if len(e.Services) == 0 {
		return nil, errors.New("c1222: EPSEM without a service")
	}
	b := append([]byte(nil), e.EDClass...)
	for i, s := range e.Services {
		if len(s) == 0 {
			return nil, fmt.Errorf("c1222: EPSEM service %d is empty", i)
		}
		b = appendTLVNoTag(b, s)
	}
	return b, nil
}

func appendTLVNoTag(b, s []byte) []byte {
	b = appendLength(b, len(s))
	return append(b, s...)
}

// Marshal encodes a security mode 0 EPSEM whole.
func (e *EPSEM) Marshal() ([]byte, error) {
	body, err := e.Body()
	if err != nil {
		return nil, err
	}
	return append([]byte{e.Control()}, body...), nil
}

// ParseControl decodes the control octet into a (service-less) EPSEM.
func ParseControl(c byte) (*EPSEM, error) {
	e := &EPSEM{
		Recovery: c&ctlRecovery != 0,
		Proxy:    c&ctlProxy != 0,
		Mode:     SecurityMode(c >> 2 & 3),
		Response: ResponseControl(c & 3),
	}
	if e.Mode > ModeCiphertext {
		return nil, fmt.Errorf("c1222: EPSEM security mode 3 is reserved")
	}
	if e.Response > RespondNever {
		return nil, fmt.Errorf("c1222: EPSEM response control 3 is reserved")
	}
	return e, nil
}

// ParseEPSEMBody decodes the device class and services that follow the
// control octet c, once any security is undone.
func ParseEPSEMBody(c byte, body []byte) (*EPSEM, error) {
	e, err := ParseControl(c)
	if err != nil {
		return nil, err
	}
	if c&ctlEDClass != 0 {
		if len(body) < EDClassSize {
			return nil, fmt.Errorf("c1222: EPSEM ED_CLASS truncated: %d octets", len(body))
		}
		e.EDClass = append([]byte(nil), body[:EDClassSize]...)
		body = body[EDClassSize:]
	}
	for len(body) > 0 {
		n, k, err := readLength(body)
		if err != nil {
			return nil, fmt.Errorf("c1222: EPSEM service %d: %w", len(e.Services), err)
		}
		if n == 0 {
			// A zero length ends the services; what follows is padding.
			break
		}
		if len(body) < k+n {
			return nil, fmt.Errorf("c1222: EPSEM service %d: length %d, only %d octets follow", len(e.Services), n, len(body)-k)
		}
		e.Services = append(e.Services, append([]byte(nil), body[k:k+n]...))
		body = body[k+n:]
	}
	if len(e.Services) == 0 {
		return nil, errors.New("c1222: EPSEM without a service")
	}
	return e, nil
}

// ParseEPSEM decodes a whole security mode 0 EPSEM.
func ParseEPSEM(b []byte) (*EPSEM, error) {
	if len(b) == 0 {
		return nil, errors.New("c1222: empty EPSEM")
	}
	e, err := ParseEPSEMBody(b[0], b[1:])
	if err != nil {
		return nil, err
	}
	if e.Mode != ModeClear {
		return nil, fmt.Errorf("c1222: EPSEM in security mode %d needs its key", e.Mode)
	}
	return e, nil
}

// Keys holds the EAX' keys of a node by key id.
type Keys struct {
	m map[uint8]*EAX
}

// NewKeys keys EAX' for each AES-128 key by its id.
func NewKeys(keys map[uint8][]byte) (*Keys, error) {
	k := &Keys{m: map[uint8]*EAX{}}
	for id, key := range keys {
		e, err := NewEAX(key)
		if err != nil {
			return nil, fmt.Errorf("c1222: key %d: %w", id, err)
		}
		k.m[id] = e
	}
	return k, nil
}

func (k *Keys) get(id uint8) (*EAX, bool) {
	if k == nil {
		return nil, false
	}
	e, ok := k.m[id]
	return e, ok
}

// ErrUnknownKey refuses a message under a key id the node does not hold.
var ErrUnknownKey = errors.New("c1222: unknown key id")

// Seal puts e into a.EPSEM under e.Mode: in clear, authenticated with the
// key a.KeyID, or encrypted and authenticated. Modes 1 and 2 need a.HasAuth
// and an initialisation vector in a. base canonifies relative ApTitles.
func Seal(a *APDU, e *EPSEM, keys *Keys, base ApTitle) error {
	body, err := e.Body()
	if err != nil {
		return err
	}
	c := e.Control()
	if e.Mode == ModeClear {
		a.EPSEM = append([]byte{c}, body...)
		return nil
	}
	if !a.HasAuth || len(a.IV) == 0 {
		return errors.New("c1222: security mode needs a key id and an initialisation vector")
	}
	x, ok := keys.get(a.KeyID)
	if !ok {
		return fmt.Errorf("%w %d", ErrUnknownKey, a.KeyID)
	}
	n := 1 + len(body) + TagSize
	clear := a.Cleartext(base, c, n)
	out := make([]byte, 0, n)
	out = append(out, c)
	switch e.Mode {
	case ModeAuthenticated:
		tag, err := x.Authenticate(clear, body)
		if err != nil {
			return err
		}
		out = append(append(out, body...), tag[:]...)
	case ModeCiphertext:
		ct, tag, err := x.Seal(clear, body)
		if err != nil {
			return err
		}
		out = append(append(out, ct...), tag[:]...)
	default:
		return fmt.Errorf("c1222: security mode %d unknown", e.Mode)
	}
	a.EPSEM = out
	return nil
}

// Open authenticates and decrypts a.EPSEM as its control octet says and
// decodes it. A mode 1 or 2 message that does not verify under the key its
// key id names is refused with ErrAuth.
func Open(a *APDU, keys *Keys, base ApTitle) (*EPSEM, error) {
	if len(a.EPSEM) == 0 {
		return nil, errors.New("c1222: empty EPSEM")
	}
	c := a.EPSEM[0]
	hdr, err := ParseControl(c)
	if err != nil {
		return nil, err
	}
	if hdr.Mode == ModeClear {
		return ParseEPSEMBody(c, a.EPSEM[1:])
	}
	if len(a.EPSEM) < 1+TagSize+1 {
		return nil, fmt.Errorf("c1222: EPSEM of %d octets too short for security mode %d", len(a.EPSEM), hdr.Mode)
	}
	if !a.HasAuth || len(a.IV) == 0 {
		return nil, fmt.Errorf("c1222: security mode %d without a key id and initialisation vector", hdr.Mode)
	}
	x, ok := keys.get(a.KeyID)
	if !ok {
		return nil, fmt.Errorf("%w %d", ErrUnknownKey, a.KeyID)
	}
	clear := a.Cleartext(base, c, len(a.EPSEM))
	data := a.EPSEM[1 : len(a.EPSEM)-TagSize]
	tag := [TagSize]byte(a.EPSEM[len(a.EPSEM)-TagSize:])
	var body []byte
	if hdr.Mode == ModeAuthenticated {
		if err := x.Verify(clear, data, tag); err != nil {
			return nil, err
		}
		body = data
	} else {
		if body, err = x.Open(clear, data, tag); err != nil {
			return nil, err
		}
	}
	return ParseEPSEMBody(c, body)
}
