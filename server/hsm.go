package server

import (
	"errors"
	"io/fs"
	"os"

	"github.com/amigo-ami/amigo/vault"
	"github.com/amigo-ami/amigo/vault/pkcs11"
)

// openHSM takes the master key and the command-signing key from the
// configured PKCS#11 token. The token's master key seals; a file or
// environment master key, when one is there, still opens what it sealed
// before the HSM came in, until Keyring.Rewrap moves those records on.
// No file key is created: with an HSM there is no need for one.
func (s *Server) openHSM(file string) error {
	p := s.cfg.HeadEnd.PKCS11
	tok, err := pkcs11.Open(pkcs11.Config{Module: p.Module, Token: p.Token, PIN: p.PIN.Reveal(),
		MasterLabel: p.MasterKey, SigningLabel: p.SigningKey})
	if err != nil {
		return err
	}
	s.hsm = tok // closed by closeAll, also when what follows fails
	master, err := tok.Master()
	if err != nil {
		return err
	}
	if s.CommandSigner, err = tok.Signer(); err != nil {
		return err
	}
	var old []*vault.Vault
	switch v, _, err := vault.Load(os.Getenv, file, false); {
	case err == nil:
		old = append(old, v)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	s.Keys = vault.NewKeyring(master, old...)
	s.notes = append(s.notes, func() {
		s.log.Info("meter keys are sealed by the HSM's master key; commands are signed by its signing key",
			"token", p.Token, "master", master.ID(), "retired", len(old))
	})
	return nil
}
