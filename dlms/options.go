package dlms

import (
	"crypto/ecdsa"
	"fmt"
	"log/slog"
	"time"

	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/obis"
)

// Link selects the lower layer Dial puts under an association.
type Link uint8

// Links.
const (
	// LinkWrapper is the IEC 62056-47 TCP wrapper.
	LinkWrapper Link = iota
	// LinkHDLC is IEC 62056-46 HDLC over a TCP stream (a terminal server
	// or a meter's TCP-HDLC port), optionally after a mode E sign-on.
	LinkHDLC
)

var linkNames = [...]string{LinkWrapper: "wrapper", LinkHDLC: "hdlc"}

// String returns the setting name: "wrapper" or "hdlc".
func (l Link) String() string {
	if int(l) < len(linkNames) {
		return linkNames[l]
	}
	return fmt.Sprintf("link(%d)", uint8(l))
}

// MarshalText returns the setting name; an unknown link fails.
func (l Link) MarshalText() ([]byte, error) {
	if int(l) >= len(linkNames) {
		return nil, fmt.Errorf("dlms: marshal %s: unknown link", l)
	}
	return []byte(linkNames[l]), nil
}

// UnmarshalText reads a setting name. The empty text is LinkWrapper, as
// an empty manifest column or secrets field has always meant.
func (l *Link) UnmarshalText(b []byte) error {
	v, err := ParseLink(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// ParseLink reads a setting name: wrapper or hdlc ("" is wrapper).
func ParseLink(s string) (Link, error) {
	if s == "" {
		return LinkWrapper, nil
	}
	for l, n := range linkNames {
		if s == n {
			return Link(l), nil
		}
	}
	return 0, fmt.Errorf("dlms: link %q: want wrapper or hdlc", s)
}

// Secret holds an LLS password or an HLS secret. Like security.Key it keeps
// its bytes behind a pointer and never prints them, so logging an Options
// value does not leak credentials.
type Secret struct {
	b *[]byte
}

// NewSecret copies b into a Secret.
func NewSecret(b []byte) Secret {
	c := append([]byte(nil), b...)
	return Secret{b: &c}
}

// IsZero reports whether no secret is set.
func (s Secret) IsZero() bool { return s.b == nil }

// Bytes returns a copy of the secret; never log it.
func (s Secret) Bytes() []byte {
	if s.b == nil {
		return nil
	}
	return append([]byte(nil), (*s.b)...)
}

func (s Secret) raw() []byte {
	if s.b == nil {
		return nil
	}
	return *s.b
}

// String returns a redacted description.
func (s Secret) String() string {
	if s.b == nil {
		return "secret(unset)"
	}
	return "secret(redacted)"
}

// Format makes every fmt verb print the redacted form.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// GoString keeps %#v redacted.
func (s Secret) GoString() string { return s.String() }

// LogValue keeps slog output redacted.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// ServerAddress addresses the logical device an association talks to.
type ServerAddress struct {
	// Logical is the logical device: the wrapper destination wPort or the
	// HDLC upper address. 0 means 1, the management logical device.
	Logical uint16
	// Physical is the HDLC lower address (ignored by the wrapper and when
	// Size is 1).
	Physical uint16
	// Size is the HDLC server address length, 1, 2 or 4 bytes; 0 means 1
	// when Physical is 0, else 2.
	Size int
}

// Conformance defaults.
const (
	// DefaultConformance is the proposal of the widespread Gurux client:
	// general-protection, block transfer with get, set and action,
	// multiple-references, access, get, set, selective-access and action.
	DefaultConformance = apdu.Conformance(0x401E5D)
	// DefaultMaxPDU is the client-max-receive-pdu-size proposed by default.
	DefaultMaxPDU = 0xFFFF
	// DefaultTimeout bounds one request/response exchange when the caller's
	// context has no earlier deadline.
	DefaultTimeout = 20 * time.Second
	// DefaultMaxResponse bounds the reassembly of a block-transferred
	// response.
	DefaultMaxResponse = 16 << 20
)

// DefaultInvocationCounterOBIS is the Data object (class 1, attribute 2)
// where the counter pre-read finds the last invocation counter the server
// has seen from the client.
var DefaultInvocationCounterOBIS = obis.Code{0, 0, 43, 1, 0, 255}

// Options configures one association. The zero value is a public client
// (SAP 16) without security on the wrapper, logical device 1.
type Options struct {
	// Link is the lower layer Dial sets up.
	Link Link
	// ModeE performs an IEC 62056-21 mode E sign-on before HDLC.
	ModeE bool
	// ModeEAddress is the device address of the sign-on request (empty
	// addresses any meter on the line).
	ModeEAddress string

	// ClientSAP is the client's SAP: 16 public, 17 reading (LLS), 1
	// management (HLS), or any other. 0 means 16.
	ClientSAP uint16
	// Server addresses the logical device.
	Server ServerAddress

	// Authentication is the mechanism proposed in the AARQ.
	Authentication security.Mechanism
	// Password is the LLS password or the HLS-SHA256 secret.
	Password Secret
	// Challenge fixes CtoS for HLS (8..64 bytes). Nil draws 16 random
	// bytes, which is what production code must do; a fixed challenge
	// exists to reproduce recorded sessions.
	Challenge []byte

	// Policy is the ciphering applied to the InitiateRequest and every
	// APDU after the association.
	Policy security.Policy
	// Suite is the security suite (0: AES-GCM-128; 1 with ECDSA).
	Suite security.Suite
	// Keys are EK (Unicast), AK (Authentication) and an optional
	// dedicated key proposed in the InitiateRequest.
	Keys security.Keys
	// SystemTitle is the client's 8-byte system title.
	SystemTitle []byte
	// ServerSystemTitle is the server's system title when known in
	// advance; the AARE's responding-AP-title takes precedence.
	ServerSystemTitle []byte
	// SigningKey is the client's ECDSA P-256 key for HLS-ECDSA.
	SigningKey *ecdsa.PrivateKey
	// ServerPublicKey verifies the server's HLS-ECDSA signature.
	ServerPublicKey *ecdsa.PublicKey

	// InvocationCounter is the first invocation counter value to use.
	InvocationCounter uint32
	// PersistCounter, when set, durably stores the value the counter must
	// resume from before any value below it is used.
	PersistCounter func(next uint32) error
	// Counter, when set, replaces InvocationCounter and PersistCounter, so
	// that several clients, or a caller, can share one sending counter.
	Counter *security.Counter
	// ReadInvocationCounter first reads 0.0.43.1.0.255 attribute 2 as the
	// public client (SAP 16) on the same connection and continues from the
	// value read plus one (or InvocationCounter if higher), as the Gurux
	// client does. It cannot be combined with Counter.
	ReadInvocationCounter bool
	// InvocationCounterOBIS overrides the object the pre-read and
	// ReadInvocationCounter read; the zero value means
	// DefaultInvocationCounterOBIS.
	InvocationCounterOBIS obis.Code
	// ResyncInvocationCounter makes Dial survive a meter that refuses the
	// invocation counter, for a client that keeps its counter (Counter or
	// InvocationCounter) rather than reading it every time. When the
	// association fails with an InvocationCounterError carrying the
	// expected value, the counter moves to it; when the refusal gives no
	// value, or the association is rejected for no stated reason, Dial
	// reads the invocation counter object (ReadInvocationCounter) and,
	// only if it shows the meter has seen our counter already, moves to
	// the value read plus one. Then it associates once more, on a new
	// connection. The jump goes through Counter.AdvanceTo, so a persisted
	// counter makes one write for it and the retry uses no new window.
	// Client.Resync reports what was done. It cannot be combined with
	// ReadInvocationCounter, and DialSerial ignores it.
	ResyncInvocationCounter bool

	// GeneralProtection protects the APDUs after the association with
	// general-glo-ciphering (or general-ded-ciphering) when the server
	// grants general-protection, instead of the service-specific glo-
	// (ded-) APDUs. It also keeps general-protection in a ciphered
	// conformance proposal.
	GeneralProtection bool
	// ProtectedRelease sends the RLRQ of a ciphered association with a
	// ciphered InitiateRequest in its user-information. Without it the
	// RLRQ is plain, and the EXCEPTION-response some servers answer it
	// with is accepted as a release.
	ProtectedRelease bool

	// Conformance is the proposed conformance block; 0 means
	// DefaultConformance. With ciphering but without GeneralProtection the
	// general-protection bit is removed from it.
	Conformance apdu.Conformance
	// MaxPDU is the client-max-receive-pdu-size; 0 means DefaultMaxPDU.
	MaxPDU uint16
	// MaxProfileEntries bounds the entries ReadProfileFrom asks for in
	// one request by entry; 0 means no bound. A meter that refuses a
	// request gets one for half as many entries.
	MaxProfileEntries int
	// MaxResponse bounds a reassembled block-transferred response; 0
	// means DefaultMaxResponse.
	MaxResponse int
	// Timeout bounds each exchange (and Dial) when the context allows
	// longer; 0 means DefaultTimeout, negative leaves it to the context.
	Timeout time.Duration
	// Strict decodes responses strictly instead of with apdu.Tolerant
	// (which survives trailing junk after a value and wrong BER lengths
	// in an RLRE).
	Strict bool
	// Name identifies the meter in errors; Dial defaults it to the
	// address dialled.
	Name string
	// Gateway, when set, reaches the meter through a data concentrator:
	// the address dialled is the concentrator's, and every APDU travels
	// in a gateway request to the meter's physical address (gateway.go).
	Gateway *Gateway
}

func (o *Options) clientSAP() uint16 {
	if o.ClientSAP == 0 {
		return 16
	}
	return o.ClientSAP
}

func (o *Options) logical() uint16 {
	if o.Server.Logical == 0 {
		return 1
	}
	return o.Server.Logical
}

func (o *Options) ciphered() bool { return o.Policy != security.PolicyNone }

// usesCounter reports whether the association sends invocation counters.
func (o *Options) usesCounter() bool {
	return o.ciphered() || o.Authentication == security.MechanismHLSGMAC
}

func (o *Options) conformance() apdu.Conformance {
	c := o.Conformance
	if c == 0 {
		c = DefaultConformance
	}
	if o.ciphered() && !o.GeneralProtection {
		c &^= apdu.ConformanceGeneralProtection
	}
	return c
}

func (o *Options) maxPDU() uint16 {
	if o.MaxPDU == 0 {
		return DefaultMaxPDU
	}
	return o.MaxPDU
}

func (o *Options) maxResponse() int {
	if o.MaxResponse <= 0 {
		return DefaultMaxResponse
	}
	return o.MaxResponse
}

func (o *Options) timeout() time.Duration {
	if o.Timeout == 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

func (o *Options) decoder() apdu.Options {
	if o.Strict {
		return apdu.Options{}
	}
	return apdu.Tolerant
}

// validate checks the combinations an association cannot work with.
func (o *Options) validate() error {
	switch o.Authentication {
	case security.MechanismNone, security.MechanismLLS, security.MechanismHLSGMAC, security.MechanismHLSSHA256, security.MechanismHLSECDSA:
	default:
		return fmt.Errorf("dlms: unsupported authentication %s", o.Authentication)
	}
	if !o.Policy.Valid() {
		return fmt.Errorf("dlms: unknown security policy %d", o.Policy)
	}
	needTitle := o.ciphered() || o.Authentication.IsHLS()
	if needTitle && len(o.SystemTitle) != security.SystemTitleSize {
		return fmt.Errorf("dlms: %s/%s needs an 8-byte client system title, have %d bytes", o.Authentication, o.Policy, len(o.SystemTitle))
	}
	if (o.ciphered() || o.Authentication == security.MechanismHLSGMAC) && o.Keys.Unicast.IsZero() {
		return fmt.Errorf("dlms: %s/%s needs the global unicast key (EK): %w", o.Authentication, o.Policy, security.ErrMissingKey)
	}
	if o.Policy == security.PolicyAuthenticated || o.Policy == security.PolicyAuthenticatedEncrypted || o.Authentication == security.MechanismHLSGMAC {
		if o.Keys.Authentication.IsZero() {
			return fmt.Errorf("dlms: %s/%s needs the authentication key (AK): %w", o.Authentication, o.Policy, security.ErrMissingKey)
		}
	}
	if (o.Authentication == security.MechanismLLS || o.Authentication == security.MechanismHLSSHA256) && o.Password.IsZero() {
		return fmt.Errorf("dlms: %s needs a password", o.Authentication)
	}
	if o.Authentication == security.MechanismHLSECDSA && (o.SigningKey == nil || o.ServerPublicKey == nil) {
		return fmt.Errorf("dlms: HLS-ECDSA needs the client signing key and the server public key")
	}
	if o.Challenge != nil && (len(o.Challenge) < security.MinChallenge || len(o.Challenge) > security.MaxChallenge) {
		return fmt.Errorf("dlms: challenge of %d bytes: %w", len(o.Challenge), security.ErrChallenge)
	}
	if o.ReadInvocationCounter && o.Counter != nil {
		return fmt.Errorf("dlms: ReadInvocationCounter and Counter are exclusive")
	}
	if o.ReadInvocationCounter && o.ResyncInvocationCounter {
		return fmt.Errorf("dlms: ReadInvocationCounter and ResyncInvocationCounter are exclusive")
	}
	if o.Link == LinkHDLC && o.clientSAP() > 0x7F {
		return fmt.Errorf("dlms: HDLC client SAP %d does not fit 7 bits", o.clientSAP())
	}
	return nil
}
