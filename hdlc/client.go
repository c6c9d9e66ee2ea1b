package hdlc

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// Client is the primary station of an HDLC link: it connects with SNRM,
// sends requests and pulls responses. It is not safe for concurrent use.
type Client struct {
	l *link
}

// NewClient returns a client session over rw between the client address
// and the server address. rw may implement SetReadDeadline and
// SetWriteDeadline (net.Conn, *os.File, a serial port wrapper); contexts are
// then enforced while blocked in I/O.
func NewClient(rw io.ReadWriter, client, server Address, opts ...Option) (*Client, error) {
	if err := server.valid(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	l, err := newLink(rw, client, server, opts)
	if err != nil {
		return nil, err
	}
	l.llcTX, l.llcRX = LLCRequest, LLCResponse
	return &Client{l: l}, nil
}

// Dial opens a TCP connection to addr and connects an HDLC link over it.
// Close closes the connection.
func Dial(ctx context.Context, addr string, client, server Address, opts ...Option) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("hdlc: dial %s: %w", addr, err)
	}
	c, err := NewClient(conn, client, server, opts...)
	if err == nil {
		err = c.Connect(ctx)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// Params returns the negotiated parameters from the client's point of view.
func (c *Client) Params() Params { return c.l.params() }

// Connected reports whether the link is set up.
func (c *Client) Connected() bool { return c.l.connected }

// Connect sends SNRM (with our parameters unless they are all defaults) and
// waits for UA; the link then uses the smaller of both sides' values.
func (c *Client) Connect(ctx context.Context) error {
	l := c.l
	stop := l.dl.Watch(ctx)
	defer stop()
	var info []byte
	if !l.cfg.params.IsDefault() {
		info = AppendParams(nil, l.cfg.params)
	}
	if err := l.send(ctx, l.peer, UControl(KindSNRM, true), info); err != nil {
		return err
	}
	for {
		f, err := l.read(ctx, time.Time{})
		if err != nil {
			return err
		}
		if f.Src != l.peer {
			continue
		}
		switch f.Control.Kind() {
		case KindUA:
			peer, err := ParseParams(f.Info)
			if err != nil {
				return fmt.Errorf("hdlc: UA parameters: %w", err)
			}
			p := Negotiate(l.cfg.params, peer)
			if err := p.Validate(); err != nil {
				return fmt.Errorf("hdlc: negotiated parameters: %w", err)
			}
			l.reset(p)
			return nil
		case KindDM:
			return ErrDM
		case KindFRMR:
			return &FrameRejectError{Info: clone(f.Info)}
		}
		// Late frames from an earlier link are dropped.
	}
}

// Send sends one APDU, segmented into I-frames when it exceeds the
// negotiated maximum information length.
func (c *Client) Send(ctx context.Context, apdu []byte) error {
	return c.l.sendAPDU(ctx, apdu)
}

// Recv waits for one APDU from the server, pulling further segments with RR
// and polling again after RNR. DM and FRMR end the link and are returned as
// ErrDM and *FrameRejectError.
func (c *Client) Recv(ctx context.Context) ([]byte, error) {
	l := c.l
	if !l.connected {
		return nil, ErrNotConnected
	}
	stop := l.dl.Watch(ctx)
	defer stop()
	var apdu []byte
	first := true
	var pending *Frame
	for {
		var f Frame
		if pending != nil {
			f, pending = *pending, nil
		} else {
			var err error
			if f, err = l.read(ctx, time.Time{}); err != nil {
				return nil, err
			}
		}
		if f.Src != l.peer {
			continue
		}
		switch f.Control.Kind() {
		case KindI:
			var dup bool
			var err error
			apdu, dup, err = l.acceptI(f, apdu, first)
			if err != nil {
				return nil, err
			}
			if dup {
				if f.Control.PF() {
					if err := l.send(ctx, l.peer, RRControl(l.vr, true), nil); err != nil {
						return nil, err
					}
				}
				continue
			}
			first = false
			if !f.Segmented {
				return apdu, nil
			}
			if f.Control.PF() {
				if err := l.send(ctx, l.peer, RRControl(l.vr, true), nil); err != nil {
					return nil, err
				}
			}
		case KindRNR:
			g, got, err := l.waitRNR(ctx)
			if err != nil {
				return nil, err
			}
			if got {
				pending = &g
			}
		case KindRR, KindUI:
		case KindDM:
			l.connected = false
			return nil, ErrDM
		case KindFRMR:
			l.connected = false
			return nil, &FrameRejectError{Info: clone(f.Info)}
		default:
			return nil, &UnexpectedFrameError{f.Control, "waiting for I-frames"}
		}
	}
}

// Disconnect sends DISC and waits for UA or DM. The UA may carry parameters
// (some servers repeat them); they are ignored.
func (c *Client) Disconnect(ctx context.Context) error {
	l := c.l
	stop := l.dl.Watch(ctx)
	defer stop()
	if err := l.send(ctx, l.peer, UControl(KindDISC, true), nil); err != nil {
		return err
	}
	for {
		f, err := l.read(ctx, time.Time{})
		if err != nil {
			return err
		}
		if f.Src != l.peer {
			continue
		}
		switch f.Control.Kind() {
		case KindUA, KindDM:
			l.connected = false
			return nil
		case KindFRMR:
			l.connected = false
			return &FrameRejectError{Info: clone(f.Info)}
		}
	}
}

// Close closes the transport when it is an io.Closer.
func (c *Client) Close() error {
	if cl, ok := c.l.rw.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}
