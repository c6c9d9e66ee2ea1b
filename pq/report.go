package pq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/topology"
)

// Limits are the EN 50160 limits a report judges against. The zero value
// is not useful; take DefaultLimits.
type Limits struct {
	// Nominal is the declared supply voltage, phase to neutral, in volts.
	Nominal float64 `json:"nominalV"`
	// Band is the relative deviation 10-minute means must stay within for
	// Required of the week (0.10 and 0.95 in EN 50160).
	Band     float64 `json:"band"`
	Required float64 `json:"required"`
	// Low and High bound every 10-minute mean (-15 % and +10 % for low
	// voltage networks in EN 50160).
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// DefaultLimits are EN 50160's for a 230 V low-voltage network.
func DefaultLimits() Limits {
	return Limits{Nominal: 230, Band: 0.10, Required: 0.95, Low: 0.15, High: 0.10}
}

// Phase is one phase's week.
type Phase struct {
	Phase int `json:"phase"` // 1..3
	// Intervals is the number of 10-minute means stored for the week and
	// judged; Within those inside the band. Flagged means, of periods
	// holding a sag, swell or interruption, are not judged.
	Intervals int     `json:"intervals"`
	Flagged   int     `json:"flagged"`
	Within    int     `json:"within"`
	Share     float64 `json:"share"` // Within / Intervals
	// Beyond is the number of means outside Low..High, which no mean may
	// be.
	Beyond int `json:"beyond"`
	// MeanLow and MeanHigh are the lowest and highest 10-minute mean; Min
	// and Max the lowest and highest voltage the meter saw (its minimum
	// and maximum statistics; the means' when it keeps none). Volts.
	MeanLow  float64 `json:"meanLowV"`
	MeanHigh float64 `json:"meanHighV"`
	Min      float64 `json:"minV"`
	Max      float64 `json:"maxV"`
}

// MeterWeek is one meter's week.
type MeterWeek struct {
	MeterID     string  `json:"meter"`
	UsagePoint  string  `json:"usagePoint,omitempty"`
	Feeder      string  `json:"feeder,omitempty"`
	Transformer string  `json:"transformer,omitempty"`
	Phases      []Phase `json:"phases"`
	// Coverage is the share of the week's 10-minute periods the meter has
	// a mean for on its best-covered phase.
	Coverage float64 `json:"coverage"`
	Counts
	// Compliant is false when a phase's share is under Required or a
	// mean is outside Low..High; Reasons say which.
	Compliant bool     `json:"compliant"`
	Reasons   []string `json:"reasons,omitempty"`
}

// Counts are the voltage events of a meter or feeder in the week.
type Counts struct {
	Sags          int `json:"sags"`
	Swells        int `json:"swells"`
	Interruptions int `json:"interruptions"`
	// WorstSag is the lowest residual voltage of a sag, WorstSwell the
	// highest of a swell, in percent of nominal (0 when none).
	WorstSag   float64 `json:"worstSagPct,omitempty"`
	WorstSwell float64 `json:"worstSwellPct,omitempty"`
	// Longest is the longest event's duration, in seconds.
	Longest float64 `json:"longestS,omitempty"`
}

func (c *Counts) add(e Event) {
	switch e.Kind {
	case Sag:
		c.Sags++
		if e.Residual >= 0 && (c.WorstSag == 0 || e.Residual < c.WorstSag) {
			c.WorstSag = e.Residual
		}
	case Swell:
		c.Swells++
		if e.Residual > c.WorstSwell {
			c.WorstSwell = e.Residual
		}
	case Interruption:
		c.Interruptions++
	}
	c.Longest = max(c.Longest, e.Duration.Seconds())
}

func (c *Counts) merge(o Counts) {
	c.Sags += o.Sags
	c.Swells += o.Swells
	c.Interruptions += o.Interruptions
	if o.WorstSag > 0 && (c.WorstSag == 0 || o.WorstSag < c.WorstSag) {
		c.WorstSag = o.WorstSag
	}
	c.WorstSwell = max(c.WorstSwell, o.WorstSwell)
	c.Longest = max(c.Longest, o.Longest)
}

// FeederWeek sums a feeder's meters.
type FeederWeek struct {
	Feeder string `json:"feeder"`
	Meters int    `json:"meters"`
	// OutOfBounds is how many of its meters are not compliant.
	OutOfBounds int  `json:"outOfBounds"`
	Flagged     bool `json:"flagged"`
	Counts
}

// Report is the weekly EN 50160 report.
type Report struct {
	// Week is [From, To): seven days from a local midnight.
	From    time.Time    `json:"from"`
	To      time.Time    `json:"to"`
	Feeder  string       `json:"feeder,omitempty"`
	Limits  Limits       `json:"limits"`
	Meters  []MeterWeek  `json:"meters"`
	Feeders []FeederWeek `json:"feeders"`
}

// Flagged returns the meters that are not compliant, sorted.
func (r *Report) Flagged() []string {
	var out []string
	for _, m := range r.Meters {
		if !m.Compliant {
			out = append(out, m.MeterID)
		}
	}
	return out
}

// Registry lists meters.
type Registry interface {
	Meters(ctx context.Context, q store.MeterQuery) ([]cim.Meter, error)
}

// Topology gives the grid in force at an instant; store.ErrNotFound when
// none is.
type Topology interface {
	TopologyAt(ctx context.Context, at time.Time) (*topology.Grid, error)
}

// Source is what the report and the voltage along a feeder read.
type Source interface {
	DayReader
	EventReader
	Registry
}

// Reporter works out reports from stored voltage days and events.
type Reporter struct {
	Source Source
	// Topology places meters on feeders; nil: no feeders.
	Topology Topology
	Limits   Limits // zero: DefaultLimits
}

// ErrNoFeeder is returned for a feeder the grid does not hold.
var ErrNoFeeder = errors.New("pq: no such feeder")

func (r *Reporter) limits() Limits {
	if r.Limits.Nominal <= 0 {
		return DefaultLimits()
	}
	return r.Limits
}

// grid is the topology in force at t, nil when there is none.
func (r *Reporter) grid(ctx context.Context, t time.Time) (*topology.Grid, error) {
	if r.Topology == nil {
		return nil, nil
	}
	g, err := r.Topology.TopologyAt(ctx, t)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pq: topology at %s: %w", t.Format(time.RFC3339), err)
	}
	return g, nil
}

