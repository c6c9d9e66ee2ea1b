// Package pkcs11 owns amigo's keys kept in a hardware security module
// reached through PKCS#11: the vault's master key (AES-256, its GCM
// computed by the token) and the command-signing key (ECDSA P-256), each
// generated on the token, found there by label, and never leaving it.
//
// The backend needs cgo; a binary built without it still builds and says
// so when asked to open a token.
package pkcs11

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// Defaults for the settings left empty.
const (
	// DefaultModule is where Debian's softhsm2 package puts its library.
	DefaultModule = "/usr/lib/softhsm/libsofthsm2.so"
	// DefaultMasterLabel and DefaultSigningLabel name the keys on the token.
	DefaultMasterLabel  = "amigo-master"
	DefaultSigningLabel = "amigo-command-signing"
	// PINVar is the environment variable the PIN is read from: a PIN is
	// never a setting in a file.
	PINVar = "AMIGO_PKCS11_PIN"
)

// Errors.
var (
	// ErrUnavailable says this binary was built without PKCS#11 support.
	ErrUnavailable = errors.New("vault/pkcs11: this amigo was built without PKCS#11 support (CGO_ENABLED=0); rebuild with cgo to keep keys in an HSM")
	// ErrPIN says the token refused the PIN.
	ErrPIN = errors.New("vault/pkcs11: the token refused the PIN")
	// ErrNoKey says a key is not on the token; `amigo hsm init` makes it.
	ErrNoKey = errors.New("vault/pkcs11: key not on the token")
)

// Config says which token to use and which keys on it.
type Config struct {
	// Module is the PKCS#11 library (empty: DefaultModule).
	Module string
	// Token is the label of the token.
	Token string
	// PIN is the user PIN.
	PIN string
	// MasterLabel and SigningLabel are the labels of the keys (empty: the
	// defaults).
	MasterLabel  string
	SigningLabel string
}

// withDefaults fills the settings left empty and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Module == "" {
		c.Module = DefaultModule
	}
	if c.MasterLabel == "" {
		c.MasterLabel = DefaultMasterLabel
	}
	if c.SigningLabel == "" {
		c.SigningLabel = DefaultSigningLabel
	}
	if c.Token == "" {
		return c, errors.New("vault/pkcs11: no token label")
	}
	if c.PIN == "" {
		return c, fmt.Errorf("vault/pkcs11: no PIN for token %q (set %s)", c.Token, PINVar)
	}
	if len(MasterID(c.MasterLabel)) > 64 {
		return c, fmt.Errorf("vault/pkcs11: master key label %q is longer than %d characters", c.MasterLabel, 64-len(MasterID("")))
	}
	return c, nil
}

// MasterID is the vault id of the master key labelled label: the id every
// record sealed under it carries, so it must not change while records
// sealed under it remain.
func MasterID(label string) string { return "pkcs11:" + label }

// rawSignature turns an ECDSA signature in DER, as crypto.Signer gives it,
// into r||s with each half padded to size bytes: the form PKCS#11's
// CKM_ECDSA itself returns and the meter checks.
func rawSignature(der []byte, size int) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil {
		return nil, fmt.Errorf("vault/pkcs11: signature is not DER: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("vault/pkcs11: signature has trailing bytes")
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 8*size || sig.S.BitLen() > 8*size {
		return nil, fmt.Errorf("vault/pkcs11: signature's r or s is out of range for %d-byte halves", size)
	}
	out := make([]byte, 2*size)
	sig.R.FillBytes(out[:size])
	sig.S.FillBytes(out[size:])
	return out, nil
}

// Created says which keys Init generated; false means the key was already
// on the token and was left as it was.
type Created struct{ Master, Signing bool }
