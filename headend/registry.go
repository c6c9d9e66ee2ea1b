package headend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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
	// Rejected counts the rows refused; Bad lists them by line, the first
	// MaxBadRows of them.
	Rejected int
	Bad      []*manifest.RowError
	// New lists the meters the import created, for their first run.
	New []string
}

// MaxBadRows bounds the refused rows an import lists: a file of a million
// bad rows says so in a count.
const MaxBadRows = 1000

// Accepted counts the rows imported, changed or not.
func (r ImportReport) Accepted() int { return r.Created + r.Updated + r.Unchanged }

func (r *ImportReport) reject(e *manifest.RowError) {
	r.Rejected++
	if len(r.Bad) < MaxBadRows {
		r.Bad = append(r.Bad, e)
	}
}

// RowSource yields a manifest's rows one at a time, as manifest.Reader
// does: a row, or a refused row as bad, until err is io.EOF (the end) or
// another error (nothing more can be read).
type RowSource interface {
	Next() (row manifest.Row, bad *manifest.RowError, err error)
}

// rowSlice is a RowSource over rows in memory.
type rowSlice []manifest.Row

func (s *rowSlice) Next() (manifest.Row, *manifest.RowError, error) {
	if len(*s) == 0 {
		return manifest.Row{}, nil, io.EOF
	}
	r := (*s)[0]
	*s = (*s)[1:]
	return r, nil, nil
}

// MeterID is the registry mRID of a manifest row: the serial number
// printed on the meter, which a field engineer can read off the device.
func MeterID(r manifest.Row) string { return r.Serial }

// registryEntry turns a manifest row and its driver's registration into
// a meter and its usage point.
func registryEntry(r manifest.Row, reg Registration) (cim.Meter, cim.UsagePoint) {
	up := cim.UsagePoint{MRID: r.UsagePointID, ServiceCategory: cim.CommodityElectricity, TimeZone: r.TimeZone, Protection: r.Protection}
	m := cim.Meter{MRID: MeterID(r), SerialNumber: r.Serial, UsagePointID: r.UsagePointID, Manufacturer: r.Manufacturer,
		Model: r.Model, Protocol: r.Protocol, Address: "tcp://" + r.Address.String(), Segment: r.Segment, Region: r.Region,
		Status: "installed", Kind: r.Kind, Archetype: r.Archetype, ManifestID: strconv.FormatUint(r.MeterID, 10),
		PushID: reg.PushID, Exposure: reg.Exposure}
	switch r.Kind {
	case "gas":
		up.ServiceCategory = cim.CommodityGas
	case "water":
		up.ServiceCategory = cim.CommodityWater
	}
	return m, up
}

