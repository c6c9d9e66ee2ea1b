package reliability

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/amigo-ami/amigo/outage"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/topology"
)

// OutageStore is the part of the store the service reads outages from.
type OutageStore interface {
	Outage(ctx context.Context, id string) (outage.Event, error)
	Outages(ctx context.Context, q store.OutageQuery) ([]outage.Event, error)
}

// TopologySource gives the version of the topology effective at an
// instant (store.ErrNotFound when none is).
type TopologySource interface {
	TopologyAt(ctx context.Context, at time.Time) (*topology.Grid, error)
}

// ErrInvalid is a request the service cannot answer as asked.
var ErrInvalid = errors.New("invalid request")

// ErrNoTopology is returned when no topology is kept at all, or none was
// effective at the time asked.
var ErrNoTopology = errors.New("no topology")

// Service answers the reliability and outage questions of the API and
// the console from the stored outages and topology.
type Service struct {
	Outages  OutageStore
	Topology TopologySource
	// Location is the utility's local time, whose days are IEEE 1366's
	// days (UTC when nil).
	Location *time.Location
	// Momentary is the momentary threshold (DefaultMomentary when zero).
	Momentary time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) loc() *time.Location {
	if s.Location != nil {
		return s.Location
	}
	return time.UTC
}

// grid is the topology at t, ErrNoTopology wrapped when there is none.
func (s *Service) grid(ctx context.Context, t time.Time) (*topology.Grid, error) {
	if s.Topology == nil {
		return nil, fmt.Errorf("%w is kept by this server", ErrNoTopology)
	}
	g, err := s.Topology.TopologyAt(ctx, t)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w effective at %s", ErrNoTopology, t.Format(time.RFC3339))
	}
	if err != nil {
		return nil, fmt.Errorf("topology at %s: %w", t.Format(time.RFC3339), err)
	}
	return g, nil
}

// Request is a reliability report asked for.
type Request struct {
	From, To time.Time
	// ExcludeMED leaves out interruptions starting on major event days.
	ExcludeMED bool
	// ExcludePlanned leaves out planned outages, as some regulators ask.
	ExcludePlanned bool
}

// counts says whether an outage event is an interruption customers saw:
// a suspicion not confirmed yet, or dismissed, is not.
func counts(e outage.Event, excludePlanned bool) bool {
	switch e.State {
	case outage.Suspected, outage.Dismissed:
		return false
	}
	return !(excludePlanned && e.Planned)
}

// Report computes the indices of [From, To) on the topology of each
// outage's start (customers served: the topology at the period's end, or
// now if sooner). Major event days are learnt from up to five years
// before From; with no outage before From, from the period itself, and
// the report's MED note says which.
func (s *Service) Report(ctx context.Context, req Request) (Report, error) {
	if req.From.IsZero() || req.To.IsZero() || !req.From.Before(req.To) {
		return Report{}, fmt.Errorf("%w: the period needs a from before its to", ErrInvalid)
	}
	if req.To.Sub(req.From) > 10*366*24*time.Hour {
		return Report{}, fmt.Errorf("%w: a period of at most 10 years", ErrInvalid)
	}
	now := s.now()
	until := req.To
	if now.Before(until) {
		until = now
	}
	if !req.From.Before(until) {
		until = req.To // a period to come: nothing happened yet
	}
	// Each version is loaded once: a large tree takes longer to load than
	// the report to compute.
	key, err := s.versionKey(ctx)
	if err != nil {
		return Report{}, err
	}
	grids := map[time.Time]*topology.Grid{}
	load := func(t time.Time) (*topology.Grid, error) {
		k := key(t)
		if g, ok := grids[k]; ok {
			return g, nil
		}
		g, err := s.grid(ctx, t)
		if err != nil {
			return nil, err
		}
		grids[k] = g
		return g, nil
	}
	served, err := load(until.Add(-time.Nanosecond))
	if err != nil {
		return Report{}, err
	}
	histFrom := req.From.AddDate(-5, 0, 0)
	evs, err := s.Outages.Outages(ctx, store.OutageQuery{From: histFrom, To: req.To})
	if err != nil {
		return Report{}, fmt.Errorf("reliability %s to %s: %w", req.From.Format(time.RFC3339), req.To.Format(time.RFC3339), err)
	}
	var period, history []Outage
	earliest := req.From
	var unplaced []string
	var periodInts []Interruption
	for _, e := range evs {
		if !counts(e, req.ExcludePlanned) {
			continue
		}
		o := Outage{Device: e.Device, Start: e.Start, End: e.End}
		if o.End.IsZero() && now.Before(req.To) && now.After(o.Start) {
			o.End = now // still out: until now, not until a future to
		}
		if o.Start.Before(req.From) {
			history = append(history, o)
			if o.Start.Before(earliest) {
				earliest = o.Start
			}
		}
		if o.Start.Before(req.To) && (o.End.IsZero() || o.End.After(req.From)) {
			period = append(period, o)
		}
	}
	// The period's outages on the tree of their own start, merged per
	// customer across versions.
	byGrid := map[*topology.Grid][]Outage{}
	for _, o := range period {
		g, err := load(o.Start)
		if errors.Is(err, ErrNoTopology) {
			g, err = served, nil // before the first version: today's tree
		}
		if err != nil {
			return Report{}, err
		}
		byGrid[g] = append(byGrid[g], o)
	}
	if len(byGrid) == 1 {
		for g, os := range byGrid {
			periodInts = Expand(g, os)
			unplaced = Unplaced(g, os)
		}
	} else {
		// Merging across versions: expand each, then merge again by
		// service, keeping each interruption's own feeder and region.
		for g, os := range byGrid {
			periodInts = append(periodInts, Expand(g, os)...)
			unplaced = append(unplaced, Unplaced(g, os)...)
		}
		periodInts = mergeByService(periodInts)
		slices.Sort(unplaced)
		unplaced = slices.Compact(unplaced)
	}

	var med MEDThreshold
	if earliest.Before(req.From) {
		hg, err := load(req.From)
		if errors.Is(err, ErrNoTopology) {
			hg, err = served, nil
		}
		if err != nil {
			return Report{}, err
		}
		// The records reach back five years when any outage is older:
		// then every day of the five is history, quiet ones included.
		start := maxTime(histFrom, dayStart(earliest, s.loc()))
		older, err := s.Outages.Outages(ctx, store.OutageQuery{To: histFrom, Limit: 1})
		if err != nil {
			return Report{}, fmt.Errorf("reliability history before %s: %w", histFrom.Format(time.RFC3339), err)
		}
		if len(older) > 0 {
			start = histFrom
		}
		med = LearnMED(Expand(hg, history), hg.Total(), s.Momentary, start, req.From, s.loc())
	} else {
		med = LearnMED(periodInts, served.Total(), s.Momentary, req.From, until, s.loc())
		med.Note = "no outage before the period: the threshold is learnt from the period itself, " + med.Note
	}
	r := Indices(periodInts, ServedBy(served), s.Momentary, req.From, req.To, req.ExcludeMED, med)
	if unplaced != nil {
		r.Unplaced = unplaced
	}
	if until.Before(req.To) {
		r.Notes = append(r.Notes, "the period is not over: open outages count until "+until.Format(time.RFC3339))
	}
	if req.ExcludePlanned {
		r.Notes = append(r.Notes, "planned outages are left out")
	}
	r.Notes = append(r.Notes, fmt.Sprintf("customers served: topology version %d effective from %s", served.Version, served.EffectiveFrom.Format(time.DateOnly)))
	return r, nil
}

