package dlmsdriver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/obis"
)

// Model is what discovery learned of one kind of meter: the objects its
// association offers, its profiles' capture objects and periods, the
// scaler and unit of every register read or captured, and the quirks the
// head-end has seen it have. It is stored as a template shared by every
// meter of the same make, model, firmware and object list.
type Model struct {
	Key          string    `json:"key"`
	Manufacturer string    `json:"manufacturer,omitempty"`
	DeviceModel  string    `json:"model,omitempty"`
	Firmware     string    `json:"firmware,omitempty"`
	DiscoveredAt time.Time `json:"discoveredAt"`
	// FirmwareObject is the object the firmware identifier was read
	// from, read again in each session's first list to notice an upgrade.
	FirmwareObject *Object `json:"firmwareObject,omitempty"`
	// Clock is the meter's clock object.
	Clock    *Object             `json:"clock,omitempty"`
	Objects  []Object            `json:"objects"`
	Profiles []Profile           `json:"profiles,omitempty"`
	Scalers  map[obis.Code]Scale `json:"scalers,omitempty"`
	Quirks   Quirks              `json:"quirks"`
	// Notes are what discovery could not read, for an engineer.
	Notes []string `json:"notes,omitempty"`
}

// Object is one entry of the association's object list.
type Object struct {
	Class   uint16    `json:"class"`
	LN      obis.Code `json:"ln"`
	Version uint8     `json:"version,omitempty"`
}

// Profile is one profile generic object.
type Profile struct {
	LN obis.Code `json:"ln"`
	// Kind is "load", "billing" or "events".
	Kind    string                `json:"kind"`
	Period  int64                 `json:"period,omitempty"` // seconds
	Columns []cosem.CaptureObject `json:"columns"`
}

// Scale is a register's scaler and unit.
type Scale struct {
	Scaler int8      `json:"scaler"`
	Unit   axdr.Unit `json:"unit"`
}

// List answers as seen of a model.
const (
	listsUnknown = ""
	listsOK      = "ok"
	listsBroken  = "broken"
)

// Profile access a model has shown to refuse.
const (
	rangeOK     = ""
	rangeEntry  = "entry"  // range refused: read by entry
	rangeBuffer = "buffer" // entry refused too: read the whole buffer
)

// Quirks are what the head-end learned of a model by talking to it; they
// are never assumed.
type Quirks struct {
	// Lists is "" until a GET-with-list was answered, then "ok", or
	// "broken" once a list was answered inconsistently or dropped the
	// link: read one object at a time from then on.
	Lists    string `json:"lists,omitempty"`
	ListsWhy string `json:"listsWhy,omitempty"`
	// Range says how profiles are read: by range, else by entry, else
	// the whole buffer filtered here.
	Range string `json:"range,omitempty"`
	// Crashed holds the shapes of requests after which the meter dropped
	// the link; none is sent again.
	Crashed []string `json:"crashed,omitempty"`
	// WrappedClock: the clock came back as a date-time wrapped once more.
	WrappedClock bool `json:"wrappedClock,omitempty"`
}

// Shapes of requests remembered when a meter drops the link on one.
const (
	shapeList         = "get-with-list"
	shapeProfilesList = "get-with-list of profiles by range"
)

func (m *Model) crashed(shape string) bool { return slices.Contains(m.Quirks.Crashed, shape) }

func (m *Model) has(ln obis.Code) (Object, bool) {
	for _, o := range m.Objects {
		if o.LN == ln {
			return o, true
		}
	}
	return Object{}, false
}

func (m *Model) clone() *Model {
	c := *m
	c.Quirks.Crashed = slices.Clone(m.Quirks.Crashed)
	return &c
}

// Identity objects (IEC 62056-6-2): the active firmware identifier and
// the manufacturer's firmware id.
var firmwareLNs = []obis.Code{{1, 0, 0, 2, 0, 255}, {0, 0, 96, 1, 1, 255}}

// kindOf classifies a profile generic by its OBIS code: C = 98 billing
// periods, C = 99 with D = 97 or 98 event logs, anything else a profile
// of measured values.
func kindOf(ln obis.Code) string {
	switch {
	case ln[2] == 98:
		return "billing"
	case ln[2] == 99 && (ln[3] == 97 || ln[3] == 98):
		return "events"
	}
	return "load"
}

// models is the driver's view of the template store, with the templates
// parsed once per process. The common path costs the store nothing: a
// meter takes the template its make and model point to (a small
// "registry/<make>/<model>" entry read once per process), checked by the
// firmware identifier in its first list. Only a meter that does not
// follow its make and model's template has a mapping of its own, written
// once and read when the pointer's template does not fit it.
type models struct {
	mu     sync.Mutex
	byKey  map[string]*Model
	guess  map[string]string        // registry make/model → template key
	meters map[string]string        // meter → template key, for meters off their pointer
	busy   map[string]chan struct{} // registry kinds being discovered
}

