package headend

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/store"
)

// Push is one pushed message after its driver decoded it.
type Push struct {
	MeterID string
	// CounterName and Counter are the sender's invocation counter: a
	// value not above the stored one is a replay.
	CounterName string
	Counter     uint64
	Events      []cim.EndDeviceEvent
	Registers   []cim.Reading
}

// ErrUnknownSender is the cause of a push whose sender no registered
// meter is.
var ErrUnknownSender = errors.New("headend: unknown sender")

// ErrFraming is wrapped by a FrameReader's error when the peer does not
// speak the protocol's framing at all.
var ErrFraming = errors.New("headend: not the protocol's framing")

// PushDriver is a Driver whose meters open connections themselves to
// push. The driver owns the protocol's side of it: the framing, who a
// frame says it is from, and its authentication and decoding; the
// listener owns the rest (slots, deadlines, rate limits, replay, security
// events, the bus).
type PushDriver interface {
	Driver
	// PushFrames frames what arrives on a connection a meter opened, in
	// frames of at most max bytes.
	PushFrames(c net.Conn, max int) FrameReader
	// PushSender returns the push identity a frame claims, as the
	// driver's Registration.PushID has it. It is a claim: DecodePush
	// proves it or not.
	PushSender(frame []byte) (string, error)
	// DecodePush authenticates and decodes one frame from the meter of t.
	// An error Cause calls OutcomeAuth says it does not authenticate
	// under the meter's credentials.
	DecodePush(ctx context.Context, t Target, frame []byte) (Push, error)
}

// FrameReader reads the frames of one connection.
type FrameReader interface {
	// ReadFrame returns the next frame; the context bounds the whole
	// frame, not each read. An error wrapping ErrFraming says the peer
	// does not speak the framing, and nothing more of the connection can
	// be read.
	ReadFrame(ctx context.Context) ([]byte, error)
}

// PushConfig bounds the push listener.
type PushConfig struct {
	// MaxConns caps connections served at once. When every slot is
	// taken, the connection that has waited longest for its first frame
	// is dropped to make room; when every slot serves a meter that has
	// sent one, the newcomer is refused.
	MaxConns int
	// MaxPerSource caps the connections of one source address, so that
	// one host cannot take every slot however fast it reconnects.
	MaxPerSource int
	// FirstFrameTimeout is how long a new connection has to deliver its
	// first complete frame: a meter sends at once, a trickle is cut off.
	FirstFrameTimeout time.Duration
	// IdleTimeout closes a connection whose next complete frame does not
	// arrive within that long.
	IdleTimeout time.Duration
	// MaxPerConn closes a connection after that many messages.
	MaxPerConn int
	// PerMeterBurst and PerMeterEvery rate-limit one meter: a burst of
	// PerMeterBurst, then one message per PerMeterEvery. A flooding meter
	// loses its own excess, nobody else's.
	PerMeterBurst int
	PerMeterEvery time.Duration
	// SecurityEventEvery spaces the events raised about one sender's
	// refused pushes (unknown sender, bad tag, replay): the first
	// is recorded, later ones within the period are counted into the
	// next. Across all senders at most a burst of 20, then one per 6 s,
	// are recorded, so a flood cannot fill the event table.
	SecurityEventEvery time.Duration
}

func (c *PushConfig) defaults() {
	if c.MaxConns <= 0 {
		c.MaxConns = 512
	}
	if c.MaxPerSource <= 0 {
		c.MaxPerSource = 8
	}
	if c.FirstFrameTimeout <= 0 {
		c.FirstFrameTimeout = 5 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 10 * time.Second
	}
	if c.MaxPerConn <= 0 {
		c.MaxPerConn = 32
	}
	if c.PerMeterBurst <= 0 {
		c.PerMeterBurst = 20
	}
	if c.PerMeterEvery <= 0 {
		c.PerMeterEvery = 10 * time.Second
	}
	if c.SecurityEventEvery <= 0 {
		c.SecurityEventEvery = time.Minute
	}
}

// pushMaxFrame bounds one pushed frame: notifications are small.
const pushMaxFrame = 4096

// acceptStallReady is how long accepts may fail in a row before the
// listener reports itself not ready.
const acceptStallReady = 5 * time.Second

