package c1218

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/amigo-ami/amigo/linkio"
	"github.com/amigo-ami/amigo/psem"
)

// Timers are the link's timing rules: how long a sender waits for an
// acknowledgement before it sends again and how often, the longest gap
// between two octets of a packet, and how long a link may stay silent
// before the meter drops the session.
type Timers struct {
	Response  time.Duration
	InterChar time.Duration
	Traffic   time.Duration
	Retries   int
}

// OpticalTimers are C12.18's defaults: a 2 s response timeout, 500 ms
// between octets, a 6 s channel traffic timeout and 3 retries.
var OpticalTimers = Timers{Response: 2 * time.Second, InterChar: 500 * time.Millisecond, Traffic: 6 * time.Second, Retries: 3}

// ModemTimers are the longer timers amigo starts a C12.21 modem link with,
// before a timing setup agrees on others: a telephone line's round trip
// and a modem's buffering need more than an optical port. The link
// accepts whatever timing setup grants.
var ModemTimers = Timers{Response: 4 * time.Second, InterChar: time.Second, Traffic: 30 * time.Second, Retries: 3}

// Defaults before negotiation: packets of 64 octets, one per message.
const (
	DefaultPacketSize = 64
	DefaultPackets    = 1
)

// Option adjusts a link.
type Option func(*config)

type config struct {
	identity  byte
	timers    Timers
	closeIdle bool
	baud      func(rate int) error
}

// WithBaudSwitch gives the link a way to change its line's bit rate, used
// once a negotiate grants a rate other than the medium's own.
func WithBaudSwitch(f func(rate int) error) Option { return func(c *config) { c.baud = f } }

// WithTimers sets the link's timers (OpticalTimers unless set).
func WithTimers(t Timers) Option { return func(c *config) { c.timers = t } }

// WithIdentity sets the identity octet packets carry (0 unless set).
func WithIdentity(id byte) Option { return func(c *config) { c.identity = id } }

// CloseIdle makes a meter side end its link after a channel traffic
// timeout, rather than return to its base state and go on listening: a
// TCP connection's way, where a silent peer is gone.
func CloseIdle() Option { return func(c *config) { c.closeIdle = true } }

