package dlmsdriver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/obis"
)

// Logical names the driver knows by convention (IDIS / DSMR); what a
// session reads comes from the meter's own object model.
var (
	clockLN      = obis.Code{0, 0, 1, 0, 0, 255}
	serialLN     = obis.Code{0, 0, 96, 1, 0, 255}
	disconnectLN = obis.Code{0, 0, 96, 3, 10, 255}
	maxDemandLN  = obis.Code{1, 0, 1, 6, 0, 255}
	calendarLN   = obis.Code{0, 0, 13, 0, 0, 255}
	// specialDaysLN is the special days table (class 11).
	specialDaysLN = obis.Code{0, 0, 11, 0, 0, 255}
)

// registerOrder is what Read reads when asked for nothing in particular:
// the energy registers of the IDIS convention.
var registerOrder = func() []obis.Code {
	out := []obis.Code{{1, 0, 1, 8, 0, 255}, {1, 0, 2, 8, 0, 255}, {1, 0, 3, 8, 0, 255}, {1, 0, 4, 8, 0, 255}}
	for r := byte(1); r <= 4; r++ {
		out = append(out, obis.Code{1, 0, 1, 8, r, 255}, obis.Code{1, 0, 2, 8, r, 255})
	}
	slices.SortFunc(out, obis.Code.Compare)
	return out
}()

func cursorName(kind string, ln obis.Code) string { return kind + ":" + ln.String() }

// readAsBilling reports whether a profile's entries are read as register
// values at their capture times: a billing profile's, and a load
// profile's captured once a day or less often (DSMR 5's 1-0:99.2.0),
// since an interval of a day fits no day's grid of intervals (days of 23
// and 25 hours) and the MDM refuses it.
func readAsBilling(p *Profile) bool {
	return p.Kind == "billing" || (p.Kind == "load" && p.Period >= 86400)
}

// billingSuffix ends the reading type of a value read from p by
// readAsBilling: "/billing" (the daily 0-0:98.1.0), "/billing<D>"
// (another billing profile) or "/daily" (a load profile of a day).
func billingSuffix(p *Profile) string {
	switch {
	case p.Kind == "load" && p.Period == 86400:
		return "/daily"
	case p.LN[3] != 1:
		return "/billing" + strconv.Itoa(int(p.LN[3]))
	}
	return "/billing"
}

// cursorOf names the cursor a profile is read from.
func cursorOf(p *Profile) string {
	switch p.Kind {
	case "load":
		return cursorName("profile", p.LN)
	case "billing":
		return cursorName("billing", p.LN)
	}
	return cursorName("events", p.LN)
}

// timeOf reads a date-time value in any encoding meters use; a meter that
// does not state its offset is taken to run on the usage point's local
// time. The departure from the Blue Book is returned for the caller to
// remember.
func (s *session) timeOf(d axdr.Data) (time.Time, axdr.Tolerance, bool) {
	dt, tol, ok := d.DateTimeTolerant()
	if !ok {
		return time.Time{}, 0, false
	}
	t, err := dt.TimeIn(s.loc)
	return t, tol, err == nil
}

func (s *session) clockAttr() dlms.Attr {
	if s.m != nil && s.m.Clock != nil {
		return dlms.Attr{Class: cosem.ClassClock, OBIS: s.m.Clock.LN, Attribute: 2}
	}
	return dlms.Attr{Class: cosem.ClassClock, OBIS: clockLN, Attribute: 2}
}

// Clock implements headend.Session.
func (s *session) Clock(ctx context.Context) (time.Time, error) {
	d, err := s.c.Get(ctx, s.clockAttr(), nil)
	if err != nil {
		return time.Time{}, err
	}
	t, _, ok := s.timeOf(d)
	if !ok {
		return time.Time{}, fmt.Errorf("meter %s: clock value %s is not a date-time", s.t.Meter.MRID, d)
	}
	return t, nil
}

// SetClock implements headend.Session.
func (s *session) SetClock(ctx context.Context, t time.Time) error {
	t = t.In(s.loc)
	var st axdr.ClockStatus
	if t.IsDST() {
		st = axdr.StatusDaylightSaving
	}
	return s.c.Set(ctx, s.clockAttr(), cosem.DateTimeData(t, st))
}

// unfitted reports whether err says an object of an M-Bus channel
// (0-B:24.x, B 1..4) is not there: meters of one kind share an object
// model whatever hangs on their M-Bus, and a meter serves no objects for a
// channel with no device fitted. That is no problem of the meter's; a
// device fitted later answers.
func unfitted(ln obis.Code, err error) bool {
	return ln[0] == 0 && ln[1] >= 1 && ln[1] <= 4 && ln[2] == 24 && errors.Is(err, dlms.ErrObjectUndefined)
}

// problem records one object the session could not read.
func (s *session) problem(col *headend.Collection, object string, cause error) {
	col.Problems = append(col.Problems, headend.ObjectProblem{Object: object, Cause: cause.Error()})
}

