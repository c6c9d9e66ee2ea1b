package outage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/topology"
)

// SignalKind is what a meter told (or failed to tell) about its supply.
type SignalKind uint8

// The signals. A last gasp is pushed on the energy left in a capacitor when
// power goes and is often lost; a power-restored push comes when it returns
// (it carries the power-up time, not the power-down time: that is in the
// meter's event log, read later); read results come from collection.
const (
	LastGasp SignalKind = iota + 1
	PowerRestored
	ReadMissed
	ReadOK
)

func (k SignalKind) String() string {
	switch k {
	case LastGasp:
		return "last gasp"
	case PowerRestored:
		return "restored"
	case ReadMissed:
		return "read missed"
	case ReadOK:
		return "read ok"
	}
	return "signal " + strconv.Itoa(int(k))
}

// Signal is one piece of evidence about a meter's supply.
type Signal struct {
	Meter      string
	UsagePoint string
	Kind       SignalKind
	// At is when it happened at the meter: the power-down of a last gasp,
	// the power-up of a restored push, the collection of a read.
	At time.Time
	// DownSince is the power-down the meter logged, when known (a restored
	// push followed by an event-log read); zero otherwise.
	DownSince time.Time
}

// Target is a meter to ping: its usage point and, when a signal named it,
// its meter id.
type Target struct {
	UsagePoint string
	Meter      string
}

// Pinger asks a meter whether it is powered. A meter that answers is
// powered; one that does not (answered false, nil error) is presumed dark.
// An error says the ping could not be tried at all (no route, no meter at
// the usage point) and counts as no evidence either way.
type Pinger interface {
	Ping(ctx context.Context, t Target) (answered bool, err error)
}

// Config tunes the engine. Zero fields take the defaults.
type Config struct {
	// Window is how long last gasps are gathered before correlating them:
	// the gasps of one fault arrive within seconds of each other.
	Window time.Duration
	// Momentary is the longest interruption counted as momentary.
	Momentary time.Duration
	// PingSample is how many silent meters are pinged under a suspected
	// device, and under each sibling when testing escalation.
	PingSample int
	// VerifyAfter is how long after the first power-restored push under
	// an outage the rest are pinged: long enough for the other pushes to
	// come in, short enough to verify within a minute.
	VerifyAfter time.Duration
	// Reping is how often an open outage with no news is pinged again, so
	// a restoration whose pushes were all lost is still found.
	Reping time.Duration
	// MaxPings bounds the pings in flight at once; the Pinger must be
	// safe for concurrent use.
	MaxPings int
	// ServiceShare is the share of a transformer's services that must
	// have gasped to suspect the transformer when no ping can be made.
	ServiceShare float64
	// LogTolerance is how far apart logged power-downs (or power-ups) of
	// one fault may be: the meters' clocks drift between syncs.
	LogTolerance time.Duration
}

func (c *Config) defaults() {
	if c.Window <= 0 {
		c.Window = 30 * time.Second
	}
	if c.Momentary <= 0 {
		c.Momentary = 5 * time.Minute
	}
	if c.PingSample <= 0 {
		c.PingSample = 5
	}
	if c.VerifyAfter <= 0 {
		c.VerifyAfter = 20 * time.Second
	}
	if c.Reping <= 0 {
		c.Reping = 15 * time.Minute
	}
	if c.MaxPings <= 0 {
		c.MaxPings = 8
	}
	if c.LogTolerance <= 0 {
		c.LogTolerance = 2 * time.Minute
	}
	if c.ServiceShare <= 0 || c.ServiceShare > 1 {
		c.ServiceShare = 0.5
	}
}

// ErrUnknownService is the cause of a signal whose usage point is not a
// service of the engine's topology.
var ErrUnknownService = errors.New("outage: usage point not in the topology")

// evidence is what one service said within the correlation window.
type evidence struct {
	down, up time.Time
	gasp     bool // a last gasp (or a logged power-down) says it went out
	restored bool
	missed   bool
	meter    string
}

