// Package vault owns the sealing of meter key material at rest: envelope
// encryption under a master key that lives outside the database (the
// environment, a file, or a hardware security module that computes the
// master key's AES-GCM itself), with a fresh data key per record and master
// keys that can be rotated.
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// A sealed record is
//
//	magic "AMV" | version 1 | id length (1) | master key id |
//	wrapped data key: nonce (12) | AES-256-GCM(master, data key) with tag (48) |
//	payload: nonce (12) | AES-256-GCM(data key, plain, aad) with tag
//
// The data key's wrapping binds the master key id as AAD, and the payload
// binds the caller's context (the meter's mRID), so a blob copied to
// another meter does not open.
const (
	magic      = "AMV"
	version    = 1
	nonceSize  = 12
	tagSize    = 16
	keySize    = 32
	wrappedLen = nonceSize + keySize + tagSize
)

// Errors.
var (
	// ErrOpen is wrapped by every failure to open a sealed record: wrong
	// master key, wrong context, or damaged bytes.
	ErrOpen = errors.New("vault: sealed record does not open")
	// ErrUnknownKey says a record was sealed under a master key the
	// keyring does not hold.
	ErrUnknownKey = errors.New("vault: sealed under an unknown master key")
)

// Vault seals and opens records under one master key.
type Vault struct {
	id   string
	aead cipher.AEAD
}

// New returns a vault over a 32-byte master key named id (1 to 64
// characters, kept in each record so rotation can find the right key).
func New(id string, master []byte) (*Vault, error) {
	if id == "" || len(id) > 64 {
		return nil, errors.New("vault: master key id must be 1 to 64 characters")
	}
	if len(master) != keySize {
		return nil, fmt.Errorf("vault: master key is %d bytes, want %d", len(master), keySize)
	}
	a, err := newGCM(master)
	if err != nil {
		return nil, err
	}
	return &Vault{id: id, aead: a}, nil
}

// NewAEAD returns a vault whose master key is held elsewhere and reached
// through a, which must be AES-256-GCM with 12-byte nonces and 16-byte
// tags (a key kept in an HSM, say); its records have the same layout as
// any other, so a Keyring rotates between the two kinds either way.
func NewAEAD(id string, a cipher.AEAD) (*Vault, error) {
	if id == "" || len(id) > 64 {
		return nil, errors.New("vault: master key id must be 1 to 64 characters")
	}
	if a == nil || a.NonceSize() != nonceSize || a.Overhead() != tagSize {
		return nil, fmt.Errorf("vault: master key %q: want AES-GCM with %d-byte nonces and %d-byte tags", id, nonceSize, tagSize)
	}
	return &Vault{id: id, aead: a}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return cipher.NewGCM(b)
}

// ID names the master key.
func (v *Vault) ID() string { return v.id }

// String never shows the key.
func (v *Vault) String() string { return "vault(" + v.id + ")" }

// Seal encrypts plain for context aad under a fresh data key.
func (v *Vault) Seal(plain, aad []byte) ([]byte, error) {
	dk := make([]byte, keySize)
	if _, err := rand.Read(dk); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	defer clear(dk)
	out := make([]byte, 0, 5+len(v.id)+wrappedLen+nonceSize+len(plain)+tagSize)
	out = append(out, magic...)
	out = append(out, version, byte(len(v.id)))
	out = append(out, v.id...)
	n := len(out)
	out = out[:n+nonceSize]
	if _, err := rand.Read(out[n:]); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	out, err := v.wrap(out, out[n:n+nonceSize], dk)
	if err != nil {
		return nil, err
	}
	payload, err := newGCM(dk)
	if err != nil {
		return nil, err
	}
	n = len(out)
	out = out[:n+nonceSize]
	if _, err := rand.Read(out[n:]); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return payload.Seal(out, out[n:n+nonceSize], plain, aad), nil
}

// wrap seals the data key under the master key. cipher.AEAD's Seal has no
// error to return, so a master key computed by a token reports a failed
// token (unplugged, session lost) by panicking; that becomes an error here.
func (v *Vault) wrap(dst, nonce, dk []byte) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("vault: master key %q does not seal: %v", v.id, r)
		}
	}()
	return v.aead.Seal(dst, nonce, dk, []byte(v.id)), nil
}

