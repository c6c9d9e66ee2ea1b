package c1222

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/psem"
)

// A meter answers each EPSEM service with a psem.Exchanger: a
// psem.Server over a c1219.Store, built Sessionless since C12.22 requests
// need no logon. Calls to it are serialised, one request at a time as on
// the meter's single application.
// MeterConfig is the meter side of C12.22.
type MeterConfig struct {
	ApTitle ApTitle          // this meter's
	Base    ApTitle          // resolves relative ApTitles; Root when zero
	Keys    map[uint8][]byte // AES-128 keys by key id

	// MinMode is the weakest security mode a request may use; a request
	// below it is refused unanswered.
	MinMode SecurityMode

	EDClass     []byte        // the device class responses name; nil omits it
	MaxAPDU     int           // segment responses larger than this; 0 never does
	IdleTimeout time.Duration // how long a connection may sit silent; 5 min when zero
	Timeout     time.Duration // bound on writing a response; DefaultTimeout when zero

	// ReplayWindow is how many authenticated requests per calling ApTitle
	// the meter remembers to refuse their replays; 1024 when zero.
	ReplayWindow int

	// Refused, when set, is told of every request refused unanswered
	// (wrong key, tampered, replayed, too weak, for another ApTitle).
	Refused func(calling ApTitle, err error)
}

// ErrReplay refuses a request whose invocation id and initialisation
// vector the meter has already answered.
var ErrReplay = errors.New("c1222: replayed request")

// ErrWeakSecurity refuses a request below the meter's security mode.
var ErrWeakSecurity = errors.New("c1222: security mode below the meter's")

// ErrNotForMe refuses a request for another ApTitle.
var ErrNotForMe = errors.New("c1222: request for another ApTitle")

// Meter answers C12.22 requests with a Handler, on any number of
// connections; its replay memory spans them all.
type Meter struct {
	cfg  MeterConfig
	keys *Keys
	h    psem.Exchanger
	hmu  sync.Mutex

	mu   sync.Mutex
	seen map[string]*replayWindow
	inv  uint32
}

type replayKey struct {
	inv uint32
	iv  [16]byte
}

type replayWindow struct {
	set  map[replayKey]struct{}
	ring []replayKey
	next int
}

// NewMeter checks cfg and returns a meter answering with h.
func NewMeter(cfg MeterConfig, h psem.Exchanger) (*Meter, error) {
	if h == nil {
		return nil, errors.New("c1222: meter without a PSEM server")
	}
	if cfg.ApTitle.IsZero() {
		return nil, errors.New("c1222: meter without an ApTitle")
	}
	if cfg.MinMode > ModeCiphertext {
		return nil, fmt.Errorf("c1222: security mode %d unknown", cfg.MinMode)
	}
	keys, err := NewKeys(cfg.Keys)
	if err != nil {
		return nil, err
	}
	if cfg.MinMode != ModeClear && len(cfg.Keys) == 0 {
		return nil, errors.New("c1222: a secured meter without keys")
	}
	if cfg.ReplayWindow <= 0 {
		cfg.ReplayWindow = 1024
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	var seed [2]byte
	rand.Read(seed[:])
	return &Meter{cfg: cfg, keys: keys, h: h, seen: map[string]*replayWindow{}, inv: uint32(binary.BigEndian.Uint16(seed[:]))}, nil
}

func (m *Meter) base() ApTitle {
	if m.cfg.Base.IsZero() {
		return Root
	}
	return m.cfg.Base
}

// Serve answers the requests arriving on conn until the peer closes it,
// it idles past the idle timeout, or ctx ends; it closes conn.
func Serve(ctx context.Context, conn net.Conn, cfg MeterConfig, h psem.Exchanger) error {
	m, err := NewMeter(cfg, h)
	if err != nil {
		conn.Close()
		return err
	}
	return m.Serve(ctx, conn)
}

// Listen serves every connection ln accepts until ctx ends.
func (m *Meter) Listen(ctx context.Context, ln net.Listener) error {
	return linkio.Serve(ctx, ln, "c1222", m.Serve, nil)
}

// Serve answers the requests on one connection, as the package's Serve.
func (m *Meter) Serve(ctx context.Context, conn net.Conn) error {
	defer conn.Close()
	return m.serveStream(ctx, newStream(conn, m.base()))
}

func (m *Meter) serveStream(ctx context.Context, s *stream) error {
	for {
		a, _, err := s.read(ctx, time.Now().Add(m.cfg.IdleTimeout))
		if err != nil {
			var mal *malformedError
			if errors.As(err, &mal) {
				m.refuse(ApTitle{}, err)
				continue
			}
			if ctx.Err() != nil || isClosed(err) {
				return nil
			}
			return err
		}
		if a.IsResponse() {
			continue // not a request; nothing to answer
		}
		reply, err := m.answer(ctx, a)
		if err != nil {
			m.refuse(a.Calling, err)
			continue
		}
		if reply == nil {
			continue
		}
		wctx, cancel := withTimeout(ctx, m.cfg.Timeout)
		err = s.write(wctx, reply, m.cfg.MaxAPDU)
		cancel()
		if err != nil {
			return fmt.Errorf("c1222: %s: response to %s: %w", m.cfg.ApTitle, a.Calling, err)
		}
	}
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, errEOF)
}

