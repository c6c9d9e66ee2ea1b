package mdm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/store"
)

// VEEOptions configures an on-demand VEE run.
type VEEOptions struct {
	// Rules chooses each meter's rule set by its group.
	Rules      vee.RuleSets
	Estimation vee.Estimation
	// HistoryDays is how many earlier days form the like-day history.
	HistoryDays int
	// Estimate fills the missing intervals of days before Today.
	Estimate bool
	Today    cim.Date
	// Now is the clock that says which intervals are due (nil: time.Now).
	Now func() time.Time
}

// VEEReport says what a run found and did.
type VEEReport struct {
	Days int `json:"days"`
	// RuleSet names the rule set the meter's group chose.
	RuleSet    string        `json:"ruleSet"`
	Failures   []vee.Failure `json:"-"`
	Exceptions int           `json:"exceptions"`
	Estimated  int           `json:"estimatedDays"`
	Reasons    []string      `json:"estimates,omitempty"`
}

// registerType is the billing-profile register that frames a channel's
// day: its midnight values are the day's bounds.
func registerType(channel string) string {
	for _, p := range []string{"A+", "A-"} {
		if strings.HasPrefix(channel, p) {
			return p + "/billing"
		}
	}
	return ""
}

// VEEStore is what validating and estimating stored days reads and
// writes: the days and what frames them (the meter, its usage point's
// zone, registers and relay events), and the exceptions queue.
type VEEStore interface {
	DayWriter
	historyStore
	Meter(ctx context.Context, mrid string) (cim.Meter, error)
	UsagePoint(ctx context.Context, mrid string) (cim.UsagePoint, error)
	PutExceptions(ctx context.Context, es []store.Exception) (int, error)
	SettleExceptions(ctx context.Context, days []store.DayVersion, at time.Time) (int, error)
}

// RunVEE validates the stored days of one meter channel in [from, to],
// records each failure in the exceptions queue with its rule and reason,
// and, when asked, estimates the missing intervals of past days as a new
// version reconciled with the midnight registers. Actual data that
// arrives later replaces the estimates (the ingest's merge does that).
func RunVEE(ctx context.Context, st VEEStore, meterID, channel string, from, to cim.Date, o VEEOptions) (VEEReport, error) {
	var rep VEEReport
	if o.HistoryDays <= 0 {
		o.HistoryDays = 28
	}
	if to.Before(from) {
		return rep, fmt.Errorf("vee: %s is before %s", to, from)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	// A meter since removed from the registry keeps its days; they are
	// validated by the default rules.
	m, err := st.Meter(ctx, meterID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return rep, fmt.Errorf("vee: meter %s: %w", meterID, err)
	}
	var rules vee.Rules
	rep.RuleSet, rules = o.Rules.For(m)
	loc, err := meterZone(ctx, st, m)
	if err != nil {
		return rep, fmt.Errorf("vee: meter %s: %w", meterID, err)
	}
	edits := Edits{Store: st}
	for date := from; !to.Before(date); date = date.AddDays(1) {
		d, err := st.Day(ctx, meterID, channel, date)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return rep, err
		}
		// Day by day: an estimate stored for one day is the next one's
		// history.
		cs, err := veeContexts(ctx, st, []interval.Day{d}, o.HistoryDays)
		if err != nil {
			return rep, err
		}
		c := cs[0]
		c.Until, c.Location = now().Add(-captureGrace), loc
		rep.Days++
		fs := vee.Validate(d, rules, c)
		rep.Failures = append(rep.Failures, fs...)
		if len(fs) > 0 {
			es := make([]store.Exception, len(fs))
			for i, f := range fs {
				es[i] = exceptionOf(d, f)
			}
			n, err := st.PutExceptions(ctx, es)
			if err != nil {
				return rep, err
			}
			rep.Exceptions += n
		}
		// A later version closes what the earlier ones failed and this
		// one passes.
		if d.Version > 1 {
			if _, err := st.SettleExceptions(ctx, []store.DayVersion{{MeterID: meterID, Channel: channel, Date: date, Version: d.Version}}, now()); err != nil {
				return rep, fmt.Errorf("vee: settling the exceptions of %s %s %s: %w", meterID, channel, date, err)
			}
		}
		if !o.Estimate || !date.Before(o.Today) {
			continue
		}
		est, reason, ok := vee.Estimate(d, o.Estimation, c)
		if !ok {
			continue
		}
		// Only over the version estimated from, which is the version
		// validated: a day that took readings meanwhile keeps them, and
		// the next run validates it and estimates what is still missing.
		_, err = edits.ApplyOver(ctx, d, func(latest interval.Day) (interval.Day, error) {
			if latest.Version != d.Version {
				return latest, dayChanged(latest.Version)
			}
			return est, nil
		})
		var changed dayChanged
		if errors.As(err, &changed) {
			rep.Reasons = append(rep.Reasons, date.String()+": not estimated, "+changed.Error())
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("vee: storing the estimate of %s %s %s: %w", meterID, channel, date, err)
		}
		rep.Estimated++
		rep.Reasons = append(rep.Reasons, date.String()+": "+reason)
	}
	return rep, nil
}

