package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Mesh is the neighbourhood area network between the meters and the
// head-end: radio collectors (data concentrators, access points) with the
// meters reaching them in hops. The head-end reaches a meter through its
// collector; the meter's manifest segment is the collector's id, so that
// the head-end's per-segment session limit is the collector's capacity.
//
// The model is per meter arithmetic on the seed: no goroutine, no
// allocation for an idle meter, cheap for a fleet of tens of thousands.
type Mesh struct {
	// Collectors is how many collectors the meters are spread over, in
	// contiguous blocks of meter indexes (a street is on one collector).
	Collectors int
	// Rural is the fraction of collectors in rural areas: their meters
	// are more hops away and each hop is longer.
	Rural float64
	// Hop is one urban hop: one-way latency and bandwidth. A rural hop
	// takes RuralFactor times as long (0: 3).
	Hop         HopClass
	RuralFactor float64
	// HopLoss is the chance a frame is lost on one hop. The link layer
	// retries a lost frame up to Retries times (0: 3), each retry costing
	// another round trip on that hop; a frame lost on every try loses the
	// exchange end to end, and the meter's session goes silent until the
	// head-end gives up on it.
	HopLoss float64
	Retries int
	// LostAfter is how long the collector waits on a lost exchange
	// before it drops the session (0: 30 s); the head-end's own job
	// deadline may end it first.
	LostAfter time.Duration
	// Down lists collectors that are out of service from the start, and
	// DownFraction is the share of the rest drawn from the seed to be
	// (SetCollectorDown switches them at run time).
	Down         []string
	DownFraction float64
	// Capacity is how many meter sessions one collector carries at once,
	// as its radio scheduler allows (0: DefaultCollectorCapacity). The
	// simulator does not enforce it; it counts sessions so that a test can
	// check the head-end kept to it (MaxSessions).
	Capacity int
}

// HopClass is one radio hop.
type HopClass struct {
	Latency        time.Duration // one way
	BytesPerSecond int           // 0: not limited
}

// DefaultCollectorCapacity is a collector's sessions at once when the
// mesh does not say.
const DefaultCollectorCapacity = 16

// Hop counts: an urban meter is 1..4 hops from its collector, a rural one
// 2..8 (a sparse mesh relays further).
const (
	urbanMaxHops = 4
	ruralMinHops = 2
	ruralMaxHops = 8
)

// mesh is a fleet's running mesh.
type mesh struct {
	cfg  Mesh
	seed uint64
	n    int

	mu       sync.Mutex
	down     map[int]bool
	inFlight []int          // sessions in flight per collector
	maxSeen  []int          // the most sessions in flight per collector
	sessions map[int]uint64 // sessions per meter so far
}

func newMesh(cfg Mesh, seed uint64, n int) (*mesh, error) {
	if cfg.Collectors < 1 || cfg.Collectors > n {
		return nil, fmt.Errorf("sim: mesh of %d collectors for %d meters: want 1..%d", cfg.Collectors, n, n)
	}
	if cfg.Rural < 0 || cfg.Rural > 1 || cfg.HopLoss < 0 || cfg.HopLoss >= 1 || cfg.DownFraction < 0 || cfg.DownFraction > 1 {
		return nil, fmt.Errorf("sim: mesh rural fraction %v, hop loss %v, down fraction %v: want [0, 1]", cfg.Rural, cfg.HopLoss, cfg.DownFraction)
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 3
	}
	if cfg.RuralFactor <= 0 {
		cfg.RuralFactor = 3
	}
	if cfg.Capacity <= 0 {
		cfg.Capacity = DefaultCollectorCapacity
	}
	if cfg.LostAfter <= 0 {
		cfg.LostAfter = lostSession
	}
	m := &mesh{cfg: cfg, seed: seed, n: n, down: map[int]bool{},
		inFlight: make([]int, cfg.Collectors), maxSeen: make([]int, cfg.Collectors)}
	for _, id := range cfg.Down {
		c, ok := m.parse(id)
		if !ok {
			return nil, fmt.Errorf("sim: mesh: no collector %q among %d", id, cfg.Collectors)
		}
		m.down[c] = true
	}
	for c := range cfg.Collectors {
		if unit(mix(seed^0x646f776e^uint64(c)<<20)) < cfg.DownFraction {
			m.down[c] = true
		}
	}
	return m, nil
}

// mix is SplitMix64's finaliser: a well spread hash of its input.
func mix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// CollectorID names collector c.
func CollectorID(c int) string { return fmt.Sprintf("col-%04d", c) }

func (m *mesh) parse(id string) (int, bool) {
	var c int
	if _, err := fmt.Sscanf(id, "col-%d", &c); err != nil || c < 0 || c >= m.cfg.Collectors || CollectorID(c) != id {
		return 0, false
	}
	return c, true
}

