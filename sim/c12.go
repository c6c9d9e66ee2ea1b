package sim

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strconv"

	"github.com/amigo-ami/amigo/loadshape"
	"github.com/amigo-ami/amigo/manifest"
)

// The North American meter family and the legacy European one: fractions
// of the electricity meters (Config.C1218, C1222, OSGP) speak ANSI C12.18
// (PSEM over the C12.18 packet link, on TCP), ANSI C12.22 (EPSEM over
// TCP/IP, security mode 2) or OSGP instead of DLMS, each at its own port
// of the meter's loopback address. They serve one C12.19 table set built
// from the same meter model as the DLMS meters (c12tables.go), so a
// head-end reading either finds the same energy.
//
// Which protocol a meter speaks is drawn from one salted hash of the seed
// per meter, shared with the readout meters: the fractions occupy
// consecutive ranges of it, readout first, so they never overlap and a
// meter keeps its protocol when a later family's fraction changes.
const (
	DefaultC1218Port = 1218
	DefaultC1222Port = 1153 // IANA c1222-acse
	DefaultOSGPPort  = 1629
)

// The manifest protocols of the fleet's meters.
const (
	ProtocolDLMS    = "dlms"
	ProtocolReadout = "iec62056-21"
	ProtocolC1218   = "c12.18"
	ProtocolC1222   = "c12.22"
	ProtocolOSGP    = "osgp"
)

// C12User is the logon user name the C12.18 meters expect (any user id
// from the manifest, the password decides).
const C12User = "amigo"

// C1222ApTitleBase is the branch of the ApTitles of the simulated C12.22
// meters: meter i is C1222ApTitleBase.(i+1).
const C1222ApTitleBase = "2.16.124.113620.1.22.1"

const saltOSGPLegacy = 0x05C9

// protocolDraw is meter i's position in [0, 1e6) that the family
// fractions split.
func (f *Fleet) protocolDraw(i int) float64 {
	return float64(loadshape.Rand(f.seed, uint64(i)+1, 0, saltReadout) % 1_000_000)
}

// Protocol returns the manifest protocol meter i speaks: "dlms",
// "iec62056-21", "c12.18", "c12.22" or "osgp".
func (f *Fleet) Protocol(i int) string {
	if f.readout <= 0 && f.c1218 <= 0 && f.c1222 <= 0 && f.osgp <= 0 {
		return ProtocolDLMS
	}
	u := f.protocolDraw(i)
	lo := 0.0
	for _, s := range []struct {
		share float64
		name  string
	}{{f.readout, ProtocolReadout}, {f.c1218, ProtocolC1218}, {f.c1222, ProtocolC1222}, {f.osgp, ProtocolOSGP}} {
		hi := lo + s.share*1_000_000
		if u >= lo && u < hi {
			return s.name
		}
		lo = hi
	}
	return ProtocolDLMS
}

// isDLMS reports whether meter i speaks DLMS/COSEM (and so has its push
// setup, M-Bus client and P1 port).
func (f *Fleet) isDLMS(i int) bool { return f.Protocol(i) == ProtocolDLMS }

// IsOSGPLegacy reports whether OSGP meter i uses the legacy security (OMA
// digest and RC4) rather than the AES-128 variant.
func (f *Fleet) IsOSGPLegacy(i int) bool {
	return f.osgpLegacy > 0 && float64(loadshape.Rand(f.seed, uint64(i)+1, 0, saltOSGPLegacy)%1_000_000) < f.osgpLegacy*1_000_000
}

// C12Password is C12.18 meter i's 20-octet password, derived from the
// seed.
func (f *Fleet) C12Password(i int) [20]byte {
	d := derive(f.seed, "c1218-password", uint64(i)+1)
	var pw [20]byte
	copy(pw[:], d[:20])
	return pw
}

// C12UserID is the user id C12.18 meter i's manifest row names.
func (f *Fleet) C12UserID(i int) uint16 {
	d := derive(f.seed, "c1218-user", uint64(i)+1)
	return binary.BigEndian.Uint16(d[:2])
}

