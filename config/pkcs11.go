package config

import (
	"errors"
	"fmt"
)

// DefaultPKCS11Module is where Debian's softhsm2 package puts its PKCS#11
// library.
const DefaultPKCS11Module = "/usr/lib/softhsm/libsofthsm2.so"

// PKCS11 says which HSM token holds the vault's master key and the
// command-signing key. With Token empty no HSM is used.
//
//	headend:
//	  pkcs11:
//	    token: amigo              # AMIGO_PKCS11_TOKEN; the PIN only from AMIGO_PKCS11_PIN
//	    module: /usr/lib/softhsm/libsofthsm2.so
type PKCS11 struct {
	// Module is the token's PKCS#11 library.
	Module string `yaml:"module"`
	// Token is the token's label.
	Token string `yaml:"token"`
	// MasterKey and SigningKey are the labels of the keys on the token
	// (empty: amigo-master and amigo-command-signing). A record sealed
	// under the master key names it by label, so the label stays.
	MasterKey  string `yaml:"master_key"`
	SigningKey string `yaml:"signing_key"`
	// PIN comes from the environment only, so it is never in a file.
	PIN Secret `yaml:"-"`
}

func init() {
	Env["AMIGO_PKCS11_TOKEN"] = "label of the PKCS#11 token holding the keys (empty: no HSM)"
	Env["AMIGO_PKCS11_MODULE"] = "PKCS#11 library (default " + DefaultPKCS11Module + ")"
	Env["AMIGO_PKCS11_PIN"] = "the token's user PIN (never in the file)"
}

// Enabled reports whether a token is configured.
func (p PKCS11) Enabled() bool { return p.Token != "" }

func (p *PKCS11) applyEnv(lookup func(string) (string, bool)) {
	if v, _ := lookup("AMIGO_PKCS11_TOKEN"); v != "" {
		p.Token = v
	}
	if v, _ := lookup("AMIGO_PKCS11_MODULE"); v != "" {
		p.Module = v
	}
	if v, _ := lookup("AMIGO_PKCS11_PIN"); v != "" {
		p.PIN = Secret(v)
	}
	if p.Module == "" {
		p.Module = DefaultPKCS11Module
	}
}

func (p PKCS11) validate() error {
	if !p.Enabled() {
		return nil
	}
	if p.PIN == "" {
		return fmt.Errorf("headend.pkcs11: token %q is set but AMIGO_PKCS11_PIN is not", p.Token)
	}
	// The vault names a record's master key "pkcs11:" + label, in at most
	// 64 characters.
	if len(p.MasterKey) > 57 {
		return errors.New("headend.pkcs11: master_key label is longer than 57 characters")
	}
	return nil
}