// PushListener accepts connections the meters of one protocol open
// themselves and turns their notifications into events on the bus.
type PushListener struct {
	h   *HeadEnd
	drv PushDriver
	cfg PushConfig

	mu      sync.Mutex
	buckets map[string]*bucket // meter → tokens

	idMu   sync.Mutex
	ids    map[string]string // push id → meter mRID
	loaded time.Time

	slots  slotTable
	events eventGate

	stateMu      sync.Mutex
	dead         error     // why Serve stopped for good
	failingSince time.Time // first of the accepts failing now
	failErr      error
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewPushListener builds a listener for the meters of d's protocol.
func (h *HeadEnd) NewPushListener(d PushDriver, cfg PushConfig) *PushListener {
	cfg.defaults()
	p := &PushListener{h: h, drv: d, cfg: cfg, buckets: map[string]*bucket{}}
	p.slots = slotTable{max: cfg.MaxConns, perSource: cfg.MaxPerSource, bySource: map[netip.Addr]int{}}
	p.events = eventGate{every: cfg.SecurityEventEvery, last: map[string]*gateEntry{},
		global: bucket{tokens: eventBurst, at: time.Now()}}
	return p
}

// Serve accepts connections on ln until ctx ends. Accepts that fail for a
// passing cause (out of descriptors) are retried after a back-off, logged
// and counted; an error is returned only when the listener fails for
// good, and Ready reports it from then on.
func (p *PushListener) Serve(ctx context.Context, ln net.Listener) error {
	err := linkio.Serve(ctx, ln, "push listener", func(ctx context.Context, c net.Conn) error {
		pc, cause, evicted := p.slots.admit(c)
		if evicted {
			p.refused("evicted")
		}
		if pc == nil {
			// A meter retries later; taking it now would let a storm of
			// connections pin every goroutine.
			p.refused(cause)
			c.Close()
			return nil
		}
		p.h.m.pushConns.Inc()
		defer func() {
			p.slots.release(pc)
			p.h.m.pushConns.Dec()
		}()
		p.serveConn(ctx, pc)
		return nil
	}, nil, linkio.OnAcceptError(p.acceptFailed, p.acceptRecovered))
	if err != nil {
		p.stateMu.Lock()
		p.dead = err
		p.stateMu.Unlock()
	}
	return err
}

func (p *PushListener) refused(cause string) { p.h.m.pushRefused.WithLabelValues(cause).Inc() }

func (p *PushListener) acceptFailed(err error, wait time.Duration) {
	p.h.m.pushAccept.WithLabelValues(linkio.AcceptCause(err)).Inc()
	p.stateMu.Lock()
	first := p.failingSince.IsZero()
	if first {
		p.failingSince = time.Now()
	}
	p.failErr = err
	p.stateMu.Unlock()
	if first {
		p.h.log.Warn("push listener cannot accept; retrying", "err", err, "retry_in", wait.String())
	}
}

func (p *PushListener) acceptRecovered(failures int) {
	p.stateMu.Lock()
	since := p.failingSince
	p.failingSince, p.failErr = time.Time{}, nil
	p.stateMu.Unlock()
	p.h.log.Info("push listener accepts again", "failed_accepts", failures, "after", time.Since(since).Round(time.Millisecond).String())
}

// Ready reports an error when the listener has stopped for good, or has
// failed to accept for a while: /readyz must not say a node takes pushes
// when it cannot.
func (p *PushListener) Ready(context.Context) error {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if p.dead != nil {
		return fmt.Errorf("push listener stopped: %w", p.dead)
	}
	if !p.failingSince.IsZero() && time.Since(p.failingSince) > acceptStallReady {
		return fmt.Errorf("push listener has failed to accept for %s: %w", time.Since(p.failingSince).Round(time.Second), p.failErr)
	}
	return nil
}

func (p *PushListener) serveConn(ctx context.Context, pc *pushConn) {
	c := pc.c
	remote := c.RemoteAddr().String()
	fr := p.drv.PushFrames(c, pushMaxFrame)
	for n := 0; n < p.cfg.MaxPerConn; n++ {
		// A deadline for the whole frame, not for each byte: a trickle
		// of one byte a second cannot hold a slot.
		wait := p.cfg.IdleTimeout
		if n == 0 {
			wait = p.cfg.FirstFrameTimeout
		}
		rctx, cancel := context.WithTimeout(ctx, wait)
		b, err := fr.ReadFrame(rctx)
		cancel()
		if err != nil {
			if n == 0 && ctx.Err() == nil && !p.slots.wasEvicted(pc) {
				switch {
				case errors.Is(err, context.DeadlineExceeded):
					p.refused("first-frame-timeout")
				case errors.Is(err, ErrFraming):
					p.refused("framing")
				}
			}
			return // closed, idle, or not the framing: nothing to answer
		}
		if n == 0 {
			p.slots.framed(pc)
		}
		if err := p.handle(ctx, b, remote); err != nil {
			p.h.log.Debug("push rejected", "remote", remote, "err", err)
			var pe *pushError
			if errors.As(err, &pe) && pe.fatal {
				return
			}
		}
	}
}

type pushError struct {
	result string
	fatal  bool // close the connection
	err    error
}

func (e *pushError) Error() string { return e.result + ": " + e.err.Error() }
func (e *pushError) Unwrap() error { return e.err }

// handle decodes, checks and publishes one pushed frame. Authenticity
// (the driver opens the frame under the sender's credentials) and
// freshness (the invocation counter) are checked before the meter's rate
// limit is spent: a replayed or forged push must not cost the meter its
// next genuine alarm.
func (p *PushListener) handle(ctx context.Context, b []byte, remote string) error {
	refuse := func(res, meterID, pushID string, err error) error {
		switch res {
		case "unknown-sender":
			p.securityEvent(ctx, "", pushID, res, remote, err)
		case "auth":
			p.securityEvent(ctx, meterID, pushID, res, remote, err)
		}
		p.h.m.pushes.WithLabelValues(res).Inc()
		return &pushError{res, res != "auth", err}
	}
	pushID, err := p.drv.PushSender(b)
	if err != nil {
		return refuse("malformed", "", "", err)
	}
	m, err := p.sender(ctx, pushID)
	if err != nil {
		if errors.Is(err, ErrUnknownSender) {
			return refuse("unknown-sender", "", pushID, err)
		}
		return refuse("malformed", "", pushID, err)
	}
	t, _, err := p.h.target(ctx, m)
	if err != nil {
		return refuse("malformed", "", pushID, err)
	}
	push, err := p.drv.DecodePush(ctx, t, b)
	clear(t.Credentials)
	if err != nil {
		if p.drv.Cause(err) == OutcomeAuth {
			return refuse("auth", m.MRID, pushID, err)
		}
		return refuse("malformed", "", pushID, err)
	}
	push.MeterID = m.MRID
	if push.CounterName != "" {
		fresh, err := p.h.st.AdvanceCounter(ctx, push.MeterID, push.CounterName, push.Counter)
		if err != nil {
			p.h.m.pushes.WithLabelValues("store-error").Inc()
			return &pushError{"store-error", true, err}
		}
		if !fresh {
			p.h.m.pushes.WithLabelValues("replay").Inc()
			if n, ok := p.events.pass("replay/"+push.MeterID, time.Now()); ok {
				now := p.h.now()
				p.h.emit(ctx, cim.EndDeviceEvent{MRID: fmt.Sprintf("he/%s/replay/%d", push.MeterID, push.Counter), MeterID: push.MeterID,
					Type: EventPushReplayed, CreatedAt: now, Severity: "warning", Reason: "pushed message with a used invocation counter rejected",
					Details: map[string]string{"counter": fmt.Sprint(push.Counter), "remote": remote, "source": "head-end",
						"refused": strconv.Itoa(n)}})
			}
			return &pushError{"replay", true, fmt.Errorf("meter %s: invocation counter %d already seen", push.MeterID, push.Counter)}
		}
	}
	if !p.allow(push.MeterID) {
		p.h.m.pushes.WithLabelValues("rate-limited").Inc()
		return &pushError{"rate-limited", true, fmt.Errorf("meter %s pushes too often", push.MeterID)}
	}
	msgs := make([]outMsg, 0, len(push.Events)+1)
	for _, e := range push.Events {
		m, err := p.h.eventMsg(e)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	if len(push.Registers) > 0 {
		ms, err := p.h.collectionMsgs(push.MeterID, &Collection{Registers: push.Registers})
		if err != nil {
			return err
		}
		msgs = append(msgs, ms...)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := p.h.publish(pctx, msgs); err != nil {
		p.h.m.pushes.WithLabelValues("bus-error").Inc()
		return &pushError{"bus-error", true, err}
	}
	p.h.m.pushes.WithLabelValues("accepted").Inc()
	return nil
}

// UnregisteredSender is the meter of events about pushes from a sender no
// registered meter is; the push id it claimed is in the event's details.
const UnregisteredSender = "unregistered"

// securityEvent records a refused push (unknown sender, bad tag) as an
// authentication-failure event, at most one per sender and period and a
// bounded number overall: the event says how many were refused since the
// last one. An event about a registered meter goes through the bus like
// every other; one about an unknown sender is stored directly, since no
// meter exists for the ingest to file it under.
func (p *PushListener) securityEvent(ctx context.Context, meterID, pushID, cause, remote string, why error) {
	t := pushID
	key := cause + "/" + meterID + "/" + t
	n, ok := p.events.pass(key, time.Now())
	if !ok {
		return
	}
	now := p.h.now()
	ev := cim.EndDeviceEvent{MeterID: meterID, Type: EventAuthFailure, CreatedAt: now, Severity: "warning",
		Details: map[string]string{"source": "head-end", "cause": cause, "push_id": t, "protocol": p.drv.Protocol(), "remote": remote, "refused": strconv.Itoa(n)}}
	// The wall clock and a sequence keep event ids apart even when the
	// head-end's clock is simulated or stands still.
	seq := p.events.seq.Add(1)
	if meterID == "" {
		ev.MeterID = UnregisteredSender
		ev.MRID = fmt.Sprintf("he/%s/%s/push-unknown-sender/%d-%d", UnregisteredSender, t, time.Now().UnixNano(), seq)
		ev.Reason = "push from a sender no registered meter is"
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := p.h.st.AppendEvents(sctx, []cim.EndDeviceEvent{ev}); err != nil {
			p.h.log.Warn("push security event not stored", "push_id", t, "err", err)
		}
		return
	}
	ev.MRID = fmt.Sprintf("he/%s/push-auth/%d-%d", meterID, time.Now().UnixNano(), seq)
	ev.Reason = "pushed message does not authenticate under the meter's keys"
	ev.Details["error"] = why.Error()
	p.h.emit(ctx, ev)
}

// eventGate spaces security events per key and bounds them overall.
type eventGate struct {
	mu     sync.Mutex
	every  time.Duration
	last   map[string]*gateEntry
	global bucket
	seq    atomic.Uint64
}

type gateEntry struct {
	at      time.Time
	refused int // since the last event
}

// eventBurst and eventEvery bound security events across every sender.
const (
	eventBurst = 20
	eventEvery = 6 * time.Second
)

// pass counts one refusal under key and reports whether it becomes an
// event, with the refusals it stands for.
func (g *eventGate) pass(key string, now time.Time) (int, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.last[key]
	if !ok {
		if len(g.last) >= 10_000 {
			for k, v := range g.last {
				if now.Sub(v.at) > g.every {
					delete(g.last, k)
				}
			}
			if len(g.last) >= 10_000 {
				// Every entry is recent: a flood of distinct senders.
				// Only the global bound speaks for them now.
				clear(g.last)
			}
		}
		e = &gateEntry{}
		g.last[key] = e
	}
	e.refused++
	if ok && now.Sub(e.at) < g.every {
		return 0, false
	}
	g.global.tokens = min(eventBurst, g.global.tokens+now.Sub(g.global.at).Seconds()/eventEvery.Seconds())
	g.global.at = now
	if g.global.tokens < 1 {
		return 0, false
	}
	g.global.tokens--
	n := e.refused
	e.at, e.refused = now, 0
	return n, true
}

// pushConn is one connection holding a slot.
type pushConn struct {
	c       net.Conn
	src     netip.Addr
	elem    *list.Element // in slotTable.waiting until the first frame
	evicted bool
	gone    bool
}

// slotTable shares the listener's connection slots: a cap per source
// address and overall, and when full, room made by dropping the
// connection that has waited longest for its first frame. A peer that
// stalls thus holds a slot only until newcomers need it, and a meter that
// sends at once is never the one waiting longest.
type slotTable struct {
	mu        sync.Mutex
	max       int
	perSource int
	n         int
	bySource  map[netip.Addr]int
	waiting   list.List // *pushConn without a complete frame yet, oldest first
}

func sourceOf(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// admit takes a slot for c, or says why not; evicted says a connection
// still waiting for its first frame was dropped to make room.
func (t *slotTable) admit(c net.Conn) (_ *pushConn, cause string, evicted bool) {
	src := sourceOf(c)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.bySource[src] >= t.perSource {
		return nil, "per-source", false
	}
	if t.n >= t.max {
		front := t.waiting.Front()
		if front == nil {
			return nil, "busy", false
		}
		old := front.Value.(*pushConn)
		t.drop(old)
		old.evicted, evicted = true, true
		old.c.Close()
	}
	pc := &pushConn{c: c, src: src}
	pc.elem = t.waiting.PushBack(pc)
	t.n++
	t.bySource[src]++
	return pc, "", evicted
}

// drop gives pc's slot back; the caller holds mu.
func (t *slotTable) drop(pc *pushConn) {
	if pc.gone {
		return
	}
	pc.gone = true
	if pc.elem != nil {
		t.waiting.Remove(pc.elem)
		pc.elem = nil
	}
	t.n--
	if t.bySource[pc.src]--; t.bySource[pc.src] <= 0 {
		delete(t.bySource, pc.src)
	}
}

func (t *slotTable) release(pc *pushConn) {
	t.mu.Lock()
	t.drop(pc)
	t.mu.Unlock()
}

// framed marks pc as a connection that delivered a frame: it is no longer
// the first to go when room is needed.
func (t *slotTable) framed(pc *pushConn) {
	t.mu.Lock()
	if pc.elem != nil {
		t.waiting.Remove(pc.elem)
		pc.elem = nil
	}
	t.mu.Unlock()
}

func (t *slotTable) wasEvicted(pc *pushConn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return pc.evicted
}

// allow takes a token from the meter's bucket.
func (p *PushListener) allow(meterID string) bool {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.buckets[meterID]
	if !ok {
		if len(p.buckets) > 100_000 {
			// Bounded memory: forget buckets that have refilled.
			for k, v := range p.buckets {
				if now.Sub(v.at) > time.Duration(p.cfg.PerMeterBurst)*p.cfg.PerMeterEvery {
					delete(p.buckets, k)
				}
			}
		}
		b = &bucket{tokens: float64(p.cfg.PerMeterBurst), at: now}
		p.buckets[meterID] = b
	}
	b.tokens = min(float64(p.cfg.PerMeterBurst), b.tokens+now.Sub(b.at).Seconds()/p.cfg.PerMeterEvery.Seconds())
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sender finds the registered meter of the listener's protocol with a
// push id. The index is reloaded when an id is not found, at most once a
// minute, so unknown senders cannot make every message scan the registry.
func (p *PushListener) sender(ctx context.Context, pushID string) (cim.Meter, error) {
	p.idMu.Lock()
	id, ok := p.ids[pushID]
	if !ok && time.Since(p.loaded) > time.Minute {
		p.loaded = time.Now()
		ids, err := p.loadIDs(ctx)
		if err != nil {
			p.idMu.Unlock()
			return cim.Meter{}, err
		}
		p.ids = ids
		id, ok = ids[pushID]
	}
	p.idMu.Unlock()
	if !ok {
		return cim.Meter{}, fmt.Errorf("%w: %s push id %s", ErrUnknownSender, p.drv.Protocol(), pushID)
	}
	m, err := p.h.st.Meter(ctx, id)
	if err != nil {
		return cim.Meter{}, fmt.Errorf("meter %s: %w", id, err)
	}
	return m, nil
}

func (p *PushListener) loadIDs(ctx context.Context) (map[string]string, error) {
	ids := map[string]string{}
	q := store.MeterQuery{Protocol: p.drv.Protocol(), Limit: 1000}
	for {
		ms, err := p.h.st.Meters(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("loading push ids: %w", err)
		}
		for _, m := range ms {
			if m.PushID != "" {
				ids[m.PushID] = m.MRID
			}
		}
		if len(ms) < q.Limit {
			return ids, nil
		}
		q.After = ms[len(ms)-1].MRID
	}
}
