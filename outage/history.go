package outage

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/topology"
)

// Logged is one interruption a meter recorded in its event log: the
// power-down and the power-up that ended it, by the meter's clock. Logs
// come in with the daily collection, long after the fact, all at once; they
// lose nothing (a last gasp is often lost, a log entry is not) but their
// times are the meters' own, which may drift by a minute or two.
type Logged struct {
	UsagePoint string
	Meter      string
	Down, Up   time.Time
}

// Reconstruct works out the outages behind logged interruptions, as the
// engine does for live signals but from complete evidence: interruptions
// that began within the log tolerance of each other are one fault, placed
// at the highest device most of whose powered services went dark with it;
// services that came back later than most of their device are a nested
// outage under it, placed the same way among themselves. A service already
// dark when the fault struck is not counted against its device. now stamps
// the events as detected; the logs' times are their start and end.
func Reconstruct(g *topology.Grid, logs []Logged, cfg Config, now time.Time) []Event {
	cfg.defaults()
	tol := cfg.LogTolerance
	var ok []Logged
	for _, l := range logs {
		if n, known := g.Node(l.UsagePoint); known && n.Level == topology.Service && l.Up.After(l.Down) {
			ok = append(ok, l)
		}
	}
	slices.SortFunc(ok, func(a, b Logged) int {
		return cmp.Or(a.Down.Compare(b.Down), cmp.Compare(a.UsagePoint, b.UsagePoint))
	})
	// Each service's interruptions, to tell who was already dark.
	bySvc := map[string][]Logged{}
	for _, l := range ok {
		bySvc[l.UsagePoint] = append(bySvc[l.UsagePoint], l)
	}
	r := rebuild{g: g, cfg: cfg, now: now, bySvc: bySvc}
	var out []Event
	for len(ok) > 0 {
		var again []Logged // a service's second interruption within one fault's tolerance
		cl := map[string]Logged{}
		c0 := ok[0].Down
		i := 0
		for ; i < len(ok) && ok[i].Down.Sub(c0) <= tol; i++ {
			if _, dup := cl[ok[i].UsagePoint]; dup {
				again = append(again, ok[i])
				continue
			}
			cl[ok[i].UsagePoint] = ok[i]
		}
		out = append(out, r.fault(cl, c0)...)
		ok = append(again, ok[i:]...)
		slices.SortFunc(ok, func(a, b Logged) int {
			return cmp.Or(a.Down.Compare(b.Down), cmp.Compare(a.UsagePoint, b.UsagePoint))
		})
	}
	slices.SortFunc(out, func(a, b Event) int { return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.ID, b.ID)) })
	return out
}

type rebuild struct {
	g     *topology.Grid
	cfg   Config
	now   time.Time
	bySvc map[string][]Logged
}

// darkBefore reports whether a service was already without power when a
// fault struck at t: an interruption of its own began earlier and lasts.
func (r *rebuild) darkBefore(svc string, t time.Time) bool {
	for _, l := range r.bySvc[svc] {
		if l.Down.Before(t.Add(-r.cfg.LogTolerance)) && l.Up.After(t) {
			return true
		}
	}
	return false
}

// fault places one fault's interruptions (by service) on devices.
func (r *rebuild) fault(cl map[string]Logged, t time.Time) []Event {
	dark := make(map[string]bool, len(cl))
	for s := range cl {
		dark[s] = true
	}
	var out []Event
	for _, dev := range r.place(dark, t) {
		svcs := r.under(dev, dark)
		out = append(out, r.outage(dev, svcs, cl, "")...)
	}
	return out
}

// place chooses the devices that explain a set of dark services: top down,
// a device whose powered services are dark in at least the engine's
// service share is chosen and its subtree settled; services left over are
// outages of their own. A device with a single child gives way to the
// child, since the meters cannot tell the two apart and the lower one is
// the likelier fault.
func (r *rebuild) place(dark map[string]bool, t time.Time) []string {
	cand := map[string]bool{}
	for s := range dark {
		for _, n := range r.g.Path(s) {
			cand[n.ID] = true
		}
	}
	ids := make([]string, 0, len(cand))
	for id := range cand {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		na, _ := r.g.Node(a)
		nb, _ := r.g.Node(b)
		return cmp.Or(cmp.Compare(na.Level.Depth(), nb.Level.Depth()), cmp.Compare(a, b))
	})
	settled := map[string]bool{}
	var out []string
	for _, id := range ids {
		n, _ := r.g.Node(id)
		if settled[n.Parent] || settled[id] {
			settled[id] = true
			continue
		}
		if n.Level != topology.Service && !r.explains(id, dark, t) {
			continue
		}
		for ch := r.g.Children(id); n.Level.Depth() < topology.Transformer.Depth() && len(ch) == 1; ch = r.g.Children(id) {
			id = ch[0]
			n, _ = r.g.Node(id)
		}
		out = append(out, id)
		for _, p := range r.g.Path(id) {
			settled[p.ID] = true
		}
		for _, s := range r.g.Services(id) {
			settled[s] = true
		}
		r.settleDevices(id, settled)
	}
	return out
}

func (r *rebuild) settleDevices(id string, settled map[string]bool) {
	for _, c := range r.g.Children(id) {
		settled[c] = true
		r.settleDevices(c, settled)
	}
}