// ImportStore is what an import reads and writes: the registry, and the
// sealed credentials it compares a row's with.
type ImportStore interface {
	CredentialStore
	Meter(ctx context.Context, mrid string) (cim.Meter, error)
	Meters(ctx context.Context, q store.MeterQuery) ([]cim.Meter, error)
	PutRegistry(ctx context.Context, b store.RegistryBatch) error
	UsagePoint(ctx context.Context, mrid string) (cim.UsagePoint, error)
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
// their credentials sealed by s. It is ImportFrom over rows in memory.
func Import(ctx context.Context, st ImportStore, s Sealer, drivers []Driver, rows []manifest.Row) (ImportReport, error) {
	src := rowSlice(rows)
	return ImportFrom(ctx, st, s, drivers, &src)
}

// pending is a row checked, with its driver's registration.
type pending struct {
	row manifest.Row
	reg Registration
}

// parentInfo is what a sub-meter's row is checked against.
type parentInfo struct {
	mrid string
	row  manifest.Row // identity and address only
}

// importer carries one import through its batches.
type importer struct {
	st      ImportStore
	s       Sealer
	drivers map[string]Driver
	rw      rewrapper
	rep     ImportReport
	zones   map[string]error
	// ids and serials are the rows seen, by line; accepted the rows that
	// may be a sub-meter's parent.
	ids      map[uint64]int
	serials  map[string]int
	accepted map[uint64]parentInfo
	batch    []pending
}

// ImportFrom registers the meters src yields, in batches of importBatch
// rows as they come, so a shipment of any size goes through in bounded
// memory. It is idempotent: importing the same rows again reports them
// unchanged and writes nothing; a changed row updates its meter (keeping
// the meter's lifecycle status), and a row whose keys are still sealed
// under a retired master key is re-sealed. Each batch is one transaction:
// a meter is never stored without its keys, and an import stopped part
// way (a crash, a broken file) is completed by importing the file again.
//
// Rows are checked even if they do not come from manifest.Reader: an
// unknown time zone, a meter id or serial twice, or a gas or water meter
// whose parent is neither among the rows nor registered is reported at
// the row's line and left out; the rest import. The driver of the row's
// protocol checks the protocol's columns and makes the credentials; a
// protocol no driver serves is refused on column protocol. A sub-meter
// whose parent comes later in the file waits for the end of the file.
func ImportFrom(ctx context.Context, st ImportStore, s Sealer, drivers []Driver, src RowSource) (ImportReport, error) {
	im := &importer{st: st, s: s, drivers: map[string]Driver{}, zones: map[string]error{}, ids: map[uint64]int{},
		serials: map[string]int{}, accepted: map[uint64]parentInfo{}}
	for _, d := range drivers {
		im.drivers[d.Protocol()] = d
	}
	im.rw, _ = s.(rewrapper)
	defer func() {
		for _, p := range im.batch {
			clear(p.reg.Credentials)
		}
	}()
	var later []pending // sub-meters whose parent was not seen yet
	for {
		r, bad, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return im.rep, err
		}
		if bad != nil {
			im.rep.reject(bad)
			continue
		}
		if e := im.check(r); e != nil {
			im.rep.reject(e)
			continue
		}
		reg, e := im.register(r)
		if e != nil {
			im.rep.reject(e)
			continue
		}
		if _, ok := im.accepted[r.Parent]; r.SubMeter() && !ok {
			later = append(later, pending{r, reg})
			continue
		}
		if err := im.add(ctx, pending{r, reg}); err != nil {
			return im.rep, err
		}
	}
	if len(later) > 0 {
		if err := im.registeredParents(ctx, later); err != nil {
			return im.rep, err
		}
		for i, p := range later {
			if err := im.add(ctx, p); err != nil {
				for _, p := range later[i:] {
					clear(p.reg.Credentials)
				}
				return im.rep, err
			}
		}
	}
	if err := im.flush(ctx); err != nil {
		return im.rep, err
	}
	slices.SortStableFunc(im.rep.Bad, func(a, b *manifest.RowError) int { return a.Line - b.Line })
	return im.rep, nil
}

// check refuses a row whose time zone is unknown or whose meter id or
// serial came before.
func (im *importer) check(r manifest.Row) *manifest.RowError {
	zerr, done := im.zones[r.TimeZone]
	if !done {
		_, zerr = time.LoadLocation(r.TimeZone)
		im.zones[r.TimeZone] = zerr
	}
	switch first, dupID := im.ids[r.MeterID]; {
	case zerr != nil:
		return &manifest.RowError{Line: r.Line, Column: "time_zone", Err: fmt.Errorf("meter %s: unknown time zone %q", r.Serial, r.TimeZone)}
	case dupID:
		return &manifest.RowError{Line: r.Line, Column: "meter_id", Err: fmt.Errorf("meter %d already on line %d", r.MeterID, first)}
	case im.serials[r.Serial] != 0 || r.Serial == "":
		return &manifest.RowError{Line: r.Line, Column: "serial", Err: fmt.Errorf("serial %q empty or already on line %d", r.Serial, im.serials[r.Serial])}
	}
	im.ids[r.MeterID] = r.Line
	im.serials[r.Serial] = max(r.Line, 1)
	return nil
}

