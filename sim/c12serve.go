package sim

import (
	"context"
	"encoding/hex"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/amigo-ami/amigo/c1218"
	"github.com/amigo-ami/amigo/c1219"
	"github.com/amigo-ami/amigo/c1222"
	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/osgp"
	"github.com/amigo-ami/amigo/psem"
)

// ListenC1218 opens the listener of the C12.18 meters: every loopback
// address at C1218Port (see ListenLoopback).
func (f *Fleet) ListenC1218(ctx context.Context) (net.Listener, error) {
	return ListenLoopback(ctx, f.c1218Port)
}

// ListenC1222 opens the listener of the C12.22 meters at C1222Port.
func (f *Fleet) ListenC1222(ctx context.Context) (net.Listener, error) {
	return ListenLoopback(ctx, f.c1222Port)
}

// ListenOSGP opens the listener of the OSGP meters at OSGPPort.
func (f *Fleet) ListenOSGP(ctx context.Context) (net.Listener, error) {
	return ListenLoopback(ctx, f.osgpPort)
}

// ServeC1218 serves the C12.18 meters on ln until ctx ends, as Serve
// serves the DLMS ones: the meter is the one whose address the connection
// was made to; a connection to a meter of another protocol, without
// power or rebooting is refused.
func (f *Fleet) ServeC1218(ctx context.Context, ln net.Listener) error {
	return f.serveC12(ctx, ln, ProtocolC1218, f.handleC1218)
}

// ServeOSGP serves the OSGP meters on ln until ctx ends.
func (f *Fleet) ServeOSGP(ctx context.Context, ln net.Listener) error {
	return f.serveC12(ctx, ln, ProtocolOSGP, f.handleOSGP)
}

func (f *Fleet) serveC12(ctx context.Context, ln net.Listener, proto string, handle func(ctx context.Context, c net.Conn, cm *c12Meter) error) error {
	return linkio.Serve(ctx, ln, "sim "+proto, func(ctx context.Context, c net.Conn) error {
		local, _ := netip.ParseAddrPort(c.LocalAddr().String())
		i, ok := f.Index(local.Addr())
		if !ok || f.Protocol(i) != proto || f.isRebooting(i) {
			refuse(c)
			return nil
		}
		release, ok := f.acquire(ctx, i)
		if !ok {
			refuse(c)
			return nil
		}
		defer release()
		cm, err := f.newC12Meter(i)
		if err != nil || !cm.reachable() {
			refuse(c)
			return nil
		}
		defer cm.with(func(m *meter.Meter, _ time.Time) { m.Trim() })
		if err := handle(ctx, c, cm); err != nil && ctx.Err() == nil {
			f.log.Debug(proto+" connection ended", "meter", i, "remote", c.RemoteAddr().String(), "err", err)
		}
		return nil
	}, nil)
}

// c12Idle is how long a C12 or OSGP meter keeps a silent connection when
// the fleet sets no inactivity timeout.
const c12Idle = 2 * time.Minute

func (f *Fleet) c12IdleTimeout() time.Duration {
	switch {
	case f.idle < 0:
		return 24 * time.Hour
	case f.idle == 0:
		return c12Idle
	}
	return f.idle
}

func (f *Fleet) handleC1218(ctx context.Context, c net.Conn, cm *c12Meter) error {
	defer c.Close()
	store, tables, err := cm.store()
	if err != nil {
		return err
	}
	srv := psem.NewServer(readOnly{tables}, f.c1218ServerConfig(cm.i, store, tables))
	return c1218.Serve(ctx, c, srv, c1218.CloseIdle())
}

// OSGPDomain is the ISO/IEC 14908-1 domain of every simulated OSGP meter.
var OSGPDomain = []byte{0x41}

// OSGPNode is OSGP meter i's subnet/node address in OSGPDomain: 127
// nodes a subnet, subnets 1..255 in turn.
func OSGPNode(i int) osgp.Node {
	return osgp.Node{Subnet: uint8(1 + (i/127)%255), Node: uint8(1 + i%127)}
}

// osgpState is what an OSGP meter remembers across connections: the last
// sequence number it accepted (a reconnection is no chance to replay) and
// the digest failures of its peers.
type osgpState struct {
	last  uint32
	guard *osgp.Guard
}

func (f *Fleet) osgpStateOf(i int) *osgpState {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.osgpStates == nil {
		f.osgpStates = map[int]*osgpState{}
	}
	s := f.osgpStates[i]
	if s == nil {
		s = &osgpState{guard: &osgp.Guard{OnAlarm: func(a osgp.Alarm) {
			f.log.Warn("OSGP meter: digest failures past the threshold", "meter", i, "alarm", a)
		}}}
		f.osgpStates[i] = s
	}
	return s
}

