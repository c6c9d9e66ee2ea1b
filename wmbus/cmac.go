package wmbus

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
)

// cmac returns AES-CMAC (NIST SP 800-38B, RFC 4493) of msg under block.
func cmac(block cipher.Block, msg []byte) [16]byte {
	var l, k1, k2 [16]byte
	block.Encrypt(l[:], l[:])
	dbl := func(dst, src *[16]byte) {
		var carry byte
		for i := 15; i >= 0; i-- {
			dst[i] = src[i]<<1 | carry
			carry = src[i] >> 7
		}
		if carry != 0 {
			dst[15] ^= 0x87
		}
	}
	dbl(&k1, &l)
	dbl(&k2, &k1)
	var x [16]byte
	n := (len(msg) + 15) / 16
	if n == 0 {
		n = 1
	}
	for i := range n - 1 {
		subtle.XORBytes(x[:], x[:], msg[16*i:16*i+16])
		block.Encrypt(x[:], x[:])
	}
	var last [16]byte
	rest := msg[16*(n-1):]
	copy(last[:], rest)
	if len(rest) == 16 {
		subtle.XORBytes(last[:], last[:], k1[:])
	} else {
		last[len(rest)] = 0x80
		subtle.XORBytes(last[:], last[:], k2[:])
	}
	subtle.XORBytes(x[:], x[:], last[:])
	block.Encrypt(x[:], x[:])
	return x
}

// CMAC returns AES-CMAC of msg under a 16-byte key.
func CMAC(key, msg []byte) ([16]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return [16]byte{}, err
	}
	return cmac(b, msg), nil
}