// open is an outage the engine follows.
type open struct {
	ev Event
	// up holds the power-up time of each service under the device that
	// reported power back.
	up           map[string]time.Time
	firstRestore time.Time
	lastPing     time.Time
}

// Engine correlates signals into outage events. It is driven entirely by
// its caller, which feeds it signals and advances its clock, so that a
// month can be replayed in seconds and the same inputs always give the same
// outages. It is not safe for concurrent use.
type Engine struct {
	cfg    Config
	grid   *topology.Grid
	pinger Pinger

	meters  map[string]string // usage point -> meter id, from signals
	pending map[string]*evidence
	opened  time.Time // when the current window opened
	open    map[string]*open
	now     time.Time
	// closed keeps the outages closed in the last two days, by device, so
	// that a power-down the event log tells later amends their start
	// instead of opening a second outage.
	closed  map[string]Event
	amended []Event
}

// NewEngine returns an engine on the topology g that pings through p.
func NewEngine(cfg Config, g *topology.Grid, p Pinger) *Engine {
	cfg.defaults()
	return &Engine{cfg: cfg, grid: g, pinger: p, meters: map[string]string{}, pending: map[string]*evidence{}, open: map[string]*open{}, closed: map[string]Event{}}
}

// SetTopology switches the engine to a new version of the tree: open
// outages keep their device; signals are placed on the new tree.
func (e *Engine) SetTopology(g *topology.Grid) { e.grid = g }

// Config returns the engine's configuration with its defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Load re-opens outages a previous run left open (suspected or confirmed),
// so that a restart keeps following them.
func (e *Engine) Load(events []Event) {
	for _, ev := range events {
		if ev.State != Suspected && ev.State != Confirmed {
			continue
		}
		if _, ok := e.grid.Node(ev.Device); !ok {
			continue
		}
		e.open[ev.Device] = &open{ev: ev, up: map[string]time.Time{}, lastPing: ev.DetectedAt}
	}
}

// Open returns the open outages, by device.
func (e *Engine) Open() []Event {
	out := make([]Event, 0, len(e.open))
	for _, d := range e.sortedOpen() {
		out = append(out, e.open[d].ev)
	}
	return out
}

func (e *Engine) sortedOpen() []string {
	ds := make([]string, 0, len(e.open))
	for d := range e.open {
		ds = append(ds, d)
	}
	slices.Sort(ds)
	return ds
}

// covering returns the open outage of the service or of a device above it.
func (e *Engine) covering(svc string) *open {
	for _, n := range e.grid.Path(svc) {
		if o := e.open[n.ID]; o != nil {
			return o
		}
	}
	return nil
}

