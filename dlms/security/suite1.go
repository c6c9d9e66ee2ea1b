package security

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"
)

// Suite 1 public-key sizes (P-256): raw public keys are X || Y without the
// 0x04 point-format byte, signatures are r || s, each fixed-width.
const (
	PublicKeySize = 64
	SignatureSize = 64
	coordSize     = 32
)

// Sign signs data with ECDSA P-256 over SHA-256 (suite 1) and returns the
// raw r || s signature of 64 bytes, the DLMS wire form.
func Sign(priv *ecdsa.PrivateKey, data []byte) ([]byte, error) {
	if priv == nil || priv.Curve != elliptic.P256() {
		return nil, errOp("sign", fmt.Errorf("%w: need a P-256 private key", ErrPublicKey))
	}
	h := sha256.Sum256(data)
	r, s, err := ecdsa.Sign(rand.Reader, priv, h[:])
	if err != nil {
		return nil, errOp("sign", err)
	}
	sig := make([]byte, SignatureSize)
	r.FillBytes(sig[:coordSize])
	s.FillBytes(sig[coordSize:])
	return sig, nil
}

// Verify checks a raw r || s ECDSA P-256/SHA-256 signature over data.
func Verify(pub *ecdsa.PublicKey, data, sig []byte) error {
	if pub == nil || pub.Curve != elliptic.P256() {
		return errOp("verify", fmt.Errorf("%w: need a P-256 public key", ErrPublicKey))
	}
	if len(sig) != SignatureSize {
		return errOp("verify", fmt.Errorf("%w: signature of %d bytes, want %d", ErrSignature, len(sig), SignatureSize))
	}
	h := sha256.Sum256(data)
	r := new(big.Int).SetBytes(sig[:coordSize])
	s := new(big.Int).SetBytes(sig[coordSize:])
	if !ecdsa.Verify(pub, h[:], r, s) {
		return errOp("verify", ErrSignature)
	}
	return nil
}

// MarshalPublicKey returns the raw X || Y form of a P-256 public key.
func MarshalPublicKey(pub *ecdsa.PublicKey) ([]byte, error) {
	b, err := pub.Bytes()
	if err != nil {
		return nil, errOp("marshal public key", fmt.Errorf("%w: %v", ErrPublicKey, err))
	}
	if len(b) != 1+PublicKeySize {
		return nil, errOp("marshal public key", fmt.Errorf("%w: not a P-256 key", ErrPublicKey))
	}
	return b[1:], nil
}

// ParsePublicKey decodes a raw X || Y P-256 public key, rejecting points not
// on the curve.
func ParsePublicKey(raw []byte) (*ecdsa.PublicKey, error) {
	if len(raw) != PublicKeySize {
		return nil, errOp("parse public key", fmt.Errorf("%w: %d bytes, want %d", ErrPublicKey, len(raw), PublicKeySize))
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, raw...))
	if err != nil {
		return nil, errOp("parse public key", fmt.Errorf("%w: %v", ErrPublicKey, err))
	}
	return pub, nil
}

// SharedSecret runs ECC CDH on P-256 and returns Z, the 32-byte
// x-coordinate of priv * pub.
func SharedSecret(priv *ecdsa.PrivateKey, pub *ecdsa.PublicKey) ([]byte, error) {
	const op = "ECDH"
	if priv == nil || pub == nil {
		return nil, errOp(op, fmt.Errorf("%w: nil key", ErrPublicKey))
	}
	dp, err := priv.ECDH()
	if err != nil {
		return nil, errOp(op, fmt.Errorf("%w: %v", ErrPublicKey, err))
	}
	dq, err := pub.ECDH()
	if err != nil {
		return nil, errOp(op, fmt.Errorf("%w: %v", ErrPublicKey, err))
	}
	if dp.Curve() != ecdh.P256() || dq.Curve() != ecdh.P256() {
		return nil, errOp(op, fmt.Errorf("%w: suite 1 uses P-256", ErrPublicKey))
	}
	z, err := dp.ECDH(dq)
	if err != nil {
		return nil, errOp(op, err)
	}
	return z, nil
}

// AlgorithmID is the cryptographic algorithm id arc of 2.16.756.5.8.3.N that
// names, in the KDF's OtherInfo, what a derived key is for.
type AlgorithmID uint8

// Algorithm ids.
const (
	AlgAESGCM128  AlgorithmID = 0
	AlgAESGCM256  AlgorithmID = 1
	AlgAESWrap128 AlgorithmID = 2
	AlgAESWrap256 AlgorithmID = 3
)

// OID returns the 7-byte BER contents 60 85 74 05 08 03 0N used verbatim as
// the KDF AlgorithmID.
func (a AlgorithmID) OID() []byte { return append(dlmsOIDRoot[:], 3, byte(a)) }

// KeyLen is the key length the algorithm needs.
func (a AlgorithmID) KeyLen() int {
	if a == AlgAESGCM256 || a == AlgAESWrap256 {
		return 32
	}
	return 16
}

