package osgp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/amigo-ami/amigo/psem"
)

// MessageCode is the ISO/IEC 14908-1 application message code that
// carries OSGP's secured table messages in amigo's framing.
const MessageCode = 0x10

// Suite is a security suite: the legacy OMA digest with RC4, or AES-128.
type Suite uint8

const (
	// Legacy is OSGP's original security: the OMA digest authenticates,
	// RC4 keyed from the same 96-bit key encrypts. Both are broken; a
	// meter on it is exposed.
	Legacy Suite = 0
	// AES128 is the AES-128 pre-shared key suite: AES-GCM over the
	// message, authenticating the addressing and the sequence number.
	AES128 Suite = 1
)

func (s Suite) String() string {
	switch s {
	case Legacy:
		return "legacy"
	case AES128:
		return "aes"
	}
	return fmt.Sprintf("suite %d", uint8(s))
}

// ParseSuite reads the manifest's name of a suite: "legacy" or "aes".
func ParseSuite(s string) (Suite, error) {
	switch s {
	case "legacy":
		return Legacy, nil
	case "aes":
		return AES128, nil
	}
	return 0, fmt.Errorf("osgp: security %q is neither legacy nor aes", s)
}

// KeySize is the key length of the suite: 12 octets for legacy, 16 for
// AES-128.
func (s Suite) KeySize() int {
	if s == Legacy {
		return OMAKeySize
	}
	return 16
}

func (s Suite) tagSize() int {
	if s == Legacy {
		return DigestSize
	}
	return 16
}

// Errors of the security layer.
var (
	// ErrDigest: the message's digest or tag does not verify. A wrong key,
	// a tampered message, or someone asking for verifications.
	ErrDigest = errors.New("osgp: digest does not verify")
	// ErrSuite: the message is under another suite than the key's.
	ErrSuite = errors.New("osgp: message under another security suite")
	ErrKey   = errors.New("osgp: key of the wrong length")
)

// Keys are one meter's key under its suite.
type Keys struct {
	Suite Suite
	Key   []byte
}

func (k Keys) check() error {
	if k.Suite > AES128 {
		return fmt.Errorf("osgp: unknown %s", k.Suite)
	}
	if len(k.Key) != k.Suite.KeySize() {
		return fmt.Errorf("%w: %d octets for %s, want %d", ErrKey, len(k.Key), k.Suite, k.Suite.KeySize())
	}
	return nil
}

const (
	flagEncrypted = 0x80
	flagRefusal   = 0x40
	flagSuite     = 0x0F
	secHeader     = 1 + 1 + 4 // message code, flags, sequence number
)

// Seal builds the APDU of a secured message: the message code, a flags
// octet (encrypted, suite), the 4-octet sequence number and the body,
// followed by the tag. hdr is the frame's header (see Frame), which the
// tag covers too. Legacy: the tag is the OMA digest of hdr, the APDU's
// first six octets and the plain body; with encrypt the body is then
// RC4-encrypted. AES128: the body is always encrypted with AES-GCM, the
// nonce made of the frame's kind and the sequence number.
func Seal(k Keys, hdr []byte, kind Kind, seq uint32, body []byte, encrypt bool) ([]byte, error) {
	return seal(k, hdr, byte(kind)+1, 0, seq, body, encrypt)
}

// SealRefusal builds the meter's refusal of a sequence number not above
// last, its last accepted one: a response body (psem.ISSS with last)
// sealed under last and without the frame's header, so that refusing
// any number of replayed requests only ever repeats one message, and an
// AES-GCM nonce never protects two different ones.
func SealRefusal(k Keys, last uint32) ([]byte, error) {
	body, err := AppendResponse(nil, OpRead, Response{Code: psem.ISSS, Data: binary.BigEndian.AppendUint32(nil, last)})
	if err != nil {
		return nil, err
	}
	return seal(k, nil, dirRefusal, flagRefusal, last, body, true)
}

const dirRefusal = 3

