package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"strings"
	"testing"
)

// failing is a master key whose device has gone: cipher.AEAD gives its
// Seal no error to return, so it panics, as a PKCS#11 one does.
type failing struct{ cipher.AEAD }

func (failing) Seal(dst, nonce, plain, aad []byte) []byte { panic("C_Encrypt: CKR_DEVICE_REMOVED") }

func gcm(t *testing.T, k []byte) cipher.AEAD {
	t.Helper()
	b, err := aes.NewCipher(k)
	if err != nil {
		t.Fatal(err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAnAEADMasterKeySealsRecordsAKeyOpens(t *testing.T) {
	// The same key reached as an AEAD and as bytes: the two vaults read
	// each other's records, so the layout is the same either way.
	a, err := NewAEAD("k1", gcm(t, key(1)))
	if err != nil {
		t.Fatal(err)
	}
	b := mustNew(t, "k1", key(1))
	plain := []byte("secret")
	s, err := a.Seal(plain, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Open(s, []byte("m")); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open with the key as bytes: %q %v", got, err)
	}
	s, _ = b.Seal(plain, []byte("m"))
	if got, err := a.Open(s, []byte("m")); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open with the key as an AEAD: %q %v", got, err)
	}
}

func TestNewAEADRefusesWhatTheLayoutCannotHold(t *testing.T) {
	b, _ := aes.NewCipher(key(1))
	long, _ := cipher.NewGCMWithNonceSize(b, 16)
	short, _ := cipher.NewGCMWithTagSize(b, 12)
	for name, a := range map[string]cipher.AEAD{"nil": nil, "16-byte nonce": long, "12-byte tag": short} {
		if _, err := NewAEAD("k", a); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewAEAD("", gcm(t, key(1))); err == nil {
		t.Error("empty id accepted")
	}
}

func TestAMasterKeyThatFailsIsAnErrorNotAPanic(t *testing.T) {
	v, err := NewAEAD("hsm", failing{gcm(t, key(1))})
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Seal([]byte("x"), nil)
	if err == nil || errors.Is(err, ErrOpen) || !strings.Contains(err.Error(), "CKR_DEVICE_REMOVED") || !strings.Contains(err.Error(), `"hsm"`) {
		t.Fatalf("seal with a failed device: %v", err)
	}
}
