package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/amigo-ami/amigo/hdlc"
	"github.com/amigo-ami/amigo/iec62056"
	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/wrapper"
)

// Server puts one or more logical devices behind network listeners. The
// address in the first frame of a connection (wrapper destination wPort,
// HDLC server upper address) selects the device that connection talks to,
// so a gateway meter can expose its management device and, say, an M-Bus
// device on one port.
type Server struct {
	// Identification is the mode E identification message sent by
	// ServeHDLC(ctx, ln, true).
	Identification iec62056.Identification
	// ModeEOptions configure the mode E sign-on (echo, baud switch...).
	ModeEOptions []iec62056.Option
	// HDLCOptions configure the HDLC sessions (parameters, max APDU).
	HDLCOptions []hdlc.Option
	// Logger receives connection-level diagnostics; nil discards them.
	Logger *slog.Logger

	devices map[uint16]*Device
}

// NewServer returns a server for devices, which must have distinct
// addresses and valid configurations.
func NewServer(devices ...*Device) (*Server, error) {
	s := &Server{devices: make(map[uint16]*Device, len(devices))}
	for _, d := range devices {
		if _, dup := s.devices[d.Address]; dup {
			return nil, fmt.Errorf("%w: two devices with address %d", ErrConfig, d.Address)
		}
		if err := d.init(); err != nil {
			return nil, fmt.Errorf("device %d: %w", d.Address, err)
		}
		s.devices[d.Address] = d
	}
	if len(s.devices) == 0 {
		return nil, fmt.Errorf("%w: no device", ErrConfig)
	}
	return s, nil
}

func (s *Server) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return discard
}

// ListenAndServeWrapper accepts wrapper (IEC 62056-47) connections on ln
// and serves each concurrently until ctx ends; it then closes ln and every
// connection and returns nil. Frames for another logical device than the
// first frame's are ignored.
func (s *Server) ListenAndServeWrapper(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s.wrapperConn)
}

// ServeHDLC accepts HDLC (IEC 62056-46) connections on ln, each preceded
// by an IEC 62056-21 mode E sign-on when modeE is set, and serves them
// concurrently until ctx ends; it then closes ln and every connection and
// returns nil.
func (s *Server) ServeHDLC(ctx context.Context, ln net.Listener, modeE bool) error {
	return s.serve(ctx, ln, func(ctx context.Context, c net.Conn) error {
		return s.hdlcConn(ctx, c, modeE)
	})
}

func (s *Server) serve(ctx context.Context, ln net.Listener, handle func(context.Context, net.Conn) error) error {
	failing := false
	return linkio.Serve(ctx, ln, "server", handle, func(c net.Conn, err error) {
		s.log().Info("dlms connection ended", "remote", c.RemoteAddr().String(), "err", err)
	}, linkio.OnAcceptError(func(err error, wait time.Duration) {
		// One line when accepting starts to fail and one when it works
		// again, not one per retry.
		if !failing {
			failing = true
			s.log().Warn("dlms listener cannot accept; retrying", "addr", ln.Addr().String(), "err", err, "retry_in", wait.String())
		}
	}, func(failures int) {
		failing = false
		s.log().Info("dlms listener accepts again", "addr", ln.Addr().String(), "failed_accepts", failures)
	}))
}

// prefixed replays bytes already read from a connection before reading
// further from it, keeping its deadlines.
type prefixed struct {
	net.Conn
	r io.Reader
}

func (p *prefixed) Read(b []byte) (int, error) { return p.r.Read(b) }

func withPrefix(c net.Conn, head []byte) net.Conn {
	if len(head) == 0 {
		return c
	}
	return &prefixed{Conn: c, r: io.MultiReader(bytes.NewReader(head), c)}
}

func (s *Server) firstDeadline() time.Time {
	var t time.Duration
	for _, d := range s.devices {
		t = max(t, d.inactivity())
	}
	if t == 0 {
		t = firstFrameTimeout
	}
	return time.Now().Add(t)
}

