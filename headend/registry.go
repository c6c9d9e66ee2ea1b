package headend

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strconv"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/store"
)

// Sealer seals and opens meter secrets; aad is the meter's mRID, so a
// sealed blob only opens for its own meter. vault.Keyring is one.
type Sealer interface {
	SecretOpener
	Seal(plain, aad []byte) ([]byte, error)
}

// ImportReport says what an import did.
type ImportReport struct {
	Created, Updated, Unchanged int
	// Bad lists rows the manifest reader refused, by line.
	Bad []*manifest.RowError
}

// MeterID is the registry mRID of a manifest row: the serial number
// printed on the meter, which a field engineer can read off the device.
func MeterID(r manifest.Row) string { return r.Serial }

// registryEntry turns a manifest row into a meter and its secrets.
func registryEntry(r manifest.Row) (cim.Meter, cim.UsagePoint, Secrets) {
	up := cim.UsagePoint{MRID: r.UsagePointID, ServiceCategory: cim.CommodityElectricity, TimeZone: r.TimeZone}
	m := cim.Meter{MRID: MeterID(r), SerialNumber: r.Serial, UsagePointID: r.UsagePointID, Manufacturer: r.Manufacturer,
		Model: r.Model, Protocol: r.Protocol, Address: "tcp://" + r.Address.String(), Segment: r.Segment, Region: r.Region,
		Status: "installed", Tags: map[string]string{"kind": r.Kind, "meter_id": strconv.FormatUint(r.MeterID, 10)}}
	if r.Archetype != "" {
		m.Tags["archetype"] = r.Archetype
	}
	switch r.Kind {
	case "gas":
		up.ServiceCategory = cim.CommodityGas
	case "water":
		up.ServiceCategory = cim.CommodityWater
	}
	if r.Parent != 0 {
		// Reached through its electricity meter's association, on M-Bus.
		m.Tags["parent_meter_id"] = strconv.FormatUint(r.Parent, 10)
		m.Tags["mbus_channel"] = strconv.Itoa(int(r.Channel))
		m.Tags["parent"] = "meter_id:" + m.Tags["parent_meter_id"]
	} else if len(r.SystemTitle) > 0 {
		// Not secret: every ciphered APDU carries it in clear. The push
		// listener finds the sender by it.
		m.Tags["system_title"] = hex.EncodeToString(r.SystemTitle)
	}
	sec := Secrets{Transport: r.Transport, ClientSAP: r.ClientSAP, Authentication: r.Authentication,
		SecurityPolicy: r.SecurityPolicy, SystemTitle: r.SystemTitle, EK: r.EK, AK: r.AK}
	if r.LLSPassword != "" {
		sec.Password = []byte(r.LLSPassword)
	}
	return m, up, sec
}

// importBatch bounds one store transaction of an import.
const importBatch = 500

// Import registers the meters of a shipment manifest: usage points with
// their time zones, meters with address, protocol, segment and region, and
// their keys sealed by s. It is idempotent: importing the same rows again
// reports them unchanged and writes nothing; a changed row updates its
// meter (keeping the meter's lifecycle status).
func Import(ctx context.Context, st store.Store, s Sealer, rows []manifest.Row) (ImportReport, error) {
	var rep ImportReport
	for start := 0; start < len(rows); start += importBatch {
		batch := rows[start:min(start+importBatch, len(rows))]
		var ms []cim.Meter
		ups := map[string]cim.UsagePoint{}
		type secret struct {
			id    string
			plain []byte
		}
		var secs []secret
		for _, r := range batch {
			m, up, sec := registryEntry(r)
			plain, err := json.Marshal(sec)
			if err != nil {
				return rep, err
			}
			old, err := st.Meter(ctx, m.MRID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				rep.Created++
			case err != nil:
				return rep, fmt.Errorf("import: meter %s: %w", m.MRID, err)
			default:
				m.Status = old.Status
				same := sameMeter(old, m)
				if same {
					if sealed, err := st.MeterSecret(ctx, m.MRID); err == nil {
						if cur, err := s.Open(sealed, []byte(m.MRID)); err == nil {
							same = bytes.Equal(cur, plain)
							clear(cur)
						} else {
							same = false
						}
					} else {
						same = false
					}
				}
				if same {
					rep.Unchanged++
					clear(plain)
					continue
				}
				rep.Updated++
			}
			ms = append(ms, m)
			if up.MRID != "" {
				ups[up.MRID] = up
			}
			secs = append(secs, secret{m.MRID, plain})
		}
		if len(ups) > 0 {
			if err := st.PutUsagePoints(ctx, slicesOf(ups)...); err != nil {
				return rep, fmt.Errorf("import: usage points: %w", err)
			}
		}
		if len(ms) > 0 {
			if err := st.PutMeters(ctx, ms...); err != nil {
				return rep, fmt.Errorf("import: meters: %w", err)
			}
		}
		for _, x := range secs {
			sealed, err := s.Seal(x.plain, []byte(x.id))
			clear(x.plain)
			if err != nil {
				return rep, fmt.Errorf("import: meter %s: sealing keys: %w", x.id, err)
			}
			if err := st.PutMeterSecret(ctx, x.id, sealed); err != nil {
				return rep, fmt.Errorf("import: %w", err)
			}
		}
	}
	return rep, nil
}

func sameMeter(a, b cim.Meter) bool {
	ta, tb := a.Tags, b.Tags
	a.Tags, b.Tags = nil, nil
	return reflect.DeepEqual(a, b) && maps.Equal(ta, tb)
}

func slicesOf(m map[string]cim.UsagePoint) []cim.UsagePoint {
	out := make([]cim.UsagePoint, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// Import registers a manifest's rows with the head-end's own sealer.
func (h *HeadEnd) Import(ctx context.Context, rows []manifest.Row) (ImportReport, error) {
	s, ok := h.secrets.(Sealer)
	if !ok {
		return ImportReport{}, errors.New("headend: the secret opener cannot seal; import needs the vault")
	}
	return Import(ctx, h.st, s, rows)
}
