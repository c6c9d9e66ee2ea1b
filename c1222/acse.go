package c1222

import (
	"errors"
	"fmt"
)

// ACSE element tags of the C12.22 APDU, [APPLICATION 0] IMPLICIT SEQUENCE
// of context-tagged elements.
const (
	tagAPDU             = 0x60
	tagContext          = 0xA1 // aSO-context, the application context
	tagCalled           = 0xA2 // called-AP-title
	tagCalledAEQual     = 0xA3 // in a segment: the whole APDU's size
	tagCalledInvocation = 0xA4 // called-AP-invocation-id (responses)
	tagCalling          = 0xA6 // calling-AP-title
	tagCallingAEQual    = 0xA7 // calling-AE-qualifier
	tagCallingInvoc     = 0xA8 // calling-AP-invocation-id
	tagMechanism        = 0x8B // mechanism-name
	tagAuthValue        = 0xAC // calling-authentication-value
	tagUserInfo         = 0xBE // user-information, an EXTERNAL
)

// Calling AE qualifier bits.
const (
	QualifierTest         = 0x01
	QualifierUrgent       = 0x02
	QualifierNotification = 0x04
)

// ContextC1222 is the C12.22 application context, 2.16.124.113620.1.22.
var ContextC1222 = ApTitle{Arcs: []uint32{2, 16, 124, 113620, 1, 22}}

// APDU is one C12.22 message: the ACSE association elements and the EPSEM
// they carry. Optional elements are absent when zero unless their Has
// flag says otherwise.
type APDU struct {
	Context ApTitle // aSO-context; absent when zero

	Called  ApTitle // called-AP-title
	Calling ApTitle // calling-AP-title

	// CalledInvocation is the calling invocation id of the request a
	// response answers.
	CalledInvocation    uint32
	HasCalledInvocation bool

	AEQualifier    uint32 // calling-AE-qualifier
	HasAEQualifier bool

	CallingInvocation uint32 // calling-AP-invocation-id, always present

	Mechanism ApTitle // mechanism-name; absent when zero

	// The calling authentication value of C12.22: the key id and the
	// initialisation vector of the EAX' modes. HasAuth includes it.
	HasAuth bool
	KeyID   uint8
	IV      []byte

	// EPSEM is the user information's octet string: the EPSEM control
	// octet and what follows it, encrypted or not.
	EPSEM []byte

	// A segment carries, instead of an EPSEM, a piece of a larger APDU's
	// encoding: SegmentTotal (A3) is that APDU's size and SegmentOffset
	// (in the EXTERNAL's indirect reference) where the piece begins.
	Segment       bool
	SegmentTotal  uint32
	SegmentOffset uint32
}

// IsResponse reports a message answering another: it names the request's
// invocation id.
func (a *APDU) IsResponse() bool { return a.HasCalledInvocation }

func (a *APDU) authValue() []byte {
	var inner []byte
	inner = appendTLV(inner, 0x80, []byte{a.KeyID})
	if len(a.IV) > 0 {
		inner = appendTLV(inner, 0x81, a.IV)
	}
	c1222 := appendTLV(nil, 0xA1, inner)
	single := appendTLV(nil, 0xA0, c1222)
	return appendTLV(nil, 0xA2, single)
}

// userInfo encodes the user-information element around the EPSEM (or a
// segment's octets).
func (a *APDU) userInfo() []byte {
	var ext []byte
	if a.Segment {
		ext = appendTLV(ext, 0x02, appendUint(nil, a.SegmentOffset))
	}
	ext = appendTLV(ext, 0x81, a.EPSEM)
	return appendTLV(nil, tagUserInfo, appendTLV(nil, 0x28, ext))
}

// Marshal encodes the APDU in tag order.
func (a *APDU) Marshal() ([]byte, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	var b []byte
	if !a.Context.IsZero() {
		b = appendTLV(b, tagContext, a.Context.element())
	}
	if !a.Called.IsZero() {
		b = appendTLV(b, tagCalled, a.Called.element())
	}
	if a.Segment {
		b = explicitInt(b, tagCalledAEQual, a.SegmentTotal)
	}
	if a.HasCalledInvocation {
		b = explicitInt(b, tagCalledInvocation, a.CalledInvocation)
	}
	if !a.Calling.IsZero() {
		b = appendTLV(b, tagCalling, a.Calling.element())
	}
	if a.HasAEQualifier {
		b = explicitInt(b, tagCallingAEQual, a.AEQualifier)
	}
	b = explicitInt(b, tagCallingInvoc, a.CallingInvocation)
	if !a.Mechanism.IsZero() {
		b = appendTLV(b, tagMechanism, a.Mechanism.contents())
	}
	if a.HasAuth {
		b = append(b, tagAuthValue)
		v := a.authValue()
		b = appendLength(b, len(v))
		b = append(b, v...)
	}
	b = append(b, a.userInfo()...)
	return appendTLV(nil, tagAPDU, b), nil
}