func (s *Server) wrapperConn(ctx context.Context, c net.Conn) error {
	var hdr [wrapper.HeaderLen]byte
	c.SetReadDeadline(s.firstDeadline())
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return fmt.Errorf("server: first wrapper header: %w", err)
	}
	c.SetReadDeadline(time.Time{})
	h, err := wrapper.DecodeHeader(hdr[:])
	if err != nil {
		return err
	}
	d := s.devices[h.Dst]
	if d == nil {
		return fmt.Errorf("server: no logical device %d", h.Dst)
	}
	conn := wrapper.NewConn(withPrefix(c, hdr[:]), h.Dst, 0, wrapper.WithAnyRemote())
	return d.Serve(ctx, conn, ClientInfo{SAP: conn.Remote, Addr: c.RemoteAddr()})
}

// maxHDLCPeek bounds what is read while looking for the first frame that
// addresses one of our devices.
const maxHDLCPeek = 8 << 10

// Bounds on what comes before the first HDLC frame of a connection. A
// client sends its SNRM at once: line noise or an echo may precede the
// opening flag, a stream of bytes without one is no HDLC client, and a
// frame begun must be complete soon, not after the inactivity time-out.
const (
	maxNoise    = 256             // bytes before the first flag
	frameWindow = 5 * time.Second // from the first byte to the first frame
)

// errNoise ends a connection whose first bytes cannot start a frame.
var errNoise = fmt.Errorf("server: %d bytes without an HDLC flag", maxNoise)

// firstFrame reads from c while the first frame is sought: the first
// byte shortens the read deadline to frameWindow, and more than maxNoise
// bytes before a flag end the connection.
type firstFrame struct {
	c        net.Conn
	deadline time.Time
	started  bool
	flag     bool
	noise    int
}

func (f *firstFrame) Read(b []byte) (int, error) {
	if f.noise > maxNoise {
		return 0, errNoise
	}
	n, err := f.c.Read(b)
	if n > 0 && !f.started {
		f.started = true
		if dl := time.Now().Add(frameWindow); dl.Before(f.deadline) {
			f.c.SetReadDeadline(dl)
		}
	}
	if n > 0 && !f.flag {
		if bytes.IndexByte(b[:n], hdlc.Flag) >= 0 {
			f.flag = true
		} else if f.noise += n; f.noise > maxNoise {
			return 0, errNoise
		}
	}
	return n, err
}

func (s *Server) hdlcConn(ctx context.Context, c net.Conn, modeE bool) error {
	for {
		if modeE {
			sctx, cancel := context.WithDeadline(ctx, s.firstDeadline())
			_, err := iec62056.AcceptModeE(sctx, c, s.Identification, s.ModeEOptions...)
			cancel()
			if err != nil {
				return err
			}
		}
		dl := s.firstDeadline()
		c.SetDeadline(dl)
		var head bytes.Buffer
		rd := hdlc.NewReader(io.TeeReader(io.LimitReader(&firstFrame{c: c, deadline: dl}, maxHDLCPeek), &head))
		var d *Device
		var local hdlc.Address
		for d == nil {
			f, err := rd.ReadFrame()
			if err != nil {
				return fmt.Errorf("server: first HDLC frame: %w", err)
			}
			local, d = f.Dst, s.devices[f.Dst.Upper]
		}
		c.SetDeadline(time.Time{})
		srv, err := hdlc.NewServer(withPrefix(c, head.Bytes()), local, s.HDLCOptions...)
		if err != nil {
			return err
		}
		// Behind mode E a DISC returns the port to IEC 62056-21: the
		// next association starts with a new sign-on, on the same
		// connection, as an optical head does.
		err = d.Serve(ctx, srv, ClientInfo{SAP: func() uint16 { return srv.Client().Upper }, Addr: c.RemoteAddr(), EndOnDisconnect: modeE})
		if err != nil || !modeE || ctx.Err() != nil {
			return err
		}
	}
}