// header splits a record into its master key id and the rest.
func header(sealed []byte) (id string, rest []byte, err error) {
	if len(sealed) < 5 || string(sealed[:3]) != magic {
		return "", nil, fmt.Errorf("%w: not a sealed record", ErrOpen)
	}
	if sealed[3] != version {
		return "", nil, fmt.Errorf("%w: version %d", ErrOpen, sealed[3])
	}
	l := int(sealed[4])
	if len(sealed) < 5+l+wrappedLen+nonceSize+tagSize {
		return "", nil, fmt.Errorf("%w: truncated", ErrOpen)
	}
	return string(sealed[5 : 5+l]), sealed[5+l:], nil
}

// Open decrypts a record sealed by this master key for context aad.
func (v *Vault) Open(sealed, aad []byte) ([]byte, error) {
	id, rest, err := header(sealed)
	if err != nil {
		return nil, err
	}
	if id != v.id {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	dk, err := v.aead.Open(nil, rest[:nonceSize], rest[nonceSize:wrappedLen], []byte(v.id))
	if err != nil {
		return nil, fmt.Errorf("%w: data key does not unwrap", ErrOpen)
	}
	defer clear(dk)
	payload, err := newGCM(dk)
	if err != nil {
		return nil, err
	}
	rest = rest[wrappedLen:]
	plain, err := payload.Open(nil, rest[:nonceSize], rest[nonceSize:], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: payload does not authenticate for this context", ErrOpen)
	}
	return plain, nil
}

// Keyring holds the current master key, which seals, and retired ones,
// which still open what they sealed until Rewrap moves it on.
type Keyring struct {
	current *Vault
	byID    map[string]*Vault
}

// NewKeyring returns a keyring sealing with current.
func NewKeyring(current *Vault, old ...*Vault) *Keyring {
	k := &Keyring{current: current, byID: map[string]*Vault{current.id: current}}
	for _, v := range old {
		if _, ok := k.byID[v.id]; !ok {
			k.byID[v.id] = v
		}
	}
	return k
}

// Seal seals under the current master key.
func (k *Keyring) Seal(plain, aad []byte) ([]byte, error) { return k.current.Seal(plain, aad) }

// Open opens a record sealed under any key of the ring.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	id, _, err := header(sealed)
	if err != nil {
		return nil, err
	}
	v, ok := k.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, id)
	}
	return v.Open(sealed, aad)
}

// Rewrap re-seals a record under the current master key; changed is
// false when it already was.
func (k *Keyring) Rewrap(sealed, aad []byte) (out []byte, changed bool, err error) {
	id, _, err := header(sealed)
	if err != nil {
		return nil, false, err
	}
	if id == k.current.id {
		return sealed, false, nil
	}
	plain, err := k.Open(sealed, aad)
	if err != nil {
		return nil, false, err
	}
	defer clear(plain)
	out, err = k.current.Seal(plain, aad)
	return out, err == nil, err
}

// ParseKey reads a master key written as 64 hex digits or as base64.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == keySize {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == keySize {
		return b, nil
	}
	// Never echo s: it is meant to be a key.
	return nil, fmt.Errorf("vault: master key is not 32 bytes in hex (64 digits) or base64 (%d characters given)", len(s))
}

// Load returns the master key from AMIGO_MASTER_KEY, or else from the file
// named by file (AMIGO_MASTER_KEY_FILE or configuration). A key file
// readable by group or others is refused, as ssh refuses such a private
// key. With create set and no key anywhere, a new key is written to file
// with mode 0600; created says so.
func Load(getenv func(string) string, file string, create bool) (v *Vault, created bool, err error) {
	if s := getenv("AMIGO_MASTER_KEY"); s != "" {
		k, err := ParseKey(s)
		if err != nil {
			return nil, false, fmt.Errorf("AMIGO_MASTER_KEY: %w", err)
		}
		v, err := New("env", k)
		return v, false, err
	}
	if f := getenv("AMIGO_MASTER_KEY_FILE"); f != "" {
		file = f
	}
	if file == "" {
		return nil, false, errors.New("vault: no master key: set AMIGO_MASTER_KEY or a master key file")
	}
	st, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) && create {
		k := make([]byte, keySize)
		if _, err := rand.Read(k); err != nil {
			return nil, false, fmt.Errorf("vault: %w", err)
		}
		if err := os.WriteFile(file, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
			return nil, false, fmt.Errorf("vault: writing master key file: %w", err)
		}
		v, err := New("file", k)
		return v, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("vault: master key file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("vault: master key file %s is readable by others (mode %04o); chmod 600 it", file, st.Mode().Perm())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, false, fmt.Errorf("vault: master key file: %w", err)
	}
	k, err := ParseKey(string(b))
	if err != nil {
		return nil, false, fmt.Errorf("master key file %s: %w", file, err)
	}
	v, err = New("file", k)
	return v, false, err
}
