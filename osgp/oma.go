package osgp

import (
	"crypto/rc4"
	"encoding/binary"
	"errors"
	"fmt"
)

// OMAKeySize is the length of the legacy OMA key: 96 bits.
const OMAKeySize = 12

// DigestSize is the length of an OMA digest.
const DigestSize = 8

// omaChunk is the length the OMA digest processes at a time: 18 rounds
// of 8 octets, the message zero-padded to a multiple of it.
const omaChunk = 144

// OMADigest computes the legacy OSGP "OMA digest" of msg under key. It is
// kept only to talk to meters that know nothing better: the function is
// linear enough that Jovanovic and Neves (FSE 2015) recover the key with
// a handful of chosen-message queries, or about 144 verification queries
// from one valid message and tag. Never use it for anything new.
//
// The state is 8 octets, zero at the start. Each 144-octet chunk runs 18
// rounds; round i takes key octet i mod 12, and within a round the state
// octets are updated from the last (7) to the first (0), each with the
// next message octet and one key bit, least significant bit first:
//
//	x = ^(A[j] + j)
//	A[j] = A[j+1] + m + rotl(x, 1)   when the key bit is 1
//	A[j] = A[j+1] + m - rotr(x, 1)   when it is 0
//
// with A[8] meaning A[0] and all arithmetic modulo 256. The digest is the
// final state.
func OMADigest(key, msg []byte) ([DigestSize]byte, error) {
	var a [DigestSize]byte
	if len(key) != OMAKeySize {
		return a, fmt.Errorf("osgp: OMA key of %d octets, want %d", len(key), OMAKeySize)
	}
	for start := 0; start < len(msg); start += omaChunk {
		chunk := msg[start:min(start+omaChunk, len(msg))]
		for n := range omaChunk {
			j := 7 - n%8
			bit := key[(n/8)%OMAKeySize] >> (7 - j) & 1
			var m byte
			if n < len(chunk) {
				m = chunk[n]
			}
			y := a[(j+1)%8] + m
			x := ^(a[j] + byte(j))
			if bit == 1 {
				a[j] = y + (x<<1 | x>>7)
			} else {
				a[j] = y - (x>>1 | x<<7)
			}
		}
	}
	return a, nil
}

// rc4Key derives the per-message RC4 key of the legacy suite from the OMA
// key, the message's direction (1 request, 2 response, 3 refusal) and its
// sequence number: the OMA digests of the sequence number and direction
// followed by 0x00 and by 0xFF, 16 octets in all. A key derived from the
// digest key falls with it (Jovanovic and Neves); RC4's own biases in its
// first output octets are not even skipped.
func rc4Key(key []byte, dir byte, seq uint32) ([]byte, error) {
	var in [6]byte
	binary.BigEndian.PutUint32(in[:], seq)
	in[4] = dir
	d1, err := OMADigest(key, in[:])
	if err != nil {
		return nil, err
	}
	in[5] = 0xFF
	d2, _ := OMADigest(key, in[:])
	return append(d1[:], d2[:]...), nil
}

// rc4XOR applies the legacy suite's RC4 keystream for dir and seq to b
// in place.
func rc4XOR(key []byte, dir byte, seq uint32, b []byte) error {
	k, err := rc4Key(key, dir, seq)
	if err != nil {
		return err
	}
	c, err := rc4.NewCipher(k)
	if err != nil {
		return errors.New("osgp: rc4: " + err.Error())
	}
	c.XORKeyStream(b, b)
	return nil
}
