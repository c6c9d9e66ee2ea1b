package han

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/retry"
	"github.com/amigo-ami/amigo/store"
)

// The entities of a usage point's amigo feed.
const (
	KeyEnergyImport = "energy_import"
	KeyEnergyExport = "energy_export"
	KeyPowerImport  = "power_import"
	KeyPowerExport  = "power_export"
	KeyGas          = "gas"
	KeyWater        = "water"
)

// UsagePointEntities are what the bridge may announce for a consenting
// usage point: the cumulative registers, and the average power of the
// latest interval in each direction. Each is announced with its first
// state, so that a usage point without gas shows no gas entity that
// would never get a value.
var UsagePointEntities = []Entity{
	{Key: KeyEnergyImport, Name: "Energy import", DeviceClass: "energy", StateClass: TotalIncreasing, Unit: "kWh"},
	{Key: KeyEnergyExport, Name: "Energy export", DeviceClass: "energy", StateClass: TotalIncreasing, Unit: "kWh"},
	{Key: KeyPowerImport, Name: "Power import (last interval)", DeviceClass: "power", StateClass: Measurement, Unit: "W"},
	{Key: KeyPowerExport, Name: "Power export (last interval)", DeviceClass: "power", StateClass: Measurement, Unit: "W"},
	{Key: KeyGas, Name: "Gas", DeviceClass: "gas", StateClass: TotalIncreasing, Unit: "m³"},
	{Key: KeyWater, Name: "Water", DeviceClass: "water", StateClass: TotalIncreasing, Unit: "m³"},
}

func usagePointEntity(key string) (Entity, bool) {
	for _, e := range UsagePointEntities {
		if e.Key == key {
			return e, true
		}
	}
	return Entity{}, false
}

// UsagePointDevice is the Home Assistant device of a usage point's feed.
// Its id is prefixed so that it never meets the id of the household's own
// meter, which a P1 publisher may announce on the same broker.
func UsagePointDevice(up cim.UsagePoint) Device {
	name := up.Name
	if name == "" {
		name = up.MRID
	}
	return Device{ID: "amigo-" + up.MRID, Name: "amigo " + name, Manufacturer: "amigo", Model: "usage point feed"}
}

// BridgeOptions configure a Bridge.
type BridgeOptions struct {
	// MQTT is the broker to publish to.
	MQTT Options
	// Bus carries the readings the head-end publishes.
	Bus *bus.Bus
	// Registry finds a meter's usage point; Consents says which usage
	// points' households consented.
	Registry store.Registry
	Consents store.Consents
	Logger   *slog.Logger
	// Durable names the bus consumer; nodes sharing the name share the
	// readings between them ("han").
	Durable string
	// Sweep is how often consents are listed again, to withdraw the
	// entities of a usage point whose consent was revoked (10 s). A
	// revocation stops publishing at once regardless: each reading's
	// consent is checked before it is published.
	Sweep time.Duration
}

// Bridge publishes the readings of usage points whose household consented
// (store.ConsentHomeNetwork) as Home Assistant entities, and withdraws
// them when the consent is revoked. It takes readings from the bus as the
// MDM does, from a consumer of its own that starts at what is new, and
// never holds one back: the home network's feed is live, and a reading it
// could not publish (the broker down) is superseded by the next.
type Bridge struct {
	o         BridgeOptions
	log       *slog.Logger
	nudge     chan struct{}
	ready     chan struct{}
	readyOnce sync.Once

	// Owned by Run's goroutine.
	pub       *Publisher
	meters    map[string]meterUP // meter → its usage point, looked up
	announced map[string]*feed   // usage point → what was announced of it
}

// feed is what the bridge announced of one usage point.
type feed struct {
	d    Device
	last map[string]time.Time // key announced → time of the state last published
}

type meterUP struct {
	up string
	at time.Time
}

// meterTTL bounds how long a meter's usage point is remembered: a meter
// moved to another usage point is followed within it.
const meterTTL = 10 * time.Minute