// C1222ApTitle is C12.22 meter i's ApTitle, an absolute OID.
func (f *Fleet) C1222ApTitle(i int) string {
	return C1222ApTitleBase + "." + strconv.Itoa(i+1)
}

// C1222Key is C12.22 meter i's security mode 2 key: its key id and the
// AES-128 key.
func (f *Fleet) C1222Key(i int) (id byte, key [16]byte) {
	d := derive(f.seed, "c1222-key", uint64(i)+1)
	copy(key[:], d[:16])
	return d[16], key
}

// C1222UserID is the user id the head-end presents to C12.22 meter i.
func (f *Fleet) C1222UserID(i int) uint16 {
	d := derive(f.seed, "c1222-user", uint64(i)+1)
	return binary.BigEndian.Uint16(d[:2])
}

// OSGPKey is OSGP meter i's key: the 12-octet OMA key under legacy
// security, an AES-128 key otherwise.
func (f *Fleet) OSGPKey(i int) []byte {
	if f.IsOSGPLegacy(i) {
		d := derive(f.seed, "osgp-oma", uint64(i)+1)
		return d[:12]
	}
	d := derive(f.seed, "osgp-aes", uint64(i)+1)
	return d[:16]
}

// C1218Addr, C1222Addr and OSGPAddr are the addresses meter i listens on
// when it speaks that protocol.
func (f *Fleet) C1218Addr(i int) netip.AddrPort { return addrOf(i, f.c1218Port) }

// C1222Addr is C12.22 meter i's address.
func (f *Fleet) C1222Addr(i int) netip.AddrPort { return addrOf(i, f.c1222Port) }

// OSGPAddr is OSGP meter i's address.
func (f *Fleet) OSGPAddr(i int) netip.AddrPort { return addrOf(i, f.osgpPort) }

// c12Row turns meter i's DLMS manifest row into the row of the protocol
// it speaks: an ANSI (or OSGP) model of the simulator's make, the model's
// own serial (whatever make the DLMS row would have given it), its
// address at the protocol's port, and the credentials.
func (f *Fleet) c12Row(r manifest.Row, i int, proto, serial string, phases int) manifest.Row {
	fields := make(map[string]string, len(ManifestFields))
	for _, k := range ManifestFields {
		fields[k] = ""
	}
	ph := strconv.Itoa(phases)
	r.Protocol, r.Manufacturer, r.Serial = proto, Manufacturer, serial
	switch proto {
	case ProtocolC1218:
		pw := f.C12Password(i)
		r.Address, r.Model, r.Firmware = f.C1218Addr(i), "AMG-A"+ph, c12Firmware
		fields["c12_user"] = C12User
		fields["c12_user_id"] = strconv.Itoa(int(f.C12UserID(i)))
		fields["c12_password"] = hex.EncodeToString(pw[:])
	case ProtocolC1222:
		id, key := f.C1222Key(i)
		r.Address, r.Model, r.Firmware = f.C1222Addr(i), "AMG-N"+ph, c12Firmware
		fields["c1222_aptitle"] = f.C1222ApTitle(i)
		fields["c1222_key_id"] = strconv.Itoa(int(id))
		fields["c1222_key"] = hex.EncodeToString(key[:])
		fields["c1222_user_id"] = strconv.Itoa(int(f.C1222UserID(i)))
	case ProtocolOSGP:
		r.Address, r.Model, r.Firmware = f.OSGPAddr(i), "AMG-O"+ph, osgpFirmware
		fields["osgp_security"] = "aes"
		if f.IsOSGPLegacy(i) {
			fields["osgp_security"] = "legacy"
		}
		fields["osgp_key"] = hex.EncodeToString(f.OSGPKey(i))
		f.osgpFields(i, fields)
	}
	r.Fields = fields
	return r
}

// The firmware the C12 and OSGP meters report (ST1's versions: 1.3).
const (
	c12Firmware  = "AMG-C12-1.3"
	osgpFirmware = "AMG-OSGP-1.3"
)