func (f *Fleet) handleOSGP(ctx context.Context, c net.Conn, cm *c12Meter) error {
	store, tables, err := cm.store()
	if err != nil {
		c.Close()
		return err
	}
	suite := osgp.AES128
	if f.IsOSGPLegacy(cm.i) {
		suite = osgp.Legacy
	}
	st := f.osgpStateOf(cm.i)
	store.SetLevel(c1219.LevelMaster) // every message is authenticated by the meter's key
	m := &osgp.Meter{Node: OSGPNode(cm.i), Domain: OSGPDomain, Keys: osgp.Keys{Suite: suite, Key: f.OSGPKey(cm.i)},
		Tables: tables, Guard: st.guard, Idle: f.c12IdleTimeout()}
	f.mu.Lock()
	m.SetLastSeq(st.last)
	f.mu.Unlock()
	err = m.ServeConn(ctx, c)
	f.mu.Lock()
	st.last = max(st.last, m.LastSeq())
	f.mu.Unlock()
	return err
}

// osgpFields are OSGP meter i's addressing columns.
func (f *Fleet) osgpFields(i int, fields map[string]string) {
	n := OSGPNode(i)
	fields["osgp_domain"] = hex.EncodeToString(OSGPDomain)
	fields["osgp_subnet"] = strconv.Itoa(int(n.Subnet))
	fields["osgp_node"] = strconv.Itoa(int(n.Node))
}

// ServeC1222 serves the C12.22 meters on ln until ctx ends.
func (f *Fleet) ServeC1222(ctx context.Context, ln net.Listener) error {
	return f.serveC12(ctx, ln, ProtocolC1222, f.handleC1222)
}

// c1222Replay is how many requests a C12.22 meter remembers to refuse
// their replays.
const c1222Replay = 256

// c1222State is a C12.22 meter's association side, kept across
// connections so that a request replayed on a new connection is still
// refused; psem is the PSEM server of the connection being served.
type c1222State struct {
	meter *c1222.Meter
	mu    sync.Mutex
	psem  *psem.Server
}

// Exchange answers with the current connection's PSEM server.
func (s *c1222State) Exchange(ctx context.Context, req []byte) ([]byte, error) {
	s.mu.Lock()
	srv := s.psem
	s.mu.Unlock()
	if srv == nil {
		return []byte{byte(psem.BSY)}, nil
	}
	return srv.Exchange(ctx, req)
}

func (f *Fleet) c1222StateOf(i int) (*c1222State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.c1222States[i]; s != nil {
		return s, nil
	}
	ap, err := c1222.ParseApTitle(f.C1222ApTitle(i))
	if err != nil {
		return nil, err
	}
	id, key := f.C1222Key(i)
	s := &c1222State{}
	s.meter, err = c1222.NewMeter(c1222.MeterConfig{ApTitle: ap, Keys: map[uint8][]byte{id: key[:]}, MinMode: c1222.ModeCiphertext,
		IdleTimeout: f.c12IdleTimeout(), ReplayWindow: c1222Replay,
		Refused: func(calling c1222.ApTitle, err error) {
			f.log.Info("C12.22 meter refused a request", "meter", i, "calling", calling.String(), "err", err)
		}}, s)
	if err != nil {
		return nil, err
	}
	if f.c1222States == nil {
		f.c1222States = map[int]*c1222State{}
	}
	f.c1222States[i] = s
	return s, nil
}

// handleC1222 serves one connection of C12.22 meter cm. Every request is
// ciphered and authenticated under the meter's key (security mode 2), so
// the session has the master clearance from the start, and a PSEM
// security service, if a client sends one, changes nothing.
func (f *Fleet) handleC1222(ctx context.Context, c net.Conn, cm *c12Meter) error {
	store, tables, err := cm.store()
	if err != nil {
		c.Close()
		return err
	}
	st, err := f.c1222StateOf(cm.i)
	if err != nil {
		c.Close()
		return err
	}
	store.SetLevel(c1219.LevelMaster)
	srv := psem.NewServer(tables, psem.ServerConfig{Ident: psem.Ident{Std: 3, Ver: 1, Rev: 0}, Sessionless: true,
		Security: func(uint16, string, [psem.PasswordLen]byte) (psem.Tables, error) { return tables, nil }})
	st.mu.Lock()
	st.psem = srv
	st.mu.Unlock()
	defer func() {
		st.mu.Lock()
		st.psem = nil
		st.mu.Unlock()
	}()
	return st.meter.Serve(ctx, c)
}