// collector returns meter i's collector: contiguous blocks of indexes.
func (m *mesh) collector(i int) int { return int(int64(i) * int64(m.cfg.Collectors) / int64(m.n)) }

func (m *mesh) rural(c int) bool { return unit(mix(m.seed^0x6d657368^uint64(c)<<20)) < m.cfg.Rural }

// hops returns meter i's hop count to its collector.
func (m *mesh) hops(i int) int {
	h := mix(m.seed ^ 0x686f7073 ^ uint64(i)<<8)
	if m.rural(m.collector(i)) {
		return ruralMinHops + int(h%uint64(ruralMaxHops-ruralMinHops+1))
	}
	return 1 + int(h%urbanMaxHops)
}

// hop returns the hop class of meter i's path.
func (m *mesh) hop(i int) HopClass {
	h := m.cfg.Hop
	if m.rural(m.collector(i)) {
		h.Latency = time.Duration(float64(h.Latency) * m.cfg.RuralFactor)
		if h.BytesPerSecond > 0 {
			h.BytesPerSecond = max(1, int(float64(h.BytesPerSecond)/m.cfg.RuralFactor))
		}
	}
	return h
}

// enter counts a session on collector c, refusing it when the collector
// is down.
func (m *mesh) enter(c int) (leave func(), ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down[c] {
		return nil, false
	}
	m.inFlight[c]++
	m.maxSeen[c] = max(m.maxSeen[c], m.inFlight[c])
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			m.inFlight[c]--
			m.mu.Unlock()
		})
	}, true
}

// path is one session's way through the mesh: it costs each exchange its
// hops' latency and link-layer retries, and sometimes loses it.
type path struct {
	m     *mesh
	meter int
	conn  uint64 // tells one session's draws from another's
	n     uint64 // exchanges so far
	hops  int
	hop   HopClass
	leave func() // ends the session's count on its collector
	// active is true while the session counts on its collector: from
	// the connection to the release response.
	active    bool
	releasing bool // a release request awaits its answer
}

// reenter counts the path's session on its collector again.
func (p *path) reenter() (func(), bool) {
	leave, ok := p.m.enter(p.m.collector(p.meter))
	if !ok {
		return func() {}, false
	}
	return leave, true
}

func (m *mesh) path(i int, conn uint64) *path {
	return &path{m: m, meter: i, conn: conn, hops: m.hops(i), hop: m.hop(i)}
}

// exchange carries one request of reqBytes and its response of respBytes
// over the path: it returns the time it took and whether it got through.
// Each hop's frame is retried by the link layer; a frame that fails every
// try loses the exchange.
func (p *path) exchange(reqBytes, respBytes int) (time.Duration, bool) {
	p.n++
	var d time.Duration
	per := 2 * p.hop.Latency
	if p.hop.BytesPerSecond > 0 {
		per += time.Duration(int64(reqBytes+respBytes) * int64(time.Second) / int64(p.hop.BytesPerSecond))
	}
	loss := p.m.cfg.HopLoss
	for h := range p.hops {
		d += per
		if loss == 0 {
			continue
		}
		ok := false
		for try := range p.m.cfg.Retries + 1 {
			r := mix(p.m.seed ^ uint64(p.meter)<<24 ^ p.conn<<44 ^ p.n<<12 ^ uint64(h)<<4 ^ uint64(try))
			if unit(r) >= loss {
				ok = true
				break
			}
			d += per // the retry after the link layer's acknowledgement timed out
		}
		if !ok {
			return d, false
		}
	}
	return d, true
}

