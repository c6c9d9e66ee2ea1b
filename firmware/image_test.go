package firmware

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSignEncodeDecodeVerify(t *testing.T) {
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("firmware"), 1000)
	img, err := Sign(key, "AMG", "AMG-E1", "AMG-IDIS-2.5.0", payload)
	if err != nil {
		t.Fatal(err)
	}
	b, err := img.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Check(b, &key.PublicKey)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if got.Vendor != "AMG" || got.Model != "AMG-E1" || got.Identifier() != "AMG-IDIS-2.5.0" || !bytes.Equal(got.Payload, payload) {
		t.Fatalf("decoded %+v", got.Header)
	}

	other, _ := GenerateKey()
	if _, err := Check(b, &other.PublicKey); !errors.Is(err, ErrSignature) {
		t.Fatalf("another key's check: %v, want ErrSignature", err)
	}
	// One payload bit flipped: the digest no longer matches.
	bad := bytes.Clone(b)
	bad[len(bad)-100] ^= 1
	if _, err := Check(bad, &key.PublicKey); !errors.Is(err, ErrDigest) {
		t.Fatalf("flipped payload: %v, want ErrDigest", err)
	}
	// Header and digest redone for a new payload, the signature kept: a
	// re-packed image is refused by the signature.
	forged, err := Sign(other, img.Vendor, img.Model, img.Version, append(bytes.Clone(payload), 'x'))
	if err != nil {
		t.Fatal(err)
	}
	forged.Signature = img.Signature
	fb, err := forged.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Check(fb, &key.PublicKey); !errors.Is(err, ErrSignature) {
		t.Fatalf("re-packed image: %v, want ErrSignature", err)
	}
}

func TestDecodeRefusesBadInput(t *testing.T) {
	key, _ := GenerateKey()
	img, err := Sign(key, "AMG", "AMG-E1", "v1", []byte{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := img.Encode()
	for name, in := range map[string][]byte{
		"empty":          nil,
		"no magic":       []byte("XXXX\x01"),
		"format 2":       append([]byte("AMFW\x02"), b[5:]...),
		"truncated":      b[:len(b)-10],
		"trailing bytes": append(bytes.Clone(b), 0),
		"field too long": append([]byte("AMFW\x01\xff"), bytes.Repeat([]byte{'a'}, 300)...),
	} {
		if _, err := Decode(in); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
	}
}

func TestKeysRoundTrip(t *testing.T) {
	key, _ := GenerateKey()
	priv, err := MarshalPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := MarshalPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParsePrivateKey(priv)
	if err != nil || !k2.Equal(key) {
		t.Fatalf("private key: %v", err)
	}
	for _, b := range [][]byte{pub, priv} {
		p, err := ParsePublicKey(b)
		if err != nil || !p.Equal(&key.PublicKey) {
			t.Fatalf("public key: %v", err)
		}
	}
	if _, err := ParsePublicKey([]byte("not a key")); !errors.Is(err, ErrKey) {
		t.Fatalf("garbage key: %v", err)
	}
}

// TestSeedDecodes keeps the fuzz seed in testdata a signed image of the
// current layout.
func TestSeedDecodes(t *testing.T) {
	seed := filepath.Join("testdata", "image.amfw")
	b, err := os.ReadFile(seed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b); err != nil {
		t.Fatalf("seed %s: %v", seed, err)
	}
}
