package c1218

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/psem"
)

// Serve is the meter side of one link: it answers the PSEM requests that
// arrive on rw from s until ctx ends, the peer hangs up or asks to
// disconnect. After a channel traffic timeout the session returns to its
// base state (or the link ends, with CloseIdle). A response larger than
// the negotiated packets can carry is answered ONP.
func Serve(ctx context.Context, rw io.ReadWriter, s *psem.Server, opts ...Option) error {
	p := newPort(rw, newConfig(opts))
	stop := p.dl.Watch(ctx)
	defer stop()
	wait := p.timers.Traffic
	for {
		req, err := p.recv(ctx, wait)
		wait = p.timers.Traffic
		if errors.Is(err, errIdle) {
			s.Reset()
			p.reset()
			if p.cfg.closeIdle {
				return nil
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		r := s.Handle(req)
		if err := p.send(ctx, r.Data, p.packets); err != nil {
			if errors.Is(err, ErrNoAck) {
				continue // the client will ask again
			}
			if errors.Is(err, ErrTooLarge) {
				if err = p.send(ctx, []byte{byte(psem.ONP)}, p.packets); err == nil || errors.Is(err, ErrNoAck) {
					continue
				}
			}
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if r.Wait > 0 {
			wait = p.timers.Traffic + r.Wait
		}
		if r.Negotiated != nil {
			p.size = max(r.Negotiated.PacketSize, HeaderLen+CRCLen+1)
			p.packets = max(r.Negotiated.Packets, 1)
			if err := p.switchBaud(r.Negotiated.Baud); err != nil {
				return err
			}
		}
		if r.Timing != nil {
			p.timers = applyTiming(p.timers, *r.Timing)
		}
		if r.End {
			p.reset()
		}
		if r.Hangup {
			return nil
		}
	}
}

// ServeListener serves each connection ln accepts as a C12.18 link, with
// the psem.Server newServer makes for it, until ctx ends. Idle
// connections are closed after the channel traffic timeout.
func ServeListener(ctx context.Context, ln net.Listener, newServer func(net.Conn) *psem.Server, opts ...Option) error {
	opts = append([]Option{CloseIdle()}, opts...)
	return linkio.Serve(ctx, ln, "c1218", func(ctx context.Context, c net.Conn) error {
		return Serve(ctx, c, newServer(c), opts...)
	}, nil)
}

// Login is what Open needs to start a session: the packets to negotiate
// (zero: 1024 octets, 8 packets), the user, and the password for the
// security service (nil: none) or a C12.21 key for authenticate (nil:
// none). Timing, when set, is proposed by a C12.21 timing setup.
type Login struct {
	PacketSize uint16
	Packets    uint8
	Baud       byte
	UserID     uint16
	User       string
	Password   []byte
	AuthKeyID  uint8
	AuthKey    []byte
	Timing     *psem.Timing
}

// Open starts a session over l the usual way: ident, negotiate, timing
// setup (C12.21, when asked), logon, then security or authenticate. It
// returns the client and the meter's ident.
func Open(ctx context.Context, l psem.Exchanger, login Login) (*psem.Client, psem.Ident, error) {
	c := psem.NewClient(l)
	id, err := c.Ident(ctx)
	if err != nil {
		return nil, id, err
	}
	size, n := login.PacketSize, login.Packets
	if size == 0 {
		size = 1024
	}
	if n == 0 {
		n = 8
	}
	var bauds []byte
	if login.Baud != 0 {
		bauds = []byte{login.Baud}
	}
	if _, err := c.Negotiate(ctx, size, n, bauds...); err != nil {
		return nil, id, err
	}
	if login.Timing != nil {
		if _, err := c.TimingSetup(ctx, *login.Timing); err != nil {
			return nil, id, err
		}
	}
	if err := c.Logon(ctx, login.UserID, login.User); err != nil {
		return nil, id, err
	}
	if login.Password != nil {
		if err := c.Security(ctx, login.Password); err != nil {
			return nil, id, fmt.Errorf("%w (user %d %q)", err, login.UserID, login.User)
		}
	}
	if login.AuthKey != nil {
		if err := c.Authenticate(ctx, login.AuthKeyID, login.AuthKey); err != nil {
			return nil, id, err
		}
	}
	return c, id, nil
}
