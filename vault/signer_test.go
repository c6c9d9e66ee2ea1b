package vault_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/amigo-ami/amigo/vault"
)

func verify(pub *ecdsa.PublicKey, data, sig []byte) bool {
	h := sha256.Sum256(data)
	return len(sig) == 64 && ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

func TestLoadSignerCreatesOnceAndSigns(t *testing.T) {
	file := filepath.Join(t.TempDir(), "signing.key")
	env := func(string) string { return "" }
	s1, created, err := vault.LoadSigner(env, file, true)
	if err != nil || !created {
		t.Fatalf("first start: created %v, %v", created, err)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, st.Mode())
	}
	s2, created, err := vault.LoadSigner(env, file, true)
	if err != nil || created {
		t.Fatalf("second start: created %v, %v", created, err)
	}
	if !s1.PublicKey().Equal(s2.PublicKey()) {
		t.Fatal("second start has another key")
	}
	sig, err := s2.Sign(context.Background(), []byte("disconnect"))
	if err != nil {
		t.Fatal(err)
	}
	if !verify(s1.PublicKey(), []byte("disconnect"), sig) {
		t.Fatal("signature does not verify under the public key")
	}
	if verify(s1.PublicKey(), []byte("reconnect"), sig) {
		t.Fatal("signature verifies over other data")
	}
	p, err := s1.PublicKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(p)
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil || !pub.(*ecdsa.PublicKey).Equal(s1.PublicKey()) {
		t.Fatalf("public key PEM: %v", err)
	}
}

func TestLoadSignerRefuses(t *testing.T) {
	dir := t.TempDir()
	env := func(string) string { return "" }
	if _, _, err := vault.LoadSigner(env, filepath.Join(dir, "absent"), false); err == nil {
		t.Error("a missing key file without create was accepted")
	}
	open := filepath.Join(dir, "open.key")
	if _, _, err := vault.LoadSigner(env, open, true); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o644)
	if _, _, err := vault.LoadSigner(env, open, false); err == nil {
		t.Error("a key file readable by others was accepted")
	}
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	p384 := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	for name, v := range map[string]string{"not PEM": "0011", "P-384": p384,
		"public key": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"} {
		env := func(n string) string {
			if n == "AMIGO_SIGNING_KEY" {
				return v
			}
			return ""
		}
		if _, _, err := vault.LoadSigner(env, "", false); err == nil {
			t.Errorf("%s in AMIGO_SIGNING_KEY was accepted", name)
		}
	}
}

func TestLoadSignerFromEnvironment(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(k)
	v := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	s, created, err := vault.LoadSigner(func(n string) string {
		if n == "AMIGO_SIGNING_KEY" {
			return v
		}
		return ""
	}, filepath.Join(t.TempDir(), "unused"), true)
	if err != nil || created || !s.PublicKey().Equal(&k.PublicKey) {
		t.Fatalf("environment key: created %v, %v", created, err)
	}
}

func FuzzParseSigningKey(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	sec1, _ := x509.MarshalECPrivateKey(k)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := vault.ParseSigningKey(b)
		if err == nil && k.Curve != elliptic.P256() {
			t.Fatal("accepted a key not on P-256")
		}
	})
}
