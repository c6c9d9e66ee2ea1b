package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/amigo-ami/amigo/config"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/vault"
)

func init() {
	register("signing-key", "print the public key meters verify signed commands with", cmdSigningKey)
}

// cmdSigningKey prints the command-signing public key in PEM, the file a
// fleet is provisioned with (amigo sim --trust-signing-key).
func cmdSigningKey(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("signing-key", "[flags]",
		"Prints the public half of the head-end's command-signing key (ECDSA P-256, PEM), which meters are\n"+
			"provisioned with to verify critical commands: AMIGO_SIGNING_KEY, --key, headend.signing_key_file,\n"+
			"or DATA/signing.key. With --create a missing key file is created (mode 0600).", stderr)
	cfgPath := fs.String("config", "", "configuration `file`")
	data := fs.String("data", "", "data `directory` (default: the configuration's)")
	key := fs.String("key", "", "command-signing key `file` (default: the configuration's, or DATA/signing.key)")
	create := fs.Bool("create", false, "create the key file when there is none")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	file := *key
	if file == "" {
		cfg, err := config.Load(*cfgPath, os.Getenv)
		if err != nil {
			return err
		}
		if *data != "" {
			cfg.Data = *data
		}
		file = cfg.HeadEnd.SigningKeyFile
		if file == "" {
			file = filepath.Join(cfg.Data, "signing.key")
		}
	}
	s, created, err := vault.LoadSigner(os.Getenv, file, *create)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stderr, "created %s\n", file)
	}
	p, err := s.PublicKeyPEM()
	if err != nil {
		return err
	}
	_, err = stdout.Write(p)
	return err
}

// simTrust reads the fleet's trusted command-signing keys from file (PEM
// PUBLIC KEY blocks); nil for no file: the meters are not provisioned.
func simTrust(file string) (*sim.Trust, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--trust-signing-key: %w", err)
	}
	keys, err := sim.ParsePublicKeys(b)
	if err != nil {
		return nil, fmt.Errorf("--trust-signing-key %s: %w", file, err)
	}
	return sim.NewTrust(keys...), nil
}

// reloadTrust replaces the fleet's trusted keys from file on every SIGHUP
// until ctx ends: a key left out of the file is revoked at once. A file
// that does not read keeps the keys trusted before.
func reloadTrust(ctx context.Context, file string, t *sim.Trust, log *slog.Logger) {
	if t == nil {
		return
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			next, err := simTrust(file)
			if err == nil && next == nil {
				err = errors.New("no file")
			}
			if err != nil {
				log.Error("trusted command-signing keys not reloaded; the previous ones stay", "err", err)
				continue
			}
			t.Replace(next.Keys()...)
			log.Info("trusted command-signing keys replaced", "file", file, "keys", len(next.Keys()))
		}
	}()
}
