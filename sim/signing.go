package sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/server"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
)

// Trust is the set of command-signing public keys a fleet's meters are
// provisioned with. A provisioned meter executes a critical command only
// when it arrives signed by one of them; replacing the set revokes the
// keys left out, at once, for every meter of the fleet.
type Trust struct {
	mu   sync.RWMutex
	keys []*ecdsa.PublicKey
}

// NewTrust returns a trust holding keys.
func NewTrust(keys ...*ecdsa.PublicKey) *Trust {
	t := &Trust{}
	t.Replace(keys...)
	return t
}

// Keys returns the keys trusted now.
func (t *Trust) Keys() []*ecdsa.PublicKey {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.keys
}

// Replace makes keys the whole trusted set.
func (t *Trust) Replace(keys ...*ecdsa.PublicKey) {
	k := append([]*ecdsa.PublicKey(nil), keys...)
	t.mu.Lock()
	t.keys = k
	t.mu.Unlock()
}

// ParsePublicKeys reads the PEM "PUBLIC KEY" blocks (PKIX) of b, each an
// ECDSA P-256 key; anything else is an error naming the block.
func ParsePublicKeys(b []byte) ([]*ecdsa.PublicKey, error) {
	var keys []*ecdsa.PublicKey
	for n := 1; ; n++ {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("sim: signing key block %d is a %q, want a PUBLIC KEY", n, blk.Type)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("sim: signing key block %d: %w", n, err)
		}
		ek, ok := k.(*ecdsa.PublicKey)
		if !ok || ek.Curve != elliptic.P256() {
			return nil, fmt.Errorf("sim: signing key block %d is not an ECDSA P-256 key", n)
		}
		keys = append(keys, ek)
	}
	if len(keys) == 0 {
		return nil, errors.New("sim: no PEM PUBLIC KEY block in the signing key file")
	}
	return keys, nil
}

// Critical reports whether a request is one a provisioned meter executes
// only signed: remote_disconnect and a write of the control mode of the
// disconnect control, key_transfer of the security setup, and
// image_activate of the image transfer.
func Critical(classID uint16, _ obis.Code, action bool, index int8) bool {
	switch {
	case classID == cosem.ClassDisconnectControl:
		return (action && index == 1) || (!action && index == 4)
	case classID == cosem.ClassSecuritySetup:
		return action && index == 2
	case classID == cosem.ClassImageTransfer:
		return action && index == 4
	}
	return false
}

// signingEvents are the fraud log entries of refused commands.
var signingEvents = map[server.SecurityEvent]meter.EventCode{
	server.EventUnsigned:         meter.EventCommandUnsigned,
	server.EventSignatureInvalid: meter.EventCommandSignatureInvalid,
	server.EventSignedReplay:     meter.EventCommandReplayed,
}

// signing is the device's check of signed commands, with the originator
// counter kept (and persisted) in the meter model.
func (d *Device) signing(t *Trust) *server.Signing {
	return &server.Signing{
		Keys: t.Keys,
		Accept: func(n uint64) error {
			err := with(d, func(m *meter.Meter, _ time.Time) error { return m.AcceptCommandCounter(n) })
			if errors.Is(err, meter.ErrCommandReplay) {
				return fmt.Errorf("%w: %w", server.ErrSignedReplay, err)
			}
			return err
		},
		Required: Critical,
	}
}

// signingEvent logs a refused command in the meter's fraud log; false
// when kind is no event of signed commands.
func (d *Device) signingEvent(kind server.SecurityEvent) bool {
	code, ok := signingEvents[kind]
	if ok {
		with(d, func(m *meter.Meter, now time.Time) struct{} { m.CommandRefused(now, code); return struct{}{} })
	}
	return ok
}
