package headend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// Value is one object read on demand, rendered for people and JSON.
type Value struct {
	// Object names what was read, e.g. "1.0.1.8.0.255" or "1.0.1.8.0.255:2";
	// for a meter read through its parent, the reading type ("Ge-3").
	Object string `json:"object"`
	Value  any    `json:"value,omitempty"`
	// Scaler and Unit qualify a register value: Value × 10^Scaler Unit.
	Scaler int    `json:"scaler,omitempty"`
	Unit   string `json:"unit,omitempty"`
	// At is when the meter captured the value, where it says.
	At    time.Time `json:"at,omitzero"`
	Error string    `json:"error,omitempty"`
}

// Reader is a Session that reads named objects on demand.
type Reader interface {
	// Read reads each object; a per-object failure goes in its Value's
	// Error. No objects means the driver's default register set.
	Read(ctx context.Context, objects []string) ([]Value, error)
}

// SubCollector is a Session that reads its target's sub-meters alone,
// leaving the target's own objects unread: an on-demand read of a gas
// or water meter costs its parent's link no more than that meter.
type SubCollector interface {
	// CollectSubs reads each of Target.SubMeters from its cursors in
	// Plan.SubSince, as Collect does, and returns what it read of each.
	CollectSubs(ctx context.Context, p Plan) ([]SubCollection, error)
}

// Read reads objects of one meter now, through the same session limits as
// collection. A meter read through its parent (a gas or water meter) is
// read in its parent's session; what is read is published and its
// cursors move, as in a collection.
func (h *HeadEnd) Read(ctx context.Context, meterID string, objects []string) ([]Value, error) {
	m, err := h.st.Meter(ctx, meterID)
	if err != nil {
		return nil, fmt.Errorf("meter %s: %w", meterID, err)
	}
	if m.Parent != "" {
		return h.readSubMeter(ctx, m, objects)
	}
	return h.readMeter(ctx, m, objects)
}

func (h *HeadEnd) readMeter(ctx context.Context, m cim.Meter, objects []string) ([]Value, error) {
	t, drv, err := h.target(ctx, m)
	if err != nil {
		return nil, err
	}
	defer clear(t.Credentials)
	var out []Value
	err = h.withSession(ctx, m, t, drv, "read", func(ctx context.Context, s Session) error {
		r, ok := s.(Reader)
		if !ok {
			return fmt.Errorf("meter %s: %w: on-demand read", m.MRID, ErrUnsupported)
		}
		v, err := r.Read(ctx, objects)
		out = v
		return err
	})
	return out, err
}

