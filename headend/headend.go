package headend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/anomaly"
	"github.com/amigo-ami/amigo/audit"
	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Store is what the head-end keeps in the store: the registry it imports
// into and reads, its durable state (sealed credentials, invocation
// counters, cursors, collection results, commands), and the events it
// records itself. A store that also keeps Models shares what drivers learn.
type Store interface {
	UsagePoint(ctx context.Context, mrid string) (cim.UsagePoint, error)
	Meter(ctx context.Context, mrid string) (cim.Meter, error)
	Meters(ctx context.Context, q store.MeterQuery) ([]cim.Meter, error)
	PutRegistry(ctx context.Context, b store.RegistryBatch) error
	AppendEvents(ctx context.Context, evs []cim.EndDeviceEvent) (int, error)

	MeterSecret(ctx context.Context, meterID string) ([]byte, error)
	ReserveCounters(ctx context.Context, rs []store.CounterReservation) ([]uint64, error)
	AdvanceCounter(ctx context.Context, meterID, name string, v uint64) (bool, error)
	Cursors(ctx context.Context, meterID string) ([]store.Cursor, error)
	PutCursors(ctx context.Context, cs []store.Cursor) error
	PutCollectionResults(ctx context.Context, rs []store.CollectionResult) error
	CollectionResults(ctx context.Context, day cim.Date, segment, outcome, after string, limit int) ([]store.CollectionResult, error)

	IssueControl(ctx context.Context, c cim.EndDeviceControl) (cim.EndDeviceControl, bool, error)
	Control(ctx context.Context, mrid string) (cim.EndDeviceControl, error)
	Controls(ctx context.Context, q store.ControlQuery) ([]cim.EndDeviceControl, error)
	DueControls(ctx context.Context, now time.Time, limit int) ([]cim.EndDeviceControl, error)
	TransitionControl(ctx context.Context, mrid string, from, to cim.ControlStatus, reason string, at time.Time) error
	DecideControl(ctx context.Context, mrid string, from, to cim.ControlStatus, by, reason string, at time.Time) error
	CountIssued(ctx context.Context, q store.IssuedQuery) (int, error)
}

// SecretOpener opens a meter's sealed credentials; aad is the meter's mRID.
type SecretOpener interface {
	Open(sealed, aad []byte) ([]byte, error)
}

// Options configures a HeadEnd.
type Options struct {
	Store   Store
	Bus     *bus.Bus
	Secrets SecretOpener
	Drivers []Driver
	Logger  *slog.Logger
	// Metrics registers the head-end's collectors when set.
	Metrics prometheus.Registerer
	// Now is the head-end's clock (nil: time.Now); a simulated fleet
	// running faster than real time passes its own.
	Now func() time.Time

	Collection CollectionConfig
	Commands   CommandConfig

	// Audit receives the head-end's security-relevant actions (nil:
	// none are kept).
	Audit audit.Appender

	// Signer signs critical commands for the meters to verify (nil:
	// they go unsigned).
	Signer CommandSigner
	// Approvals is the four-eyes policy for critical commands.
	Approvals ApprovalConfig
	// Anomaly is the policy that screens issued commands against the
	// anomaly limits (nil: none are screened). The store must then be an
	// AnomalyStore.
	Anomaly anomaly.Policy
	// Safeguards guard disconnects and spread reconnects (nil:
	// DefaultSafeguards). Weather is the feed the weather guard reads
	// (nil: the store's, when it keeps one).
	Safeguards *SafeguardConfig
	Weather    store.Weather
	// Node names this head-end among a cluster's nodes; Board is where
	// they share runs asked for by hand and their progress (nil: this
	// node's own).
	Node  string
	Board RunBoard
	// Leases is this node's share of the fleet among head-end nodes (nil:
	// this node reads every meter, as a single node does).
	Leases Leases
}

