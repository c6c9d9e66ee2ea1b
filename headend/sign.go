package headend

import (
	"context"
	"crypto/ecdsa"

	"github.com/amigo-ami/amigo/cim"
)

// CommandSigner signs critical commands for the meters to verify. Its key
// is kept apart from the transport keys and the vault's master key: a
// file or the environment (vault.Signer), or an HSM.
type CommandSigner interface {
	// Sign returns the ECDSA P-256 signature r||s (64 bytes) of SHA-256(data).
	Sign(ctx context.Context, data []byte) ([]byte, error)
	// PublicKey is the key meters verify with.
	PublicKey() *ecdsa.PublicKey
}

// CommandCounter names the per-meter originator counter a driver reserves
// (Target.Counters) for each signed command before signing it: reserved
// durably first, a crash leaves a gap in the values a meter sees, never a
// value used twice, and the meter accepts each only above the last.
const CommandCounter = "command-signing"

// signerFor is what the session of command c signs with: the head-end's
// signer for a critical command, nil for any other (or when the head-end
// has no command-signing key, and meters are not provisioned to ask).
func (h *HeadEnd) signerFor(c cim.EndDeviceControl) CommandSigner {
	if h.signer == nil || !c.Type.Critical() {
		return nil
	}
	return h.signer
}

// SigningKey is the public key meters are provisioned with to verify the
// head-end's commands; nil when commands are not signed.
func (h *HeadEnd) SigningKey() *ecdsa.PublicKey {
	if h.signer == nil {
		return nil
	}
	return h.signer.PublicKey()
}
