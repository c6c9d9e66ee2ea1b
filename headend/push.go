package headend

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/wrapper"
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

// ErrUnknownSender is returned by a Sender lookup for a system title no
// registered meter has.
var ErrUnknownSender = errors.New("headend: unknown sender")

// Sender finds the registered meter with a system title and opens its
// secrets.
type Sender func(ctx context.Context, systemTitle []byte) (cim.Meter, Secrets, error)

// PushDecoder is implemented by drivers whose meters push.
type PushDecoder interface {
	// DecodePush unprotects and decodes one pushed APDU. Errors wrapping
	// ErrUnknownSender, or classified by Cause as auth, say who is to blame.
	DecodePush(ctx context.Context, apdu []byte, sender Sender) (Push, error)
}

// PushConfig bounds the push listener.
type PushConfig struct {
	// MaxConns caps connections served at once; more wait in the backlog.
	MaxConns int
	// IdleTimeout closes a connection that sends nothing for that long.
	IdleTimeout time.Duration
	// MaxPerConn closes a connection after that many messages.
	MaxPerConn int
	// PerMeterBurst and PerMeterEvery rate-limit one meter: a burst of
	// PerMeterBurst, then one message per PerMeterEvery. A flooding meter
	// loses its own excess, nobody else's.
	PerMeterBurst int
	PerMeterEvery time.Duration
}

func (c *PushConfig) defaults() {
	if c.MaxConns <= 0 {
		c.MaxConns = 512
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
}

// pushMaxAPDU bounds one pushed APDU: notifications are small.
const pushMaxAPDU = 4096

// PushListener accepts connections meters open themselves and turns their
// notifications into events on the bus.
type PushListener struct {
	h   *HeadEnd
	dec PushDecoder
	cfg PushConfig

	mu      sync.Mutex
	buckets map[string]*bucket // meter → tokens

	titleMu sync.Mutex
	titles  map[string]string // hex system title → meter mRID
	loaded  time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewPushListener builds a listener that decodes with dec.
func (h *HeadEnd) NewPushListener(dec PushDecoder, cfg PushConfig) *PushListener {
	cfg.defaults()
	return &PushListener{h: h, dec: dec, cfg: cfg, buckets: map[string]*bucket{}}
}

// Serve accepts connections on ln until ctx ends.
func (p *PushListener) Serve(ctx context.Context, ln net.Listener) error {
	slots := make(chan struct{}, p.cfg.MaxConns)
	return linkio.Serve(ctx, ln, "push listener", func(ctx context.Context, c net.Conn) error {
		select {
		case slots <- struct{}{}:
		default:
			// Full: a meter retries later; taking it now would let a storm
			// of connections pin every goroutine.
			p.h.m.pushes.WithLabelValues("busy").Inc()
			c.Close()
			return nil
		}
		defer func() { <-slots }()
		p.serveConn(ctx, c)
		return nil
	}, nil)
}

func (p *PushListener) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	wc := wrapper.NewConn(c, 1, 1, wrapper.WithAnyRemote(), wrapper.WithMaxAPDU(pushMaxAPDU))
	for n := 0; n < p.cfg.MaxPerConn; n++ {
		rctx, cancel := context.WithTimeout(ctx, p.cfg.IdleTimeout)
		b, err := wc.Recv(rctx)
		cancel()
		if err != nil {
			return // closed, idle, or not the wrapper: nothing to answer
		}
		if err := p.handle(ctx, b, c.RemoteAddr().String()); err != nil {
			p.h.log.Debug("push rejected", "remote", c.RemoteAddr().String(), "err", err)
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

// handle decodes, checks and publishes one pushed APDU.
func (p *PushListener) handle(ctx context.Context, b []byte, remote string) error {
	push, err := p.dec.DecodePush(ctx, b, p.sender)
	if err != nil {
		res := "malformed"
		switch {
		case errors.Is(err, ErrUnknownSender):
			res = "unknown-sender"
		case p.causeOf(err) == store.OutcomeAuth:
			res = "auth"
		}
		p.h.m.pushes.WithLabelValues(res).Inc()
		return &pushError{res, res != "auth", err}
	}
	if !p.allow(push.MeterID) {
		p.h.m.pushes.WithLabelValues("rate-limited").Inc()
		return &pushError{"rate-limited", true, fmt.Errorf("meter %s pushes too often", push.MeterID)}
	}
	if push.CounterName != "" {
		fresh, err := p.h.st.AdvanceCounter(ctx, push.MeterID, push.CounterName, push.Counter)
		if err != nil {
			p.h.m.pushes.WithLabelValues("store-error").Inc()
			return &pushError{"store-error", true, err}
		}
		if !fresh {
			p.h.m.pushes.WithLabelValues("replay").Inc()
			now := p.h.now()
			p.h.emit(ctx, cim.EndDeviceEvent{MRID: fmt.Sprintf("he/%s/replay/%d", push.MeterID, push.Counter), MeterID: push.MeterID,
				Type: EventPushReplayed, CreatedAt: now, Severity: "warning", Reason: "pushed message with a used invocation counter rejected",
				Details: map[string]string{"counter": fmt.Sprint(push.Counter), "remote": remote, "source": "head-end"}})
			return &pushError{"replay", true, fmt.Errorf("meter %s: invocation counter %d already seen", push.MeterID, push.Counter)}
		}
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

func (p *PushListener) causeOf(err error) string {
	if d, ok := p.dec.(Driver); ok {
		return d.Cause(err)
	}
	return ""
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

// sender resolves a system title through the registry: meters carry
// theirs in the "system_title" tag. The index is reloaded when a title is
// not found, at most once a minute, so unknown senders cannot make every
// message scan the registry.
func (p *PushListener) sender(ctx context.Context, title []byte) (cim.Meter, Secrets, error) {
	key := hex.EncodeToString(title)
	p.titleMu.Lock()
	id, ok := p.titles[key]
	if !ok && time.Since(p.loaded) > time.Minute {
		p.loaded = time.Now()
		titles, err := p.loadTitles(ctx)
		if err != nil {
			p.titleMu.Unlock()
			return cim.Meter{}, Secrets{}, err
		}
		p.titles = titles
		id, ok = titles[key]
	}
	p.titleMu.Unlock()
	if !ok {
		return cim.Meter{}, Secrets{}, fmt.Errorf("%w: system title %s", ErrUnknownSender, key)
	}
	m, err := p.h.st.Meter(ctx, id)
	if err != nil {
		return cim.Meter{}, Secrets{}, fmt.Errorf("meter %s: %w", id, err)
	}
	t, _, err := p.h.target(ctx, m)
	if err != nil {
		return cim.Meter{}, Secrets{}, err
	}
	return m, t.Secrets, nil
}

func (p *PushListener) loadTitles(ctx context.Context) (map[string]string, error) {
	titles := map[string]string{}
	q := store.MeterQuery{Limit: 1000}
	for {
		ms, err := p.h.st.Meters(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("loading system titles: %w", err)
		}
		for _, m := range ms {
			if t := m.Tags["system_title"]; t != "" {
				titles[t] = m.MRID
			}
		}
		if len(ms) < q.Limit {
			return titles, nil
		}
		q.After = ms[len(ms)-1].MRID
	}
}