// readSubMeter reads sub-meter m alone through its parent's session, with
// the parent's keys and within the parent's segment limits: it has no
// address of its own. Its readings are published under its id, checked
// against its own usage point's zone, and its cursors move once the bus
// has them, as a collection's would; the day's results are the runs'
// and are left as they are.
func (h *HeadEnd) readSubMeter(ctx context.Context, m cim.Meter, objects []string) ([]Value, error) {
	if len(objects) > 0 {
		return nil, fmt.Errorf("meter %s: read through meter %s, which gives its registers and profile, not named objects: %w",
			m.MRID, m.Parent, ErrUnsupported)
	}
	parent, err := h.st.Meter(ctx, m.Parent)
	if errors.Is(err, store.ErrNotFound) {
		// Not the sub-meter's not-found: it is registered.
		return nil, fmt.Errorf("meter %s: read through meter %s, which is not registered", m.MRID, m.Parent)
	}
	if err != nil {
		return nil, fmt.Errorf("meter %s: its parent meter %s: %w", m.MRID, m.Parent, err)
	}
	if drv, ok := h.drivers[parent.Protocol]; !ok || !readsSubMeters(drv) {
		return nil, fmt.Errorf("meter %s: read through meter %s, whose %q driver reads no meters behind it: %w",
			m.MRID, parent.MRID, parent.Protocol, ErrUnsupported)
	}
	if m.Protocol != parent.Protocol {
		return nil, fmt.Errorf("meter %s: protocol %q, but it is read through meter %s of protocol %q",
			m.MRID, m.Protocol, parent.MRID, parent.Protocol)
	}
	t, drv, err := h.target(ctx, parent)
	if err != nil {
		return nil, fmt.Errorf("meter %s: read through meter %s: %w", m.MRID, parent.MRID, err)
	}
	defer clear(t.Credentials)
	creds, err := OpenCredentials(ctx, h.st, h.secrets, m.MRID)
	if err != nil {
		return nil, err
	}
	defer clear(creds)
	loc, err := h.location(ctx, m.UsagePointID)
	if err != nil {
		return nil, fmt.Errorf("meter %s: %w", m.MRID, err)
	}
	sub := SubMeter{Meter: m, Credentials: creds, Location: loc}
	t.SubMeters = []SubMeter{sub}
	cursors, err := h.st.Cursors(ctx, m.MRID)
	if err != nil {
		return nil, fmt.Errorf("meter %s: cursors: %w", m.MRID, err)
	}
	now := h.now()
	since := map[string]time.Time{}
	for _, c := range cursors {
		since[c.Name] = c.At
	}
	plan := Plan{Since: map[string]time.Time{}, Until: now, SubSince: map[string]map[string]time.Time{m.MRID: since},
		Backfill: cim.DateOf(now, loc).AddDays(-h.ccfg.BackfillDays + 1).Start(loc)}

	var subs []SubCollection
	err = h.withSession(ctx, parent, t, drv, "read", func(ctx context.Context, s Session) error {
		sc, ok := s.(SubCollector)
		if !ok {
			return fmt.Errorf("%s driver reads meters behind another only in a collection: %w", parent.Protocol, ErrUnsupported)
		}
		var err error
		subs, err = sc.CollectSubs(ctx, plan)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("meter %s: read through meter %s, which failed: %w", m.MRID, parent.MRID, err)
	}
	var col *SubCollection
	for i := range subs {
		if subs[i].MeterID == m.MRID {
			col = &subs[i]
		}
	}
	if col == nil {
		return nil, fmt.Errorf("meter %s: not read through meter %s: its driver returned nothing of it", m.MRID, parent.MRID)
	}
	if col.Err != nil {
		// Its events (another device on its channel, say) are what an
		// operator acts on: they are published all the same.
		evs := Collection{Events: col.Events}
		if _, err := h.deliver(ctx, m, loc, &evs); err != nil {
			h.log.Warn("sub-meter events not published", "meter", m.MRID, "err", err)
		}
		return nil, col.Err
	}
	if _, err := h.deliver(ctx, m, loc, &col.Collection); err != nil {
		return nil, err
	}
	var moved []store.Cursor
	for name, at := range col.Cursors {
		moved = append(moved, store.Cursor{MeterID: m.MRID, Name: name, At: at})
	}
	if len(moved) > 0 {
		if err := h.retryStore(ctx, "storing cursors", func(ctx context.Context) error {
			return h.st.PutCursors(ctx, moved)
		}); err != nil {
			// Published already: the next collection reads it again, which
			// the bus's message ids make harmless.
			h.log.Warn("cursors not stored after an on-demand read", "meter", m.MRID, "err", err)
		}
	}
	return subValues(col), nil
}

// subValues renders what a session read of a sub-meter: each register
// read with its capture time (its reading type names its unit), each
// profile channel as the sum of its new intervals up to the last one's
// end, and each object the session could not read.
func subValues(col *SubCollection) []Value {
	var out []Value
	for _, r := range col.Registers {
		out = append(out, Value{Object: r.ReadingType, Value: r.Value, At: r.TimeStamp})
	}
	for _, b := range col.Blocks {
		if len(b.Readings) == 0 {
			continue
		}
		var sum int64
		for _, r := range b.Readings {
			sum += r.Value
		}
		out = append(out, Value{Object: b.ReadingType.ID, Value: sum, Scaler: int(b.ReadingType.Multiplier),
			Unit: b.ReadingType.Unit.String(), At: b.Readings[len(b.Readings)-1].End})
	}
	for _, p := range col.Problems {
		if !p.Warning {
			out = append(out, Value{Object: p.Object, Error: p.Cause})
		}
	}
	return out
}

// behindParent is the error for an operation on meter m that would need
// a session of its own: a meter read through its parent has no address
// to dial, and its parent's session carries only its reads.
func behindParent(m cim.Meter, op string) error {
	return fmt.Errorf("meter %s: %s: it is reached through meter %s, whose session carries only its reads: %w",
		m.MRID, op, m.Parent, ErrUnsupported)
}
