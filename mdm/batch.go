package mdm

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/store"
)

// dayKey names one stored day.
type dayKey struct {
	meter, channel string
	date           cim.Date
}

// pendingDay is one day being merged within a batch.
type pendingDay struct {
	day interval.Day
	// base is the stored version merged over, 0 for a new day.
	base    int
	changed bool
	// applied is every reading merged in, in order, to merge them again
	// over another writer's version.
	applied []slotReading
	notes   notes
}

// batch is a batch's work before it is written.
type batch struct {
	days     map[dayKey]*pendingDay
	order    []dayKey
	readings int
	regs     []cim.Reading
	events   []cim.EndDeviceEvent
	dead     []deadLetter
}

// plan is one message of a batch on its way to being stored.
type plan struct {
	m   *bus.Delivery
	msg message
	// days are a block's readings placed in their local days.
	days []dayReadings
	// err is why the message is bad, once it is known to be.
	err error
}

// stored is a day as the store had it when the batch began.
type stored struct {
	day   interval.Day
	found bool
}

// handle stores what a batch of messages carries: interval blocks merged
// into their days and written with one PutDays, register reads and events,
// then the dead letters. It returns an error only when the store or the
// bus failed; nothing of the batch counts as stored then.
//
// Decoding runs on every core, and the stored days the batch touches are
// read concurrently before the merge, which then runs in message order.
func (in *Ingest) handle(ctx context.Context, msgs []*bus.Delivery) error {
	plans := make([]plan, len(msgs))
	parallel(len(msgs), func(i int) {
		plans[i].m = msgs[i]
		plans[i].msg, plans[i].err = decode(msgs[i].Subject(), msgs[i].Data())
	})
	in.warmZones(ctx, plans)
	now := in.o.Now()
	var keys []dayKey
	seen := map[dayKey]bool{}
	for i := range plans {
		p := &plans[i]
		if p.err != nil {
			continue
		}
		if p.err = in.check(ctx, p, now); p.err != nil {
			if !isBad(p.err) {
				return p.err
			}
			continue
		}
		if blk := p.msg.block; blk != nil {
			for _, dr := range p.days {
				k := dayKey{blk.MeterID, blk.ReadingType.ID, dr.date}
				if !seen[k] {
					seen[k] = true
					keys = append(keys, k)
				}
			}
		}
	}
	days, err := in.readDays(ctx, keys)
	if err != nil {
		return err
	}
	b := &batch{days: map[dayKey]*pendingDay{}}
	for i := range plans {
		p := &plans[i]
		if p.err == nil {
			p.err = in.apply(b, p, days)
		}
		if p.err != nil {
			b.dead = append(b.dead, deadLetter{m: p.m, reason: p.err.Error()})
		}
	}
	return in.commit(ctx, b)
}

// warmZones looks up, a few at a time, the zones of the batch's meters
// the cache does not hold, so that the check that follows, which runs in
// message order, finds them there: a cold cache otherwise costs two
// sequential registry reads per meter. Errors are left for that check.
func (in *Ingest) warmZones(ctx context.Context, plans []plan) {
	var cold []string
	seen := map[string]bool{}
	in.mu.Lock()
	for i := range plans {
		if plans[i].err != nil {
			continue
		}
		id := plans[i].msg.meter()
		if e, ok := in.zones[id]; !seen[id] && (!ok || time.Since(e.at) >= zoneTTL) {
			cold = append(cold, id)
		}
		seen[id] = true
	}
	in.mu.Unlock()
	if len(cold) < 2 {
		return
	}
	parallelN(len(cold), 8, func(i int) { in.zone(ctx, cold[i]) })
}

func isBad(err error) bool {
	var bm *badMessage
	return errors.As(err, &bm)
}

// check judges a decoded message against the registry and the clock, and
// places a block's readings in their days. It returns a bad message, or an
// error when the store could not answer.
func (in *Ingest) check(ctx context.Context, p *plan, now time.Time) error {
	switch m := p.msg; {
	case m.block != nil:
		loc, err := in.zone(ctx, m.block.MeterID)
		if err != nil {
			return err
		}
		p.days, err = place(m.block, loc, now)
		return err
	case m.event != nil:
		_, err := in.zone(ctx, m.event.MeterID)
		return err
	default:
		for _, r := range m.registers {
			if _, err := in.zone(ctx, r.MeterID); err != nil {
				return err
			}
		}
		return checkRegisters(m.registers, now)
	}
}