func (ms *models) init() {
	if ms.byKey == nil {
		ms.byKey, ms.guess, ms.meters, ms.busy = map[string]*Model{}, map[string]string{}, map[string]string{}, map[string]chan struct{}{}
	}
}

const registryPrefix = "registry/"

// memMeter returns the template key a meter was seen to follow off its
// pointer in this process.
func (ms *models) memMeter(meterID string) string {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.init()
	return ms.meters[meterID]
}

// storedMeter returns the meter's own mapping from the store, "" when it
// has none.
func (ms *models) storedMeter(ctx context.Context, st headend.Models, meterID string) (string, error) {
	if st == nil {
		return "", nil
	}
	k, err := st.MeterTemplate(ctx, meterID)
	if errors.Is(err, headend.ErrNotFound) {
		return "", nil
	}
	if err == nil {
		ms.mu.Lock()
		ms.meters[meterID] = k
		ms.mu.Unlock()
	}
	return k, err
}

// setMeter records that a meter follows m: as its make and model's
// pointer when they have none yet, else, when m is not the pointer's, as
// the meter's own mapping.
func (ms *models) setMeter(ctx context.Context, st headend.Models, meter cim.Meter, m *Model) error {
	rk := registryKey(meter.Manufacturer, meter.Model)
	ms.mu.Lock()
	ms.init()
	ptr := ms.guess[rk]
	setPtr := rk != "" && ptr == ""
	if setPtr {
		ms.guess[rk], ptr = m.Key, m.Key
	}
	own := rk == "" || ptr != m.Key
	if own {
		ms.meters[meter.MRID] = m.Key
	} else {
		delete(ms.meters, meter.MRID)
	}
	ms.mu.Unlock()
	if st == nil {
		return nil
	}
	if setPtr {
		if err := st.PutTemplate(ctx, registryPrefix+rk, []byte(m.Key)); err != nil {
			return err
		}
	}
	if own {
		return st.SetMeterTemplate(ctx, meter.MRID, m.Key)
	}
	return nil
}

// template returns the template key, parsed; nil when there is none.
func (ms *models) template(ctx context.Context, st headend.Models, key string) (*Model, error) {
	ms.mu.Lock()
	ms.init()
	m := ms.byKey[key]
	ms.mu.Unlock()
	if m != nil || st == nil {
		return m, nil
	}
	b, err := st.Template(ctx, key)
	if errors.Is(err, headend.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if m, err = ParseModel(b); err != nil {
		// A template that does not read back is as good as none: the
		// meter is discovered again and the template written anew.
		return nil, nil
	}
	ms.mu.Lock()
	ms.byKey[key] = m
	ms.mu.Unlock()
	return m, nil
}

// put stores a template (new, or with a quirk learned).
func (ms *models) put(ctx context.Context, st headend.Models, m *Model) error {
	ms.mu.Lock()
	ms.init()
	ms.byKey[m.Key] = m
	ms.mu.Unlock()
	if st == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return st.PutTemplate(ctx, m.Key, b)
}

// guessFor is the template the make and model point to, "" when none.
// While another session discovers a meter of the same make and model it
// waits for that one (or ctx) rather than discover the same thing again,
// so a fleet's first minutes cost one discovery per kind, not one per
// session slot; release must then be called once the caller is done.
func (ms *models) guessFor(ctx context.Context, st headend.Models, meter cim.Meter) (key string, release func(), err error) {
	rk := registryKey(meter.Manufacturer, meter.Model)
	nop := func() {}
	if rk == "" {
		return "", nop, nil
	}
	for {
		ms.mu.Lock()
		ms.init()
		k := ms.guess[rk]
		ch, busy := ms.busy[rk]
		if k == "" && !busy {
			ch = make(chan struct{})
			ms.busy[rk] = ch
			ms.mu.Unlock()
			release = func() {
				ms.mu.Lock()
				delete(ms.busy, rk)
				ms.mu.Unlock()
				close(ch)
			}
			if st != nil {
				b, err := st.Template(ctx, registryPrefix+rk)
				if err == nil {
					ms.mu.Lock()
					ms.guess[rk] = string(b)
					ms.mu.Unlock()
					release()
					return string(b), nop, nil
				}
				if !errors.Is(err, headend.ErrNotFound) {
					release()
					return "", nop, err
				}
			}
			return "", release, nil // the caller discovers, then releases
		}
		ms.mu.Unlock()
		if k != "" {
			return k, nop, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return "", nop, ctx.Err()
		}
	}
}

// TemplateOf returns the object model the head-end reads a meter by: its
// own template, else the one its make and model point to; nil when the
// meter was never read.
func TemplateOf(ctx context.Context, st headend.Models, meter cim.Meter) (*Model, error) {
	key, err := st.MeterTemplate(ctx, meter.MRID)
	if errors.Is(err, headend.ErrNotFound) {
		key, err = "", nil
		if rk := registryKey(meter.Manufacturer, meter.Model); rk != "" {
			b, perr := st.Template(ctx, registryPrefix+rk)
			if perr == nil {
				key = string(b)
			} else if !errors.Is(perr, headend.ErrNotFound) {
				err = perr
			}
		}
	}
	if err != nil || key == "" {
		return nil, err
	}
	var ms models
	return ms.template(ctx, st, key)
}

// Bounds of a template read back: a meter's association lists at most a
// few thousand objects, a profile a few hundred columns.
const (
	maxObjects = 1 << 14
	maxColumns = 1 << 10
)

// ParseModel reads a stored template, refusing one that could not have
// come from discovery (too many objects or columns, an unknown profile
// kind).
func ParseModel(b []byte) (*Model, error) {
	m := new(Model)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, err
	}
	if len(m.Objects) > maxObjects || len(m.Profiles) > maxObjects || len(m.Scalers) > maxObjects {
		return nil, fmt.Errorf("template %s: %d objects, %d profiles: too many", m.Key, len(m.Objects), len(m.Profiles))
	}
	for _, p := range m.Profiles {
		if len(p.Columns) > maxColumns {
			return nil, fmt.Errorf("template %s: profile %s has %d columns", m.Key, p.LN, len(p.Columns))
		}
		switch p.Kind {
		case "load", "billing", "events":
		default:
			return nil, fmt.Errorf("template %s: profile %s of kind %q", m.Key, p.LN, p.Kind)
		}
		if p.Period < 0 {
			return nil, fmt.Errorf("template %s: profile %s period %d", m.Key, p.LN, p.Period)
		}
	}
	return m, nil
}