// Observe takes one signal. It refuses a signal without a usage point, of
// an unknown kind, without a time, or whose usage point is not in the
// topology, naming it.
func (e *Engine) Observe(s Signal) error {
	switch {
	case s.UsagePoint == "":
		return fmt.Errorf("outage: %s signal of meter %q has no usage point", s.Kind, s.Meter)
	case s.Kind < LastGasp || s.Kind > ReadOK:
		return fmt.Errorf("outage: meter %q: unknown %s", s.Meter, s.Kind)
	case s.At.IsZero():
		return fmt.Errorf("outage: %s of meter %q at usage point %s has no time", s.Kind, s.Meter, s.UsagePoint)
	}
	if n, ok := e.grid.Node(s.UsagePoint); !ok || n.Level != topology.Service {
		return fmt.Errorf("%w: %s of meter %q at %s", ErrUnknownService, s.Kind, s.Meter, s.UsagePoint)
	}
	if s.Meter != "" {
		e.meters[s.UsagePoint] = s.Meter
	}
	if o := e.covering(s.UsagePoint); o != nil {
		switch s.Kind {
		case LastGasp:
			if s.At.Sub(o.ev.Start) < e.cfg.Window {
				o.ev.LastGasps++
			}
		case PowerRestored, ReadOK:
			if s.At.Before(o.ev.Start) {
				return nil // a read collected before the outage
			}
			up := s.At
			if s.Kind == ReadOK {
				up = time.Time{} // powered, but since when is not known
			}
			if _, seen := o.up[s.UsagePoint]; !seen {
				o.up[s.UsagePoint] = up
			}
			if o.firstRestore.IsZero() {
				o.firstRestore = s.At
			}
		}
		return nil
	}
	if s.Kind == PowerRestored && e.known(s) {
		return nil
	}
	ev := e.pending[s.UsagePoint]
	if ev == nil {
		if s.Kind == ReadOK {
			return nil
		}
		ev = &evidence{}
		if len(e.pending) == 0 {
			e.opened = s.At
		}
		e.pending[s.UsagePoint] = ev
	}
	ev.meter = s.Meter
	switch s.Kind {
	case LastGasp:
		ev.gasp = true
		ev.down = s.At
	case PowerRestored:
		ev.restored = true
		ev.up = s.At
		if !s.DownSince.IsZero() {
			ev.gasp = true
			ev.down = s.DownSince
		}
	case ReadMissed:
		ev.missed = true
		if ev.down.IsZero() {
			ev.down = s.At
			if !s.DownSince.IsZero() {
				ev.down = s.DownSince
			}
		}
	case ReadOK:
		if !ev.gasp && !ev.restored {
			delete(e.pending, s.UsagePoint)
		}
	}
	return nil
}

// known reports whether a restoration is that of an outage already closed:
// an event-log read repeating the push, or a push that came after a ping
// had found the power back. A logged power-down earlier than a service
// outage's estimated start (found by a missed read, its gasp lost) amends
// the start; a power-up the meter reports earlier than the end the ping
// found amends the end, since the outage ends at the earliest power-up.
func (e *Engine) known(s Signal) bool {
	for _, n := range e.grid.Path(s.UsagePoint) {
		c, ok := e.closed[n.ID]
		if !ok || !s.At.After(c.Start) || s.At.Sub(c.End) > e.cfg.Window {
			continue
		}
		if s.At.Before(c.End) {
			c.End = s.At
			if c.End.Sub(c.Start) < e.cfg.Momentary {
				c.State = Momentary
			}
			e.closed[n.ID] = c
			e.amended = append(e.amended, c)
		}
		if !s.DownSince.IsZero() && c.Level == topology.Service && c.LastGasps == 0 && s.DownSince.Before(c.Start) {
			c.Start = s.DownSince
			c.State = Verified
			if c.End.Sub(c.Start) < e.cfg.Momentary {
				c.State = Momentary
			}
			e.closed[n.ID] = c
			e.amended = append(e.amended, c)
		}
		return true
	}
	return false
}

// Advance moves the engine's clock to now: it correlates the window's
// signals once the window has passed, verifies restorations, re-pings
// outages without news, and returns the outage events that changed, in a
// stable order.
func (e *Engine) Advance(ctx context.Context, now time.Time) []Event {
	e.now = now
	changes := e.amended
	e.amended = nil
	for d, c := range e.closed {
		if now.Sub(c.End) > 48*time.Hour {
			delete(e.closed, d)
		}
	}
	if len(e.pending) > 0 && !now.Before(e.opened.Add(e.cfg.Window)) {
		changes = append(changes, e.correlate(ctx)...)
	}
	for _, d := range e.sortedOpen() {
		o := e.open[d]
		if o == nil {
			continue
		}
		restoring := !o.firstRestore.IsZero() && !now.Before(o.firstRestore.Add(e.cfg.VerifyAfter))
		if restoring || !now.Before(o.lastPing.Add(e.cfg.Reping)) {
			changes = append(changes, e.checkRestore(ctx, o)...)
		}
	}
	return changes
}

