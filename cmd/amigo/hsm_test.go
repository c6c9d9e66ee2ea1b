//go:build cgo

package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amigo-ami/amigo/testenv"
)

func TestHSMInitMakesTheKeysOnceAndPrintsThePublicKey(t *testing.T) {
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
	if out, err := exec.Command(util, "--init-token", "--free", "--label", "cli", "--pin", "1357", "--so-pin", "24682468").CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util: %v: %s", err, out)
	}
	t.Setenv("AMIGO_CONFIG", "")
	t.Setenv("AMIGO_PKCS11_PIN", "1357")

	var pems []string
	for i, want := range []string{"master key generated", "master key already there"} {
		var out, errb bytes.Buffer
		if code := run([]string{"hsm", "init", "--token", "cli"}, &out, &errb); code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, errb.String())
		}
		if !strings.Contains(errb.String(), want) {
			t.Fatalf("run %d says %q, want %q", i, errb.String(), want)
		}
		b, _ := pem.Decode(out.Bytes())
		if b == nil || b.Type != "PUBLIC KEY" {
			t.Fatalf("run %d printed no public key: %q", i, out.String())
		}
		k, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if ek, ok := k.(*ecdsa.PublicKey); !ok || ek.Curve != elliptic.P256() {
			t.Fatalf("public key is %T, want ECDSA P-256", k)
		}
		pems = append(pems, out.String())
	}
	if pems[0] != pems[1] {
		t.Fatal("a second init changed the signing key")
	}

	t.Setenv("AMIGO_PKCS11_PIN", "9999")
	var out, errb bytes.Buffer
	if code := run([]string{"hsm", "init", "--token", "cli"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "refused the PIN") {
		t.Fatalf("wrong PIN: exit %d, %q", code, errb.String())
	}
	if code := run([]string{"hsm", "init"}, &out, &errb); code != 2 {
		t.Fatalf("no token: exit %d, want 2", code)
	}
}
