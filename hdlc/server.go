package hdlc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// FRMR reason bits (IEC 62056-46 / ISO 13239).
const (
	frmrW = 1 << 0 // undefined or not implemented control field
	frmrX = 1 << 1 // information field not permitted
	frmrY = 1 << 2 // information field too long
	frmrZ = 1 << 3 // invalid N(R)
)

// Server is the secondary station of an HDLC link: it answers SNRM with UA,
// receives requests and sends responses. It accepts any client address and
// talks to the client of the last SNRM. It is not safe for concurrent use.
type Server struct {
	l *link
}

// NewServer returns a server session over rw answering to address local.
func NewServer(rw io.ReadWriter, local Address, opts ...Option) (*Server, error) {
	l, err := newLink(rw, local, Address{}, opts)
	if err != nil {
		return nil, err
	}
	l.llcTX, l.llcRX = LLCResponse, LLCRequest
	return &Server{l: l}, nil
}

// Accept accepts one TCP connection from ln and returns a server session on
// it. Close closes the connection.
func Accept(ln net.Listener, local Address, opts ...Option) (*Server, error) {
	conn, err := ln.Accept()
	if err != nil {
		return nil, fmt.Errorf("hdlc: accept: %w", err)
	}
	s, err := NewServer(conn, local, opts...)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// Params returns the negotiated parameters from the server's point of view.
func (s *Server) Params() Params { return s.l.params() }

// Client returns the address of the connected client.
func (s *Server) Client() Address { return s.l.peer }

// Connected reports whether a client has set up the link.
func (s *Server) Connected() bool { return s.l.connected }

// Recv serves the link until a complete APDU arrives: it answers SNRM with
// UA, DISC with UA (and then returns ErrDisconnected), polls with RR, frames
// before SNRM with DM and invalid frames with FRMR. Frames for other
// addresses are ignored.
func (s *Server) Recv(ctx context.Context) ([]byte, error) {
	l := s.l
	stop := l.dl.Watch(ctx)
	defer stop()
	var apdu []byte
	first := true
	for {
		f, err := l.read(ctx, time.Time{})
		if err != nil {
			return nil, err
		}
		k := f.Control.Kind()
		if k == KindSNRM {
			if err := s.accept(ctx, f); err != nil {
				return nil, err
			}
			apdu, first = nil, true
			continue
		}
		if !l.connected || f.Src != l.peer {
			switch {
			case k == KindUI:
			case k == KindDISC || f.Control.PF():
				if err := l.send(ctx, f.Src, UControl(KindDM, true), nil); err != nil {
					return nil, err
				}
			}
			continue
		}
		switch k {
		case KindI:
			var dup bool
			apdu, dup, err = l.acceptI(f, apdu, first)
			if err != nil {
				if err := s.reject(ctx, f.Control, err); err != nil {
					return nil, err
				}
				apdu, first = nil, true
				continue
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
		case KindRR, KindRNR:
			if f.Control.PF() {
				if err := l.send(ctx, l.peer, RRControl(l.vr, true), nil); err != nil {
					return nil, err
				}
			}
		case KindDISC:
			l.connected = false
			if err := l.send(ctx, l.peer, UControl(KindUA, true), nil); err != nil {
				return nil, err
			}
			return nil, ErrDisconnected
		case KindUI:
		default:
			if err := s.reject(ctx, f.Control, &UnexpectedFrameError{f.Control, "connected"}); err != nil {
				return nil, err
			}
		}
	}
}

// accept answers an SNRM with UA carrying the negotiated parameters.
func (s *Server) accept(ctx context.Context, f Frame) error {
	l := s.l
	peer, err := ParseParams(f.Info)
	if err != nil {
		return l.send(ctx, f.Src, UControl(KindFRMR, true), []byte{byte(f.Control), l.vr<<5 | l.vs<<1, frmrX})
	}
	p := Negotiate(l.cfg.params, peer)
	if p.Validate() != nil {
		return l.send(ctx, f.Src, UControl(KindDM, true), nil)
	}
	l.peer = f.Src
	l.reset(p)
	return l.send(ctx, l.peer, UControl(KindUA, true), AppendParams(nil, p))
}

// reject answers with FRMR. Its information field is the rejected control
// field, V(S) and V(R), and the reason bits.
func (s *Server) reject(ctx context.Context, c Control, why error) error {
	l := s.l
	var bits byte = frmrW
	var se *SequenceError
	switch {
	case errors.As(why, &se) && se.Field == "N(R)":
		bits = frmrZ
	case errors.Is(why, ErrAPDUTooLarge):
		bits = frmrY
	}
	return l.send(ctx, l.peer, UControl(KindFRMR, true), []byte{byte(c), l.vr<<5 | l.vs<<1, bits})
}

// Send sends one APDU as response, segmented like Client.Send; between
// segments it waits for the client's RR.
func (s *Server) Send(ctx context.Context, apdu []byte) error {
	return s.l.sendAPDU(ctx, apdu)
}

// Close closes the transport when it is an io.Closer.
func (s *Server) Close() error {
	if cl, ok := s.l.rw.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}
