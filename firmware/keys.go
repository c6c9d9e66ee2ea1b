package firmware

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ErrKey: a key that is not an ECDSA P-256 key in PEM.
var ErrKey = errors.New("firmware: not an ECDSA P-256 key")

func checkKey(pub *ecdsa.PublicKey) error {
	if pub == nil || pub.Curve != elliptic.P256() {
		return ErrKey
	}
	return nil
}

// GenerateKey returns a new firmware-signing key.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// MarshalPrivateKey encodes a signing key as PKCS#8 PEM.
func MarshalPrivateKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("firmware: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPublicKey encodes a verification key as PKIX PEM, the form a
// fleet is told to trust.
func MarshalPublicKey(k *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, fmt.Errorf("firmware: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePrivateKey reads a P-256 signing key in PEM: PKCS#8 ("PRIVATE
// KEY") or SEC 1 ("EC PRIVATE KEY", as openssl ecparam writes it).
func ParsePrivateKey(b []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrKey)
	}
	var k any
	var err error
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("%w: PEM block %q", ErrKey, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || checkKey(&ek.PublicKey) != nil {
		return nil, ErrKey
	}
	return ek, nil
}

// ParsePublicKey reads a P-256 verification key in PEM ("PUBLIC KEY"); a
// private key's PEM gives its public half.
func ParsePublicKey(b []byte) (*ecdsa.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrKey)
	}
	if blk.Type != "PUBLIC KEY" {
		k, err := ParsePrivateKey(b)
		if err != nil {
			return nil, err
		}
		return &k.PublicKey, nil
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	switch pk := k.(type) {
	case *ecdsa.PublicKey:
		if checkKey(pk) != nil {
			return nil, ErrKey
		}
		return pk, nil
	case *ecdh.PublicKey:
		return nil, fmt.Errorf("%w: an ECDH key", ErrKey)
	}
	return nil, ErrKey
}
