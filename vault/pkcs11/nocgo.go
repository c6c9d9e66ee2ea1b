//go:build !cgo

package pkcs11

import (
	"context"
	"crypto/ecdsa"

	"github.com/amigo-ami/amigo/vault"
)

// Token is an open session with a token; without cgo none can be opened.
type Token struct{}

// Open fails: PKCS#11 libraries are C.
func Open(Config) (*Token, error) { return nil, ErrUnavailable }

// Master fails without cgo.
func (*Token) Master() (*vault.Vault, error) { return nil, ErrUnavailable }

// Signer fails without cgo.
func (*Token) Signer() (*Signer, error) { return nil, ErrUnavailable }

// Init fails without cgo.
func (*Token) Init() (Created, error) { return Created{}, ErrUnavailable }

// Close does nothing.
func (*Token) Close() error { return nil }

// Signer signs with a key on a token; without cgo there is none.
type Signer struct{}

// Sign fails without cgo.
func (*Signer) Sign(context.Context, []byte) ([]byte, error) { return nil, ErrUnavailable }

// PublicKey is nil without cgo.
func (*Signer) PublicKey() *ecdsa.PublicKey { return nil }
