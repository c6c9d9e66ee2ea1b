package hdlc

import (
	"github.com/amigo-ami/amigo/linkio"

	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Session errors.
var (
	// ErrDM means the peer answered with DM: it is in disconnected mode.
	ErrDM = errors.New("hdlc: peer in disconnected mode (DM)")
	// ErrNotConnected is returned by Send and Recv before a link is set up.
	ErrNotConnected = errors.New("hdlc: link not connected")
	// ErrDisconnected is returned by Server.Recv when the client disconnected
	// with DISC. The session stays usable: the client may connect again.
	ErrDisconnected = errors.New("hdlc: link disconnected by peer")
	// ErrAPDUTooLarge is returned when a reassembled APDU exceeds the limit.
	ErrAPDUTooLarge = errors.New("hdlc: APDU exceeds maximum length")
	// ErrLLC is returned when the first segment lacks the expected LLC header.
	ErrLLC = errors.New("hdlc: missing or wrong LLC header")
)

// FrameRejectError reports an FRMR frame received from the peer.
type FrameRejectError struct {
	// Info is the FRMR information field: rejected control field, V(S)/V(R)
	// and the W/X/Y/Z reason bits, when the peer sent them.
	Info []byte
}

func (e *FrameRejectError) Error() string {
	return fmt.Sprintf("hdlc: frame rejected by peer (FRMR % X)", e.Info)
}

// SequenceError reports an N(S) or N(R) value that does not match the state
// of the link.
type SequenceError struct {
	Field     string // "N(S)" or "N(R)"
	Got, Want uint8
}

func (e *SequenceError) Error() string {
	return fmt.Sprintf("hdlc: %s is %d, expected %d", e.Field, e.Got, e.Want)
}

// UnexpectedFrameError reports a frame that is not valid in the current state.
type UnexpectedFrameError struct {
	Control Control
	State   string
}

func (e *UnexpectedFrameError) Error() string {
	return fmt.Sprintf("hdlc: unexpected %v while %s", e.Control, e.State)
}

// Option configures a Client or Server.
type Option func(*config)

type config struct {
	params  Params
	maxAPDU int
	poll    time.Duration
}

// WithParams sets the parameters we propose (client) or accept at most
// (server). TX and RX are from our point of view.
func WithParams(p Params) Option { return func(c *config) { c.params = p } }

// WithMaxAPDU bounds the size of a reassembled APDU (default 65535 bytes).
func WithMaxAPDU(n int) Option { return func(c *config) { c.maxAPDU = n } }

// WithPollInterval sets how long to wait after an RNR before polling the
// peer again with RR (default 200 ms). It needs a transport with read
// deadlines; without them the poll is sent at once.
func WithPollInterval(d time.Duration) Option { return func(c *config) { c.poll = d } }

// link is the state shared by both ends of an HDLC connection.
type link struct {
	rw        io.ReadWriter
	rd        *Reader
	dl        *linkio.Deadlines
	cfg       config
	local     Address
	peer      Address
	p         Params // negotiated, our point of view
	vs, vr    uint8
	connected bool
	llcTX     [3]byte
	llcRX     [3]byte
	wbuf      []byte
	sbuf      []byte
}

func newLink(rw io.ReadWriter, local, peer Address, opts []Option) (*link, error) {
	cfg := config{params: DefaultParams(), maxAPDU: 0xFFFF, poll: 200 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.params.Validate(); err != nil {
		return nil, err
	}
	if cfg.maxAPDU < 1 {
		return nil, fmt.Errorf("hdlc: maximum APDU length %d must be positive", cfg.maxAPDU)
	}
	if err := local.valid(); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	return &link{rw: rw, rd: NewReader(rw), dl: linkio.New(rw), cfg: cfg, local: local, peer: peer, p: DefaultParams()}, nil
}

// Params returns the negotiated parameters from this end's point of view.
func (l *link) params() Params { return l.p }

func (l *link) reset(p Params) {
	l.p = p
	l.vs, l.vr = 0, 0
	l.connected = true
}

func (l *link) write(ctx context.Context, f Frame) error {
	var err error
	l.wbuf, err = AppendFrame(l.wbuf[:0], f)
	if err != nil {
		return err
	}
	if err := l.dl.SetWrite(ctx); err != nil {
		return err
	}
	if _, err := l.rw.Write(l.wbuf); err != nil {
		return linkio.Error(ctx, "hdlc", "write "+f.Control.String(), err)
	}
	return nil
}

func (l *link) send(ctx context.Context, to Address, c Control, info []byte) error {
	return l.write(ctx, Frame{Dst: to, Src: l.local, Control: c, Info: info})
}

// errPoll marks a read that ended because a poll interval elapsed.
var errPoll = errors.New("hdlc: poll interval elapsed")

// read returns the next frame addressed to us; until bounds the wait for
// polling and may be zero.
func (l *link) read(ctx context.Context, until time.Time) (Frame, error) {
	for {
		if err := l.dl.SetRead(ctx, until); err != nil {
			return Frame{}, err
		}
		f, err := l.rd.ReadFrame()
		if err != nil {
			if ctx.Err() == nil && !until.IsZero() && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(until) {
				return Frame{}, errPoll
			}
			return Frame{}, linkio.Error(ctx, "hdlc", "read", err)
		}
		if f.Dst == l.local {
			return f, nil
		}
		// Frames for other stations share multi-drop lines; not ours to answer.
	}
}

// waitRNR waits out an RNR from the peer, then polls it with RR.
func (l *link) waitRNR(ctx context.Context) (Frame, bool, error) {
	until := time.Now().Add(l.cfg.poll)
	if !l.dl.CanTimeRead() {
		until = time.Time{}
	}
	if !until.IsZero() {
		f, err := l.read(ctx, until)
		if err == nil {
			return f, true, nil
		}
		if !errors.Is(err, errPoll) {
			return Frame{}, false, err
		}
	}
	return Frame{}, false, l.send(ctx, l.peer, RRControl(l.vr, true), nil)
}

// sendAPDU segments apdu into I-frames of at most the negotiated length.
// Between windows it waits for the peer's RR acknowledging every frame; the
// last segment is acknowledged by the peer's next I-frame.
func (l *link) sendAPDU(ctx context.Context, apdu []byte) error {
	if !l.connected {
		return ErrNotConnected
	}
	stop := l.dl.Watch(ctx)
	defer stop()
	l.sbuf = append(append(l.sbuf[:0], l.llcTX[:]...), apdu...)
	data := l.sbuf
	inWindow := 0
	for len(data) > 0 {
		n := min(len(data), l.p.MaxInfoTX)
		last := n == len(data)
		inWindow++
		pf := last || inWindow == l.p.WindowTX
		f := Frame{Segmented: !last, Dst: l.peer, Src: l.local, Control: IControl(l.vs, l.vr, pf), Info: data[:n]}
		if err := l.write(ctx, f); err != nil {
			return err
		}
		l.vs = (l.vs + 1) & 7
		data = data[n:]
		if last || !pf {
			continue
		}
		inWindow = 0
		if err := l.waitAck(ctx); err != nil {
			return err
		}
	}
	return nil
}

// waitAck waits for RR with N(R) equal to V(S).
func (l *link) waitAck(ctx context.Context) error {
	var pending *Frame
	for {
		var f Frame
		if pending != nil {
			f, pending = *pending, nil
		} else {
			var err error
			if f, err = l.read(ctx, time.Time{}); err != nil {
				return err
			}
		}
		if f.Src != l.peer {
			continue
		}
		switch f.Control.Kind() {
		case KindRR:
			if nr := f.Control.NR(); nr != l.vs {
				return &SequenceError{"N(R)", nr, l.vs}
			}
			return nil
		case KindRNR:
			g, got, err := l.waitRNR(ctx)
			if err != nil {
				return err
			}
			if got {
				pending = &g
			}
		case KindDM:
			l.connected = false
			return ErrDM
		case KindFRMR:
			l.connected = false
			return &FrameRejectError{Info: clone(f.Info)}
		case KindUI:
		default:
			return &UnexpectedFrameError{f.Control, "waiting for RR"}
		}
	}
}

// acceptI checks and consumes one I-frame into apdu. It reports whether the
// frame is a duplicate that must be dropped.
func (l *link) acceptI(f Frame, apdu []byte, first bool) ([]byte, bool, error) {
	c := f.Control
	if ns := c.NS(); ns != l.vr {
		if ns == (l.vr-1)&7 {
			return apdu, true, nil
		}
		return apdu, false, &SequenceError{"N(S)", ns, l.vr}
	}
	if nr := c.NR(); nr != l.vs {
		return apdu, false, &SequenceError{"N(R)", nr, l.vs}
	}
	info := f.Info
	if first {
		if len(info) < 3 || [3]byte(info[:3]) != l.llcRX {
			return apdu, false, fmt.Errorf("%w: want % X", ErrLLC, l.llcRX[:])
		}
		info = info[3:]
	}
	if len(apdu)+len(info) > l.cfg.maxAPDU {
		return apdu, false, fmt.Errorf("%w: %d bytes and more, limit %d", ErrAPDUTooLarge, len(apdu)+len(info), l.cfg.maxAPDU)
	}
	l.vr = (l.vr + 1) & 7
	if apdu == nil {
		apdu = make([]byte, 0, len(info))
	}
	return append(apdu, info...), false, nil
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