func registryKey(manufacturer, model string) string {
	if manufacturer == "" && model == "" {
		return ""
	}
	return manufacturer + "/" + model
}

// templateKey names a template: make, model and firmware, and a digest
// of the object list, so that meters of one model configured apart do not
// share one. Without a make and model from the registry the digest alone
// tells kinds apart.
func templateKey(manufacturer, model, firmware string, objects []Object) string {
	h := sha256.New()
	for _, o := range objects {
		fmt.Fprintf(h, "%d/%s/%d;", o.Class, o.LN, o.Version)
	}
	return manufacturer + "/" + model + "/" + firmware + "/" + hex.EncodeToString(h.Sum(nil)[:6])
}

// detailsDigest names a model's configuration: its profiles' capture
// objects and periods and its registers' scalers.
func detailsDigest(m *Model) string {
	b, _ := json.Marshal(struct {
		P []Profile
		S map[obis.Code]Scale
	}{m.Profiles, m.Scalers})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:6])
}

func sameDetails(a, b *Model) bool { return detailsDigest(a) == detailsDigest(b) }

// textOf renders an identifier: visible text as it is, other octets in
// hex.
func textOf(d axdr.Data) string {
	switch d.Tag {
	case axdr.TagVisibleString, axdr.TagUTF8String, axdr.TagOctetString:
		b := d.Bytes
		printable := utf8.Valid(b)
		for _, r := range string(b) {
			if r < 0x20 || r == 0x7f {
				printable = false
			}
		}
		if printable {
			return strings.TrimSpace(string(b))
		}
		return hex.EncodeToString(b)
	}
	return d.String()
}

// Discover reads a meter's object model over an open association: the
// object list, each profile's capture objects and capture period, the
// firmware identifier, and the scaler and unit of every register that is
// captured or read. Objects are read one at a time, the one shape every
// meter answers. What cannot be read is noted, not fatal; only a broken
// link or a meter without an object list fails it.
func Discover(ctx context.Context, c *dlms.Client, manufacturer, model string) (*Model, error) {
	m, err := discoverObjects(ctx, c, manufacturer, model)
	if err != nil {
		return nil, err
	}
	return m, discoverDetails(ctx, c, m)
}