// register asks the row's driver to check its protocol's columns.
func (im *importer) register(r manifest.Row) (Registration, *manifest.RowError) {
	d, ok := im.drivers[r.Protocol]
	if !ok {
		return Registration{}, &manifest.RowError{Line: r.Line, Column: "protocol",
			Err: fmt.Errorf("protocol %q: no driver (want one of %s)", r.Protocol, strings.Join(slices.Sorted(maps.Keys(im.drivers)), ", "))}
	}
	reg, err := d.Register(r)
	if err != nil {
		var re *manifest.RowError
		if !errors.As(err, &re) {
			re = &manifest.RowError{Line: r.Line, Err: err}
		}
		return Registration{}, re
	}
	return reg, nil
}

// add checks a sub-meter against its parent, then queues the row for the
// next batch.
func (im *importer) add(ctx context.Context, p pending) error {
	r := p.row
	if r.SubMeter() {
		_, bad := manifest.CheckParents([]manifest.Row{r}, func(id uint64) (manifest.Row, bool) {
			p, ok := im.accepted[id]
			return p.row, ok
		})
		if len(bad) > 0 {
			clear(p.reg.Credentials)
			im.rep.reject(bad[0])
			return nil
		}
	}
	im.accepted[r.MeterID] = parentInfo{MeterID(r), manifest.Row{MeterID: r.MeterID, Serial: r.Serial, Kind: r.Kind,
		Protocol: r.Protocol, Address: r.Address}}
	im.batch = append(im.batch, p)
	if len(im.batch) >= importBatch {
		return im.flush(ctx)
	}
	return nil
}

// flush writes the batch in one transaction, and counts it once it is in.
func (im *importer) flush(ctx context.Context) error {
	if len(im.batch) == 0 {
		return nil
	}
	defer func() {
		for _, p := range im.batch {
			clear(p.reg.Credentials)
		}
		im.batch = im.batch[:0]
	}()
	var b store.RegistryBatch
	ups := map[string]cim.UsagePoint{}
	var created, updated, unchanged []string
	for _, p := range im.batch {
		r, plain := p.row, p.reg.Credentials
		m, up := registryEntry(r, p.reg)
		if r.Parent != 0 {
			m.Parent = im.accepted[r.Parent].mrid
		}
		old, err := im.st.Meter(ctx, m.MRID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			created = append(created, m.MRID)
		case err != nil:
			return fmt.Errorf("import: meter %s: %w", m.MRID, err)
		default:
			// The lifecycle and the operator's labels are not the
			// shipment's to change.
			m.Status, m.Tags = old.Status, old.Tags
			if fk, ok := im.drivers[r.Protocol].(FieldKeys); ok {
				if plain, err = im.keepFieldKeys(ctx, fk, m.MRID, plain); err != nil {
					return fmt.Errorf("import: meter %s: %w", m.MRID, err)
				}
				defer clear(plain)
			}
			sameUP, err := sameUsagePoint(ctx, im.st, up)
			if err != nil {
				return fmt.Errorf("import: meter %s: %w", m.MRID, err)
			}
			if sameMeter(old, m) && sameUP && sameSecret(ctx, im.st, im.s, im.rw, m.MRID, plain) {
				unchanged = append(unchanged, m.MRID)
				continue
			}
			updated = append(updated, m.MRID)
		}
		sealed, err := im.s.Seal(plain, []byte(m.MRID))
		if err != nil {
			return fmt.Errorf("import: meter %s: sealing credentials: %w", m.MRID, err)
		}
		b.Meters = append(b.Meters, m)
		b.Secrets = append(b.Secrets, store.SealedSecret{MeterID: m.MRID, Sealed: sealed})
		if up.MRID != "" {
			ups[up.MRID] = up
		}
	}
	b.UsagePoints = slicesOf(ups)
	if len(b.Meters) > 0 {
		if err := im.st.PutRegistry(ctx, b); err != nil {
			return fmt.Errorf("import: meters %s to %s: %w", b.Meters[0].MRID, b.Meters[len(b.Meters)-1].MRID, err)
		}
	}
	im.rep.Created += len(created)
	im.rep.Updated += len(updated)
	im.rep.Unchanged += len(unchanged)
	im.rep.New = append(im.rep.New, created...)
	return nil
}

