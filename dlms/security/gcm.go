package security

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Sizes fixed by the Green Book for AES-GCM ciphering.
const (
	// TagSize is the length of the truncated GCM/GMAC tag.
	TagSize = 12
	// SystemTitleSize is the length of a system title.
	SystemTitleSize = 8
	// HeaderSize is the clear SC || IC prefix of a ciphered content.
	HeaderSize = 5

	nonceSize = 12
)

// Encrypt protects plaintext (a complete xDLMS APDU) under sc and returns the
// ciphered content SC || IC || ciphertext || tag, as carried inside every
// ciphered APDU. The IV is systemTitle (the sender's, 8 bytes) || ic. The
// additional authenticated data is SC || AK, followed by the plaintext when
// only authentication is applied (then the "ciphertext" is the plaintext).
// With neither bit set the content is SC || IC || plaintext.
func Encrypt(sc SecurityControl, keys Keys, systemTitle []byte, ic uint32, plaintext []byte) ([]byte, error) {
	return AppendEncrypt(nil, sc, keys, systemTitle, ic, plaintext)
}

// AppendEncrypt is Encrypt appending to dst. It allocates nothing when dst
// has room for the result plus scratch (see [EncryptBufferSize]); plaintext
// must not overlap dst's spare capacity.
func AppendEncrypt(dst []byte, sc SecurityControl, keys Keys, systemTitle []byte, ic uint32, plaintext []byte) ([]byte, error) {
	return seal("encrypt", dst, sc, keys, systemTitle, ic, plaintext, nil, false)
}

// EncryptBufferSize is the spare capacity AppendEncrypt needs in dst to
// avoid allocating: the output plus room for the nonce and the additional
// authenticated data, which are built in dst's tail and wiped afterwards
// (passing stack arrays through the cipher.AEAD interface would make them
// escape to the heap).
func EncryptBufferSize(sc SecurityControl, plaintextLen int) int {
	return scratchSize(sc, 32, plaintextLen, 0)
}

func scratchSize(sc SecurityControl, akLen, ptLen, extraLen int) int {
	n := HeaderSize + ptLen + TagSize + nonceSize
	if sc.Authenticated() {
		n += 1 + akLen + extraLen
		if !sc.Encrypted() {
			n += ptLen
		}
	}
	return n
}

func checkTitle(op string, st []byte) error {
	if len(st) != SystemTitleSize {
		return errOp(op, fmt.Errorf("%w: got %d bytes", ErrSystemTitle, len(st)))
	}
	return nil
}

// seal is the ciphering core. extraAAD is inserted after SC || AK (suites 1
// and 2 general-ciphering); tagOnly drops the plaintext from the output,
// which is the shape of an HLS-GMAC response (SC || IC || tag).
func seal(op string, dst []byte, sc SecurityControl, keys Keys, st []byte, ic uint32, pt, extraAAD []byte, tagOnly bool) ([]byte, error) {
	ek, ak, err := keys.pick(op, sc)
	if err != nil {
		return dst, err
	}
	if err := checkTitle(op, st); err != nil {
		return dst, err
	}
	n := len(dst)
	auth, enc := sc.Authenticated(), sc.Encrypted()
	aadLen := 0
	if auth {
		aadLen = 1 + ak.Len() + len(extraAAD)
		if !enc {
			aadLen += len(pt)
		}
	}
	total := HeaderSize + len(pt) + TagSize + nonceSize + aadLen
	dst = slices.Grow(dst, total)
	buf := dst[n : n+total]
	buf[0] = byte(sc)
	binary.BigEndian.PutUint32(buf[1:HeaderSize], ic)
	scratch := buf[HeaderSize+len(pt)+TagSize:]
	nonce := scratch[:nonceSize]
	copy(nonce, st)
	binary.BigEndian.PutUint32(nonce[8:], ic)
	aad := scratch[nonceSize:]
	if auth {
		aad[0] = byte(sc)
		p := 1 + copy(aad[1:], ak.m.b)
		p += copy(aad[p:], extraAAD)
		if !enc {
			copy(aad[p:], pt)
		}
	}
	var outLen int
	switch {
	case auth && enc:
		ek.m.gcm.Seal(buf[HeaderSize:HeaderSize], nonce, pt, aad)
		outLen = HeaderSize + len(pt) + TagSize
	case auth:
		copy(buf[HeaderSize:], pt)
		ek.m.gcm.Seal(buf[HeaderSize+len(pt):HeaderSize+len(pt)], nonce, nil, aad)
		outLen = HeaderSize + len(pt) + TagSize
	case enc:
		// GCM's ciphertext is CTR keystream from inc32(J0) and does not
		// depend on the AAD; the tag Seal also writes is discarded.
		ek.m.gcm.Seal(buf[HeaderSize:HeaderSize], nonce, pt, nil)
		outLen = HeaderSize + len(pt)
	default:
		copy(buf[HeaderSize:], pt)
		outLen = HeaderSize + len(pt)
	}
	if tagOnly {
		if !auth || enc {
			clear(buf)
			return dst[:n], errOp(op, fmt.Errorf("%w: tag-only output needs authentication without encryption", ErrUnsupported))
		}
		copy(buf[HeaderSize:], buf[HeaderSize+len(pt):HeaderSize+len(pt)+TagSize])
		outLen = HeaderSize + TagSize
	}
	clear(buf[outLen:]) // the scratch held a copy of AK
	return dst[:n+outLen], nil
}