// wait holds the exchange back for d; it ends early with ctx.
func wait(ctx context.Context, d time.Duration) error {
	if d < time.Millisecond {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lostSession is how long a session whose exchange was lost stays silent
// before the collector drops it, unless the mesh says otherwise.
const lostSession = 30 * time.Second

// Collector returns meter i's collector id, or "" when the fleet has no
// mesh.
func (f *Fleet) Collector(i int) string {
	if f.mesh == nil || i < 0 || i >= f.n {
		return ""
	}
	return CollectorID(f.mesh.collector(i))
}

// Collectors returns the mesh's collector ids in order (nil without a
// mesh).
func (f *Fleet) Collectors() []string {
	if f.mesh == nil {
		return nil
	}
	out := make([]string, f.mesh.cfg.Collectors)
	for c := range out {
		out[c] = CollectorID(c)
	}
	return out
}

// Hops returns meter i's hops to its collector (0 without a mesh).
func (f *Fleet) Hops(i int) int {
	if f.mesh == nil || i < 0 || i >= f.n {
		return 0
	}
	return f.mesh.hops(i)
}

// SetCollectorDown takes a collector out of service or back: the meters
// behind a down collector refuse every connection.
func (f *Fleet) SetCollectorDown(id string, down bool) error {
	if f.mesh == nil {
		return fmt.Errorf("sim: collector %q: the fleet has no mesh", id)
	}
	c, ok := f.mesh.parse(id)
	if !ok {
		return fmt.Errorf("sim: no collector %q among %d", id, f.mesh.cfg.Collectors)
	}
	f.mesh.mu.Lock()
	f.mesh.down[c] = down
	f.mesh.mu.Unlock()
	return nil
}

// CollectorsDown returns the collectors out of service, in order.
func (f *Fleet) CollectorsDown() []string {
	if f.mesh == nil {
		return nil
	}
	f.mesh.mu.Lock()
	defer f.mesh.mu.Unlock()
	var out []string
	for c, d := range f.mesh.down {
		if d {
			out = append(out, CollectorID(c))
		}
	}
	slices.Sort(out)
	return out
}

// MaxSessions returns, per collector, the most meter sessions it carried
// at once since the fleet started.
func (f *Fleet) MaxSessions() map[string]int {
	if f.mesh == nil {
		return nil
	}
	f.mesh.mu.Lock()
	defer f.mesh.mu.Unlock()
	out := make(map[string]int, len(f.mesh.maxSeen))
	for c, v := range f.mesh.maxSeen {
		out[CollectorID(c)] = v
	}
	return out
}

// CollectorCapacity is the capacity the mesh gives every collector (0
// without a mesh).
func (f *Fleet) CollectorCapacity() int {
	if f.mesh == nil {
		return 0
	}
	return f.mesh.cfg.Capacity
}

// meshOpen admits a connection to meter i through its collector and
// returns its path: false when the collector is down; a nil path without
// a mesh. The meter's own session count picks the path's draws, so that a
// rerun of the same sessions loses the same exchanges.
func (f *Fleet) meshOpen(i int) (*path, bool) {
	if f.mesh == nil {
		return nil, true
	}
	c := f.mesh.collector(i)
	leave, ok := f.mesh.enter(c)
	if !ok {
		return nil, false
	}
	f.mesh.mu.Lock()
	if f.mesh.sessions == nil {
		f.mesh.sessions = map[int]uint64{}
	}
	f.mesh.sessions[i]++
	conn := f.mesh.sessions[i]
	f.mesh.mu.Unlock()
	p := f.mesh.path(i, conn)
	p.leave, p.active = leave, true
	return p, true
}

// close ends the path's count on its collector, if it still counts.
func (p *path) close() {
	if p != nil {
		p.leave()
	}
}

// meshDelay holds a response back for its way through the mesh; a lost
// exchange leaves the session silent until the head-end gives up (or the
// collector drops it).
func (t *faultyTransport) meshDelay(ctx context.Context, apdu []byte) error {
	n := len(apdu)
	if !t.path.active {
		// A new association on the same connection (after a public
		// client's pre-read, say) is a session on the collector again.
		t.path.leave, _ = t.path.reenter()
		t.path.active = true
	}
	if t.path.releasing {
		// The collector's session ends with the answer to a release
		// request, whatever it says: the head-end starts the next one
		// once it has it.
		t.path.active, t.path.releasing = false, false
		t.path.leave()
	}
	d, ok := t.path.exchange(t.pending, n+wrapperHeader)
	if t.link.BytesPerSecond <= 0 && t.link.Latency <= 0 {
		t.pending = 0 // the link's own delay counts them otherwise
	}
	if !ok {
		// The collector gave the exchange up: its session is gone,
		// though the meter's side waits on.
		t.path.leave()
		if err := wait(ctx, d+t.path.m.cfg.LostAfter); err != nil {
			return err
		}
		return errExchangeLost
	}
	return wait(ctx, d)
}

// tagRLRQ is the ACSE release request's tag (IEC 62056-5-3).
const tagRLRQ = 0x62

// sawRequest notes a release request on the path.
func (p *path) sawRequest(b []byte) {
	if len(b) > 0 && b[0] == tagRLRQ {
		p.releasing = true
	}
}

var errExchangeLost = errors.New("sim: exchange lost in the mesh")

// InFlight returns, per collector, the meter sessions it carries now.
func (f *Fleet) InFlight() map[string]int {
	if f.mesh == nil {
		return nil
	}
	f.mesh.mu.Lock()
	defer f.mesh.mu.Unlock()
	out := make(map[string]int, len(f.mesh.inFlight))
	for c, v := range f.mesh.inFlight {
		out[CollectorID(c)] = v
	}
	return out
}

// segmentOf is meter i's network segment in the manifest: its collector
// behind a mesh, else its cell of a thousand meters.
func (f *Fleet) segmentOf(i int, id uint64) string {
	if c := f.Collector(i); c != "" {
		return c
	}
	return fmt.Sprintf("cell-%d", id/1000)
}
