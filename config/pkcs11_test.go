package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPKCS11FromFileAndEnvironment(t *testing.T) {
	c, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.HeadEnd.PKCS11.Enabled() || c.HeadEnd.PKCS11.Module != DefaultPKCS11Module {
		t.Fatalf("default: %+v, want no token and Debian's module", c.HeadEnd.PKCS11)
	}
	p := filepath.Join(t.TempDir(), "amigo.yaml")
	if err := os.WriteFile(p, []byte("headend:\n  pkcs11:\n    token: file-token\n    master_key: mk\n    signing_key: sk\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(p, env(map[string]string{"AMIGO_PKCS11_PIN": "1234", "AMIGO_PKCS11_MODULE": "/opt/hsm.so"}))
	if err != nil {
		t.Fatal(err)
	}
	got := c.HeadEnd.PKCS11
	if got.Token != "file-token" || got.MasterKey != "mk" || got.SigningKey != "sk" || got.Module != "/opt/hsm.so" || got.PIN.Reveal() != "1234" {
		t.Fatalf("from file and environment: %+v", got)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprintf("%v %+v", c, got); strings.Contains(s, "1234") {
		t.Fatalf("the PIN prints: %s", s)
	}
	c, _ = Load(p, env(map[string]string{"AMIGO_PKCS11_TOKEN": "env-token", "AMIGO_PKCS11_PIN": "1"}))
	if c.HeadEnd.PKCS11.Token != "env-token" {
		t.Fatalf("AMIGO_PKCS11_TOKEN did not override the file: %q", c.HeadEnd.PKCS11.Token)
	}
}

func TestPKCS11RefusesAPINInTheFileAndATokenWithoutOne(t *testing.T) {
	p := filepath.Join(t.TempDir(), "amigo.yaml")
	if err := os.WriteFile(p, []byte("headend:\n  pkcs11:\n    token: t\n    pin: \"1234\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p, env(nil)); err == nil || !strings.Contains(err.Error(), `"pin"`) {
		t.Fatalf("a PIN in the file: %v, want it refused", err)
	}
	c, err := Load("", env(map[string]string{"AMIGO_PKCS11_TOKEN": "t"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "AMIGO_PKCS11_PIN") {
		t.Fatalf("a token without a PIN: %v, want AMIGO_PKCS11_PIN named", err)
	}
}
