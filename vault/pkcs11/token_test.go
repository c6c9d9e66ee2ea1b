//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ThalesGroup/crypto11"

	"github.com/amigo-ami/amigo/testenv"
	"github.com/amigo-ami/amigo/vault"
)

const testPIN = "4321"

// newToken makes a SoftHSM2 token of its own in a temporary directory,
// points SOFTHSM2_CONF at it, and returns the settings that open it.
func newToken(t testing.TB) Config {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		testenv.Service(t, "softhsm2 (softhsm2-util)", err)
	}
	if _, err := os.Stat(DefaultModule); err != nil {
		testenv.Service(t, "softhsm2 (its PKCS#11 module)", err)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	label := "amigo-test"
	out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", testPIN, "--so-pin", "87654321").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v: %s", err, out)
	}
	return Config{Token: label, PIN: testPIN}
}

func openToken(t *testing.T, cfg Config) *Token {
	t.Helper()
	tok, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tok.Close(); err != nil {
			t.Error(err)
		}
	})
	return tok
}

func fileVault(t *testing.T) *vault.Vault {
	t.Helper()
	k := make([]byte, 32)
	rand.Read(k)
	v, err := vault.New("file", k)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestInitMakesBothKeysOnceAndTheyAreFound(t *testing.T) {
	tok := openToken(t, newToken(t))
	if _, err := tok.Master(); !errors.Is(err, ErrNoKey) {
		t.Fatalf("master key on a fresh token: %v, want ErrNoKey", err)
	}
	if _, err := tok.Signer(); !errors.Is(err, ErrNoKey) {
		t.Fatalf("signing key on a fresh token: %v, want ErrNoKey", err)
	}
	c, err := tok.Init()
	if err != nil {
		t.Fatal(err)
	}
	if !c.Master || !c.Signing {
		t.Fatalf("first init created %+v, want both", c)
	}
	s1, err := tok.Signer()
	if err != nil {
		t.Fatal(err)
	}
	c, err = tok.Init()
	if err != nil {
		t.Fatal(err)
	}
	if c.Master || c.Signing {
		t.Fatalf("second init created %+v, want nothing", c)
	}
	s2, err := tok.Signer()
	if err != nil {
		t.Fatal(err)
	}
	if !s1.PublicKey().Equal(s2.PublicKey()) {
		t.Fatal("a second init replaced the signing key")
	}
}

func TestMasterKeyStaysOnTheToken(t *testing.T) {
	tok := openToken(t, newToken(t))
	if _, err := tok.Init(); err != nil {
		t.Fatal(err)
	}
	k, err := tok.ctx.FindKey(nil, []byte(DefaultMasterLabel))
	if err != nil || k == nil {
		t.Fatalf("master key: %v", err)
	}
	for _, a := range []struct {
		name string
		typ  uint
		want byte
	}{{"sensitive", crypto11.CkaSensitive, 1}, {"extractable", crypto11.CkaExtractable, 0}} {
		got, err := tok.ctx.GetAttribute(k, a.typ)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Value) != 1 || got.Value[0] != a.want {
			t.Errorf("master key's %s is %v, want %d", a.name, got.Value, a.want)
		}
	}
	// A sensitive key's value cannot be read off the token.
	if v, err := tok.ctx.GetAttribute(k, crypto11.CkaValue); err == nil && len(v.Value) > 0 {
		t.Fatalf("read the master key's value (%d bytes) off the token", len(v.Value))
	}
}

func TestSealAndOpenWithTheMasterKeyOnTheToken(t *testing.T) {
	cfg := newToken(t)
	tok := openToken(t, cfg)
	if _, err := tok.Init(); err != nil {
		t.Fatal(err)
	}
	v, err := tok.Master()
	if err != nil {
		t.Fatal(err)
	}
	if v.ID() != "pkcs11:"+DefaultMasterLabel {
		t.Fatalf("id %q", v.ID())
	}
	plain := []byte("global unicast key 000102030405060708090a0b0c0d0e0f")
	sealed, err := v.Seal(plain, []byte("meter-1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) {
		t.Fatal("sealed record holds the plain text")
	}
	got, err := v.Open(sealed, []byte("meter-1"))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q, %v", got, err)
	}
	if _, err := v.Open(sealed, []byte("meter-2")); !errors.Is(err, vault.ErrOpen) {
		t.Fatalf("open for another meter: %v, want ErrOpen", err)
	}
	damaged := bytes.Clone(sealed)
	damaged[len("AMV")+2+len(v.ID())+3] ^= 1 // in the wrapped data key
	if _, err := v.Open(damaged, []byte("meter-1")); !errors.Is(err, vault.ErrOpen) {
		t.Fatalf("open with the wrapped key damaged: %v, want ErrOpen", err)
	}
	// The key persists on the token: a new session finds it and opens
	// what the first sealed.
	if err := tok.Close(); err != nil {
		t.Fatal(err)
	}
	tok2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok.ctx = tok2.ctx // the cleanup closes this one
	v2, err := tok2.Master()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v2.Open(sealed, []byte("meter-1")); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open after reopening the token: %q, %v", got, err)
	}
}

