package c1222

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/psem"
)

// ErrUnreachable refuses a message for an ApTitle the relay has no route
// to.
var ErrUnreachable = errors.New("c1222: no route to the called ApTitle")

// RelayConfig is a C12.22 relay: it answers the registration, deregister
// and resolve services addressed to its own ApTitle (the master relay's
// part, played by the relay itself), and forwards every other message by
// its called ApTitle to the node registered (or routed) under it, without
// opening it: security stays end to end.
type RelayConfig struct {
	ApTitle ApTitle
	Base    ApTitle          // resolves relative ApTitles; Root when zero
	Keys    map[uint8][]byte // for the services addressed to the relay
	MinMode SecurityMode     // weakest mode those services may use

	// Routes are static routes: an absolute ApTitle in dotted form to
	// the TCP address of the node, dialed when first needed.
	Routes map[string]string

	Period      time.Duration // the registration period granted; an hour when zero
	IdleTimeout time.Duration // how long a connection may sit silent; 5 min when zero
	Timeout     time.Duration // bound on a dial or a write; DefaultTimeout when zero

	// Refused, when set, is told of each message the relay dropped.
	Refused func(calling ApTitle, err error)
}

// Relay routes C12.22 messages between the nodes connected to it.
type Relay struct {
	cfg   RelayConfig
	local *Meter

	mu      sync.Mutex
	routes  map[string]*relayConn // registered or learned, by absolute ApTitle
	natives map[string][]byte     // native addresses registered
	wg      sync.WaitGroup
}

type relayConn struct {
	s      *stream
	remote string
}

type relayConnKey struct{}

// NewRelay checks cfg and returns a relay.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if cfg.Period <= 0 {
		cfg.Period = time.Hour
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	r := &Relay{cfg: cfg, routes: map[string]*relayConn{}, natives: map[string][]byte{}}
	m, err := NewMeter(MeterConfig{ApTitle: cfg.ApTitle, Base: cfg.Base, Keys: cfg.Keys, MinMode: cfg.MinMode,
		IdleTimeout: cfg.IdleTimeout, Timeout: cfg.Timeout, Refused: cfg.Refused}, relayServices{r})
	if err != nil {
		return nil, fmt.Errorf("c1222: relay: %w", err)
	}
	r.local = m
	return r, nil
}

func (r *Relay) base() ApTitle { return r.local.base() }

// Listen serves the connections ln accepts until ctx ends, and the
// connections the relay dialed for its static routes with them.
func (r *Relay) Listen(ctx context.Context, ln net.Listener) error {
	defer r.wg.Wait()
	return linkio.Serve(ctx, ln, "c1222 relay", func(ctx context.Context, c net.Conn) error {
		return r.serveConn(ctx, &relayConn{s: newStream(c, r.base()), remote: c.RemoteAddr().String()})
	}, nil)
}

// Registered reports whether a node is registered (or routed) under ap.
func (r *Relay) Registered(ap ApTitle) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.routes[ap.Key(r.base())]
	return ok
}

func (r *Relay) refuse(calling ApTitle, err error) {
	if r.cfg.Refused != nil {
		r.cfg.Refused(calling, err)
	}
}

func (r *Relay) serveConn(ctx context.Context, rc *relayConn) error {
	defer r.forget(rc)
	for {
		a, raw, err := rc.s.read(ctx, time.Now().Add(r.cfg.IdleTimeout))
		if err != nil {
			var mal *malformedError
			if errors.As(err, &mal) {
				r.refuse(ApTitle{}, err)
				continue
			}
			if ctx.Err() != nil || isClosed(err) {
				return nil
			}
			return err
		}
		if a.Called.IsZero() || a.Called.Equal(r.cfg.ApTitle, r.base()) {
			if a.IsResponse() {
				continue
			}
			reply, err := r.local.answer(context.WithValue(ctx, relayConnKey{}, rc), a)
			if err != nil {
				r.refuse(a.Calling, err)
				continue
			}
			if reply != nil {
				wctx, cancel := withTimeout(ctx, r.cfg.Timeout)
				err = rc.s.write(wctx, reply, 0)
				cancel()
				if err != nil {
					return err
				}
			}
			continue
		}
		if !a.Calling.IsZero() {
			r.learn(a.Calling, rc)
		}
		to, err := r.route(ctx, a.Called)
		if err != nil {
			r.refuse(a.Calling, err)
			continue
		}
		wctx, cancel := withTimeout(ctx, r.cfg.Timeout)
		err = to.s.writeRaw(wctx, raw)
		cancel()
		if err != nil {
			r.refuse(a.Calling, fmt.Errorf("c1222: relay to %s: %w", a.Called, err))
			to.s.conn.Close()
		}
	}
}

// learn remembers where a caller is, so its answers find their way back,
// unless it registered elsewhere.
func (r *Relay) learn(ap ApTitle, rc *relayConn) {
	k := ap.Key(r.base())
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.routes[k]; !ok {
		r.routes[k] = rc
	}
}

func (r *Relay) register(ap ApTitle, native []byte, rc *relayConn) {
	k := ap.Key(r.base())
	r.mu.Lock()
	defer r.mu.Unlock()
	r.routes[k] = rc
	r.natives[k] = native
}

func (r *Relay) deregister(ap ApTitle) {
	k := ap.Key(r.base())
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.routes, k)
	delete(r.natives, k)
}

// forget drops every route through a closed connection.
func (r *Relay) forget(rc *relayConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, v := range r.routes {
		if v == rc {
			delete(r.routes, k)
			delete(r.natives, k)
		}
	}
}

