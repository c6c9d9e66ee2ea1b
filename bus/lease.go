package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// LeaseConfig configures a node's leases over the fleet's shards.
type LeaseConfig struct {
	// Node is this node's name; a node restarted under the same name
	// takes back the shards still recorded under it.
	Node string
	// Shards is how many shards the fleet is divided into.
	Shards int
	// TTL is how long a lease lives without renewal: a node that stops
	// renewing loses its shards to others after it.
	TTL time.Duration
	// Metrics registers the lease collectors when set.
	Metrics prometheus.Registerer
	// Logger receives takeovers (nil: the bus's logger).
	Logger *slog.Logger
}

// Leases are one node's leases on shards of the fleet, kept in a
// key-value bucket of the bus whose entries expire after the TTL: one key
// per shard holding its holder and the holder's last renewal, and one key
// per live node for membership. Run renews and balances them.
type Leases struct {
	kv     jetstream.KeyValue
	cfg    LeaseConfig
	log    *slog.Logger
	period time.Duration

	// noRelease makes Run return without releasing, as a crashed node
	// would: tests use it to see the takeover.
	noRelease bool
	// blind makes every round fail before it reaches the bus, as behind a
	// bus that does not answer: tests use it to see leases lapse.
	blind atomic.Bool
	// seeing is since when this node's rounds have all succeeded (zero
	// after a failed one). Another node's lease that looks lapsed is taken
	// only once this node has seen the bucket for a whole TTL: after a
	// bus outage every lease looks lapsed, and each node takes back its
	// own instead of all grabbing each other's.
	seeing time.Time

	mu      sync.Mutex
	held    map[int]lease    // shards this node holds
	holders map[int]lease    // the latest view of every shard's holder
	seen    map[int]lease    // holders as last seen, to name who stopped renewing
	nodes   map[string]int64 // live nodes and their last renewal (unix ns)
	changed chan struct{}

	mHeld      prometheus.Gauge
	mTakeovers prometheus.Counter
	mTakeover  prometheus.Histogram
}

// lease is one shard's entry: who holds it and when they last renewed.
type lease struct {
	Node    string `json:"node"`
	Renewed int64  `json:"renewed"` // unix ns
	rev     uint64
	at      time.Time // when this node last renewed it (held only)
}

// Leases opens the lease bucket (creating it with the TTL, replicated as
// the streams are) for one node. Nothing is held until Run.
func (b *Bus) Leases(ctx context.Context, cfg LeaseConfig) (*Leases, error) {
	if cfg.Node == "" {
		return nil, errors.New("bus leases: no node name")
	}
	if cfg.Shards <= 0 {
		return nil, fmt.Errorf("bus leases for node %s: %d shards", cfg.Node, cfg.Shards)
	}
	if cfg.TTL < 300*time.Millisecond {
		return nil, fmt.Errorf("bus leases for node %s: TTL %s is too short", cfg.Node, cfg.TTL)
	}
	log := cfg.Logger
	if log == nil {
		log = b.opt.Logger
	}
	bucket := b.streamName("leases")
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   bucket,
		TTL:      cfg.TTL,
		History:  1,
		Replicas: b.opt.Replicas,
		Storage:  jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("bus %s: lease bucket %s: %w", b.where(), bucket, err)
	}
	l := &Leases{
		kv: kv, cfg: cfg, log: log, period: cfg.TTL / 3,
		held: map[int]lease{}, holders: map[int]lease{}, seen: map[int]lease{}, nodes: map[string]int64{},
		changed: make(chan struct{}, 1),
		mHeld: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "amigo_lease_shards_held", Help: "Shards of the fleet this node holds the lease of.",
		}),
		mTakeovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "amigo_lease_takeovers_total", Help: "Shards taken from a node that stopped renewing their lease.",
		}),
		mTakeover: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "amigo_lease_takeover_seconds", Help: "Time from the old holder's last renewal to the takeover of a shard.",
			Buckets: []float64{1, 2, 5, 10, 15, 20, 30, 45, 60, 120},
		}),
	}
	if cfg.Metrics != nil {
		for _, c := range []prometheus.Collector{l.mHeld, l.mTakeovers, l.mTakeover} {
			if err := cfg.Metrics.Register(c); err != nil {
				return nil, fmt.Errorf("bus leases for node %s: metrics: %w", cfg.Node, err)
			}
		}
	}
	return l, nil
}

// Run renews this node's leases and balances shards among live nodes
// every TTL/3 until ctx ends, then releases its leases so that another
// node takes them at once rather than after the TTL.
func (l *Leases) Run(ctx context.Context) error {
	t := time.NewTicker(l.period)
	defer t.Stop()
	var told []int // the shards held as Changed last told
	for {
		if err := l.tick(ctx); err != nil && ctx.Err() == nil {
			l.log.Warn("lease renewal failed", "node", l.cfg.Node, "err", err)
		}
		// Told after every round, failed ones too: leases lapse with no
		// round succeeding (a frozen bus server), and a lapse then made
		// good is a gain to whoever watches.
		now := l.Held()
		l.mHeld.Set(float64(len(now)))
		if !slices.Equal(now, told) {
			told = now
			l.notify()
		}
		select {
		case <-ctx.Done():
			if !l.noRelease {
				l.release()
			}
			return nil
		case <-t.C:
		}
	}
}