func seal(k Keys, hdr []byte, dir, extra byte, seq uint32, body []byte, encrypt bool) ([]byte, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	flags := byte(k.Suite) | extra
	if encrypt || k.Suite == AES128 {
		flags |= flagEncrypted
	}
	b := make([]byte, secHeader, secHeader+len(body)+k.Suite.tagSize())
	b[0], b[1] = MessageCode, flags
	binary.BigEndian.PutUint32(b[2:], seq)
	if k.Suite == AES128 {
		g, err := gcm(k.Key)
		if err != nil {
			return nil, err
		}
		return g.Seal(b, nonce(dir, seq), body, append(append([]byte(nil), hdr...), b...)), nil
	}
	d, err := OMADigest(k.Key, append(append(append([]byte(nil), hdr...), b...), body...))
	if err != nil {
		return nil, err
	}
	p := len(b)
	b = append(b, body...)
	if flags&flagEncrypted != 0 {
		if err := rc4XOR(k.Key, dir, seq, b[p:]); err != nil {
			return nil, err
		}
	}
	return append(b, d[:]...), nil
}

// Sealed is an opened secured message.
type Sealed struct {
	Seq       uint32
	Encrypted bool
	// Refusal marks the meter's refusal of a stale sequence number (see
	// SealRefusal): Seq is the meter's last accepted one.
	Refusal bool
	Body    []byte
}

// PeekSeq returns a secured APDU's suite and sequence number, unverified.
func PeekSeq(apdu []byte) (Suite, uint32, error) {
	if len(apdu) < secHeader || apdu[0] != MessageCode {
		return 0, 0, fmt.Errorf("%w: not a secured OSGP message", ErrFrame)
	}
	return Suite(apdu[1] & flagSuite), binary.BigEndian.Uint32(apdu[2:]), nil
}

// Open verifies and decrypts a secured APDU that arrived in a frame with
// header hdr and kind. A message under another suite than k's is refused
// with ErrSuite, one whose tag fails with ErrDigest.
func Open(k Keys, hdr []byte, kind Kind, apdu []byte) (Sealed, error) {
	var s Sealed
	if err := k.check(); err != nil {
		return s, err
	}
	suite, seq, err := PeekSeq(apdu)
	if err != nil {
		return s, err
	}
	if suite != k.Suite {
		return s, fmt.Errorf("%w: %s, the key is for %s", ErrSuite, suite, k.Suite)
	}
	if len(apdu) < secHeader+k.Suite.tagSize() {
		return s, fmt.Errorf("%w: %d octets leave no room for the tag", ErrFrame, len(apdu))
	}
	s.Seq, s.Encrypted, s.Refusal = seq, apdu[1]&flagEncrypted != 0, apdu[1]&flagRefusal != 0
	head := apdu[:secHeader]
	dir := byte(kind) + 1
	if s.Refusal {
		if kind != KindResponse {
			return s, fmt.Errorf("%w: a refusal in a request", ErrFrame)
		}
		dir, hdr = dirRefusal, nil
	}
	if k.Suite == AES128 {
		if !s.Encrypted {
			return s, fmt.Errorf("%w: AES-128 message not encrypted", ErrFrame)
		}
		g, err := gcm(k.Key)
		if err != nil {
			return s, err
		}
		body, err := g.Open(nil, nonce(dir, seq), apdu[secHeader:], append(append([]byte(nil), hdr...), head...))
		if err != nil {
			return s, ErrDigest
		}
		s.Body = body
		return s, nil
	}
	n := len(apdu) - DigestSize
	body := append([]byte(nil), apdu[secHeader:n]...)
	if s.Encrypted {
		if err := rc4XOR(k.Key, dir, seq, body); err != nil {
			return s, err
		}
	}
	d, err := OMADigest(k.Key, append(append(append([]byte(nil), hdr...), head...), body...))
	if err != nil {
		return s, err
	}
	if subtle.ConstantTimeCompare(d[:], apdu[n:]) != 1 {
		return s, ErrDigest
	}
	s.Body = body
	return s, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	c, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("osgp: aes: %w", err)
	}
	return cipher.NewGCM(c)
}

// nonce is unique per key as long as sequence numbers are never reused:
// a request and its response share the number but not the direction.
func nonce(dir byte, seq uint32) []byte {
	n := make([]byte, 12)
	n[0] = dir
	binary.BigEndian.PutUint32(n[8:], seq)
	return n
}
