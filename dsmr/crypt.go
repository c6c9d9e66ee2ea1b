package dsmr

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
)

// Encrypted P1 as Luxembourg's Smarty and Austrian meters send it: the
// telegram in one DLMS general-glo-ciphering frame.
//
//	DB                  tag
//	08 <8 bytes>        system title
//	82 <2 bytes>        length of what follows (a BER length; 0x82 in practice)
//	30                  security control: authenticated and encrypted, suite 0
//	<4 bytes>           frame counter
//	<ciphertext>        AES-128-GCM of the telegram
//	<12 bytes>          GCM tag
//
// The IV is the system title and the frame counter; the additional
// authenticated data is the security control byte and the
// authentication key (AK).
const (
	frameTag        = 0xDB
	securityControl = 0x30
	gcmTagSize      = 12
)

// DefaultAK is the authentication key Smarty meters use, published by
// their operator with the P1 specification.
var DefaultAK = [16]byte{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF}

// Frame is one encrypted P1 frame's header.
type Frame struct {
	SystemTitle [8]byte
	Counter     uint32
}

// FrameLen returns the length of the encrypted frame at the start of b,
// or 0 and no error when b is too short to say.
func FrameLen(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if b[0] != frameTag {
		return 0, fmt.Errorf("dsmr: encrypted frame starts %#02x, want %#02x: %w", b[0], frameTag, ErrGarbage)
	}
	if len(b) < 2 {
		return 0, nil
	}
	if b[1] != 8 {
		return 0, fmt.Errorf("dsmr: system title of %d bytes, want 8: %w", b[1], ErrGarbage)
	}
	i := 10
	if len(b) <= i {
		return 0, nil
	}
	n, k := 0, 0
	switch c := b[i]; {
	case c < 0x80:
		n, k = int(c), 1
	case c == 0x81:
		if len(b) < i+2 {
			return 0, nil
		}
		n, k = int(b[i+1]), 2
	case c == 0x82:
		if len(b) < i+3 {
			return 0, nil
		}
		n, k = int(binary.BigEndian.Uint16(b[i+1:])), 3
	default:
		return 0, fmt.Errorf("dsmr: encrypted frame length byte %#02x: %w", c, ErrGarbage)
	}
	if n < 5+gcmTagSize || i+k+n > MaxTelegram+64 {
		return 0, fmt.Errorf("dsmr: encrypted frame length %d: %w", n, ErrGarbage)
	}
	return i + k + n, nil
}

// Decrypt opens one encrypted frame with the 16-byte key ek and
// authentication key ak, and returns its header and the plain telegram.
func Decrypt(frame []byte, ek, ak []byte) (Frame, []byte, error) {
	var f Frame
	n, err := FrameLen(frame)
	if err != nil {
		return f, nil, err
	}
	if n == 0 || len(frame) < n {
		return f, nil, fmt.Errorf("dsmr: encrypted frame of %d bytes: %w", len(frame), ErrTruncated)
	}
	if len(frame) > n {
		return f, nil, fmt.Errorf("dsmr: %d bytes after the encrypted frame: %w", len(frame)-n, ErrGarbage)
	}
	copy(f.SystemTitle[:], frame[2:10])
	body := frame[n-lenBody(frame):]
	if body[0] != securityControl {
		return f, nil, fmt.Errorf("dsmr: security control %#02x, want %#02x: %w", body[0], securityControl, ErrDecrypt)
	}
	f.Counter = binary.BigEndian.Uint32(body[1:5])
	aead, err := newGCM(ek)
	if err != nil {
		return f, nil, err
	}
	plain, err := aead.Open(nil, iv(f), body[5:], aad(ak))
	if err != nil {
		return f, nil, fmt.Errorf("dsmr: frame %d from %X: %w", f.Counter, f.SystemTitle, ErrDecrypt)
	}
	return f, plain, nil
}

// lenBody is the length FrameLen read: what follows the length field.
func lenBody(frame []byte) int {
	switch c := frame[10]; {
	case c < 0x80:
		return int(c)
	case c == 0x81:
		return int(frame[11])
	default:
		return int(binary.BigEndian.Uint16(frame[11:]))
	}
}

// Encrypt seals a telegram into one frame as a Smarty meter sends it.
func Encrypt(f Frame, telegram, ek, ak []byte) ([]byte, error) {
	aead, err := newGCM(ek)
	if err != nil {
		return nil, err
	}
	n := 5 + len(telegram) + gcmTagSize
	if n > 0xFFFF {
		return nil, fmt.Errorf("dsmr: telegram of %d bytes: %w", len(telegram), ErrTooLong)
	}
	out := make([]byte, 0, 13+n)
	out = append(out, frameTag, 8)
	out = append(out, f.SystemTitle[:]...)
	out = append(out, 0x82, byte(n>>8), byte(n))
	out = append(out, securityControl)
	out = binary.BigEndian.AppendUint32(out, f.Counter)
	return aead.Seal(out, iv(f), telegram, aad(ak)), nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != 16 {
		return nil, fmt.Errorf("dsmr: key of %d bytes, want 16 (AES-128)", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithTagSize(block, gcmTagSize)
}

func iv(f Frame) []byte {
	b := make([]byte, 12)
	copy(b, f.SystemTitle[:])
	binary.BigEndian.PutUint32(b[8:], f.Counter)
	return b
}

func aad(ak []byte) []byte {
	if ak == nil {
		ak = DefaultAK[:]
	}
	return append([]byte{securityControl}, ak...)
}