func shardKey(shard int) string { return "shard." + strconv.Itoa(shard) }

// nodeKey names a node's membership key; key characters are limited.
func nodeKey(node string) string {
	return "node." + strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '=':
			return r
		}
		return '_'
	}, node)
}

// snapshot reads every live entry of the bucket. Entries deleted by a
// release are reported as released; entries the server expired are gone.
func (l *Leases) snapshot(ctx context.Context) (shards map[int]lease, released map[int]bool, nodes map[string]int64, err error) {
	w, err := l.kv.WatchAll(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	defer w.Stop()
	shards, released, nodes = map[int]lease{}, map[int]bool{}, map[string]int64{}
	for {
		select {
		case <-ctx.Done():
			return nil, nil, nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, nil, nil, errors.New("lease bucket watch closed")
			}
			if e == nil {
				return shards, released, nodes, nil
			}
			var v lease
			live := e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &v) == nil
			switch k := e.Key(); {
			case strings.HasPrefix(k, "shard."):
				n, err := strconv.Atoi(strings.TrimPrefix(k, "shard."))
				if err != nil || n < 0 || n >= l.cfg.Shards {
					continue
				}
				if !live {
					released[n] = true
					continue
				}
				v.rev = e.Revision()
				shards[n] = v
			case strings.HasPrefix(k, "node.") && live:
				nodes[v.Node] = v.Renewed
			}
		}
	}
}

// tick is one round: announce this node, renew what it holds, hand back
// extras, take free and expired shards up to its fair share.
func (l *Leases) tick(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.period)
	defer cancel()
	now := time.Now()
	me := l.cfg.Node
	if l.blind.Load() {
		l.seeing = time.Time{}
		return fmt.Errorf("node %s: the bus is out of sight", me)
	}
	val, _ := json.Marshal(lease{Node: me, Renewed: now.UnixNano()})
	if _, err := l.kv.Put(ctx, nodeKey(me), val); err != nil {
		l.seeing = time.Time{}
		return fmt.Errorf("node %s: membership: %w", me, err)
	}
	shards, released, nodes, err := l.snapshot(ctx)
	if err != nil {
		l.seeing = time.Time{}
		return fmt.Errorf("node %s: reading leases: %w", me, err)
	}
	if l.seeing.IsZero() {
		l.seeing = now
	}
	steady := now.Sub(l.seeing) >= l.cfg.TTL
	// Expiry is judged by the stored renewal time too: a server may keep
	// an expired entry a while, and tells watchers nothing when it goes.
	fresh := func(renewed int64) bool { return now.Sub(time.Unix(0, renewed)) < l.cfg.TTL }
	live := []string{me}
	for n, r := range nodes {
		if n != me && fresh(r) {
			live = append(live, n)
		}
	}
	slices.Sort(live)

	l.mu.Lock()
	held := maps.Clone(l.held)
	seen := maps.Clone(l.seen)
	l.mu.Unlock()

	// Renew what this node holds, and take back what a previous run under
	// the same name left (a restart).
	for s, e := range shards {
		if e.Node != me {
			continue
		}
		if h, ok := held[s]; ok && h.rev != e.rev {
			delete(held, s)
		}
		rev, err := l.kv.Update(ctx, shardKey(s), val, e.rev)
		if err != nil {
			delete(held, s) // another node took it meanwhile
			continue
		}
		held[s] = lease{Node: me, Renewed: now.UnixNano(), rev: rev, at: now}
	}
	for s := range held {
		if e, ok := shards[s]; !ok || e.Node != me {
			delete(held, s)
		}
	}

	share := (l.cfg.Shards + len(live) - 1) / len(live)
	floor := l.cfg.Shards / len(live)
	count := map[string]int{}
	for s, e := range shards {
		if _, mine := held[s]; mine || (e.Node != me && fresh(e.Renewed)) {
			count[e.Node]++
		}
	}
	count[me] = len(held)
	starved := false
	for _, n := range live {
		if n != me && count[n] < floor {
			starved = true
		}
	}
	// Hand extras back while another node is short, the shards another
	// node would rather hold first.
	if extra := len(held) - share; starved && extra > 0 {
		order := l.preference(slices.Collect(maps.Keys(held)), live)
		for _, s := range order[len(order)-extra:] {
			if err := l.kv.Delete(ctx, shardKey(s), jetstream.LastRevision(held[s].rev)); err == nil {
				delete(held, s)
			}
		}
	}
	// Take free shards up to the fair share.
	if len(held) < share {
		var free []int
		for s := range l.cfg.Shards {
			if _, mine := held[s]; mine {
				continue
			}
			if e, ok := shards[s]; ok && fresh(e.Renewed) {
				continue
			}
			free = append(free, s)
		}
		for _, s := range l.preference(free, live) {
			if len(held) >= share {
				break
			}
			e, ok := shards[s]
			// A shard whose holder stopped renewing: its entry is stale, or
			// it vanished without the delete a release leaves.
			from := e
			if !ok {
				from = seen[s]
				if released[s] {
					from = lease{}
				}
			}
			if from.Node != "" && from.Node != me && !steady {
				continue // perhaps only out of this node's sight
			}
			var rev uint64
			var err error
			if ok {
				rev, err = l.kv.Update(ctx, shardKey(s), val, e.rev)
			} else {
				rev, err = l.kv.Create(ctx, shardKey(s), val)
			}
			if err != nil {
				continue // another node was quicker
			}
			held[s] = lease{Node: me, Renewed: now.UnixNano(), rev: rev, at: now}
			if from.Node != "" && from.Node != me {
				after := now.Sub(time.Unix(0, from.Renewed))
				l.mTakeovers.Inc()
				l.mTakeover.Observe(after.Seconds())
				l.log.Info("lease taken over", "shard", s, "from", from.Node, "after", after.Round(time.Millisecond), "node", me)
			}
		}
	}

	for s, e := range shards {
		seen[s] = e
	}
	for s := range released {
		delete(seen, s)
	}
	for s, h := range held {
		shards[s] = h
		seen[s] = h
	}
	liveNodes := map[string]int64{}
	for _, n := range live {
		liveNodes[n] = nodes[n]
	}
	liveNodes[me] = now.UnixNano()

	l.mu.Lock()
	l.held, l.holders, l.seen, l.nodes = held, shards, seen, liveNodes
	l.mu.Unlock()
	return nil
}

