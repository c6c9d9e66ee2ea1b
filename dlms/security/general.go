package security

import (
	"crypto/ecdsa"
	"fmt"
)

// KeyInfoKind is the CHOICE of general-ciphering key-info.
type KeyInfoKind uint8

// Key-info choices.
const (
	KeyInfoIdentified KeyInfoKind = 0
	KeyInfoWrapped    KeyInfoKind = 1
	KeyInfoAgreed     KeyInfoKind = 2
)

// KeyInfo is the optional key-info of general-ciphering: which key ciphers
// the content, or the key itself wrapped under the master key, or the
// parameters of an ECDH agreement producing it.
type KeyInfo struct {
	Kind KeyInfoKind
	// KeyID is the identified key (KeyGlobalUnicast or KeyGlobalBroadcast).
	KeyID KeyID
	// KEKID is the wrapped-key kek-id (0: master key).
	KEKID uint8
	// KeyParameters is the agreed-key key-parameters octet string, e.g.
	// {KeyParamsOnePassDH}.
	KeyParameters []byte
	// KeyCipheredData is the wrapped key (wrapped-key) or the signed
	// ephemeral public key (agreed-key, one-pass DH).
	KeyCipheredData []byte
}

// GeneralCiphering is the general-ciphering APDU (tag 0xDD). Content is the
// ciphered content SC || IC || ciphertext || tag; the IV uses the
// originator system title.
type GeneralCiphering struct {
	TransactionID    []byte
	Originator       []byte
	Recipient        []byte
	DateTime         []byte
	OtherInformation []byte
	KeyInfo          *KeyInfo
	Content          []byte
}

func (g *GeneralCiphering) appendHeaderFields(dst []byte) []byte {
	for _, f := range [...][]byte{g.TransactionID, g.Originator, g.Recipient, g.DateTime, g.OtherInformation} {
		dst = appendLength(dst, len(f))
		dst = append(dst, f...)
	}
	return dst
}

// Append encodes the APDU.
func (g *GeneralCiphering) Append(dst []byte) []byte {
	dst = append(dst, TagGeneralCiphering)
	dst = g.appendHeaderFields(dst)
	if g.KeyInfo == nil {
		dst = append(dst, 0)
	} else {
		k := g.KeyInfo
		dst = append(dst, 1, byte(k.Kind))
		switch k.Kind {
		case KeyInfoIdentified:
			dst = append(dst, byte(k.KeyID))
		case KeyInfoWrapped:
			dst = append(dst, k.KEKID)
			dst = appendLength(dst, len(k.KeyCipheredData))
			dst = append(dst, k.KeyCipheredData...)
		default:
			dst = appendLength(dst, len(k.KeyParameters))
			dst = append(dst, k.KeyParameters...)
			dst = appendLength(dst, len(k.KeyCipheredData))
			dst = append(dst, k.KeyCipheredData...)
		}
	}
	dst = appendLength(dst, len(g.Content))
	return append(dst, g.Content...)
}

// ParseGeneralCiphering decodes a general-ciphering APDU; byte fields alias
// apdu.
func ParseGeneralCiphering(apdu []byte) (GeneralCiphering, error) {
	var g GeneralCiphering
	r := reader{op: "parse general-ciphering", b: apdu}
	tag, err := r.byte1("tag")
	if err != nil {
		return g, err
	}
	if tag != TagGeneralCiphering {
		r.off = 0
		return g, r.fail(ErrUnknownTag, "0x%02X is not general-ciphering", tag)
	}
	for _, f := range [...]struct {
		p    *[]byte
		name string
	}{
		{&g.TransactionID, "transaction-id"},
		{&g.Originator, "originator-system-title"},
		{&g.Recipient, "recipient-system-title"},
		{&g.DateTime, "date-time"},
		{&g.OtherInformation, "other-information"},
	} {
		if *f.p, err = r.octets(f.name); err != nil {
			return g, err
		}
	}
	present, err := r.byte1("key-info presence")
	if err != nil {
		return g, err
	}
	switch present {
	case 0:
	case 1:
		k := &KeyInfo{}
		c, err := r.byte1("key-info choice")
		if err != nil {
			return g, err
		}
		k.Kind = KeyInfoKind(c)
		switch k.Kind {
		case KeyInfoIdentified:
			id, err := r.byte1("key-id")
			if err != nil {
				return g, err
			}
			k.KeyID = KeyID(id)
		case KeyInfoWrapped:
			if k.KEKID, err = r.byte1("kek-id"); err != nil {
				return g, err
			}
			if k.KeyCipheredData, err = r.octets("key-ciphered-data"); err != nil {
				return g, err
			}
		case KeyInfoAgreed:
			if k.KeyParameters, err = r.octets("key-parameters"); err != nil {
				return g, err
			}
			if k.KeyCipheredData, err = r.octets("key-ciphered-data"); err != nil {
				return g, err
			}
		default:
			r.off--
			return g, r.fail(ErrUnsupported, "key-info choice %d", c)
		}
		g.KeyInfo = k
	default:
		r.off--
		return g, r.fail(ErrLength, "key-info presence flag 0x%02X", present)
	}
	if g.Content, err = r.octets("ciphered-content"); err != nil {
		return g, err
	}
	return g, r.end()
}