// Collect implements headend.Session. The plan comes from the meter's
// object model (discovered on first contact, shared as a template): the
// clock, the firmware identifier and the registers in one exchange; then
// each load profile from its cursor; then the billing profiles and event
// logs. Where the meter answers lists, that is three exchanges after the
// association, as few round trips as a narrow, high-latency link allows.
// An object the meter will not give fails alone, recorded in Problems.
func (s *session) Collect(ctx context.Context, p headend.Plan) (headend.Collection, error) {
	var col headend.Collection
	readAt := s.now()
	subs, badSubs := s.subReads()
	s.subs = subs
	col.Subs = badSubs
	if err := s.resolve(ctx, false); err != nil {
		return col, err
	}
	mt, err := s.first(ctx, &col, true)
	if err != nil {
		return col, err
	}
	col.MeterTime, col.ReadAt = mt, readAt
	if r := s.resync; r != nil {
		col.Events = append(col.Events, resyncEvent(s.t.Meter.MRID, readAt, *r))
		s.resync = nil
	}
	// Read up to the meter's own idea of now: its entries are stamped by
	// its clock.
	to := mt
	if to.IsZero() {
		to = readAt
	}
	to = to.Add(time.Minute)
	var loads, rest []*Profile
	for i := range s.m.Profiles {
		pr := &s.m.Profiles[i]
		if s.ownedChannel(pr.LN) {
			continue // read for its sub-meter
		}
		if pr.Kind == "load" && !readAsBilling(pr) {
			loads = append(loads, pr)
		} else {
			rest = append(rest, pr)
		}
	}
	complete := len(loads) > 0
	if err := s.prefetch(ctx, p, to, loads); err != nil {
		return col, err
	}
	for _, pr := range loads {
		done, err := s.profile(ctx, pr, p, to, &col)
		if err != nil {
			return col, err
		}
		complete = complete && done
	}
	if err := s.prefetch(ctx, p, to, rest); err != nil {
		return col, err
	}
	for _, pr := range rest {
		var err error
		if readAsBilling(pr) {
			err = s.billing(ctx, pr, p, to, &col)
		} else {
			err = s.events(ctx, pr, p, to, &col)
		}
		if err != nil {
			return col, err
		}
	}
	col.Complete = complete
	stamp := mt
	if stamp.IsZero() {
		stamp = readAt
	}
	for _, r := range s.subs {
		sc, err := s.collectSub(ctx, r, p, to, stamp)
		if err != nil {
			return col, err
		}
		col.Subs = append(col.Subs, sc)
	}
	if s.stale {
		// The meter's configuration changed under its template: learn it
		// again for the next session, whose reads then fit.
		if err := s.resolve(ctx, true); err != nil {
			return col, err
		}
	}
	if s.adopt {
		if err := s.d.models.setMeter(ctx, s.t.Models, s.t.Meter, s.m); err != nil {
			return col, fmt.Errorf("meter %s: storing its template: %w", s.t.Meter.MRID, err)
		}
		s.adopt = false
	}
	return col, nil
}

// resolve finds the meter's object model: the template it was seen to
// follow off its make and model's, else the one its make and model point
// to (checked by its firmware in the first list), else its own mapping in
// the store, else discovery, which adopts a stored template of the same
// key instead of reading the details again.
func (s *session) resolve(ctx context.Context, rediscover bool) error {
	ms, st, meter := &s.d.models, s.t.Models, s.t.Meter
	release := func() {}
	defer func() { release() }()
	if !rediscover {
		key := ms.memMeter(meter.MRID)
		if key == "" {
			g, rel, err := ms.guessFor(ctx, st, meter)
			if err != nil {
				return fmt.Errorf("meter %s: its template: %w", meter.MRID, err)
			}
			release = rel
			key = g
		}
		if key == "" {
			k, err := ms.storedMeter(ctx, st, meter.MRID)
			if err != nil {
				return fmt.Errorf("meter %s: its template: %w", meter.MRID, err)
			}
			key = k
		}
		if key != "" {
			m, err := ms.template(ctx, st, key)
			if err != nil {
				return fmt.Errorf("meter %s: %w", meter.MRID, err)
			}
			if m != nil && m.FirmwareObject == nil && ms.memMeter(meter.MRID) == "" {
				// A kind without a firmware identifier cannot be checked in
				// the first list: a mapping of the meter's own wins.
				if k, err := ms.storedMeter(ctx, st, meter.MRID); err != nil {
					return fmt.Errorf("meter %s: its template: %w", meter.MRID, err)
				} else if k != "" && k != key {
					if own, err := ms.template(ctx, st, k); err == nil && own != nil {
						m = own
					}
				}
			}
			if m != nil {
				s.m = m
				return nil
			}
		}
	}
	m, err := discoverObjects(ctx, s.c, meter.Manufacturer, meter.Model)
	if err != nil {
		return fmt.Errorf("meter %s: discovery: %w", meter.MRID, err)
	}
	known, _ := ms.template(ctx, st, m.Key)
	if known != nil && !rediscover {
		s.m, s.stale = known, false
		if err := ms.setMeter(ctx, st, meter, known); err != nil {
			return fmt.Errorf("meter %s: storing its template: %w", meter.MRID, err)
		}
		return nil
	}
	s.d.discoveries.Add(1)
	if err := discoverDetails(ctx, s.c, m); err != nil {
		return fmt.Errorf("meter %s: discovery: %w", meter.MRID, err)
	}
	if known != nil {
		if sameDetails(known, m) {
			// Nothing changed after all: keep the kind's template and what
			// was learned of it.
			s.m, s.stale = known, false
			return ms.setMeter(ctx, st, meter, known)
		}
		// Same objects, other capture objects or scalers: a
		// configuration of its own.
		m.Key += "/" + detailsDigest(m)
	}
	if err := ms.put(ctx, st, m); err != nil {
		return fmt.Errorf("meter %s: storing its object model: %w", meter.MRID, err)
	}
	s.m, s.adopt, s.stale = m, true, false
	// Record it before releasing the other sessions of its kind.
	if err := ms.setMeter(ctx, st, meter, m); err != nil {
		return fmt.Errorf("meter %s: storing its template: %w", meter.MRID, err)
	}
	s.adopt = false
	return nil
}

