package dlmsdriver

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/manifest"
)

// Credentials are what the driver must know to reach one meter securely:
// the Registration.Credentials it makes at import, which the head-end
// keeps sealed at rest (see package vault) and opens only for a session.
// The JSON names are those of blobs sealed before, which still open.
type Credentials struct {
	// Transport is the link under the application layer.
	Transport dlms.Link `json:"transport"`
	// ClientSAP is the client address of the management association.
	ClientSAP uint16 `json:"clientSap"`
	// Authentication is the association's mechanism: none, lls or
	// hls-gmac.
	Authentication security.Mechanism `json:"authentication"`
	// SecurityPolicy is what protects each APDU.
	SecurityPolicy security.Policy `json:"securityPolicy"`
	// SystemTitle is the meter's system title (8 bytes).
	SystemTitle []byte `json:"systemTitle,omitempty"`
	// EK and AK are the global unicast encryption and authentication keys.
	EK []byte `json:"ek,omitempty"`
	AK []byte `json:"ak,omitempty"`
	// Password is the LLS password.
	Password []byte `json:"password,omitempty"`
	// MBusChannel is a gas or water meter's channel (1..4) on its
	// parent's M-Bus; zero for a meter reached on its own.
	MBusChannel uint8 `json:"mbusChannel,omitempty"`
	// KEK is the master key new global keys are wrapped under (key_transfer);
	// without it the meter's keys cannot be changed.
	KEK []byte `json:"kek,omitempty"`
	// KeyGeneration counts the key changes: each key has its own
	// invocation counter.
	KeyGeneration uint32 `json:"keyGeneration,omitempty"`
	// Gateway is the host:port of the data concentrator the meter sits
	// behind ("": reached at its own address); GatewayNetwork and
	// PhysicalAddress are its place on the concentrator's network.
	Gateway         string `json:"gateway,omitempty"`
	GatewayNetwork  uint8  `json:"gatewayNetwork,omitempty"`
	PhysicalAddress []byte `json:"physicalAddress,omitempty"`
}

// String never shows key material, so a Credentials value may be logged.
func (c Credentials) String() string {
	return "credentials{" + c.Transport.String() + "," + c.Authentication.String() + "," + c.SecurityPolicy.String() + "}"
}

// Marshal encodes the credentials as the head-end seals them.
func (c Credentials) Marshal() ([]byte, error) { return json.Marshal(c) }

// ParseCredentials decodes what Marshal encoded.
func ParseCredentials(b []byte) (Credentials, error) {
	var c Credentials
	err := json.Unmarshal(b, &c)
	return c, err
}

// The driver's manifest columns.
var (
	colTransport      = manifest.Column{Name: "transport", Required: true}
	colClientSAP      = manifest.Column{Name: "client_sap", Required: true}
	colAuthentication = manifest.Column{Name: "authentication", Required: true}
	colSecurityPolicy = manifest.Column{Name: "security_policy", Required: true}
	colSystemTitle    = manifest.Column{Name: "system_title", Required: true}
	colEK             = manifest.Column{Name: "ek", Required: true}
	colAK             = manifest.Column{Name: "ak", Required: true}
	colLLSPassword    = manifest.Column{Name: "lls_password", Required: true, MaxBytes: 64}
	colMBusChannel    = manifest.Column{Name: "mbus_channel"}
	colKEK            = manifest.Column{Name: "kek"}
)

// Columns implements headend.Driver: a DLMS meter's security profile and
// keys, and a gas or water meter's M-Bus channel. manifest/README.md
// describes them.
func (d *Driver) Columns() []manifest.Column {
	return []manifest.Column{colTransport, colClientSAP, colAuthentication, colSecurityPolicy, colSystemTitle,
		colEK, colAK, colLLSPassword, colMBusChannel, colKEK, colGateway, colGatewayNetwork, colPhysicalAddress}
}