// CollectionConfig bounds and paces collection.
type CollectionConfig struct {
	// Concurrency caps sessions in flight over the whole head-end.
	Concurrency int
	// PerSegment caps sessions in flight in one network segment (a cell,
	// a concentrator).
	PerSegment int
	// SegmentCapacity overrides PerSegment for the segments it names: a
	// collector's own capacity (capacity.go).
	SegmentCapacity map[string]int
	// Attempts is how often a failing job is tried in one run.
	Attempts int
	// RetryBase and RetryMax bound the exponential backoff between
	// attempts; each wait is drawn with full jitter.
	RetryBase, RetryMax time.Duration
	// JobTimeout is the deadline of one attempt: connect, associate, read,
	// release.
	JobTimeout time.Duration
	// Window spreads the jobs' start times, so the fleet is not asked in
	// one burst.
	Window time.Duration
	// ClockThreshold is the drift above which a collection also sets the
	// meter's clock.
	ClockThreshold time.Duration
	// BackfillDays is how far back a meter never collected is read.
	BackfillDays int
	// CatchUpWindow spreads the run that reads newly imported meters
	// (at most Window): short, since someone who just imported a
	// shipment waits for its data.
	CatchUpWindow time.Duration
}

func (c *CollectionConfig) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 256
	}
	if c.PerSegment <= 0 {
		c.PerSegment = 32
	}
	if c.Attempts <= 0 {
		c.Attempts = 3
	}
	if c.RetryBase <= 0 {
		c.RetryBase = time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = time.Minute
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 2 * time.Minute
	}
	if c.ClockThreshold <= 0 {
		c.ClockThreshold = 10 * time.Second
	}
	if c.BackfillDays <= 0 {
		c.BackfillDays = 10
	}
	if c.CatchUpWindow <= 0 {
		c.CatchUpWindow = 10 * time.Second
	}
}

// HeadEnd reaches the registered meters: it collects, listens to pushes
// and carries commands.
type HeadEnd struct {
	st      Store
	bus     *bus.Bus
	secrets SecretOpener
	drivers map[string]Driver
	log     *slog.Logger
	now     func() time.Time
	ccfg    CollectionConfig
	kcfg    CommandConfig
	m       *metrics

	sessions chan struct{} // global session slots
	segMu    sync.Mutex
	segments map[string]chan struct{}
	times    sessionTimes // collection session times by day and segment

	locMu sync.Mutex
	locs  map[string]*time.Location // usage point → zone

	wake chan struct{} // a command was issued

	counters *counterBatch

	progMu   sync.Mutex
	progress Progress
	node     string
	board    RunBoard

	run runner

	audit audit.Appender

	signer    CommandSigner
	approvals approvalPolicy
	screener  *screener // nil: commands are not screened
	sg        safeguards
	weather   store.Weather
}

