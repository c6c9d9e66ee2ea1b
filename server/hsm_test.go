//go:build cgo

package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/testenv"
	"github.com/amigo-ami/amigo/vault"
	"github.com/amigo-ami/amigo/vault/pkcs11"
)

// softToken makes a SoftHSM2 token of its own with amigo's keys on it,
// and returns the settings that reach it.
func softToken(t *testing.T) config.PKCS11 {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		testenv.Service(t, "softhsm2 (softhsm2-util)", err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+dir+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	if out, err := exec.Command(util, "--init-token", "--free", "--label", "amigo", "--pin", "2468", "--so-pin", "13579135").CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --init-token: %v: %s", err, out)
	}
	p := config.PKCS11{Module: config.DefaultPKCS11Module, Token: "amigo", PIN: "2468"}
	tok, err := pkcs11.Open(pkcs11.Config{Module: p.Module, Token: p.Token, PIN: p.PIN.Reveal()})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	if _, err := tok.Init(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServeWithTheKeysInAnHSM(t *testing.T) {
	p := softToken(t)
	dir := t.TempDir()
	// A record sealed before the HSM came in, under the file key.
	fileKey := bytes.Repeat([]byte{7}, 32)
	if err := os.WriteFile(filepath.Join(dir, "master.key"), []byte(hex.EncodeToString(fileKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fv, _ := vault.New("file", fileKey)
	before, err := fv.Seal([]byte("ek"), []byte("m1"))
	if err != nil {
		t.Fatal(err)
	}

	c := testConfig(dir)
	c.HeadEnd.PKCS11 = p
	s := start(t, c)
	sealed, err := s.Keys.Seal([]byte("ak"), []byte("m1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fv.Open(sealed, []byte("m1")); !errors.Is(err, vault.ErrUnknownKey) {
		t.Fatalf("a new record is not sealed by the HSM: the file key says %v", err)
	}
	if got, err := s.Keys.Open(before, []byte("m1")); err != nil || string(got) != "ek" {
		t.Fatalf("the record sealed under the file key: %q, %v", got, err)
	}
	if s.CommandSigner == nil {
		t.Fatal("no command signer")
	}
	sig, err := s.CommandSigner.Sign(context.Background(), []byte("disconnect m1"))
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("disconnect m1"))
	if !ecdsa.Verify(s.CommandSigner.PublicKey(), d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Fatal("the command signature does not verify")
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Started again, the token's key opens what it sealed.
	s = start(t, c)
	if got, err := s.Keys.Open(sealed, []byte("m1")); err != nil || string(got) != "ak" {
		t.Fatalf("after a restart: %q, %v", got, err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestServeRefusesAWrongPINAndReleasesEverything(t *testing.T) {
	p := softToken(t)
	dir := t.TempDir()
	c := testConfig(dir)
	c.HeadEnd.PKCS11 = p
	c.HeadEnd.PKCS11.PIN = "0000"
	if _, err := Start(context.Background(), c, slog.New(slog.DiscardHandler), "test"); !errors.Is(err, pkcs11.ErrPIN) {
		t.Fatalf("start with a wrong PIN: %v, want ErrPIN", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "master.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file master key was created beside the HSM: %v", err)
	}
	c.HeadEnd.PKCS11.PIN = p.PIN
	s := start(t, c)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}