// preference orders shards by how much this node wants them: first those
// rendezvous hashing gives it among the live nodes, then by its own
// score, so that a node restarted under the same name takes back the
// same shards and a new node the same ones each time.
func (l *Leases) preference(shards []int, live []string) []int {
	score := func(node string, s int) uint64 {
		f := fnv.New64a()
		f.Write([]byte(node))
		f.Write([]byte{0})
		f.Write([]byte(strconv.Itoa(s)))
		return f.Sum64()
	}
	winner := func(s int) bool {
		best, who := uint64(0), ""
		for _, n := range live {
			if v := score(n, s); who == "" || v > best {
				best, who = v, n
			}
		}
		return who == l.cfg.Node
	}
	out := slices.Clone(shards)
	slices.SortFunc(out, func(a, b int) int {
		wa, wb := winner(a), winner(b)
		switch {
		case wa && !wb:
			return -1
		case wb && !wa:
			return 1
		}
		sa, sb := score(l.cfg.Node, a), score(l.cfg.Node, b)
		switch {
		case sa > sb:
			return -1
		case sa < sb:
			return 1
		}
		return a - b
	})
	return out
}

// release deletes this node's leases and membership so that others take
// its shards at their next round.
func (l *Leases) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l.mu.Lock()
	held := maps.Clone(l.held)
	l.held = map[int]lease{}
	l.mu.Unlock()
	for s, h := range held {
		if err := l.kv.Delete(ctx, shardKey(s), jetstream.LastRevision(h.rev)); err != nil {
			l.log.Warn("lease release failed", "node", l.cfg.Node, "shard", s, "err", err)
		}
	}
	if err := l.kv.Delete(ctx, nodeKey(l.cfg.Node)); err != nil {
		l.log.Warn("lease membership release failed", "node", l.cfg.Node, "err", err)
	}
	l.mHeld.Set(0)
	if len(held) > 0 {
		l.notify()
	}
}

func (l *Leases) notify() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// Node is this node's name.
func (l *Leases) Node() string { return l.cfg.Node }

// Holds reports whether this node holds shard now: a lease whose last
// renewal is older than the TTL is not held, so a paused or cut-off node
// stops acting before another takes over.
func (l *Leases) Holds(shard int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.held[shard]
	return ok && time.Since(h.at) < l.cfg.TTL
}

// Held lists the shards this node holds now, in order.
func (l *Leases) Held() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for s, h := range l.held {
		if time.Since(h.at) < l.cfg.TTL {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// Holder names the node holding shard as last seen ("" when none does).
func (l *Leases) Holder(shard int) string {
	if l.Holds(shard) {
		return l.cfg.Node
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.holders[shard]
	if !ok || e.Node == l.cfg.Node || time.Since(time.Unix(0, e.Renewed)) >= l.cfg.TTL {
		return ""
	}
	return e.Node
}

// Nodes is how many nodes were alive at the last round, this one
// included.
func (l *Leases) Nodes() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(1, len(l.nodes))
}

// Changed receives a value when the shards this node holds change.
func (l *Leases) Changed() <-chan struct{} { return l.changed }
