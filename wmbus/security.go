package wmbus

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
)

// Security modes of the transport layer's configuration field
// (EN 13757-7 / OMS Vol. 2).
const (
	SecurityNone = 0
	// SecurityMode5: AES-128-CBC under the meter's key, IV from the
	// meter's address and the access number.
	SecurityMode5 = 5
	// SecurityMode7: AES-128-CBC with IV zero under a key derived per
	// message from the meter's key and the AFL message counter; the AFL
	// carries an AES-CMAC of the message.
	SecurityMode7 = 7
)

// Derivation constants of the OMS key derivation function (OMS Vol. 2,
// 9.5.3): keys for what the meter sends.
const (
	dcEncFromMeter = 0x00
	dcMACFromMeter = 0x01
)

// DeriveKey returns the OMS ephemeral key: AES-CMAC under the meter key
// of DC || counter || id || 0x07 padding, counter and id little endian.
func DeriveKey(key []byte, dc byte, counter, id uint32) ([16]byte, error) {
	var in [16]byte
	in[0] = dc
	binary.LittleEndian.PutUint32(in[1:], counter)
	binary.LittleEndian.PutUint32(in[5:], id)
	for i := 9; i < 16; i++ {
		in[i] = 0x07
	}
	return CMAC(key, in[:])
}

// mode5IV is M || A || ACC repeated eight times.
func mode5IV(a Address, acc byte) []byte {
	iv := a.put(make([]byte, 0, 16))
	for range 8 {
		iv = append(iv, acc)
	}
	return iv
}

func cbcDecrypt(key, iv, data []byte) ([]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("wmbus: key: %w", err)
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(out, data)
	return out, nil
}

func cbcEncrypt(key, iv, data []byte) ([]byte, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("wmbus: key: %w", err)
	}
	out := make([]byte, len(data))
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(out, data)
	return out, nil
}

// ellCTR runs the ELL's AES-128-CTR over data in place: IV is M || A ||
// CC || SN || FN (0) || BC, the block counter from 0 (EN 13757-4, 13.2.12).
func ellCTR(key []byte, a Address, cc byte, sn uint32, data []byte) error {
	b, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("wmbus: key: %w", err)
	}
	iv := a.put(make([]byte, 0, 16))
	iv = append(iv, cc, byte(sn), byte(sn>>8), byte(sn>>16), byte(sn>>24), 0, 0, 0)
	var ks [16]byte
	for i := 0; i < len(data); i += 16 {
		iv[15] = byte(i / 16)
		b.Encrypt(ks[:], iv)
		end := min(i+16, len(data))
		subtle.XORBytes(data[i:end], data[i:end], ks[:end-i])
	}
	return nil
}