// ping pings one service and returns 1 for an answer, -1 for silence and
// 0 for no evidence.
func (e *Engine) ping(ctx context.Context, svc string) int {
	return e.pingTarget(ctx, Target{UsagePoint: svc, Meter: e.meters[svc]})
}

func (e *Engine) pingTarget(ctx context.Context, t Target) int {
	if e.pinger == nil {
		return 0
	}
	ok, err := e.pinger.Ping(ctx, t)
	switch {
	case err != nil:
		return 0
	case ok:
		return 1
	}
	return -1
}

// pingAll pings services at once, at most MaxPings in flight, and returns
// ping's answer for each, in order.
func (e *Engine) pingAll(ctx context.Context, svcs []string) []int {
	out := make([]int, len(svcs))
	if len(svcs) == 1 {
		out[0] = e.ping(ctx, svcs[0])
		return out
	}
	ts := make([]Target, len(svcs))
	for i, s := range svcs {
		ts[i] = Target{UsagePoint: s, Meter: e.meters[s]}
	}
	slots := make(chan struct{}, e.cfg.MaxPings)
	var wg sync.WaitGroup
	for i := range ts {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			out[i] = e.pingTarget(ctx, ts[i])
		}()
	}
	wg.Wait()
	return out
}

// sample picks up to n of ids, spread evenly, so that repeated runs ping
// the same meters and a sample is not bunched at one end of a street.
func sample(ids []string, n int) []string {
	if len(ids) <= n {
		return ids
	}
	out := make([]string, 0, n)
	for i := range n {
		out = append(out, ids[i*len(ids)/n])
	}
	return out
}

// finding is a device the correlation found dark.
type finding struct {
	device          string
	start           time.Time
	gasps, fail, ok int
	up              map[string]time.Time
	confirmed       bool
}