// dayChanged is the version another writer stored over the one an
// estimate was made on.
type dayChanged int

func (v dayChanged) Error() string {
	return "the day changed meanwhile (version " + strconv.Itoa(int(v)) + ")"
}

// exceptionOf is the queue's record of a rule's failure on a day.
func exceptionOf(d interval.Day, f vee.Failure) store.Exception {
	return store.Exception{MeterID: d.MeterID, Channel: d.Channel, Date: d.Date, Version: d.Version, Rule: f.Rule,
		Interval: f.Interval, Intervals: len(f.Intervals), Indexes: f.Intervals, Unit: f.Unit, Reason: f.Reason}
}

// meterZone is the time zone of the meter's usage point, in which reasons
// give times (UTC when the meter has none).
func meterZone(ctx context.Context, st interface {
	UsagePoint(ctx context.Context, mrid string) (cim.UsagePoint, error)
}, m cim.Meter) (*time.Location, error) {
	if m.UsagePointID == "" {
		return time.UTC, nil
	}
	up, err := st.UsagePoint(ctx, m.UsagePointID)
	if errors.Is(err, store.ErrNotFound) {
		return time.UTC, nil
	}
	if err != nil {
		return nil, fmt.Errorf("usage point %s: %w", m.UsagePointID, err)
	}
	return up.Location()
}

// firstLookBack is how far before its history window validation looks for
// an earlier day of a meter before it takes a day as the meter's first: a
// meter silent for longer starts afresh.
const firstLookBack = 366

// historyStore is what validation reads around days: earlier days,
// register reads and relay events, for many days at once.
type historyStore interface {
	DaysOfMeters(ctx context.Context, ranges []store.DayRange) ([][]interval.Day, error)
	RegisterReadsOfMeters(ctx context.Context, ranges []store.ReadRange) ([][]store.RegisterRead, error)
	EventsOfMeters(ctx context.Context, types []cim.EndDeviceEventType, ranges []store.EventRange) ([][]cim.EndDeviceEvent, error)
}

// veeContexts gathers what validating stored days looks at beyond them:
// each day's like-day history, whether it is the meter's first, the
// billing registers at its bounds and the spans its relay was open. The
// days are read together, a few statements for all of them: a few
// queries per day had been most of what validating a batch cost.
func veeContexts(ctx context.Context, st historyStore, days []interval.Day, historyDays int) ([]vee.Context, error) {
	cs := make([]vee.Context, len(days))
	if len(days) == 0 {
		return cs, nil
	}
	ends := make([]time.Time, len(days))
	for i, d := range days {
		ends[i] = d.Start.Add(time.Duration(len(d.Values)) * d.Interval)
	}
	// The three reads are independent, and each is one or two statements.
	var regs [][]store.RegisterRead
	var regIx []int
	var evs [][]cim.EndDeviceEvent
	var histErr, regErr, evErr error
	var wg sync.WaitGroup
	wg.Go(func() { histErr = histories(ctx, st, days, historyDays, cs) })
	wg.Go(func() {
		var rr []store.ReadRange
		for i, d := range days {
			if rt := registerType(d.Channel); rt != "" {
				rr = append(rr, store.ReadRange{MeterID: d.MeterID, ReadingType: rt, From: d.Start, To: ends[i].Add(time.Second)})
				regIx = append(regIx, i)
			}
		}
		if len(rr) > 0 {
			regs, regErr = st.RegisterReadsOfMeters(ctx, rr)
		}
	})
	wg.Go(func() {
		er := make([]store.EventRange, len(days))
		for i, d := range days {
			er[i] = store.EventRange{MeterID: d.MeterID, From: d.Start.AddDate(0, 0, -relayLookBack), To: ends[i], Limit: 10000}
		}
		evs, evErr = st.EventsOfMeters(ctx, []cim.EndDeviceEventType{eventRelayOpened, eventRelayClosed}, er)
	})
	wg.Wait()
	if err := errors.Join(histErr, regErr, evErr); err != nil {
		return nil, err
	}
	for k, rs := range regs {
		i := regIx[k]
		for j := range rs {
			switch {
			case rs[j].TimeStamp.Equal(days[i].Start):
				cs[i].RegisterStart = &rs[j]
			case rs[j].TimeStamp.Equal(ends[i]):
				cs[i].RegisterEnd = &rs[j]
			}
		}
	}
	for i := range days {
		cs[i].Disconnected = relaySpans(evs[i], days[i].Start, ends[i])
	}
	return cs, nil
}

