// Package firmware owns the signed firmware image: its header (vendor,
// model, version, payload size and SHA-256), the one byte layout that image
// files, the store and image transfers to meters all carry, and the ECDSA
// P-256 signature over header and payload by a firmware-signing key, a key
// of its own and never the command-signing key.
//
// Layout, all integers big-endian:
//
//	"AMFW" | format (1) | vendor, model, version (each u8 length + UTF-8)
//	| payload size (u32) | payload SHA-256 (32) | payload
//	| signature length (u8) | ASN.1 DER ECDSA signature
//
// The signature covers every byte before its length. A meter receives the
// whole image, so that it checks the signature itself at verification and
// does not have to trust the head-end that sent it.
package firmware

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Magic opens every image.
const Magic = "AMFW"

// formatVersion is the layout this package writes and reads.
const formatVersion = 1

// MaxField is the longest vendor, model or version, in bytes.
const MaxField = 64

// MaxSignature is the longest DER signature of a P-256 key.
const MaxSignature = 72

// Errors an image is refused with, wrapped with the detail.
var (
	// ErrFormat: the bytes are not an image of this layout.
	ErrFormat = errors.New("firmware: malformed image")
	// ErrDigest: the payload does not hash to the header's SHA-256.
	ErrDigest = errors.New("firmware: payload digest mismatch")
	// ErrSignature: the signature is not the trusted key's over this
	// header and payload.
	ErrSignature = errors.New("firmware: bad signature")
)

// Header describes the payload.
type Header struct {
	Vendor  string
	Model   string
	Version string
	Size    uint32
	SHA256  [sha256.Size]byte
}

// Image is a decoded image: header, payload and signature.
type Image struct {
	Header
	Payload   []byte
	Signature []byte // ASN.1 DER
}

// Identifier is the image_identifier an image travels under to a meter,
// and the active firmware identifier the meter reports once it runs it:
// the version, which names vendor and model by convention.
func (img *Image) Identifier() string { return img.Version }

func checkField(name, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%w: %s is empty", ErrFormat, name)
	case len(v) > MaxField:
		return fmt.Errorf("%w: %s is %d bytes, at most %d", ErrFormat, name, len(v), MaxField)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not UTF-8", ErrFormat, name)
	}
	return nil
}