func (e *Engine) correlate(ctx context.Context) []Event {
	pend := e.pending
	e.pending = map[string]*evidence{}
	svcs := make([]string, 0, len(pend))
	for s := range pend {
		svcs = append(svcs, s)
	}
	slices.Sort(svcs)

	// Group by transformer.
	byTr := map[string][]string{}
	var trs []string
	for _, s := range svcs {
		tr, ok := e.grid.Ancestor(s, topology.Transformer)
		if !ok {
			continue
		}
		if byTr[tr.ID] == nil {
			trs = append(trs, tr.ID)
		}
		byTr[tr.ID] = append(byTr[tr.ID], s)
	}
	slices.Sort(trs)

	var changes []Event
	darkTr := map[string]*finding{}
	var services, answered []*finding
	for _, tr := range trs {
		went := byTr[tr]
		f := &finding{device: tr, up: map[string]time.Time{}}
		gone := 0
		for _, s := range went {
			ev := pend[s]
			if ev.gasp {
				gone++
				f.gasps++
			}
			if !ev.down.IsZero() && (f.start.IsZero() || ev.down.Before(f.start)) {
				f.start = ev.down
			}
			if ev.restored {
				f.up[s] = ev.up
			}
		}
		members := e.grid.Services(tr)
		var others []string
		for _, m := range members {
			if pend[m] == nil {
				others = append(others, m)
			}
		}
		for _, r := range e.pingAll(ctx, sample(others, e.cfg.PingSample)) {
			switch r {
			case 1:
				f.ok++
			case -1:
				f.fail++
			}
		}
		if len(others) == 0 {
			// Every service gasped or reported: a ping of a couple of them
			// confirms the gasps are not a burst of meter faults.
			var silent []string
			for _, s := range went {
				if !pend[s].restored {
					silent = append(silent, s)
				}
			}
			for _, r := range e.pingAll(ctx, sample(silent, min(2, e.cfg.PingSample))) {
				switch r {
				case 1:
					f.ok++
				case -1:
					f.fail++
				}
			}
		}
		pinged := f.ok + f.fail
		var trOut bool
		switch {
		case len(members) > 1 && len(others) == 0 && gone > 0:
			trOut, f.confirmed = true, gone >= 2 || f.fail > 0
		case len(members) > 1 && pinged > 0:
			trOut, f.confirmed = gone >= 1 && f.fail*2 > pinged, true
		case len(members) > 1:
			trOut = float64(gone) >= e.cfg.ServiceShare*float64(len(members))
		}
		if !trOut && len(members) > 1 && gone >= 2 && float64(len(went)) >= e.cfg.ServiceShare*float64(len(members)) {
			// Neighbours gasped together but answer now: power went and
			// came back within the window (a recloser's operation). False
			// gasps are a single meter's fault, never a street's.
			trOut, f.confirmed = true, true
		}
		if trOut {
			darkTr[tr] = f
			continue
		}
		// Service by service: each gasp is checked by pinging its meter.
		for _, s := range went {
			ev := pend[s]
			sf := &finding{device: s, start: ev.down, up: map[string]time.Time{}}
			if len(members) == 1 {
				// A transformer of one customer: it explains the outage
				// as well as the service, and is the higher device.
				sf.device = tr
			}
			if ev.gasp {
				sf.gasps = 1
			}
			if ev.restored {
				if !ev.gasp {
					// Power came back with no power-down known: a missed
					// gasp whose down time the event log will tell.
					continue
				}
				sf.up[s] = ev.up
				sf.confirmed = true
				services = append(services, sf)
				continue
			}
			switch e.ping(ctx, s) {
			case 1:
				sf.ok = 1
				if ev.gasp {
					answered = append(answered, sf)
				}
				continue
			case -1:
				sf.fail, sf.confirmed = 1, true
			default:
				if !ev.gasp {
					continue
				}
			}
			services = append(services, sf)
		}
	}

	// Escalate dark transformers to their feeder, and feeders to their
	// substation, when the siblings are dark too.
	darkFd := e.escalate(ctx, darkTr, topology.Feeder)
	darkSub := e.escalate(ctx, darkFd, topology.Substation)
	for _, lvl := range []map[string]*finding{darkSub, darkFd, darkTr} {
		ds := make([]string, 0, len(lvl))
		for d := range lvl {
			ds = append(ds, d)
		}
		slices.Sort(ds)
		for _, d := range ds {
			changes = append(changes, e.start(lvl[d])...)
		}
	}
	for _, sf := range services {
		changes = append(changes, e.start(sf)...)
	}
	// A gasp whose meter answers is false unless it fell inside a device
	// found out in the same round: a recloser's few seconds, over before
	// the ping, under a transformer too small to tell on its own.
	for _, sf := range answered {
		if o := e.covering(sf.device); o != nil {
			o.ev.LastGasps++
			continue
		}
		changes = append(changes, e.dismiss(sf))
	}
	return changes
}

