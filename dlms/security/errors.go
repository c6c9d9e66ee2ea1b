package security

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error returned by this package either is one of
// these or wraps one (usually inside an [*Error]), so callers test with
// errors.Is.
var (
	// ErrTruncated reports input that ends before a field it announces.
	ErrTruncated = errors.New("truncated input")
	// ErrTrailing reports bytes left over after a complete structure.
	ErrTrailing = errors.New("trailing bytes")
	// ErrLength reports a malformed or oversized A-XDR/BER length.
	ErrLength = errors.New("invalid length encoding")
	// ErrAuthentication reports a GMAC/GCM tag that does not verify: wrong
	// key, wrong system title or IC, or a tampered frame.
	ErrAuthentication = errors.New("authentication tag mismatch")
	// ErrUnknownSuite reports a security suite id other than 0, 1 or 2.
	ErrUnknownSuite = errors.New("unknown security suite")
	// ErrUnsupported reports a feature that is valid DLMS but not
	// implemented here (compression, an unknown key-info choice...).
	ErrUnsupported = errors.New("unsupported security feature")
	// ErrUnknownTag reports an APDU tag that is not a ciphered APDU or has
	// no ciphered counterpart.
	ErrUnknownTag = errors.New("unknown APDU tag")
	// ErrKeySize reports a key whose length does not fit its use.
	ErrKeySize = errors.New("invalid key size")
	// ErrMissingKey reports an operation needing a key that was not set.
	ErrMissingKey = errors.New("key not set")
	// ErrSystemTitle reports a system title that is not 8 bytes long.
	ErrSystemTitle = errors.New("system title must be 8 bytes")
	// ErrReplay reports an invocation counter not above the last accepted.
	ErrReplay = errors.New("invocation counter replayed")
	// ErrCounterExhausted reports a sending invocation counter that has
	// reached 0xFFFFFFFF: the key must be renewed.
	ErrCounterExhausted = errors.New("invocation counter exhausted")
	// ErrNotAuthenticated reports a frame that carries no authentication
	// tag where one is required (see [ReplayGuard]).
	ErrNotAuthenticated = errors.New("frame is not authenticated")
	// ErrSignature reports an ECDSA signature that does not verify or is
	// malformed.
	ErrSignature = errors.New("signature verification failed")
	// ErrChallenge reports a challenge outside 8..64 bytes.
	ErrChallenge = errors.New("challenge must be 8 to 64 bytes")
	// ErrResponse reports an HLS response that does not match.
	ErrResponse = errors.New("HLS response mismatch")
	// ErrKeyUnwrap reports an RFC 3394 integrity check failure.
	ErrKeyUnwrap = errors.New("key unwrap integrity check failed")
	// ErrPublicKey reports a malformed or off-curve public key.
	ErrPublicKey = errors.New("invalid public key")
	// ErrMechanism reports an unknown or malformed mechanism or
	// application-context name.
	ErrMechanism = errors.New("invalid mechanism or context name")
	// ErrPolicy reports a security policy name or value that is not one
	// of the four policies.
	ErrPolicy = errors.New("unknown security policy")
)

// Error carries where an operation failed. Offset is the byte offset in the
// input being parsed, or -1 when the failure is not tied to a position.
type Error struct {
	Op     string
	Offset int
	Err    error
}

// Error formats the operation, offset and cause.
func (e *Error) Error() string {
	s := "dlms/security: " + e.Op
	if e.Offset >= 0 {
		s += " at byte " + strconv.Itoa(e.Offset)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying sentinel.
func (e *Error) Unwrap() error { return e.Err }

func errAt(op string, off int, err error) error {
	return &Error{Op: op, Offset: off, Err: err}
}

func errOp(op string, err error) error {
	return &Error{Op: op, Offset: -1, Err: err}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}
