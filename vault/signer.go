package vault

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Signer holds the head-end's command-signing key: ECDSA P-256, the key
// of DLMS security suite 1. It is kept apart from the master key and from
// every meter's transport keys, and never in the database: a stolen
// database or a meter's keys do not let anyone sign a disconnect.
type Signer struct {
	key *ecdsa.PrivateKey
}

// NewSigner returns a signer over a P-256 private key.
func NewSigner(k *ecdsa.PrivateKey) (*Signer, error) {
	if k == nil || k.Curve != elliptic.P256() {
		return nil, errors.New("vault: command-signing key must be ECDSA P-256")
	}
	return &Signer{key: k}, nil
}

// Sign returns the ECDSA P-256 signature r||s (64 bytes) of SHA-256(data).
func (s *Signer) Sign(_ context.Context, data []byte) ([]byte, error) {
	h := sha256.Sum256(data)
	r, ss, err := ecdsa.Sign(rand.Reader, s.key, h[:])
	if err != nil {
		return nil, fmt.Errorf("vault: signing: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return sig, nil
}

// PublicKey is the key meters verify with.
func (s *Signer) PublicKey() *ecdsa.PublicKey { return &s.key.PublicKey }

// String never shows the key.
func (s *Signer) String() string { return "command-signing key" }

// PublicKeyPEM returns the public key as a PEM "PUBLIC KEY" block (PKIX),
// the form meters are provisioned with.
func (s *Signer) PublicKeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParseSigningKey reads a P-256 private key in PEM: "PRIVATE KEY"
// (PKCS#8) or "EC PRIVATE KEY" (SEC 1).
func ParseSigningKey(b []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		// Never echo b: it is meant to be a key.
		return nil, errors.New("vault: command-signing key is not PEM")
	}
	var k any
	var err error
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("vault: command-signing key is a PEM %q block, want PRIVATE KEY or EC PRIVATE KEY", blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("vault: command-signing key: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, errors.New("vault: command-signing key is not an ECDSA P-256 key")
	}
	return ek, nil
}

// LoadSigner returns the command-signing key from AMIGO_SIGNING_KEY (PEM),
// or else from the file named by file (AMIGO_SIGNING_KEY_FILE or
// configuration; "signing.key" in the data directory by default). As for
// the master key, a file readable by group or others is refused, and with
// create set and no key anywhere a new one is written to file with mode
// 0600; created says so.
func LoadSigner(getenv func(string) string, file string, create bool) (s *Signer, created bool, err error) {
	if v := getenv("AMIGO_SIGNING_KEY"); v != "" {
		k, err := ParseSigningKey([]byte(v))
		if err != nil {
			return nil, false, fmt.Errorf("AMIGO_SIGNING_KEY: %w", err)
		}
		s, err := NewSigner(k)
		return s, false, err
	}
	if f := getenv("AMIGO_SIGNING_KEY_FILE"); f != "" {
		file = f
	}
	if file == "" {
		return nil, false, errors.New("vault: no command-signing key: set AMIGO_SIGNING_KEY or a signing key file")
	}
	st, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) && create {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, false, fmt.Errorf("vault: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, false, fmt.Errorf("vault: %w", err)
		}
		b := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		clear(der)
		// O_EXCL: two processes starting at once keep one key, not two.
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("vault: writing command-signing key file: %w", err)
		}
		_, werr := f.Write(b)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, false, fmt.Errorf("vault: writing command-signing key file: %w", werr)
		}
		s, err := NewSigner(k)
		return s, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("vault: command-signing key file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("vault: command-signing key file %s is readable by others (mode %04o); chmod 600 it", file, st.Mode().Perm())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, false, fmt.Errorf("vault: command-signing key file: %w", err)
	}
	k, err := ParseSigningKey(b)
	if err != nil {
		return nil, false, fmt.Errorf("command-signing key file %s: %w", file, err)
	}
	s, err = NewSigner(k)
	return s, false, err
}
