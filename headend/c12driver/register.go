package c12driver

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/manifest"
)

// Credentials are what the driver keeps of one meter, sealed by the
// head-end and opened only for a session. A C12.18 meter has a logon user
// and the 20-octet password of the security service; a C12.22 meter its
// ApTitle, the key it shares with the head-end under EAX' and the user id
// it logs on with.
type Credentials struct {
	User     string `json:"user,omitempty"`
	UserID   uint16 `json:"userId"`
	Password []byte `json:"password,omitempty"`
	ApTitle  string `json:"apTitle,omitempty"`
	KeyID    uint8  `json:"keyId,omitempty"`
	Key      []byte `json:"key,omitempty"`
}

// String never shows the password or the key, so credentials may be
// logged.
func (c Credentials) String() string {
	if c.ApTitle != "" {
		return fmt.Sprintf("credentials{aptitle %s, key %d, user %d}", c.ApTitle, c.KeyID, c.UserID)
	}
	return fmt.Sprintf("credentials{user %q %d}", c.User, c.UserID)
}

// Marshal encodes the credentials as the head-end seals them.
func (c Credentials) Marshal() ([]byte, error) { return json.Marshal(c) }

// ParseCredentials decodes what Marshal encoded.
func ParseCredentials(b []byte) (Credentials, error) {
	var c Credentials
	err := json.Unmarshal(b, &c)
	return c, err
}

// The manifest columns of C12.18 meters.
var (
	colUser     = manifest.Column{Name: "c12_user", MaxBytes: 10}
	colUserID   = manifest.Column{Name: "c12_user_id", Required: true, MaxBytes: 5}
	colPassword = manifest.Column{Name: "c12_password", Required: true, MaxBytes: 40}
)

// The manifest columns of C12.22 meters.
var (
	colApTitle  = manifest.Column{Name: "c1222_aptitle", Required: true, MaxBytes: 128}
	colKeyID    = manifest.Column{Name: "c1222_key_id", Required: true, MaxBytes: 3}
	colKey      = manifest.Column{Name: "c1222_key", Required: true, MaxBytes: 32}
	colUserID22 = manifest.Column{Name: "c1222_user_id", Required: true, MaxBytes: 5}
)

// Columns implements headend.Driver. C12.18: the logon user name (up to
// 10 characters, may be empty), the user id, and the security password as
// 40 hex digits (20 octets; an empty field logs on without the security
// service, which leaves the meter's writes and procedures locked). C12.22:
// the meter's ApTitle as an absolute dotted OID, the id of the key it
// shares with the head-end and that AES-128 key as 32 hex digits, and the
// user id of the logon.
func (d *Driver) Columns() []manifest.Column {
	if d.mode == modeC1222 {
		return []manifest.Column{colApTitle, colKeyID, colKey, colUserID22}
	}
	return []manifest.Column{colUser, colUserID, colPassword}
}

// Register implements headend.Driver.
func (d *Driver) Register(r manifest.Row) (headend.Registration, error) {
	bad := func(col manifest.Column, err error) (headend.Registration, error) {
		return headend.Registration{}, &manifest.RowError{Line: r.Line, Column: col.Name, Err: err}
	}
	if manifest.SubKind(r.Kind) {
		return headend.Registration{}, &manifest.RowError{Line: r.Line, Column: "kind",
			Err: fmt.Errorf("%s meters are electricity meters; %s has no gas or water sub-meters", d.Protocol(), d.Protocol())}
	}
	var c Credentials
	var v string
	var e *manifest.RowError
	userID := func(col manifest.Column) (uint16, *manifest.RowError) {
		v, e := r.Field(col)
		if e != nil {
			return 0, e
		}
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return 0, &manifest.RowError{Line: r.Line, Column: col.Name, Err: fmt.Errorf("%q: want a user id 0..65535", v)}
		}
		return uint16(n), nil
	}
	if d.mode == modeC1222 {
		if v, e = r.Field(colApTitle); e != nil {
			return headend.Registration{}, e
		}
		if err := checkApTitle(v); err != nil {
			return bad(colApTitle, err)
		}
		c.ApTitle = v
		if v, e = r.Field(colKeyID); e != nil {
			return headend.Registration{}, e
		}
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil {
			return bad(colKeyID, fmt.Errorf("%q: want a key id 0..255", v))
		}
		c.KeyID = uint8(n)
		if v, e = r.Field(colKey); e != nil {
			return headend.Registration{}, e
		}
		if c.Key, err = hex.DecodeString(v); err != nil || len(c.Key) != 16 {
			return bad(colKey, errors.New("want an AES-128 key as 32 hex digits"))
		}
		if c.UserID, e = userID(colUserID22); e != nil {
			return headend.Registration{}, e
		}
	} else {
		if v, e = r.Field(colUser); e != nil {
			return headend.Registration{}, e
		}
		for _, ch := range []byte(v) {
			if ch < 0x20 || ch > 0x7E {
				return bad(colUser, errors.New("want up to 10 printable ASCII characters"))
			}
		}
		c.User = v
		if c.UserID, e = userID(colUserID); e != nil {
			return headend.Registration{}, e
		}
		if v, e = r.Field(colPassword); e != nil {
			return headend.Registration{}, e
		}
		if v != "" {
			var err error
			if c.Password, err = hex.DecodeString(v); err != nil || len(c.Password) != 20 {
				return bad(colPassword, errors.New("want the 20-octet password as 40 hex digits"))
			}
		}
	}
	b, err := c.Marshal()
	if err != nil {
		return headend.Registration{}, err
	}
	// A C12.22 meter pushes under its ApTitle.
	return headend.Registration{Credentials: b, PushID: c.ApTitle}, nil
}

// checkApTitle accepts an absolute object identifier in dotted form, as
// C12.22 names its nodes: at least two arcs, the first 0, 1 or 2, the
// second below 40 under 0 and 1, none with a leading zero.
func checkApTitle(s string) error {
	arcs := strings.Split(s, ".")
	if len(arcs) < 2 {
		return fmt.Errorf("%q: want an absolute ApTitle in dotted form (2.16.124.113620.1.22...)", s)
	}
	for i, a := range arcs {
		n, err := strconv.ParseUint(a, 10, 32)
		if err != nil || (len(a) > 1 && a[0] == '0') {
			return fmt.Errorf("%q: arc %d %q is not a number", s, i+1, a)
		}
		switch {
		case i == 0 && n > 2:
			return fmt.Errorf("%q: the first arc is 0, 1 or 2", s)
		case i == 1 && arcs[0] != "2" && n >= 40:
			return fmt.Errorf("%q: the second arc under %s is below 40", s, arcs[0])
		}
	}
	return nil
}
