package dlmsdriver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/obis"
)

// securitySetupLN is the Security setup object of the management
// association (Blue Book class 64).
var securitySetupLN = obis.MustParse("0.0.43.0.0.255")

// counterName is the store's name of the invocation counter of the
// credentials' encryption key. The Green Book binds an invocation counter
// to its key: a new key starts a new counter at zero, so each key
// generation has a counter of its own, and the meter, which forgets the
// old key's counter with the old key, accepts the new one's first value.
func counterName(c Credentials) string {
	if c.KeyGeneration == 0 {
		return fmt.Sprintf("dlms/%d/ek", c.ClientSAP)
	}
	return fmt.Sprintf("dlms/%d/ek/%d", c.ClientSAP, c.KeyGeneration)
}

// RenewCredentials implements headend.KeyRenewer: the same credentials
// with a fresh global unicast encryption key and authentication key of the
// next generation. Only a meter with a master key can be given them.
func (d *Driver) RenewCredentials(current []byte) ([]byte, error) {
	c, err := ParseCredentials(current)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	switch {
	case c.Authentication != security.MechanismHLSGMAC:
		return nil, fmt.Errorf("authentication %s has no global keys to change: %w", c.Authentication, headend.ErrUnsupported)
	case c.MBusChannel != 0:
		return nil, fmt.Errorf("a gas or water meter answers through its parent's keys; change the parent's: %w", headend.ErrUnsupported)
	case len(c.KEK) != 16:
		return nil, fmt.Errorf("no master key (kek) to wrap new keys under: %w", headend.ErrUnsupported)
	}
	c.EK, c.AK = make([]byte, 16), make([]byte, 16)
	rand.Read(c.EK)
	rand.Read(c.AK)
	c.KeyGeneration++
	return c.Marshal()
}

// KeepFieldKeys implements headend.FieldKeys: stored keys of a later
// generation than the shipment's win, with the row's other settings.
func (d *Driver) KeepFieldKeys(stored, shipped []byte) ([]byte, error) {
	st, err := ParseCredentials(stored)
	if err != nil {
		return nil, fmt.Errorf("stored credentials: %w", err)
	}
	sh, err := ParseCredentials(shipped)
	if err != nil {
		return nil, fmt.Errorf("shipped credentials: %w", err)
	}
	if st.KeyGeneration <= sh.KeyGeneration {
		return shipped, nil
	}
	sh.EK, sh.AK, sh.KeyGeneration = st.EK, st.AK, st.KeyGeneration
	return sh.Marshal()
}

// ChangeKeys implements headend.KeyChanger: key_transfer (Security setup
// method 2) of next's EK and AK, each wrapped (RFC 3394) under the master
// key of the session's credentials.
func (s *session) ChangeKeys(ctx context.Context, next []byte) error {
	cur, err := ParseCredentials(s.t.Credentials)
	if err != nil {
		return fmt.Errorf("meter %s: credentials: %w", s.t.Meter.MRID, err)
	}
	nc, err := ParseCredentials(next)
	if err != nil {
		return fmt.Errorf("meter %s: new credentials: %w", s.t.Meter.MRID, err)
	}
	param, err := keyTransfer(cur.KEK, nc.EK, nc.AK)
	if err != nil {
		return fmt.Errorf("meter %s: %w", s.t.Meter.MRID, err)
	}
	_, err = s.command(ctx, dlms.Method{Class: cosem.ClassSecuritySetup, OBIS: securitySetupLN, Method: 2}, param)
	if errors.Is(err, dlms.ErrObjectUndefined) {
		return fmt.Errorf("meter %s has no security setup to transfer keys to: %w", s.t.Meter.MRID, headend.ErrUnsupported)
	}
	if err != nil {
		return fmt.Errorf("meter %s: key_transfer: %w", s.t.Meter.MRID, err)
	}
	return nil
}

// keyTransfer builds the key_transfer parameter: array of structure
// {key_id enum, key_wrapped octet-string}.
func keyTransfer(kek, ek, ak []byte) (axdr.Data, error) {
	k, err := security.NewKey(kek)
	if err != nil {
		return axdr.Data{}, fmt.Errorf("kek: %w", err)
	}
	var items []axdr.Data
	for _, nk := range []struct {
		id  security.KeyID
		key []byte
	}{{security.KeyGlobalUnicast, ek}, {security.KeyAuthentication, ak}} {
		w, err := security.WrapKey(k, nk.key)
		if err != nil {
			return axdr.Data{}, fmt.Errorf("wrapping the %v: %w", nk.id, err)
		}
		items = append(items, axdr.Structure(axdr.Enum(uint8(nk.id)), axdr.OctetString(w)))
	}
	return axdr.Array(items...), nil
}
