package security

import (
	"fmt"
	"strings"
)

// SecurityControl is the security control byte (SC) that opens every
// ciphered content: bits 0-3 the suite id, then the policy bits.
type SecurityControl byte

// Security control bits.
const (
	Authentication SecurityControl = 0x10
	Encryption     SecurityControl = 0x20
	BroadcastKey   SecurityControl = 0x40
	Compression    SecurityControl = 0x80

	// AuthenticatedEncryption is the usual policy: both bits.
	AuthenticatedEncryption = Authentication | Encryption
)

// Suite is a DLMS security suite id.
type Suite uint8

// Security suites of the Green Book.
const (
	// Suite0 is AES-GCM-128 with AES-128 key wrap.
	Suite0 Suite = 0
	// Suite1 is AES-GCM-128, ECDH/ECDSA P-256, SHA-256.
	Suite1 Suite = 1
	// Suite2 is AES-GCM-256, ECDH/ECDSA P-384, SHA-384.
	Suite2 Suite = 2
)

func (s Suite) keySize() (int, error) {
	switch s {
	case Suite0, Suite1:
		return 16, nil
	case Suite2:
		return 32, nil
	}
	return 0, fmt.Errorf("%w: %d", ErrUnknownSuite, uint8(s))
}

// NewSecurityControl builds an SC byte for suite with the given policy bits
// (any of Authentication, Encryption, BroadcastKey).
func NewSecurityControl(s Suite, policy SecurityControl) SecurityControl {
	return SecurityControl(s&0x0F) | policy&0xF0
}

// Suite returns the suite id in bits 0-3.
func (sc SecurityControl) Suite() Suite { return Suite(sc & 0x0F) }

// Authenticated reports whether a GMAC tag is present.
func (sc SecurityControl) Authenticated() bool { return sc&Authentication != 0 }

// Encrypted reports whether the information is enciphered.
func (sc SecurityControl) Encrypted() bool { return sc&Encryption != 0 }

// String shows the suite and set bits, e.g. "SC(0x30 suite0 auth+enc)".
func (sc SecurityControl) String() string {
	var parts []string
	if sc.Authenticated() {
		parts = append(parts, "auth")
	}
	if sc.Encrypted() {
		parts = append(parts, "enc")
	}
	if sc&BroadcastKey != 0 {
		parts = append(parts, "broadcast")
	}
	if sc&Compression != 0 {
		parts = append(parts, "compressed")
	}
	p := "none"
	if len(parts) > 0 {
		p = strings.Join(parts, "+")
	}
	return fmt.Sprintf("SC(0x%02X suite%d %s)", byte(sc), sc.Suite(), p)
}

// Header is the clear part of a ciphered content: SC and invocation counter.
type Header struct {
	SC SecurityControl
	IC uint32
}