// keepFieldKeys keeps the keys a meter was given in the field over the
// shipment's, which it no longer takes.
func (im *importer) keepFieldKeys(ctx context.Context, fk FieldKeys, mrid string, shipped []byte) ([]byte, error) {
	sealed, err := im.st.MeterSecret(ctx, mrid)
	if errors.Is(err, store.ErrNotFound) {
		return shipped, nil
	}
	if err != nil {
		return nil, err
	}
	stored, err := im.s.Open(sealed, []byte(mrid))
	if err != nil {
		return shipped, nil // a blob that does not open is replaced, as before
	}
	defer clear(stored)
	return fk.KeepFieldKeys(stored, shipped)
}

// sameSecret reports whether meter mrid's stored secrets are plain, sealed
// under the current master key.
func sameSecret(ctx context.Context, st CredentialStore, s Sealer, rw rewrapper, mrid string, plain []byte) bool {
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

// registeredParents finds, among meters already registered, the parents
// of the sub-meters in rows whose parent is not among the rows accepted,
// and takes them as accepted. The registry is keyed by serial, not by the
// manifest's meter id, so this pages through it; only an import of
// sub-meters without their parents pays for that.
func (im *importer) registeredParents(ctx context.Context, rows []pending) error {
	want := map[uint64]bool{}
	for _, p := range rows {
		if _, ok := im.accepted[p.row.Parent]; !ok {
			want[p.row.Parent] = true
		}
	}
	if len(want) == 0 {
		return nil
	}
	after := ""
	for {
		ms, err := im.st.Meters(ctx, store.MeterQuery{After: after, Limit: 1000})
		if err != nil {
			return fmt.Errorf("import: looking up parent meters: %w", err)
		}
		if len(ms) == 0 {
			return nil
		}
		for _, m := range ms {
			id, err := strconv.ParseUint(m.ManifestID, 10, 64)
			if err != nil || !want[id] {
				continue
			}
			r := manifest.Row{MeterID: id, Serial: m.SerialNumber, Kind: m.Kind, Protocol: m.Protocol}
			if ap, err := netip.ParseAddrPort(strings.TrimPrefix(m.Address, "tcp://")); err == nil {
				r.Address = ap
			}
			im.accepted[id] = parentInfo{m.MRID, r}
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

// ImportFrom registers the rows src yields with the head-end's own
// sealer; the meters it creates are collected soon after, by a catch-up
// run of yesterday spread over CatchUpWindow, rather than the next night.
func (h *HeadEnd) ImportFrom(ctx context.Context, src RowSource) (ImportReport, error) {
	s, ok := h.secrets.(Sealer)
	if !ok {
		return ImportReport{}, errors.New("headend: the secret opener cannot seal; import needs the vault")
	}
	rep, err := ImportFrom(ctx, h.st, s, h.Drivers(), src)
	// Batches already in are collected even when a later one failed.
	h.catchUpRun(rep.New)
	return rep, err
}

// Import registers a manifest's rows with the head-end's own sealer.
func (h *HeadEnd) Import(ctx context.Context, rows []manifest.Row) (ImportReport, error) {
	src := rowSlice(rows)
	return h.ImportFrom(ctx, &src)
}

// sameUsagePoint reports whether the registry already has up as the
// manifest describes it: its time zone and its protection, which a later
// shipment file may change for a meter that stays.
func sameUsagePoint(ctx context.Context, st ImportStore, up cim.UsagePoint) (bool, error) {
	if up.MRID == "" {
		return true, nil
	}
	old, err := st.UsagePoint(ctx, up.MRID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return old.TimeZone == up.TimeZone && old.Protection == up.Protection, nil
}
