package pkcs11

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"testing"
)

func TestRawSignatureFromDER(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("m"))
	for range 64 { // some r or s are short, and must be padded
		der, err := ecdsa.SignASN1(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		raw, err := rawSignature(der, 32)
		if err != nil {
			t.Fatal(err)
		}
		if len(raw) != 64 || !ecdsa.Verify(&k.PublicKey, d[:], new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])) {
			t.Fatalf("r||s %x does not verify", raw)
		}
	}
	one := big.NewInt(1)
	for name, der := range map[string][]byte{
		"empty":    nil,
		"trailing": append(derOf(one, one), 0),
		"zero r":   derOf(big.NewInt(0), one),
		"long r":   derOf(new(big.Int).Lsh(one, 256), one),
	} {
		if _, err := rawSignature(der, 32); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// derOf writes SEQUENCE { INTEGER r, INTEGER s } for small test values.
func derOf(r, s *big.Int) []byte {
	in := func(x *big.Int) []byte {
		b := x.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{0x02, byte(len(b))}, b...)
	}
	body := append(in(r), in(s)...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

func FuzzRawSignature(f *testing.F) {
	f.Add(derOf(big.NewInt(1), big.NewInt(2)))
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, der []byte) {
		raw, err := rawSignature(der, 32)
		if err != nil {
			return
		}
		if len(raw) != 64 || bytes.Equal(raw[:32], make([]byte, 32)) || bytes.Equal(raw[32:], make([]byte, 32)) {
			t.Fatalf("accepted %x as %x", der, raw)
		}
	})
}
