package wrapper

import (
	"bufio"

	"github.com/amigo-ami/amigo/linkio"
	"time"

	"context"
	"fmt"
	"io"
	"net"
)

// DefaultMaxAPDU bounds received APDUs unless WithMaxAPDU says otherwise.
const DefaultMaxAPDU = 0xFFFF

// recvBuffer holds a header and an APDU of the usual sizes: a longer APDU
// is read past the buffer, straight into its own bytes.
const recvBuffer = 2048

// Option configures a Conn.
type Option func(*Conn)

// WithMaxAPDU bounds the APDU length accepted by Recv. A header announcing
// more is rejected before any APDU byte is read or allocated.
func WithMaxAPDU(n int) Option { return func(c *Conn) { c.maxAPDU = n } }

// WithAnyRemote makes Recv accept frames from any remote wPort and answer
// the latest one: a server talks to whichever client SAP is associating.
func WithAnyRemote() Option { return func(c *Conn) { c.anyRemote = true } }

// Conn sends and receives whole APDUs over a stream transport. Send and Recv
// may run concurrently with each other, but not with themselves.
type Conn struct {
	rw        io.ReadWriter
	br        *bufio.Reader // reads of rw, made at the first Recv
	dl        *linkio.Deadlines
	local     uint16
	remote    uint16
	anyRemote bool
	maxAPDU   int
	broken    error
	hdr       [HeaderLen]byte
	wbuf      []byte
}

// NewConn returns a Conn over rw between wPort local and wPort remote. rw
// may implement SetReadDeadline/SetWriteDeadline (net.Conn does); the
// context of Send and Recv is then enforced while blocked.
func NewConn(rw io.ReadWriter, local, remote uint16, opts ...Option) *Conn {
	c := &Conn{rw: rw, dl: linkio.New(rw), local: local, remote: remote, maxAPDU: DefaultMaxAPDU}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Dial connects to a server at addr as client SAP clientSAP, addressing
// logical device server.
func Dial(ctx context.Context, addr string, clientSAP, server uint16, opts ...Option) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wrapper: dial %s: %w", addr, err)
	}
	return NewConn(nc, clientSAP, server, opts...), nil
}

// Accept accepts one connection for logical device local. The Conn accepts
// any client wPort and answers the one it last heard from.
func Accept(ln net.Listener, local uint16, opts ...Option) (*Conn, error) {
	nc, err := ln.Accept()
	if err != nil {
		return nil, fmt.Errorf("wrapper: accept: %w", err)
	}
	return NewConn(nc, local, 0, append([]Option{WithAnyRemote()}, opts...)...), nil
}

// Local returns our wPort.
func (c *Conn) Local() uint16 { return c.local }

// Remote returns the peer's wPort: configured, or last received when the
// Conn accepts any remote.
func (c *Conn) Remote() uint16 { return c.remote }

// SetPorts changes the wPorts, for a client that associates again with
// another SAP on the same connection.
func (c *Conn) SetPorts(local, remote uint16) { c.local, c.remote = local, remote }

// Send writes apdu in one frame.
func (c *Conn) Send(ctx context.Context, apdu []byte) error {
	var err error
	c.wbuf, err = AppendFrame(c.wbuf[:0], c.local, c.remote, apdu)
	if err != nil {
		return err
	}
	stop := c.dl.Watch(ctx)
	defer stop()
	if err := c.dl.SetWrite(ctx); err != nil {
		return err
	}
	if _, err := c.rw.Write(c.wbuf); err != nil {
		return linkio.Error(ctx, "wrapper", "send", err)
	}
	return nil
}

// Recv reads one frame and returns its APDU. A header with a bad version or
// a length over the limit leaves the stream unsynchronised: that error is
// then returned by every later Recv. A frame between other wPorts is
// consumed and reported as *PortError; the Conn stays usable.
func (c *Conn) Recv(ctx context.Context) ([]byte, error) {
	if c.broken != nil {
		return nil, c.broken
	}
	stop := c.dl.Watch(ctx)
	defer stop()
	if err := c.dl.SetRead(ctx, time.Time{}); err != nil {
		return nil, err
	}
	// A frame is written whole by its sender: read through a buffer, its
	// header and APDU are mostly one system call, not two.
	if c.br == nil {
		c.br = bufio.NewReaderSize(c.rw, recvBuffer)
	}
	if _, err := io.ReadFull(c.br, c.hdr[:]); err != nil {
		return nil, linkio.Error(ctx, "wrapper", "read header", err)
	}
	h, err := DecodeHeader(c.hdr[:])
	if err != nil {
		c.broken = err
		return nil, err
	}
	n := int(h.Length)
	if n > c.maxAPDU {
		c.broken = &LengthError{n, c.maxAPDU}
		return nil, c.broken
	}
	apdu, err := readN(c.br, n)
	if err != nil {
		c.broken = linkio.Error(ctx, "wrapper", "read APDU", err)
		return nil, c.broken
	}
	switch {
	case h.Dst != c.local:
	case c.anyRemote:
		c.remote = h.Src
		return apdu, nil
	case h.Src == c.remote:
		return apdu, nil
	}
	return nil, &PortError{h.Src, h.Dst, c.remote, c.local}
}

// readN reads exactly n bytes, growing the buffer as data arrives so that a
// header announcing a large APDU costs memory only once the bytes exist.
func readN(r io.Reader, n int) ([]byte, error) {
	const step = 4096
	b := make([]byte, 0, min(n, step))
	for len(b) < n {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), min(n, 2*cap(b)))
			copy(nb, b)
			b = nb
		}
		k, err := r.Read(b[len(b):min(n, cap(b))])
		b = b[:len(b)+k]
		if err != nil && len(b) < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return b, nil
}

// Close closes the transport when it is an io.Closer.
func (c *Conn) Close() error {
	if cl, ok := c.rw.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}
