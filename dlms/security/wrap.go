package security

import (
	"fmt"
	"slices"
)

// Wrap ciphers plain, a complete xDLMS APDU, into its service-specific
// glo- (kind Global) or ded- (kind Dedicated) APDU:
// tag || length || SC || IC || ciphertext || tag. systemTitle is the
// sender's own; it is not carried, the peer knows it from the AARQ/AARE.
// The result is appended to dst.
func Wrap(dst []byte, kind Kind, sc SecurityControl, keys Keys, systemTitle []byte, ic uint32, plain []byte) ([]byte, error) {
	const op = "wrap"
	if len(plain) == 0 {
		return dst, errAt(op, 0, fmt.Errorf("%w: empty APDU", ErrTruncated))
	}
	tag, ok := CipheredTag(plain[0], kind)
	if !ok {
		return dst, errAt(op, 0, fmt.Errorf("%w: plain tag 0x%02X has no %s ciphered form", ErrUnknownTag, plain[0], kind))
	}
	if kind == Dedicated {
		keys = keys.ForDedicated()
	}
	content := contentLen(sc, len(plain))
	n := len(dst)
	dst = slices.Grow(dst, 1+lengthSize(content)+scratchSize(sc, keys.Authentication.Len(), len(plain), 0))
	dst = append(dst, tag)
	dst = appendLength(dst, content)
	out, err := seal(op, dst, sc, keys, systemTitle, ic, plain, nil, false)
	if err != nil {
		return out[:n], err
	}
	return out, nil
}

// WrapGeneral ciphers plain into general-glo-ciphering (kind Global) or
// general-ded-ciphering (kind Dedicated): tag || length || system title ||
// length || SC || IC || ciphertext || tag. Any plain APDU may be carried.
func WrapGeneral(dst []byte, kind Kind, sc SecurityControl, keys Keys, systemTitle []byte, ic uint32, plain []byte) ([]byte, error) {
	const op = "wrap general"
	tag := TagGeneralGloCiphering
	switch kind {
	case Global:
	case Dedicated:
		tag = TagGeneralDedCiphering
		keys = keys.ForDedicated()
	default:
		return dst, errOp(op, fmt.Errorf("%w: key kind %d", ErrUnknownTag, kind))
	}
	if err := checkTitle(op, systemTitle); err != nil {
		return dst, err
	}
	content := contentLen(sc, len(plain))
	n := len(dst)
	dst = slices.Grow(dst, 2+SystemTitleSize+lengthSize(content)+scratchSize(sc, keys.Authentication.Len(), len(plain), 0))
	dst = append(dst, tag, SystemTitleSize)
	dst = append(dst, systemTitle...)
	dst = appendLength(dst, content)
	out, err := seal(op, dst, sc, keys, systemTitle, ic, plain, nil, false)
	if err != nil {
		return out[:n], err
	}
	return out, nil
}

func contentLen(sc SecurityControl, ptLen int) int {
	if sc.Authenticated() {
		return HeaderSize + ptLen + TagSize
	}
	return HeaderSize + ptLen
}

// Unwrapped describes the ciphered APDU that Unwrap opened.
type Unwrapped struct {
	// Tag is the ciphered APDU's tag.
	Tag byte
	// Kind is the key family the tag selects.
	Kind Kind
	// SystemTitle is the title that formed the IV: the one carried by a
	// general-glo/ded-ciphering APDU (aliasing the input), else the one
	// given to Unwrap.
	SystemTitle []byte
	// Header is the clear SC and invocation counter.
	Header Header
}

// ParseCiphered splits a service-specific glo-/ded- or a
// general-glo-/general-ded-ciphering APDU without deciphering it. The
// returned content (SC || IC || ciphertext || tag) and carried system title
// (nil for service-specific APDUs) alias apdu.
func ParseCiphered(apdu []byte) (tag byte, kind Kind, systemTitle, content []byte, err error) {
	r := reader{op: "unwrap", b: apdu}
	tag, err = r.byte1("APDU tag")
	if err != nil {
		return 0, 0, nil, nil, err
	}
	switch tag {
	case TagGeneralGloCiphering, TagGeneralDedCiphering:
		kind = Global
		if tag == TagGeneralDedCiphering {
			kind = Dedicated
		}
		if systemTitle, err = r.octets("system-title"); err != nil {
			return tag, kind, nil, nil, err
		}
	default:
		if _, kind, err = plainTagOf(tag); err != nil {
			r.off = 0
			return tag, 0, nil, nil, r.fail(ErrUnknownTag, "0x%02X is not a glo-/ded- ciphered APDU", tag)
		}
	}
	if content, err = r.octets("ciphered content"); err != nil {
		return tag, kind, systemTitle, nil, err
	}
	if err = r.end(); err != nil {
		return tag, kind, systemTitle, nil, err
	}
	return tag, kind, systemTitle, content, nil
}

func plainTagOf(tag byte) (byte, Kind, error) {
	p, k, ok := PlainTag(tag)
	if !ok {
		return 0, 0, ErrUnknownTag
	}
	return p, k, nil
}

// Unwrap parses and deciphers a service-specific glo-/ded- or a
// general-glo-/general-ded-ciphering APDU, appending the plain APDU to dst.
// systemTitle is the sender's title as learnt in the AARQ/AARE; for general
// APDUs the carried title is used instead (a carried empty title falls back
// to systemTitle). The dedicated key is used for ded- tags. Unwrap does not
// check invocation counters; see [ReplayGuard.Unwrap].
func Unwrap(dst []byte, keys Keys, systemTitle, apdu []byte) ([]byte, Unwrapped, error) {
	tag, kind, carried, content, err := ParseCiphered(apdu)
	u := Unwrapped{Tag: tag, Kind: kind, SystemTitle: systemTitle}
	if err != nil {
		return dst, u, err
	}
	if len(carried) > 0 {
		u.SystemTitle = carried
	}
	if kind == Dedicated {
		keys = keys.ForDedicated()
	}
	out, h, err := open("unwrap", dst, keys, u.SystemTitle, content, nil)
	u.Header = h
	if err != nil {
		var e *Error
		if asError(err, &e) && e.Offset >= 0 {
			e.Offset += len(apdu) - len(content) // report positions within apdu
		}
		return out, u, err
	}
	return out, u, nil
}