// ownTemplate is, for a meter whose firmware does not match the template
// its make and model point to, its own template when it has one that
// matches.
func (s *session) ownTemplate(ctx context.Context, firmware string) (*Model, error) {
	ms, st := &s.d.models, s.t.Models
	key, err := ms.storedMeter(ctx, st, s.t.Meter.MRID)
	if err != nil || key == "" {
		return nil, err
	}
	m, err := ms.template(ctx, st, key)
	if err != nil || m == nil || m.Firmware != firmware {
		return nil, err
	}
	return m, nil
}

// learn records a quirk in the meter's template at once, so the next
// session (or the retry of this one) does not repeat what went wrong.
func (s *session) learn(ctx context.Context, f func(*Quirks)) {
	m := s.m.clone()
	f(&m.Quirks)
	s.m = m
	// A lost write costs a second lesson, not data: the session goes on.
	_ = s.d.models.put(context.WithoutCancel(ctx), s.t.Models, m)
}

func (s *session) listsAllowed() bool {
	return s.c.Negotiated().Conformance.Has(apdu.ConformanceMultipleReferences) &&
		s.m.Quirks.Lists != listsBroken && !s.m.crashed(shapeList)
}

// dropped reports an error that means the meter let the link go.
func dropped(err error) bool {
	return errors.Is(err, dlms.ErrLinkDropped) || errors.Is(err, dlms.ErrPeerClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE)
}

// getMany reads attrs in one GET-with-list where the meter is known (or
// not yet known not) to answer lists, else one at a time. A list item that
// fails is read again alone: if that succeeds the meter answers lists
// inconsistently, which is remembered. A link dropped on a list is
// remembered too, and the error returned: the association is gone.
func (s *session) getMany(ctx context.Context, attrs []dlms.Attr) ([]dlms.Result, error) {
	if len(attrs) > 1 && s.listsAllowed() {
		res, err := s.c.GetList(ctx, attrs)
		switch {
		case err != nil && dropped(err):
			s.learn(ctx, func(q *Quirks) {
				q.Lists, q.ListsWhy = listsBroken, "the meter dropped the link on a GET-with-list"
				q.Crashed = append(q.Crashed, shapeList)
			})
			return nil, err
		case err != nil && fatal(err):
			return nil, err
		case err != nil:
			s.learn(ctx, func(q *Quirks) { q.Lists, q.ListsWhy = listsBroken, "the meter refused a GET-with-list: "+err.Error() })
		case len(res) != len(attrs):
			s.learn(ctx, func(q *Quirks) { q.Lists, q.ListsWhy = listsBroken, "the meter answered a list with another count" })
		default:
			inconsistent := false
			for i := range res {
				if res[i].Err == nil || fatal(res[i].Err) {
					continue
				}
				d, err := s.c.Get(ctx, attrs[i], nil)
				if fatal(err) {
					return nil, err
				}
				if err == nil {
					res[i] = dlms.Result{Data: d}
					inconsistent = true
				} else {
					res[i].Err = err
				}
			}
			switch {
			case inconsistent:
				s.learn(ctx, func(q *Quirks) {
					q.Lists, q.ListsWhy = listsBroken, "the meter failed list items it answers when read alone"
				})
			case s.m.Quirks.Lists == listsUnknown:
				s.learn(ctx, func(q *Quirks) { q.Lists = listsOK })
			}
			return res, nil
		}
	}
	res := make([]dlms.Result, len(attrs))
	for i, a := range attrs {
		d, err := s.c.Get(ctx, a, nil)
		if fatal(err) {
			return nil, err
		}
		res[i] = dlms.Result{Data: d, Err: err}
	}
	return res, nil
}

// regRead is one register the first list reads.
type regRead struct {
	obj Object
	q   quantity
	at  int // index of its capture time in the list, -1 without
}