// histories sets each day's like-day history, and First where it is
// empty. The days of one meter channel a batch holds are mostly adjacent
// (a block spans midnight, a backlog spans days), and their histories
// overlap but for a day: each run of overlapping histories is read once.
func histories(ctx context.Context, st historyStore, days []interval.Day, historyDays int, cs []vee.Context) error {
	type window struct {
		i        int // the day's
		from, to cim.Date
	}
	type series struct{ meter, channel string }
	bySeries := map[series][]window{}
	var order []series
	for i, d := range days {
		k := series{d.MeterID, d.Channel}
		if _, ok := bySeries[k]; !ok {
			order = append(order, k)
		}
		bySeries[k] = append(bySeries[k], window{i, d.Date.AddDays(-historyDays), d.Date.AddDays(-1)})
	}
	var ranges []store.DayRange
	// read[i] is the range that covers day i's history.
	read := make([]int, len(days))
	for _, k := range order {
		ws := bySeries[k]
		slices.SortFunc(ws, func(a, b window) int { return dateCmp(a.from, b.from) })
		for j, w := range ws {
			if last := len(ranges) - 1; j > 0 && dateCmp(w.from, ranges[last].To.AddDays(1)) <= 0 {
				if dateCmp(w.to, ranges[last].To) > 0 {
					ranges[last].To = w.to
				}
			} else {
				ranges = append(ranges, store.DayRange{MeterID: k.meter, Channel: k.channel, From: w.from, To: w.to})
			}
			read[w.i] = len(ranges) - 1
		}
	}
	got, err := st.DaysOfMeters(ctx, ranges)
	if err != nil {
		return err
	}
	// Rare (a meter's first days), so the longer look costs little.
	var older []store.DayRange
	var olderIx []int
	for i, d := range days {
		all := got[read[i]]
		from, to := d.Date.AddDays(-historyDays), d.Date.AddDays(-1)
		lo, _ := slices.BinarySearchFunc(all, from, func(x interval.Day, t cim.Date) int { return dateCmp(x.Date, t) })
		hi := lo
		for hi < len(all) && dateCmp(all[hi].Date, to) <= 0 {
			hi++
		}
		if hi > lo {
			// Shared with the overlapping histories: validation only reads
			// them, and a capped slice keeps an append from writing over
			// the next day's.
			cs[i].History = all[lo:hi:hi]
			continue
		}
		older = append(older, store.DayRange{MeterID: d.MeterID, Channel: d.Channel,
			From: d.Date.AddDays(-historyDays - firstLookBack), To: d.Date.AddDays(-historyDays - 1)})
		olderIx = append(olderIx, i)
	}
	if len(older) == 0 {
		return nil
	}
	got, err = st.DaysOfMeters(ctx, older)
	if err != nil {
		return err
	}
	for k, i := range olderIx {
		cs[i].First = len(got[k]) == 0
	}
	return nil
}

// dateCmp orders dates (Date.Before compares their text).
func dateCmp(a, b cim.Date) int {
	if c := cmp.Compare(a.Year, b.Year); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Month, b.Month); c != 0 {
		return c
	}
	return cmp.Compare(a.Day, b.Day)
}

// Relay event types (IEC 61968-9): the disconnector opened or closed.
const (
	eventRelayOpened cim.EndDeviceEventType = "3.31.0.68"
	eventRelayClosed cim.EndDeviceEventType = "3.31.0.42"
)

// relayLookBack is how many days before a day validation looks for the
// relay's state at its start.
const relayLookBack = 90

// relaySpans rebuilds when the meter's relay was open during [from, to)
// from its disconnector events, newest first: the state at from is that
// of the last event before it (looked for relayLookBack days back).
func relaySpans(evs []cim.EndDeviceEvent, from, to time.Time) []vee.Span {
	// Events come newest first; walk them oldest first.
	var spans []vee.Span
	var openAt time.Time
	open := false
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		switch e.Type {
		case eventRelayOpened:
			if !open {
				open, openAt = true, e.CreatedAt
			}
		case eventRelayClosed:
			if open {
				open = false
				if e.CreatedAt.After(from) {
					spans = append(spans, vee.Span{From: maxTime(openAt, from), To: e.CreatedAt})
				}
			}
		}
	}
	if open {
		spans = append(spans, vee.Span{From: maxTime(openAt, from), To: to})
	}
	return spans
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