// Register implements headend.Driver. A gas or water meter is reached
// through its parent's association, whose keys the parent's row carries:
// its own keys and system title may be empty, and it does not push.
func (d *Driver) Register(r manifest.Row) (headend.Registration, error) {
	var c Credentials
	bad := func(col manifest.Column, err error) (headend.Registration, error) {
		return headend.Registration{}, &manifest.RowError{Line: r.Line, Column: col.Name, Err: err}
	}
	get := func(col manifest.Column) (string, error) {
		v, e := r.Field(col)
		if e != nil {
			return "", e
		}
		return v, nil
	}
	var err error
	var v string
	if v, err = get(colTransport); err != nil {
		return headend.Registration{}, err
	}
	if v == "" {
		return bad(colTransport, errors.New("empty: want wrapper or hdlc"))
	}
	if c.Transport, err = dlms.ParseLink(v); err != nil {
		return bad(colTransport, err)
	}
	if v, err = get(colClientSAP); err != nil {
		return headend.Registration{}, err
	}
	n, perr := strconv.ParseUint(v, 10, 16)
	if perr != nil {
		return bad(colClientSAP, errors.New("not a 16-bit unsigned integer"))
	}
	c.ClientSAP = uint16(n)
	if v, err = get(colAuthentication); err != nil {
		return headend.Registration{}, err
	}
	switch c.Authentication, err = security.ParseMechanism(v); {
	case v == "" || err != nil:
		return bad(colAuthentication, fmt.Errorf("%q: want none, lls or hls-gmac", v))
	case !supportedMechanisms[c.Authentication]:
		return bad(colAuthentication, fmt.Errorf("%q not supported: want none, lls or hls-gmac", v))
	}
	if v, err = get(colSecurityPolicy); err != nil {
		return headend.Registration{}, err
	}
	if c.SecurityPolicy, err = security.ParsePolicy(v); err != nil || v == "" {
		return bad(colSecurityPolicy, fmt.Errorf("%q: want none, authenticated, encrypted or authenticated-encrypted", v))
	}
	for _, h := range []struct {
		col manifest.Column
		n   int
		to  *[]byte
	}{{colSystemTitle, 8, &c.SystemTitle}, {colEK, 16, &c.EK}, {colAK, 16, &c.AK}, {colKEK, 16, &c.KEK}} {
		if v, err = get(h.col); err != nil {
			return headend.Registration{}, err
		}
		if *h.to, err = hexField(v, h.n); err != nil {
			return bad(h.col, err)
		}
	}
	if v, err = get(colLLSPassword); err != nil {
		return headend.Registration{}, err
	}
	if v != "" {
		c.Password = []byte(v)
	}
	if v, err = get(colMBusChannel); err != nil {
		return headend.Registration{}, err
	}
	switch {
	case !r.SubMeter() && v != "":
		return bad(colMBusChannel, fmt.Errorf("a %s meter has no M-Bus channel", r.Kind))
	case r.SubMeter() && v == "":
		return bad(colMBusChannel, errors.New("a gas or water meter needs its M-Bus channel"))
	case r.SubMeter():
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil || n < 1 || n > 4 {
			return bad(colMBusChannel, errors.New("want 1 to 4"))
		}
		c.MBusChannel = uint8(n)
	}
	if err := registerGateway(r, &c); err != nil {
		return headend.Registration{}, err
	}
	var reg headend.Registration
	if !r.SubMeter() {
		switch {
		case c.SystemTitle == nil:
			return bad(colSystemTitle, errors.New("empty: only a gas or water meter may leave it out"))
		case c.Authentication == security.MechanismHLSGMAC && (c.EK == nil || c.AK == nil):
			return headend.Registration{}, &manifest.RowError{Line: r.Line, Err: errors.New("hls-gmac needs ek and ak")}
		case c.Authentication == security.MechanismLLS && c.Password == nil:
			return bad(colLLSPassword, errors.New("lls needs a password"))
		}
		// Not secret: every ciphered APDU carries it in clear.
		reg.PushID = hex.EncodeToString(c.SystemTitle)
	}
	if reg.Credentials, err = c.Marshal(); err != nil {
		return headend.Registration{}, err
	}
	return reg, nil
}

// hexField decodes exactly n bytes of hex, or nothing from "".
func hexField(v string, n int) ([]byte, error) {
	if v == "" {
		return nil, nil
	}
	if len(v) != 2*n {
		return nil, fmt.Errorf("want %d hex digits, got %d", 2*n, len(v))
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return nil, errors.New("not hex")
	}
	return b, nil
}

// supportedMechanisms are the authentication mechanisms the driver
// associates with.
var supportedMechanisms = map[security.Mechanism]bool{
	security.MechanismNone: true, security.MechanismLLS: true, security.MechanismHLSGMAC: true,
}