// first reads, in one exchange where lists are answered, the clock, the
// firmware identifier (a change re-discovers the meter) and the registers
// of the model. It returns the meter's time, zero when the clock could
// not be read: the session goes on without a drift check.
func (s *session) first(ctx context.Context, col *headend.Collection, again bool) (time.Time, error) {
	attrs := []dlms.Attr{s.clockAttr()}
	fw := -1
	if o := s.m.FirmwareObject; o != nil {
		fw = len(attrs)
		attrs = append(attrs, dlms.Attr{Class: o.Class, OBIS: o.LN, Attribute: 2})
	}
	var regs []regRead
	for _, o := range s.m.Objects {
		if !isRegisterClass(o.Class) {
			continue
		}
		// Registers the table knows are read when they accumulate (or are
		// a maximum demand); one it does not know is read raw, so nothing
		// the meter keeps is left behind.
		q, ok := quantityOf(o.LN)
		if ok && !q.register || s.ownedChannel(o.LN) {
			continue
		}
		if !ok {
			q = quantity{id: rawID(o.LN, 2)}
		}
		regs = append(regs, regRead{obj: o, q: q, at: -1})
	}
	base := len(attrs)
	for _, r := range regs {
		attrs = append(attrs, dlms.Attr{Class: r.obj.Class, OBIS: r.obj.LN, Attribute: 2})
	}
	for i := range regs {
		switch regs[i].obj.Class {
		case cosem.ClassExtendedRegister:
			regs[i].at = len(attrs)
			attrs = append(attrs, dlms.Attr{Class: regs[i].obj.Class, OBIS: regs[i].obj.LN, Attribute: 5})
		case cosem.ClassDemandRegister:
			regs[i].at = len(attrs)
			attrs = append(attrs, dlms.Attr{Class: regs[i].obj.Class, OBIS: regs[i].obj.LN, Attribute: 6})
		}
	}
	res, err := s.getMany(ctx, attrs)
	if err != nil {
		return time.Time{}, err
	}
	if fw >= 0 && res[fw].Err == nil && textOf(res[fw].Data) != s.m.Firmware && again {
		// Another firmware than the template's: the meter's own template,
		// else a new discovery.
		own, err := s.ownTemplate(ctx, textOf(res[fw].Data))
		if err != nil {
			return time.Time{}, fmt.Errorf("meter %s: its template: %w", s.t.Meter.MRID, err)
		}
		if own != nil {
			s.m = own
		} else if err := s.resolve(ctx, true); err != nil {
			return time.Time{}, err
		}
		return s.first(ctx, col, false)
	}
	var mt time.Time
	if res[0].Err != nil {
		s.problem(col, attrs[0].String(), fmt.Errorf("clock: %w", res[0].Err))
	} else if t, tol, ok := s.timeOf(res[0].Data); !ok {
		s.problem(col, attrs[0].String(), fmt.Errorf("clock value %s is not a date-time", res[0].Data))
	} else {
		mt = t
		if tol&axdr.TolerateWrapped != 0 && !s.m.Quirks.WrappedClock {
			s.learn(ctx, func(q *Quirks) { q.WrappedClock = true })
			col.Problems = append(col.Problems, headend.ObjectProblem{Object: attrs[0].String(), Warning: true,
				Cause: "the date-time came wrapped in one more octet-string; read as the inner value"})
		}
	}
	stamp := mt
	if stamp.IsZero() {
		stamp = s.now()
	}
	for i, r := range regs {
		v := res[base+i]
		if v.Err != nil {
			if !unfitted(r.obj.LN, v.Err) {
				s.problem(col, attrs[base+i].String(), v.Err)
			}
			continue
		}
		sc := s.m.Scalers[r.obj.LN]
		raw, ok := v.Data.Int()
		if !ok {
			s.problem(col, attrs[base+i].String(), fmt.Errorf("%w: %s", errNotInteger, v.Data))
			continue
		}
		val, mult, err := scale(raw, sc.Scaler)
		if err != nil {
			s.problem(col, attrs[base+i].String(), err)
			continue
		}
		at := stamp
		if r.at >= 0 && res[r.at].Err == nil {
			if t, _, ok := s.timeOf(res[r.at].Data); ok {
				at = t
			}
		}
		col.Registers = append(col.Registers, cim.Reading{MeterID: s.t.Meter.MRID, ReadingType: channelID(r.q.id, 0, mult),
			TimeStamp: at.UTC(), Value: val})
	}
	return mt, nil
}

func since(p headend.Plan, name string) (time.Time, bool) {
	if t, ok := p.Since[name]; ok && !t.IsZero() {
		return t, true
	}
	return p.Backfill, false
}

// fetchedProfile is a profile read ahead, with the columns the meter
// says it captures.
type fetchedProfile struct {
	rows []axdr.Data
	cols []cosem.CaptureObject
	err  error
}

// prefetch reads several profiles from their cursors to `to` in one
// GET-with-list, for readRange to hand out, where the meter answers lists
// and has never dropped the link on this shape. A load profile span longer
// than a chunk and a half is left to readRange, so a long catch-up still
// arrives in bounded answers.
func (s *session) prefetch(ctx context.Context, p headend.Plan, to time.Time, prs []*Profile) error {
	if !s.listsAllowed() || s.m.crashed(shapeProfilesList) || s.m.Quirks.Range != rangeOK {
		return nil
	}
	var ranges []dlms.ProfileRange
	for _, pr := range prs {
		from, _ := since(p, cursorOf(pr))
		if pr.Kind != "load" || to.Sub(from) <= s.d.cfg.ProfileChunk*3/2 {
			ranges = append(ranges, dlms.ProfileRange{LN: pr.LN, From: from.In(s.loc), To: to.In(s.loc)})
		}
	}
	if len(ranges) < 2 {
		return nil // one profile is one exchange by readRange, without its capture objects
	}
	got, err := s.c.ReadProfiles(ctx, ranges)
	if err != nil {
		if dropped(err) {
			s.learn(ctx, func(q *Quirks) { q.Crashed = append(q.Crashed, shapeProfilesList) })
		}
		if fatal(err) {
			return err
		}
		return nil // read one at a time by readRange
	}
	if s.fetched == nil {
		s.fetched = map[obis.Code]fetchedProfile{}
	}
	for i, r := range ranges {
		s.fetched[r.LN] = fetchedProfile{got[i].Rows, got[i].Columns, got[i].Err}
	}
	return nil
}

