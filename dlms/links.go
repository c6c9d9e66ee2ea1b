package dlms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/hdlc"
	"github.com/amigo-ami/amigo/iec62056"
	"github.com/amigo-ami/amigo/obis"
	"github.com/amigo-ami/amigo/wrapper"
)

// Readdresser is a Transport that can carry an association of another
// client SAP over the same connection, as the invocation counter pre-read
// needs (wrapper: new source wPort; HDLC: DISC, then SNRM from the new
// client address). It is a no-op when the SAP does not change.
type Readdresser interface {
	Readdress(ctx context.Context, clientSAP uint16) error
}

// Disconnecter is a Transport whose link is torn down separately from the
// association (HDLC DISC/UA); Release calls it.
type Disconnecter interface {
	Disconnect(ctx context.Context) error
}

// Dial connects to the meter at addr (host:port) over TCP with the link of
// o.Link, and associates. On failure nothing stays open.
//
// With o.ResyncInvocationCounter, a meter that refuses the invocation
// counter costs one more association, not a failed session: see
// Options.ResyncInvocationCounter and Client.Resync.
func Dial(ctx context.Context, addr string, o Options) (*Client, error) {
	if o.Name == "" {
		o.Name = addr
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if !o.ResyncInvocationCounter || !o.usesCounter() {
		return dial(ctx, addr, o)
	}
	if o.Counter == nil {
		// Both attempts must draw from one counter, so the retry
		// continues from the jump instead of starting over.
		o.Counter = security.NewCounter(o.InvocationCounter, o.PersistCounter)
	}
	from := o.Counter.Peek()
	c, err := dial(ctx, addr, o)
	if err == nil {
		return c, nil
	}
	rs, ok := resyncTarget(ctx, addr, o, from, o.Counter.Peek(), err)
	if !ok {
		return nil, err
	}
	if aerr := o.Counter.AdvanceTo(rs.To); aerr != nil {
		return nil, &OpError{Meter: o.Name, Op: "resynchronise invocation counter", Err: errors.Join(err, aerr)}
	}
	if c, err = dial(ctx, addr, o); err != nil {
		return nil, err
	}
	c.resync = &rs
	return c, nil
}

// Resync is an invocation counter resynchronisation Dial made (see
// Options.ResyncInvocationCounter): the meter refused the counter, and the
// association was made again above the value it expects. A head-end
// records it as an event.
type Resync struct {
	// From is the first counter value of the refused association; To
	// the value the counter was moved to before the accepted one.
	From, To uint32
	// FromObject: To comes from reading the meter's invocation counter
	// object (plus one), because the refusal did not carry the expected
	// value.
	FromObject bool
	// Refusal is the meter's refusal of the first association.
	Refusal error
}

// Resync returns the invocation counter resynchronisation Dial made to
// open this association, if any.
func (c *Client) Resync() (Resync, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resync == nil {
		return Resync{}, false
	}
	return *c.resync, true
}

// resyncTarget decides whether the failure err of an association that
// started at counter from was the meter refusing the counter, and where to
// continue. An explicit refusal says; one that does not give the expected
// value, or an association refused for no stated reason, is checked
// against the meter's invocation counter object. used is the next counter
// value after the failed attempt: an authentication that failed after the
// AARQ was accepted is a counter problem only if the meter has seen values
// beyond all this attempt sent.
func resyncTarget(ctx context.Context, addr string, o Options, from, used uint32, err error) (Resync, bool) {
	rs := Resync{From: from, Refusal: err}
	var ice *InvocationCounterError
	var ae *AssociationError
	var cse *ConfirmedServiceError
	seen := from
	switch {
	case errors.As(err, &ice) && ice.Expected > from:
		rs.To = ice.Expected
		return rs, true
	case errors.As(err, &ice), errors.As(err, &ae), errors.As(err, &cse):
	case errors.Is(err, ErrAuthenticationFailed):
		seen = used
	default:
		// A dropped link, a time-out or a protocol error says nothing
		// about the counter.
		return rs, false
	}
	last, rerr := ReadInvocationCounter(ctx, addr, o)
	if rerr != nil || last < seen {
		return rs, false
	}
	rs.To, rs.FromObject = last+1, true
	return rs, true
}

// ReadInvocationCounter reads the meter's invocation counter object as the
// public client (client SAP 16, no security) on a connection of its own,
// and returns the last invocation counter the meter has accepted from the
// client the object belongs to: continue from the value plus one. The
// object is the Data object (class 1, attribute 2) o.InvocationCounterOBIS,
// or DefaultInvocationCounterOBIS when zero; IDIS meters keep one per
// security setup (InvocationCounterOBIS). Of o only the link, mode E,
// server address, PDU sizes, time-out and name are used.
func ReadInvocationCounter(ctx context.Context, addr string, o Options) (uint32, error) {
	if o.Name == "" {
		o.Name = addr
	}
	return preReadOwnConnection(ctx, addr, o)
}

// InvocationCounterOBIS is the IDIS invocation counter object of security
// setup instance n, 0.0.43.1.n.255 (n = 0 for the management client's on
// most meters).
func InvocationCounterOBIS(n uint8) obis.Code { return obis.Code{0, 0, 43, 1, n, 255} }

// dial is Dial after the options are checked: one connection, one
// association (after the counter pre-read if asked).
func dial(ctx context.Context, addr string, o Options) (*Client, error) {
	if o.ReadInvocationCounter && o.ModeE {
		// After DISC a mode E meter returns to its IEC 62056-21 state and
		// wants a new sign-on, so the public pre-read gets its own
		// connection rather than sharing one with the real association.
		v, err := preReadOwnConnection(ctx, addr, o)
		if err != nil {
			return nil, err
		}
		o.ReadInvocationCounter = false
		o.InvocationCounter = max(v+1, o.InvocationCounter)
	}
	sap := o.clientSAP()
	if o.ReadInvocationCounter {
		sap = 16 // start as the public client the pre-read uses
	}
	c := newClient(nil, o)
	dctx, cancel := c.withTimeout(ctx)
	t, err := dialLink(dctx, addr, &o, sap)
	cancel()
	t = o.Gateway.wrap(t)
	if err != nil {
		return nil, &OpError{Meter: c.meter, Op: "dial", Err: linkError(dctx, err)}
	}
	c.t = t
	if err := c.Associate(ctx); err != nil {
		_ = t.Close()
		return nil, err
	}
	return c, nil
}

// modeESwitchWait is how long a mode E sign-on waits for the meter to echo
// its acknowledgement before the first HDLC frame.
const modeESwitchWait = 500 * time.Millisecond

// preReadOwnConnection reads the invocation counter object as the public client
// on a connection of its own.
func preReadOwnConnection(ctx context.Context, addr string, o Options) (uint32, error) {
	po := Options{Link: o.Link, ModeE: o.ModeE, ModeEAddress: o.ModeEAddress, ClientSAP: 16, Server: o.Server,
		MaxPDU: o.MaxPDU, MaxResponse: o.MaxResponse, Timeout: o.Timeout, Strict: o.Strict, Name: o.Name}
	pub, err := dial(ctx, addr, po)
	if err != nil {
		return 0, err
	}
	defer pub.Close()
	ln := o.InvocationCounterOBIS
	if ln == (obis.Code{}) {
		ln = DefaultInvocationCounterOBIS
	}
	a := Attr{Class: 1, OBIS: ln, Attribute: 2}
	d, err := pub.Get(ctx, a, nil)
	if err != nil {
		return 0, err
	}
	_ = pub.Release(ctx)
	v, ok := d.Uint()
	if !ok || v >= uint64(^uint32(0)) {
		return 0, &OpError{Meter: pub.meter, Op: "read invocation counter", Target: a.String(), Err: protocolError("value %s is not a usable 32-bit counter", d)}
	}
	return uint32(v), nil
}

func dialLink(ctx context.Context, addr string, o *Options, sap uint16) (Transport, error) {
	switch o.Link {
	case LinkWrapper:
		conn, err := wrapper.Dial(ctx, addr, sap, o.logical())
		if err != nil {
			return nil, err
		}
		return &WrapperLink{Conn: conn}, nil
	case LinkHDLC:
		var d net.Dialer
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		if o.ModeE {
			// The meter switches to HDLC only after it has taken the
			// acknowledgement in; an SNRM in the same segment is lost. Waiting
			// for its echo (or a moment, if it does not echo) gives it that time.
			if _, err := iec62056.SignOnModeE(ctx, nc, o.ModeEAddress, iec62056.WithEchoWait(modeESwitchWait)); err != nil {
				_ = nc.Close()
				return nil, fmt.Errorf("mode E sign-on: %w", err)
			}
		}
		l := NewHDLCLink(nc, HDLCServer(o.Server))
		if err := l.Readdress(ctx, sap); err != nil {
			_ = nc.Close()
			return nil, err
		}
		return l, nil
	}
	return nil, fmt.Errorf("unknown link %s", o.Link)
}

// WrapperLink is the wrapper Transport with readdressing: the wPorts of a
// wrapper.Conn change for the next association.
type WrapperLink struct {
	*wrapper.Conn
}

// Readdress switches the source wPort to clientSAP.
func (w *WrapperLink) Readdress(_ context.Context, clientSAP uint16) error {
	w.SetPorts(clientSAP, w.Remote())
	return nil
}

// HDLCServer converts a ServerAddress to its HDLC form.
func HDLCServer(s ServerAddress) hdlc.Address {
	logical := s.Logical
	if logical == 0 {
		logical = 1
	}
	size := s.Size
	if size == 0 {
		size = 1
		if s.Physical != 0 {
			size = 2
		}
	}
	return hdlc.ServerAddress(logical, s.Physical, size)
}

// HDLCLink is the HDLC Transport over a byte stream: it holds one
// hdlc.Client at a time and replaces it when the client SAP changes.
type HDLCLink struct {
	rw     io.ReadWriter
	server hdlc.Address
	opts   []hdlc.Option
	c      *hdlc.Client
	sap    uint16
}

// NewHDLCLink returns a link to server over rw, not yet connected; the
// first Readdress connects it.
func NewHDLCLink(rw io.ReadWriter, server hdlc.Address, opts ...hdlc.Option) *HDLCLink {
	return &HDLCLink{rw: rw, server: server, opts: opts}
}

// Readdress connects the link from clientSAP (SNRM/UA), first
// disconnecting a link from another SAP.
func (l *HDLCLink) Readdress(ctx context.Context, clientSAP uint16) error {
	if l.c != nil && l.c.Connected() && l.sap == clientSAP {
		return nil
	}
	if clientSAP > 0x7F {
		return fmt.Errorf("hdlc: client SAP %d does not fit 7 bits", clientSAP)
	}
	if l.c != nil && l.c.Connected() {
		if err := l.c.Disconnect(ctx); err != nil {
			return err
		}
	}
	c, err := hdlc.NewClient(l.rw, hdlc.ClientAddress(uint8(clientSAP)), l.server, l.opts...)
	if err != nil {
		return err
	}
	if err := c.Connect(ctx); err != nil {
		return err
	}
	l.c, l.sap = c, clientSAP
	return nil
}

// Send sends one APDU in I-frames.
func (l *HDLCLink) Send(ctx context.Context, apdu []byte) error {
	if l.c == nil {
		return hdlc.ErrNotConnected
	}
	return l.c.Send(ctx, apdu)
}

// Recv receives one APDU.
func (l *HDLCLink) Recv(ctx context.Context) ([]byte, error) {
	if l.c == nil {
		return nil, hdlc.ErrNotConnected
	}
	return l.c.Recv(ctx)
}

// Disconnect sends DISC and waits for UA or DM.
func (l *HDLCLink) Disconnect(ctx context.Context) error {
	if l.c == nil || !l.c.Connected() {
		return nil
	}
	return l.c.Disconnect(ctx)
}

// Close closes the underlying stream when it is an io.Closer.
func (l *HDLCLink) Close() error {
	if cl, ok := l.rw.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// DialSerial opens HDLC over the serial port name (e.g. /dev/ttyUSB0) and
// associates. With o.ModeE the port is opened as an optical probe (300 baud,
// 7E1) for the IEC 62056-21 sign-on and switched to the agreed baud rate
// for HDLC; otherwise it runs HDLC at baud (8N1). The wrapper does not run
// over serial lines, so o.Link is taken to be HDLC.
func DialSerial(ctx context.Context, name string, baud int, o Options) (*Client, error) {
	if o.Name == "" {
		o.Name = name
	}
	o.Link = LinkHDLC
	if o.ReadInvocationCounter {
		return nil, &OpError{Meter: o.Name, Op: "dial", Err: fmt.Errorf("the invocation counter pre-read needs a second connection; give the counter instead")}
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	var port *iec62056.SerialPort
	var err error
	if o.ModeE {
		port, err = iec62056.OpenOpticalProbe(name)
	} else {
		port, err = iec62056.OpenSerial(name, baud)
	}
	if err != nil {
		return nil, &OpError{Meter: o.Name, Op: "open serial port", Err: err}
	}
	if o.ModeE {
		if _, err := iec62056.SignOnModeE(ctx, port, o.ModeEAddress, iec62056.WithBaudSwitch(port.SetBaudRate),
			iec62056.WithEchoWait(modeESwitchWait)); err != nil {
			port.Close()
			return nil, &OpError{Meter: o.Name, Op: "mode E sign-on", Err: err}
		}
	}
	// The link owns the port from here: closing the client closes it.
	c, err := NewClient(NewHDLCLink(port, HDLCServer(o.Server)), o)
	if err != nil {
		port.Close()
		return nil, err
	}
	if err := c.Associate(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
