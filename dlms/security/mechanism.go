package security

import (
	"crypto/rand"
	"fmt"
)

// Mechanism is an authentication mechanism id, the last arc of the
// mechanism-name OID 2.16.756.5.8.2.N carried in AARQ/AARE.
type Mechanism uint8

// Authentication mechanisms of the Green Book.
const (
	MechanismNone      Mechanism = 0 // lowest level security
	MechanismLLS       Mechanism = 1 // low level security (password)
	MechanismHLS       Mechanism = 2 // HLS, manufacturer specific
	MechanismHLSMD5    Mechanism = 3 // HLS with MD5 (deprecated)
	MechanismHLSSHA1   Mechanism = 4 // HLS with SHA-1 (deprecated)
	MechanismHLSGMAC   Mechanism = 5 // HLS with GMAC
	MechanismHLSSHA256 Mechanism = 6 // HLS with SHA-256
	MechanismHLSECDSA  Mechanism = 7 // HLS with ECDSA
	maxMechanism                 = MechanismHLSECDSA
	oidPrefixLen                 = 6
	mechanismArc       byte      = 2
	contextArc         byte      = 1
)

// DLMS UA OID root 2.16.756.5.8 in BER: 2*40+16 = 0x60, 756 = 0x85 0x74.
var dlmsOIDRoot = [5]byte{0x60, 0x85, 0x74, 0x05, 0x08}

// mechanismNames are the setting names of the mechanisms, as the CLI,
// manifests and sealed meter secrets spell them.
var mechanismNames = [...]string{
	MechanismNone:      "none",
	MechanismLLS:       "lls",
	MechanismHLS:       "hls",
	MechanismHLSMD5:    "hls-md5",
	MechanismHLSSHA1:   "hls-sha1",
	MechanismHLSGMAC:   "hls-gmac",
	MechanismHLSSHA256: "hls-sha256",
	MechanismHLSECDSA:  "hls-ecdsa",
}

// String returns the setting name, e.g. "hls-gmac".
func (m Mechanism) String() string {
	if m <= maxMechanism {
		return mechanismNames[m]
	}
	return fmt.Sprintf("mechanism(%d)", uint8(m))
}

// MarshalText returns the setting name; an unknown mechanism fails.
func (m Mechanism) MarshalText() ([]byte, error) {
	if m > maxMechanism {
		return nil, errOp("marshal "+m.String(), ErrMechanism)
	}
	return []byte(mechanismNames[m]), nil
}

// UnmarshalText reads a setting name. The empty text is MechanismNone, as
// an empty manifest column or secrets field has always meant.
func (m *Mechanism) UnmarshalText(b []byte) error {
	v, err := ParseMechanism(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// ParseMechanism reads a setting name: none, lls, hls, hls-md5, hls-sha1,
// hls-gmac, hls-sha256 or hls-ecdsa ("" is none).
func ParseMechanism(s string) (Mechanism, error) {
	if s == "" {
		return MechanismNone, nil
	}
	for m, n := range mechanismNames {
		if s == n {
			return Mechanism(m), nil
		}
	}
	return 0, errOp(fmt.Sprintf("mechanism %q", s), ErrMechanism)
}

// IsHLS reports whether m is a 4-pass high level security mechanism.
func (m Mechanism) IsHLS() bool { return m >= MechanismHLS && m <= maxMechanism }

// Name returns the BER contents of the mechanism-name OID 2.16.756.5.8.2.m,
// i.e. 60 85 74 05 08 02 0m (without the 06 tag and length the AARQ adds
// around it, or the 8B implicit tag).
func (m Mechanism) Name() []byte {
	return append(dlmsOIDRoot[:], mechanismArc, byte(m))
}

// ParseMechanismName decodes mechanism-name OID contents.
func ParseMechanismName(oid []byte) (Mechanism, error) {
	v, err := parseDLMSOID(oid, mechanismArc, byte(maxMechanism))
	return Mechanism(v), err
}

// ApplicationContext is the last arc of the application-context-name OID
// 2.16.756.5.8.1.N.
type ApplicationContext uint8

// Application contexts.
const (
	ContextLN          ApplicationContext = 1 // logical name referencing, no ciphering
	ContextSN          ApplicationContext = 2 // short name referencing, no ciphering
	ContextLNCiphering ApplicationContext = 3 // logical name referencing with ciphering
	ContextSNCiphering ApplicationContext = 4 // short name referencing with ciphering
	maxContext                            = ContextSNCiphering
)

// String names the context.
func (c ApplicationContext) String() string {
	switch c {
	case ContextLN:
		return "LN"
	case ContextSN:
		return "SN"
	case ContextLNCiphering:
		return "LN with ciphering"
	case ContextSNCiphering:
		return "SN with ciphering"
	}
	return fmt.Sprintf("context(%d)", uint8(c))
}

// Ciphered reports whether the context allows ciphered APDUs.
func (c ApplicationContext) Ciphered() bool {
	return c == ContextLNCiphering || c == ContextSNCiphering
}

// Name returns the BER contents of the OID 2.16.756.5.8.1.c:
// 60 85 74 05 08 01 0c.
func (c ApplicationContext) Name() []byte {
	return append(dlmsOIDRoot[:], contextArc, byte(c))
}

// ParseApplicationContextName decodes application-context-name OID contents.
func ParseApplicationContextName(oid []byte) (ApplicationContext, error) {
	v, err := parseDLMSOID(oid, contextArc, byte(maxContext))
	return ApplicationContext(v), err
}

func parseDLMSOID(oid []byte, arc, maxv byte) (byte, error) {
	const op = "parse OID"
	if len(oid) != oidPrefixLen+1 {
		return 0, errAt(op, 0, fmt.Errorf("%w: OID of %d bytes, want 7", ErrMechanism, len(oid)))
	}
	for i, b := range dlmsOIDRoot {
		if oid[i] != b {
			return 0, errAt(op, i, fmt.Errorf("%w: not under 2.16.756.5.8", ErrMechanism))
		}
	}
	if oid[5] != arc {
		return 0, errAt(op, 5, fmt.Errorf("%w: arc %d, want %d", ErrMechanism, oid[5], arc))
	}
	if oid[6] > maxv || (arc == contextArc && oid[6] == 0) {
		return 0, errAt(op, 6, fmt.Errorf("%w: unknown id %d", ErrMechanism, oid[6]))
	}
	return oid[6], nil
}

// Challenge sizes allowed for CtoS and StoC.
const (
	MinChallenge = 8
	MaxChallenge = 64
)

// NewChallenge returns n random bytes from crypto/rand for use as CtoS or
// StoC; n must be within 8..64.
func NewChallenge(n int) ([]byte, error) {
	if n < MinChallenge || n > MaxChallenge {
		return nil, errOp("challenge", fmt.Errorf("%w: %d", ErrChallenge, n))
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, errOp("challenge", err)
	}
	return b, nil
}

func checkChallenge(op string, c []byte) error {
	if len(c) < MinChallenge || len(c) > MaxChallenge {
		return errOp(op, fmt.Errorf("%w: %d bytes", ErrChallenge, len(c)))
	}
	return nil
}