// explains reports whether enough of a device's powered services are
// dark, spread over at least two of its children when it has more than
// one that was powered: a lone dark child is the child's own fault.
func (r *rebuild) explains(id string, dark map[string]bool, t time.Time) bool {
	if kids := r.g.Children(id); len(kids) == 1 {
		if n, _ := r.g.Node(kids[0]); n.Level == topology.Service {
			return dark[kids[0]]
		}
		return r.explains(kids[0], dark, t) // a lone child is the device
	}
	powered, out := 0, 0
	kidsPowered, kidsDark := 0, 0
	for _, c := range r.g.Children(id) {
		p, o := 0, 0
		for _, s := range r.g.Services(c) {
			if dark[s] {
				o++
				p++
			} else if !r.darkBefore(s, t) {
				p++
			}
		}
		powered, out = powered+p, out+o
		if p > 0 {
			kidsPowered++
		}
		if o > 0 {
			kidsDark++
		}
	}
	return out > 0 && float64(out) >= r.cfg.ServiceShare*float64(powered) && (kidsDark > 1 || kidsPowered == 1)
}

// under returns the dark services under a device.
func (r *rebuild) under(dev string, dark map[string]bool) []string {
	var out []string
	for _, s := range r.g.Services(dev) {
		if dark[s] {
			out = append(out, s)
		}
	}
	return out
}

// outage makes the event of a device whose services svcs went dark
// together, and nested events for those that came back later than most.
func (r *rebuild) outage(dev string, svcs []string, cl map[string]Logged, parent string) []Event {
	tol := r.cfg.LogTolerance
	downs := make([]time.Time, 0, len(svcs))
	ups := make([]time.Time, 0, len(svcs))
	for _, s := range svcs {
		downs = append(downs, cl[s].Down)
		ups = append(ups, cl[s].Up)
	}
	byTime := func(a, b time.Time) int { return a.Compare(b) }
	slices.SortFunc(downs, byTime)
	slices.SortFunc(ups, byTime)
	// The meters' clocks scatter around the true time either way: the
	// median is the best estimate of when the fault struck.
	start := downs[len(downs)/2]
	// The device came back when most of its dark services did: the first
	// group of power-ups, within the tolerance, that holds half of them,
	// at its median.
	end := ups[len(ups)/2]
	for i := 0; i < len(ups); {
		j := i
		for j < len(ups) && ups[j].Sub(ups[i]) <= tol {
			j++
		}
		if 2*(j-i) >= len(ups) {
			end = ups[i+(j-i)/2]
			break
		}
		i = j
	}
	n, _ := r.g.Node(dev)
	ev := Event{
		Level: n.Level, Device: dev, State: Verified, Start: start, End: end,
		DetectedAt: r.now, ConfirmedAt: r.now, VerifiedAt: r.now,
		Customers: r.g.Customers(dev), Parent: parent, LastGasps: len(svcs),
		Confidence: min(1, float64(len(svcs))/float64(max(1, r.g.Customers(dev)))),
	}
	ev.ID = dev + "@" + strconv.FormatInt(start.Unix(), 10)
	if f, ok := r.g.Ancestor(dev, topology.Feeder); ok {
		ev.Feeder = f.ID
	}
	if ev.Region = n.Region; ev.Region == "" {
		if f, ok := r.g.Ancestor(dev, topology.Feeder); ok {
			ev.Region = f.Region
		}
	}
	if end.Sub(start) < r.cfg.Momentary {
		ev.State = Momentary
	}
	out := []Event{ev}
	later := map[string]bool{}
	for _, s := range svcs {
		if cl[s].Up.Sub(end) > tol {
			later[s] = true
		}
	}
	if len(later) == 0 {
		return out
	}
	// Nested: grouped by when they came back, each group placed among the
	// device's services that were still dark then.
	rest := map[string]Logged{}
	for s := range later {
		rest[s] = cl[s]
	}
	for len(rest) > 0 {
		first := ""
		for s, l := range rest {
			if first == "" || l.Up.Before(rest[first].Up) || (l.Up.Equal(rest[first].Up) && s < first) {
				first = s
			}
		}
		group := map[string]bool{}
		for s, l := range rest {
			if l.Up.Sub(rest[first].Up) <= tol {
				group[s] = true
			}
		}
		for _, d := range r.placeNested(dev, group, later) {
			sub := r.under(d, group)
			nested := map[string]Logged{}
			for _, s := range sub {
				nested[s] = Logged{UsagePoint: s, Down: start, Up: cl[s].Up}
			}
			out = append(out, r.outage(d, sub, nested, ev.ID)...)
		}
		for s := range group {
			delete(rest, s)
		}
	}
	return out
}

// placeNested places the services of one later restoration under dev: a
// device below dev is chosen when most of its services still dark at the
// device's end are in the group.
func (r *rebuild) placeNested(dev string, group, stillDark map[string]bool) []string {
	var out []string
	var walk func(id string)
	walk = func(id string) {
		n, _ := r.g.Node(id)
		if id != dev && n.Level != topology.Service {
			in, of := 0, 0
			for _, s := range r.g.Services(id) {
				if stillDark[s] {
					of++
					if group[s] {
						in++
					}
				}
			}
			if in > 0 && in == of && len(r.g.Services(id)) > 0 && float64(in) >= r.cfg.ServiceShare*float64(len(r.g.Services(id))) {
				out = append(out, id)
				return
			}
		}
		if n.Level == topology.Service {
			if group[id] {
				out = append(out, id)
			}
			return
		}
		for _, c := range r.g.Children(id) {
			walk(c)
		}
	}
	walk(dev)
	return out
}
