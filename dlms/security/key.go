package security

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strconv"
)

// Key is a symmetric AES key (16 bytes for suites 0 and 1, 32 for suite 2).
//
// The material sits behind a pointer so that fmt, slog and %+v of any
// struct holding a Key (even in an unexported field, where fmt bypasses
// methods) show at most an address, never the bytes. The zero Key means
// "not set". A Key is immutable and safe for concurrent use; it caches the
// AES-GCM instance so ciphering does not rebuild the key schedule.
type Key struct {
	m *keyMaterial
}

type keyMaterial struct {
	b     []byte
	block cipher.Block
	gcm   cipher.AEAD
}

// NewKey copies b into a Key. b must be 16 or 32 bytes long.
func NewKey(b []byte) (Key, error) {
	if len(b) != 16 && len(b) != 32 {
		return Key{}, errOp("new key", fmt.Errorf("%w: %d bytes", ErrKeySize, len(b)))
	}
	m := &keyMaterial{b: append([]byte(nil), b...)}
	var err error
	if m.block, err = aes.NewCipher(m.b); err != nil {
		return Key{}, errOp("new key", err)
	}
	if m.gcm, err = cipher.NewGCMWithTagSize(m.block, TagSize); err != nil {
		return Key{}, errOp("new key", err)
	}
	return Key{m: m}, nil
}

// MustKey is NewKey for constants in tests and examples; it panics on a bad
// length.
func MustKey(b []byte) Key {
	k, err := NewKey(b)
	if err != nil {
		panic(err)
	}
	return k
}

// IsZero reports whether the key is unset.
func (k Key) IsZero() bool { return k.m == nil }

// Len returns the key length in bytes (0 when unset).
func (k Key) Len() int {
	if k.m == nil {
		return 0
	}
	return len(k.m.b)
}

// Bytes returns a copy of the key material. It exists for key wrapping and
// durable storage; never log its result.
func (k Key) Bytes() []byte {
	if k.m == nil {
		return nil
	}
	return append([]byte(nil), k.m.b...)
}

// Equal reports whether both keys hold the same material, in constant time
// with respect to the contents.
func (k Key) Equal(o Key) bool {
	if k.m == nil || o.m == nil {
		return k.m == o.m
	}
	return subtle.ConstantTimeCompare(k.m.b, o.m.b) == 1
}

func (k Key) redacted() string {
	if k.m == nil {
		return "Key(unset)"
	}
	return "Key(redacted, " + strconv.Itoa(len(k.m.b)*8) + "-bit)"
}

// String returns a redacted description, never the material.
func (k Key) String() string { return k.redacted() }

// GoString keeps %#v redacted too.
func (k Key) GoString() string { return k.redacted() }

// Format makes every fmt verb (%x and %s included) print the redacted form.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.redacted())) }

// LogValue keeps keys redacted in log/slog output.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.redacted()) }

// Keys is the key set of one association or client/server pair.
//
// Which encryption key is used: Unicast (the global unicast encryption key,
// EK) for glo- and general-glo- APDUs, Broadcast when the security control
// byte has the broadcast bit, Dedicated for ded- and general-ded- APDUs.
// Authentication is AK, which enters the additional authenticated data.
type Keys struct {
	Unicast        Key
	Broadcast      Key
	Dedicated      Key
	Authentication Key
}

// ForDedicated returns the key set with the dedicated key in the unicast
// role, which is how [Encrypt] and [Decrypt] are pointed at the dedicated key.
func (k Keys) ForDedicated() Keys {
	k.Unicast = k.Dedicated
	k.Broadcast = Key{}
	return k
}

// pick selects EK for sc (unicast or broadcast) and checks that the keys
// the policy needs are present and sized for the suite.
func (k Keys) pick(op string, sc SecurityControl) (ek, ak Key, err error) {
	suite := sc.Suite()
	size, err := suite.keySize()
	if err != nil {
		return Key{}, Key{}, errOp(op, err)
	}
	if sc&Compression != 0 {
		return Key{}, Key{}, errOp(op, fmt.Errorf("%w: compression", ErrUnsupported))
	}
	ek = k.Unicast
	name := "unicast encryption key"
	if sc&BroadcastKey != 0 {
		ek, name = k.Broadcast, "broadcast encryption key"
	}
	if sc&(Authentication|Encryption) == 0 {
		return ek, k.Authentication, nil // no protection: no key needed
	}
	if ek.IsZero() {
		return Key{}, Key{}, errOp(op, fmt.Errorf("%w: %s", ErrMissingKey, name))
	}
	if ek.Len() != size {
		return Key{}, Key{}, errOp(op, fmt.Errorf("%w: %s is %d bytes, suite %d needs %d", ErrKeySize, name, ek.Len(), suite, size))
	}
	if sc&Authentication != 0 {
		if k.Authentication.IsZero() {
			return Key{}, Key{}, errOp(op, fmt.Errorf("%w: authentication key", ErrMissingKey))
		}
		if k.Authentication.Len() != size {
			return Key{}, Key{}, errOp(op, fmt.Errorf("%w: authentication key is %d bytes, suite %d needs %d", ErrKeySize, k.Authentication.Len(), suite, size))
		}
	}
	return ek, k.Authentication, nil
}