// route finds the connection to ap: a registered or learned node, or a
// static route dialed now.
func (r *Relay) route(ctx context.Context, ap ApTitle) (*relayConn, error) {
	k := ap.Key(r.base())
	r.mu.Lock()
	rc, ok := r.routes[k]
	r.mu.Unlock()
	if ok {
		return rc, nil
	}
	addr, ok := r.cfg.Routes[k]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnreachable, ap)
	}
	dctx, cancel := withTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s at %s: %v", ErrUnreachable, ap, addr, err)
	}
	rc = &relayConn{s: newStream(c, r.base()), remote: addr}
	r.mu.Lock()
	if prev, ok := r.routes[k]; ok {
		r.mu.Unlock()
		c.Close()
		return prev, nil
	}
	r.routes[k] = rc
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		stop := context.AfterFunc(ctx, func() { c.Close() })
		defer stop()
		defer c.Close()
		r.serveConn(ctx, rc)
	}()
	return rc, nil
}

// relayServices answers the C12.22 network services addressed to the
// relay itself.
type relayServices struct{ r *Relay }

func (h relayServices) Exchange(ctx context.Context, req []byte) ([]byte, error) {
	r := h.r
	rc, _ := ctx.Value(relayConnKey{}).(*relayConn)
	switch req[0] {
	case ReqRegister:
		reg, err := ParseRegistration(req)
		if err != nil || rc == nil {
			return []byte{byte(psem.ERR)}, nil
		}
		r.register(reg.ApTitle, reg.NativeAddress, rc)
		info := byte(ConnConnectionMode | ConnAcceptConnections)
		return Registered{ApTitle: reg.ApTitle, Period: uint32(r.cfg.Period / time.Second), Info: info}.Marshal(), nil
	case ReqDeregister:
		ap, rest, err := readID(req[1:])
		if err != nil || len(rest) != 0 {
			return []byte{byte(psem.ERR)}, nil
		}
		r.deregister(ap)
		return []byte{byte(psem.OK)}, nil
	case ReqResolve:
		ap, rest, err := readID(req[1:])
		if err != nil || len(rest) != 0 {
			return []byte{byte(psem.ERR)}, nil
		}
		k := ap.Key(r.base())
		r.mu.Lock()
		rc, ok := r.routes[k]
		native := r.natives[k]
		r.mu.Unlock()
		if !ok {
			return []byte{byte(psem.UAT)}, nil
		}
		if native == nil {
			native = []byte(rc.remote)
		}
		if len(native) > 255 {
			native = native[:255]
		}
		return append([]byte{byte(psem.OK), byte(len(native))}, native...), nil
	}
	return []byte{byte(psem.SNS)}, nil
}

// RegisterConfig is how a meter registers with a relay before serving
// through it.
type RegisterConfig struct {
	Relay ApTitle      // the relay's ApTitle
	Mode  SecurityMode // security of the registration request
	KeyID uint8        // the key, among the meter's, the relay shares

	SerialNumber  ApTitle // the meter's electronic serial number
	DeviceClass   []byte  // 4 octets
	NativeAddress []byte
	Period        uint32 // seconds

	// Registered, when set, is told of the relay's answer.
	Registered func(Registered)
}

// ServeVia registers the meter with a relay over conn (a connection the
// meter dialed to it) and then answers the requests the relay forwards
// on it, as Serve does, until conn or ctx ends.
func (m *Meter) ServeVia(ctx context.Context, conn net.Conn, rc RegisterConfig) error {
	defer conn.Close()
	s := newStream(conn, m.base())
	reg := Registration{
		NodeType:       NodeEndDevice,
		ConnectionType: ConnConnectionMode,
		DeviceClass:    rc.DeviceClass,
		ApTitle:        m.cfg.ApTitle,
		SerialNumber:   rc.SerialNumber,
		NativeAddress:  rc.NativeAddress,
		Period:         rc.Period,
	}
	req, err := reg.Marshal()
	if err != nil {
		return err
	}
	rctx, cancel := withTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	m.mu.Lock()
	m.inv = (m.inv + 1) & 0xFFFF
	inv := m.inv
	m.mu.Unlock()
	a := &APDU{Called: rc.Relay, Calling: m.cfg.ApTitle, CallingInvocation: inv}
	if rc.Mode != ModeClear {
		a.HasAuth, a.KeyID, a.IV = true, rc.KeyID, newIV()
	}
	if err := Seal(a, &EPSEM{Mode: rc.Mode, Services: [][]byte{req}}, m.keys, m.base()); err != nil {
		return fmt.Errorf("c1222: %s: registration: %w", m.cfg.ApTitle, err)
	}
	if err := s.write(rctx, a, m.cfg.MaxAPDU); err != nil {
		return fmt.Errorf("c1222: %s: registration: %w", m.cfg.ApTitle, err)
	}
	resp, err := awaitResponse(rctx, s, m.keys, m.base(), rc.Relay, inv, rc.Mode)
	if err != nil {
		return fmt.Errorf("c1222: %s: registration with %s: %w", m.cfg.ApTitle, rc.Relay, err)
	}
	got, err := ParseRegistered(resp)
	if err != nil {
		return fmt.Errorf("c1222: %s: registration with %s: %w", m.cfg.ApTitle, rc.Relay, err)
	}
	if rc.Registered != nil {
		rc.Registered(got)
	}
	return m.serveStream(ctx, s)
}