func (a *APDU) check() error {
	if a.Mechanism.Relative {
		return errors.New("c1222: the mechanism name must be an absolute object identifier")
	}
	if a.Context.Relative {
		return errors.New("c1222: the application context must be an absolute object identifier")
	}
	if a.HasAuth && len(a.IV) > 16 {
		return fmt.Errorf("c1222: initialisation vector of %d octets", len(a.IV))
	}
	return nil
}

// ParseAPDU decodes one whole APDU; b must hold exactly it.
func ParseAPDU(b []byte) (*APDU, error) {
	outer, rest, err := expect(b, tagAPDU, "c1222: APDU")
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("c1222: %d octets after the APDU", len(rest))
	}
	a := &APDU{}
	seen := map[byte]bool{}
	body := outer.content
	haveInvocation, haveUser := false, false
	for len(body) > 0 {
		var e tlv
		e, body, err = readTLV(body)
		if err != nil {
			return nil, fmt.Errorf("c1222: APDU element: %w", err)
		}
		if seen[e.tag] {
			return nil, fmt.Errorf("c1222: APDU element 0x%02X twice", e.tag)
		}
		seen[e.tag] = true
		if haveUser {
			return nil, fmt.Errorf("c1222: APDU element 0x%02X after the user information", e.tag)
		}
		switch e.tag {
		case tagContext:
			t, err := parseApTitleElement(e.content)
			if err != nil || t.Relative {
				return nil, fmt.Errorf("c1222: application context: %v", orRelative(err))
			}
			a.Context = t
		case tagCalled:
			if a.Called, err = parseApTitleElement(e.content); err != nil {
				return nil, fmt.Errorf("c1222: called ApTitle: %w", err)
			}
		case tagCalling:
			if a.Calling, err = parseApTitleElement(e.content); err != nil {
				return nil, fmt.Errorf("c1222: calling ApTitle: %w", err)
			}
		case tagCalledAEQual:
			if a.SegmentTotal, err = parseExplicitInt(e.content); err != nil {
				return nil, fmt.Errorf("c1222: segment's APDU size: %w", err)
			}
			a.Segment = true
		case tagCalledInvocation:
			if a.CalledInvocation, err = parseExplicitInt(e.content); err != nil {
				return nil, fmt.Errorf("c1222: called invocation id: %w", err)
			}
			a.HasCalledInvocation = true
		case tagCallingAEQual:
			if a.AEQualifier, err = parseExplicitInt(e.content); err != nil {
				return nil, fmt.Errorf("c1222: calling AE qualifier: %w", err)
			}
			a.HasAEQualifier = true
		case tagCallingInvoc:
			if a.CallingInvocation, err = parseExplicitInt(e.content); err != nil {
				return nil, fmt.Errorf("c1222: calling invocation id: %w", err)
			}
			haveInvocation = true
		case tagMechanism:
			if a.Mechanism, err = parseArcs(e.content, false); err != nil {
				return nil, fmt.Errorf("c1222: mechanism name: %w", err)
			}
		case tagAuthValue:
			if err := a.parseAuth(e.content); err != nil {
				return nil, fmt.Errorf("c1222: calling authentication value: %w", err)
			}
		case tagUserInfo:
			if err := a.parseUserInfo(e.content); err != nil {
				return nil, fmt.Errorf("c1222: user information: %w", err)
			}
			haveUser = true
		default:
			return nil, fmt.Errorf("c1222: APDU element 0x%02X unknown", e.tag)
		}
	}
	if !haveInvocation {
		return nil, errors.New("c1222: APDU without a calling invocation id (0xA8)")
	}
	if !haveUser {
		return nil, errors.New("c1222: APDU without user information (0xBE)")
	}
	if a.Segment && a.SegmentOffset >= a.SegmentTotal {
		return nil, fmt.Errorf("c1222: segment at offset %d of a %d-octet APDU", a.SegmentOffset, a.SegmentTotal)
	}
	return a, nil
}