// Decrypt checks and removes the protection of a ciphered content
// SC || IC || ciphertext || tag, with systemTitle being the sender's. It
// returns the plaintext and the clear header. A bad tag yields
// ErrAuthentication and no plaintext.
func Decrypt(keys Keys, systemTitle, ciphered []byte) ([]byte, Header, error) {
	return AppendDecrypt(nil, keys, systemTitle, ciphered)
}

// AppendDecrypt is Decrypt appending the plaintext to dst. It allocates
// nothing when dst has spare capacity of len(ciphered)+TagSize+nonce+AAD
// (DecryptBufferSize); ciphered must not overlap dst's spare capacity.
func AppendDecrypt(dst []byte, keys Keys, systemTitle, ciphered []byte) ([]byte, Header, error) {
	return open("decrypt", dst, keys, systemTitle, ciphered, nil)
}

// DecryptBufferSize is the spare capacity AppendDecrypt needs in dst to run
// without allocating for a ciphered content of cipheredLen bytes.
func DecryptBufferSize(cipheredLen int) int {
	return 2*cipheredLen + nonceSize + 1 + 32
}

func open(op string, dst []byte, keys Keys, st, ciphered, extraAAD []byte) ([]byte, Header, error) {
	if len(ciphered) < HeaderSize {
		return dst, Header{}, errAt(op, len(ciphered), fmt.Errorf("%w: ciphered content needs SC and IC (5 bytes), have %d", ErrTruncated, len(ciphered)))
	}
	h := Header{SC: SecurityControl(ciphered[0]), IC: binary.BigEndian.Uint32(ciphered[1:HeaderSize])}
	ek, ak, err := keys.pick(op, h.SC)
	if err != nil {
		return dst, h, err
	}
	if err := checkTitle(op, st); err != nil {
		return dst, h, err
	}
	auth, enc := h.SC.Authenticated(), h.SC.Encrypted()
	body := ciphered[HeaderSize:]
	var ct, tag []byte
	if auth {
		if len(body) < TagSize {
			return dst, h, errAt(op, len(ciphered), fmt.Errorf("%w: authentication tag needs %d bytes, have %d", ErrTruncated, TagSize, len(body)))
		}
		ct, tag = body[:len(body)-TagSize], body[len(body)-TagSize:]
	} else {
		ct = body
	}
	n := len(dst)
	aadLen := 0
	if auth {
		aadLen = 1 + ak.Len() + len(extraAAD)
		if !enc {
			aadLen += len(ct)
		}
	}
	total := len(ct) + TagSize + nonceSize + aadLen
	dst = slices.Grow(dst, total)
	buf := dst[n : n+total]
	scratch := buf[len(ct)+TagSize:]
	nonce := scratch[:nonceSize]
	copy(nonce, st)
	binary.BigEndian.PutUint32(nonce[8:], h.IC)
	aad := scratch[nonceSize:]
	if auth {
		aad[0] = byte(h.SC)
		p := 1 + copy(aad[1:], ak.m.b)
		p += copy(aad[p:], extraAAD)
		if !enc {
			copy(aad[p:], ct)
		}
	}
	var oerr error
	switch {
	case auth && enc:
		_, oerr = ek.m.gcm.Open(buf[:0], nonce, body, aad)
	case auth:
		if _, oerr = ek.m.gcm.Open(buf[:0], nonce, tag, aad); oerr == nil {
			copy(buf, ct)
		}
	case enc:
		// CTR is its own inverse: sealing the ciphertext yields the
		// plaintext (the tag written after it is scratch).
		ek.m.gcm.Seal(buf[:0], nonce, ct, nil)
	default:
		copy(buf, ct)
	}
	if oerr != nil {
		clear(buf)
		return dst[:n], h, errAt(op, len(ciphered)-TagSize, ErrAuthentication)
	}
	clear(buf[len(ct):])
	return dst[:n+len(ct)], h, nil
}
