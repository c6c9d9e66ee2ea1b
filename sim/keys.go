package sim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/cosem/objects"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
)

// SecuritySetupLN is the Security setup of the management association.
var SecuritySetupLN = obis.MustParse("0.0.43.0.0.255")

// KeyStore keeps the global keys meters were given by key_transfer, so
// that a meter keeps them across a simulator restart, as it keeps its
// invocation counters (meter.Persister).
type KeyStore interface {
	// LoadKeys returns meter id's keys, or ok false when it still has
	// the keys it was shipped with.
	LoadKeys(id uint64) (ek, ak [16]byte, ok bool, err error)
	// PersistKeys stores meter id's new keys durably.
	PersistKeys(id uint64, ek, ak [16]byte) error
}

// DirKeys is a KeyStore of one small file per re-keyed meter in a
// directory.
type DirKeys string

func (d DirKeys) path(id uint64) string {
	return filepath.Join(string(d), strconv.FormatUint(id, 10)+".keys")
}

// LoadKeys implements KeyStore.
func (d DirKeys) LoadKeys(id uint64) (ek, ak [16]byte, ok bool, err error) {
	b, err := os.ReadFile(d.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return ek, ak, false, nil
	}
	if err != nil {
		return ek, ak, false, err
	}
	if len(b) != 32 {
		return ek, ak, false, fmt.Errorf("sim: keys of meter %d: %d bytes, want 32", id, len(b))
	}
	copy(ek[:], b[:16])
	copy(ak[:], b[16:])
	return ek, ak, true, nil
}

// PersistKeys implements KeyStore: written aside, synced and renamed, so
// that a crash leaves the old keys or the new, never half of each.
func (d DirKeys) PersistKeys(id uint64, ek, ak [16]byte) error {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(string(d), ".keys-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	b := append(ek[:], ak[:]...)
	_, err = tmp.Write(b)
	clear(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), d.path(id))
}

// meterKeys are the global keys a meter answers to now.
type meterKeys struct {
	ek, ak [16]byte
}

// Keys returns the global keys meter i answers to now: those it was
// shipped with (its Identity) until a key_transfer changed them.
func (f *Fleet) Keys(i int) (ek, ak [16]byte, err error) {
	f.mu.Lock()
	k, ok := f.keys[i]
	f.mu.Unlock()
	if ok {
		return k.ek, k.ak, nil
	}
	id := f.Identity(i)
	k = meterKeys{ek: id.EK, ak: id.AK}
	if f.keyStore != nil {
		ek, ak, found, err := f.keyStore.LoadKeys(id.ID)
		if err != nil {
			return ek, ak, fmt.Errorf("sim: meter %d: loading keys: %w", i, err)
		}
		if found {
			k = meterKeys{ek: ek, ak: ak}
		}
	}
	f.mu.Lock()
	if f.keys == nil {
		f.keys = map[int]meterKeys{}
	}
	f.keys[i] = k
	f.mu.Unlock()
	return k.ek, k.ak, nil
}

// setKeys makes meter i answer to new keys from its next association on,
// once they are persisted.
func (f *Fleet) setKeys(i int, ek, ak [16]byte) error {
	if f.keyStore != nil {
		if err := f.keyStore.PersistKeys(uint64(i)+1, ek, ak); err != nil {
			return fmt.Errorf("sim: meter %d: persisting keys: %w", i, err)
		}
	}
	f.mu.Lock()
	if f.keys == nil {
		f.keys = map[int]meterKeys{}
	}
	f.keys[i] = meterKeys{ek: ek, ak: ak}
	f.mu.Unlock()
	return nil
}

// securitySetup is the management association's Security setup: its
// key_transfer unwraps each key with the meter's master key and hands
// the new keys to the fleet, which applies them to the associations after
// this one. A key that does not unwrap refuses the whole transfer, logs a
// fraud event and changes nothing.
func (d *Device) securitySetup() *objects.SecuritySetup {
	ss := objects.NewSecuritySetup(SecuritySetupLN, 0, d.cfg.SystemTitle)
	ss.Policy = objects.PolicyAuthenticatedRequest | objects.PolicyEncryptedRequest |
		objects.PolicyAuthenticatedResponse | objects.PolicyEncryptedResponse
	ss.TransferKeys = func(ctx context.Context, keys []objects.WrappedKey) error {
		refuse := func(why string) error {
			with(d, func(m *meter.Meter, now time.Time) struct{} { m.KeyTransferRefused(now); return struct{}{} })
			return cosem.Errorf(cosem.ResultReadWriteDenied, "key_transfer: "+why)
		}
		if len(d.cfg.KEK) == 0 || d.cfg.SetKeys == nil {
			return cosem.Errorf(cosem.ResultReadWriteDenied, "key_transfer: no master key")
		}
		kek, err := security.NewKey(d.cfg.KEK)
		if err != nil {
			return refuse("master key unusable")
		}
		var ek, ak [16]byte
		copy(ek[:], d.cfg.Keys.Unicast.Bytes())
		copy(ak[:], d.cfg.Keys.Authentication.Bytes())
		for _, k := range keys {
			var to *[16]byte
			switch security.KeyID(k.ID) {
			case security.KeyGlobalUnicast:
				to = &ek
			case security.KeyAuthentication:
				to = &ak
			default:
				return refuse(security.KeyID(k.ID).String() + " cannot be transferred to this meter")
			}
			plain, err := security.UnwrapKey(kek, k.Data)
			if err != nil || len(plain) != 16 {
				return refuse(security.KeyID(k.ID).String() + " does not unwrap under the master key")
			}
			copy(to[:], plain)
			clear(plain)
		}
		if err := d.cfg.SetKeys(ek, ak); err != nil {
			return cosem.Errorf(cosem.ResultTemporaryFailure, "key_transfer: "+err.Error())
		}
		d.rekeyed.Store(true)
		var err2 error
		with(d, func(m *meter.Meter, now time.Time) struct{} {
			err2 = m.KeysChanged(now, ManagementClient)
			return struct{}{}
		})
		if err2 != nil {
			return cosem.Errorf(cosem.ResultTemporaryFailure, "key_transfer: "+err2.Error())
		}
		return nil
	}
	return ss
}

// KeepKeys makes the fleet keep the keys meters are given in ks, as
// Config.KeyStore does; call it before serving.
func (f *Fleet) KeepKeys(ks KeyStore) {
	f.mu.Lock()
	f.keyStore, f.keys = ks, nil
	f.mu.Unlock()
}