// checkRegisters refuses register reads stamped before 1970 or more than
// maxAhead after now.
func checkRegisters(rs []cim.Reading, now time.Time) error {
	limit := now.Add(maxAhead)
	for _, r := range rs {
		if r.TimeStamp.After(limit) || r.TimeStamp.Before(epoch) {
			return bad("meter %s: register %s read at %s: more than %s after now or before 1970", r.MeterID, r.ReadingType,
				r.TimeStamp.UTC().Format(time.RFC3339), maxAhead)
		}
	}
	return nil
}

// readDays reads the latest stored version of each day, for the whole
// batch in a few statements: a statement per day (a round trip against
// PostgreSQL) cost more than its row.
func (in *Ingest) readDays(ctx context.Context, keys []dayKey) (map[dayKey]stored, error) {
	ranges := make([]store.DayRange, len(keys))
	for i, k := range keys {
		ranges[i] = store.DayRange{MeterID: k.meter, Channel: k.channel, From: k.date, To: k.date}
	}
	got, err := in.o.Store.DaysOfMeters(ctx, ranges)
	if err != nil {
		return nil, fmt.Errorf("mdm: reading the %d days a batch merges into: %w", len(keys), err)
	}
	m := make(map[dayKey]stored, len(keys))
	for i, k := range keys {
		var s stored
		if len(got[i]) > 0 {
			s = stored{got[i][len(got[i])-1], true}
		}
		m[k] = s
	}
	return m, nil
}

// apply merges a checked message into b, all or nothing: a message found
// bad here leaves no reading behind in b.
func (in *Ingest) apply(b *batch, p *plan, days map[dayKey]stored) error {
	switch m := p.msg; {
	case m.event != nil:
		b.events = append(b.events, *m.event)
		return nil
	case m.block == nil:
		b.regs = append(b.regs, m.registers...)
		return nil
	}
	blk := p.msg.block
	iv := blk.ReadingType.Interval
	// Every day the block touches is opened and checked before any is
	// merged into.
	pds := make([]*pendingDay, len(p.days))
	for i, dr := range p.days {
		k := dayKey{blk.MeterID, blk.ReadingType.ID, dr.date}
		pd := b.days[k]
		if pd == nil {
			s := days[k]
			if !s.found {
				pd = &pendingDay{day: newDay(k.meter, k.channel, dr, iv), changed: true}
			} else if why := fits(s.day, dr, iv); why != "" {
				return bad("meter %s channel %s %s: %s", k.meter, k.channel, k.date, why)
			} else {
				pd = &pendingDay{day: rebase(s.day), base: s.day.Version}
			}
			b.days[k] = pd
			b.order = append(b.order, k)
		} else if why := fits(pd.day, dr, iv); why != "" {
			return bad("meter %s channel %s %s: %s", k.meter, k.channel, k.date, why)
		}
		pds[i] = pd
	}
	for i, dr := range p.days {
		pd := pds[i]
		if merge(&pd.day, dr.rs, &pd.notes) {
			pd.changed = true
		}
		pd.applied = append(pd.applied, dr.rs...)
		b.readings += len(dr.rs)
	}
	return nil
}

// parallel runs f(0) … f(n-1) on every core.
func parallel(n int, f func(int)) { parallelN(n, runtime.GOMAXPROCS(0), f) }