// NewBridge checks o; Run connects and publishes.
func NewBridge(o BridgeOptions) (*Bridge, error) {
	if o.Bus == nil || o.Registry == nil || o.Consents == nil {
		return nil, errors.New("han: a bridge needs the bus, the registry and the consents")
	}
	if o.MQTT.Broker == "" {
		return nil, errors.New("han: a bridge needs a broker URL")
	}
	if o.Durable == "" {
		o.Durable = "han"
	}
	if o.Sweep <= 0 {
		o.Sweep = 10 * time.Second
	}
	if o.MQTT.ClientID == "" {
		o.MQTT.ClientID = "amigo-han"
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o.MQTT.Logger = log
	return &Bridge{o: o, log: log.With("component", "han"), nudge: make(chan struct{}, 1), ready: make(chan struct{}),
		meters: map[string]meterUP{}, announced: map[string]*feed{}}, nil
}

// ConsentChanged tells the bridge that a consent was granted or revoked,
// so that a revoked usage point's entities are withdrawn now rather than
// at the next sweep. It never blocks.
func (b *Bridge) ConsentChanged() {
	select {
	case b.nudge <- struct{}{}:
	default:
	}
}

// Ready is closed once Run is connected and consuming: readings
// published on the bus from then on are published to the broker.
func (b *Bridge) Ready() <-chan struct{} { return b.ready }

// Run connects to the broker (trying again with backoff while it does not
// answer) and publishes until ctx ends.
func (b *Bridge) Run(ctx context.Context) error {
	for n := 1; b.pub == nil; n++ {
		p, err := New(ctx, b.o.MQTT)
		if err == nil {
			b.pub = p
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		b.log.Warn("han: broker not reachable", "broker", b.o.MQTT.Broker, "attempt", n, "err", err)
		if retry.Wait(ctx, retry.Backoff(time.Second, time.Minute, n)) != nil {
			return nil
		}
	}
	defer func() { b.pub.Close(); b.pub = nil }()

	var c *bus.Consumer
	for n := 1; c == nil; n++ {
		var err error
		c, err = b.o.Bus.Consumer(ctx, bus.ConsumerConfig{Durable: b.o.Durable, Description: "home area network feed of consenting usage points",
			Stream: bus.Readings, AckWait: 30 * time.Second, MaxAckPending: 1000, DeliverNew: true})
		if err != nil {
			b.log.Warn("han: no consumer on the bus yet", "attempt", n, "err", err)
			if retry.Wait(ctx, retry.Backoff(time.Second, time.Minute, n)) != nil {
				return nil
			}
		}
	}
	b.log.Info("han: publishing consenting usage points", "broker", b.o.MQTT.Broker)
	b.readyOnce.Do(func() { close(b.ready) })
	sweep := time.NewTicker(b.o.Sweep)
	defer sweep.Stop()
	b.sweep(ctx)
	for n := 0; ctx.Err() == nil; {
		select {
		case <-b.nudge:
			b.sweep(ctx)
		case <-sweep.C:
			b.sweep(ctx)
		default:
		}
		ds, err := c.Fetch(ctx, 256, time.Second)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			n++
			b.log.Warn("han: fetching readings", "err", err)
			if retry.Wait(ctx, retry.Backoff(time.Second, 30*time.Second, n)) != nil {
				break
			}
			continue
		}
		n = 0
		for _, d := range ds {
			if m, err := d.Decode(); err != nil {
				// The MDM dead-letters it; the home network has no use for it.
				b.log.Debug("han: undecodable reading", "subject", d.Subject(), "err", err)
			} else if err := b.handle(ctx, m); err != nil && ctx.Err() == nil {
				b.log.Warn("han: reading not published", "meter", m.Meter(), "err", err)
			}
			if err := d.Ack(); err != nil && ctx.Err() == nil {
				b.log.Warn("han: ack", "subject", d.Subject(), "err", err)
			}
		}
	}
	return nil
}

// handle publishes the states m gives of a consenting usage point.
func (b *Bridge) handle(ctx context.Context, m bus.Message) error {
	var states []State
	switch m := m.(type) {
	case bus.Intervals:
		states = IntervalStates(cim.IntervalBlock(m))
	case bus.Registers:
		states = RegisterStates([]cim.Reading(m))
	}
	if len(states) == 0 {
		return nil
	}
	up, err := b.usagePoint(ctx, m.Meter())
	if err != nil || up == "" {
		return err
	}
	ok, err := b.o.Consents.HasConsent(ctx, up, store.ConsentHomeNetwork)
	if err != nil {
		return err
	}
	if !ok {
		if _, was := b.announced[up]; was {
			return b.withdraw(ctx, up)
		}
		return nil
	}
	f, err := b.announce(ctx, up, states)
	if err != nil {
		return err
	}
	fresh := states[:0]
	for _, s := range states {
		// Readings of a meter arrive in any order (a backfill after a
		// gap); Home Assistant is shown only what is newer.
		if !s.At.After(f.last[s.Key]) {
			continue
		}
		fresh = append(fresh, s)
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := b.pub.Publish(ctx, f.d, fresh); err != nil {
		return fmt.Errorf("usage point %s: %w", up, err)
	}
	for _, s := range fresh {
		f.last[s.Key] = s.At
	}
	return nil
}

func (b *Bridge) usagePoint(ctx context.Context, meter string) (string, error) {
	if c, ok := b.meters[meter]; ok && time.Since(c.at) < meterTTL {
		return c.up, nil
	}
	m, err := b.o.Registry.Meter(ctx, meter)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("meter %s: %w", meter, err)
	}
	b.meters[meter] = meterUP{up: m.UsagePointID, at: time.Now()}
	return m.UsagePointID, nil
}

// announce announces the entities of states not yet announced for up.
func (b *Bridge) announce(ctx context.Context, up string, states []State) (*feed, error) {
	f, ok := b.announced[up]
	if !ok {
		u, err := b.o.Registry.UsagePoint(ctx, up)
		if errors.Is(err, store.ErrNotFound) {
			u = cim.UsagePoint{MRID: up}
		} else if err != nil {
			return nil, fmt.Errorf("usage point %s: %w", up, err)
		}
		f = &feed{d: UsagePointDevice(u), last: map[string]time.Time{}}
	}
	var es []Entity
	for _, s := range states {
		if _, done := f.last[s.Key]; done || slices.ContainsFunc(es, func(e Entity) bool { return e.Key == s.Key }) {
			continue
		}
		if e, known := usagePointEntity(s.Key); known {
			es = append(es, e)
		}
	}
	if len(es) > 0 {
		if err := b.pub.Announce(ctx, f.d, es); err != nil {
			return nil, fmt.Errorf("usage point %s: %w", up, err)
		}
		for _, e := range es {
			f.last[e.Key] = time.Time{}
		}
		b.log.Info("han: usage point announced", "usage_point", up, "entities", len(f.last))
	}
	b.announced[up] = f
	return f, nil
}

// withdraw removes a usage point's entities and last states from the
// broker: a revoked consent leaves nothing of the household behind.
func (b *Bridge) withdraw(ctx context.Context, up string) error {
	f := b.announced[up]
	keys := make([]string, 0, len(f.last))
	for k := range f.last {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if err := b.pub.Withdraw(ctx, f.d, keys); err != nil {
		return fmt.Errorf("usage point %s: %w", up, err)
	}
	delete(b.announced, up)
	b.log.Info("han: usage point withdrawn, consent revoked", "usage_point", up)
	return nil
}

// sweep withdraws the usage points announced whose consent is gone.
func (b *Bridge) sweep(ctx context.Context) {
	if len(b.announced) == 0 {
		return
	}
	cs, err := b.o.Consents.ListConsents(ctx, store.ConsentQuery{Purpose: store.ConsentHomeNetwork})
	if err != nil {
		b.log.Warn("han: listing consents", "err", err)
		return
	}
	in := make(map[string]bool, len(cs))
	for _, c := range cs {
		in[c.UsagePoint] = true
	}
	for up := range b.announced {
		if !in[up] {
			if err := b.withdraw(ctx, up); err != nil && ctx.Err() == nil {
				b.log.Warn("han: withdrawing", "usage_point", up, "err", err)
			}
		}
	}
}

// IntervalStates is the power of the latest usable interval of an energy
// interval block, as the average over the interval in W.
func IntervalStates(ib cim.IntervalBlock) []State {
	rt := ib.ReadingType
	if rt.MeasuredQuantity != cim.QuantityEnergy || rt.Interval <= 0 || rt.Accumulation {
		return nil
	}
	key := ""
	switch rt.FlowDirection {
	case cim.FlowForward:
		key = KeyPowerImport
	case cim.FlowReverse:
		key = KeyPowerExport
	default:
		return nil
	}
	if rt.Unit != cim.UnitWh {
		return nil
	}
	exp := int(rt.Multiplier)
	var last *cim.IntervalReading
	for i := range ib.Readings {
		r := &ib.Readings[i]
		if r.Quality&(cim.QualityMissing|cim.QualityDataNotValid) != 0 {
			continue
		}
		if last == nil || r.End.After(last.End) {
			last = r
		}
	}
	if last == nil {
		return nil
	}
	// Energy over the interval, in Wh, times the intervals in an hour.
	w := scale10(float64(last.Value), exp) * float64(time.Hour) / float64(rt.Interval)
	return []State{{Key: key, Value: w, At: last.End}}
}

// registerKeys are the registers the bridge publishes, by reading type
// id without its multiplier, with the factor from the register's unit to
// the entity's (Wh to kWh; m³).
var registerKeys = map[string]struct {
	key string
	exp int // the power of ten from the register's unit to the entity's
}{
	cim.EnergyImportRegister.ID: {KeyEnergyImport, -3},
	cim.EnergyExportRegister.ID: {KeyEnergyExport, -3},
	"G":                         {KeyGas, 0},
	"W":                         {KeyWater, 0},
}

// RegisterStates is the newest value of each cumulative register among
// rs the bridge publishes: energy in kWh, gas and water in m³. A reading
// type id carries its multiplier as a suffix ("A+e-2": 10⁻² Wh, "Ge-3":
// litres), as the head-end names them.
func RegisterStates(rs []cim.Reading) []State {
	type newest struct {
		r   *cim.Reading
		exp int
	}
	best := map[string]newest{}
	var order []string
	for i := range rs {
		r := &rs[i]
		base, mult, ok := splitMultiplier(r.ReadingType)
		rk, known := registerKeys[base]
		if !ok || !known || r.Quality&(cim.QualityMissing|cim.QualityDataNotValid) != 0 {
			continue
		}
		cur, seen := best[rk.key]
		if !seen {
			order = append(order, rk.key)
		}
		if !seen || r.TimeStamp.After(cur.r.TimeStamp) {
			best[rk.key] = newest{r: r, exp: rk.exp + int(mult)}
		}
	}
	out := make([]State, 0, len(order))
	for _, k := range order {
		n := best[k]
		out = append(out, State{Key: k, Value: scale10(float64(n.r.Value), n.exp), At: n.r.TimeStamp})
	}
	return out
}

// splitMultiplier splits "A+e-2" into "A+" and -2; an id without the
// suffix has multiplier 0.
func splitMultiplier(id string) (string, int8, bool) {
	i := strings.LastIndex(id, "e")
	if i <= 0 || i == len(id)-1 {
		return id, 0, true
	}
	m, err := strconv.ParseInt(id[i+1:], 10, 8)
	if err != nil {
		// An "e" that is part of the name, not a multiplier.
		return id, 0, true
	}
	if m < -9 || m > 9 {
		return "", 0, false
	}
	return id[:i], int8(m), true
}

// scale10 is v × 10^exp, dividing for a negative exp: a power of ten
// below one has no exact float, and dividing by the exact 10^-exp rounds
// once, so that 13508083 Wh is 13508.083 kWh to the last digit.
func scale10(v float64, exp int) float64 {
	if exp < 0 {
		return v / math.Pow10(-exp)
	}
	return v * math.Pow10(exp)
}