// placed is a meter with its place in the grid.
type placed struct {
	m                   cim.Meter
	feeder, transformer string
}

// meters lists the electricity meters a report covers: a feeder's, by its
// services' usage points, or every one in the registry.
// placedAt returns the grid in force at t, the meters on a feeder (all
// when feeder is empty) placed on it, and their ids.
func (r *Reporter) placedAt(ctx context.Context, t time.Time, feeder string) (*topology.Grid, []placed, []string, error) {
	g, err := r.grid(ctx, t)
	if err != nil {
		return nil, nil, nil, err
	}
	ms, err := r.meters(ctx, g, feeder)
	if err != nil {
		return nil, nil, nil, err
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.m.MRID
	}
	return g, ms, ids, nil
}

func (r *Reporter) meters(ctx context.Context, g *topology.Grid, feeder string) ([]placed, error) {
	place := func(m cim.Meter) placed {
		p := placed{m: m}
		if g != nil && m.UsagePointID != "" {
			if n, ok := g.Ancestor(m.UsagePointID, topology.Feeder); ok {
				p.feeder = n.ID
			}
			if n, ok := g.Ancestor(m.UsagePointID, topology.Transformer); ok {
				p.transformer = n.ID
			}
		}
		return p
	}
	electric := func(m cim.Meter) bool { return m.Kind != "gas" && m.Kind != "water" && m.Parent == "" }
	var out []placed
	if feeder != "" {
		if g == nil {
			return nil, fmt.Errorf("%w: %q (no topology is loaded)", ErrNoFeeder, feeder)
		}
		if n, ok := g.Node(feeder); !ok || n.Level != topology.Feeder {
			return nil, fmt.Errorf("%w: %q", ErrNoFeeder, feeder)
		}
		for _, up := range g.Services(feeder) {
			ms, err := r.Source.Meters(ctx, store.MeterQuery{UsagePointID: up, Limit: 100})
			if err != nil {
				return nil, fmt.Errorf("pq: meters of usage point %s: %w", up, err)
			}
			for _, m := range ms {
				if electric(m) {
					out = append(out, place(m))
				}
			}
		}
		slices.SortFunc(out, func(a, b placed) int { return cmp.Compare(a.m.MRID, b.m.MRID) })
		return out, nil
	}
	after := ""
	for {
		ms, err := r.Source.Meters(ctx, store.MeterQuery{After: after, Limit: 1000})
		if err != nil {
			return nil, fmt.Errorf("pq: listing meters: %w", err)
		}
		for _, m := range ms {
			if electric(m) {
				out = append(out, place(m))
			}
		}
		if len(ms) < 1000 {
			return out, nil
		}
		after = ms[len(ms)-1].MRID
	}
}

