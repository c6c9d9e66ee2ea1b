package mdm

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// RunVEE validates the stored days of one meter channel in [from, to],
// records each failure in the exceptions queue with its rule and reason,
// and, when asked, estimates the missing intervals of past days as a new
// version reconciled with the midnight registers. Actual data that
// arrives later replaces the estimates (the ingest's merge does that).
func RunVEE(ctx context.Context, st store.Store, meterID, channel string, from, to cim.Date, o VEEOptions) (VEEReport, error) {
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
	for date := from; !to.Before(date); date = date.AddDays(1) {
		d, err := st.Day(ctx, meterID, channel, date)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return rep, err
		}
		c, err := veeContext(ctx, st, d, o.HistoryDays)
		if err != nil {
			return rep, err
		}
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
		if err := settle(ctx, st, []store.DayVersion{{MeterID: meterID, Channel: channel, Date: date, Version: d.Version}}, now()); err != nil {
			return rep, err
		}
		if !o.Estimate || !date.Before(o.Today) {
			continue
		}
		est, reason, ok := vee.Estimate(d, o.Estimation, c)
		if !ok {
			continue
		}
		// Only over the version estimated from: a day that took readings
		// meanwhile keeps them, and the next run estimates what is still
		// missing.
		ws, err := st.PutDaysIfLatest(ctx, []interval.Day{est}, []int{d.Version})
		if err != nil {
			return rep, fmt.Errorf("vee: storing the estimate of %s %s %s: %w", meterID, channel, date, err)
		}
		if ws[0].Stale {
			rep.Reasons = append(rep.Reasons, date.String()+": not estimated, the day changed meanwhile (version "+strconv.Itoa(ws[0].Version)+")")
			continue
		}
		rep.Estimated++
		rep.Reasons = append(rep.Reasons, date.String()+": "+reason)
	}
	return rep, nil
}

// exceptionOf is the queue's record of a rule's failure on a day.
func exceptionOf(d interval.Day, f vee.Failure) store.Exception {
	return store.Exception{MeterID: d.MeterID, Channel: d.Channel, Date: d.Date, Version: d.Version, Rule: f.Rule,
		Interval: f.Interval, Intervals: len(f.Intervals), Indexes: f.Intervals, Unit: f.Unit, Reason: f.Reason}
}

// meterZone is the time zone of the meter's usage point, in which reasons
// give times (UTC when the meter has none).
func meterZone(ctx context.Context, st store.Store, m cim.Meter) (*time.Location, error) {
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

// veeContext gathers what validating a stored day looks at beyond it:
// the like-day history, whether the day is the meter's first, the billing
// registers at its bounds and the spans its relay was open.
func veeContext(ctx context.Context, st Store, d interval.Day, historyDays int) (vee.Context, error) {
	var c vee.Context
	var err error
	if c.History, err = st.Days(ctx, d.MeterID, d.Channel, d.Date.AddDays(-historyDays), d.Date.AddDays(-1)); err != nil {
		return c, err
	}
	if len(c.History) == 0 {
		// Rare (a meter's first days), so the longer look costs little.
		older, err := st.Days(ctx, d.MeterID, d.Channel, d.Date.AddDays(-historyDays-firstLookBack), d.Date.AddDays(-historyDays-1))
		if err != nil {
			return c, err
		}
		c.First = len(older) == 0
	}
	end := d.Start.Add(time.Duration(len(d.Values)) * d.Interval)
	if rt := registerType(d.Channel); rt != "" {
		rs, err := st.RegisterReads(ctx, d.MeterID, rt, d.Start, end.Add(time.Second))
		if err != nil {
			return c, err
		}
		for i := range rs {
			switch {
			case rs[i].TimeStamp.Equal(d.Start):
				c.RegisterStart = &rs[i]
			case rs[i].TimeStamp.Equal(end):
				c.RegisterEnd = &rs[i]
			}
		}
	}
	c.Disconnected, err = relaySpans(ctx, st, d.MeterID, d.Start, end)
	return c, err
}

// Relay event types (IEC 61968-9): the disconnector opened or closed.
const (
	eventRelayOpened cim.EndDeviceEventType = "3.31.0.68"
	eventRelayClosed cim.EndDeviceEventType = "3.31.0.42"
)

// relaySpans rebuilds when the meter's relay was open during [from, to)
// from its disconnector events: the state at from is that of the last
// event before it (looked for up to 90 days back).
func relaySpans(ctx context.Context, st Store, meterID string, from, to time.Time) ([]vee.Span, error) {
	evs, err := st.Events(ctx, store.EventQuery{MeterID: meterID, Types: []cim.EndDeviceEventType{eventRelayOpened, eventRelayClosed},
		From: from.AddDate(0, 0, -90), To: to, Limit: 10000})
	if err != nil {
		return nil, err
	}
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
	return spans, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