// escalate moves dark children up to their parent at level l when all the
// parent's children are dark or pings of a sample under the others fail. It
// removes the moved children from dark and returns the dark parents.
func (e *Engine) escalate(ctx context.Context, dark map[string]*finding, l topology.Level) map[string]*finding {
	byParent := map[string][]string{}
	var parents []string
	for d := range dark {
		p, ok := e.grid.Ancestor(d, l)
		if !ok {
			continue
		}
		if byParent[p.ID] == nil {
			parents = append(parents, p.ID)
		}
		byParent[p.ID] = append(byParent[p.ID], d)
	}
	slices.Sort(parents)
	out := map[string]*finding{}
	for _, p := range parents {
		kids := byParent[p]
		all := e.grid.Children(p)
		known := len(kids)
		var others []string
		for _, c := range all {
			if dark[c] != nil {
				continue
			}
			if o := e.open[c]; o != nil && o.firstRestore.IsZero() {
				known++ // already out
				continue
			}
			others = append(others, c)
		}
		// A lone dark child of a parent with others is the child's fault.
		if len(all) > 1 && known < 2 {
			continue
		}
		// A substation's only feeder out looks the same from the meters
		// as the substation out; the feeder is the likelier fault, and
		// the outages rebuilt from event logs place it there too.
		if l == topology.Substation && len(all) == 1 {
			continue
		}
		pf := &finding{device: p, up: map[string]time.Time{}, confirmed: true}
		for _, k := range kids {
			f := dark[k]
			pf.gasps += f.gasps
			pf.fail += f.fail
			pf.ok += f.ok
			pf.confirmed = pf.confirmed && f.confirmed
			if pf.start.IsZero() || f.start.Before(pf.start) {
				pf.start = f.start
			}
			for s, t := range f.up {
				pf.up[s] = t
			}
		}
		fail, ok := 0, 0
		var probes []string
		for _, c := range sample(others, e.cfg.PingSample) {
			if svcs := e.grid.Services(c); len(svcs) > 0 {
				probes = append(probes, svcs[len(svcs)/2])
			}
		}
		for _, r := range e.pingAll(ctx, probes) {
			switch r {
			case 1:
				ok++
			case -1:
				fail++
			}
		}
		most := float64(known) >= e.cfg.ServiceShare*float64(len(all))
		if len(others) > 0 && !most && (fail+ok == 0 || fail*2 <= fail+ok) {
			continue // the siblings answer: the children are out on their own
		}
		pf.fail += fail
		pf.ok += ok
		for _, k := range kids {
			delete(dark, k)
		}
		out[p] = pf
	}
	return out
}

// dismiss is a last gasp the meter's answer disproved: a meter fault.
func (e *Engine) dismiss(f *finding) Event {
	ev := e.event(f)
	ev.State = Dismissed
	ev.Confidence = 0
	return ev
}

// event builds the Event of a finding.
func (e *Engine) event(f *finding) Event {
	n, _ := e.grid.Node(f.device)
	start := f.start
	if start.IsZero() {
		start = e.now
	}
	ev := Event{
		ID: f.device + "@" + strconv.FormatInt(start.Unix(), 10), Level: n.Level, Device: f.device,
		Region: n.Region, State: Suspected, Start: start, DetectedAt: e.now,
		Customers: e.grid.Customers(f.device), LastGasps: f.gasps, PingsFailed: f.fail, PingsOK: f.ok,
	}
	if fd, ok := e.grid.Ancestor(f.device, topology.Feeder); ok {
		ev.Feeder = fd.ID
		if ev.Region == "" {
			ev.Region = fd.Region
		}
	}
	ev.Confidence = confidence(f.gasps, f.fail, f.ok)
	if f.confirmed {
		ev.State, ev.ConfirmedAt = Confirmed, e.now
	}
	return ev
}

// confidence grows with gasps and failed pings and shrinks with answers:
// a Laplace estimate of the share of evidence saying the device is dark.
func confidence(gasps, fail, ok int) float64 {
	return float64(gasps+fail) / float64(gasps+fail+ok+1)
}

// start opens the outage of a finding, or, when every service already
// reported power back within the window, closes it at once.
func (e *Engine) start(f *finding) []Event {
	if o := e.covering(f.device); o != nil {
		// A device above it was found dark in the same round.
		for s, t := range f.up {
			o.up[s] = t
		}
		return nil
	}
	o := &open{ev: e.event(f), up: f.up, lastPing: e.now}
	for _, t := range f.up {
		if o.firstRestore.IsZero() || t.Before(o.firstRestore) {
			o.firstRestore = t
		}
	}
	e.open[f.device] = o
	return []Event{o.ev}
}