// New builds a head-end.
func New(o Options) (*HeadEnd, error) {
	if o.Store == nil || o.Bus == nil || o.Secrets == nil {
		return nil, errors.New("headend: store, bus and secrets are required")
	}
	h := &HeadEnd{node: o.Node, board: o.Board, st: o.Store, bus: o.Bus, secrets: o.Secrets, drivers: map[string]Driver{}, log: o.Logger, now: o.Now,
		ccfg: o.Collection, kcfg: o.Commands, segments: map[string]chan struct{}{}, locs: map[string]*time.Location{},
		wake: make(chan struct{}, 1)}
	h.counters = &counterBatch{st: o.Store}
	h.signer = o.Signer
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.audit = o.Audit; h.audit == nil {
		h.audit = audit.Nop{}
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.weather = o.Weather; h.weather == nil {
		h.weather, _ = o.Store.(store.Weather)
	}
	sg := DefaultSafeguards()
	if o.Safeguards != nil {
		sg = *o.Safeguards
	}
	var err error
	if h.sg, err = newSafeguards(sg, h.weather); err != nil {
		return nil, fmt.Errorf("headend: %w", err)
	}
	for _, d := range o.Drivers {
		h.drivers[d.Protocol()] = d
	}
	if h.screener, err = newScreener(o.Anomaly, o.Store); err != nil {
		return nil, err
	}
	h.ccfg.defaults()
	h.kcfg.defaults()
	pol, err := newApprovalPolicy(o.Approvals)
	if err != nil {
		return nil, err
	}
	h.approvals = pol
	h.sessions = make(chan struct{}, h.ccfg.Concurrency)
	h.m = newMetrics()
	if o.Metrics != nil {
		if err := h.m.register(o.Metrics); err != nil {
			return nil, fmt.Errorf("headend: metrics: %w", err)
		}
		if err := o.Metrics.Register(&exposedCollector{h: h}); err != nil {
			return nil, fmt.Errorf("headend: metrics: %w", err)
		}
		// A driver that counts something of its own protocol registers it
		// beside the head-end's.
		for _, d := range o.Drivers {
			if c, ok := d.(prometheus.Collector); ok {
				if err := o.Metrics.Register(c); err != nil {
					return nil, fmt.Errorf("headend: metrics of %s: %w", d.Protocol(), err)
				}
			}
		}
	}
	return h, nil
}

// Drivers returns the head-end's drivers, in protocol order.
func (h *HeadEnd) Drivers() []Driver {
	ds := make([]Driver, 0, len(h.drivers))
	for _, p := range slices.Sorted(maps.Keys(h.drivers)) {
		ds = append(ds, h.drivers[p])
	}
	return ds
}

// Driver returns the driver of a protocol.
func (h *HeadEnd) Driver(protocol string) (Driver, bool) {
	d, ok := h.drivers[protocol]
	return d, ok
}

// Now is the head-end's clock.
func (h *HeadEnd) Now() time.Time { return h.now() }

// segment returns the slot channel of a network segment.
func (h *HeadEnd) segment(name string) chan struct{} {
	h.segMu.Lock()
	defer h.segMu.Unlock()
	s, ok := h.segments[name]
	if !ok {
		s = make(chan struct{}, h.segmentCapacity(name))
		h.segments[name] = s
	}
	return s
}

// acquire takes a global and a segment session slot, in that order.
func (h *HeadEnd) acquire(ctx context.Context, segment string) (release func(), err error) {
	select {
	case h.sessions <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	seg := h.segment(segment)
	select {
	case seg <- struct{}{}:
	case <-ctx.Done():
		<-h.sessions
		return nil, ctx.Err()
	}
	h.m.inFlight.Inc()
	return func() {
		h.m.inFlight.Dec()
		<-seg
		<-h.sessions
	}, nil
}

// location returns a usage point's time zone, cached.
func (h *HeadEnd) location(ctx context.Context, usagePoint string) (*time.Location, error) {
	if usagePoint == "" {
		return time.UTC, nil
	}
	h.locMu.Lock()
	loc, ok := h.locs[usagePoint]
	h.locMu.Unlock()
	if ok {
		return loc, nil
	}
	up, err := h.st.UsagePoint(ctx, usagePoint)
	if errors.Is(err, store.ErrNotFound) {
		return time.UTC, nil
	}
	if err != nil {
		return nil, err
	}
	if loc, err = up.Location(); err != nil {
		return nil, err
	}
	h.locMu.Lock()
	h.locs[usagePoint] = loc
	h.locMu.Unlock()
	return loc, nil
}

// storeCounters reserves one meter's invocation counters in the store.
type storeCounters struct {
	b       *counterBatch
	meterID string
}

func (c storeCounters) Reserve(ctx context.Context, name string, n uint32) (uint64, error) {
	return c.b.reserve(ctx, c.meterID, name, n)
}

// CredentialStore holds meters' sealed credentials.
type CredentialStore interface {
	MeterSecret(ctx context.Context, meterID string) ([]byte, error)
}

// OpenCredentials reads and opens the sealed credentials of meter mrid.
// The mRID is the seal's associated data, so a record moved to another
// meter does not open. The caller clears them after use.
func OpenCredentials(ctx context.Context, st CredentialStore, opener SecretOpener, mrid string) ([]byte, error) {
	sealed, err := st.MeterSecret(ctx, mrid)
	if err != nil {
		return nil, fmt.Errorf("meter %s: credentials: %w", mrid, err)
	}
	plain, err := opener.Open(sealed, []byte(mrid))
	if err != nil {
		return nil, fmt.Errorf("meter %s: opening credentials: %w", mrid, err)
	}
	return plain, nil
}

// target assembles what a driver needs to reach meter m.
func (h *HeadEnd) target(ctx context.Context, m cim.Meter) (Target, Driver, error) {
	d, ok := h.drivers[m.Protocol]
	if !ok {
		return Target{}, nil, fmt.Errorf("meter %s: no driver for protocol %q", m.MRID, m.Protocol)
	}
	creds, err := OpenCredentials(ctx, h.st, h.secrets, m.MRID)
	if err != nil {
		return Target{}, nil, err
	}
	loc, err := h.location(ctx, m.UsagePointID)
	if err != nil {
		return Target{}, nil, fmt.Errorf("meter %s: %w", m.MRID, err)
	}
	models, _ := h.st.(Models)
	return Target{Meter: m, Credentials: creds, Location: loc, Counters: storeCounters{h.counters, m.MRID}, Now: h.now, Models: models}, d, nil
}