// parallelN runs f(0) … f(n-1) on up to workers goroutines.
func parallelN(n, workers int, f func(int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// rebase makes a stored version the start of a new one from the meter.
func rebase(d interval.Day) interval.Day {
	d.Source, d.Reason, d.User = interval.SourceMeter, "", ""
	d.Version, d.CreatedAt = 0, time.Time{}
	return d
}

// commit writes a batch: the changed days in one PutDays, the register
// reads, the events, then the dead letters. Every write is idempotent, so
// a batch that fails half-way is simply done again.
func (in *Ingest) commit(ctx context.Context, b *batch) error {
	var days []interval.Day
	var pds []*pendingDay
	for _, k := range b.order {
		pd := b.days[k]
		if !pd.changed {
			continue
		}
		d, err := in.finish(pd.day, pd.notes)
		if err != nil {
			return err
		}
		days, pds = append(days, d), append(pds, pd)
	}
	if len(days) > 0 {
		bases := make([]int, len(pds))
		for i, pd := range pds {
			bases[i] = pd.base
		}
		ws, err := in.o.Store.PutDaysIfLatest(ctx, days, bases)
		if err != nil {
			return fmt.Errorf("mdm: storing %d days (first meter %s): %w", len(days), days[0].MeterID, err)
		}
		vs := make([]int, len(ws))
		remerged := make([]bool, len(ws))
		for i, pd := range pds {
			vs[i] = ws[i].Version
			if ws[i].Stale {
				if vs[i], err = in.remerge(ctx, pd, ws[i].Version); err != nil {
					return err
				}
				remerged[i] = true
			}
			if n := pd.notes; n.conflicts > 0 || n.keptEdits > 0 {
				in.log.Warn("intervals read again with different values", "meter", days[i].MeterID, "channel", days[i].Channel,
					"day", days[i].Date.String(), "version", vs[i], "reason", n.reason())
			}
		}
		in.st.days.Add(uint64(len(days)))
		if in.o.Validate != nil {
			for i := range days {
				days[i].Version = vs[i]
				if remerged[i] {
					days[i].Version = 0 // merged again: validate what was stored
				}
			}
			if err := in.validate(ctx, days); err != nil {
				return err
			}
		}
	}
	in.st.readings.Add(uint64(b.readings))
	if len(b.regs) > 0 {
		if _, err := in.o.Store.PutRegisterReads(ctx, b.regs); err != nil {
			return fmt.Errorf("mdm: storing %d register reads (first meter %s): %w", len(b.regs), b.regs[0].MeterID, err)
		}
		in.st.registers.Add(uint64(len(b.regs)))
	}
	if len(b.events) > 0 {
		if _, err := in.o.Store.AppendEvents(ctx, b.events); err != nil {
			return fmt.Errorf("mdm: storing %d events (first meter %s): %w", len(b.events), b.events[0].MeterID, err)
		}
		in.st.events.Add(uint64(len(b.events)))
	}
	for _, d := range b.dead {
		if err := in.deadLetter(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// validate runs each written day's rule set and records the failures in
// one write. The days are validated as written, without reading them
// back; one merged again over another writer's version (Version 0) is
// read back. What the rules look at beyond the days is read for the whole
// batch at once.
func (in *Ingest) validate(ctx context.Context, days []interval.Day) error {
	o := in.o.Validate
	hist := o.HistoryDays
	if hist <= 0 {
		hist = 28
	}
	// A meter whose clock runs behind has not captured the interval that
	// just ended by our clock: such an interval is not due yet.
	now := in.o.Now().Add(-captureGrace)
	errs := make([]error, len(days))
	failed := func(i int, err error) error {
		return fmt.Errorf("mdm: validating meter %s channel %s %s: %w", days[i].MeterID, days[i].Channel, days[i].Date, err)
	}
	parallelN(len(days), 8, func(i int) {
		if days[i].Version != 0 {
			return
		}
		d, err := in.o.Store.Day(ctx, days[i].MeterID, days[i].Channel, days[i].Date)
		if err != nil {
			errs[i] = failed(i, err)
			return
		}
		days[i] = d
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	cs, err := veeContexts(ctx, in.o.Store, days, hist)
	if err != nil {
		return fmt.Errorf("mdm: validating %d days (first meter %s): %w", len(days), days[0].MeterID, err)
	}
	found := make([][]store.Exception, len(days))
	checked := make([]store.DayVersion, len(days))
	parallel(len(days), func(i int) {
		d := days[i]
		rules, err := in.rules(ctx, d.MeterID)
		if err != nil {
			errs[i] = failed(i, err)
			return
		}
		loc, err := in.zone(ctx, d.MeterID)
		if err != nil {
			errs[i] = failed(i, err)
			return
		}
		c := cs[i]
		c.Until, c.Location = now, loc
		checked[i] = store.DayVersion{MeterID: d.MeterID, Channel: d.Channel, Date: d.Date, Version: d.Version}
		for _, f := range vee.Validate(d, rules, c) {
			found[i] = append(found[i], exceptionOf(d, f))
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var es []store.Exception
	for _, f := range found {
		es = append(es, f...)
	}
	if len(es) > 0 {
		n, err := in.o.Store.PutExceptions(ctx, es)
		if err != nil {
			return fmt.Errorf("mdm: recording %d validation failures (first meter %s): %w", len(es), es[0].MeterID, err)
		}
		in.st.exceptions.Add(uint64(n))
	}
	return settle(ctx, in.o.Store, checked, in.o.Now())
}

// settle closes the open exceptions of earlier versions of the validated
// days that the new versions pass.
func settle(ctx context.Context, st Store, days []store.DayVersion, at time.Time) error {
	var vs []store.DayVersion
	for _, d := range days {
		if d.Version > 1 {
			vs = append(vs, d)
		}
	}
	if len(vs) == 0 {
		return nil
	}
	if _, err := st.SettleExceptions(ctx, vs, at); err != nil {
		return fmt.Errorf("mdm: settling the exceptions of %d days (first meter %s): %w", len(vs), vs[0].MeterID, err)
	}
	return nil
}

// captureGrace is how long after an interval ends by our clock its
// absence counts as a gap: the clock tolerance the head-end keeps meters
// within, and then some.
const captureGrace = 15 * time.Minute

// finish runs the stages over a merged day.
func (in *Ingest) finish(d interval.Day, n notes) (interval.Day, error) {
	d.Reason = n.reason()
	if len(in.o.Stages) == 0 {
		return d, nil
	}
	// Stages get their own slices: the merged day stays as merged.
	d.Values, d.Quality = slices.Clone(d.Values), slices.Clone(d.Quality)
	want := d
	for _, st := range in.o.Stages {
		d = st(d)
	}
	if d.MeterID != want.MeterID || d.Channel != want.Channel || d.Date != want.Date || !d.Start.Equal(want.Start) ||
		d.Interval != want.Interval || len(d.Values) != len(want.Values) || len(d.Quality) != len(want.Quality) {
		return d, fmt.Errorf("mdm: a stage changed the shape of meter %s channel %s %s", want.MeterID, want.Channel, want.Date)
	}
	return d, nil
}

// remerge merges a batch's readings of one day again, over the version
// another writer stored since the batch read the day, and writes the
// result over that version; it returns the version stored. Writers that
// keep overtaking each other get a few rounds, then the batch is left for
// redelivery: no reading is written over one it has not seen.
func (in *Ingest) remerge(ctx context.Context, pd *pendingDay, latest int) (int, error) {
	d := pd.day
	other, err := in.o.Store.Day(ctx, d.MeterID, d.Channel, d.Date)
	if err != nil {
		return 0, fmt.Errorf("mdm: meter %s channel %s %s: reading version %d: %w", d.MeterID, d.Channel, d.Date, latest, err)
	}
	// The one compare-and-swap every writer over a stored version uses:
	// merge the batch's readings again over whatever version is latest.
	edits := Edits{Store: in.o.Store, Attempts: 8}
	nd, err := edits.ApplyOver(ctx, other, func(other interval.Day) (interval.Day, error) {
		in.st.conflicts.Add(1)
		if other.Interval != d.Interval || !other.Start.Equal(d.Start) || len(other.Values) != len(d.Values) {
			return other, fmt.Errorf("mdm: meter %s channel %s %s: version %d has another shape", d.MeterID, d.Channel, d.Date, other.Version)
		}
		next := rebase(other)
		var n notes
		merge(&next, pd.applied, &n)
		return in.finish(next, n)
	})
	if err != nil {
		return 0, err
	}
	in.log.Warn("another writer changed a day during ingest; merged again over its version", "meter", d.MeterID,
		"channel", d.Channel, "day", d.Date.String(), "now", nd.Version)
	return nd.Version, nil
}

// zone returns the time zone of a meter's usage point, from a cache. A
// meter the registry does not know makes its message bad; it is not
// cached, since it may be registered a moment later. A meter without a
// usage point, or whose usage point is not registered, keeps its days in
// UTC, as the head-end schedules it.
func (in *Ingest) zone(ctx context.Context, meterID string) (*time.Location, error) {
	in.mu.Lock()
	e, ok := in.zones[meterID]
	in.mu.Unlock()
	if ok && time.Since(e.at) < zoneTTL {
		return e.loc, nil
	}
	m, err := in.o.Store.Meter(ctx, meterID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, bad("meter %s is not in the registry", meterID)
	}
	if err != nil {
		return nil, fmt.Errorf("mdm: looking up meter %s: %w", meterID, err)
	}
	e = zoneEntry{at: time.Now()}
	if in.o.Validate != nil {
		e.group, e.rules = in.o.Validate.Rules.For(m)
	}
	loc := time.UTC
	if m.UsagePointID != "" {
		up, err := in.o.Store.UsagePoint(ctx, m.UsagePointID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("mdm: meter %s: looking up usage point %s: %w", meterID, m.UsagePointID, err)
		default:
			if loc, err = up.Location(); err != nil {
				return nil, bad("meter %s: %v", meterID, err)
			}
		}
	}
	e.loc = loc
	in.mu.Lock()
	in.zones[meterID] = e
	in.mu.Unlock()
	return loc, nil
}

// rules returns the validation rules of the meter's group, from the cache
// the zone lookup fills.
func (in *Ingest) rules(ctx context.Context, meterID string) (vee.Rules, error) {
	in.mu.Lock()
	e, ok := in.zones[meterID]
	in.mu.Unlock()
	if ok {
		return e.rules, nil
	}
	if _, err := in.zone(ctx, meterID); err != nil {
		return vee.Rules{}, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.zones[meterID].rules, nil
}