func (m *Meter) refuse(calling ApTitle, err error) {
	if m.cfg.Refused != nil {
		m.cfg.Refused(calling, err)
	}
}

// answer authenticates a request and runs its services; it returns the
// response APDU, nil when none is due, or the reason it is refused
// unanswered.
func (m *Meter) answer(ctx context.Context, a *APDU) (*APDU, error) {
	base := m.base()
	if !a.Called.IsZero() && !a.Called.Equal(m.cfg.ApTitle, base) {
		return nil, fmt.Errorf("%w: %s", ErrNotForMe, a.Called)
	}
	if a.Calling.IsZero() {
		return nil, errors.New("c1222: request without a calling ApTitle")
	}
	e, err := Open(a, m.keys, base)
	if err != nil {
		return nil, err
	}
	if e.Mode < m.cfg.MinMode {
		return nil, fmt.Errorf("%w: mode %d", ErrWeakSecurity, e.Mode)
	}
	if e.Mode != ModeClear && !m.remember(a) {
		return nil, fmt.Errorf("%w: invocation id %d from %s", ErrReplay, a.CallingInvocation, a.Calling)
	}
	resp := &EPSEM{Mode: e.Mode, Response: RespondNever, EDClass: m.cfg.EDClass}
	exception := false
	for _, req := range e.Services {
		m.hmu.Lock()
		r, err := m.h.Exchange(ctx, req)
		m.hmu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("c1222: %s: request 0x%02X: %w", m.cfg.ApTitle, req[0], err)
		}
		if len(r) == 0 {
			r = []byte{byte(psem.ERR)}
		}
		if r[0] != 0 {
			exception = true
		}
		resp.Services = append(resp.Services, r)
	}
	switch e.Response {
	case RespondNever:
		return nil, nil
	case RespondOnException:
		if !exception {
			return nil, nil
		}
	}
	m.mu.Lock()
	m.inv = (m.inv + 1) & 0xFFFF
	inv := m.inv
	m.mu.Unlock()
	r := &APDU{
		Called:              a.Calling,
		Calling:             m.cfg.ApTitle,
		CalledInvocation:    a.CallingInvocation,
		HasCalledInvocation: true,
		CallingInvocation:   inv,
	}
	if e.Mode != ModeClear {
		r.HasAuth, r.KeyID, r.IV = true, a.KeyID, newIV()
	}
	if err := Seal(r, resp, m.keys, base); err != nil {
		return nil, err
	}
	return r, nil
}

// remember records an authenticated request and reports whether it is
// new. Only messages that verified are remembered, so a forger cannot
// fill the window.
func (m *Meter) remember(a *APDU) bool {
	k := replayKey{inv: a.CallingInvocation}
	copy(k.iv[:], a.IV)
	peer := a.Calling.Key(m.base())
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.seen[peer]
	if w == nil {
		w = &replayWindow{set: map[replayKey]struct{}{}, ring: make([]replayKey, m.cfg.ReplayWindow)}
		m.seen[peer] = w
	}
	if _, dup := w.set[k]; dup {
		return false
	}
	if len(w.set) == len(w.ring) {
		delete(w.set, w.ring[w.next])
	}
	w.ring[w.next] = k
	w.next = (w.next + 1) % len(w.ring)
	w.set[k] = struct{}{}
	return true
}

var errEOF = io.EOF
