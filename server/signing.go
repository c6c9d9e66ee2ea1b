package server

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/vault"
)

var _ headend.CommandSigner = (*vault.Signer)(nil)

// loadSigner opens the command-signing key: the HSM's when a token is
// configured, else AMIGO_SIGNING_KEY, the configured file, or
// DATA/signing.key, created on first start.
func (s *Server) loadSigner() (headend.CommandSigner, error) {
	if s.CommandSigner != nil {
		return s.CommandSigner, nil
	}
	file, create := s.cfg.HeadEnd.SigningKeyFile, false
	if file == "" {
		file, create = filepath.Join(s.cfg.Data, "signing.key"), true
	}
	sg, created, err := vault.LoadSigner(os.Getenv, file, create)
	if err != nil {
		return nil, fmt.Errorf("command-signing key: %w", err)
	}
	if created {
		s.notes = append(s.notes, func() {
			s.log.Warn("created a command-signing key; provision meters with its public key (amigo signing-key) and keep it apart from the data (AMIGO_SIGNING_KEY or headend.signing_key_file) in production", "file", file)
		})
	}
	return sg, nil
}