// signed appends the header and payload, the bytes the signature covers.
func (img *Image) signed(b []byte) []byte {
	b = append(b, Magic...)
	b = append(b, formatVersion)
	for _, s := range []string{img.Vendor, img.Model, img.Version} {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint32(b, img.Size)
	b = append(b, img.SHA256[:]...)
	return append(b, img.Payload...)
}

// Encode returns the image's bytes. It checks the header against the
// payload, not the signature.
func (img *Image) Encode() ([]byte, error) {
	for _, f := range [...]struct{ n, v string }{{"vendor", img.Vendor}, {"model", img.Model}, {"version", img.Version}} {
		if err := checkField(f.n, f.v); err != nil {
			return nil, err
		}
	}
	if uint64(len(img.Payload)) != uint64(img.Size) {
		return nil, fmt.Errorf("%w: header says %d bytes, payload has %d", ErrFormat, img.Size, len(img.Payload))
	}
	if sha256.Sum256(img.Payload) != img.SHA256 {
		return nil, ErrDigest
	}
	if len(img.Signature) == 0 || len(img.Signature) > MaxSignature {
		return nil, fmt.Errorf("%w: signature of %d bytes", ErrFormat, len(img.Signature))
	}
	b := img.signed(make([]byte, 0, 4+1+3+3*MaxField+4+32+len(img.Payload)+1+len(img.Signature)))
	b = append(b, byte(len(img.Signature)))
	return append(b, img.Signature...), nil
}

// Decode reads an image and checks its structure and payload digest; the
// signature is checked by Verify. Payload and Signature alias b.
func Decode(b []byte) (Image, error) {
	var img Image
	if len(b) < len(Magic)+1 || !bytes.Equal(b[:len(Magic)], []byte(Magic)) {
		return img, fmt.Errorf("%w: no %q at the start", ErrFormat, Magic)
	}
	if v := b[len(Magic)]; v != formatVersion {
		return img, fmt.Errorf("%w: format %d, want %d", ErrFormat, v, formatVersion)
	}
	rest := b[len(Magic)+1:]
	var fields [3]string
	for i, name := range [...]string{"vendor", "model", "version"} {
		if len(rest) < 1 || len(rest) < 1+int(rest[0]) {
			return img, fmt.Errorf("%w: %s truncated", ErrFormat, name)
		}
		fields[i] = string(rest[1 : 1+int(rest[0])])
		if err := checkField(name, fields[i]); err != nil {
			return img, err
		}
		rest = rest[1+int(rest[0]):]
	}
	img.Vendor, img.Model, img.Version = fields[0], fields[1], fields[2]
	if len(rest) < 4+sha256.Size {
		return img, fmt.Errorf("%w: header truncated", ErrFormat)
	}
	img.Size = binary.BigEndian.Uint32(rest)
	copy(img.SHA256[:], rest[4:])
	rest = rest[4+sha256.Size:]
	if uint64(len(rest)) < uint64(img.Size)+1 {
		return img, fmt.Errorf("%w: payload of %d bytes truncated at %d", ErrFormat, img.Size, len(rest))
	}
	img.Payload, rest = rest[:img.Size:img.Size], rest[img.Size:]
	n := int(rest[0])
	if n == 0 || n > MaxSignature || len(rest) != 1+n {
		return img, fmt.Errorf("%w: signature of %d bytes with %d bytes left", ErrFormat, n, len(rest)-1)
	}
	img.Signature = rest[1:]
	if sha256.Sum256(img.Payload) != img.SHA256 {
		return img, ErrDigest
	}
	return img, nil
}

// Sign builds and signs an image of payload with the firmware-signing key.
func Sign(key *ecdsa.PrivateKey, vendor, model, version string, payload []byte) (Image, error) {
	img := Image{Header: Header{Vendor: vendor, Model: model, Version: version, Size: uint32(len(payload)), SHA256: sha256.Sum256(payload)},
		Payload: payload}
	if uint64(len(payload)) > 0xFFFFFFFF {
		return img, fmt.Errorf("%w: payload of %d bytes", ErrFormat, len(payload))
	}
	for _, f := range [...]struct{ n, v string }{{"vendor", vendor}, {"model", model}, {"version", version}} {
		if err := checkField(f.n, f.v); err != nil {
			return img, err
		}
	}
	if err := checkKey(&key.PublicKey); err != nil {
		return img, err
	}
	h := sha256.Sum256(img.signed(nil))
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return img, fmt.Errorf("firmware: signing %s: %w", version, err)
	}
	img.Signature = sig
	return img, nil
}

// Verify checks the image's signature against the trusted firmware key,
// and its payload against the header.
func (img *Image) Verify(pub *ecdsa.PublicKey) error {
	if err := checkKey(pub); err != nil {
		return err
	}
	if uint64(len(img.Payload)) != uint64(img.Size) || sha256.Sum256(img.Payload) != img.SHA256 {
		return ErrDigest
	}
	h := sha256.Sum256(img.signed(nil))
	if !ecdsa.VerifyASN1(pub, h[:], img.Signature) {
		return fmt.Errorf("%w: image %s is not signed by the trusted firmware key", ErrSignature, img.Version)
	}
	return nil
}

// Check decodes raw image bytes and verifies them against pub: what a
// head-end does before it sends an image and a meter at verification.
func Check(b []byte, pub *ecdsa.PublicKey) (Image, error) {
	img, err := Decode(b)
	if err != nil {
		return img, err
	}
	return img, img.Verify(pub)
}
