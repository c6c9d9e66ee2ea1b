package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/vault/pkcs11"
)

func init() {
	register("hsm", "keys in an HSM: init makes the master and command-signing keys on a PKCS#11 token", cmdHSM)
}

func cmdHSM(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "init" {
		fmt.Fprintln(stderr, "Usage: amigo hsm init [--token LABEL] [--module LIB] [--config FILE]   (PIN in "+pkcs11.PINVar+")")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return nil
		}
		return usageError{errors.New("give a subcommand: init")}
	}
	fs := newFlags("hsm init", "[flags]",
		"Generates on the token whichever of amigo's keys is missing: the AES-256 master key that seals\n"+
			"meter keys and the ECDSA P-256 key that signs critical commands, both kept on the token and not\n"+
			"extractable. Keys already there are kept. Prints the signing public key (PEM), which meters\n"+
			"verify commands with. The PIN comes from "+pkcs11.PINVar+"; the token is made beforehand,\n"+
			"for SoftHSM2 with: softhsm2-util --init-token --free --label amigo", stderr)
	cfgPath := fs.String("config", os.Getenv("AMIGO_CONFIG"), "YAML config `file`")
	token := fs.String("token", "", "token `label` (default headend.pkcs11.token, AMIGO_PKCS11_TOKEN)")
	module := fs.String("module", "", "PKCS#11 `library` (default "+config.DefaultPKCS11Module+")")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	cfg, err := config.Load(*cfgPath, os.Getenv)
	if err != nil {
		return err
	}
	p := cfg.HeadEnd.PKCS11
	if *token != "" {
		p.Token = *token
	}
	if *module != "" {
		p.Module = *module
	}
	if p.Token == "" {
		return usageError{errors.New("no token: give --token, AMIGO_PKCS11_TOKEN or headend.pkcs11.token")}
	}
	tok, err := pkcs11.Open(pkcs11.Config{Module: p.Module, Token: p.Token, PIN: p.PIN.Reveal(),
		MasterLabel: p.MasterKey, SigningLabel: p.SigningKey})
	if err != nil {
		return err
	}
	defer tok.Close()
	created, err := tok.Init()
	if err != nil {
		return err
	}
	master, err := tok.Master()
	if err != nil {
		return err
	}
	signer, err := tok.Signer()
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(signer.PublicKey())
	if err != nil {
		return err
	}
	state := map[bool]string{true: "generated", false: "already there"}
	fmt.Fprintf(stderr, "token %q: master key %s (records name it %s), signing key %s\n",
		p.Token, state[created.Master], master.ID(), state[created.Signing])
	return pem.Encode(stdout, &pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