func orRelative(err error) error {
	if err != nil {
		return err
	}
	return errors.New("relative object identifier")
}

func (a *APDU) parseAuth(c []byte) error {
	av, rest, err := expect(c, 0xA2, "external")
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d octets after it", len(rest))
	}
	body := av.content
	// An indirect reference, INTEGER DEFAULT 0, may come first.
	if len(body) > 0 && body[0] == 0x02 {
		if _, body, err = readTLV(body); err != nil {
			return err
		}
	}
	single, rest, err := expect(body, 0xA0, "single-ASN1 encoding")
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d octets after the encoding", len(rest))
	}
	c1222, rest, err := expect(single.content, 0xA1, "C12.22 authentication value")
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d octets after the C12.22 value", len(rest))
	}
	body = c1222.content
	a.HasAuth = true
	for len(body) > 0 {
		var e tlv
		if e, body, err = readTLV(body); err != nil {
			return err
		}
		switch e.tag {
		case 0x80:
			if len(e.content) != 1 {
				return fmt.Errorf("key id of %d octets, want 1", len(e.content))
			}
			a.KeyID = e.content[0]
		case 0x81:
			if len(e.content) == 0 || len(e.content) > 16 {
				return fmt.Errorf("initialisation vector of %d octets", len(e.content))
			}
			a.IV = append([]byte(nil), e.content...)
		default:
			return fmt.Errorf("element 0x%02X unknown", e.tag)
		}
	}
	return nil
}

func (a *APDU) parseUserInfo(c []byte) error {
	ext, rest, err := expect(c, 0x28, "external")
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d octets after the external", len(rest))
	}
	body := ext.content
	if len(body) > 0 && body[0] == 0x02 {
		var e tlv
		if e, body, err = readTLV(body); err != nil {
			return err
		}
		if a.SegmentOffset, err = parseUint(e.content); err != nil {
			return fmt.Errorf("segment offset: %w", err)
		}
		a.Segment = true
	}
	os, rest, err := expect(body, 0x81, "octet-aligned EPSEM")
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d octets after the EPSEM", len(rest))
	}
	if len(os.content) == 0 {
		return errors.New("empty EPSEM")
	}
	a.EPSEM = os.content
	return nil
}

// Cleartext is the canonified cleartext EAX' authenticates: the ACSE
// elements in the order C12.22 fixes (context, called ApTitle, called
// invocation id, AE qualifier, calling invocation id, mechanism name,
// authentication value), then the user information's tag and lengths up
// to and including the EPSEM control octet, the calling ApTitle, and last
// the key id and the initialisation vector alone. ApTitles are
// canonified to absolute form against base. epsemLen is the length of the
// EPSEM octet string as sent (control, ciphertext and tag).
func (a *APDU) Cleartext(base ApTitle, control byte, epsemLen int) []byte {
	var b []byte
	if !a.Context.IsZero() {
		b = appendTLV(b, tagContext, a.Context.element())
	}
	if !a.Called.IsZero() {
		b = appendTLV(b, tagCalled, a.Called.Absolute(base).element())
	}
	if a.HasCalledInvocation {
		b = explicitInt(b, tagCalledInvocation, a.CalledInvocation)
	}
	if a.HasAEQualifier {
		b = explicitInt(b, tagCallingAEQual, a.AEQualifier)
	}
	b = explicitInt(b, tagCallingInvoc, a.CallingInvocation)
	if !a.Mechanism.IsZero() {
		b = appendTLV(b, tagMechanism, a.Mechanism.contents())
	}
	if a.HasAuth {
		b = appendTLV(b, tagAuthValue, a.authValue())
	}
	// user-information: BE len 28 len 81 len <control>
	osLen := 1 + len(appendLength(nil, epsemLen)) + epsemLen
	extLen := 1 + len(appendLength(nil, osLen)) + osLen
	b = append(b, tagUserInfo)
	b = appendLength(b, extLen)
	b = append(b, 0x28)
	b = appendLength(b, osLen)
	b = append(b, 0x81)
	b = appendLength(b, epsemLen)
	b = append(b, control)
	if !a.Calling.IsZero() {
		b = appendTLV(b, tagCalling, a.Calling.Absolute(base).element())
	}
	if a.HasAuth {
		b = append(b, a.KeyID)
		b = append(b, a.IV...)
	}
	return b
}
