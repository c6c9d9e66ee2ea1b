package sim

import (
	"fmt"
	"io"

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
	return manifest.Row{
		MeterID: id.ID, Serial: serialOf(m, f.ModelOf(i)), Manufacturer: mk.Flag, Model: model, Firmware: mk.Firmware, Kind: kind.String(),
		Protocol: "dlms", Address: id.Addr, Transport: "wrapper", ClientSAP: ManagementClient,
		Authentication: "hls-gmac", SecurityPolicy: "authenticated-encrypted",
		SystemTitle: id.SystemTitle[:], EK: id.EK[:], AK: id.AK[:], LLSPassword: id.Password,
		UsagePointID: fmt.Sprintf("UP%010d", id.ID), TimeZone: f.model.Location.String(),
		Segment: fmt.Sprintf("cell-%d", id.ID/1000), Region: fmt.Sprintf("region-%d", id.ID/100_000),
		Archetype: m.Archetype().String(),
	}, nil
}

// WriteManifest writes the fleet's manifest as CSV with a header row. It
// leaves idle meters idle.
func WriteManifest(w io.Writer, f *Fleet) error {
	return manifest.Write(w, func(yield func(manifest.Row) bool) error {
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
			for _, r := range subs {
				if !yield(r) {
					return nil
				}
			}
		}
		return nil
	})
}
