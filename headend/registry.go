package headend

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

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

// rewrapper is a Sealer that can tell a blob sealed under an older master
// key (vault.Keyring is one), so an import after a key rotation re-seals.
type rewrapper interface {
	Rewrap(sealed, aad []byte) ([]byte, bool, error)
}

// Import registers the meters of a shipment manifest: usage points with
// their time zones, meters with address, protocol, segment and region, and
// their keys sealed by s. It is idempotent: importing the same rows again
// reports them unchanged and writes nothing; a changed row updates its
// meter (keeping the meter's lifecycle status), and a row whose keys are
// still sealed under a retired master key is re-sealed.
//
// Rows are checked as a set before anything is written, since they may
// not come from manifest.Read: an unknown time zone, a serial twice, or a
// gas or water meter whose parent is neither among rows nor registered is
// reported in Bad at the row's line and left out; the rest import.
func Import(ctx context.Context, st store.Store, s Sealer, rows []manifest.Row) (ImportReport, error) {
	var rep ImportReport
	rows, rep.Bad = checkRows(rows)
	parents, err := registeredParents(ctx, st, rows)
	if err != nil {
		return rep, err
	}
	rows, bad := manifest.CheckParents(rows, func(id uint64) (manifest.Row, bool) {
		r, ok := parents[id]
		return r, ok
	})
	if len(bad) > 0 {
		rep.Bad = append(rep.Bad, bad...)
		slices.SortStableFunc(rep.Bad, func(a, b *manifest.RowError) int { return a.Line - b.Line })
	}
	// A sub-meter's parent tag is the parent's mRID.
	mrids := make(map[uint64]string, len(rows))
	for _, r := range rows {
		mrids[r.MeterID] = MeterID(r)
	}
	for id, r := range parents {
		mrids[id] = MeterID(r)
	}
	rw, _ := s.(rewrapper)
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
			if r.Parent != 0 {
				m.Tags["parent"] = mrids[r.Parent]
			}
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
				if sameMeter(old, m) && sameSecret(ctx, st, s, rw, m.MRID, plain) {
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

// sameSecret reports whether meter mrid's stored secrets are plain, sealed
// under the current master key.
func sameSecret(ctx context.Context, st store.HeadEnd, s Sealer, rw rewrapper, mrid string, plain []byte) bool {
	sealed, err := st.MeterSecret(ctx, mrid)
	if err != nil {
		return false
	}
	if rw != nil {
		if _, changed, err := rw.Rewrap(sealed, []byte(mrid)); err != nil || changed {
			return false
		}
	}
	cur, err := s.Open(sealed, []byte(mrid))
	if err != nil {
		return false
	}
	defer clear(cur)
	return bytes.Equal(cur, plain)
}

// checkRows refuses, by line, rows whose time zone is unknown or whose
// meter id or serial came before.
func checkRows(rows []manifest.Row) ([]manifest.Row, []*manifest.RowError) {
	var bad []*manifest.RowError
	zones := map[string]error{}
	ids := map[uint64]int{}
	serials := map[string]int{}
	kept := make([]manifest.Row, 0, len(rows))
	for _, r := range rows {
		zerr, done := zones[r.TimeZone]
		if !done {
			_, zerr = time.LoadLocation(r.TimeZone)
			zones[r.TimeZone] = zerr
		}
		switch first, dupID := ids[r.MeterID]; {
		case zerr != nil:
			bad = append(bad, &manifest.RowError{Line: r.Line, Column: "time_zone", Err: fmt.Errorf("meter %s: unknown time zone %q", r.Serial, r.TimeZone)})
		case dupID:
			bad = append(bad, &manifest.RowError{Line: r.Line, Column: "meter_id", Err: fmt.Errorf("meter %d already on line %d", r.MeterID, first)})
		case serials[r.Serial] != 0 || r.Serial == "":
			bad = append(bad, &manifest.RowError{Line: r.Line, Column: "serial", Err: fmt.Errorf("serial %q empty or already on line %d", r.Serial, serials[r.Serial])})
		default:
			ids[r.MeterID] = r.Line
			serials[r.Serial] = max(r.Line, 1)
			kept = append(kept, r)
		}
	}
	return kept, bad
}

// registeredParents finds, among meters already registered, the parents
// of sub-meters whose parent is not among rows. The registry is keyed by
// serial, not by the manifest's meter id, so this pages through it; only
// an import of sub-meters without their parents pays for that.
func registeredParents(ctx context.Context, st store.Store, rows []manifest.Row) (map[uint64]manifest.Row, error) {
	in := make(map[uint64]bool, len(rows))
	for _, r := range rows {
		in[r.MeterID] = true
	}
	want := map[uint64]bool{}
	for _, r := range rows {
		if r.SubMeter() && !in[r.Parent] {
			want[r.Parent] = true
		}
	}
	found := map[uint64]manifest.Row{}
	if len(want) == 0 {
		return found, nil
	}
	after := ""
	for {
		ms, err := st.Meters(ctx, store.MeterQuery{After: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("import: looking up parent meters: %w", err)
		}
		if len(ms) == 0 {
			return found, nil
		}
		for _, m := range ms {
			id, err := strconv.ParseUint(m.Tags["meter_id"], 10, 64)
			if err != nil || !want[id] {
				continue
			}
			r := manifest.Row{MeterID: id, Serial: m.SerialNumber, Kind: m.Tags["kind"], Protocol: m.Protocol}
			if ap, err := netip.ParseAddrPort(strings.TrimPrefix(m.Address, "tcp://")); err == nil {
				r.Address = ap
			}
			found[id] = r
		}
		after = ms[len(ms)-1].MRID
	}
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