// checkRestore pings under an outage to find whether power is back, and
// where it is not. Power back under part of the device ends the outage
// and opens nested outages, continuing from the same start, for the parts
// still dark.
func (e *Engine) checkRestore(ctx context.Context, o *open) []Event {
	o.lastPing = e.now
	dark, answered := e.darkUnder(ctx, o, o.ev.Device)
	if !answered || (len(dark) == 1 && dark[0] == o.ev.Device) {
		if o.firstRestore.IsZero() || o.ev.State == Suspected {
			if o.ev.State == Suspected && len(dark) == 1 {
				o.ev.State, o.ev.ConfirmedAt = Confirmed, e.now
				o.ev.Confidence = confidence(o.ev.LastGasps, o.ev.PingsFailed, o.ev.PingsOK)
				return []Event{o.ev}
			}
			return nil
		}
		// Pushes said power was back but nobody answers: wait for news.
		o.firstRestore = time.Time{}
		return nil
	}
	delete(e.open, o.ev.Device)
	end := time.Time{}
	for _, t := range o.up {
		if !t.IsZero() && (end.IsZero() || t.Before(end)) {
			end = t
		}
	}
	if end.IsZero() || end.Before(o.ev.Start) {
		end = e.now
	}
	ev := o.ev
	ev.End, ev.VerifiedAt = end, e.now
	ev.Confidence = confidence(ev.LastGasps, ev.PingsFailed, ev.PingsOK)
	ev.State = Verified
	if ev.ConfirmedAt.IsZero() {
		ev.ConfirmedAt = e.now
	}
	if end.Sub(ev.Start) < e.cfg.Momentary {
		ev.State = Momentary
	}
	e.closed[ev.Device] = ev
	changes := []Event{ev}
	for _, d := range dark {
		if e.open[d] != nil {
			continue
		}
		f := &finding{device: d, start: ev.Start, up: map[string]time.Time{}, confirmed: true}
		no := &open{ev: e.event(f), up: map[string]time.Time{}, lastPing: e.now}
		no.ev.Parent = ev.ID
		no.ev.DetectedAt = ev.DetectedAt
		e.open[d] = no
		changes = append(changes, no.ev)
	}
	return changes
}

// darkUnder returns the highest devices under node still dark, and whether
// any meter under it showed power (a push or an answered ping). Services
// that pushed power back are not pinged; a sample of the rest under each
// transformer is.
func (e *Engine) darkUnder(ctx context.Context, o *open, node string) ([]string, bool) {
	n, _ := e.grid.Node(node)
	if n.Level == topology.Service {
		if _, ok := o.up[node]; ok {
			return nil, true
		}
		switch e.ping(ctx, node) {
		case 1:
			o.ev.PingsOK++
			o.up[node] = time.Time{}
			return nil, true
		case -1:
			o.ev.PingsFailed++
			return []string{node}, false
		}
		return nil, false
	}
	if n.Level == topology.Transformer {
		svcs := e.grid.Services(node)
		var silent []string
		lit := false
		for _, s := range svcs {
			if _, ok := o.up[s]; ok {
				lit = true
			} else {
				silent = append(silent, s)
			}
		}
		if len(silent) == 0 {
			// Every meter pushed power back: one answer verifies it.
			for _, s := range sample(svcs, 1) {
				switch e.ping(ctx, s) {
				case 1:
					o.ev.PingsOK++
				case -1:
					o.ev.PingsFailed++
					return []string{s}, true
				}
			}
			return nil, true
		}
		var dark []string
		probes := sample(silent, e.cfg.PingSample)
		for i, r := range e.pingAll(ctx, probes) {
			switch r {
			case 1:
				o.ev.PingsOK++
				o.up[probes[i]] = time.Time{}
				lit = true
			case -1:
				o.ev.PingsFailed++
				dark = append(dark, probes[i])
			}
		}
		if !lit {
			if len(dark) > 0 {
				return []string{node}, false
			}
			return nil, false
		}
		return dark, true
	}
	var dark []string
	lit, allDark := false, true
	kids := e.grid.Children(node)
	for _, c := range kids {
		d, a := e.darkUnder(ctx, o, c)
		lit = lit || a
		if len(d) != 1 || d[0] != c {
			allDark = false
		}
		dark = append(dark, d...)
	}
	if allDark && len(kids) > 0 {
		return []string{node}, lit
	}
	return dark, lit
}