func TestRotateBetweenAFileKeyAndTheToken(t *testing.T) {
	tok := openToken(t, newToken(t))
	if _, err := tok.Init(); err != nil {
		t.Fatal(err)
	}
	hsm, err := tok.Master()
	if err != nil {
		t.Fatal(err)
	}
	file := fileVault(t)
	aad := []byte("meter-7")
	plain := []byte("authentication key")

	// File to HSM: records sealed under the file key open through the
	// new ring and are rewrapped under the token's key.
	fromFile, err := file.Seal(plain, aad)
	if err != nil {
		t.Fatal(err)
	}
	ring := vault.NewKeyring(hsm, file)
	moved, changed, err := ring.Rewrap(fromFile, aad)
	if err != nil || !changed {
		t.Fatalf("rewrap file→hsm: changed %v, %v", changed, err)
	}
	if _, err := file.Open(moved, aad); !errors.Is(err, vault.ErrUnknownKey) {
		t.Fatalf("the file key opens a record moved to the token: %v", err)
	}
	if got, err := vault.NewKeyring(hsm).Open(moved, aad); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("the token alone opens the moved record: %q, %v", got, err)
	}
	if _, changed, err := ring.Rewrap(moved, aad); err != nil || changed {
		t.Fatalf("rewrap of a record already under the token: changed %v, %v", changed, err)
	}

	// HSM to file: and back again.
	back, changed, err := vault.NewKeyring(file, hsm).Rewrap(moved, aad)
	if err != nil || !changed {
		t.Fatalf("rewrap hsm→file: changed %v, %v", changed, err)
	}
	if got, err := file.Open(back, aad); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("the file key opens the record moved back: %q, %v", got, err)
	}
	if _, err := hsm.Open(back, aad); !errors.Is(err, vault.ErrUnknownKey) {
		t.Fatalf("the token opens a record moved back to the file key: %v", err)
	}
}

func TestSignIsRawP256OverSHA256(t *testing.T) {
	tok := openToken(t, newToken(t))
	if _, err := tok.Init(); err != nil {
		t.Fatal(err)
	}
	s, err := tok.Signer()
	if err != nil {
		t.Fatal(err)
	}
	// What headend's command signer asks of a signer.
	var _ interface {
		Sign(context.Context, []byte) ([]byte, error)
		PublicKey() *ecdsa.PublicKey
	} = s
	pub := s.PublicKey()
	for _, msg := range [][]byte{nil, []byte("disconnect meter-1 counter 42"), bytes.Repeat([]byte{0xA5}, 4096)} {
		sig, err := s.Sign(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) != 64 {
			t.Fatalf("signature is %d bytes, want 64 (r||s)", len(sig))
		}
		d := sha256.Sum256(msg)
		r, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, d[:], r, ss) {
			t.Fatalf("signature of %d bytes does not verify", len(msg))
		}
		other := sha256.Sum256(append(bytes.Clone(msg), 0))
		if ecdsa.Verify(pub, other[:], r, ss) {
			t.Fatal("signature verifies for other data")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Sign(ctx, []byte("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("sign with an ended context: %v", err)
	}
}

func TestWrongPINIsRefusedClearly(t *testing.T) {
	cfg := newToken(t)
	cfg.PIN = "0000"
	tok, err := Open(cfg)
	if err == nil {
		tok.Close()
		t.Fatal("opened the token with a wrong PIN")
	}
	if !errors.Is(err, ErrPIN) {
		t.Fatalf("wrong PIN: %v, want ErrPIN", err)
	}
	t.Log(err)
	// The right PIN still works: a wrong one locks nothing.
	cfg.PIN = testPIN
	openToken(t, cfg)
}

func TestOpenSaysWhatIsMissing(t *testing.T) {
	cfg := newToken(t)
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no token", func(c *Config) { c.Token = "" }, "no token label"},
		{"no PIN", func(c *Config) { c.PIN = "" }, PINVar},
		{"unknown token", func(c *Config) { c.Token = "not-there" }, `"not-there"`},
		{"no module", func(c *Config) { c.Module = filepath.Join(t.TempDir(), "missing.so") }, "missing.so"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cc := cfg
			c.edit(&cc)
			tok, err := Open(cc)
			if err == nil {
				tok.Close()
				t.Fatal("opened")
			}
			if !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
				t.Fatalf("error %q does not name %s", err, c.want)
			}
		})
	}
}

// The cost of keeping the keys on the token, each against the same work
// done in process: compare the hsm and the in-process sub-benchmarks of
// one run.
func BenchmarkSeal(b *testing.B) {
	cfg := newToken(b)
	tok, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer tok.Close()
	if _, err := tok.Init(); err != nil {
		b.Fatal(err)
	}
	hsm, err := tok.Master()
	if err != nil {
		b.Fatal(err)
	}
	file, _ := vault.New("file", bytes.Repeat([]byte{1}, 32))
	plain := bytes.Repeat([]byte{7}, 200) // a meter's credentials as JSON
	for _, c := range []struct {
		name string
		v    *vault.Vault
	}{{"in-process", file}, {"hsm", hsm}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				s, err := c.v.Seal(plain, []byte("m"))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.v.Open(s, []byte("m")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	cfg := newToken(b)
	tok, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer tok.Close()
	if _, err := tok.Init(); err != nil {
		b.Fatal(err)
	}
	s, err := tok.Signer()
	if err != nil {
		b.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	msg := bytes.Repeat([]byte{3}, 64) // a command as it is signed
	b.Run("in-process", func(b *testing.B) {
		for b.Loop() {
			d := sha256.Sum256(msg)
			if _, err := ecdsa.SignASN1(rand.Reader, k, d[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hsm", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Sign(context.Background(), msg); err != nil {
				b.Fatal(err)
			}
		}
	})
}
