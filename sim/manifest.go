package sim

import (
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/amigo-ami/amigo/manifest"
)

// Row returns meter i's manifest row.
func (f *Fleet) Row(i int) (manifest.Row, error) {
	m, err := f.peek(i)
	if err != nil {
		return manifest.Row{}, err
	}
	id := f.Identity(i)
	kind := m.Kind()
	mk := MakeOf(f.ModelOf(i))
	model := mk.Model1P
	if m.Phases() == 3 {
		model = mk.Model3P
	}
	row := manifest.Row{
		MeterID: id.ID, Serial: serialOf(m, f.ModelOf(i)), Manufacturer: mk.Flag, Model: model, Firmware: mk.Firmware, Kind: kind.String(),
		Protocol: "dlms", Address: id.Addr,
		UsagePointID: fmt.Sprintf("UP%010d", id.ID), TimeZone: f.model.Location.String(),
		Segment: f.segmentOf(i, id.ID), Region: fmt.Sprintf("region-%d", id.ID/100_000),
		Archetype: m.Archetype().String(),
		Fields: map[string]string{
			"transport": "wrapper", "client_sap": strconv.Itoa(ManagementClient),
			"authentication": "hls-gmac", "security_policy": "authenticated-encrypted",
			"system_title": hex.EncodeToString(id.SystemTitle[:]), "ek": hex.EncodeToString(id.EK[:]),
			"ak": hex.EncodeToString(id.AK[:]), "lls_password": id.Password, "mbus_channel": "",
			"kek":    hex.EncodeToString(id.KEK[:]),
			"p1_key": f.p1KeyField(i),
		},
	}
	f.gridFields(&row)
	switch p := f.Protocol(i); p {
	case ProtocolReadout:
		return f.readoutRow(row, i), nil
	case ProtocolC1218, ProtocolC1222, ProtocolOSGP:
		return f.c12Row(row, i, p, m.Serial(), m.Phases()), nil
	}
	return row, nil
}

// ManifestFields are the protocol columns of the fleet's manifest, in the
// order WriteManifest writes them: the security profile and keys of a
// meter, a gas or water meter's M-Bus channel, the key of an encrypted
// P1 port, a standalone M-Bus meter's primary and secondary address, and
// the logon and keys of the C12.18, C12.22 and OSGP meters (c12.go).
var ManifestFields = []string{"transport", "client_sap", "authentication", "security_policy", "system_title",
	"ek", "ak", "lls_password", "mbus_channel", "kek", "iec_address", "iec_password", "iec_mode", "p1_key", "mbus_primary", "mbus_secondary",
	"c12_user", "c12_user_id", "c12_password", "c1222_aptitle", "c1222_key_id", "c1222_key", "c1222_user_id",
	"osgp_security", "osgp_key", "osgp_domain", "osgp_subnet", "osgp_node"}

// WriteManifest writes the fleet's manifest as CSV with a header row. It
// leaves idle meters idle.
func WriteManifest(w io.Writer, f *Fleet) error {
	fields := ManifestFields
	if f.Topology() != nil {
		fields = slices.Concat(fields, GridFields)
	}
	return manifest.Write(w, fields, func(yield func(manifest.Row) bool) error {
		for i := range f.Len() {
			r, err := f.Row(i)
			if err != nil {
				return err
			}
			if !yield(r) {
				return nil
			}
			subs, err := f.SubRows(i)
			if err != nil {
				return err
			}
			f.wmbusFields(i, subs)
			for _, r := range subs {
				if !yield(r) {
					return nil
				}
			}
			standalone, err := f.MBusRows(i)
			if err != nil {
				return err
			}
			for _, r := range standalone {
				if !yield(r) {
					return nil
				}
			}
		}
		return nil
	})
}