// extraAAD returns the additional authenticated data that suites 1 and 2
// append after SC || AK for general-ciphering: the length-prefixed
// transaction-id, originator and recipient system titles, date-time and
// other-information, as encoded in the APDU. Suite 0 adds nothing.
func (g *GeneralCiphering) extraAAD(sc SecurityControl) []byte {
	if sc.Suite() == Suite0 {
		return nil
	}
	return g.appendHeaderFields(nil)
}

// Seal ciphers plain with the originator system title and ic and stores
// the ciphered content in g.Content. keys.Unicast must hold the key the
// key-info designates (the identified key, the unwrapped key or the agreed
// key); Seal does not interpret key-info.
func (g *GeneralCiphering) Seal(sc SecurityControl, keys Keys, ic uint32, plain []byte) error {
	c, err := seal("general-ciphering", nil, sc, keys, g.Originator, ic, plain, g.extraAAD(sc), false)
	if err != nil {
		return err
	}
	g.Content = c
	return nil
}

// Open deciphers g.Content, appending the plain APDU to dst. As with Seal,
// keys.Unicast must hold the key the key-info designates.
func (g *GeneralCiphering) Open(dst []byte, keys Keys) ([]byte, Header, error) {
	var sc SecurityControl
	if len(g.Content) > 0 {
		sc = SecurityControl(g.Content[0])
	}
	return open("general-ciphering", dst, keys, g.Originator, g.Content, g.extraAAD(sc))
}

// GeneralSigning is the general-signing APDU (tag 0xDF) of suites 1 and 2:
// content (usually itself a ciphered APDU) signed by the originator.
type GeneralSigning struct {
	TransactionID    []byte
	Originator       []byte
	Recipient        []byte
	DateTime         []byte
	OtherInformation []byte
	Content          []byte
	Signature        []byte
}

// SignedData returns the bytes the signature covers: the APDU encoding from
// the tag up to and including the content, that is everything but the
// signature field.
func (g *GeneralSigning) SignedData() []byte {
	dst := []byte{TagGeneralSigning}
	for _, f := range [...][]byte{g.TransactionID, g.Originator, g.Recipient, g.DateTime, g.OtherInformation, g.Content} {
		dst = appendLength(dst, len(f))
		dst = append(dst, f...)
	}
	return dst
}

// Append encodes the APDU.
func (g *GeneralSigning) Append(dst []byte) []byte {
	dst = append(dst, g.SignedData()...)
	dst = appendLength(dst, len(g.Signature))
	return append(dst, g.Signature...)
}

// Sign computes Signature with the originator's P-256 signing key.
func (g *GeneralSigning) Sign(priv *ecdsa.PrivateKey) error {
	sig, err := Sign(priv, g.SignedData())
	if err != nil {
		return err
	}
	g.Signature = sig
	return nil
}

// Verify checks Signature with the originator's public signing key.
func (g *GeneralSigning) Verify(pub *ecdsa.PublicKey) error {
	return Verify(pub, g.SignedData(), g.Signature)
}

// ParseGeneralSigning decodes a general-signing APDU; fields alias apdu.
func ParseGeneralSigning(apdu []byte) (GeneralSigning, error) {
	var g GeneralSigning
	r := reader{op: "parse general-signing", b: apdu}
	tag, err := r.byte1("tag")
	if err != nil {
		return g, err
	}
	if tag != TagGeneralSigning {
		r.off = 0
		return g, r.fail(ErrUnknownTag, "0x%02X is not general-signing", tag)
	}
	for _, f := range [...]struct {
		p    *[]byte
		name string
	}{
		{&g.TransactionID, "transaction-id"},
		{&g.Originator, "originator-system-title"},
		{&g.Recipient, "recipient-system-title"},
		{&g.DateTime, "date-time"},
		{&g.OtherInformation, "other-information"},
		{&g.Content, "content"},
		{&g.Signature, "signature"},
	} {
		if *f.p, err = r.octets(f.name); err != nil {
			return g, err
		}
	}
	return g, r.end()
}

// String summarises the APDU without key material.
func (g *GeneralCiphering) String() string {
	ki := "none"
	if g.KeyInfo != nil {
		ki = fmt.Sprintf("choice %d", g.KeyInfo.Kind)
	}
	return fmt.Sprintf("general-ciphering{transaction-id %X, originator %X, recipient %X, key-info %s, content %d bytes}", g.TransactionID, g.Originator, g.Recipient, ki, len(g.Content))
}