func newConfig(opts []Option) config {
	c := config{timers: OpticalTimers}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// ErrNoAck is wrapped when a packet was sent its retries' worth without
// an acknowledgement.
var ErrNoAck = errors.New("c1218: no acknowledgement")

// port is the link machinery both sides share: packets out with their
// acknowledgements and retransmissions, packets in with CRC checks,
// duplicate detection and reassembly.
type port struct {
	rw      io.ReadWriter
	dl      *linkio.Deadlines
	cfg     config
	timers  Timers
	size    uint16
	packets uint8
	toggle  bool
	// The last packet accepted, to tell its retransmission (the
	// acknowledgement lost) from a new packet.
	lastCtrl byte
	lastCRC  uint16
	haveLast bool
	// sawSTP says the start of the next packet was read already: the
	// response that stood for a lost acknowledgement.
	sawSTP bool
	// switched says a negotiate changed the line's rate, which the end
	// of the session puts back.
	switched bool
	buf      []byte
}

func newPort(rw io.ReadWriter, cfg config) *port {
	p := &port{rw: rw, dl: linkio.New(rw), cfg: cfg}
	p.reset()
	return p
}

// reset returns the link parameters to their defaults, as at the start of
// a session.
func (p *port) reset() {
	p.timers = p.cfg.timers
	p.size, p.packets = DefaultPacketSize, DefaultPackets
	p.toggle = false
	p.haveLast = false
	if p.switched {
		p.switched = false
		_ = p.cfg.baud(DefaultBaud) // a failure shows as silence on the next exchange
	}
}

// switchBaud applies a negotiated rate code to the line.
func (p *port) switchBaud(code byte) error {
	rate := psem.BaudRate(code)
	if rate == 0 || p.cfg.baud == nil {
		return nil
	}
	if err := p.cfg.baud(rate); err != nil {
		return fmt.Errorf("c1218: switch to the %d Bd negotiated: %w", rate, err)
	}
	p.switched = true
	return nil
}

func (p *port) write(ctx context.Context, b []byte) error {
	if err := p.dl.SetWrite(ctx); err != nil {
		return err
	}
	_, err := p.rw.Write(b)
	return err
}

// read reads into b, waiting at most wait for the first octets.
func (p *port) read(ctx context.Context, b []byte, wait time.Duration) (int, error) {
	if err := p.dl.SetRead(ctx, time.Now().Add(wait)); err != nil {
		return 0, err
	}
	return p.rw.Read(b)
}

func timeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// send sends a message, each packet until acknowledged or out of retries.
// The start of a packet from the peer while the acknowledgement of the
// message's last packet is awaited stands for that acknowledgement, lost
// on the way: a meter does not answer a request it did not receive, and a
// client sends its next request only once it has the whole response.
func (p *port) send(ctx context.Context, msg []byte, max uint8) error {
	pkts, err := Split(msg, p.cfg.identity, p.size, max, p.toggle)
	if err != nil {
		return err
	}
	var one [1]byte
	for i, pk := range pkts {
		b := pk.Marshal()
		acked := false
		for try := 0; try <= p.timers.Retries && !acked; try++ {
			if err := p.write(ctx, b); err != nil {
				return linkio.Error(ctx, "c1218", "write", err)
			}
			deadline := time.Now().Add(p.timers.Response)
			for {
				left := time.Until(deadline)
				if left <= 0 {
					break
				}
				n, err := p.read(ctx, one[:], left)
				if err != nil {
					if timeout(err) && ctx.Err() == nil {
						break
					}
					return linkio.Error(ctx, "c1218", "read acknowledgement", err)
				}
				if n == 1 && one[0] == ACK {
					acked = true
					break
				}
				if n == 1 && one[0] == NAK {
					break
				}
				if n == 1 && one[0] == STP && i == len(pkts)-1 {
					acked, p.sawSTP = true, true
					break
				}
				// Anything else is noise on the line: keep waiting.
			}
		}
		if !acked {
			return fmt.Errorf("%w after %d tries", ErrNoAck, p.timers.Retries+1)
		}
		p.toggle = !p.toggle
	}
	return nil
}

// errIdle is the channel traffic timeout: nothing came.
var errIdle = errors.New("c1218: channel traffic timeout")

// readPacket reads one packet, skipping octets before STP, waiting at
// most first for its start and InterChar between octets after. A packet
// whose CRC is wrong is answered NAK and skipped.
func (p *port) readPacket(ctx context.Context, first time.Duration) (Packet, uint16, error) {
	var one [1]byte
	deadline := time.Now().Add(first)
	for {
		if p.sawSTP {
			p.sawSTP = false
			goto packet
		}
		if left := time.Until(deadline); left <= 0 {
			return Packet{}, 0, errIdle
		}
		if n, err := p.read(ctx, one[:], time.Until(deadline)); err != nil || n == 0 || one[0] != STP {
			if err != nil {
				if timeout(err) && ctx.Err() == nil {
					return Packet{}, 0, errIdle
				}
				return Packet{}, 0, linkio.Error(ctx, "c1218", "read", err)
			}
			continue
		}
	packet:
		buf := append(p.buf[:0], STP)
		need := HeaderLen // then the data and CRC the length says
		bad := false
		for len(buf) < need {
			chunk := make([]byte, need-len(buf))
			n, err := p.read(ctx, chunk, p.timers.InterChar)
			buf = append(buf, chunk[:n]...)
			if err != nil {
				if timeout(err) && ctx.Err() == nil {
					bad = true // the rest never came: a broken packet
					break
				}
				return Packet{}, 0, linkio.Error(ctx, "c1218", "read", err)
			}
			if len(buf) == HeaderLen && need == HeaderLen {
				l := int(buf[4])<<8 | int(buf[5])
				if l > MaxData {
					bad = true
					break
				}
				need = HeaderLen + l + CRCLen
			}
		}
		p.buf = buf
		if bad {
			if err := p.write(ctx, []byte{NAK}); err != nil {
				return Packet{}, 0, linkio.Error(ctx, "c1218", "write", err)
			}
			continue
		}
		pk, _, err := ParsePacket(buf)
		if err != nil {
			if err := p.write(ctx, []byte{NAK}); err != nil {
				return Packet{}, 0, linkio.Error(ctx, "c1218", "write", err)
			}
			continue
		}
		if err := p.write(ctx, []byte{ACK}); err != nil {
			return Packet{}, 0, linkio.Error(ctx, "c1218", "write", err)
		}
		return pk, CRC(buf[:len(buf)-CRCLen]), nil
	}
}

// recv reads a message: one packet, or the packets of a multi-packet
// transmission reassembled. Retransmissions of the packet last accepted
// are acknowledged and dropped. first bounds the wait for its start.
func (p *port) recv(ctx context.Context, first time.Duration) ([]byte, error) {
	var msg []byte
	expect := -1 // sequence number the next packet of a multi-packet message carries
	wait := first
	for {
		pk, crc, err := p.readPacket(ctx, wait)
		if err != nil {
			return nil, err
		}
		if p.haveLast && pk.Ctrl&CtrlToggle == p.lastCtrl&CtrlToggle && crc == p.lastCRC {
			continue // a duplicate: our acknowledgement was lost
		}
		p.lastCtrl, p.lastCRC, p.haveLast = pk.Ctrl, crc, true
		wait = p.timers.Traffic
		switch {
		case pk.Ctrl&CtrlMulti == 0:
			if pk.Seq != 0 {
				return nil, fmt.Errorf("c1218: single packet with sequence number %d", pk.Seq)
			}
			return pk.Data, nil
		case pk.Ctrl&CtrlFirst != 0:
			msg = append(msg[:0], pk.Data...)
			expect = int(pk.Seq) - 1
			if pk.Seq == 0 {
				return msg, nil
			}
		default:
			if expect < 0 || int(pk.Seq) != expect {
				return nil, fmt.Errorf("c1218: multi-packet sequence number %d, want %d", pk.Seq, expect)
			}
			msg = append(msg, pk.Data...)
			if pk.Seq == 0 {
				return msg, nil
			}
			expect--
		}
	}
}

// Link is the client side of a C12.18 link: an io.ReadWriter (a TCP
// connection, a linkio.Serial port with an optical probe, a modem line)
// carrying PSEM requests and their responses. It is a psem.Exchanger. A
// negotiate, timing setup or terminate carried over it changes the link
// as the meter's answer says.
type Link struct {
	p      *port
	closer io.Closer
}

// New returns a link over rw.
func New(rw io.ReadWriter, opts ...Option) *Link {
	l := &Link{p: newPort(rw, newConfig(opts))}
	l.closer, _ = rw.(io.Closer)
	return l
}

// Dial connects to a meter's C12.18 link over TCP (host:port).
func Dial(ctx context.Context, addr string, opts ...Option) (*Link, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("c1218: dial %s: %w", addr, err)
	}
	return New(c, opts...), nil
}