// versionLister is what a topology source that lists its versions adds.
type versionLister interface {
	TopologyVersions(ctx context.Context) ([]store.TopologyVersion, error)
}

// versionKey returns a function naming the topology version in force at
// an instant by its EffectiveFrom (the latest not after the instant), so
// that each version is loaded once however many outages fall under it. A
// source that cannot list its versions is asked once per instant.
func (s *Service) versionKey(ctx context.Context) (func(time.Time) time.Time, error) {
	vl, ok := s.Topology.(versionLister)
	if !ok {
		return func(t time.Time) time.Time { return t }, nil
	}
	vs, err := vl.TopologyVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("topology versions: %w", err)
	}
	froms := make([]time.Time, len(vs))
	for i, v := range vs {
		froms[i] = v.EffectiveFrom
	}
	slices.SortFunc(froms, func(a, b time.Time) int { return a.Compare(b) })
	return func(t time.Time) time.Time {
		i, _ := slices.BinarySearchFunc(froms, t, func(f, t time.Time) int {
			if f.After(t) {
				return 1
			}
			return -1
		})
		if i == 0 {
			return time.Time{} // before the first version
		}
		return froms[i-1]
	}, nil
}

// mergeByService merges one customer's overlapping interruptions.
func mergeByService(ints []Interruption) []Interruption {
	slices.SortFunc(ints, func(a, b Interruption) int {
		if a.Service != b.Service {
			if a.Service < b.Service {
				return -1
			}
			return 1
		}
		return a.Start.Compare(b.Start)
	})
	var out []Interruption
	for _, in := range ints {
		if n := len(out); n > 0 && out[n-1].Service == in.Service && (out[n-1].End.IsZero() || !in.Start.After(out[n-1].End)) {
			last := &out[n-1]
			if in.End.IsZero() {
				last.End = time.Time{}
			} else if !last.End.IsZero() && in.End.After(last.End) {
				last.End = in.End
			}
			continue
		}
		out = append(out, in)
	}
	return out
}

// Detail is one outage with what it cut off on the topology of its start.
type Detail struct {
	outage.Event
	// Path is the device and its ancestors, the device first.
	Path []topology.Node `json:"path"`
	// Services lists the service points under the device (at most
	// MaxDetailServices of them; Truncated says when there were more),
	// AffectedCustomers counts them all.
	Services          []string `json:"services"`
	AffectedCustomers int      `json:"affectedCustomers"`
	Truncated         bool     `json:"truncated"`
	TopologyVersion   int      `json:"topologyVersion"`
}

// MaxDetailServices caps the services one outage's detail lists.
const MaxDetailServices = 5000

// Detail returns an outage with the services it interrupted.
func (s *Service) Detail(ctx context.Context, id string) (Detail, error) {
	e, err := s.Outages.Outage(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	d := Detail{Event: e, Path: []topology.Node{}, Services: []string{}}
	g, err := s.grid(ctx, e.Start)
	if err != nil {
		return Detail{}, fmt.Errorf("outage %s of %s: %w", id, e.Device, err)
	}
	d.TopologyVersion = g.Version
	if _, ok := g.Node(e.Device); !ok {
		return d, nil // a device the topology does not know: nothing to list
	}
	d.Path = g.Path(e.Device)
	svcs := g.Services(e.Device)
	d.AffectedCustomers = len(svcs)
	if len(svcs) > MaxDetailServices {
		svcs, d.Truncated = svcs[:MaxDetailServices], true
	}
	d.Services = svcs
	return d, nil
}
