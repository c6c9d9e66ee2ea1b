package c1222

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"fmt"
)

// TagSize is the length of the EAX' authentication tag C12.22 carries
// after the EPSEM: the low 32 bits of the 128-bit tag.
const TagSize = 4

// KeySize is the length of a C12.22 key: EAX' runs on AES-128.
const KeySize = 16

// MinCleartext is the shortest cleartext the EAX' guard accepts. Minematsu,
// Lucks, Morita and Iwata ("Attacks and Security Proofs of EAX-Prime", FSE
// 2013) forge, distinguish and decrypt EAX' messages whose cleartext fits
// in one 16-octet block, and prove the mode secure when every cleartext is
// longer than one block. So a cleartext of 16 octets or fewer is refused,
// sealing and opening alike.
const MinCleartext = aes.BlockSize + 1

// ErrAuth is the error of a message whose tag does not verify: a wrong
// key, a tampered cleartext or ciphertext, or a forgery.
var ErrAuth = errors.New("c1222: EAX' authentication failed")

// ErrShortCleartext refuses a cleartext of one block or less, the inputs
// on which EAX' is broken.
var ErrShortCleartext = fmt.Errorf("c1222: EAX' cleartext of %d octets or fewer refused (one-block forgery)", aes.BlockSize)

// EAX is the EAX' mode of ANSI C12.22 (Moise, Beroset, Phinney and Burns,
// "EAX' Cipher Mode", 2011) under one AES-128 key. Its two inputs are the
// cleartext, authenticated only (the canonified ACSE elements), and the
// plaintext, encrypted and authenticated (the EPSEM). Security mode 1
// authenticates cleartext and plaintext both without encrypting; mode 2
// encrypts the plaintext.
//
// EAX' differs from EAX in three ways that matter here: the CMAC tweak is
// folded into the chaining value (D for the cleartext, Q for the
// ciphertext) rather than prefixed as a block, there is no header input,
// and the counter's start clears two bits so it never carries into the
// upper words. The tag is the low 32 bits of N' xor C'.
type EAX struct {
	block cipher.Block
	d, q  [aes.BlockSize]byte
}

// NewEAX keys EAX' with a 16-octet AES key.
func NewEAX(key []byte) (*EAX, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("c1222: EAX' key of %d octets, want %d", len(key), KeySize)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("c1222: EAX' key: %w", err)
	}
	e := &EAX{block: b}
	var l [aes.BlockSize]byte
	b.Encrypt(l[:], l[:])
	e.d = dbl(l)
	e.q = dbl(e.d)
	return e, nil
}

// dbl doubles a block in GF(2^128) the way C12.22's EAX' does, which is
// not CMAC's way: the block is read as a little-endian integer (octet 0
// least significant, each octet's bit 7 carrying into the next octet's
// bit 0) and the carry out of octet 15 folds 0x87 into octet 0. The
// published test vectors pass only with this order.
func dbl(in [aes.BlockSize]byte) [aes.BlockSize]byte {
	var out [aes.BlockSize]byte
	var carry byte
	for i := 0; i < aes.BlockSize; i++ {
		out[i] = in[i]<<1 | carry
		carry = in[i] >> 7
	}
	out[0] ^= 0x87 * carry
	return out
}

// cmac is EAX's OMAC with its tweak folded into the chaining value iv (D
// or Q): CBC-MAC from iv over the parts, the last block xored with D when
// it is whole and with Q when it was padded with 10*.
func (e *EAX) cmac(iv [aes.BlockSize]byte, parts ...[]byte) [aes.BlockSize]byte {
	x := iv
	var buf [aes.BlockSize]byte
	n := 0
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	seen := 0
	for _, p := range parts {
		for _, c := range p {
			buf[n] = c
			n++
			seen++
			if n == aes.BlockSize && seen < total {
				subtle.XORBytes(x[:], x[:], buf[:])
				e.block.Encrypt(x[:], x[:])
				n = 0
			}
		}
	}
	if n == aes.BlockSize {
		subtle.XORBytes(buf[:], buf[:], e.d[:])
	} else {
		buf[n] = 0x80
		for i := n + 1; i < aes.BlockSize; i++ {
			buf[i] = 0
		}
		subtle.XORBytes(buf[:], buf[:], e.q[:])
	}
	subtle.XORBytes(x[:], x[:], buf[:])
	e.block.Encrypt(x[:], x[:])
	return x
}

// ctr encrypts (or decrypts) in place from the nonce N' with bit 7 of
// octets 12 and 14 cleared, so the big-endian counter's low words never
// carry for messages of the sizes C12.22 sends.
func (e *EAX) ctr(n [aes.BlockSize]byte, data []byte) {
	n[12] &= 0x7F
	n[14] &= 0x7F
	cipher.NewCTR(e.block, n[:]).XORKeyStream(data, data)
}

// tag of the low 32 bits.
func tag4(b [aes.BlockSize]byte) [TagSize]byte {
	var t [TagSize]byte
	copy(t[:], b[aes.BlockSize-TagSize:])
	return t
}

// Seal encrypts plaintext under cleartext (security mode 2), returning the
// ciphertext (a new slice, as long as the plaintext) and the tag.
func (e *EAX) Seal(cleartext, plaintext []byte) ([]byte, [TagSize]byte, error) {
	if len(cleartext) < MinCleartext {
		return nil, [TagSize]byte{}, ErrShortCleartext
	}
	c, t := e.seal(cleartext, plaintext)
	return c, t, nil
}

// Open verifies the tag over cleartext and ciphertext (security mode 2)
// and only then decrypts, returning the plaintext.
func (e *EAX) Open(cleartext, ciphertext []byte, tag [TagSize]byte) ([]byte, error) {
	if len(cleartext) < MinCleartext {
		return nil, ErrShortCleartext
	}
	return e.open(cleartext, ciphertext, tag)
}

// Authenticate returns the tag of security mode 1, where the cleartext and
// the EPSEM are authenticated together and nothing is encrypted.
func (e *EAX) Authenticate(cleartext, data []byte) ([TagSize]byte, error) {
	if len(cleartext) < MinCleartext {
		return [TagSize]byte{}, ErrShortCleartext
	}
	return tag4(e.cmac(e.d, cleartext, data)), nil
}

// Verify checks a tag of security mode 1.
func (e *EAX) Verify(cleartext, data []byte, tag [TagSize]byte) error {
	want, err := e.Authenticate(cleartext, data)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(want[:], tag[:]) != 1 {
		return ErrAuth
	}
	return nil
}

// seal is EAX' without the guard.
func (e *EAX) seal(cleartext, plaintext []byte) ([]byte, [TagSize]byte) {
	n := e.cmac(e.d, cleartext)
	c := append([]byte(nil), plaintext...)
	if len(c) == 0 {
		return c, tag4(n)
	}
	e.ctr(n, c)
	cm := e.cmac(e.q, c)
	subtle.XORBytes(cm[:], cm[:], n[:])
	return c, tag4(cm)
}

// open is EAX' without the guard.
func (e *EAX) open(cleartext, ciphertext []byte, tag [TagSize]byte) ([]byte, error) {
	n := e.cmac(e.d, cleartext)
	want := n
	if len(ciphertext) > 0 {
		cm := e.cmac(e.q, ciphertext)
		subtle.XORBytes(want[:], cm[:], n[:])
	}
	w := tag4(want)
	if subtle.ConstantTimeCompare(w[:], tag[:]) != 1 {
		return nil, ErrAuth
	}
	p := append([]byte(nil), ciphertext...)
	e.ctr(n, p)
	return p, nil
}