// Close closes the transport when it can be closed.
func (l *Link) Close() error {
	if l.closer != nil {
		return l.closer.Close()
	}
	return nil
}

// Params reports the link's packet size, packets per message and timers.
func (l *Link) Params() (size uint16, packets uint8, t Timers) {
	return l.p.size, l.p.packets, l.p.timers
}

// Exchange sends a request and returns the meter's response.
func (l *Link) Exchange(ctx context.Context, req []byte) ([]byte, error) {
	p := l.p
	stop := p.dl.Watch(ctx)
	defer stop()
	if err := p.send(ctx, req, p.packets); err != nil {
		return nil, err
	}
	resp, err := p.recv(ctx, p.timers.Traffic)
	if errors.Is(err, errIdle) {
		// A silent meter is a timeout to whoever classifies the failure.
		return nil, fmt.Errorf("c1218: no response to %s within %v: %w", psem.ServiceName(req[0]), p.timers.Traffic, os.ErrDeadlineExceeded)
	}
	if err != nil {
		return nil, err
	}
	if len(resp) > 0 && psem.Code(resp[0]) == psem.OK {
		switch c := req[0]; {
		case c >= psem.ReqNegotiate && c <= psem.ReqNegotiate+11:
			if n, err := psem.ParseNegotiated(resp); err == nil {
				p.size, p.packets = max(n.PacketSize, HeaderLen+CRCLen+1), max(n.Packets, 1)
				if err := p.switchBaud(n.Baud); err != nil {
					return nil, err
				}
			}
		case c == psem.ReqTimingSetup:
			if t, err := psem.ParseTiming(resp); err == nil {
				p.timers = applyTiming(p.timers, t)
			}
		case c == psem.ReqTerminate || c == psem.ReqDisconnect:
			p.reset()
		}
	}
	return resp, nil
}

// applyTiming takes the timers a timing setup granted; a zero keeps the
// timer as it was.
func applyTiming(t Timers, g psem.Timing) Timers {
	if g.Traffic != 0 {
		t.Traffic = time.Duration(g.Traffic) * time.Second
	}
	if g.InterChar != 0 {
		t.InterChar = time.Duration(g.InterChar) * time.Second
	}
	if g.Response != 0 {
		t.Response = time.Duration(g.Response) * time.Second
	}
	if g.Retries != 0 {
		t.Retries = int(g.Retries)
	}
	return t
}