// Week works out the EN 50160 report of the seven days from `from` (a
// local midnight), for a feeder's meters or, with feeder empty, every
// meter that has voltage data in the week.
func (r *Reporter) Week(ctx context.Context, from time.Time, feeder string) (*Report, error) {
	to := from.AddDate(0, 0, 7)
	lim := r.limits()
	rep := &Report{From: from, To: to, Feeder: feeder, Limits: lim, Meters: []MeterWeek{}, Feeders: []FeederWeek{}}
	_, ms, ids, err := r.placedAt(ctx, from, feeder)
	if err != nil {
		return nil, err
	}
	ser, err := readSeries(ctx, r.Source, ids, []Stat{Avg, Min, Max}, from, to)
	if err != nil {
		return nil, err
	}
	evs, err := Events(ctx, r.Source, ids, from, to)
	if err != nil {
		return nil, err
	}
	byMeter := map[string][]Event{}
	for _, e := range evs {
		byMeter[e.MeterID] = append(byMeter[e.MeterID], e)
	}
	periods := int(to.Sub(from) / Interval)
	feeders := map[string]*FeederWeek{}
	for _, m := range ms {
		ph := ser[m.m.MRID]
		if ph == nil {
			continue // no voltage profile: not a meter this report judges
		}
		mw := judge(m.m.MRID, ph, byMeter[m.m.MRID], lim, periods)
		mw.UsagePoint, mw.Feeder, mw.Transformer = m.m.UsagePointID, m.feeder, m.transformer
		for _, e := range byMeter[m.m.MRID] {
			mw.Counts.add(e)
		}
		rep.Meters = append(rep.Meters, mw)
		if m.feeder == "" {
			continue
		}
		f := feeders[m.feeder]
		if f == nil {
			f = &FeederWeek{Feeder: m.feeder}
			feeders[m.feeder] = f
		}
		f.Meters++
		if !mw.Compliant {
			f.OutOfBounds++
			f.Flagged = true
		}
		f.Counts.merge(mw.Counts)
	}
	for _, f := range feeders {
		rep.Feeders = append(rep.Feeders, *f)
	}
	slices.SortFunc(rep.Feeders, func(a, b FeederWeek) int { return cmp.Compare(a.Feeder, b.Feeder) })
	return rep, nil
}

// flagged reports whether the 10-minute period ending at end holds one of
// the events on phase p (0..2): IEC 61000-4-30 flags such an aggregate, and
// EN 50160 leaves it out of the slow variations, which the events are
// counted apart from.
func flagged(evs []Event, p int, end time.Time) bool {
	start := end.Add(-Interval)
	for _, e := range evs {
		if e.Phase != 0 && e.Phase != p+1 {
			continue
		}
		if e.At.Before(end) && e.At.Add(max(e.Duration, time.Second)).After(start) {
			return true
		}
	}
	return false
}

// judge works out one meter's phases against the limits.
func judge(id string, ph *[3]map[Stat]*series, evs []Event, lim Limits, periods int) MeterWeek {
	mw := MeterWeek{MeterID: id, Compliant: true, Phases: []Phase{}}
	v := func(x int64) float64 { return float64(x) / scaleDV }
	for p := range 3 {
		st := ph[p]
		avg := st[Avg]
		if avg == nil || len(avg.vals) == 0 {
			continue
		}
		out := Phase{Phase: p + 1, MeanLow: math.Inf(1), MeanHigh: math.Inf(-1)}
		for i, x := range avg.vals {
			if flagged(evs, p, avg.ends[i]) {
				out.Flagged++
				continue
			}
			out.Intervals++
			u := v(x)
			out.MeanLow, out.MeanHigh = min(out.MeanLow, u), max(out.MeanHigh, u)
			dev := (u - lim.Nominal) / lim.Nominal
			if math.Abs(dev) <= lim.Band+1e-9 {
				out.Within++
			}
			if dev < -lim.Low-1e-9 || dev > lim.High+1e-9 {
				out.Beyond++
			}
		}
		if out.Intervals == 0 {
			out.MeanLow, out.MeanHigh = 0, 0
			mw.Phases = append(mw.Phases, out)
			continue
		}
		out.Share = float64(out.Within) / float64(out.Intervals)
		out.Min, out.Max = out.MeanLow, out.MeanHigh
		if s := st[Min]; s != nil {
			for _, x := range s.vals {
				out.Min = min(out.Min, v(x))
			}
		}
		if s := st[Max]; s != nil {
			for _, x := range s.vals {
				out.Max = max(out.Max, v(x))
			}
		}
		mw.Coverage = max(mw.Coverage, float64(out.Intervals+out.Flagged)/float64(periods))
		if out.Share < lim.Required {
			mw.Compliant = false
			mw.Reasons = append(mw.Reasons, fmt.Sprintf("L%d: %.1f %% of 10-minute means within ±%.0f %% of %.0f V, under %.0f %%",
				p+1, 100*out.Share, 100*lim.Band, lim.Nominal, 100*lim.Required))
		}
		if out.Beyond > 0 {
			mw.Compliant = false
			mw.Reasons = append(mw.Reasons, fmt.Sprintf("L%d: %d 10-minute means outside -%.0f %%/+%.0f %% (%.1f V to %.1f V)",
				p+1, out.Beyond, 100*lim.Low, 100*lim.High, out.MeanLow, out.MeanHigh))
		}
		mw.Phases = append(mw.Phases, out)
	}
	return mw
}

// Events returns the voltage events in [from, to) of one meter, of a
// feeder's meters, or of every meter, oldest first.
func (r *Reporter) Events(ctx context.Context, meter, feeder string, from, to time.Time) ([]Event, error) {
	var ids []string
	if meter != "" {
		ids = []string{meter}
	} else {
		g, err := r.grid(ctx, from)
		if err != nil {
			return nil, err
		}
		ms, err := r.meters(ctx, g, feeder)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			ids = append(ids, m.m.MRID)
		}
	}
	evs, err := Events(ctx, r.Source, ids, from, to)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(evs, func(a, b Event) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.MeterID, b.MeterID)) })
	if evs == nil {
		evs = []Event{}
	}
	return evs, nil
}
