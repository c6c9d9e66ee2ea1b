//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"

	"github.com/amigo-ami/amigo/vault"
)

// poolWait bounds the wait for a free session, so a token that stops
// answering fails a call instead of hanging it.
const poolWait = 30 * time.Second

// Token is a logged-in session pool on one token.
type Token struct {
	cfg Config
	ctx *crypto11.Context
}

// Open loads the module, finds the token by label and logs in with the PIN.
func Open(cfg Config) (*Token, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c, err := crypto11.Configure(&crypto11.Config{Path: cfg.Module, TokenLabel: cfg.Token, Pin: cfg.PIN, PoolWaitTimeout: poolWait,
		GCMIVLength: 12, // the vault's record layout has 12-byte nonces
	})
	if err != nil {
		var code p11.Error
		switch {
		case errors.As(err, &code) && (code == p11.CKR_PIN_INCORRECT || code == p11.CKR_PIN_LEN_RANGE || code == p11.CKR_PIN_INVALID):
			return nil, fmt.Errorf("%w: token %q with module %s (check %s)", ErrPIN, cfg.Token, cfg.Module, PINVar)
		case errors.As(err, &code) && code == p11.CKR_PIN_LOCKED:
			return nil, fmt.Errorf("%w: token %q has locked its PIN after too many wrong ones", ErrPIN, cfg.Token)
		}
		return nil, fmt.Errorf("vault/pkcs11: opening token %q with module %s: %w", cfg.Token, cfg.Module, err)
	}
	return &Token{cfg: cfg, ctx: c}, nil
}

// Close logs out and unloads the module once no other Token uses it.
func (t *Token) Close() error {
	if err := t.ctx.Close(); err != nil {
		return fmt.Errorf("vault/pkcs11: closing token %q: %w", t.cfg.Token, err)
	}
	return nil
}

func (t *Token) String() string { return "pkcs11(" + t.cfg.Token + ")" }

// Master returns a vault whose master key is the AES key labelled
// MasterLabel; AES-GCM runs on the token.
func (t *Token) Master() (*vault.Vault, error) {
	ks, err := t.ctx.FindKeys(nil, []byte(t.cfg.MasterLabel))
	if err != nil {
		return nil, fmt.Errorf("vault/pkcs11: finding master key %q on token %q: %w", t.cfg.MasterLabel, t.cfg.Token, err)
	}
	switch len(ks) {
	case 0:
		return nil, fmt.Errorf("%w: master key %q on token %q (amigo hsm init makes it)", ErrNoKey, t.cfg.MasterLabel, t.cfg.Token)
	case 1:
	default:
		// Records name the key by label, so two keys under one label
		// would make which one seals a matter of chance.
		return nil, fmt.Errorf("vault/pkcs11: %d keys labelled %q on token %q; want one", len(ks), t.cfg.MasterLabel, t.cfg.Token)
	}
	k := ks[0]
	if k.Cipher != crypto11.CipherAES {
		return nil, fmt.Errorf("vault/pkcs11: key %q on token %q is not an AES key", t.cfg.MasterLabel, t.cfg.Token)
	}
	if n, err := t.valueLen(k); err != nil || n != 32 {
		return nil, fmt.Errorf("vault/pkcs11: key %q on token %q is not AES-256 (%d bytes, %v)", t.cfg.MasterLabel, t.cfg.Token, n, err)
	}
	a, err := k.NewGCM()
	if err != nil {
		return nil, fmt.Errorf("vault/pkcs11: master key %q on token %q: %w", t.cfg.MasterLabel, t.cfg.Token, err)
	}
	return vault.NewAEAD(MasterID(t.cfg.MasterLabel), a)
}

// valueLen reads a secret key's length in bytes (CKA_VALUE_LEN, a C
// unsigned long in the machine's byte order).
func (t *Token) valueLen(k *crypto11.SecretKey) (uint64, error) {
	a, err := t.ctx.GetAttribute(k, crypto11.CkaValueLen)
	if err != nil {
		return 0, err
	}
	switch len(a.Value) {
	case 8:
		return binary.NativeEndian.Uint64(a.Value), nil
	case 4:
		return uint64(binary.NativeEndian.Uint32(a.Value)), nil
	}
	return 0, fmt.Errorf("CKA_VALUE_LEN is %d bytes", len(a.Value))
}

// Signer returns the command-signing key pair labelled SigningLabel.
func (t *Token) Signer() (*Signer, error) {
	ks, err := t.ctx.FindKeyPairs(nil, []byte(t.cfg.SigningLabel))
	if err != nil {
		return nil, fmt.Errorf("vault/pkcs11: finding signing key %q on token %q: %w", t.cfg.SigningLabel, t.cfg.Token, err)
	}
	switch len(ks) {
	case 0:
		return nil, fmt.Errorf("%w: signing key %q on token %q (amigo hsm init makes it)", ErrNoKey, t.cfg.SigningLabel, t.cfg.Token)
	case 1:
	default:
		return nil, fmt.Errorf("vault/pkcs11: %d key pairs labelled %q on token %q; want one", len(ks), t.cfg.SigningLabel, t.cfg.Token)
	}
	return newSigner(ks[0], t.cfg)
}

func newSigner(k crypto11.Signer, cfg Config) (*Signer, error) {
	pub, ok := k.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("vault/pkcs11: signing key %q on token %q is not ECDSA P-256", cfg.SigningLabel, cfg.Token)
	}
	return &Signer{key: k, pub: pub, label: cfg.SigningLabel}, nil
}

// Init generates on the token whichever of the two keys is missing: an
// AES-256 master key and an ECDSA P-256 signing key pair, both sensitive
// and not extractable. Keys already there are kept, so running it twice
// is harmless.
func (t *Token) Init() (Created, error) {
	var c Created
	if _, err := t.Master(); errors.Is(err, ErrNoKey) {
		if _, err := t.ctx.GenerateSecretKeyWithLabel([]byte(t.cfg.MasterLabel), []byte(t.cfg.MasterLabel), 256, crypto11.CipherAES); err != nil {
			return c, fmt.Errorf("vault/pkcs11: generating master key %q on token %q: %w", t.cfg.MasterLabel, t.cfg.Token, err)
		}
		c.Master = true
	} else if err != nil {
		return c, err
	}
	if _, err := t.Signer(); errors.Is(err, ErrNoKey) {
		if _, err := t.ctx.GenerateECDSAKeyPairWithLabel([]byte(t.cfg.SigningLabel), []byte(t.cfg.SigningLabel), elliptic.P256()); err != nil {
			return c, fmt.Errorf("vault/pkcs11: generating signing key %q on token %q: %w", t.cfg.SigningLabel, t.cfg.Token, err)
		}
		c.Signing = true
	} else if err != nil {
		return c, err
	}
	return c, nil
}

// Signer signs with an ECDSA P-256 private key that stays on the token.
type Signer struct {
	key   crypto11.Signer
	pub   *ecdsa.PublicKey
	label string
}

// Sign returns the signature of SHA-256(data) as r||s, 32 bytes each.
// PKCS#11 cannot be interrupted once a call is made, so ctx is checked
// before it.
func (s *Signer) Sign(ctx context.Context, data []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d := sha256.Sum256(data)
	der, err := s.key.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("vault/pkcs11: signing with key %q: %w", s.label, err)
	}
	return rawSignature(der, 32)
}

// PublicKey is the key the meters verify with.
func (s *Signer) PublicKey() *ecdsa.PublicKey { return s.pub }