// DeriveKey is the NIST SP 800-56A single-step concatenation KDF with
// SHA-256 as DLMS uses it: OtherInfo = AlgorithmID || PartyUInfo ||
// PartyVInfo in the fixed-length format (SuppPubInfo and SuppPrivInfo
// empty); the key is the leftmost KeyLen bytes of
// SHA-256(counter=00000001 || Z || OtherInfo), one hash being enough for
// suites 1 and 2.
func DeriveKey(z []byte, alg AlgorithmID, partyUInfo, partyVInfo []byte) (Key, error) {
	var ctr [4]byte
	binary.BigEndian.PutUint32(ctr[:], 1)
	h := sha256.New()
	h.Write(ctr[:])
	h.Write(z)
	h.Write(alg.OID())
	h.Write(partyUInfo)
	h.Write(partyVInfo)
	sum := h.Sum(nil)
	k, err := NewKey(sum[:alg.KeyLen()])
	clear(sum)
	return k, err
}

// Agreed-key key-parameters of general-ciphering key-info.
const (
	// KeyParamsOnePassDH is One-Pass Diffie-Hellman C(1e, 1s, ECC CDH).
	KeyParamsOnePassDH byte = 0x01
	// KeyParamsStaticUnified is Static Unified Model C(0e, 2s, ECC CDH).
	KeyParamsStaticUnified byte = 0x02
)

// OnePassDH is the sending (party U) side of One-Pass Diffie-Hellman
// C(1e, 1s): it generates an ephemeral P-256 key, agrees Z with the
// recipient's static key agreement key, derives the AES-GCM-128 key with
// PartyUInfo = originator system title and PartyVInfo = recipient system
// title, and returns the key-ciphered-data to send in the agreed-key
// key-info: the raw ephemeral public key (64 bytes) followed by its
// signature (64 bytes) under the originator's signing key.
func OnePassDH(signer *ecdsa.PrivateKey, recipient *ecdsa.PublicKey, originatorST, recipientST []byte) (key Key, keyCipheredData []byte, err error) {
	const op = "one-pass DH"
	if err := checkTitle(op, originatorST); err != nil {
		return Key{}, nil, err
	}
	if err := checkTitle(op, recipientST); err != nil {
		return Key{}, nil, err
	}
	eph, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Key{}, nil, errOp(op, err)
	}
	epub, err := MarshalPublicKey(&eph.PublicKey)
	if err != nil {
		return Key{}, nil, err
	}
	sig, err := Sign(signer, epub)
	if err != nil {
		return Key{}, nil, err
	}
	z, err := SharedSecret(eph, recipient)
	if err != nil {
		return Key{}, nil, err
	}
	defer clear(z)
	key, err = DeriveKey(z, AlgAESGCM128, originatorST, recipientST)
	if err != nil {
		return Key{}, nil, err
	}
	return key, append(epub, sig...), nil
}

// OnePassDHReceive is the receiving (party V) side of One-Pass
// Diffie-Hellman: it verifies the ephemeral key's signature with the
// originator's public signing key, then derives the same key with its own
// static key agreement key.
func OnePassDHReceive(static *ecdsa.PrivateKey, originatorSigning *ecdsa.PublicKey, keyCipheredData, originatorST, recipientST []byte) (Key, error) {
	const op = "one-pass DH"
	if len(keyCipheredData) != PublicKeySize+SignatureSize {
		return Key{}, errAt(op, 0, fmt.Errorf("%w: key-ciphered-data of %d bytes, want %d", ErrTruncated, len(keyCipheredData), PublicKeySize+SignatureSize))
	}
	epubRaw := keyCipheredData[:PublicKeySize]
	if err := Verify(originatorSigning, epubRaw, keyCipheredData[PublicKeySize:]); err != nil {
		return Key{}, err
	}
	epub, err := ParsePublicKey(epubRaw)
	if err != nil {
		return Key{}, err
	}
	if err := checkTitle(op, originatorST); err != nil {
		return Key{}, err
	}
	if err := checkTitle(op, recipientST); err != nil {
		return Key{}, err
	}
	z, err := SharedSecret(static, epub)
	if err != nil {
		return Key{}, err
	}
	defer clear(z)
	return DeriveKey(z, AlgAESGCM128, originatorST, recipientST)
}

// StaticUnified derives the key of Static Unified Model C(0e, 2s) from the
// own static key agreement key and the peer's. Both static keys give no
// freshness, so PartyVInfo binds the transaction: it is the transaction-id
// with its length byte followed by the recipient system title (PartyUInfo is
// the originator system title). Either side calls it with the same titles
// and transaction id.
func StaticUnified(own *ecdsa.PrivateKey, peer *ecdsa.PublicKey, transactionID, originatorST, recipientST []byte) (Key, error) {
	const op = "static unified DH"
	if err := checkTitle(op, originatorST); err != nil {
		return Key{}, err
	}
	if err := checkTitle(op, recipientST); err != nil {
		return Key{}, err
	}
	if len(transactionID) > 0x7F {
		return Key{}, errOp(op, fmt.Errorf("%w: transaction-id of %d bytes", ErrLength, len(transactionID)))
	}
	z, err := SharedSecret(own, peer)
	if err != nil {
		return Key{}, err
	}
	defer clear(z)
	v := make([]byte, 0, 1+len(transactionID)+len(recipientST))
	v = append(v, byte(len(transactionID)))
	v = append(v, transactionID...)
	v = append(v, recipientST...)
	return DeriveKey(z, AlgAESGCM128, originatorST, v)
}