// readRange reads a profile's entries from `from` to `to`, both inclusive.
// What prefetch read is handed out once. Otherwise by range on its clock
// column (in chunks), else by entry, else the whole buffer, filtered here:
// the first way that works is remembered for the model.
func (s *session) readRange(ctx context.Context, pr *Profile, from, to time.Time) ([]axdr.Data, []cosem.CaptureObject, error) {
	if f, ok := s.fetched[pr.LN]; ok {
		delete(s.fetched, pr.LN)
		if f.err == nil || fatal(f.err) {
			return f.rows, f.cols, f.err
		}
		// A profile the list could not read is read alone below.
	}
	var firstErr error
	if s.m.Quirks.Range == rangeOK {
		rows, err := s.byRange(ctx, pr, from, to)
		if err == nil || fatal(err) {
			return rows, pr.Columns, err
		}
		firstErr = err
	}
	if s.m.Quirks.Range != rangeBuffer {
		rows, err := s.byEntry(ctx, pr, from, to)
		if err == nil {
			if s.m.Quirks.Range != rangeEntry {
				s.learn(ctx, func(q *Quirks) { q.Range = rangeEntry })
			}
			return s.within(pr, rows, from, to), pr.Columns, nil
		}
		if fatal(err) {
			return nil, nil, err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	d, err := s.c.Get(ctx, dlms.Attr{Class: cosem.ClassProfileGeneric, OBIS: pr.LN, Attribute: 2}, nil)
	if err != nil {
		if firstErr != nil && !fatal(err) {
			return nil, nil, fmt.Errorf("%w (and read whole: %w)", firstErr, err)
		}
		return nil, nil, err
	}
	if d.Tag != axdr.TagArray && d.Tag != axdr.TagCompactArray {
		return nil, nil, fmt.Errorf("profile %s buffer is %s, not an array: %w", pr.LN, d.Tag, dlms.ErrProtocol)
	}
	if s.m.Quirks.Range != rangeBuffer {
		s.learn(ctx, func(q *Quirks) { q.Range = rangeBuffer })
	}
	return s.within(pr, d.Items, from, to), pr.Columns, nil
}

// byRange reads by range selective access, restricted on the profile's
// clock column, in chunks of ProfileChunk. A chunk whose answer does not
// fit the meter's PDU (a small PDU without block transfer) is asked for
// in halves, down to one capture period.
func (s *session) byRange(ctx context.Context, pr *Profile, from, to time.Time) ([]axdr.Data, error) {
	if len(pr.Columns) == 0 {
		return nil, fmt.Errorf("profile %s has no capture objects", pr.LN)
	}
	ci := clockColumn(pr.Columns)
	if ci < 0 {
		ci = 0 // a profile without a clock object stamps entries in its first column
	}
	var rows []axdr.Data
	for a := from; !a.After(to); {
		b := a.Add(s.d.cfg.ProfileChunk)
		if to.Sub(b) < s.d.cfg.ProfileChunk/2 {
			b = to // no request for a short tail
		}
		rs, err := s.span(ctx, pr, pr.Columns[ci], a, b)
		if err != nil {
			return nil, err
		}
		rows = append(rows, rs...)
		if !b.Before(to) {
			break
		}
		a = b.Add(time.Second)
	}
	return rows, nil
}

func (s *session) span(ctx context.Context, pr *Profile, clock cosem.CaptureObject, a, b time.Time) ([]axdr.Data, error) {
	bound := func(t time.Time) axdr.Data {
		dt := axdr.FromTime(t.In(s.loc), 0)
		dt.DayOfWeek = axdr.Unspecified
		return axdr.DateTimeOctets(dt)
	}
	rd := cosem.RangeDescriptor{RestrictingObject: clock, From: bound(a), To: bound(b)}
	d, err := s.c.Get(ctx, dlms.Attr{Class: cosem.ClassProfileGeneric, OBIS: pr.LN, Attribute: 2},
		&apdu.SelectiveAccess{Selector: cosem.SelectorRange, Parameters: rd.Data()})
	if errors.Is(err, dlms.ErrTooLong) && b.Sub(a) > time.Duration(max(pr.Period, 1))*time.Second {
		mid := a.Add(b.Sub(a) / 2).Truncate(time.Second)
		first, err := s.span(ctx, pr, clock, a, mid)
		if err != nil {
			return nil, err
		}
		second, err := s.span(ctx, pr, clock, mid.Add(time.Second), b)
		return append(first, second...), err
	}
	if err != nil {
		return nil, err
	}
	if d.Tag != axdr.TagArray && d.Tag != axdr.TagCompactArray {
		return nil, fmt.Errorf("profile %s buffer is %s, not an array: %w", pr.LN, d.Tag, dlms.ErrProtocol)
	}
	return d.Items, nil
}

// byEntry reads the newest entries that can cover [from, to]: as many as
// the span holds capture periods, from entries_in_use back.
func (s *session) byEntry(ctx context.Context, pr *Profile, from, to time.Time) ([]axdr.Data, error) {
	d, err := s.c.Get(ctx, dlms.Attr{Class: cosem.ClassProfileGeneric, OBIS: pr.LN, Attribute: 7}, nil)
	if err != nil {
		return nil, err
	}
	inUse, ok := d.Uint()
	if !ok {
		return nil, fmt.Errorf("profile %s entries in use is %s: %w", pr.LN, d, dlms.ErrProtocol)
	}
	if inUse == 0 {
		return nil, nil
	}
	first := uint64(1)
	if pr.Period > 0 {
		n := uint64(to.Sub(from)/(time.Duration(pr.Period)*time.Second)) + 2
		if n < inUse {
			first = inUse - n + 1
		}
	}
	rows, _, err := s.c.ReadProfileEntries(ctx, pr.LN, uint32(first), 0)
	return rows, err
}

// within keeps the rows stamped in [from, to].
func (s *session) within(pr *Profile, rows []axdr.Data, from, to time.Time) []axdr.Data {
	ci := clockColumn(pr.Columns)
	if ci < 0 {
		ci = 0
	}
	out := rows[:0:0]
	for _, r := range rows {
		if ci >= len(r.Items) {
			continue
		}
		if t, _, ok := s.timeOf(r.Items[ci]); ok && !t.Before(from) && !t.After(to) {
			out = append(out, r)
		}
	}
	return out
}

// clockColumn finds the column entries are stamped by: any clock object's
// time; -1 when none is a clock.
func clockColumn(cols []cosem.CaptureObject) int {
	for i, c := range cols {
		if c.ClassID == cosem.ClassClock && c.Attribute == 2 {
			return i
		}
	}
	return -1
}

// statusColumn finds the profile status (0-x:96.10.x).
func statusColumn(cols []cosem.CaptureObject) int {
	for i, c := range cols {
		if c.LogicalName[0] == 0 && c.LogicalName[2] == 96 && c.LogicalName[3] == 10 && c.Attribute == 2 {
			return i
		}
	}
	return -1
}

// channel is one captured column turned into a series.
type channel struct {
	col    int // -1 for a total made of its rates
	q      quantity
	scaler int8
	su     *axdr.ScalerUnit // nil when the model has none
	obj    string
	known  bool
}

// channels maps a profile's columns: every value column becomes a
// channel, by the OBIS table where it knows the code, raw ("obis:...")
// where it does not. The clock, the status and capture times are not
// values.
func (s *session) channels(cols []cosem.CaptureObject, ci, si int) []channel {
	var out []channel
	for i, c := range cols {
		if i == ci || i == si || c.Attribute != 2 || c.DataIndex != 0 {
			continue
		}
		ch := channel{col: i, scaler: s.m.Scalers[c.LogicalName].Scaler, obj: fmt.Sprintf("%s:%d", c.LogicalName, c.Attribute)}
		if sc, ok := s.m.Scalers[c.LogicalName]; ok {
			ch.su = &axdr.ScalerUnit{Scaler: sc.Scaler, Unit: sc.Unit}
		}
		ch.q, ch.known = quantityOf(c.LogicalName)
		if v := s.volume; v != nil && c.LogicalName == mbusLN(v.ch, 24, 2, 1) {
			ch.q, ch.known = v.q, true
			ch.scaler, ch.su = v.scale.Scaler, &axdr.ScalerUnit{Scaler: v.scale.Scaler, Unit: v.scale.Unit}
		}
		if !ch.known {
			ch.q = quantity{id: rawID(c.LogicalName, c.Attribute)}
			if u, ok := unitOf(s.m.Scalers[c.LogicalName].Unit); ok {
				ch.q.unit = u
			}
		}
		out = append(out, ch)
	}
	return out
}

type entry struct {
	at     time.Time
	status uint64
	vals   []int64
	ok     []bool
}

// profile reads a load profile from its cursor and turns each captured
// column into a channel: a cumulative register into interval values (its
// differences), any other quantity into its value at each capture. The
// entry at the cursor is read again as the base of the first interval; a
// first read starts at the backfill point, whose entry is the base. It
// reports whether the profile reached the plan's end.
func (s *session) profile(ctx context.Context, pr *Profile, p headend.Plan, to time.Time, col *headend.Collection) (bool, error) {
	name := cursorOf(pr)
	from, _ := since(p, name)
	rows, cols, err := s.readRange(ctx, pr, from, to)
	if err != nil {
		if fatal(err) {
			return false, err
		}
		if unfitted(pr.LN, err) {
			return true, nil
		}
		s.problem(col, pr.LN.String()+":2", err)
		return false, nil
	}
	if changed(rows, cols, pr) && !s.relearned {
		// The meter's configuration changed under its template: learn it
		// now, once a session, so these entries are scaled by the
		// meter's present scalers and none waits for another day.
		s.relearned = true
		if err := s.resolve(ctx, true); err != nil {
			return false, err
		}
		np := s.profileOf(pr.LN)
		if np == nil {
			s.problem(col, pr.LN.String()+":3", errors.New("the profile left the meter's object list"))
			return false, nil
		}
		if pr = np; !widthsFit(rows, cols) || !slices.Equal(cols, pr.Columns) {
			if rows, cols, err = s.readRange(ctx, pr, from, to); err != nil {
				if fatal(err) {
					return false, err
				}
				s.problem(col, pr.LN.String()+":2", err)
				return false, nil
			}
		}
	}
	if !slices.Equal(cols, pr.Columns) {
		s.stale = true // read with the meter's columns now, learn them for next time
	}
	ci, si := clockColumn(cols), statusColumn(cols)
	if ci < 0 {
		ci = s.stampColumn(rows, cols)
	}
	if ci < 0 {
		s.problem(col, pr.LN.String()+":3", fmt.Errorf("no column holds the capture time (capture objects %v)", cols))
		return false, nil
	}
	chs := s.channels(cols, ci, si)
	var es []entry
	bad := map[int]bool{}
	for _, r := range rows {
		if len(r.Items) != len(cols) {
			s.stale = true
			s.problem(col, pr.LN.String()+":2", fmt.Errorf("entry with %d values for %d columns: %w", len(r.Items), len(cols), dlms.ErrProtocol))
			return false, nil
		}
		at, _, ok := s.timeOf(r.Items[ci])
		if !ok {
			continue // an entry without a valid stamp cannot be placed
		}
		e := entry{at: at, vals: make([]int64, len(chs)), ok: make([]bool, len(chs))}
		if si >= 0 {
			e.status, _ = r.Items[si].Uint()
		}
		for k, ch := range chs {
			raw, ok := r.Items[ch.col].Int()
			if !ok {
				bad[k] = true
				continue
			}
			v, _, err := scale(raw, ch.scaler)
			if err != nil {
				bad[k] = true
				continue
			}
			e.vals[k], e.ok[k] = v, true
		}
		es = append(es, e)
	}
	for k := range bad {
		s.problem(col, chs[k].obj, fmt.Errorf("profile %s: %w in some entries", pr.LN, errNotInteger))
	}
	slices.SortStableFunc(es, func(a, b entry) int { return a.at.Compare(b.at) })
	es = slices.CompactFunc(es, func(a, b entry) bool { return a.at.Equal(b.at) })
	chs = totals(chs, es)
	period := time.Duration(pr.Period) * time.Second
	if period <= 0 {
		period = spacing(es)
	}
	for k, ch := range chs {
		rt := readingTypeOf(ch.q, period, multiplierOf(ch.scaler), ch.su)
		b := cim.IntervalBlock{MeterID: s.t.Meter.MRID, ReadingType: rt}
		// A level (voltage, power) stands alone: every entry after the
		// cursor is one (the entry at the cursor was stored last time). A
		// cumulative register needs the entry before to make a delta.
		for i := 0; i < len(es); i++ {
			e := es[i]
			if !e.ok[k] || (ch.q.cumulative && i == 0) || (!ch.q.cumulative && !e.at.After(from)) {
				continue
			}
			q := quality(e.status)
			if !ch.q.cumulative {
				b.Readings = append(b.Readings, cim.IntervalReading{End: e.at.UTC(), Value: e.vals[k], Quality: q})
				continue
			}
			a := es[i-1]
			if !a.ok[k] {
				continue
			}
			// Spanning a gap (the meter missed entries) is flagged; a
			// capture a moment late (cim.CaptureGrace) is no gap. A span
			// shorter than the period is a piece of an interval cut by a
			// clock adjustment: the MDM adds the pieces up into a whole
			// interval, flagged clock-adjusted.
			if e.at.Sub(a.at) > period+cim.CaptureGrace(period) {
				q |= cim.QualityPartial
			}
			v, ov := delta(a.vals[k], e.vals[k], ch.scaler)
			b.Readings = append(b.Readings, cim.IntervalReading{End: e.at.UTC(), Value: v, Quality: q | ov})
		}
		if len(b.Readings) > 0 {
			col.Blocks = append(col.Blocks, b)
		}
	}
	if len(es) == 0 {
		return false, nil
	}
	last := es[len(es)-1].at
	moveCursor(col, name, last)
	return !last.Before(p.Until.Add(-period)), nil
}

// totals adds, to a profile that captures the rate registers of an
// energy but not their total (DSMR 5), the total as their sum: one rate
// runs at a time, so the total's interval is the sum of the rates'. It
// extends each entry with the sums.
func totals(chs []channel, es []entry) []channel {
	for _, c := range []byte{1, 2} {
		total, _ := quantityOf(obis.Code{1, 0, c, 8, 0, 255})
		var rates []int
		has := false
		for k, ch := range chs {
			switch {
			case !ch.known:
			case ch.q.id == total.id:
				has = true
			case strings.HasPrefix(ch.q.id, total.id+"T") && ch.scaler == chs[rates0(rates, k)].scaler:
				rates = append(rates, k)
			}
		}
		if has || len(rates) < 2 {
			continue
		}
		first := chs[rates[0]]
		chs = append(chs, channel{col: -1, q: total, scaler: first.scaler, su: first.su, obj: "sum of " + total.id + " rates", known: true})
		for i := range es {
			var sum int64
			ok := true
			for _, k := range rates {
				if !es[i].ok[k] || (es[i].vals[k] > 0 && sum > math.MaxInt64-es[i].vals[k]) {
					ok = false
					break
				}
				sum += es[i].vals[k]
			}
			es[i].vals, es[i].ok = append(es[i].vals, sum), append(es[i].ok, ok)
		}
	}
	return chs
}

// rates0 is the first rate found so far, or k itself.
func rates0(rates []int, k int) int {
	if len(rates) > 0 {
		return rates[0]
	}
	return k
}

// changed reports a profile read that does not fit its template: other
// capture objects, or entries of another width.
func changed(rows []axdr.Data, cols []cosem.CaptureObject, pr *Profile) bool {
	return !slices.Equal(cols, pr.Columns) || !widthsFit(rows, cols)
}

func widthsFit(rows []axdr.Data, cols []cosem.CaptureObject) bool {
	for _, r := range rows {
		if len(r.Items) != len(cols) {
			return false
		}
	}
	return true
}

// profileOf returns the model's profile ln, nil when it has none.
func (s *session) profileOf(ln obis.Code) *Profile {
	for i := range s.m.Profiles {
		if s.m.Profiles[i].LN == ln {
			return &s.m.Profiles[i]
		}
	}
	return nil
}

// stampColumn finds, in a profile without a clock object, the column whose
// values are date-times.
func (s *session) stampColumn(rows []axdr.Data, cols []cosem.CaptureObject) int {
	if len(rows) == 0 {
		return -1
	}
	for i := range cols {
		if i < len(rows[0].Items) {
			if _, _, ok := s.timeOf(rows[0].Items[i]); ok {
				return i
			}
		}
	}
	return -1
}

// spacing is the period of a profile whose capture period is not known:
// the most common spacing of its entries, else 15 minutes.
func spacing(es []entry) time.Duration {
	// The most frequent spacing, not the first: an entry off the grid
	// (a clock adjustment) or a gap must not set the period.
	count := map[time.Duration]int{}
	best, n := 15*time.Minute, 0
	for i := 1; i < len(es); i++ {
		d := es[i].at.Sub(es[i-1].at)
		if d <= 0 {
			continue
		}
		count[d]++
		if c := count[d]; c > n || (c == n && d > best) {
			best, n = d, c
		}
	}
	return best
}

// delta is b−a for a register that rolls over at 2^32 (the usual
// double-long-unsigned) in the meter's own units; a rollover is flagged.
func delta(a, b int64, scaler int8) (int64, cim.Quality) {
	if b >= a {
		return b - a, 0
	}
	var step int64 = 1
	for range max(scaler, 0) {
		step *= 10
	}
	if a >= 0 && b >= 0 && a/step <= math.MaxUint32 && b/step <= math.MaxUint32 {
		return b + (1<<32)*step - a, cim.QualityOverflow
	}
	return b - a, cim.QualitySuspect
}

// quality maps the profile status byte (IDIS/DSMR bits) to reading quality.
func quality(st uint64) cim.Quality {
	var q cim.Quality
	if st&0x80 != 0 {
		q |= cim.QualityPowerDown
	}
	if st&0x20 != 0 {
		q |= cim.QualityClockAdjusted
	}
	if st&0x04 != 0 || st&0x02 != 0 || st&0x01 != 0 {
		q |= cim.QualityDataNotValid
	}
	return q
}

// stampedRows reads a profile's entries in [from, to] with the column that
// stamps them (ci, -1 when none does). A refusal is the profile's problem,
// recorded in col, and no error: the session goes on; only an error that
// ends the session is returned.
func (s *session) stampedRows(ctx context.Context, pr *Profile, from, to time.Time, col *headend.Collection) ([]axdr.Data, []cosem.CaptureObject, int, error) {
	rows, cols, err := s.readRange(ctx, pr, from, to)
	if err != nil {
		if fatal(err) {
			return nil, nil, -1, err
		}
		if !unfitted(pr.LN, err) {
			s.problem(col, pr.LN.String()+":2", err)
		}
		return nil, nil, -1, nil
	}
	ci := clockColumn(cols)
	if ci < 0 {
		ci = s.stampColumn(rows, cols)
	}
	return rows, cols, ci, nil
}

// billing reads a billing profile's new entries as register reads, each
// captured value as "<id>" and billingSuffix.
func (s *session) billing(ctx context.Context, pr *Profile, p headend.Plan, to time.Time, col *headend.Collection) error {
	name := cursorOf(pr)
	from, had := since(p, name)
	rows, cols, ci, err := s.stampedRows(ctx, pr, from, to, col)
	if err != nil || ci < 0 {
		return err
	}
	suffix := billingSuffix(pr)
	chs := s.channels(cols, ci, statusColumn(cols))
	last := time.Time{}
	for _, r := range rows {
		if len(r.Items) != len(cols) {
			continue
		}
		at, _, ok := s.timeOf(r.Items[ci])
		if !ok || (had && !at.After(from)) {
			continue
		}
		for _, ch := range chs {
			raw, ok := r.Items[ch.col].Int()
			if !ok {
				continue
			}
			v, mult, err := scale(raw, ch.scaler)
			if err != nil {
				continue
			}
			col.Registers = append(col.Registers, cim.Reading{MeterID: s.t.Meter.MRID,
				ReadingType: channelID(ch.q.id, 0, mult) + suffix, TimeStamp: at.UTC(), Value: v})
		}
		if at.After(last) {
			last = at
		}
	}
	if !last.IsZero() {
		moveCursor(col, name, last)
	}
	return nil
}

// events reads one event log's entries from its cursor. Entries at the
// cursor's second are read again: their mRIDs make that harmless, and two
// events in one second are not lost.
func (s *session) events(ctx context.Context, pr *Profile, p headend.Plan, to time.Time, col *headend.Collection) error {
	name := cursorOf(pr)
	from, _ := since(p, name)
	rows, cols, ci, err := s.stampedRows(ctx, pr, from, to, col)
	if err != nil || ci < 0 || len(cols) < 2 {
		return err
	}
	// The event code (0-x:96.11.x) or, in a power failure log, the
	// duration; else the first other column.
	vi := -1
	for i, c := range cols {
		if i != ci && c.LogicalName[2] == 96 && (c.LogicalName[3] == 11 || c.LogicalName[3] == 7) {
			vi = i
			break
		}
	}
	if vi < 0 {
		vi = 1
		if ci == 1 {
			vi = 0
		}
	}
	last := time.Time{}
	for _, r := range rows {
		if len(r.Items) != len(cols) {
			continue
		}
		at, _, ok := s.timeOf(r.Items[ci])
		if !ok {
			continue
		}
		v, _ := r.Items[vi].Uint()
		ev := event(s.t.Meter.MRID, pr.LN, at, v)
		pqDetails(&ev, r.Items, cols, vi)
		col.Events = append(col.Events, ev)
		if at.After(last) {
			last = at
		}
	}
	if !last.IsZero() {
		moveCursor(col, name, last)
	}
	return nil
}

// EventCounterResync is raised when the meter refused our invocation
// counter and the head-end caught up with it (61968-9 domain 12,
// security).
const EventCounterResync cim.EndDeviceEventType = "3.12.1.250"

func resyncEvent(meterID string, at time.Time, r dlms.Resync) cim.EndDeviceEvent {
	how := "the counter the meter expects, from its refusal"
	if r.FromObject {
		how = "the meter's invocation counter object 0.0.43.1.0.255, plus one"
	}
	return cim.EndDeviceEvent{MRID: fmt.Sprintf("he/%s/ic-resync/%d", meterID, r.To), MeterID: meterID, Type: EventCounterResync,
		CreatedAt: at.UTC(), Reason: "invocation counter resynchronised", Severity: "warning",
		Details: map[string]string{"source": "head-end", "old": strconv.FormatUint(uint64(r.From), 10),
			"new": strconv.FormatUint(uint64(r.To), 10), "from": how}}
}

// moveCursor records where the object name now stands; a cursor never
// moves backwards, within a collection as in the store.
func moveCursor(col *headend.Collection, name string, at time.Time) {
	if col.Cursors == nil {
		col.Cursors = map[string]time.Time{}
	}
	if prev, ok := col.Cursors[name]; !ok || at.After(prev) {
		col.Cursors[name] = at.UTC()
	}
}
