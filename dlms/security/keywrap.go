package security

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
)

// RFC 3394 default initial value A6A6A6A6A6A6A6A6.
const keyWrapIV = 0xA6A6A6A6A6A6A6A6

// WrapKey wraps key material under kek with the RFC 3394 AES key wrap (the
// Green Book's key transfer algorithm, KEK being the master key). key must
// be a multiple of 8 bytes and at least 16.
func WrapKey(kek Key, key []byte) ([]byte, error) {
	const op = "wrap key"
	if kek.IsZero() {
		return nil, errOp(op, fmt.Errorf("%w: KEK", ErrMissingKey))
	}
	if len(key) < 16 || len(key)%8 != 0 {
		return nil, errOp(op, fmt.Errorf("%w: key data of %d bytes, need a multiple of 8, at least 16", ErrKeySize, len(key)))
	}
	n := len(key) / 8
	out := make([]byte, 8+len(key))
	copy(out[8:], key)
	a := uint64(keyWrapIV)
	var blk [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			binary.BigEndian.PutUint64(blk[:8], a)
			copy(blk[8:], out[8*i:8*i+8])
			kek.m.block.Encrypt(blk[:], blk[:])
			a = binary.BigEndian.Uint64(blk[:8]) ^ uint64(n*j+i)
			copy(out[8*i:], blk[8:])
		}
	}
	binary.BigEndian.PutUint64(out[:8], a)
	clear(blk[:])
	return out, nil
}

// UnwrapKey reverses WrapKey and checks the RFC 3394 integrity value;
// a wrong KEK or tampered data yields ErrKeyUnwrap and no key material.
func UnwrapKey(kek Key, wrapped []byte) ([]byte, error) {
	const op = "unwrap key"
	if kek.IsZero() {
		return nil, errOp(op, fmt.Errorf("%w: KEK", ErrMissingKey))
	}
	if len(wrapped) < 24 || len(wrapped)%8 != 0 {
		return nil, errAt(op, 0, fmt.Errorf("%w: wrapped key of %d bytes, need a multiple of 8, at least 24", ErrKeySize, len(wrapped)))
	}
	n := len(wrapped)/8 - 1
	out := make([]byte, 8*n)
	copy(out, wrapped[8:])
	a := binary.BigEndian.Uint64(wrapped[:8])
	var blk [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			binary.BigEndian.PutUint64(blk[:8], a^uint64(n*j+i))
			copy(blk[8:], out[8*(i-1):8*i])
			kek.m.block.Decrypt(blk[:], blk[:])
			a = binary.BigEndian.Uint64(blk[:8])
			copy(out[8*(i-1):], blk[8:])
		}
	}
	clear(blk[:])
	var got, want [8]byte
	binary.BigEndian.PutUint64(got[:], a)
	binary.BigEndian.PutUint64(want[:], keyWrapIV)
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		clear(out)
		return nil, errOp(op, ErrKeyUnwrap)
	}
	return out, nil
}

// KeyID identifies a key in the Security setup key_transfer method.
type KeyID uint8

// Key ids of Security setup (class 64) key_transfer.
const (
	KeyGlobalUnicast   KeyID = 0 // global unicast encryption key
	KeyGlobalBroadcast KeyID = 1 // global broadcast encryption key
	KeyAuthentication  KeyID = 2 // authentication key
	KeyMaster          KeyID = 3 // master key (KEK)
)

// String names the key.
func (k KeyID) String() string {
	switch k {
	case KeyGlobalUnicast:
		return "global unicast encryption key"
	case KeyGlobalBroadcast:
		return "global broadcast encryption key"
	case KeyAuthentication:
		return "authentication key"
	case KeyMaster:
		return "master key"
	}
	return fmt.Sprintf("key id %d", uint8(k))
}

// WrappedKey is one element of the key_transfer parameter.
type WrappedKey struct {
	ID      KeyID
	Wrapped []byte
}

// A-XDR data tags used by the key_transfer parameter.
const (
	axdrArray       = 0x01
	axdrStructure   = 0x02
	axdrOctetString = 0x09
	axdrEnum        = 0x16
)

// AppendKeyTransfer encodes the Security setup key_transfer parameter,
// array of structure {key_id enum, key_wrapped octet-string}, as A-XDR data:
// 01 n (02 02 16 id 09 len wrapped)*.
func AppendKeyTransfer(dst []byte, keys []WrappedKey) []byte {
	dst = append(dst, axdrArray)
	dst = appendLength(dst, len(keys))
	for _, k := range keys {
		dst = append(dst, axdrStructure, 2, axdrEnum, byte(k.ID), axdrOctetString)
		dst = appendLength(dst, len(k.Wrapped))
		dst = append(dst, k.Wrapped...)
	}
	return dst
}

// ParseKeyTransfer decodes a key_transfer parameter. Wrapped slices alias b.
func ParseKeyTransfer(b []byte) ([]WrappedKey, error) {
	r := reader{op: "parse key_transfer", b: b}
	expect := func(want byte, what string) error {
		c, err := r.byte1(what)
		if err != nil {
			return err
		}
		if c != want {
			r.off--
			return r.fail(ErrUnknownTag, "%s: got 0x%02X, want 0x%02X", what, c, want)
		}
		return nil
	}
	if err := expect(axdrArray, "array tag"); err != nil {
		return nil, err
	}
	n, err := r.length("array")
	if err != nil {
		return nil, err
	}
	// Each element takes at least 7 bytes; do not trust n beyond that.
	if n > r.remaining()/7 {
		return nil, r.fail(ErrTruncated, "array of %d elements in %d bytes", n, r.remaining())
	}
	out := make([]WrappedKey, 0, n)
	for range n {
		if err := expect(axdrStructure, "structure tag"); err != nil {
			return nil, err
		}
		if err := expect(2, "structure size"); err != nil {
			return nil, err
		}
		if err := expect(axdrEnum, "key_id enum tag"); err != nil {
			return nil, err
		}
		id, err := r.byte1("key_id")
		if err != nil {
			return nil, err
		}
		if err := expect(axdrOctetString, "key_wrapped tag"); err != nil {
			return nil, err
		}
		w, err := r.octets("key_wrapped")
		if err != nil {
			return nil, err
		}
		out = append(out, WrappedKey{ID: KeyID(id), Wrapped: w})
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return out, nil
}

// TransferKeys wraps each key under kek and encodes the key_transfer
// parameter in one step.
func TransferKeys(kek Key, keys map[KeyID]Key) ([]byte, error) {
	ws := make([]WrappedKey, 0, len(keys))
	for id := KeyGlobalUnicast; id <= KeyMaster; id++ {
		k, ok := keys[id]
		if !ok {
			continue
		}
		if k.IsZero() {
			return nil, errOp("transfer keys", fmt.Errorf("%w: %v", ErrMissingKey, id))
		}
		w, err := WrapKey(kek, k.m.b)
		if err != nil {
			return nil, err
		}
		ws = append(ws, WrappedKey{ID: id, Wrapped: w})
	}
	if len(ws) != len(keys) {
		return nil, errOp("transfer keys", fmt.Errorf("%w: key id outside 0..3", ErrUnsupported))
	}
	return AppendKeyTransfer(nil, ws), nil
}