func discoverObjects(ctx context.Context, c *dlms.Client, manufacturer, model string) (*Model, error) {
	list, err := c.ObjectList(ctx)
	if err != nil {
		return nil, fmt.Errorf("object list: %w", err)
	}
	m := &Model{Manufacturer: manufacturer, DeviceModel: model, Scalers: map[obis.Code]Scale{}}
	for _, e := range list {
		o := Object{Class: e.ClassID, LN: e.LogicalName, Version: e.Version}
		m.Objects = append(m.Objects, o)
		if o.Class == cosem.ClassClock && (m.Clock == nil || o.LN == clockLN) {
			m.Clock = &o
		}
	}
	for _, ln := range firmwareLNs {
		o, ok := m.has(ln)
		if !ok {
			continue
		}
		d, err := c.Get(ctx, dlms.Attr{Class: o.Class, OBIS: o.LN, Attribute: 2}, nil)
		if fatal(err) {
			return nil, err
		}
		if err == nil {
			m.Firmware, m.FirmwareObject = textOf(d), &o
			break
		}
	}
	m.Key = templateKey(manufacturer, model, m.Firmware, m.Objects)
	return m, nil
}

func discoverDetails(ctx context.Context, c *dlms.Client, m *Model) error {
	m.DiscoveredAt = time.Now().UTC()
	need := map[obis.Code]Object{}
	for _, o := range m.Objects {
		switch o.Class {
		case cosem.ClassProfileGeneric:
			p := Profile{LN: o.LN, Kind: kindOf(o.LN)}
			d, err := c.Get(ctx, dlms.Attr{Class: o.Class, OBIS: o.LN, Attribute: 3}, nil)
			if fatal(err) {
				return err
			}
			if err == nil {
				p.Columns, err = cosem.ParseCaptureObjects(d)
			}
			if err != nil {
				m.Notes = append(m.Notes, fmt.Sprintf("profile %s: capture objects: %v", o.LN, err))
				continue
			}
			if d, err := c.Get(ctx, dlms.Attr{Class: o.Class, OBIS: o.LN, Attribute: 4}, nil); fatal(err) {
				return err
			} else if err == nil {
				if v, ok := d.Uint(); ok && v <= 31*86400 {
					p.Period = int64(v)
				}
			}
			m.Profiles = append(m.Profiles, p)
			for _, col := range p.Columns {
				if isRegisterClass(col.ClassID) {
					need[col.LogicalName] = Object{Class: col.ClassID, LN: col.LogicalName}
				}
			}
		case cosem.ClassRegister, cosem.ClassExtendedRegister, cosem.ClassDemandRegister:
			if q, ok := quantityOf(o.LN); !ok || q.register {
				need[o.LN] = o
			}
		}
	}
	lns := make([]obis.Code, 0, len(need))
	for ln := range need {
		lns = append(lns, ln)
	}
	slices.SortFunc(lns, obis.Code.Compare)
	for _, ln := range lns {
		o := need[ln]
		a := dlms.Attr{Class: o.Class, OBIS: ln, Attribute: 3}
		if o.Class == cosem.ClassDemandRegister {
			a.Attribute = 4
		}
		d, err := c.Get(ctx, a, nil)
		if fatal(err) {
			return err
		}
		var su axdr.ScalerUnit
		if err == nil {
			su, err = axdr.ParseScalerUnit(d)
		}
		if err != nil {
			m.Notes = append(m.Notes, fmt.Sprintf("register %s: scaler and unit: %v", ln, err))
			continue
		}
		m.Scalers[ln] = Scale{Scaler: su.Scaler, Unit: su.Unit}
	}
	return nil
}

func isRegisterClass(c uint16) bool {
	return c == cosem.ClassRegister || c == cosem.ClassExtendedRegister || c == cosem.ClassDemandRegister
}

// fatal reports whether an error ends the association rather than one
// object's read: the link, the deadline, the client.
func fatal(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, dlms.ErrInvocationCounter) || errors.Is(err, dlms.ErrLinkDropped) {
		return true
	}
	var da *dlms.DataAccessError
	var ex *dlms.ExceptionError
	var cs *dlms.ConfirmedServiceError
	if errors.As(err, &da) || errors.As(err, &ex) || errors.As(err, &cs) ||
		errors.Is(err, dlms.ErrObjectUndefined) || errors.Is(err, dlms.ErrAccessDenied) {
		return false
	}
	if errors.Is(err, dlms.ErrProtocol) && !errors.Is(err, dlms.ErrPeerClosed) {
		// One malformed answer is that object's; the link still frames.
		return false
	}
	return true
}

// Describe implements headend.Describer: the template meter follows and
// the channel map drawn from it.
func (d *Driver) Describe(ctx context.Context, models headend.Models, meter cim.Meter) (model, channels any, err error) {
	m, err := TemplateOf(ctx, models, meter)
	if err != nil || m == nil {
		return nil, nil, err
	}
	return m, m.Channels(), nil
}
